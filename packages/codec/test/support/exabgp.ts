/**
 * ExaBGP's functional-test vectors and a projection of our decode into ExaBGP's JSON shape, so the two
 * can be compared field by field. Only what ExaBGP and this codec both interpret is compared; attributes
 * this codec keeps as unknown are matched by type code, and NLRI of families it leaves raw by AFI/SAFI.
 */
import type { CodecContext, ExtendedCommunity, Open, PathAttributes, Prefix, Update } from "../../src/index.ts"
import { familyKey, formatIpv4, formatIpv6, formatPrefix, parseIpv6Words } from "../../src/index.ts"
import { fromHex } from "./hex.ts"

// ---------------------------------------------------------------------------------------------------
// Vector files

/** One `N:raw:` line of a `.ci` file, with the `N:cmd:` before it and the `N:json:` after it. */
export interface CiVector {
  readonly file: string
  /** 1-based line number of the raw line. */
  readonly line: number
  readonly raw: Uint8Array
  readonly cmd?: string
  readonly json?: ExaMessage
}

export interface ExaMessage {
  readonly type: string
  readonly neighbor: {
    readonly message?: { readonly update?: ExaUpdate }
    readonly open?: ExaOpen
  }
}

export interface ExaUpdate {
  readonly attribute?: Record<string, unknown>
  readonly announce?: Record<string, Record<string, ReadonlyArray<Record<string, unknown>>>>
  readonly withdraw?: Record<string, ReadonlyArray<Record<string, unknown>>>
}

export interface ExaOpen {
  readonly version: number
  readonly asn: number
  readonly hold_time: number
  readonly router_id: string
  readonly capabilities: Record<string, Record<string, unknown>>
}

/**
 * Parses a `.ci` file: `N:cmd:` (what ExaBGP was told), `N:raw:` (the wire bytes it sent, with `:`
 * separators anywhere) and `N:json:` (ExaBGP's own decode of the preceding raw). Comments, options and
 * other line kinds are not vectors.
 */
export const parseCi = (file: string, text: string): CiVector[] => {
  const out: Array<{ -readonly [K in keyof CiVector]: CiVector[K] }> = []
  let cmd: string | undefined
  text.split(/\r?\n/).forEach((line, idx) => {
    const m = /^([0-9A-Za-z]+):(cmd|raw|json):(.*)$/.exec(line)
    if (m === null) return
    const [, , kind, rest] = m
    if (kind === "cmd") cmd = rest!
    else if (kind === "raw") {
      out.push({ file, line: idx + 1, raw: fromHex(rest!), ...(cmd === undefined ? {} : { cmd }) })
      cmd = undefined
    } else {
      const last = out[out.length - 1]
      if (last === undefined) throw new Error(`${file}:${idx + 1}: json before any raw`)
      last.json = JSON.parse(rest!) as ExaMessage
    }
  })
  return out
}

/** A `qa/decoding` file: line 1 kind (and family), line 2 hex, line 3 ExaBGP's JSON. */
export interface DecodingVector {
  readonly file: string
  readonly kind: string
  readonly family: string
  readonly raw: Uint8Array
  readonly json: ExaMessage
}

export const parseDecoding = (file: string, text: string): DecodingVector => {
  const [head, hex, json] = text.split(/\r?\n/)
  const [kind, ...family] = head!.trim().split(/\s+/)
  return { file, kind: kind!, family: family.join(" "), raw: fromHex(hex!), json: JSON.parse(json!) as ExaMessage }
}

// ---------------------------------------------------------------------------------------------------
// Families and attribute names

