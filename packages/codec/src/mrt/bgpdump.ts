/**
 * The one-line text of `bgpdump -m` (RIPE NCC libbgpdump 1.6), byte for byte, so existing scripts can
 * switch to us. Its quirks are kept on purpose, each noted where it is reproduced:
 * - a missing attribute prints as a default: ORIGIN "INCOMPLETE", NEXT_HOP 255.255.255.255, LOCAL_PREF
 *   and MED 0, AS_PATH empty; an AGGREGATOR whose address is 255.255.255.255 counts as missing;
 * - IPv6 text is bgpdump's own (a single zero group is also "::"; v4-mapped as ::ffff:a.b.c.d);
 * - lines come per prefix, withdrawals before announcements, families in the order IPv4 (Withdrawn/NLRI
 *   field), then MP IPv4 unicast, multicast, unicast+multicast, then IPv6 the same;
 * - OPEN, NOTIFICATION, KEEPALIVE, ROUTE-REFRESH, PEER_INDEX_TABLE, RIB_GENERIC and unknown records
 *   print nothing.
 * Large communities are not printed (bgpdump needs -l for them). Prefix bits past the length are
 * cleared, as bgpdump does since 1.6.1 (the test_expect files show it; the Debian 1.6.2 build predates it).
 */
import { Afi, AttrType, SegmentType } from "../constants.ts"
import type { AsPath, PathAttributes } from "../attributes.ts"
import type { Prefix } from "../prefix.ts"
import { formatIpv4, parseIpv6Words } from "../prefix.ts"
import type { Update } from "../update.ts"
import { MrtType } from "./constants.ts"
import type { Bgp4mpMessage, Bgp4mpStateChange, MrtRecord, RibNextHop, RibRecord, TableDumpRecord } from "./records.ts"

// ---------------------------------------------------------------------------------------------------
// Addresses

const hex = (n: number): string => n.toString(16)

/**
 * bgpdump's IPv6 text: v4-mapped (::ffff:a.b.c.d) and v4-compatible (::a.b.c.d) forms, and the longest
 * run of zero groups, even a single one, as "::" (the first such run on a tie).
 */
export const bgpdumpIpv6 = (w0: number, w1: number, w2: number, w3: number): string => {
  if (w0 === 0 && w1 === 0 && (w2 === 0xffff || (w2 === 0 && w3 > 1))) {
    return `::${w2 === 0xffff ? "ffff:" : ""}${formatIpv4(w3)}`
  }
  const g = [w0 >>> 16, w0 & 0xffff, w1 >>> 16, w1 & 0xffff, w2 >>> 16, w2 & 0xffff, w3 >>> 16, w3 & 0xffff]
  let best = -1
  let bestLen = 0
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && g[j] === 0) j++
    if (j - i > bestLen) {
      best = i
      bestLen = j - i
    }
    i = j
  }
  let s = ""
  for (let i = 0; i < 8; i++) {
    if (i === best) {
      s += i === 0 ? "::" : ":"
      i += bestLen - 1
      continue
    }
    s += hex(g[i]!)
    if (i !== 7) s += ":"
  }
  return s
}

const wordAt = (b: Uint8Array, i: number): number =>
  (((b[i] ?? 0) << 24) | ((b[i + 1] ?? 0) << 16) | ((b[i + 2] ?? 0) << 8) | (b[i + 3] ?? 0)) >>> 0

/** The first 16 octets of `b` (zero-padded, as bgpdump's zeroed buffers are) as bgpdump IPv6 text. */
const ipv6FromBytes = (b: Uint8Array): string => bgpdumpIpv6(wordAt(b, 0), wordAt(b, 4), wordAt(b, 8), wordAt(b, 12))

const addressCache = new Map<string, string>()

/** Re-renders an address from our (RFC 5952) text in bgpdump's style. */
const bgpdumpAddress = (s: string): string => {
  if (!s.includes(":")) return s
  let r = addressCache.get(s)
  if (r === undefined) {
    const w = parseIpv6Words(s)
    r = w === undefined ? s : bgpdumpIpv6(w[0], w[1], w[2], w[3])
    if (addressCache.size > 10000) addressCache.clear()
    addressCache.set(s, r)
  }
  return r
}

