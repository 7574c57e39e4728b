/**
 * Shared builders for the @starling/rib tests: sources (peers) with an address, AS, BGP Identifier and
 * iBGP/eBGP flag; prefixes; AS paths.
 */
import type { AsPathSegment, PathAttributes, Prefix } from "@starling/codec"
import { ipv6ToBytes, parseIpv4, parsePrefix, SegmentType } from "@starling/codec"
import type { Source } from "../src/index.ts"

export interface SourceSpec {
  readonly address: string
  readonly asn?: number
  readonly bgpId?: number
  readonly internal?: boolean
  readonly local?: boolean
}

let nextSourceId = 1

export const addressBytes = (a: string): Uint8Array => {
  if (a.includes(":")) return ipv6ToBytes(a)!
  const v = parseIpv4(a)!
  return new Uint8Array([v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255])
}

/** A peer. The BGP Identifier defaults to the IPv4 address (as most routers configure it). */
export const source = (s: SourceSpec): Source => ({
  id: nextSourceId++,
  address: s.address,
  addressBytes: addressBytes(s.address),
  asn: s.asn ?? 65001,
  bgpId: s.bgpId ?? (s.address.includes(":") ? 1 : parseIpv4(s.address)!),
  internal: s.internal ?? false,
  ...(s.local === undefined ? {} : { local: s.local })
})

export const prefix = (text: string, pathId = 0): Prefix => {
  const p = parsePrefix(text, pathId)
  if (p === undefined) throw new Error(`bad prefix ${text}`)
  return p
}

export const seq = (...asns: number[]): AsPathSegment => ({ type: SegmentType.AS_SEQUENCE, asns })
export const set = (...asns: number[]): AsPathSegment => ({ type: SegmentType.AS_SET, asns })
export const confedSeq = (...asns: number[]): AsPathSegment => ({ type: SegmentType.AS_CONFED_SEQUENCE, asns })
export const confedSet = (...asns: number[]): AsPathSegment => ({ type: SegmentType.AS_CONFED_SET, asns })

export const ip = (a: string): number => parseIpv4(a)!

/** Plain eBGP-style attributes with one AS. */
export const baseAttrs = (over: PathAttributes = {}): PathAttributes => ({
  origin: 0,
  asPath: [seq(65001)],
  nextHop: ip("192.0.2.1"),
  ...over
})
