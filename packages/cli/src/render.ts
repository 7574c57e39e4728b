/**
 * Messages as JSON-friendly plain objects for people and scripts: prefixes and addresses as text, bytes
 * as hex, numbers kept as numbers, capabilities / attributes / error codes with their RFC names next to
 * the numbers. Shared by `starling decode` and the MRT tooling.
 */
import {
  attributeName,
  endOfRib,
  familyKey,
  formatIpv4,
  formatIpv6,
  formatPrefix,
  hardResetInner,
  openAs,
  shutdownMessage,
  toHex
} from "@starling/codec"
import type {
  AsPath,
  BgpError,
  Capability,
  ExtendedCommunity,
  Message,
  MpReach,
  MpUnreach,
  Notification,
  PathAttributes,
  Prefix,
  Update
} from "@starling/codec"

export type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [key: string]: Json }

export interface RenderOptions {
  /** Families (`familyKey(afi, safi)`) whose NLRI carry RFC 7911 path identifiers: shown per prefix. */
  readonly addPath?: ReadonlySet<number>
}

// ---------------------------------------------------------------------------------------------------
// Names

const MESSAGE_TYPES: Readonly<Record<Message["_tag"], string>> = {
  Open: "OPEN",
  Update: "UPDATE",
  Notification: "NOTIFICATION",
  Keepalive: "KEEPALIVE",
  RouteRefresh: "ROUTE-REFRESH"
}

const AFI_NAMES: Readonly<Record<number, string>> = { 1: "ipv4", 2: "ipv6", 25: "l2vpn", 16388: "bgp-ls" }
const SAFI_NAMES: Readonly<Record<number, string>> = {
  1: "unicast",
  2: "multicast",
  4: "labeled-unicast",
  70: "evpn",
  71: "bgp-ls",
  128: "mpls-vpn",
  133: "flowspec",
  134: "flowspec-vpn"
}

/** `ipv4-unicast`, `ipv6-mpls-vpn`, … (`afi-N` / `safi-N` for numbers without a name). */
export const familyName = (afi: number, safi: number): string =>
  `${AFI_NAMES[afi] ?? `afi-${afi}`}-${SAFI_NAMES[safi] ?? `safi-${safi}`}`

/** RFC 4271 §4.5 and the IANA "BGP Error (Notification) Codes" registry. */
const ERROR_CODES: Readonly<Record<number, string>> = {
  1: "Message Header Error",
  2: "OPEN Message Error",
  3: "UPDATE Message Error",
  4: "Hold Timer Expired",
  5: "Finite State Machine Error",
  6: "Cease",
  7: "ROUTE-REFRESH Message Error",
  8: "Send Hold Timer Expired"
}

/** IANA subcode registries: RFC 4271 §6, RFC 5492 §5, RFC 6608 §4, RFC 4486 §4, RFC 8538, RFC 9234, RFC 9384, RFC 7313. */
const ERROR_SUBCODES: Readonly<Record<number, Readonly<Record<number, string>>>> = {
  1: { 1: "Connection Not Synchronized", 2: "Bad Message Length", 3: "Bad Message Type" },
  2: {
    0: "Unspecific",
    1: "Unsupported Version Number",
    2: "Bad Peer AS",
    3: "Bad BGP Identifier",
    4: "Unsupported Optional Parameter",
    6: "Unacceptable Hold Time",
    7: "Unsupported Capability",
    11: "Role Mismatch"
  },
  3: {
    0: "Unspecific",
    1: "Malformed Attribute List",
    2: "Unrecognized Well-known Attribute",
    3: "Missing Well-known Attribute",
    4: "Attribute Flags Error",
    5: "Attribute Length Error",
    6: "Invalid ORIGIN Attribute",
    8: "Invalid NEXT_HOP Attribute",
    9: "Optional Attribute Error",
    10: "Invalid Network Field",
    11: "Malformed AS_PATH"
  },
  5: {
    0: "Unspecified Error",
    1: "Receive Unexpected Message in OpenSent State",
    2: "Receive Unexpected Message in OpenConfirm State",
    3: "Receive Unexpected Message in Established State"
  },
  6: {
    1: "Maximum Number of Prefixes Reached",
    2: "Administrative Shutdown",
    3: "Peer De-configured",
    4: "Administrative Reset",
    5: "Connection Rejected",
    6: "Other Configuration Change",
    7: "Connection Collision Resolution",
    8: "Out of Resources",
    9: "Hard Reset",
    10: "BFD Down"
  },
  7: { 1: "Invalid Message Length" }
}

