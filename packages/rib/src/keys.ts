/**
 * Compact map keys for prefixes. IPv4: one number, the prefix's bits behind a leading 1 bit
 * (`2^length + (addr >>> (32 - length))`): up to /29 that is a small integer (a V8 Smi, no heap number
 * per key, which showed in profiles of million-route tables); /30 to /32 are larger but exact. IPv6: a
 * 9-character string of 16-bit code units (eight address groups, then the length). Keys of the two
 * families never collide (number versus string).
 */
import type { Prefix } from "@starling/codec"

export type PrefixKey = number | string

export const prefixKey = (p: Prefix): PrefixKey =>
  p.afi === 1
    ? p.length === 0
      ? 1
      : p.length < 30
      ? (1 << p.length) | (p.w0 >>> (32 - p.length))
      : 2 ** p.length + (p.w0 >>> (32 - p.length))
    : String.fromCharCode(p.w0 >>> 16, p.w0 & 0xffff, p.w1 >>> 16, p.w1 & 0xffff, p.w2 >>> 16, p.w2 & 0xffff, p.w3 >>> 16, p.w3 & 0xffff, p.length)

/** The prefix a key stands for (path id 0). */
export const keyPrefix = (k: PrefixKey): Prefix => {
  if (typeof k === "number") {
    // The highest bit set marks the length (2^32 ≤ k < 2^33 for a /32).
    const length = k >= 2 ** 32 ? 32 : 31 - Math.clz32(k)
    return { afi: 1, length, w0: length === 0 ? 0 : ((k - 2 ** length) * 2 ** (32 - length)) >>> 0, w1: 0, w2: 0, w3: 0, pathId: 0 }
  }
  const c = (i: number) => k.charCodeAt(i)
  return {
    afi: 2,
    length: c(8),
    w0: ((c(0) << 16) | c(1)) >>> 0,
    w1: ((c(2) << 16) | c(3)) >>> 0,
    w2: ((c(4) << 16) | c(5)) >>> 0,
    w3: ((c(6) << 16) | c(7)) >>> 0,
    pathId: 0
  }
}
