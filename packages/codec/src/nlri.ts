/**
 * NLRI lists: RFC 4271 §4.3 (length in bits, then the minimum number of octets), RFC 4760 §5 for
 * IPv6, RFC 7911 §3 (a 4-octet path identifier first when ADD-PATH is negotiated for the family).
 * These are the hottest loops of the codec: no allocation but the prefix objects themselves.
 */
import { Afi } from "./constants.ts"
import type { Prefix } from "./prefix.ts"
import type { Writer } from "./bytes.ts"
import { EncodeError } from "./errors.ts"

const maskOf = (bits: number): number => (bits <= 0 ? 0 : bits >= 32 ? 0xffffffff : (0xffffffff << (32 - bits)) >>> 0)

/**
 * Decodes `buf[start, end)` as a list of prefixes of family `afi` (1 or 2). Returns `undefined` when the
 * field is malformed (a length beyond the family's width, or a prefix running past `end`); the caller
 * knows which NOTIFICATION or RFC 7606 action that means.
 */
export const decodePrefixes = (
  buf: Uint8Array,
  start: number,
  end: number,
  afi: 1 | 2,
  addPath: boolean,
  out: Prefix[] = []
): Prefix[] | undefined => {
  const maxBits = afi === Afi.IPV4 ? 32 : 128
  let i = start
  while (i < end) {
    let pathId = 0
    if (addPath) {
      if (i + 4 > end) return undefined
      pathId = ((buf[i]! << 24) | (buf[i + 1]! << 16) | (buf[i + 2]! << 8) | buf[i + 3]!) >>> 0
      i += 4
      if (i >= end) return undefined
    }
    const length = buf[i++]!
    if (length > maxBits) return undefined
    const n = (length + 7) >> 3
    if (i + n > end) return undefined
    let w0 = 0
    let w1 = 0
    let w2 = 0
    let w3 = 0
    // Assemble up to 16 octets into four big-endian words.
    for (let k = 0; k < n; k++) {
      const b = buf[i + k]!
      const shift = 24 - ((k & 3) << 3)
      const word = k >> 2
      if (word === 0) w0 |= b << shift
      else if (word === 1) w1 |= b << shift
      else if (word === 2) w2 |= b << shift
      else w3 |= b << shift
    }
    i += n
    out.push({
      afi,
      length,
      w0: (w0 & maskOf(length)) >>> 0,
      w1: (w1 & maskOf(length - 32)) >>> 0,
      w2: (w2 & maskOf(length - 64)) >>> 0,
      w3: (w3 & maskOf(length - 96)) >>> 0,
      pathId
    })
  }
  return out
}

/** Octets one prefix takes on the wire. */
export const prefixWireLength = (p: Prefix, addPath: boolean): number => (addPath ? 5 : 1) + ((p.length + 7) >> 3)

export const encodePrefix = (w: Writer, p: Prefix, addPath: boolean): void => {
  const maxBits = p.afi === Afi.IPV4 ? 32 : 128
  if (!(p.length >= 0 && p.length <= maxBits)) throw new EncodeError({ detail: `prefix length ${p.length} out of range` })
  if (addPath) w.u32(p.pathId)
  w.u8(p.length)
  const n = (p.length + 7) >> 3
  for (let k = 0; k < n; k++) {
    const word = k >> 2
    const v = word === 0 ? p.w0 : word === 1 ? p.w1 : word === 2 ? p.w2 : p.w3
    w.u8((v >>> (24 - ((k & 3) << 3))) & 0xff)
  }
}

export const encodePrefixes = (w: Writer, ps: ReadonlyArray<Prefix>, addPath: boolean): void => {
  for (let i = 0; i < ps.length; i++) encodePrefix(w, ps[i]!, addPath)
}
