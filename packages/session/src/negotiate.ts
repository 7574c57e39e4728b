/**
 * The OPEN exchange: what we advertise (RFC 5492), how we judge the peer's OPEN (RFC 4271 §6.2, RFC 6286,
 * RFC 6793, RFC 9234) and what both OPENs together negotiate — including the `CodecContext` for each
 * direction.
 */
import type { BgpError, Capability, CodecContext, Open } from "@starling/codec"
import {
  AS_TRANS,
  AddPathMode,
  Afi,
  bgpError,
  CapabilityCode,
  encodeCapability,
  familyKey,
  myAsField,
  openAs,
  Role,
  Safi,
  Writer
} from "@starling/codec"
import type { FamilyConfig, PeerConfig } from "./config.ts"
import { settings } from "./config.ts"

export interface Family {
  readonly afi: number
  readonly safi: number
}

export interface GracefulRestartInfo {
  readonly restartTime: number
  readonly restarting: boolean
  /** The N bit was exchanged: set by both sides (RFC 8538 §2). */
  readonly notification: boolean
  readonly families: ReadonlyArray<{ readonly afi: number; readonly safi: number; readonly forwarding: boolean }>
}

/** The result of a successful OPEN exchange. */
export interface Negotiated {
  readonly peerAs: number
  readonly peerId: number
  /** 0 means no hold timer and no keepalives (RFC 4271 §4.2). */
  readonly holdTime: number
  readonly keepaliveTime: number
  readonly as4: boolean
  readonly extendedMessage: boolean
  readonly routeRefresh: boolean
  readonly enhancedRouteRefresh: boolean
  /** Families both sides advertised (RFC 4760 §8; IPv4 unicast when the peer sent no multiprotocol capability). */
  readonly families: ReadonlyArray<Family>
  /** ADD-PATH (RFC 7911 §5): families where we receive path ids, and where we send them. */
  readonly addPathReceive: ReadonlyArray<Family>
  readonly addPathSend: ReadonlyArray<Family>
  /** RFC 8950: (afi, safi, next-hop afi) triples both sides advertised. */
  readonly extendedNextHop: ReadonlyArray<{ readonly afi: number; readonly safi: number; readonly nextHopAfi: number }>
  /** The peer's graceful restart capability (RFC 4724), when it sent one and we advertise one too. */
  readonly gracefulRestart?: GracefulRestartInfo
  /** The peer's LLGR capability (RFC 9494), when both advertise it. */
  readonly longLivedGracefulRestart?: ReadonlyArray<{ readonly afi: number; readonly safi: number; readonly staleTime: number; readonly forwarding: boolean }>
  readonly peerRole?: number
  readonly peerHostname?: string
  /** How to decode what the peer sends. */
  readonly rx: CodecContext
  /** How to encode what we send. */
  readonly tx: CodecContext
}

/** The capabilities our OPEN carries for this configuration. */
export const localCapabilities = (cfg: PeerConfig): Capability[] => {
  const s = settings(cfg)
  const caps: Capability[] = []
  for (const f of s.families) caps.push({ _tag: "Multiprotocol", afi: f.afi, safi: f.safi })
  if (cfg.routeRefresh ?? true) caps.push({ _tag: "RouteRefresh" })
  if (cfg.extendedNextHop === true) {
    caps.push({ _tag: "ExtendedNextHop", entries: [{ afi: Afi.IPV4, safi: Safi.UNICAST, nextHopAfi: Afi.IPV6 }] })
  }
  if (cfg.extendedMessage ?? true) caps.push({ _tag: "ExtendedMessage" })
  if (cfg.role !== undefined) caps.push({ _tag: "Role", role: cfg.role.role })
  if (cfg.gracefulRestart !== undefined) {
    const gr = cfg.gracefulRestart
    const fwd = gr.forwarding ?? []
    caps.push({
      _tag: "GracefulRestart",
      restarting: gr.restarting ?? false,
      notification: gr.notification ?? false,
      restartTime: gr.restartTime,
      families: s.families.map((f) => ({
        afi: f.afi,
        safi: f.safi,
        forwarding: fwd.some((x) => x.afi === f.afi && x.safi === f.safi)
      }))
    })
  }
  caps.push({ _tag: "FourOctetAs", asn: cfg.localAs })
  if (cfg.addPath !== undefined && cfg.addPath.length > 0) {
    caps.push({
      _tag: "AddPath",
      families: cfg.addPath
        .filter((a) => a.send || a.receive)
        .map((a) => ({
          afi: a.afi,
          safi: a.safi,
          mode: (a.receive ? AddPathMode.RECEIVE : 0) | (a.send ? AddPathMode.SEND : 0)
        }))
    })
  }
  if (cfg.enhancedRouteRefresh ?? true) caps.push({ _tag: "EnhancedRouteRefresh" })
  if (cfg.longLivedGracefulRestart !== undefined) {
    caps.push({
      _tag: "LongLivedGracefulRestart",
      families: s.families.map((f) => ({ afi: f.afi, safi: f.safi, forwarding: false, staleTime: cfg.longLivedGracefulRestart!.staleTime }))
    })
  }
  if (cfg.hostname !== undefined) caps.push({ _tag: "Fqdn", hostname: cfg.hostname, domain: "" })
  return caps
}

