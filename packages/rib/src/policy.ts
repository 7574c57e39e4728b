/**
 * Import and export policy. A policy is a typed pure function: a route in, the (possibly changed)
 * attributes out, or `undefined` to reject it. The declarative form (for config files) compiles to the
 * same function: statements are tried in order, the first whose match holds decides.
 */
import type { LargeCommunity, PathAttributes, Prefix } from "@starling/codec"
import type { RouteAttributes } from "./attrset.ts"
import { formatIpv4, formatIpv6Words, ipv6ToBytes, parseIpv4, parseIpv6Words, parsePrefix, SegmentType } from "@starling/codec"

export interface PolicyRoute {
  readonly prefix: Prefix
  /** With the MP_REACH_NLRI next hop (`mpNextHop`) of IPv6 routes. */
  readonly attrs: RouteAttributes
  /** The peer the route is from (import) or to (export). */
  readonly neighbor: { readonly address: string; readonly asn: number }
  readonly localAs: number
  /** Our address toward the neighbor (for next-hop self), IPv4 as a u32 when known. */
  readonly localAddress?: number
}

/** Returns the attributes to use, or `undefined` to reject the route. */
export type Policy = (route: PolicyRoute) => RouteAttributes | undefined

export const acceptAll: Policy = (r) => r.attrs
export const rejectAll: Policy = () => undefined

// -------------------------------------------------------------------------------------------------
// Declarative form

export interface PrefixMatch {
  /** "10.0.0.0/8" or "2001:db8::/32" */
  readonly prefix: string
  /** Prefix lengths accepted: `ge` ≤ length ≤ `le` (default: exactly the prefix's length). */
  readonly ge?: number
  readonly le?: number
}

export interface Match {
  readonly prefixes?: ReadonlyArray<PrefixMatch>
  /** Any of these communities ("65000:100", or well-known names "no-export", "no-advertise"). */
  readonly communities?: ReadonlyArray<string>
  /** Any of these large communities ("65000:1:2"). */
  readonly largeCommunities?: ReadonlyArray<string>
  /** A regular expression over the AS path as text ("65001 65002 {65003,65004}"), e.g. "^65001 ". */
  readonly asPath?: string
  /** Neighbor addresses. */
  readonly neighbors?: ReadonlyArray<string>
}

export interface SetActions {
  readonly localPref?: number
  readonly med?: number
  readonly addCommunities?: ReadonlyArray<string>
  readonly removeCommunities?: ReadonlyArray<string>
  readonly addLargeCommunities?: ReadonlyArray<string>
  readonly removeLargeCommunities?: ReadonlyArray<string>
  /** Prepend our AS this many times. */
  readonly prepend?: number
  /**
   * "self" (our IPv4 address toward the neighbor), "peer" (the neighbor's address), an IPv4 address (for
   * IPv4 routes: NEXT_HOP) or an IPv6 address (for IPv6 routes: the MP_REACH_NLRI next hop, RFC 4760 §3).
   * A route of the other family keeps its next hop.
   */
  readonly nextHop?: string
}

export interface Statement {
  readonly match?: Match
  readonly action: "accept" | "reject"
  readonly set?: SetActions
}

export interface PolicyDefinition {
  readonly statements: ReadonlyArray<Statement>
  /** What happens when no statement matches. Default "reject". */
  readonly default?: "accept" | "reject"
}

export class PolicyError extends Error {
  readonly _tag = "PolicyError"
  readonly path: string
  constructor(path: string, detail: string) {
    super(`${path}: ${detail}`)
    this.path = path
  }
}

/** IANA "BGP Well-known Communities". */
const WELL_KNOWN: Record<string, number> = {
  "no-export": 0xffffff01,
  "no-advertise": 0xffffff02,
  "no-export-subconfed": 0xffffff03,
  "no-peer": 0xffffff04, // RFC 3765
  "blackhole": 0xffff029a, // RFC 7999
  "graceful-shutdown": 0xffff0000, // RFC 8326
  "accept-own": 0xffff0001, // RFC 7611
  "llgr-stale": 0xffff0006, // RFC 9494
  "no-llgr": 0xffff0007 // RFC 9494
}