export const errorCodeName = (code: number): string => ERROR_CODES[code] ?? `Unknown error code ${code}`
export const errorSubcodeName = (code: number, subcode: number): string =>
  ERROR_SUBCODES[code]?.[subcode] ?? (subcode === 0 ? "Unspecific" : `Unknown subcode ${subcode}`)

const CAPABILITY_NAMES: Readonly<Record<Capability["_tag"], string>> = {
  Multiprotocol: "Multiprotocol Extensions",
  RouteRefresh: "Route Refresh",
  ExtendedNextHop: "Extended Next Hop Encoding",
  ExtendedMessage: "Extended Message",
  Role: "BGP Role",
  GracefulRestart: "Graceful Restart",
  FourOctetAs: "4-octet AS Number",
  AddPath: "ADD-PATH",
  EnhancedRouteRefresh: "Enhanced Route Refresh",
  LongLivedGracefulRestart: "Long-Lived Graceful Restart",
  Fqdn: "FQDN",
  Unknown: "Unknown"
}

const CAPABILITY_CODES: Readonly<Record<Exclude<Capability["_tag"], "Unknown">, number>> = {
  Multiprotocol: 1,
  RouteRefresh: 2,
  ExtendedNextHop: 5,
  ExtendedMessage: 6,
  Role: 9,
  GracefulRestart: 64,
  FourOctetAs: 65,
  AddPath: 69,
  EnhancedRouteRefresh: 70,
  LongLivedGracefulRestart: 71,
  Fqdn: 73
}

/** RFC 9234 §4.1. */
const ROLE_NAMES: Readonly<Record<number, string>> = { 0: "Provider", 1: "RS", 2: "RS-Client", 3: "Customer", 4: "Peer" }
/** RFC 7911 §4. */
const ADD_PATH_MODES: Readonly<Record<number, string>> = { 1: "receive", 2: "send", 3: "send-receive" }
const ORIGIN_NAMES = ["IGP", "EGP", "INCOMPLETE"] as const
const SEGMENT_NAMES: Readonly<Record<number, string>> = { 1: "AS_SET", 2: "AS_SEQUENCE", 3: "AS_CONFED_SEQUENCE", 4: "AS_CONFED_SET" }
/** RFC 7313 §3. */
const REFRESH_SUBTYPES: Readonly<Record<number, string>> = { 0: "Route Refresh", 1: "BoRR", 2: "EoRR" }

// ---------------------------------------------------------------------------------------------------
// Pieces

const family = (afi: number, safi: number): { [key: string]: Json } => ({ afi, safi, family: familyName(afi, safi) })

/** A prefix as text; with its path identifier when the family carries them (RFC 7911). */
export const renderPrefix = (p: Prefix, withPathId: boolean): Json =>
  withPathId ? { prefix: formatPrefix(p), pathId: p.pathId } : formatPrefix(p)

const prefixes = (ps: ReadonlyArray<Prefix>, afi: number, safi: number, o: RenderOptions): Json[] => {
  const withPathId = o.addPath?.has(familyKey(afi, safi)) === true
  return ps.map((p) => renderPrefix(p, withPathId))
}

/** An MP_REACH_NLRI next hop: IPv4, IPv6, or IPv6 global + link-local (RFC 2545 §3); hex otherwise. */
export const renderNextHop = (nh: Uint8Array): Json => {
  if (nh.length === 4) return formatIpv4(new DataView(nh.buffer, nh.byteOffset, 4).getUint32(0))
  if (nh.length === 16) return formatIpv6(nh)
  if (nh.length === 32) return [formatIpv6(nh, 0), formatIpv6(nh, 16)]
  return toHex(nh)
}

export const renderAsPath = (path: AsPath): Json =>
  path.map((s) => ({ type: SEGMENT_NAMES[s.type] ?? String(s.type), asns: [...s.asns] }))

/** The AS path as routers print it: sequences bare, `{sets}`, `(confed sequences)`, `[confed sets]`. */
export const asPathText = (path: AsPath): string =>
  path.map((s) => {
    const list = s.asns.join(" ")
    return s.type === 1 ? `{${list}}` : s.type === 3 ? `(${list})` : s.type === 4 ? `[${list}]` : list
  }).join(" ")

const community = (c: number): string => `${c >>> 16}:${c & 0xffff}`

