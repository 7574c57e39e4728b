/**
 * What the API returns: neighbors, routes and explanations as plain JSON (addresses and communities as
 * text, times in seconds), the shapes `starling show` renders as tables.
 */
import { Afi, formatIpv4, formatIpv6, formatPrefix, hardResetInner } from "@starling/codec"
import type { Notification, Prefix } from "@starling/codec"
import type { Explanation, RouteAttributes } from "@starling/rib"
import { formatAsPath } from "@starling/rib"
import type { DownReason } from "@starling/session"
import type { NeighborStatus, RouteInfo } from "@starling/speaker"

export interface NeighborView {
  readonly address: string
  readonly name: string
  readonly peerAs: number
  readonly state: string
  /** Seconds Established, or undefined while down. */
  readonly uptime?: number
  /** When the session came up (ISO 8601). */
  readonly establishedAt?: string
  readonly routesReceived: number
  readonly routesAdvertised: number
  readonly updatesReceived: number
  readonly updatesSent: number
  readonly dynamicRange?: string
  readonly lastDown?: string
  /** Families whose End-of-RIB the neighbor has sent in this session ("ipv4-unicast"). */
  readonly endOfRib: ReadonlyArray<string>
  readonly negotiated?: {
    readonly peerId: string
    readonly holdTime: number
    readonly keepaliveTime: number
    readonly families: ReadonlyArray<string>
    readonly routeRefresh: boolean
    readonly enhancedRouteRefresh: boolean
    readonly extendedMessage: boolean
    readonly gracefulRestart: boolean
    readonly addPathReceive: ReadonlyArray<string>
    readonly addPathSend: ReadonlyArray<string>
  }
}

export interface RouteView {
  readonly prefix: string
  readonly nextHop: string | null
  /** The neighbor the best path came from, or "local". */
  readonly source: string
  readonly pathId: number
  readonly origin: string
  readonly asPath: string
  readonly localPref?: number
  readonly med?: number
  readonly communities: ReadonlyArray<string>
  readonly largeCommunities: ReadonlyArray<string>
  readonly originatorId?: string
  readonly clusterList?: ReadonlyArray<string>
  /** Paths in the multipath set. */
  readonly multipath: number
}

export interface ExplainView {
  readonly prefix: string
  readonly paths: ReadonlyArray<{
    readonly source: string
    readonly pathId: number
    readonly best: boolean
    readonly multipath: boolean
    readonly stale: boolean
    readonly lostAt?: string
    readonly lostTo?: string
    readonly nextHop: string | null
    readonly origin: string
    readonly asPath: string
    readonly localPref?: number
    readonly med?: number
    readonly communities: ReadonlyArray<string>
    readonly originatorId?: string
    readonly clusterList?: ReadonlyArray<string>
  }>
}

const familyText = (f: { readonly afi: number; readonly safi: number }): string =>
  `${f.afi === Afi.IPV4 ? "ipv4" : f.afi === Afi.IPV6 ? "ipv6" : `afi${f.afi}`}-${f.safi === 1 ? "unicast" : `safi${f.safi}`}`

/** "6/2", or "6/9 (6/2)" for a Hard Reset carrying a Cease (RFC 8538 §3). */
const codes = (n: Notification): string => {
  const inner = hardResetInner(n)
  return `${n.code}/${n.subcode}${inner === undefined ? "" : ` (${inner.code}/${inner.subcode})`}`
}

export const downText = (r: DownReason): string => {
  switch (r._tag) {
    case "AdminStop":
      return r.message === undefined ? "administrative stop" : `administrative stop: ${r.message}`
    case "AutomaticStop":
      return `automatic stop (Cease subcode ${r.subcode})${r.message === undefined ? "" : `: ${r.message}`}`
    case "NotificationReceived":
      return `NOTIFICATION received ${codes(r.notification)}${r.message === undefined ? "" : `: ${r.message}`}`
    case "NotificationSent":
      return `NOTIFICATION sent ${codes(r.notification)}`
    case "OpenRejected":
      return `OPEN rejected: ${r.error.message}`
    default:
      return r._tag
  }
}