/** Config input is untyped at run time (JSON, YAML): a wrong type is an error at its path, not a TypeError. */
const needString = (v: unknown, path: string): string => {
  if (typeof v !== "string") throw new PolicyError(path, `must be a string, got ${typeof v}`)
  return v
}

export const parseCommunity = (s: string, path: string): number => {
  const w = WELL_KNOWN[needString(s, path).toLowerCase()]
  if (w !== undefined) return w
  const m = /^(\d+):(\d+)$/.exec(s)
  if (m === null || Number(m[1]) > 0xffff || Number(m[2]) > 0xffff) throw new PolicyError(path, `bad community "${s}"`)
  return ((Number(m[1]) << 16) | Number(m[2])) >>> 0
}

export const parseLargeCommunity = (s: string, path: string): LargeCommunity => {
  const m = /^(\d+):(\d+):(\d+)$/.exec(needString(s, path))
  const ok = m !== null && [m[1], m[2], m[3]].every((x) => Number(x) <= 0xffffffff)
  if (!ok) throw new PolicyError(path, `bad large community "${s}"`)
  return { global: Number(m![1]), local1: Number(m![2]), local2: Number(m![3]) }
}

export const formatAsPath = (a: PathAttributes): string =>
  (a.asPath ?? [])
    .map((s) =>
      s.type === SegmentType.AS_SEQUENCE
        ? s.asns.join(" ")
        : s.type === SegmentType.AS_SET
        ? `{${s.asns.join(",")}}`
        : s.type === SegmentType.AS_CONFED_SEQUENCE
        ? `(${s.asns.join(" ")})`
        : `[${s.asns.join(",")}]`
    )
    .join(" ")

const prefixMatcher = (m: PrefixMatch, path: string): (p: Prefix) => boolean => {
  const base = parsePrefix(needString(m.prefix, `${path}.prefix`))
  if (base === undefined) throw new PolicyError(`${path}.prefix`, `bad prefix "${m.prefix}"`)
  const max = base.afi === 1 ? 32 : 128
  const ge = m.ge ?? base.length
  const le = m.le ?? (m.ge === undefined ? base.length : max)
  if (!Number.isInteger(ge) || ge < base.length || ge > max) {
    throw new PolicyError(`${path}.ge`, `must be an integer from ${base.length} to ${max} for ${m.prefix}, got ${ge}`)
  }
  if (!Number.isInteger(le) || le < ge || le > max) {
    throw new PolicyError(`${path}.le`, `must be an integer from ${ge} to ${max} for ${m.prefix}, got ${le}`)
  }
  const words = [base.w0, base.w1, base.w2, base.w3]
  return (p) => {
    if (p.afi !== base.afi || p.length < ge || p.length > le) return false
    const pw = [p.w0, p.w1, p.w2, p.w3]
    for (let i = 0; i < 4; i++) {
      const bits = Math.max(0, Math.min(32, base.length - i * 32))
      if (bits === 0) break
      const mask = bits === 32 ? 0xffffffff : (0xffffffff << (32 - bits)) >>> 0
      if (((pw[i]! & mask) >>> 0) !== words[i]) return false
    }
    return true
  }
}

