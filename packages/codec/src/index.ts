/**
 * @starling/codec — wire-accurate BGP-4: pure functions over bytes, no Effect runtime in the hot path.
 * Fallible public calls return `Result`; decoders never throw.
 */
export * from "./constants.ts"
export * from "./context.ts"
export * from "./errors.ts"
export * from "./bytes.ts"
export * from "./prefix.ts"
export * from "./nlri.ts"
export * from "./attributes.ts"
export * from "./capabilities.ts"
export * from "./open.ts"
export * from "./update.ts"
export * from "./message.ts"
export * from "./framer.ts"
