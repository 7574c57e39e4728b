/**
 * IP prefixes as the codec sees them (RFC 4271 §4.3 NLRI encoding, RFC 4760 §5 for IPv6, RFC 7911 §3
 * for the ADD-PATH path identifier). One flat shape for both families keeps hot loops monomorphic:
 * an address is four 32-bit words, most significant first; IPv4 uses `w0` only. Bits past `length`
 * are always zero (RFC 4271 says they are irrelevant, so decoding clears them).
 */
import { Afi } from "./constants.ts"

export interface Prefix {
  readonly afi: 1 | 2
  readonly length: number
  readonly w0: number
  readonly w1: number
  readonly w2: number
  readonly w3: number
  /** RFC 7911 path identifier; 0 when ADD-PATH is not in use for the family. */
  readonly pathId: number
}

const mask = (bits: number): number => (bits <= 0 ? 0 : bits >= 32 ? 0xffffffff : (0xffffffff << (32 - bits)) >>> 0)

export const ipv4Prefix = (addr: number, length: number, pathId = 0): Prefix => ({
  afi: Afi.IPV4,
  length,
  w0: (addr & mask(length)) >>> 0,
  w1: 0,
  w2: 0,
  w3: 0,
  pathId
})

export const ipv6Prefix = (words: readonly [number, number, number, number], length: number, pathId = 0): Prefix => ({
  afi: Afi.IPV6,
  length,
  w0: (words[0] & mask(length)) >>> 0,
  w1: (words[1] & mask(length - 32)) >>> 0,
  w2: (words[2] & mask(length - 64)) >>> 0,
  w3: (words[3] & mask(length - 96)) >>> 0,
  pathId
})

export const formatIpv4 = (a: number): string => `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`

/** RFC 5952 canonical text: lowercase, longest zero run (of two or more groups) as `::`. */
export const formatIpv6Words = (w0: number, w1: number, w2: number, w3: number): string => {
  const g = [w0 >>> 16, w0 & 0xffff, w1 >>> 16, w1 & 0xffff, w2 >>> 16, w2 & 0xffff, w3 >>> 16, w3 & 0xffff]
  let bestStart = -1
  let bestLen = 0
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && g[j] === 0) j++
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i
      bestLen = j - i
    }
    i = j
  }
  const hex = (from: number, to: number) => g.slice(from, to).map((x) => (x ?? 0).toString(16)).join(":")
  if (bestStart < 0) return hex(0, 8)
  return `${hex(0, bestStart)}::${hex(bestStart + bestLen, 8)}`
}

export const formatIpv6 = (b: Uint8Array, offset = 0): string => {
  const dv = new DataView(b.buffer, b.byteOffset + offset, 16)
  return formatIpv6Words(dv.getUint32(0), dv.getUint32(4), dv.getUint32(8), dv.getUint32(12))
}

export const formatPrefix = (p: Prefix): string =>
  p.afi === Afi.IPV4
    ? `${formatIpv4(p.w0)}/${p.length}`
    : `${formatIpv6Words(p.w0, p.w1, p.w2, p.w3)}/${p.length}`

export const parseIpv4 = (s: string): number | undefined => {
  const parts = s.split(".")
  if (parts.length !== 4) return undefined
  let v = 0
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return undefined
    const n = Number(part)
    if (n > 255) return undefined
    v = v * 256 + n
  }
  return v
}

export const parseIpv6Words = (s: string): [number, number, number, number] | undefined => {
  let head: string[]
  let tail: string[] = []
  const dbl = s.indexOf("::")
  if (dbl >= 0) {
    if (s.indexOf("::", dbl + 1) >= 0) return undefined
    head = s.slice(0, dbl) === "" ? [] : s.slice(0, dbl).split(":")
    tail = s.slice(dbl + 2) === "" ? [] : s.slice(dbl + 2).split(":")
  } else head = s.split(":")
  const groups: number[] = []
  const push = (parts: string[]): boolean => {
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!
      if (part.includes(".") && i === parts.length - 1) {
        const v4 = parseIpv4(part)
        if (v4 === undefined) return false
        groups.push(v4 >>> 16, v4 & 0xffff)
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(part)) return false
        groups.push(parseInt(part, 16))
      }
    }
    return true
  }
  if (!push(head)) return undefined
  const headLen = groups.length
  if (!push(tail)) return undefined
  const tailGroups = groups.splice(headLen)
  if (dbl >= 0) {
    if (headLen + tailGroups.length > 7) return undefined
    while (groups.length + tailGroups.length < 8) groups.push(0)
  }
  groups.push(...tailGroups)
  if (groups.length !== 8) return undefined
  const w = (i: number) => ((groups[i]! << 16) | groups[i + 1]!) >>> 0
  return [w(0), w(2), w(4), w(6)]
}

export const ipv6ToBytes = (s: string): Uint8Array | undefined => {
  const w = parseIpv6Words(s)
  if (w === undefined) return undefined
  const out = new Uint8Array(16)
  const dv = new DataView(out.buffer)
  w.forEach((x, i) => dv.setUint32(i * 4, x))
  return out
}

/** Parses `a.b.c.d/len` or `x:y::z/len`; `undefined` when it is not a prefix. */
export const parsePrefix = (s: string, pathId = 0): Prefix | undefined => {
  const slash = s.indexOf("/")
  if (slash < 0) return undefined
  const addr = s.slice(0, slash)
  const lenText = s.slice(slash + 1)
  if (!/^\d{1,3}$/.test(lenText)) return undefined
  const length = Number(lenText)
  if (addr.includes(":")) {
    const w = parseIpv6Words(addr)
    return w === undefined || length > 128 ? undefined : ipv6Prefix(w, length, pathId)
  }
  const v4 = parseIpv4(addr)
  return v4 === undefined || length > 32 ? undefined : ipv4Prefix(v4, length, pathId)
}

export const prefixEquals = (a: Prefix, b: Prefix): boolean =>
  a.afi === b.afi && a.length === b.length && a.w0 === b.w0 && a.w1 === b.w1 && a.w2 === b.w2 &&
  a.w3 === b.w3 && a.pathId === b.pathId
