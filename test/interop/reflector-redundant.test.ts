/**
 * Two redundant Starling route reflectors (iBGP non-clients of each other) with BIRD 2, FRR and GoBGP as
 * clients of both, all on 127.66.11.0/24.
 *
 * Same cluster id: each reflector ignores the other's reflections (RFC 4456 §8, its cluster id is in the
 * CLUSTER_LIST), yet every client gets every route — once from each reflector — and when a client's session
 * to one reflector goes, the routes still reach the others through the second one.
 * Different cluster ids: each reflector also keeps the other's reflection as a second path, and when a
 * client's session to one reflector goes, that reflector reflects the other's copy on (CLUSTER_LIST of two).
 */
import { afterEach, assert, describe, it } from "vitest"
import { lab } from "./lib/addresses.ts"
import type { Bird } from "./lib/bird.ts"
import { startBird } from "./lib/bird.ts"
import type { Frr } from "./lib/frr.ts"
import { startFrr } from "./lib/frr.ts"
import type { Gobgp } from "./lib/gobgp.ts"
import { startGobgp } from "./lib/gobgp.ts"
import { stopAll, waitFor } from "./lib/process.ts"
import type { RouteSource, RouteView } from "./lib/routes.ts"
import { allEstablished, birdRoutes, describeRoute, frrRoutes, gobgpRoutes, reflectionOf, starlingPaths } from "./lib/routes.ts"
import type { RunningSpeaker } from "./lib/speaker.ts"
import { closeAllSpeakers, startSpeaker } from "./lib/speaker.ts"

const net = lab(11)
const AS = 65000
const RR1 = net.host(1)
const RR2 = net.host(2)

interface Client {
  readonly name: "bird" | "frr" | "gobgp"
  readonly address: string
  readonly routerId: string
  readonly v4: { readonly prefix: string; readonly nextHop: string }
  readonly v6: { readonly prefix: string; readonly nextHop: string }
}
const client = (name: Client["name"], k: number): Client => ({
  name,
  address: net.host(k),
  routerId: `10.66.11.${k}`,
  v4: { prefix: `10.11.${k}.0/24`, nextHop: `192.0.2.${k}` },
  v6: { prefix: `2001:db8:11:${k}::/64`, nextHop: `2001:db8::${k}` }
})
const clients = [client("bird", 3), client("frr", 4), client("gobgp", 5)] as const
const [cBird, cFrr, cGobgp] = clients

const routers: Array<{ stop: () => Promise<void> }> = []
afterEach(async () => {
  await closeAllSpeakers()
  await Promise.all(routers.splice(0).map((r) => r.stop()))
  await stopAll()
}, 30_000)

interface Lab {
  readonly rr1: RunningSpeaker
  readonly rr2: RunningSpeaker
  readonly bird: Bird
  readonly frr: Frr
  readonly gobgp: Gobgp
  readonly sources: ReadonlyMap<Client["name"], RouteSource>
  readonly clusters: readonly [string, string]
}

/** Both reflectors and the three clients, converged. `clusterIds` undefined: the router ids. */
const setup = async (clusterIds: readonly [string, string] | undefined): Promise<Lab> => {
  const reflector = (me: string, id: string, other: string, clusterId: string | undefined, connects: boolean) =>
    startSpeaker({
      localAs: AS,
      routerId: id,
      ...(clusterId === undefined ? {} : { clusterId }),
      listen: [{ address: me, port: 179 }],
      neighbors: [
        { address: other, peerAs: AS, name: "other-rr", localAddress: me, passive: !connects, connectRetryTime: 1, holdTime: 30, idleHoldTime: { initial: 1, max: 2 } },
        ...clients.map((c) => ({ address: c.address, peerAs: AS, name: c.name, passive: true, routeReflectorClient: true, holdTime: 30, idleHoldTime: { initial: 1, max: 2 } }))
      ]
    }, { reflector: true })
  const rr1 = await reflector(RR1, "10.66.11.1", RR2, clusterIds?.[0], true)
  const rr2 = await reflector(RR2, "10.66.11.2", RR1, clusterIds?.[1], false)
  const [bird, frr, gobgp] = await Promise.all([
    startBird({
      name: "client",
      routerId: cBird.routerId,
      as: AS,
      address: cBird.address,
      staticRoutes: [{ prefix: cBird.v4.prefix }, { prefix: cBird.v6.prefix }],
      neighbors: [["starling1", RR1], ["starling2", RR2]].map(([name, address]) => ({
        name: name!,
        address: address!,
        as: AS,
        channels: [
          { family: "ipv4" as const, export: "where source = RTS_STATIC", nextHop: cBird.v4.nextHop },
          { family: "ipv6" as const, export: "where source = RTS_STATIC", nextHop: cBird.v6.nextHop }
        ]
      }))
    }),
    startFrr({ name: "client", routerId: cFrr.routerId, as: AS, address: cFrr.address, staticRoutes: [cFrr.v4, cFrr.v6], neighbors: [{ address: RR1, as: AS }, { address: RR2, as: AS }] }),
    startGobgp({ name: "client", routerId: cGobgp.routerId, as: AS, address: cGobgp.address, routes: [cGobgp.v4, cGobgp.v6], neighbors: [{ address: RR1, peerAs: AS }, { address: RR2, peerAs: AS }] })
  ])
  routers.push({ stop: () => bird.dispose() }, { stop: () => frr.dispose() }, gobgp)
  await Promise.all([allEstablished(rr1, 30_000), allEstablished(rr2, 30_000)])
  const sources = new Map<Client["name"], RouteSource>([["bird", birdRoutes(bird)], ["frr", frrRoutes(frr)], ["gobgp", gobgpRoutes(gobgp)]])
  return { rr1, rr2, bird, frr, gobgp, sources, clusters: clusterIds ?? ["10.66.11.1", "10.66.11.2"] }
}

