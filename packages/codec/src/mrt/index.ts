/**
 * MRT (RFC 6396, RFC 8050): reading (streaming, gzip/bzip2 aware), writing, and bgpdump-compatible text.
 * Import as `@starling/codec/mrt/index`.
 */
export * from "./constants.ts"
export * from "./errors.ts"
export type * from "./records.ts"
export { decodeRecord, decodeRibAttributes, decodeUpdateAsIs, decodeMrtMessage, mrtContext } from "./decode.ts"
export type { DecodeState } from "./decode.ts"
export * from "./parser.ts"
export * from "./stream.ts"
export { Bunzip2, isBzip2 } from "./bzip2.ts"
export { bgpdumpLines, bgpdumpAsPath, bgpdumpCommunities, bgpdumpIpv6 } from "./bgpdump.ts"
export { jsonLines, attributesJson, nextHopText } from "./json.ts"
export * from "./encode.ts"