/** ExaBGP family names (`afi safi`) and their numbers. */
export const exaFamilies: Readonly<Record<string, readonly [number, number]>> = {
  "ipv4 unicast": [1, 1],
  "ipv6 unicast": [2, 1],
  "ipv4 multicast": [1, 2],
  "ipv6 multicast": [2, 2],
  "ipv4 nlri-mpls": [1, 4],
  "ipv6 nlri-mpls": [2, 4],
  "ipv4 mcast-vpn": [1, 5],
  "ipv6 mcast-vpn": [2, 5],
  "l2vpn vpls": [25, 65],
  "l2vpn evpn": [25, 70],
  "bgp-ls bgp-ls": [16388, 71],
  "bgp-ls bgp-ls-vpn": [16388, 72],
  "ipv4 sr-policy": [1, 73],
  "ipv6 sr-policy": [2, 73],
  "ipv4 mup": [1, 85],
  "ipv6 mup": [2, 85],
  "ipv4 mpls-vpn": [1, 128],
  "ipv6 mpls-vpn": [2, 128],
  "ipv4 rtc": [1, 132],
  "ipv4 flow": [1, 133],
  "ipv6 flow": [2, 133],
  "ipv4 flow-vpn": [1, 134],
  "ipv6 flow-vpn": [2, 134]
}

const familyName = (afi: number, safi: number): string => {
  for (const [name, [a, s]] of Object.entries(exaFamilies)) if (a === afi && s === safi) return name
  return `afi${afi} safi${safi}`
}

/** Families whose NLRI this codec decodes (the rest stay raw bytes). */
export const inScopeFamily = (afi: number, safi: number): boolean => (afi === 1 || afi === 2) && (safi === 1 || safi === 2)

/** ExaBGP attribute keys for attributes this codec keeps as unknown (matched by type code). */
const exaOpaqueAttributes: Readonly<Record<string, number>> = {
  "pmsi-tunnel": 22,
  "tunnel-encap": 23,
  "extended-community-ipv6": 25,
  aigp: 26,
  "bgp-ls": 29,
  "bgp-prefix-sid": 40
}

const opaqueType = (key: string): number | undefined => {
  const generic = /^attribute-0x([0-9a-f]{2})-0x[0-9a-f]{2}$/i.exec(key)
  return generic !== null ? parseInt(generic[1]!, 16) : exaOpaqueAttributes[key]
}

// ---------------------------------------------------------------------------------------------------
// Our decode in ExaBGP's shape

const originNames = ["igp", "egp", "incomplete"] as const
const segmentNames: Readonly<Record<number, string>> = { 1: "as-set", 2: "as-sequence", 3: "confed-sequence", 4: "confed-set" }

/** ExaBGP's extended-community `value`: the 8 octets as one integer (JSON rounds it to a double). */
const extValue = (c: ExtendedCommunity): number => Number((BigInt(c.hi) << 32n) | BigInt(c.lo))

/** Our attributes under ExaBGP's keys (NEXT_HOP apart: ExaBGP files routes under it). */
export const attributeView = (a: PathAttributes): Record<string, unknown> => {
  const v: Record<string, unknown> = {}
  if (a.origin !== undefined) v.origin = originNames[a.origin]
  // ExaBGP leaves an empty AS_PATH out of its JSON.
  if (a.asPath !== undefined && a.asPath.length > 0) {
    v["as-path"] = Object.fromEntries(
      a.asPath.map((s, i) => [String(i), { element: segmentNames[s.type], value: [...s.asns] }])
    )
  }
  if (a.med !== undefined) v.med = a.med
  if (a.localPref !== undefined) v["local-preference"] = a.localPref
  if (a.atomicAggregate === true) v["atomic-aggregate"] = true
  if (a.aggregator !== undefined) v.aggregator = `${a.aggregator.asn}:${formatIpv4(a.aggregator.address)}`
  if (a.communities !== undefined) v.community = a.communities.map((c) => [c >>> 16, c & 0xffff])
  if (a.originatorId !== undefined) v["originator-id"] = formatIpv4(a.originatorId)
  if (a.clusterList !== undefined) v["cluster-list"] = a.clusterList.map(formatIpv4)
  if (a.extendedCommunities !== undefined) v["extended-community"] = a.extendedCommunities.map((c) => ({ value: extValue(c) }))
  if (a.largeCommunities !== undefined) v["large-community"] = a.largeCommunities.map((c) => [c.global, c.local1, c.local2])
  if (a.otc !== undefined) v.otc = a.otc
  return v
}