/** The path a client holds for `from`'s route through reflector `via` (address), with that CLUSTER_LIST. */
const path = (from: Client, family: "v4" | "v6", via: string, clusterList: ReadonlyArray<string>): RouteView => ({
  prefix: from[family].prefix,
  nextHop: from[family].nextHop,
  originatorId: from.routerId,
  clusterList,
  from: via
})

/**
 * Waits until every client in `ats` holds, for each route of each other client in `froms`, exactly the paths
 * `want(from, family)` (in any order).
 */
const expectPaths = async (
  lab: Lab,
  ats: ReadonlyArray<Client>,
  froms: ReadonlyArray<Client>,
  want: (from: Client, family: "v4" | "v6") => ReadonlyArray<RouteView>,
  timeoutMs = 25_000
) => {
  let last: string[] = []
  await waitFor("the clients' paths", async () => {
    last = []
    await Promise.all(ats.map(async (at) => {
      for (const from of froms) {
        if (from === at) continue
        for (const family of ["v4", "v6"] as const) {
          const got = (await lab.sources.get(at.name)!.routes(from[family].prefix)).map(describeRoute).sort()
          const wanted = want(from, family).map(describeRoute).sort()
          if (JSON.stringify(got) !== JSON.stringify(wanted)) last.push(`${at.name}: has [${got.join("; ")}]\n   wants [${wanted.join("; ")}]`)
        }
      }
    }))
    return last.length === 0 ? true : undefined
  }, timeoutMs, 250).catch((e: unknown) => {
    throw new Error(`${e instanceof Error ? e.message : String(e)}\n${last.join("\n")}`)
  })
}

const sources = async (rr: RunningSpeaker, prefix: string) => (await starlingPaths(rr, prefix)).map((p) => p.source).sort()

describe("two redundant Starling reflectors, BIRD, FRR and GoBGP clients of both", () => {
  it("same cluster id: the reflectors drop each other's reflections, yet the clients get every route from both, and through one when a session goes", async () => {
    const CLUSTER = "10.255.11.1"
    const lab = await setup([CLUSTER, CLUSTER])
    const both = (from: Client, family: "v4" | "v6") => [path(from, family, RR1, [CLUSTER]), path(from, family, RR2, [CLUSTER])]
    await expectPaths(lab, clients, clients, both)
    // Each reflector sends the other its clients' routes (a non-client gets client routes) and ignores what it gets back.
    for (const [me, other] of [[lab.rr1, RR2], [lab.rr2, RR1]] as const) {
      const n = await me.neighbor(other)
      assert.strictEqual(n.routesAdvertised, 6, "three clients' two routes each")
      assert.strictEqual(n.routesReceived, 0, "every route from the other reflector carries our cluster id")
      for (const c of clients) assert.deepStrictEqual(await sources(me, c.v4.prefix), [c.address], `only the client's own path for ${c.v4.prefix}`)
    }

    // BIRD's session to RR1 goes: RR1 has nothing left for BIRD's routes (RR2's copy is a loop for it) …
    await lab.bird.birdc("disable", "starling1")
    await waitFor("RR1 to lose BIRD's routes", async () => ((await starlingPaths(lab.rr1, cBird.v4.prefix)).length === 0 ? true : undefined), 15_000)
    assert.deepStrictEqual(await starlingPaths(lab.rr1, cBird.v6.prefix), [])
    // … and the other clients still have them, through RR2 only.
    await expectPaths(lab, [cFrr, cGobgp], [cBird], (from, family) => [path(from, family, RR2, [CLUSTER])])
    await expectPaths(lab, [cFrr, cGobgp], [cFrr, cGobgp], both, 5_000)
    // Back.
    await lab.bird.birdc("enable", "starling1")
    await expectPaths(lab, clients, clients, both)
  }, 80_000)

  it("different cluster ids: each reflector keeps the other's reflection as a second path and reflects it on when a client's session to it goes", async () => {
    const lab = await setup(undefined)
    const [C1, C2] = lab.clusters
    const both = (from: Client, family: "v4" | "v6") => [path(from, family, RR1, [C1]), path(from, family, RR2, [C2])]
    await expectPaths(lab, clients, clients, both)
    for (const [me, other, otherCluster] of [[lab.rr1, RR2, C2], [lab.rr2, RR1, C1]] as const) {
      assert.strictEqual((await me.neighbor(other)).routesReceived, 6, "the other reflector's reflections are kept")
      for (const c of clients) {
        const ps = await starlingPaths(me, c.v4.prefix)
        assert.deepStrictEqual(ps.map((p) => p.source).sort(), [c.address, other].sort())
        // RFC 4456 §9: the shorter CLUSTER_LIST (the client's own path) wins.
        assert.strictEqual(ps.find((p) => p.best)?.source, c.address)
        assert.deepStrictEqual(reflectionOf(ps.find((p) => p.source === other)), { originatorId: c.routerId, clusterList: [otherCluster] })
      }
    }

    // BIRD's session to RR1 goes: RR1 keeps RR2's reflection and reflects it on, CLUSTER_LIST [RR1, RR2].
    await lab.bird.birdc("disable", "starling1")
    await waitFor("RR1 to have only RR2's path for BIRD's route", async () =>
      JSON.stringify(await sources(lab.rr1, cBird.v4.prefix)) === JSON.stringify([RR2]) ? true : undefined, 15_000)
    await expectPaths(lab, [cFrr, cGobgp], [cBird], (from, family) => [path(from, family, RR1, [C1, C2]), path(from, family, RR2, [C2])])
    await lab.bird.birdc("enable", "starling1")
    await expectPaths(lab, clients, clients, both)
  }, 80_000)
})
