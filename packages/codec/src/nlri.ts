/**
 * NLRI lists: RFC 4271 §4.3 (length in bits, then the minimum number of octets), RFC 4760 §5 for
 * IPv6, RFC 7911 §3 (a 4-octet path identifier first when ADD-PATH is negotiated for the family).
 * These are the hottest loops of the codec: no allocation but the prefix objects and one result array.
 */
import { Afi } from "./constants.ts"
import type { Prefix } from "./prefix.ts"
import type { Writer } from "./bytes.ts"
import { EncodeError } from "./errors.ts"

const maskOf = (bits: number): number => (bits <= 0 ? 0 : bits >= 32 ? 0xffffffff : (0xffffffff << (32 - bits)) >>> 0)

/**
 * How many prefixes `decodePrefixes` will find (exact when the field is well formed), so the result
 * array is allocated once instead of growing by copies: a 500-prefix UPDATE would regrow it 7 times.
 */
const countPrefixes = (buf: Uint8Array, start: number, end: number, addPath: boolean): number => {
  let n = 0
  const step = addPath ? 5 : 1
  for (let j = start + (addPath ? 4 : 0); j < end; j += step + ((buf[j]! + 7) >> 3)) n++
  return n
}

/**
 * Decodes `buf[start, end)` as a list of prefixes of family `afi` (1 or 2). Returns `undefined` when the
 * field is malformed (a length beyond the family's width, or a prefix running past `end`); the caller
 * knows which NOTIFICATION or RFC 7606 action that means. With `out`, the prefixes are appended to it.
 */
export const decodePrefixes = (
  buf: Uint8Array,
  start: number,
  end: number,
  afi: 1 | 2,
  addPath: boolean,
  out?: Prefix[]
): Prefix[] | undefined => {
  const into = out ?? new Array<Prefix>(countPrefixes(buf, start, end, addPath))
  if (afi === Afi.IPV4 && !addPath) return decodeIpv4(buf, start, end, into, out === undefined ? 0 : out.length)
  const maxBits = afi === Afi.IPV4 ? 32 : 128
  let k = out === undefined ? 0 : out.length
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
    for (let o = 0; o < n; o++) {
      const b = buf[i + o]!
      const shift = 24 - ((o & 3) << 3)
      const word = o >> 2
      if (word === 0) w0 |= b << shift
      else if (word === 1) w1 |= b << shift
      else if (word === 2) w2 |= b << shift
      else w3 |= b << shift
    }
    i += n
    into[k++] = {
      afi,
      length,
      w0: (w0 & maskOf(length)) >>> 0,
      w1: (w1 & maskOf(length - 32)) >>> 0,
      w2: (w2 & maskOf(length - 64)) >>> 0,
      w3: (w3 & maskOf(length - 96)) >>> 0,
      pathId
    }
  }
  return into
}

/**
 * The common case of `decodePrefixes`, IPv4 without path identifiers, with the octets gathered straight
 * into one word (same results: the loop above spends most of its time on word selection and masks).
 */
const decodeIpv4 = (buf: Uint8Array, start: number, end: number, out: Prefix[], k: number): Prefix[] | undefined => {
  let i = start
  while (i < end) {
    const length = buf[i++]!
    let w0 = 0
    if (length > 16) {
      if (length > 32) return undefined
      if (length > 24) {
        if (i + 4 > end) return undefined
        w0 = (buf[i]! << 24) | (buf[i + 1]! << 16) | (buf[i + 2]! << 8) | buf[i + 3]!
        i += 4
      } else {
        if (i + 3 > end) return undefined
        w0 = (buf[i]! << 24) | (buf[i + 1]! << 16) | (buf[i + 2]! << 8)
        i += 3
      }
    } else if (length > 8) {
      if (i + 2 > end) return undefined
      w0 = (buf[i]! << 24) | (buf[i + 1]! << 16)
      i += 2
    } else if (length > 0) {
      if (i + 1 > end) return undefined
      w0 = buf[i]! << 24
      i += 1
    }
    // Bits past the length are cleared (RFC 4271 §4.3 calls them irrelevant).
    out[k++] = { afi: Afi.IPV4, length, w0: length === 0 ? 0 : (w0 & (-1 << (32 - length))) >>> 0, w1: 0, w2: 0, w3: 0, pathId: 0 }
  }
  return out
}

/** Octets one prefix takes on the wire. */
export const prefixWireLength = (p: Prefix, addPath: boolean): number => (addPath ? 5 : 1) + ((p.length + 7) >> 3)

export const encodePrefix = (w: Writer, p: Prefix, addPath: boolean): void => {
  const maxBits = p.afi === Afi.IPV4 ? 32 : 128
  if (!(p.length >= 0 && p.length <= maxBits)) throw new EncodeError({ detail: `prefix length ${p.length} out of range` })
  if (addPath) w.u32(p.pathId)
  const n = (p.length + 7) >> 3
  if (p.afi === Afi.IPV4) {
    // The length octet and the n leading octets of w0 in one or two writes (same bytes as the loop below).
    const len = p.length
    const v = p.w0
    if (n === 3) w.u32(((len << 24) | (v >>> 8)) >>> 0)
    else if (n === 4) {
      w.u8(len)
      w.u32(v)
    } else if (n === 2) {
      w.u8(len)
      w.u16(v >>> 16)
    } else if (n === 1) w.u16((len << 8) | (v >>> 24))
    else w.u8(len)
    return
  }
  w.u8(p.length)
  for (let k = 0; k < n; k++) {
    const word = k >> 2
    const v = word === 0 ? p.w0 : word === 1 ? p.w1 : word === 2 ? p.w2 : p.w3
    w.u8((v >>> (24 - ((k & 3) << 3))) & 0xff)
  }
}

export const encodePrefixes = (w: Writer, ps: ReadonlyArray<Prefix>, addPath: boolean): void => {
  for (let i = 0; i < ps.length; i++) encodePrefix(w, ps[i]!, addPath)
}