/**
 * RFC 4360 / RFC 5668 route targets and route origins (`rt:`/`soo:` with a 2-octet AS, IPv4 or 4-octet
 * AS administrator); any other extended community as its 16 hex digits.
 */
export const renderExtendedCommunity = (e: ExtendedCommunity): string => {
  const type = e.hi >>> 24
  const sub = (e.hi >>> 16) & 0xff
  const hex = `${(e.hi >>> 0).toString(16).padStart(8, "0")}${(e.lo >>> 0).toString(16).padStart(8, "0")}`
  const kind = sub === 0x02 ? "rt" : sub === 0x03 ? "soo" : undefined
  if (kind === undefined || (type !== 0x00 && type !== 0x01 && type !== 0x02)) return `0x${hex}`
  if (type === 0x00) return `${kind}:${e.hi & 0xffff}:${e.lo >>> 0}`
  if (type === 0x01) return `${kind}:${formatIpv4((((e.hi & 0xffff) << 16) | (e.lo >>> 16)) >>> 0)}:${e.lo & 0xffff}`
  return `${kind}:${(((e.hi & 0xffff) << 16) | (e.lo >>> 16)) >>> 0}:${e.lo & 0xffff}`
}

const FLAG_NAMES: ReadonlyArray<readonly [number, string]> = [[0x80, "optional"], [0x40, "transitive"], [0x20, "partial"], [0x10, "extended-length"]]

export const renderAttributes = (a: PathAttributes): { [key: string]: Json } => {
  const out: { [key: string]: Json } = {}
  if (a.origin !== undefined) out["origin"] = ORIGIN_NAMES[a.origin]
  if (a.asPath !== undefined) {
    out["asPath"] = asPathText(a.asPath)
    out["asPathSegments"] = renderAsPath(a.asPath)
  }
  if (a.nextHop !== undefined) out["nextHop"] = formatIpv4(a.nextHop)
  if (a.med !== undefined) out["med"] = a.med
  if (a.localPref !== undefined) out["localPref"] = a.localPref
  if (a.atomicAggregate === true) out["atomicAggregate"] = true
  if (a.aggregator !== undefined) out["aggregator"] = { asn: a.aggregator.asn, address: formatIpv4(a.aggregator.address) }
  if (a.communities !== undefined) out["communities"] = a.communities.map(community)
  if (a.originatorId !== undefined) out["originatorId"] = formatIpv4(a.originatorId)
  if (a.clusterList !== undefined) out["clusterList"] = a.clusterList.map(formatIpv4)
  if (a.extendedCommunities !== undefined) out["extendedCommunities"] = a.extendedCommunities.map(renderExtendedCommunity)
  if (a.largeCommunities !== undefined) out["largeCommunities"] = a.largeCommunities.map((l) => `${l.global}:${l.local1}:${l.local2}`)
  if (a.otc !== undefined) out["otc"] = a.otc
  if (a.unknown !== undefined) {
    out["unknown"] = a.unknown.map((u) => ({
      type: u.type,
      name: attributeName(u.type),
      flags: `0x${u.flags.toString(16).padStart(2, "0")}`,
      flagNames: FLAG_NAMES.filter(([bit]) => (u.flags & bit) !== 0).map(([, n]) => n),
      value: toHex(u.value)
    }))
  }
  return out
}

export const renderCapability = (c: Capability): { [key: string]: Json } => {
  const head = { code: c._tag === "Unknown" ? c.code : CAPABILITY_CODES[c._tag], name: CAPABILITY_NAMES[c._tag] }
  switch (c._tag) {
    case "Multiprotocol":
      return { ...head, ...family(c.afi, c.safi) }
    case "RouteRefresh":
    case "ExtendedMessage":
    case "EnhancedRouteRefresh":
      return head
    case "ExtendedNextHop":
      return {
        ...head,
        entries: c.entries.map((e) => ({ ...family(e.afi, e.safi), nextHopAfi: e.nextHopAfi, nextHop: AFI_NAMES[e.nextHopAfi] ?? `afi-${e.nextHopAfi}` }))
      }
    case "Role":
      return { ...head, role: c.role, roleName: ROLE_NAMES[c.role] ?? "unknown" }
    case "GracefulRestart":
      return {
        ...head,
        restarting: c.restarting,
        notification: c.notification,
        restartTime: c.restartTime,
        families: c.families.map((f) => ({ ...family(f.afi, f.safi), forwarding: f.forwarding }))
      }
    case "FourOctetAs":
      return { ...head, asn: c.asn }
    case "AddPath":
      return { ...head, families: c.families.map((f) => ({ ...family(f.afi, f.safi), mode: ADD_PATH_MODES[f.mode] ?? `mode-${f.mode}` })) }
    case "LongLivedGracefulRestart":
      return { ...head, families: c.families.map((f) => ({ ...family(f.afi, f.safi), forwarding: f.forwarding, staleTime: f.staleTime })) }
    case "Fqdn":
      return { ...head, hostname: c.hostname, domain: c.domain }
    case "Unknown":
      return { ...head, value: toHex(c.value) }
  }
}