/** An IPv4 address rendered into bgpdump's IPv6 buffer (first four octets, the rest zero). */
const ipv4AsIpv6 = (s: string): string => {
  const p = s.split(".").map(Number)
  return bgpdumpIpv6((((p[0] ?? 0) << 24) | ((p[1] ?? 0) << 16) | ((p[2] ?? 0) << 8) | (p[3] ?? 0)) >>> 0, 0, 0, 0)
}

const prefixText = (p: Prefix): string =>
  p.afi === Afi.IPV4 ? `${formatIpv4(p.w0)}/${p.length}` : `${bgpdumpIpv6(p.w0, p.w1, p.w2, p.w3)}/${p.length}`

// ---------------------------------------------------------------------------------------------------
// Attributes

const SEG_OPEN: Readonly<Record<number, string>> = { [SegmentType.AS_SET]: "{", [SegmentType.AS_CONFED_SEQUENCE]: "(", [SegmentType.AS_CONFED_SET]: "[" }
const SEG_CLOSE: Readonly<Record<number, string>> = { [SegmentType.AS_SET]: "}", [SegmentType.AS_CONFED_SEQUENCE]: ")", [SegmentType.AS_CONFED_SET]: "]" }

/**
 * AS_PATH text: sequences space-separated, {sets} and [confederation sets] comma-separated,
 * (confederation sequences) space-separated. bgpdump stops at about 7 900 characters with "...".
 */
export const bgpdumpAsPath = (path: AsPath): string => {
  let s = ""
  let prev: number = SegmentType.AS_SEQUENCE
  let space = false
  for (const seg of path) {
    if (prev !== SegmentType.AS_SEQUENCE) s += SEG_CLOSE[prev] ?? " "
    if (space) s += " "
    if (seg.type !== SegmentType.AS_SEQUENCE) s += SEG_OPEN[seg.type] ?? " "
    space = false
    const sep = seg.type === SegmentType.AS_SET || seg.type === SegmentType.AS_CONFED_SET ? "," : " "
    for (const asn of seg.asns) {
      if (space) s += sep
      else space = true
      s += asn
      if (s.length > 7900) return `${s}...`
    }
    prev = seg.type
  }
  if (prev !== SegmentType.AS_SEQUENCE && path.length > 0) s += SEG_CLOSE[prev] ?? " "
  return s
}

/** COMMUNITIES text (without bgpdump's leading space), within its 8 KiB buffer. */
export const bgpdumpCommunities = (cs: ReadonlyArray<number>): string => {
  let s = ""
  for (const c of cs) {
    const name = c === 0xffffff01 ? " no-export" : c === 0xffffff02 ? " no-advertise" : c === 0xffffff03 ? " local-AS" : undefined
    if (name !== undefined) {
      // strlcat: all or nothing
      if (s.length + name.length < 8192) s += name
    } else {
      const t = ` ${c >>> 16}:${c & 0xffff}`
      // snprintf: cut to what fits
      s += t.slice(0, Math.max(0, 8191 - s.length))
    }
  }
  return s.slice(1)
}

const ORIGINS = ["IGP", "EGP", "INCOMPLETE"]

interface AttrText {
  /** "aspath|origin" */
  readonly pathOrigin: string
  readonly nextHop: string
  readonly localPref: number
  readonly med: number
  /** "communities|AG" */
  readonly commAg: string
  /** "aggregator|" or "|" */
  readonly aggregator: string
}

const attrText = (a: PathAttributes, asPathError: boolean): AttrText => {
  const asPath = asPathError ? "! Error !" : a.asPath === undefined ? "" : bgpdumpAsPath(a.asPath)
  const origin = a.origin === undefined ? "INCOMPLETE" : ORIGINS[a.origin]!
  const comm = a.communities === undefined ? "" : bgpdumpCommunities(a.communities)
  return {
    pathOrigin: `${asPath}|${origin}`,
    nextHop: a.nextHop === undefined ? "255.255.255.255" : formatIpv4(a.nextHop),
    localPref: a.localPref ?? 0,
    med: a.med ?? 0,
    commAg: `${comm}|${a.atomicAggregate === true ? "AG" : "NAG"}`,
    aggregator: a.aggregator === undefined || a.aggregator.address === 0xffffffff
      ? "|"
      : `${a.aggregator.asn} ${formatIpv4(a.aggregator.address)}|`
  }
}