/** Canonical text of an address ExaBGP printed (IPv6 in any RFC 4291 form, IPv4 as is). */
const canonicalAddress = (s: string): string => {
  if (!s.includes(":")) return s
  const w = parseIpv6Words(s)
  if (w === undefined) return s
  const b = new Uint8Array(16)
  const dv = new DataView(b.buffer)
  w.forEach((x, i) => dv.setUint32(i * 4, x))
  return formatIpv6(b)
}

/** An MP_REACH next hop as ExaBGP keys routes by it: the global address (a link-local second half dropped). */
const mpNextHop = (nh: Uint8Array): string =>
  nh.length === 4 ? formatIpv4((((nh[0]! << 24) | (nh[1]! << 16) | (nh[2]! << 8) | nh[3]!) >>> 0)) : nh.length >= 16 ? formatIpv6(nh) : "no-nexthop"

const route = (p: Prefix, addPath: boolean): Record<string, unknown> =>
  addPath ? { nlri: formatPrefix(p), "path-information": formatIpv4(p.pathId) } : { nlri: formatPrefix(p) }

export interface Comparison {
  /** Human-readable differences; empty when ours agrees with ExaBGP on everything compared. */
  readonly mismatches: string[]
  /** What was compared, for the per-category counts. */
  readonly checked: { attributes: number; routes: number; rawFamilies: number; opaque: number }
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b)

/**
 * Compares our decode of an UPDATE with ExaBGP's JSON for it: every attribute both interpret, every
 * route of IPv4/IPv6 unicast and multicast (prefix, next hop, path identifier, in order), the AFI/SAFI of
 * out-of-scope families (their NLRI must have stayed raw), and unknown attributes by type code.
 */
