/**
 * A peer's session settings: what the FSM and capability negotiation need (RFC 4271 §8.1.1 session
 * attributes, plus the capabilities we advertise). Plain data with defaults; the daemon's config file
 * schema (later) decodes into this.
 */
import { Afi, Safi } from "@starling/codec"

export interface FamilyConfig {
  readonly afi: number
  readonly safi: number
}

export interface AddPathConfig extends FamilyConfig {
  /** RFC 7911: receive path identifiers from the peer, send them, or both. */
  readonly receive: boolean
  readonly send: boolean
}

export interface GracefulRestartConfig {
  /** RFC 4724 §3 Restart Time we advertise, seconds (≤ 4095). */
  readonly restartTime: number
  /** Set the Restart State bit (we are restarting). */
  readonly restarting?: boolean
  /** RFC 8538: graceful restart also for NOTIFICATIONs (N bit). */
  readonly notification?: boolean
  /** Families whose forwarding state we preserve (F bit); defaults to none. */
  readonly forwarding?: ReadonlyArray<FamilyConfig>
}

export interface LongLivedGracefulRestartConfig {
  /** RFC 9494 Long-Lived Stale Time, seconds (≤ 16777215). */
  readonly staleTime: number
}

export interface RoleConfig {
  /** RFC 9234 role we advertise (constants `Role`). */
  readonly role: number
  /** Strict mode: refuse a peer that does not advertise a role (§4.2). */
  readonly strict?: boolean
}

export interface PeerConfig {
  readonly localAs: number
  /** Expected peer AS; undefined accepts any (dynamic neighbors decide later). */
  readonly peerAs?: number
  /** Our BGP Identifier (RFC 6286: any non-zero 32-bit value), as an unsigned number. */
  readonly localId: number
  /** Hold time we offer, seconds: 0 or ≥ 3 (RFC 4271 §4.2). Default 90. */
  readonly holdTime?: number
  /** Keepalive interval we aim for; the negotiated value is min(this, hold/3). Default hold/3. */
  readonly keepaliveTime?: number
  /** Smallest non-zero hold time we accept from the peer (RFC 4271 §10 allows refusing). Default 3. */
  readonly minHoldTime?: number
  /** ConnectRetryTime, seconds. Default 120 (RFC 4271 §10); tests and Kubernetes deployments use less. */
  readonly connectRetryTime?: number
  /** Never initiate TCP: wait for the peer (RFC 4271 §8.1.1 PassiveTcpEstablishment). */
  readonly passive?: boolean
  /** DelayOpen: wait this many seconds for the peer's OPEN before sending ours (0/undefined = off). */
  readonly delayOpenTime?: number
  /** IdleHoldTime after a session error: first value and cap, doubled per consecutive failure. Default 5 / 120 s. */
  readonly idleHoldTime?: { readonly initial: number; readonly max: number }
  /** How long a session must stay Established before the IdleHoldTime resets. Default 60 s. */
  readonly stableTime?: number
  /** RFC 9687 SendHoldTime: seconds without send progress before we give up. Default max(480, 2 × hold). */
  readonly sendHoldTime?: number
  /** RFC 4271 §6.8: resolve collisions against an Established session by identifier too. Default false. */
  readonly collisionDetectEstablished?: boolean
  /** Families to negotiate (RFC 4760). Default IPv4 and IPv6 unicast. */
  readonly families?: ReadonlyArray<FamilyConfig>
  readonly addPath?: ReadonlyArray<AddPathConfig>
  readonly gracefulRestart?: GracefulRestartConfig
  readonly longLivedGracefulRestart?: LongLivedGracefulRestartConfig
  readonly role?: RoleConfig
  /** Advertise RFC 8654 extended messages. Default true. */
  readonly extendedMessage?: boolean
  /** Advertise route refresh (RFC 2918) and enhanced route refresh (RFC 7313). Default true. */
  readonly routeRefresh?: boolean
  readonly enhancedRouteRefresh?: boolean
  /** RFC 8950: IPv4 unicast NLRI with IPv6 next hops. Default false. */
  readonly extendedNextHop?: boolean
  /** Hostname capability (FQDN); omitted when undefined. */
  readonly hostname?: string
  /**
   * Capabilities the peer must advertise (RFC 5492 §5): refused with Unsupported Capability otherwise.
   * Names: "FourOctetAs", "RouteRefresh", "ExtendedMessage", "GracefulRestart", "AddPath", or "mp:<afi>/<safi>".
   */
  readonly requiredCapabilities?: ReadonlyArray<string>
}

export const defaultFamilies: ReadonlyArray<FamilyConfig> = [
  { afi: Afi.IPV4, safi: Safi.UNICAST },
  { afi: Afi.IPV6, safi: Safi.UNICAST }
]

/** RFC 4271 §8.2.2: the hold timer while waiting for OPEN ("a large value", 4 minutes suggested). */
export const OPEN_HOLD_TIME = 240

export const settings = (c: PeerConfig) => {
  const holdTime = c.holdTime ?? 90
  return {
    holdTime,
    keepaliveTime: c.keepaliveTime ?? Math.floor(holdTime / 3),
    minHoldTime: c.minHoldTime ?? 3,
    connectRetryTime: c.connectRetryTime ?? 120,
    passive: c.passive ?? false,
    delayOpenTime: c.delayOpenTime ?? 0,
    idleHoldInitial: c.idleHoldTime?.initial ?? 5,
    idleHoldMax: c.idleHoldTime?.max ?? 120,
    stableTime: c.stableTime ?? 60,
    sendHoldTime: c.sendHoldTime ?? Math.max(480, 2 * holdTime),
    collisionDetectEstablished: c.collisionDetectEstablished ?? false,
    families: c.families ?? defaultFamilies
  }
}
export type Settings = ReturnType<typeof settings>
