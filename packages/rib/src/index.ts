/**
 * @starling/rib — RIBs, the decision process that explains itself, and policy. Plain data structures with
 * one owner; no Effect in the hot path.
 */
export * from "./keys.ts"
export * from "./attrset.ts"
export * from "./decision.ts"
export * from "./rib.ts"
export * from "./policy.ts"