const asPathFailed = (errors: ReadonlyArray<{ readonly attributeType?: number; readonly reason: string }> | undefined): boolean =>
  errors !== undefined && errors.some((e) => e.reason === "MalformedAsPath" && e.attributeType === AttrType.AS_PATH)

/** The next hop bgpdump shows for a RIB entry: the MP_REACH one when it is IPv6 unicast, else NEXT_HOP. */
const ribNextHop = (t: AttrText, mp: RibNextHop | undefined): string =>
  mp !== undefined && (mp.afi === undefined || (mp.afi === Afi.IPV6 && mp.safi === 1)) ? ipv6FromBytes(mp.nextHop) : t.nextHop

// ---------------------------------------------------------------------------------------------------
// Records

const timeText = (r: { readonly header: { readonly type: number; readonly timestamp: number; readonly microseconds: number } }): string =>
  r.header.type === MrtType.BGP4MP_ET ? `${r.header.timestamp}.${String(r.header.microseconds).padStart(6, "0")}` : String(r.header.timestamp)

const tableDumpLine = (r: TableDumpRecord): string => {
  const t = attrText(r.attributes, asPathFailed(r.errors))
  return `TABLE_DUMP|${r.header.timestamp}|B|${bgpdumpAddress(r.peerAddress)}|${r.peerAs}|${prefixText(r.prefix)}|${t.pathOrigin}|${
    ribNextHop(t, r.mpReach)
  }|${t.localPref}|${t.med}|${t.commAg}|${t.aggregator}\n`
}

const ribLines = (r: RibRecord): string => {
  // bgpdump reads the unicast subtypes (and their ADD-PATH forms) only.
  if (r.prefix === undefined || r.safi !== 1 || r.header.subtype === 6 || r.header.subtype === 12) return ""
  const kind = r.addPath ? "TABLE_DUMP2_AP" : "TABLE_DUMP2"
  const prefix = prefixText(r.prefix)
  let s = ""
  for (const e of r.entries) {
    if (e.peer === undefined) continue
    const t = attrText(e.attributes, asPathFailed(e.errors))
    s += `${kind}|${r.header.timestamp}|B|${bgpdumpAddress(e.peer.address)}|${e.peer.asn}|${prefix}|${
      r.addPath ? `${e.pathId ?? 0}|` : ""
    }${t.pathOrigin}|${ribNextHop(t, e.mpReach)}|${t.localPref}|${t.med}|${t.commAg}|${t.aggregator}\n`
  }
  return s
}

const stateLine = (r: Bgp4mpStateChange): string => {
  if (r.header.type === MrtType.BGP) {
    return `BGP|${r.header.timestamp}|STATE|${r.peerAddress}|${r.peerAs}|${r.oldState}|${r.newState}\n`
  }
  const kind = r.header.type === MrtType.BGP4MP_ET ? "BGP4MP_ET" : "BGP4MP"
  return `${kind}|${timeText(r)}|STATE|${bgpdumpAddress(r.peerAddress)}|${r.peerAs}|${r.oldState}|${r.newState}\n`
}

/** The prefixes of one family in bgpdump's order: (afi, safi) pairs, IPv4 first. */
const FAMILY_ORDER: ReadonlyArray<readonly [number, number]> = [[1, 1], [1, 2], [1, 3], [2, 1], [2, 2], [2, 3]]

const legacyLines = (r: Bgp4mpMessage, u: Update, time: string): string => {
  // RFC 6396 Appendix B BGP records carry IPv4 unicast only.
  let s = ""
  for (const p of u.withdrawn) s += `BGP|${time}|W|${r.peerAddress}|${r.peerAs}|${prefixText(p)}\n`
  if (u.nlri.length === 0) return s
  const t = attrText(u.attributes, asPathFailed(u.errors))
  // bgpdump writes this line with one field fewer, and no separator before the communities.
  const tail = `|${t.nextHop}|${t.localPref}|${t.med}${t.commAg}|${t.aggregator}\n`
  for (const p of u.nlri) s += `BGP|${time}|A|${r.peerAddress}|${r.peerAs}|${prefixText(p)}|${t.pathOrigin}${tail}`
  return s
}

