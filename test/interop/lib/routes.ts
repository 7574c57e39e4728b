/**
 * What each real router holds for one prefix, read from its own CLI / JSON and reduced to one shape: the
 * next hop, the route-reflection attributes (ORIGINATOR_ID, CLUSTER_LIST, RFC 4456) and the neighbor the
 * route came from. One entry per path the router keeps (several with ADD-PATH or several sessions).
 *
 * Sources: BIRD `show route all for P`, FRR `show bgp <afi> unicast P json`, GoBGP `global rib -a <afi> P -j`,
 * OpenBGPD `bgpctl -j show rib detail P` (formats: /work/shared/notes/real-routers.md, and checked here);
 * and for an in-process Starling speaker its Loc-RIB best path.
 */
import { formatIpv4, formatPrefix } from "@starling/codec"
import type { Explanation } from "@starling/rib"
import type { Bird } from "./bird.ts"
import { parseShowRouteAll } from "./bird.ts"
import type { Frr } from "./frr.ts"
import type { Gobgp } from "./gobgp.ts"
import type { Openbgpd } from "./openbgpd.ts"
import { waitFor } from "./process.ts"
import type { RunningSpeaker } from "./speaker.ts"

export interface RouteView {
  readonly prefix: string
  readonly nextHop: string
  readonly originatorId?: string
  readonly clusterList?: ReadonlyArray<string>
  /** Address of the neighbor the path came from. */
  readonly from?: string
}

/** A router whose received routes a test can read. */
export interface RouteSource {
  readonly name: string
  readonly routes: (prefix: string) => Promise<RouteView[]>
}

const v6 = (prefix: string) => prefix.includes(":")
const opt = <K extends string, V>(k: K, v: V | undefined) => (v === undefined ? {} : ({ [k]: v } as { [P in K]: V }))

export const birdRoutes = (bird: Bird): RouteSource => ({
  name: `BIRD ${bird.spec.name}`,
  routes: async (prefix) => {
    let out: string
    try {
      out = await bird.birdc("show", "route", "all", "for", prefix)
    } catch (e) {
      // birdc exits 1 with "Network not found" when nothing covers the prefix.
      if (e instanceof Error && e.message.includes("Network not found")) return []
      throw e
    }
    // `for` gives the longest match: keep the exact net only.
    return parseShowRouteAll(out).filter((r) => r.prefix === prefix).map((r): RouteView => {
      const a = r.attributes
      const cluster = a["BGP.cluster_list"]
      return {
        prefix,
        nextHop: a["BGP.next_hop"] ?? "",
        ...opt("originatorId", a["BGP.originator_id"]),
        ...opt("clusterList", cluster === undefined ? undefined : cluster.split(/\s+/).filter((x) => x !== "")),
        // "unreachable [proto 19:51:26.664 from 127.66.6.1] * (100) [i]"
        ...opt("from", /\bfrom (\S+)\]/.exec(r.summary)?.[1])
      }
    })
  }
})

export const frrRoutes = (frr: Frr): RouteSource => ({
  name: `FRR ${frr.spec.name}`,
  routes: async (prefix) => {
    const j = await frr.json<{ prefix?: string; paths?: any[] }>(`show bgp ${v6(prefix) ? "ipv6" : "ipv4"} unicast ${prefix} json`)
    if (j.prefix !== prefix) return []
    return (j.paths ?? []).map((p): RouteView => {
      const hops: any[] = p.nexthops ?? []
      const hop = hops.find((h) => h.scope === undefined || h.scope === "global") ?? hops[0]
      return {
        prefix,
        nextHop: String(hop?.ip ?? ""),
        ...opt("originatorId", p.originatorId as string | undefined),
        ...opt("clusterList", p.clusterList?.list as string[] | undefined),
        ...opt("from", p.peer?.peerId as string | undefined)
      }
    })
  }
})

