/**
 * Whether an UPDATE is laid out the way `encodeUpdate` lays one out, so that decode → encode must give
 * the same bytes back. The encoder's choices (RFC-legal, but not the only legal ones): MP_UNREACH_NLRI,
 * then MP_REACH_NLRI, then the other attributes in ascending type order (RFC 4271 §5 recommends it);
 * the Extended Length bit only on values longer than 255 octets; the RFC-fixed Optional/Transitive
 * flags with Partial clear on known attributes; a zero Reserved octet in MP_REACH_NLRI; no AS4_PATH /
 * AS4_AGGREGATOR (the codec folds them into AS_PATH / AGGREGATOR); prefixes without stray bits past
 * their length.
 */
const knownFlags: Readonly<Record<number, number>> = {
  1: 0x40,
  2: 0x40,
  3: 0x40,
  4: 0x80,
  5: 0x40,
  6: 0x40,
  7: 0xc0,
  8: 0xc0,
  9: 0x80,
  10: 0x80,
  14: 0x80,
  15: 0x80,
  16: 0xc0,
  32: 0xc0,
  35: 0xc0
}

/** Do the prefixes in `b[s, e)` have all-zero bits past their lengths (so re-encoding keeps them)? */
const cleanPrefixes = (b: Uint8Array, s: number, e: number, addPath: boolean): boolean => {
  let i = s
  while (i < e) {
    if (addPath) i += 4
    const len = b[i++]!
    const n = (len + 7) >> 3
    if (len % 8 !== 0 && n > 0 && (b[i + n - 1]! & (0xff >> (len % 8))) !== 0) return false
    i += n
  }
  return true
}

/** `body` is the UPDATE after the header. `addPath(afi, safi)` tells which NLRI carry path identifiers. */
export const hasEncoderLayout = (body: Uint8Array, addPath: (afi: number, safi: number) => boolean, decodedFamily: (afi: number, safi: number) => boolean): boolean => {
  const wLen = (body[0]! << 8) | body[1]!
  const aStart = 4 + wLen
  const aLen = (body[aStart - 2]! << 8) | body[aStart - 1]!
  const aEnd = aStart + aLen
  if (!cleanPrefixes(body, 2, 2 + wLen, addPath(1, 1)) || !cleanPrefixes(body, aEnd, body.length, addPath(1, 1))) return false
  const order: number[] = []
  let i = aStart
  while (i < aEnd) {
    const flags = body[i]!
    const type = body[i + 1]!
    const ext = (flags & 0x10) !== 0
    const len = ext ? (body[i + 2]! << 8) | body[i + 3]! : body[i + 2]!
    const vs = i + (ext ? 4 : 3)
    if (ext !== len > 255) return false
    const expected = knownFlags[type]
    if (expected !== undefined && (flags & 0xe0) !== expected) return false
    if (type === 17 || type === 18) return false
    if (type === 14 || type === 15) {
      const afi = (body[vs]! << 8) | body[vs + 1]!
      const safi = body[vs + 2]!
      let ns = vs + 3
      if (type === 14) {
        const nhLen = body[vs + 3]!
        if (body[vs + 4 + nhLen] !== 0) return false
        ns = vs + 5 + nhLen
      }
      if (decodedFamily(afi, safi) && !cleanPrefixes(body, ns, vs + len, addPath(afi, safi))) return false
    }
    order.push(type)
    i = vs + len
  }
  // MP_UNREACH_NLRI, MP_REACH_NLRI, then the rest ascending.
  const rank = (t: number) => (t === 15 ? -2 : t === 14 ? -1 : t)
  for (let k = 1; k < order.length; k++) if (rank(order[k - 1]!) >= rank(order[k]!)) return false
  return true
}
