/**
 * The harness's own BGP wire code: just enough to open a session, build UPDATEs once before a run, and
 * count what comes back. Written byte by byte here, not with @starling/codec, so a codec bug cannot make
 * Starling agree with the harness while the other routers disagree. IPv4 unicast only, 4-octet AS numbers
 * (RFC 6793), no extended messages: every UPDATE fits the classic 4 096 octets (RFC 4271 §4.1).
 */

export const MAX_MESSAGE = 4096
const HEADER = 19

export const MsgType = { OPEN: 1, UPDATE: 2, NOTIFICATION: 3, KEEPALIVE: 4, ROUTE_REFRESH: 5 } as const

const header = (b: Uint8Array, length: number, type: number): void => {
  b.fill(0xff, 0, 16)
  b[16] = length >> 8
  b[17] = length & 0xff
  b[18] = type
}

export const keepalive = (): Uint8Array => {
  const b = new Uint8Array(HEADER)
  header(b, HEADER, MsgType.KEEPALIVE)
  return b
}

export const parseIpv4 = (s: string): number => {
  const p = s.split(".").map(Number)
  if (p.length !== 4 || p.some((x) => !Number.isInteger(x) || x < 0 || x > 255)) throw new Error(`not an IPv4 address: ${s}`)
  return ((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0
}

export const formatIpv4 = (n: number): string => `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`

/**
 * OPEN with capabilities: multiprotocol IPv4 unicast (RFC 4760), route refresh (RFC 2918), 4-octet AS
 * (RFC 6793). Nothing else, so every router negotiates the same plain session.
 */
export const openMessage = (o: { readonly as: number; readonly holdTime: number; readonly bgpId: number }): Uint8Array => {
  const caps = [
    [1, 4, 0, 1, 0, 1], // MP: AFI 1, reserved, SAFI 1
    [2, 0], // route refresh
    [65, 4, (o.as >>> 24) & 255, (o.as >>> 16) & 255, (o.as >>> 8) & 255, o.as & 255]
  ]
  const params: number[] = []
  for (const c of caps) params.push(2, c.length, ...c)
  const len = HEADER + 10 + params.length
  const b = new Uint8Array(len)
  header(b, len, MsgType.OPEN)
  const as2 = o.as > 0xffff ? 23456 : o.as
  b[19] = 4
  b[20] = as2 >> 8
  b[21] = as2 & 0xff
  b[22] = o.holdTime >> 8
  b[23] = o.holdTime & 0xff
  b[24] = o.bgpId >>> 24
  b[25] = (o.bgpId >>> 16) & 255
  b[26] = (o.bgpId >>> 8) & 255
  b[27] = o.bgpId & 255
  b[28] = params.length
  b.set(params, 29)
  return b
}

/** The peer's OPEN, the few fields the harness reports. */
export const readOpen = (m: Uint8Array): { as: number; holdTime: number; bgpId: number } => {
  const as2 = (m[20]! << 8) | m[21]!
  const holdTime = (m[22]! << 8) | m[23]!
  const bgpId = ((m[24]! << 24) | (m[25]! << 16) | (m[26]! << 8) | m[27]!) >>> 0
  let as = as2
  const end = HEADER + 10 + m[28]!
  for (let i = HEADER + 10; i + 2 <= end;) {
    const t = m[i]!
    const l = m[i + 1]!
    if (t === 2) {
      for (let j = i + 2; j + 2 <= i + 2 + l;) {
        const code = m[j]!
        const cl = m[j + 1]!
        if (code === 65 && cl === 4) as = ((m[j + 2]! << 24) | (m[j + 3]! << 16) | (m[j + 4]! << 8) | m[j + 5]!) >>> 0
        j += 2 + cl
      }
    }
    i += 2 + l
  }
  return { as, holdTime, bgpId }
}

// -------------------------------------------------------------------------------------------------
// Path attributes

export interface Segment {
  /** 1 AS_SET, 2 AS_SEQUENCE (RFC 4271 §4.3). */
  readonly type: number
  readonly asns: ReadonlyArray<number>
}

export interface Attrs {
  /** 0 IGP, 1 EGP, 2 INCOMPLETE */
  readonly origin: number
  readonly asPath: ReadonlyArray<Segment>
  readonly nextHop: number
  readonly med?: number
  readonly localPref?: number
  readonly atomicAggregate?: boolean
  readonly aggregator?: { readonly asn: number; readonly address: number }
  /** RFC 1997, each AS << 16 | value. */
  readonly communities?: ReadonlyArray<number>
  /** RFC 8092 (global admin, data 1, data 2). */
  readonly largeCommunities?: ReadonlyArray<readonly [number, number, number]>
}

const u32 = (out: number[], v: number) => out.push((v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255)

const attr = (out: number[], flags: number, type: number, value: number[]) => {
  if (value.length > 255) {
    out.push(flags | 0x10, type, value.length >> 8, value.length & 255)
  } else out.push(flags, type, value.length)
  for (const v of value) out.push(v)
}

/** The attribute block, types in ascending order, flags as RFC 4271 §5 / RFC 1997 / RFC 8092 say. */
export const encodeAttrs = (a: Attrs): Uint8Array => {
  const out: number[] = []
  attr(out, 0x40, 1, [a.origin])
  const path: number[] = []
  for (const s of a.asPath) {
    for (let i = 0; i < s.asns.length; i += 255) {
      const chunk = s.asns.slice(i, i + 255)
      path.push(s.type, chunk.length)
      for (const asn of chunk) u32(path, asn)
    }
  }
  attr(out, 0x40, 2, path)
  const nh: number[] = []
  u32(nh, a.nextHop)
  attr(out, 0x40, 3, nh)
  if (a.med !== undefined) {
    const v: number[] = []
    u32(v, a.med)
    attr(out, 0x80, 4, v)
  }
  if (a.localPref !== undefined) {
    const v: number[] = []
    u32(v, a.localPref)
    attr(out, 0x40, 5, v)
  }
  if (a.atomicAggregate === true) attr(out, 0x40, 6, [])
  if (a.aggregator !== undefined) {
    const v: number[] = []
    u32(v, a.aggregator.asn)
    u32(v, a.aggregator.address)
    attr(out, 0xc0, 7, v)
  }
  if (a.communities !== undefined && a.communities.length > 0) {
    const v: number[] = []
    for (const c of a.communities) u32(v, c)
    attr(out, 0xc0, 8, v)
  }
  if (a.largeCommunities !== undefined && a.largeCommunities.length > 0) {
    const v: number[] = []
    for (const [g, d1, d2] of a.largeCommunities) {
      u32(v, g)
      u32(v, d1)
      u32(v, d2)
    }
    attr(out, 0xc0, 32, v)
  }
  return Uint8Array.from(out)
}

const nlriBytes = (len: number): number => 1 + ((len + 7) >> 3)

const putPrefix = (b: Uint8Array, o: number, addr: number, len: number): number => {
  b[o++] = len
  const n = (len + 7) >> 3
  for (let k = 0; k < n; k++) b[o++] = (addr >>> (24 - 8 * k)) & 255
  return o
}

/**
 * UPDATEs announcing `addrs` (all of length `len`) with one attribute block, packed to the 4 096-octet
 * limit. Returns the messages back to back in one buffer, and how many messages that is.
 */
export const buildAnnouncements = (attrs: Uint8Array, addrs: ArrayLike<number>, len: number): { bytes: Uint8Array; messages: number } => {
  const per = nlriBytes(len)
  const room = Math.floor((MAX_MESSAGE - HEADER - 4 - attrs.length) / per)
  if (room < 1) throw new Error("attributes too large for one UPDATE")
  const messages = Math.ceil(addrs.length / room)
  const size = messages * (HEADER + 4 + attrs.length) + addrs.length * per
  const b = new Uint8Array(size)
  let o = 0
  for (let i = 0; i < addrs.length; i += room) {
    const n = Math.min(room, addrs.length - i)
    const len0 = HEADER + 4 + attrs.length + n * per
    header(b.subarray(o), len0, MsgType.UPDATE)
    let p = o + HEADER
    b[p++] = 0
    b[p++] = 0
    b[p++] = attrs.length >> 8
    b[p++] = attrs.length & 255
    b.set(attrs, p)
    p += attrs.length
    for (let k = 0; k < n; k++) p = putPrefix(b, p, addrs[i + k]!, len)
    o += len0
  }
  return { bytes: b, messages }
}

/** UPDATEs withdrawing `addrs` (length `len`), packed. */
export const buildWithdrawals = (addrs: ArrayLike<number>, len: number): { bytes: Uint8Array; messages: number } => {
  const per = nlriBytes(len)
  const room = Math.floor((MAX_MESSAGE - HEADER - 4) / per)
  const messages = Math.ceil(addrs.length / room)
  const b = new Uint8Array(messages * (HEADER + 4) + addrs.length * per)
  let o = 0
  for (let i = 0; i < addrs.length; i += room) {
    const n = Math.min(room, addrs.length - i)
    const wlen = n * per
    const total = HEADER + 4 + wlen
    header(b.subarray(o), total, MsgType.UPDATE)
    let p = o + HEADER
    b[p++] = wlen >> 8
    b[p++] = wlen & 255
    for (let k = 0; k < n; k++) p = putPrefix(b, p, addrs[i + k]!, len)
    b[p++] = 0
    b[p++] = 0
    o += total
  }
  return { bytes: b, messages }
}

export const concat = (parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let o = 0
  for (const p of parts) {
    out.set(p, o)
    o += p.length
  }
  return out
}

// -------------------------------------------------------------------------------------------------
// Framing and counting

/**
 * Splits a TCP byte stream into BGP messages. Complete messages are handed over as (buffer, offset,
 * length) without copying; only a message cut by a chunk boundary is copied together.
 */
export class Framer {
  private carry = new Uint8Array(MAX_MESSAGE)
  private carried = 0
  private readonly onMessage: (b: Uint8Array, start: number, length: number) => void

  constructor(onMessage: (b: Uint8Array, start: number, length: number) => void) {
    this.onMessage = onMessage
  }

  push(chunk: Uint8Array): void {
    let i = 0
    if (this.carried > 0) {
      // Complete the header first, then the message.
      while (this.carried < HEADER && i < chunk.length) this.carry[this.carried++] = chunk[i++]!
      if (this.carried < HEADER) return
      const len = (this.carry[16]! << 8) | this.carry[17]!
      if (len < HEADER || len > 65535) throw new Error(`bad BGP message length ${len}`)
      if (len > this.carry.length) {
        const bigger = new Uint8Array(len)
        bigger.set(this.carry.subarray(0, this.carried))
        this.carry = bigger
      }
      const take = Math.min(len - this.carried, chunk.length - i)
      this.carry.set(chunk.subarray(i, i + take), this.carried)
      this.carried += take
      i += take
      if (this.carried < len) return
      this.carried = 0
      this.onMessage(this.carry, 0, len)
    }
    const n = chunk.length
    while (i + HEADER <= n) {
      const len = (chunk[i + 16]! << 8) | chunk[i + 17]!
      if (len < HEADER) throw new Error(`bad BGP message length ${len}`)
      if (i + len > n) break
      this.onMessage(chunk, i, len)
      i += len
    }
    if (i < n) {
      const rest = n - i
      if (rest > this.carry.length) this.carry = new Uint8Array(Math.max(rest, MAX_MESSAGE))
      this.carry.set(chunk.subarray(i), 0)
      this.carried = rest
    }
  }
}

/**
 * Which prefixes a sink holds: a bitset over a compact space of equal-length prefixes (`count` prefixes
 * of length `len` from `base`, the n-th being base + n · 2^(32−len)). Announcements set a bit,
 * withdrawals clear it; anything outside the space is counted as foreign.
 */
export class PrefixSpace {
  readonly base: number
  readonly len: number
  readonly count: number
  readonly shift: number
  constructor(base: number, len: number, count: number) {
    this.base = base
    this.len = len
    this.count = count
    this.shift = 32 - len
  }
  index(addr: number, len: number): number {
    if (len !== this.len) return -1
    const off = (addr - this.base) / 2 ** this.shift
    return off >= 0 && off < this.count && Number.isInteger(off) ? off : -1
  }
  addr(i: number): number {
    return (this.base + i * 2 ** this.shift) >>> 0
  }
}

export interface CountSnapshot {
  readonly present: number
  readonly announcements: number
  readonly duplicates: number
  readonly withdrawals: number
  readonly spuriousWithdrawals: number
  readonly foreign: number
  readonly updates: number
  readonly endOfRib: number
}

/** Counting sink state: decodes only lengths and NLRI, never attribute contents. */
export class PrefixCounter {
  readonly bits: Uint8Array
  present = 0
  announcements = 0
  duplicates = 0
  withdrawals = 0
  spuriousWithdrawals = 0
  foreign = 0
  updates = 0
  endOfRib = 0
  /** Announcements of the peer's own prefixes (indexes from `ownFrom`, `ownCount` of them), not counted as present. */
  own = 0
  ownFrom = 0
  ownCount = 0
  /** Called for every announcement/withdrawal of a prefix in the space (optional, for latency probes). */
  onPrefix: ((index: number, announced: boolean) => void) | undefined

  readonly space: PrefixSpace

  constructor(space: PrefixSpace) {
    this.space = space
    this.bits = new Uint8Array(space.count)
  }

  snapshot(): CountSnapshot {
    return {
      present: this.present,
      announcements: this.announcements,
      duplicates: this.duplicates,
      withdrawals: this.withdrawals,
      spuriousWithdrawals: this.spuriousWithdrawals,
      foreign: this.foreign,
      updates: this.updates,
      endOfRib: this.endOfRib
    }
  }

  /**
   * Walks a run of IPv4 NLRI (RFC 4271 §4.3 encoding) and applies each prefix. The hot loop of every
   * sink: no calls per prefix, the index computed from the octets directly.
   */
  private walk(b: Uint8Array, i: number, end: number, announce: boolean): void {
    const sp = this.space
    const L = sp.len
    const step = 2 ** sp.shift
    const base = sp.base
    const count = sp.count
    const bits = this.bits
    const hook = this.onPrefix
    const ownFrom = this.ownFrom
    const ownCount = this.ownCount
    while (i < end) {
      const len = b[i]!
      const n = (len + 7) >> 3
      if (len !== L) {
        this.foreign++
        i += 1 + n
        continue
      }
      const addr = n === 3
        ? b[i + 1]! * 16777216 + b[i + 2]! * 65536 + b[i + 3]! * 256
        : n === 4
        ? b[i + 1]! * 16777216 + b[i + 2]! * 65536 + b[i + 3]! * 256 + b[i + 4]!
        : (n > 0 ? b[i + 1]! * 16777216 : 0) + (n > 1 ? b[i + 2]! * 65536 : 0) + (n > 2 ? b[i + 3]! * 256 : 0)
      i += 1 + n
      const idx = (addr - base) / step
      if (idx < 0 || idx >= count || idx !== Math.floor(idx)) {
        this.foreign++
        continue
      }
      if (idx - ownFrom >= 0 && idx - ownFrom < ownCount) {
        // Our own route reflected back to us (RFC 4456 allows it; ORIGINATOR_ID tells the client to drop it).
        if (announce) this.own++
        continue
      }
      if (announce) {
        this.announcements++
        if (bits[idx] === 1) this.duplicates++
        else {
          bits[idx] = 1
          this.present++
        }
      } else {
        this.withdrawals++
        if (bits[idx] === 1) {
          bits[idx] = 0
          this.present--
        } else this.spuriousWithdrawals++
      }
      if (hook !== undefined) hook(idx, announce)
    }
  }

  /** One UPDATE (header included at `start`). */
  update(b: Uint8Array, start: number, length: number): void {
    this.updates++
    const end = start + length
    let i = start + HEADER
    const wlen = (b[i]! << 8) | b[i + 1]!
    i += 2
    this.walk(b, i, i + wlen, false)
    i += wlen
    const alen = (b[i]! << 8) | b[i + 1]!
    i += 2
    const aend = i + alen
    if (wlen === 0 && alen === 0 && aend === end) {
      this.endOfRib++
      return
    }
    // MP_REACH / MP_UNREACH for IPv4 unicast, in case a router uses them for IPv4 (RFC 4760).
    while (i < aend) {
      const flags = b[i]!
      const type = b[i + 1]!
      const ext = (flags & 0x10) !== 0
      const vlen = ext ? (b[i + 2]! << 8) | b[i + 3]! : b[i + 2]!
      const v = i + (ext ? 4 : 3)
      if (type === 14 || type === 15) {
        const afi = (b[v]! << 8) | b[v + 1]!
        const safi = b[v + 2]!
        if (afi === 1 && safi === 1) {
          if (type === 14) {
            const nhl = b[v + 3]!
            this.walk(b, v + 4 + nhl + 1, v + vlen, true)
          } else this.walk(b, v + 3, v + vlen, false)
        } else if (vlen === 3 && type === 15) this.endOfRib++
      }
      i = v + vlen
    }
    this.walk(b, aend, end, true)
  }
}