export const neighborView = (n: NeighborStatus, now = Date.now()): NeighborView => {
  const g = n.negotiated
  return {
    address: n.address,
    name: n.name,
    peerAs: n.peerAs,
    state: n.state,
    ...(n.establishedAt === undefined ? {} : { uptime: Math.max(0, Math.round((now - n.establishedAt) / 1000)), establishedAt: new Date(n.establishedAt).toISOString() }),
    routesReceived: n.routesReceived,
    routesAdvertised: n.routesAdvertised,
    updatesReceived: n.updatesReceived,
    updatesSent: n.updatesSent,
    ...(n.dynamicRange === undefined ? {} : { dynamicRange: n.dynamicRange }),
    ...(n.lastDown === undefined ? {} : { lastDown: downText(n.lastDown) }),
    endOfRib: n.endOfRib.map(familyText),
    ...(g === undefined ? {} : {
      negotiated: {
        peerId: formatIpv4(g.peerId),
        holdTime: g.holdTime,
        keepaliveTime: g.keepaliveTime,
        families: g.families.map(familyText),
        routeRefresh: g.routeRefresh,
        enhancedRouteRefresh: g.enhancedRouteRefresh,
        extendedMessage: g.extendedMessage,
        gracefulRestart: g.gracefulRestart !== undefined,
        addPathReceive: g.addPathReceive.map(familyText),
        addPathSend: g.addPathSend.map(familyText)
      }
    })
  }
}

const ORIGINS = ["igp", "egp", "incomplete"]

export const communityText = (c: number): string => `${c >>> 16}:${c & 0xffff}`

const nextHopText = (a: RouteAttributes): string | null => {
  const m = a.mpNextHop
  if (m !== undefined && m.length >= 16) return formatIpv6(m)
  if (m !== undefined && m.length === 4) return formatIpv4(((m[0]! << 24) | (m[1]! << 16) | (m[2]! << 8) | m[3]!) >>> 0)
  return a.nextHop === undefined ? null : formatIpv4(a.nextHop)
}

const attrView = (a: RouteAttributes) => ({
  nextHop: nextHopText(a),
  origin: ORIGINS[a.origin ?? 2] ?? String(a.origin),
  asPath: formatAsPath(a),
  ...(a.localPref === undefined ? {} : { localPref: a.localPref }),
  ...(a.med === undefined ? {} : { med: a.med }),
  communities: (a.communities ?? []).map(communityText),
  ...(a.originatorId === undefined ? {} : { originatorId: formatIpv4(a.originatorId) }),
  ...(a.clusterList === undefined ? {} : { clusterList: a.clusterList.map(formatIpv4) })
})

export const routeView = (r: { readonly prefix: Prefix; readonly best: RouteInfo; readonly multipath: ReadonlyArray<RouteInfo> }): RouteView => {
  const a = r.best.attributes
  const v = attrView(a)
  return {
    prefix: formatPrefix(r.prefix),
    nextHop: v.nextHop,
    source: r.best.local ? "local" : r.best.source,
    pathId: r.best.pathId,
    origin: v.origin,
    asPath: v.asPath,
    ...(v.localPref === undefined ? {} : { localPref: v.localPref }),
    ...(v.med === undefined ? {} : { med: v.med }),
    communities: v.communities,
    largeCommunities: (a.largeCommunities ?? []).map((l) => `${l.global}:${l.local1}:${l.local2}`),
    ...(v.originatorId === undefined ? {} : { originatorId: v.originatorId }),
    ...(v.clusterList === undefined ? {} : { clusterList: v.clusterList }),
    multipath: r.multipath.length
  }
}

export const explainView = (e: Explanation): ExplainView => ({
  prefix: e.prefix,
  paths: e.paths.map((p) => ({
    source: p.source,
    pathId: p.pathId,
    best: p.best,
    multipath: p.multipath,
    stale: p.stale,
    ...(p.lostAt === undefined ? {} : { lostAt: p.lostAt }),
    ...(p.lostTo === undefined ? {} : { lostTo: p.lostTo }),
    ...attrView(p.attributes)
  }))
})