const renderMpReach = (r: MpReach, o: RenderOptions): { [key: string]: Json } => ({
  ...family(r.afi, r.safi),
  nextHop: renderNextHop(r.nextHop),
  nlri: prefixes(r.nlri, r.afi, r.safi, o),
  ...(r.rawNlri === undefined ? {} : { rawNlri: toHex(r.rawNlri) })
})

const renderMpUnreach = (u: MpUnreach, o: RenderOptions): { [key: string]: Json } => ({
  ...family(u.afi, u.safi),
  withdrawn: prefixes(u.withdrawn, u.afi, u.safi, o),
  ...(u.rawWithdrawn === undefined ? {} : { rawWithdrawn: toHex(u.rawWithdrawn) })
})

/** A decode error as the NOTIFICATION it calls for (RFC 4271 §6), with the RFC 7606 action. */
export const renderError = (e: BgpError): { [key: string]: Json } => ({
  reason: e.reason,
  code: e.code,
  codeName: errorCodeName(e.code),
  subcode: e.subcode,
  subcodeName: errorSubcodeName(e.code, e.subcode),
  data: toHex(e.data),
  action: e.action,
  detail: e.detail,
  ...(e.attributeType === undefined ? {} : { attributeType: e.attributeType, attribute: attributeName(e.attributeType) }),
  ...(e.afi === undefined || e.safi === undefined ? {} : family(e.afi, e.safi))
})

export const renderNotification = (n: Notification): { [key: string]: Json } => {
  const text = shutdownMessage(n)
  const inner = hardResetInner(n)
  return {
    code: n.code,
    codeName: errorCodeName(n.code),
    subcode: n.subcode,
    subcodeName: errorSubcodeName(n.code, n.subcode),
    data: toHex(n.data),
    // RFC 9003 §2: the shutdown communication of a Cease / Administrative Shutdown or Reset.
    ...(text === undefined ? {} : { shutdownMessage: text }),
    // RFC 8538 §3: a Hard Reset carries the Cease it stands for.
    ...(inner === undefined ? {} : { hardResetOf: { code: inner.code, subcode: inner.subcode, subcodeName: errorSubcodeName(inner.code, inner.subcode) } })
  }
}

const renderUpdate = (u: Update, o: RenderOptions): { [key: string]: Json } => {
  const eor = endOfRib(u)
  return {
    ...(eor === undefined ? {} : { endOfRib: familyName(eor.afi, eor.safi) }),
    withdrawn: prefixes(u.withdrawn, 1, 1, o),
    attributes: renderAttributes(u.attributes),
    ...(u.mpUnreach === undefined ? {} : { mpUnreach: renderMpUnreach(u.mpUnreach, o) }),
    ...(u.mpReach === undefined ? {} : { mpReach: renderMpReach(u.mpReach, o) }),
    nlri: prefixes(u.nlri, 1, 1, o),
    ...(u.errors === undefined ? {} : { errors: u.errors.map(renderError) })
  }
}

/** One message as a plain object, `type` first. */
export const renderMessage = (m: Message, o: RenderOptions = {}): { [key: string]: Json } => {
  const type = MESSAGE_TYPES[m._tag]
  switch (m._tag) {
    case "Open":
      return {
        type,
        version: m.version,
        myAs: m.myAs,
        asn: openAs(m),
        holdTime: m.holdTime,
        bgpId: formatIpv4(m.bgpId),
        capabilities: m.capabilities.map(renderCapability)
      }
    case "Update":
      return { type, ...renderUpdate(m, o) }
    case "Notification":
      return { type, ...renderNotification(m) }
    case "Keepalive":
      return { type }
    case "RouteRefresh":
      return { type, ...family(m.afi, m.safi), subtype: m.subtype, subtypeName: REFRESH_SUBTYPES[m.subtype] ?? `subtype-${m.subtype}` }
  }
}