const messageLines = (r: Bgp4mpMessage): string => {
  const u = r.message
  if (u === undefined || u._tag !== "Update") return ""
  const time = timeText(r)
  if (r.header.type === MrtType.BGP) return legacyLines(r, u, time)
  const kind = `${r.header.type === MrtType.BGP4MP_ET ? "BGP4MP_ET" : "BGP4MP"}${r.local ? "_LOCAL" : ""}${r.addPath ? "_AP" : ""}`
  const v6peer = r.afi === Afi.IPV6
  const peer = `${bgpdumpAddress(r.peerAddress)}|${r.peerAs}|`
  // bgpdump quirk: an IPv4 peer's own address printed through its IPv6 formatter, in IPv6 withdrawals of
  // messages we sent (the *_LOCAL subtypes).
  const v6WithdrawPeer = !v6peer && r.local ? `${ipv4AsIpv6(r.peerAddress)}|${r.peerAs}|` : peer
  const pathId = (p: Prefix): string => (r.addPath ? `|${p.pathId}` : "")
  let s = ""
  // Withdrawals
  const mpw = u.mpUnreach
  for (const p of u.withdrawn) s += `${kind}|${time}|W|${peer}${prefixText(p)}${pathId(p)}\n`
  if (mpw !== undefined) {
    for (const [afi, safi] of FAMILY_ORDER) {
      if (mpw.afi !== afi || mpw.safi !== safi) continue
      for (const p of mpw.withdrawn) {
        s += `${kind}|${time}|W|${afi === Afi.IPV6 ? v6WithdrawPeer : peer}${prefixText(p)}${pathId(p)}\n`
      }
    }
  }
  // Announcements
  const mpr = u.mpReach
  const hasMp = mpr !== undefined && FAMILY_ORDER.some(([afi, safi]) => mpr.afi === afi && mpr.safi === safi) && mpr.nlri.length > 0
  if (u.nlri.length === 0 && !hasMp) return s
  const t = attrText(u.attributes, asPathFailed(u.errors))
  const tail = (nextHop: string, signed: boolean): string =>
    // bgpdump prints LOCAL_PREF and MED of MP IPv4 routes as signed integers.
    `${nextHop}|${signed ? t.localPref | 0 : t.localPref}|${signed ? t.med | 0 : t.med}|${t.commAg}|${t.aggregator}\n`
  if (u.nlri.length > 0) {
    const rest = tail(t.nextHop, false)
    for (const p of u.nlri) s += `${kind}|${time}|A|${peer}${prefixText(p)}${pathId(p)}|${t.pathOrigin}|${rest}`
  }
  if (hasMp) {
    if (mpr.afi === Afi.IPV4) {
      const rest = tail(formatIpv4(wordAt(mpr.nextHop, 0)), true)
      for (const p of mpr.nlri) s += `${kind}|${time}|A|${peer}${prefixText(p)}${pathId(p)}|${t.pathOrigin}|${rest}`
    } else {
      const rest = tail(ipv6FromBytes(mpr.nextHop), false)
      for (const p of mpr.nlri) {
        s += `${kind}|${time}|A|${peer}${prefixText(p)}|${r.addPath ? `${p.pathId}|` : ""}${t.pathOrigin}|${rest}`
      }
    }
  }
  return s
}

/** The `bgpdump -m` lines of one record ("" when bgpdump prints none), each ending in "\n". */
export const bgpdumpLines = (r: MrtRecord): string => {
  switch (r._tag) {
    case "TableDump":
      return tableDumpLine(r)
    case "Rib":
      return ribLines(r)
    case "Bgp4mpStateChange":
      return stateLine(r)
    case "Bgp4mpMessage":
      return messageLines(r)
    default:
      return ""
  }
}