export const compareUpdate = (u: Update, exa: ExaUpdate, ctx: CodecContext): Comparison => {
  const mismatches: string[] = []
  const checked = { attributes: 0, routes: 0, rawFamilies: 0, opaque: 0 }
  // Attributes, both ways.
  const ours = attributeView(u.attributes)
  const theirs = exa.attribute ?? {}
  const unknownTypes = new Set((u.attributes.unknown ?? []).map((x) => x.type))
  const opaqueSeen = new Set<number>()
  for (const [key, value] of Object.entries(theirs)) {
    if (key === "next-hop") {
      checked.attributes++
      if (u.attributes.nextHop === undefined || formatIpv4(u.attributes.nextHop) !== value) {
        mismatches.push(`next-hop: ExaBGP ${String(value)}, ours ${u.attributes.nextHop === undefined ? "absent" : formatIpv4(u.attributes.nextHop)}`)
      }
      continue
    }
    const opaque = opaqueType(key)
    if (opaque !== undefined && !(key in ours)) {
      checked.opaque++
      opaqueSeen.add(opaque)
      if (!unknownTypes.has(opaque)) mismatches.push(`${key}: ExaBGP decoded attribute ${opaque}, ours has no unknown attribute of that type`)
      continue
    }
    if (!(key in ours)) {
      mismatches.push(`${key}: ExaBGP ${JSON.stringify(value)}, ours absent`)
      continue
    }
    checked.attributes++
    const mine = ours[key]
    const cmp = key === "extended-community" ? (value as Array<{ value: number }>).map((c) => ({ value: c.value })) : value
    if (!same(mine, cmp)) mismatches.push(`${key}: ExaBGP ${JSON.stringify(cmp)}, ours ${JSON.stringify(mine)}`)
  }
  for (const key of Object.keys(ours)) if (!(key in theirs)) mismatches.push(`${key}: ours ${JSON.stringify(ours[key])}, ExaBGP absent`)
  for (const t of unknownTypes) if (!opaqueSeen.has(t)) mismatches.push(`unknown attribute ${t}: ours kept it, ExaBGP shows no attribute of that type`)

  // Announcements.
  const ourAnnounce: Record<string, Record<string, Array<Record<string, unknown>>>> = {}
  const add = (fam: string, nh: string, r: Record<string, unknown>) => {
    const byNh = (ourAnnounce[fam] ??= {})
    ;(byNh[nh] ??= []).push(r)
  }
  const v4AddPath = ctx.addPath.has(familyKey(1, 1))
  for (const p of u.nlri) add("ipv4 unicast", u.attributes.nextHop === undefined ? "no-nexthop" : formatIpv4(u.attributes.nextHop), route(p, v4AddPath))
  if (u.mpReach !== undefined && inScopeFamily(u.mpReach.afi, u.mpReach.safi)) {
    const ap = ctx.addPath.has(familyKey(u.mpReach.afi, u.mpReach.safi))
    for (const p of u.mpReach.nlri) add(familyName(u.mpReach.afi, u.mpReach.safi), mpNextHop(u.mpReach.nextHop), route(p, ap))
  }
  const theirAnnounce = exa.announce ?? {}
  for (const [fam, byNh] of Object.entries(theirAnnounce)) {
    const f = exaFamilies[fam]
    if (f === undefined) {
      mismatches.push(`announce: unmapped ExaBGP family ${fam}`)
      continue
    }
    if (inScopeFamily(f[0], f[1])) continue
    checked.rawFamilies++
    const r = u.mpReach
    if (r === undefined || r.afi !== f[0] || r.safi !== f[1] || r.rawNlri === undefined || r.rawNlri.length === 0) {
      mismatches.push(`announce ${fam}: expected MP_REACH_NLRI ${f[0]}/${f[1]} with raw NLRI, ours ${JSON.stringify(r === undefined ? null : { afi: r.afi, safi: r.safi, raw: r.rawNlri?.length })}`)
    }
  }
  const inScope = (m: Record<string, unknown>) =>
    Object.fromEntries(Object.entries(m).filter(([fam]) => {
      const f = exaFamilies[fam]
      return f !== undefined && inScopeFamily(f[0], f[1])
    }))
  const theirRoutes = Object.fromEntries(
    Object.entries(inScope(theirAnnounce)).map(([fam, byNh]) => [
      fam,
      Object.fromEntries(
        Object.entries(byNh as Record<string, ReadonlyArray<Record<string, unknown>>>).map(([nh, rs]) => [
          canonicalAddress(nh),
          rs.map((r) => ({ ...r, nlri: canonicalPrefix(String(r.nlri)) }))
        ])
      )
    ])
  )
  for (const byNh of Object.values(ourAnnounce)) for (const rs of Object.values(byNh)) checked.routes += rs.length
  if (!same(sortKeys(ourAnnounce), sortKeys(theirRoutes))) {
    mismatches.push(`announce: ExaBGP ${JSON.stringify(theirRoutes)}, ours ${JSON.stringify(ourAnnounce)}`)
  }

  // Withdrawals.
  const ourWithdraw: Record<string, Array<Record<string, unknown>>> = {}
  for (const p of u.withdrawn) (ourWithdraw["ipv4 unicast"] ??= []).push(route(p, v4AddPath))
  if (u.mpUnreach !== undefined && inScopeFamily(u.mpUnreach.afi, u.mpUnreach.safi)) {
    const ap = ctx.addPath.has(familyKey(u.mpUnreach.afi, u.mpUnreach.safi))
    for (const p of u.mpUnreach.withdrawn) (ourWithdraw[familyName(u.mpUnreach.afi, u.mpUnreach.safi)] ??= []).push(route(p, ap))
  }
  const theirWithdraw = exa.withdraw ?? {}
  for (const fam of Object.keys(theirWithdraw)) {
    const f = exaFamilies[fam]
    if (f === undefined) {
      mismatches.push(`withdraw: unmapped ExaBGP family ${fam}`)
      continue
    }
    if (inScopeFamily(f[0], f[1])) continue
    checked.rawFamilies++
    const r = u.mpUnreach
    if (r === undefined || r.afi !== f[0] || r.safi !== f[1] || r.rawWithdrawn === undefined || r.rawWithdrawn.length === 0) {
      mismatches.push(`withdraw ${fam}: expected MP_UNREACH_NLRI ${f[0]}/${f[1]} with raw NLRI`)
    }
  }
  const theirW = Object.fromEntries(
    Object.entries(inScope(theirWithdraw)).map(([fam, rs]) => [
      fam,
      (rs as ReadonlyArray<Record<string, unknown>>).map((r) => ({ ...r, nlri: canonicalPrefix(String(r.nlri)) }))
    ])
  )
  for (const rs of Object.values(ourWithdraw)) checked.routes += rs.length
  if (!same(sortKeys(ourWithdraw), sortKeys(theirW))) {
    mismatches.push(`withdraw: ExaBGP ${JSON.stringify(theirW)}, ours ${JSON.stringify(ourWithdraw)}`)
  }
  return { mismatches, checked }
}