/** Our OPEN message. */
export const localOpen = (cfg: PeerConfig): Open => ({
  _tag: "Open",
  version: 4,
  myAs: myAsField(cfg.localAs),
  holdTime: settings(cfg).holdTime,
  bgpId: cfg.localId,
  capabilities: localCapabilities(cfg)
})

const has = <T extends Capability["_tag"]>(caps: ReadonlyArray<Capability>, tag: T) =>
  caps.find((c): c is Extract<Capability, { _tag: T }> => c._tag === tag)

/** RFC 9234 §4.2: the role pairs that may peer. */
const rolesMatch = (local: number, remote: number): boolean =>
  (local === Role.PROVIDER && remote === Role.CUSTOMER) ||
  (local === Role.CUSTOMER && remote === Role.PROVIDER) ||
  (local === Role.RS && remote === Role.RS_CLIENT) ||
  (local === Role.RS_CLIENT && remote === Role.RS) ||
  (local === Role.PEER && remote === Role.PEER)

const capabilityBytes = (caps: ReadonlyArray<Capability>): Uint8Array => {
  const w = new Writer(64)
  for (const c of caps) encodeCapability(w, c)
  return w.copy()
}

/** A required capability missing from the peer's OPEN, as the capability we wanted to see. */
const missingRequired = (name: string, remote: ReadonlyArray<Capability>, cfg: PeerConfig): Capability | undefined => {
  const mp = /^mp:(\d+)\/(\d+)$/.exec(name)
  if (mp !== null) {
    const afi = Number(mp[1])
    const safi = Number(mp[2])
    const present = remote.some((c) => c._tag === "Multiprotocol" && c.afi === afi && c.safi === safi)
    return present ? undefined : { _tag: "Multiprotocol", afi, safi }
  }
  const local = localCapabilities(cfg).find((c) => c._tag === name)
  if (remote.some((c) => c._tag === name)) return undefined
  if (local !== undefined) return local
  // Required but not advertised by us: name it by its code alone (there is no value of ours to echo).
  const code = requiredCodes[name]
  return code === undefined ? undefined : { _tag: "Unknown", code, value: new Uint8Array(0) }
}

const requiredCodes: Readonly<Record<string, number>> = {
  FourOctetAs: CapabilityCode.FOUR_OCTET_AS,
  RouteRefresh: CapabilityCode.ROUTE_REFRESH,
  ExtendedMessage: CapabilityCode.EXTENDED_MESSAGE,
  GracefulRestart: CapabilityCode.GRACEFUL_RESTART,
  AddPath: CapabilityCode.ADD_PATH
}

const inBoth = (a: ReadonlyArray<FamilyConfig>, b: ReadonlyArray<FamilyConfig>): Family[] =>
  a.filter((x) => b.some((y) => y.afi === x.afi && y.safi === x.safi)).map((x) => ({ afi: x.afi, safi: x.safi }))

/**
 * Judges the peer's OPEN against our configuration and negotiates the session. A failure is the
 * OPEN Message Error to send (RFC 4271 §6.2), with its data.
 */
