/**
 * Route reflection (RFC 4456) as hooks into the speaker: the loop checks on import (§8) and the
 * reflection rules on export (§6). Attribute handling on the way out (ORIGINATOR_ID set when absent, our
 * CLUSTER_ID prepended to CLUSTER_LIST) lives in the update group, which applies it whenever a group
 * carries a `ReflectionSpec`; next hop and other attributes stay as they are unless policy says so.
 */
import { parseIpv4 } from "@starling/codec"
import type { Path, RouteAttributes } from "@starling/rib"
import type { NeighborConfig, ReflectionHooks } from "@starling/speaker"

export interface ReflectorOptions {
  /** Our BGP Identifier as a u32. */
  readonly routerId: number
  /** CLUSTER_ID (default: the router id, RFC 4456 §7). */
  readonly clusterId?: number
}

/**
 * §8: a route whose ORIGINATOR_ID is our router id, or whose CLUSTER_LIST holds our cluster id, came back
 * to us: ignore it.
 */
export const reflectionLoop = (attrs: RouteAttributes, routerId: number, clusterId: number): boolean =>
  attrs.originatorId === routerId || (attrs.clusterList?.includes(clusterId) ?? false)

/**
 * §6: which iBGP-learned paths a group reflects. To clients: routes from clients and from non-clients.
 * To non-clients: routes from clients only (non-client to non-client is plain iBGP: not re-advertised).
 * eBGP-learned and local routes go to every iBGP peer anyway (the group's ordinary rules).
 */
export const reflectionHooks = (options: ReflectorOptions): ReflectionHooks => {
  const clusterId = options.clusterId ?? options.routerId
  return {
    rejectImport: (_nb: NeighborConfig, attrs: RouteAttributes) => reflectionLoop(attrs, options.routerId, clusterId),
    groupReflection: (nb, routerId, isClient) => ({
      client: nb.routeReflectorClient === true,
      clusterId,
      routerId,
      reflects: nb.routeReflectorClient === true ? () => true : (path: Path) => isClient(path.source.id)
    })
  }
}

export const parseClusterId = (s: string | undefined, routerId: number): number | undefined =>
  s === undefined ? routerId : parseIpv4(s)