const canonicalPrefix = (s: string): string => {
  const slash = s.lastIndexOf("/")
  return slash < 0 ? s : `${canonicalAddress(s.slice(0, slash))}/${s.slice(slash + 1)}`
}

const sortKeys = (v: unknown): unknown => {
  if (Array.isArray(v)) return v.map(sortKeys)
  if (v !== null && typeof v === "object") {
    return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]))
  }
  return v
}

const afiNames: Readonly<Record<number, string>> = { 1: "ipv4", 2: "ipv6", 25: "l2vpn", 16388: "bgp-ls" }
const safiNames: Readonly<Record<number, string>> = {
  1: "unicast",
  2: "multicast",
  4: "nlri-mpls",
  5: "mcast-vpn",
  65: "vpls",
  70: "evpn",
  71: "bgp-ls",
  128: "mpls-vpn",
  133: "flow",
  134: "flow-vpn"
}

/** Compares an OPEN with ExaBGP's JSON: header fields, the set of capability codes, and their values. */
export const compareOpen = (o: Open, exa: ExaOpen): string[] => {
  const out: string[] = []
  const check = (what: string, a: unknown, b: unknown) => {
    if (!same(a, b)) out.push(`${what}: ExaBGP ${JSON.stringify(b)}, ours ${JSON.stringify(a)}`)
  }
  check("version", o.version, exa.version)
  check("asn", o.myAs, exa.asn)
  check("hold_time", o.holdTime, exa.hold_time)
  check("router_id", formatIpv4(o.bgpId), exa.router_id)
  const codes = (c: Open["capabilities"][number]): number =>
    c._tag === "Unknown" ? c.code : ({ Multiprotocol: 1, RouteRefresh: 2, ExtendedNextHop: 5, ExtendedMessage: 6, Role: 9, GracefulRestart: 64, FourOctetAs: 65, AddPath: 69, EnhancedRouteRefresh: 70, LongLivedGracefulRestart: 71, Fqdn: 73 } as const)[c._tag]
  check("capability codes", [...new Set(o.capabilities.map(codes))].sort((a, b) => a - b), Object.keys(exa.capabilities).map(Number).sort((a, b) => a - b))
  for (const [code, value] of Object.entries(exa.capabilities)) {
    if (code === "1") {
      const fams = o.capabilities.flatMap((c) => (c._tag === "Multiprotocol" ? [`${afiNames[c.afi]}/${safiNames[c.safi]}`] : []))
      check("multiprotocol families", fams, value.families)
    } else if (code === "65") {
      const c = o.capabilities.find((x) => x._tag === "FourOctetAs")
      check("asn4", c?._tag === "FourOctetAs" ? c.asn : undefined, value.asn4)
    } else if (code === "75") {
      // draft-abraitis-bgp-version-capability: one length octet, then the UTF-8 text.
      const c = o.capabilities.find((x) => x._tag === "Unknown" && x.code === 75)
      const text = c?._tag === "Unknown" ? new TextDecoder().decode(c.value.subarray(1, 1 + (c.value[0] ?? 0))) : undefined
      check("software version", text, value.software)
    }
  }
  return out
}