const compileMatch = (m: Match | undefined, path: string): (r: PolicyRoute) => boolean => {
  if (m === undefined) return () => true
  const tests: Array<(r: PolicyRoute) => boolean> = []
  if (m.prefixes !== undefined) {
    const ps = m.prefixes.map((x, i) => prefixMatcher(x, `${path}.prefixes[${i}]`))
    tests.push((r) => ps.some((f) => f(r.prefix)))
  }
  if (m.communities !== undefined) {
    const cs = new Set(m.communities.map((c, i) => parseCommunity(c, `${path}.communities[${i}]`)))
    tests.push((r) => (r.attrs.communities ?? []).some((c) => cs.has(c)))
  }
  if (m.largeCommunities !== undefined) {
    const ls = m.largeCommunities.map((c, i) => parseLargeCommunity(c, `${path}.largeCommunities[${i}]`))
    tests.push((r) =>
      (r.attrs.largeCommunities ?? []).some((c) => ls.some((l) => l.global === c.global && l.local1 === c.local1 && l.local2 === c.local2))
    )
  }
  if (m.asPath !== undefined) {
    let re: RegExp
    try {
      re = new RegExp(needString(m.asPath, `${path}.asPath`))
    } catch (e) {
      throw new PolicyError(`${path}.asPath`, `bad regular expression: ${String(e)}`)
    }
    tests.push((r) => re.test(formatAsPath(r.attrs)))
  }
  if (m.neighbors !== undefined) {
    // Kept as written and in canonical form (RFC 5952 for IPv6), so "2001:DB8::1" matches "2001:db8::1".
    const ns = new Set<string>()
    m.neighbors.forEach((n, i) => {
      const text = needString(n, `${path}.neighbors[${i}]`)
      const v4 = parseIpv4(text)
      const v6 = v4 === undefined ? parseIpv6Words(text) : undefined
      if (v4 === undefined && v6 === undefined) throw new PolicyError(`${path}.neighbors[${i}]`, `bad address "${text}"`)
      ns.add(text)
      ns.add(v4 !== undefined ? formatIpv4(v4) : formatIpv6Words(...v6!))
    })
    tests.push((r) => ns.has(r.neighbor.address))
  }
  return (r) => tests.every((t) => t(r))
}

const compileSet = (s: SetActions | undefined, path: string): (r: PolicyRoute) => RouteAttributes => {
  if (s === undefined) return (r) => r.attrs
  const add = (s.addCommunities ?? []).map((c, i) => parseCommunity(c, `${path}.addCommunities[${i}]`))
  const remove = new Set((s.removeCommunities ?? []).map((c, i) => parseCommunity(c, `${path}.removeCommunities[${i}]`)))
  const addL = (s.addLargeCommunities ?? []).map((c, i) => parseLargeCommunity(c, `${path}.addLargeCommunities[${i}]`))
  const removeL = (s.removeLargeCommunities ?? []).map((c, i) => parseLargeCommunity(c, `${path}.removeLargeCommunities[${i}]`))
  let nextHop: "self" | "peer" | number | Uint8Array | undefined
  if (s.nextHop !== undefined) {
    if (s.nextHop === "self" || s.nextHop === "peer") nextHop = s.nextHop
    else {
      needString(s.nextHop, `${path}.nextHop`)
      const v = parseIpv4(s.nextHop) ?? ipv6ToBytes(s.nextHop)
      if (v === undefined) throw new PolicyError(`${path}.nextHop`, `bad next hop "${s.nextHop}"`)
      nextHop = v
    }
  }
  for (const [k, v] of [["localPref", s.localPref], ["med", s.med]] as const) {
    if (v !== undefined && (!Number.isInteger(v) || v < 0 || v > 0xffffffff)) throw new PolicyError(`${path}.${k}`, `out of range: ${v}`)
  }
  if (s.prepend !== undefined && (!Number.isInteger(s.prepend) || s.prepend < 0 || s.prepend > 32)) {
    throw new PolicyError(`${path}.prepend`, `out of range: ${s.prepend}`)
  }
  return (r) => {
    let a: { -readonly [K in keyof RouteAttributes]: RouteAttributes[K] } = { ...r.attrs }
    if (s.localPref !== undefined) a.localPref = s.localPref
    if (s.med !== undefined) a.med = s.med
    if (add.length > 0 || remove.size > 0) {
      const cs = (a.communities ?? []).filter((c) => !remove.has(c))
      for (const c of add) if (!cs.includes(c)) cs.push(c)
      if (cs.length > 0) a.communities = cs
      else delete a.communities
    }
    if (addL.length > 0 || removeL.length > 0) {
      const same = (x: LargeCommunity, y: LargeCommunity) => x.global === y.global && x.local1 === y.local1 && x.local2 === y.local2
      const ls = (a.largeCommunities ?? []).filter((c) => !removeL.some((x) => same(x, c)))
      for (const c of addL) if (!ls.some((x) => same(x, c))) ls.push(c)
      if (ls.length > 0) a.largeCommunities = ls
      else delete a.largeCommunities
    }
    if (s.prepend !== undefined && s.prepend > 0) a = { ...a, asPath: prependAs(a.asPath ?? [], r.localAs, s.prepend) }
    // NEXT_HOP is the IPv4 unicast next hop; an IPv6 route's next hop rides in MP_REACH_NLRI (RFC 4760 §3).
    // Each action sets the next hop of its own family and leaves the other's alone.
    if (r.prefix.afi !== 1) {
      if (nextHop instanceof Uint8Array) a.mpNextHop = nextHop
      else if (nextHop === "peer") {
        const v = ipv6ToBytes(r.neighbor.address)
        if (v !== undefined) a.mpNextHop = v
      }
      return a
    }
    if (nextHop === "self" && r.localAddress !== undefined) a.nextHop = r.localAddress
    else if (nextHop === "peer") {
      const v = parseIpv4(r.neighbor.address)
      if (v !== undefined) a.nextHop = v
    } else if (typeof nextHop === "number") a.nextHop = nextHop
    return a
  }
}