export const gobgpRoutes = (g: Gobgp): RouteSource => ({
  name: `GoBGP ${g.name}`,
  routes: async (prefix) => {
    const out = await g.cli(["global", "rib", "-a", v6(prefix) ? "ipv6" : "ipv4", prefix, "-j"])
    const j = out.trim() === "" ? {} : (JSON.parse(out) as Record<string, any[]>)
    return (j[prefix] ?? []).map((p): RouteView => {
      const attrs: any[] = p.attrs ?? []
      const byType = (t: number) => attrs.find((a) => a.type === t)
      return {
        prefix,
        nextHop: String(byType(3)?.nexthop ?? byType(14)?.nexthop ?? ""),
        ...opt("originatorId", byType(9)?.value as string | undefined),
        ...opt("clusterList", byType(10)?.value as string[] | undefined),
        ...opt("from", p["neighbor-ip"] as string | undefined)
      }
    })
  }
})

export const openbgpdRoutes = (o: Openbgpd): RouteSource => ({
  name: `OpenBGPD ${o.name}`,
  routes: async (prefix) => {
    const out = await o.bgpctl(["-j", "show", "rib", "detail", prefix])
    const j = out.trim() === "" ? {} : (JSON.parse(out) as { rib?: any[] })
    return (j.rib ?? []).filter((r) => r.prefix === prefix).map((r): RouteView => {
      const attrs: any[] = r.attributes ?? []
      return {
        prefix,
        nextHop: String(r.exit_nexthop ?? ""),
        ...opt("originatorId", attrs.find((a) => a.type === "Originator Id")?.originator as string | undefined),
        ...opt("clusterList", attrs.find((a) => a.type === "Cluster Id List")?.cluster_list as string[] | undefined),
        ...opt("from", r.neighbor?.remote_addr as string | undefined)
      }
    })
  }
})

/** One line per path, for failure messages and set comparisons. */
export const describeRoute = (r: RouteView): string =>
  `${r.prefix} via ${r.nextHop} originator ${r.originatorId ?? "-"} cluster [${(r.clusterList ?? []).join(" ")}]${r.from === undefined ? "" : ` from ${r.from}`}`

/** A Starling speaker's Loc-RIB best path for the prefix, in the same shape. */
export const starlingRoutes = (s: RunningSpeaker): RouteSource => ({
  name: `Starling ${s.config.routerId}`,
  routes: async (prefix) =>
    (await s.run(s.api.routes)).filter((r) => formatPrefix(r.prefix) === prefix).map((r): RouteView => {
      const a = r.best.attributes
      return {
        prefix,
        nextHop: r.best.nextHop ?? "",
        ...opt("originatorId", a.originatorId === undefined ? undefined : formatIpv4(a.originatorId)),
        ...opt("clusterList", a.clusterList?.map(formatIpv4)),
        ...opt("from", r.best.local ? undefined : r.best.source)
      }
    })
})

/** Every path a Starling speaker's RIB holds for the prefix (best first), [] when none. */
export const starlingPaths = async (s: RunningSpeaker, prefix: string): Promise<Explanation["paths"]> => (await s.explain(prefix))?.paths ?? []

/** ORIGINATOR_ID / CLUSTER_LIST of a Starling RIB path, dotted. */
export const reflectionOf = (p: Explanation["paths"][number] | undefined) => ({
  originatorId: p?.attributes.originatorId === undefined ? undefined : formatIpv4(p.attributes.originatorId),
  clusterList: p?.attributes.clusterList?.map(formatIpv4)
})

/** Waits until every configured neighbor of the speaker is Established (and taken in by the speaker). */
export const allEstablished = async (s: RunningSpeaker, timeoutMs = 30_000): Promise<void> => {
  await Promise.all((s.config.neighbors ?? []).map((n) => s.established(n.address, timeoutMs)))
}

/** Waits until `view` holds exactly the paths `want` for `prefix` (in any order); says what it saw if not. */
export const expectRoutes = async (view: RouteSource, prefix: string, want: ReadonlyArray<RouteView>, timeoutMs = 25_000): Promise<void> => {
  let last: string[] = []
  const wanted = want.map(describeRoute).sort()
  await waitFor(`${view.name}: ${prefix}`, async () => {
    last = (await view.routes(prefix)).map(describeRoute).sort()
    return JSON.stringify(last) === JSON.stringify(wanted) ? true : undefined
  }, timeoutMs, 250).catch((e: unknown) => {
    throw new Error(`${e instanceof Error ? e.message : String(e)}\nhas [${last.join("; ")}]\nwants [${wanted.join("; ")}]`)
  })
}