export const negotiate = (cfg: PeerConfig, remote: Open): { readonly ok: true; readonly value: Negotiated } | { readonly ok: false; readonly error: BgpError } => {
  const s = settings(cfg)
  const fail = (error: BgpError) => ({ ok: false as const, error })
  // §6.2: version — data is the largest version we support.
  if (remote.version !== 4) return fail(bgpError("UnsupportedVersion", `version ${remote.version}`, { data: Uint8Array.of(0, 4) }))
  const caps = remote.capabilities
  const four = has(caps, "FourOctetAs")
  const peerAs = openAs(remote)
  // RFC 6793 §4.2: AS_TRANS in My AS without the capability is an error (no real AS to learn).
  if (four === undefined && remote.myAs === AS_TRANS) return fail(bgpError("BadPeerAs", "AS_TRANS without the 4-octet AS capability"))
  if (cfg.peerAs !== undefined && peerAs !== cfg.peerAs) {
    return fail(bgpError("BadPeerAs", `peer AS ${peerAs}, expected ${cfg.peerAs}`, { data: Uint8Array.of(remote.myAs >> 8, remote.myAs & 0xff) }))
  }
  // RFC 6286 §2.2: a zero identifier is invalid; between internal peers the identifiers must differ.
  if (remote.bgpId === 0) return fail(bgpError("BadBgpIdentifier", "BGP Identifier 0"))
  if (peerAs === cfg.localAs && remote.bgpId === cfg.localId) {
    return fail(bgpError("BadBgpIdentifier", "internal peer has our BGP Identifier"))
  }
  // §6.2: hold time 1 or 2 is unacceptable; we may also refuse values below our minimum.
  if (remote.holdTime !== 0 && (remote.holdTime < 3 || remote.holdTime < s.minHoldTime)) {
    return fail(bgpError("UnacceptableHoldTime", `hold time ${remote.holdTime}`))
  }
  // RFC 9234 §4.2: role check. Several Role capabilities that disagree are a mismatch in any case.
  const role = has(caps, "Role")
  if (caps.some((c) => c._tag === "Role" && c.role !== role?.role)) {
    return fail(bgpError("RoleMismatch", "conflicting BGP roles in one OPEN"))
  }
  if (cfg.role !== undefined) {
    if (role === undefined && cfg.role.strict === true) {
      return fail(bgpError("RoleMismatch", "peer advertises no BGP role (strict mode)"))
    }
    if (role !== undefined && !rolesMatch(cfg.role.role, role.role)) {
      return fail(bgpError("RoleMismatch", `roles ${cfg.role.role} and ${role.role} do not match`))
    }
  }
  // RFC 5492 §5: required capabilities missing -> Unsupported Capability with the capabilities as data.
  const missing = (cfg.requiredCapabilities ?? [])
    .map((n) => missingRequired(n, caps, cfg))
    .filter((c): c is Capability => c !== undefined)
  if (missing.length > 0) {
    return fail(bgpError("UnsupportedCapability", `missing ${missing.map((c) => (c._tag === "Unknown" ? `capability ${c.code}` : c._tag)).join(", ")}`, { data: capabilityBytes(missing) }))
  }

  const holdTime = Math.min(s.holdTime, remote.holdTime)
  const keepaliveTime = holdTime === 0 ? 0 : Math.max(1, Math.min(s.keepaliveTime, Math.floor(holdTime / 3)))
  const mp = caps.filter((c): c is Extract<Capability, { _tag: "Multiprotocol" }> => c._tag === "Multiprotocol")
  // RFC 4760 §8 and common practice: no multiprotocol capability at all means IPv4 unicast.
  const remoteFamilies = mp.length > 0 ? mp : [{ afi: Afi.IPV4, safi: Safi.UNICAST }]
  const families = inBoth(s.families, remoteFamilies)
  const remoteAddPath = has(caps, "AddPath")?.families ?? []
  const localAddPath = cfg.addPath ?? []
  const addPathReceive: Family[] = []
  const addPathSend: Family[] = []
  for (const f of families) {
    const l = localAddPath.find((a) => a.afi === f.afi && a.safi === f.safi)
    const r = remoteAddPath.find((a) => a.afi === f.afi && a.safi === f.safi)
    if (l === undefined || r === undefined) continue
    if (l.receive && (r.mode & AddPathMode.SEND) !== 0) addPathReceive.push(f)
    if (l.send && (r.mode & AddPathMode.RECEIVE) !== 0) addPathSend.push(f)
  }
  const localCaps = localCapabilities(cfg)
  const both = (tag: Capability["_tag"]) => localCaps.some((c) => c._tag === tag) && caps.some((c) => c._tag === tag)
  const as4 = four !== undefined
  const extendedMessage = both("ExtendedMessage")
  const remoteEnh = has(caps, "ExtendedNextHop")?.entries ?? []
  const localEnh = has(localCaps, "ExtendedNextHop")?.entries ?? []
  const extendedNextHop = localEnh.filter((x) => remoteEnh.some((y) => y.afi === x.afi && y.safi === x.safi && y.nextHopAfi === x.nextHopAfi))
  const gr = has(caps, "GracefulRestart")
  const llgr = has(caps, "LongLivedGracefulRestart")
  const fqdn = has(caps, "Fqdn")
  const internal = peerAs === cfg.localAs
  const rx: CodecContext = {
    as4,
    extendedMessage,
    addPath: new Set(addPathReceive.map((f) => familyKey(f.afi, f.safi))),
    internal
  }
  const tx: CodecContext = {
    as4,
    extendedMessage,
    addPath: new Set(addPathSend.map((f) => familyKey(f.afi, f.safi))),
    internal
  }
  return {
    ok: true,
    value: {
      peerAs,
      peerId: remote.bgpId,
      holdTime,
      keepaliveTime,
      as4,
      extendedMessage,
      routeRefresh: both("RouteRefresh"),
      enhancedRouteRefresh: both("EnhancedRouteRefresh"),
      families,
      addPathReceive,
      addPathSend,
      extendedNextHop,
      ...(gr !== undefined && cfg.gracefulRestart !== undefined
        ? {
          gracefulRestart: {
            restartTime: gr.restartTime,
            restarting: gr.restarting,
            // RFC 8538 §2: the NOTIFICATION procedures apply only when both sides set the N bit.
            notification: gr.notification && (cfg.gracefulRestart.notification ?? false),
            families: gr.families
          }
        }
        : {}),
      ...(llgr !== undefined && cfg.longLivedGracefulRestart !== undefined ? { longLivedGracefulRestart: llgr.families } : {}),
      ...(role !== undefined ? { peerRole: role.role } : {}),
      ...(fqdn !== undefined ? { peerHostname: fqdn.hostname } : {}),
      rx,
      tx
    }
  }
}