/** Prepends `asn` `count` times as RFC 4271 §5.1.2 does on export to eBGP. */
export const prependAs = (path: NonNullable<PathAttributes["asPath"]>, asn: number, count = 1): NonNullable<PathAttributes["asPath"]> => {
  const add = new Array<number>(count).fill(asn)
  const first = path[0]
  if (first !== undefined && first.type === SegmentType.AS_SEQUENCE && first.asns.length + count <= 255) {
    return [{ type: SegmentType.AS_SEQUENCE, asns: [...add, ...first.asns] }, ...path.slice(1)]
  }
  return [{ type: SegmentType.AS_SEQUENCE, asns: add }, ...path]
}

/** Compiles the declarative form; errors name the offending field (`statements[2].set.med`). */
export const compilePolicy = (def: PolicyDefinition, path = "policy"): Policy => {
  if (!Array.isArray(def.statements)) throw new PolicyError(`${path}.statements`, "must be a list")
  if (def.default !== undefined && def.default !== "accept" && def.default !== "reject") {
    throw new PolicyError(`${path}.default`, `must be "accept" or "reject"`)
  }
  const compiled = def.statements.map((st, i) => {
    const p = `${path}.statements[${i}]`
    if (typeof st !== "object" || st === null) throw new PolicyError(p, "must be an object")
    if (st.action !== "accept" && st.action !== "reject") throw new PolicyError(`${p}.action`, `must be "accept" or "reject"`)
    return { match: compileMatch(st.match, `${p}.match`), set: compileSet(st.set, `${p}.set`), accept: st.action === "accept" }
  })
  const fallback = (def.default ?? "reject") === "accept"
  return (r) => {
    for (const st of compiled) {
      if (!st.match(r)) continue
      return st.accept ? st.set(r) : undefined
    }
    return fallback ? r.attrs : undefined
  }
}

/** RFC 4271 §9.1.2 loop detection: does the AS path already hold `asn` (more than `allowed` times)? */
export const asPathContains = (a: PathAttributes, asn: number, allowed = 0): boolean => {
  let n = 0
  for (const s of a.asPath ?? []) for (const x of s.asns) if (x === asn && ++n > allowed) return true
  return false
}


