/**
 * Speaker and neighbor configuration as the library takes it (plain data; the daemon's config file
 * decodes into this). Timers are in seconds.
 */
import type { AddPathConfig, FamilyConfig, RoleConfig } from "@starling/session"
import type { DecisionOptions, Policy } from "@starling/rib"
import type { Transport } from "@starling/session"

export interface MaxPrefixConfig {
  /** Routes accepted from the neighbor (after import policy) before the action fires. */
  readonly limit: number
  /**
   * "warn": log only; "reset": Cease/Maximum Number of Prefixes Reached (RFC 4486) and reconnect after the
   * idle hold time; "stop": the same NOTIFICATION, then the neighbor stays down until re-enabled.
   */
  readonly action: "warn" | "reset" | "stop"
}

export interface NeighborConfig {
  readonly address: string
  readonly port?: number
  readonly peerAs: number
  readonly localAddress?: string
  readonly localPort?: number
  readonly name?: string
  readonly passive?: boolean
  readonly holdTime?: number
  readonly keepaliveTime?: number
  readonly connectRetryTime?: number
  readonly delayOpenTime?: number
  readonly idleHoldTime?: { readonly initial: number; readonly max: number }
  readonly families?: ReadonlyArray<FamilyConfig>
  readonly addPath?: ReadonlyArray<AddPathConfig>
  /** With ADD-PATH send negotiated: how many paths per prefix to advertise (default: all). */
  readonly addPathSendMax?: number
  /** RFC 4724: advertise graceful restart and act as helper for the neighbor. */
  readonly gracefulRestart?: {
    readonly restartTime: number
    readonly notification?: boolean
    /** After the peer is back, how long its routes may stay stale without End-of-RIB (default 360 s). */
    readonly staleTime?: number
  }
  readonly role?: RoleConfig
  readonly nextHopSelf?: boolean
  /** IPv6 next hop for IPv6 routes we send (needed when the session runs over IPv4). */
  readonly nextHopV6?: string
  readonly maxPrefix?: MaxPrefixConfig
  /** Accept paths that already contain our AS up to this many times (RFC 4271 §9.1.2 loop check relaxed). */
  readonly allowAsIn?: number
  /** Import / export policy, by name (from `SpeakerConfig.policies`) or as a function. */
  readonly importPolicy?: string | Policy
  readonly exportPolicy?: string | Policy
  /** Route-reflector client (RFC 4456), used by @starling/reflector. */
  readonly routeReflectorClient?: boolean
  /** Start the session right away (default true). */
  readonly enabled?: boolean
}

export interface SpeakerConfig {
  readonly localAs: number
  /** BGP Identifier, dotted quad. */
  readonly routerId: string
  /** Addresses to accept connections on; empty for none (active only). */
  readonly listen?: ReadonlyArray<{ readonly address: string; readonly port?: number }>
  readonly neighbors?: ReadonlyArray<NeighborConfig>
  readonly policies?: Readonly<Record<string, Policy>>
  readonly decision?: DecisionOptions
  /** RFC 8212: eBGP neighbors without a policy exchange nothing. Default true. */
  readonly ebgpRequiresPolicy?: boolean
  /** Minimum time between UPDATE batches to a group, ms (MinRouteAdvertisementInterval). Default 0. */
  readonly advertisementIntervalMs?: number
  /** Keep pre-policy routes for soft reconfiguration. */
  readonly retainPrePolicy?: boolean
  /** Route reflection: the cluster id (default: router id). */
  readonly clusterId?: string
  /** Transport (default TCP). */
  readonly transport?: Transport
  /** Queued UPDATE batches per neighbor before it is reset with Cease/Out of Resources. Default 100000. */
  readonly maxQueuedBatches?: number
}
