/**
 * @starling/reflector — RFC 4456 route reflection on top of @starling/speaker, and the standalone daemon.
 */
export * from "./reflection.ts"
export * from "./reflector.ts"
