/**
 * Synthetic packed IPv4 unicast UPDATEs, written byte by byte here (not with the codec under test, so an
 * encoder bug cannot make the corpus agree with itself). Each UPDATE carries six typical attributes in
 * ascending type order with the flags the codec itself would emit, so `encodeUpdate` of the decoded
 * message must reproduce the input exactly:
 *   ORIGIN IGP, AS_PATH (one AS_SEQUENCE of 4 four-octet ASes), NEXT_HOP, MED, LOCAL_PREF, COMMUNITIES (2)
 * and `perUpdate` distinct /24s (4 octets each on the wire). MED and the last AS vary per message so no two
 * attribute blocks are identical. 500 /24s make a 2 080-octet UPDATE: every size fits the classic
 * 4 096-octet limit, no RFC 8654 extended messages needed.
 *
 * The same content is also built as plain `Update` values (not by decoding), as the encoders' input: the
 * benchmark must not keep the decoder's own results alive, because V8 then pretenures the decoder's
 * allocation sites and every later decode pays for old-space collections.
 */
import type { Prefix, Update } from "@starling/codec"

export type UpdateValue = Omit<Update, "_tag" | "errors">

export interface SyntheticCorpus {
  readonly perUpdate: number
  /** All UPDATEs back to back, as a TCP stream would carry them. */
  readonly stream: Uint8Array
  /** One view per UPDATE into `stream`. */
  readonly messages: Uint8Array[]
  readonly prefixes: number
  /** Builds message `i` as a value (call it when needed; the corpus does not hold these). */
  readonly value: (i: number) => UpdateValue
}

const ATTR_BYTES = 4 + 21 + 7 + 7 + 7 + 11

export const syntheticCorpus = (perUpdate: number, totalPrefixes: number): SyntheticCorpus => {
  const count = Math.max(1, Math.round(totalPrefixes / perUpdate))
  const msgLen = 19 + 2 + 2 + ATTR_BYTES + perUpdate * 4
  if (msgLen > 4096) throw new Error(`${perUpdate} /24s do not fit a 4096-octet UPDATE`)
  const stream = new Uint8Array(count * msgLen)
  const messages: Uint8Array[] = []
  let o = 0
  const u8 = (v: number) => {
    stream[o++] = v & 0xff
  }
  const u16 = (v: number) => {
    u8(v >>> 8)
    u8(v)
  }
  const u32 = (v: number) => {
    u16(v >>> 16)
    u16(v & 0xffff)
  }
  let prefix = 0
  for (let m = 0; m < count; m++) {
    const start = o
    for (let k = 0; k < 16; k++) u8(0xff)
    u16(msgLen)
    u8(2) // UPDATE
    u16(0) // no withdrawals
    u16(ATTR_BYTES)
    u8(0x40), u8(1), u8(1), u8(0) // ORIGIN IGP
    u8(0x40), u8(2), u8(18), u8(2), u8(4) // AS_PATH: AS_SEQUENCE of 4
    u32(64500), u32(3356), u32(174), u32(4200000000 + (m % 1000))
    u8(0x40), u8(3), u8(4), u32(0xc0000201) // NEXT_HOP 192.0.2.1
    u8(0x80), u8(4), u8(4), u32(m) // MULTI_EXIT_DISC
    u8(0x40), u8(5), u8(4), u32(100) // LOCAL_PREF
    u8(0xc0), u8(8), u8(8), u32((64500 << 16) | 100), u32((64500 << 16) | (m & 0xffff)) // COMMUNITIES
    for (let k = 0; k < perUpdate; k++, prefix++) {
      // /24s from 10.0.0.0 upward, all distinct
      const addr = ((10 << 24) + prefix * 256) >>> 0
      u8(24), u8(addr >>> 24), u8(addr >>> 16), u8(addr >>> 8)
    }
    messages.push(stream.subarray(start, o))
  }
  const value = (m: number): UpdateValue => {
    const nlri: Prefix[] = []
    for (let k = 0, p = m * perUpdate; k < perUpdate; k++, p++) {
      nlri.push({ afi: 1, length: 24, w0: ((10 << 24) + p * 256) >>> 0, w1: 0, w2: 0, w3: 0, pathId: 0 })
    }
    return {
      withdrawn: [],
      attributes: {
        origin: 0,
        asPath: [{ type: 2, asns: [64500, 3356, 174, 4200000000 + (m % 1000)] }],
        nextHop: 0xc0000201,
        med: m,
        localPref: 100,
        communities: [((64500 << 16) | 100) >>> 0, ((64500 << 16) | (m & 0xffff)) >>> 0]
      },
      nlri
    }
  }
  return { perUpdate, stream, messages, prefixes: count * perUpdate, value }
}
