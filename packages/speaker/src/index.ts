/**
 * @starling/speaker — the BGP instance: neighbors, one RIB, export with update groups, an Effect service.
 */
export * from "./config.ts"
export * from "./export.ts"
export * from "./speaker.ts"
