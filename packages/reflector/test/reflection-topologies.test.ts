/**
 * Several Starling reflectors together, over the in-memory network in virtual time, with raw BGP peers as
 * clients: redundant reflectors with the same cluster id (each drops the other's reflections: RFC 4456 §8
 * loop check; the clients still get everything because they peer with both) and with different cluster ids
 * (both paths arrive), and hierarchical reflection (a reflector that is a client of another: CLUSTER_LIST
 * grows by one cluster id per level, ORIGINATOR_ID stays the originator's).
 */
import { assert, describe, it } from "@effect/vitest"
import type { PathAttributes } from "@starling/codec"
import { formatIpv4 } from "@starling/codec"
import { makeMemoryNetwork } from "@starling/session"
import type { NeighborConfig, SpeakerApi } from "@starling/speaker"
import { Effect, Logger } from "effect"
import { makeReflector } from "../src/index.ts"
import { allEstablished, AS, idle, rawPeer, type RawPeer, reflection, until } from "./reflection-harness.ts"

const quiet = Logger.layer([])

const nb = (address: string, extra: Partial<NeighborConfig> = {}): NeighborConfig => ({
  address,
  peerAs: AS,
  holdTime: 30,
  connectRetryTime: 1,
  idleHoldTime: { initial: 1, max: 1 },
  ...extra
})
const iBgp = (extra: PathAttributes = {}): PathAttributes => ({ origin: 0, asPath: [], localPref: 100, ...extra })
const P = "10.1.0.0/24"
const P6 = "2001:db8:1::/48"

const neighborOf = (s: SpeakerApi, address: string) => Effect.map(s.neighbors, (ns) => ns.find((n) => n.address === address)!)

/**
 * RR1 and RR2 (iBGP non-clients of each other); client C1 peers with both (from two addresses: one per
 * link, so one link can be cut), and so does client C2.
 */
const redundant = (clusterIds: readonly [string | undefined, string | undefined]) =>
  Effect.gen(function*() {
    const net = yield* makeMemoryNetwork
    const a = { rr1: "10.9.1.1", rr2: "10.9.1.2", c1a: "10.9.1.11", c1b: "10.9.1.12", c2a: "10.9.1.21", c2b: "10.9.1.22" }
    const rr = (me: string, id: string, other: string, clusterId: string | undefined, clients: ReadonlyArray<string>, connects: boolean) =>
      makeReflector({
        localAs: AS,
        routerId: id,
        ...(clusterId === undefined ? {} : { clusterId }),
        listen: [{ address: me, port: 179 }],
        transport: net,
        neighbors: [nb(other, { passive: !connects, localAddress: me }), ...clients.map((c) => nb(c, { passive: true, routeReflectorClient: true }))]
      })
    const rr1 = yield* rr(a.rr1, "10.0.1.1", a.rr2, clusterIds[0], [a.c1a, a.c2a], true)
    const rr2 = yield* rr(a.rr2, "10.0.1.2", a.rr1, clusterIds[1], [a.c1b, a.c2b], false)
    const c1a = yield* rawPeer(net, { name: "C1→RR1", address: a.c1a, routerId: "10.0.1.11", remote: a.rr1 })
    const c1b = yield* rawPeer(net, { name: "C1→RR2", address: a.c1b, routerId: "10.0.1.11", remote: a.rr2 })
    const c2a = yield* rawPeer(net, { name: "C2→RR1", address: a.c2a, routerId: "10.0.1.21", remote: a.rr1 })
    const c2b = yield* rawPeer(net, { name: "C2→RR2", address: a.c2b, routerId: "10.0.1.21", remote: a.rr2 })
    yield* until("every session Established", () => Effect.map(Effect.all([allEstablished(rr1), allEstablished(rr2)]), ([x, y]) => x && y))
    const routes = [{ prefix: P, nextHop: "192.0.2.11", attrs: iBgp() }, { prefix: P6, nextHop: "2001:db8::11", attrs: iBgp() }]
    yield* c1a.announce(...routes)
    yield* c1b.announce(...routes)
    yield* c2a.announce({ prefix: "10.2.0.0/24", nextHop: "192.0.2.21", attrs: iBgp() })
    yield* c2b.announce({ prefix: "10.2.0.0/24", nextHop: "192.0.2.21", attrs: iBgp() })
    yield* until("C2 has C1's routes over both sessions", () => [c2a, c2b].every((c) => c.received.has(P) && c.received.has(P6)))
    yield* until("C1 has C2's route over both sessions", () => [c1a, c1b].every((c) => c.received.has("10.2.0.0/24")))
    yield* idle(2000)
    return { a, rr1, rr2, c1a, c1b, c2a, c2b }
  })

const pathSources = (s: SpeakerApi, prefix: string) => Effect.map(s.explain(prefix), (e) => (e?.paths ?? []).map((p) => p.source).sort())

describe("redundant reflectors", () => {
  it.effect("same cluster id: each reflector drops the other's reflections, and the clients still get everything", () =>
    Effect.gen(function*() {
      const { a, rr1, rr2, c1a, c2a, c2b } = yield* redundant(["10.255.1.1", "10.255.1.1"])
      for (const c of [c2a, c2b]) {
        assert.deepStrictEqual(reflection(c.received.get(P)), { originatorId: "10.0.1.11", clusterList: ["10.255.1.1"] }, c.name)
        assert.strictEqual(c.received.get(P)!.nextHop, "192.0.2.11")
        assert.strictEqual(c.received.get(P6)!.nextHop, "2001:db8::11")
      }
      // Each reflector sends its clients' routes to the other (a non-client) …
      assert.isAbove((yield* neighborOf(rr1, a.rr2)).routesAdvertised, 0)
      assert.isAbove((yield* neighborOf(rr2, a.rr1)).routesAdvertised, 0)
      // … and the other ignores every one of them: the CLUSTER_LIST holds its own cluster id.
      assert.strictEqual((yield* neighborOf(rr1, a.rr2)).routesReceived, 0)
      assert.strictEqual((yield* neighborOf(rr2, a.rr1)).routesReceived, 0)
      assert.deepStrictEqual(yield* pathSources(rr1, P), [a.c1a])
      assert.deepStrictEqual(yield* pathSources(rr2, P), [a.c1b])

      // C1 shuts its session to RR1: RR1 has no path left (RR2's copy is a loop for it), but C2 still has the route via RR2.
      yield* c1a.peer.stop("maintenance")
      yield* until("RR1 withdraws C1's routes from C2", () => !c2a.received.has(P) && !c2a.received.has(P6))
      yield* idle(2000)
      assert.isUndefined(yield* rr1.explain(P))
      assert.isTrue(c2b.received.has(P) && c2b.received.has(P6), "C2 keeps C1's routes through RR2")
      assert.deepStrictEqual(reflection(c2b.received.get(P)), { originatorId: "10.0.1.11", clusterList: ["10.255.1.1"] })
      // The session comes back.
      yield* c1a.peer.start
      yield* until("C1 back on RR1", () => c1a.sessions() === 2 && c1a.negotiated() !== undefined)
      yield* until("RR1 reflects C1's routes again", () => c2a.received.has(P) && c2a.received.has(P6))
    }).pipe(Effect.provide(quiet)))

  it.effect("different cluster ids: each reflector also learns the other's reflection, and it stands in when a client link goes", () =>
    Effect.gen(function*() {
      const { a, rr1, rr2, c1a, c2a, c2b } = yield* redundant([undefined, undefined]) // cluster id = router id
      assert.deepStrictEqual(reflection(c2a.received.get(P)), { originatorId: "10.0.1.11", clusterList: ["10.0.1.1"] })
      assert.deepStrictEqual(reflection(c2b.received.get(P)), { originatorId: "10.0.1.11", clusterList: ["10.0.1.2"] })
      // Both paths arrive at each reflector; the direct one wins (RFC 4456 §9: shorter CLUSTER_LIST).
      assert.deepStrictEqual(yield* pathSources(rr1, P), [a.c1a, a.rr2].sort())
      assert.deepStrictEqual(yield* pathSources(rr2, P), [a.c1b, a.rr1].sort())
      const e = (yield* rr2.explain(P))!
      const best = e.paths.find((p) => p.best)!
      assert.strictEqual(best.source, a.c1b)
      const viaRr1 = e.paths.find((p) => p.source === a.rr1)!
      assert.deepStrictEqual([formatIpv4(viaRr1.attributes.originatorId!), viaRr1.attributes.clusterList!.map(formatIpv4)], ["10.0.1.11", ["10.0.1.1"]])
      assert.isAbove((yield* neighborOf(rr2, a.rr1)).routesReceived, 0)

      // C1 shuts its session to RR1: RR1 now uses RR2's reflection and reflects it on, CLUSTER_LIST [RR1, RR2].
      yield* c1a.peer.stop("maintenance")
      yield* until("RR1 re-reflects the path it has from RR2", () => c2a.received.get(P)?.attrs.clusterList?.length === 2)
      assert.deepStrictEqual(reflection(c2a.received.get(P)), { originatorId: "10.0.1.11", clusterList: ["10.0.1.1", "10.0.1.2"] })
      assert.strictEqual(c2a.received.get(P)!.nextHop, "192.0.2.11", "next hop still the originator's")
      assert.deepStrictEqual(reflection(c2a.received.get(P6)), { originatorId: "10.0.1.11", clusterList: ["10.0.1.1", "10.0.1.2"] })
      yield* idle(2000)
      assert.deepStrictEqual(yield* pathSources(rr1, P), [a.rr2])
    }).pipe(Effect.provide(quiet)))
})

describe("hierarchical reflection", () => {
  it.effect("three levels of Starling reflectors: CLUSTER_LIST grows by one cluster id per level, ORIGINATOR_ID stays the originator's", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork
      const a = { top: "10.9.2.1", mid: "10.9.2.2", low: "10.9.2.3", ct: "10.9.2.11", cm: "10.9.2.12", cl: "10.9.2.13" }
      const cluster = { top: "10.255.2.1", mid: "10.255.2.2", low: "10.255.2.3" }
      // Top: clients Mid (a reflector) and CT. Mid: client of Top, clients Low and CM. Low: client of Mid, client CL.
      const top = yield* makeReflector({
        localAs: AS, routerId: "10.0.2.1", clusterId: cluster.top, listen: [{ address: a.top, port: 179 }], transport: net,
        neighbors: [nb(a.mid, { passive: true, routeReflectorClient: true }), nb(a.ct, { passive: true, routeReflectorClient: true })]
      })
      const mid = yield* makeReflector({
        localAs: AS, routerId: "10.0.2.2", clusterId: cluster.mid, listen: [{ address: a.mid, port: 179 }], transport: net,
        neighbors: [nb(a.top, { localAddress: a.mid }), nb(a.low, { passive: true, routeReflectorClient: true }), nb(a.cm, { passive: true, routeReflectorClient: true })]
      })
      const low = yield* makeReflector({
        localAs: AS, routerId: "10.0.2.3", clusterId: cluster.low, listen: [{ address: a.low, port: 179 }], transport: net,
        neighbors: [nb(a.mid, { localAddress: a.low }), nb(a.cl, { passive: true, routeReflectorClient: true })]
      })
      const ct = yield* rawPeer(net, { name: "CT", address: a.ct, routerId: "10.0.2.11", remote: a.top })
      const cm = yield* rawPeer(net, { name: "CM", address: a.cm, routerId: "10.0.2.12", remote: a.mid })
      const cl = yield* rawPeer(net, { name: "CL", address: a.cl, routerId: "10.0.2.13", remote: a.low })
      yield* until("every session Established", () => Effect.map(Effect.all([top, mid, low].map(allEstablished)), (xs) => xs.every((x) => x)))
      yield* cl.announce({ prefix: "10.13.0.0/24", nextHop: "192.0.2.13", attrs: iBgp({ communities: [((65000 << 16) | 13) >>> 0] }) }, { prefix: "2001:db8:13::/48", nextHop: "2001:db8::13", attrs: iBgp() })
      yield* ct.announce({ prefix: "10.11.0.0/24", nextHop: "192.0.2.11", attrs: iBgp() })
      yield* cm.announce({ prefix: "10.12.0.0/24", nextHop: "192.0.2.12", attrs: iBgp() })
      const everywhere = (c: RawPeer, ...ps: string[]) => () => ps.every((p) => c.received.has(p))
      yield* until("every client has every other client's routes", () =>
        everywhere(ct, "10.13.0.0/24", "2001:db8:13::/48", "10.12.0.0/24")() && everywhere(cm, "10.13.0.0/24", "10.11.0.0/24")() &&
        everywhere(cl, "10.11.0.0/24", "10.12.0.0/24")())
      yield* idle(2000)

      // Up the tree (originated at the bottom).
      assert.deepStrictEqual(reflection(cm.received.get("10.13.0.0/24")), { originatorId: "10.0.2.13", clusterList: [cluster.mid, cluster.low] })
      assert.deepStrictEqual(reflection(ct.received.get("10.13.0.0/24")), { originatorId: "10.0.2.13", clusterList: [cluster.top, cluster.mid, cluster.low] })
      assert.deepStrictEqual(reflection(ct.received.get("2001:db8:13::/48")), { originatorId: "10.0.2.13", clusterList: [cluster.top, cluster.mid, cluster.low] })
      assert.strictEqual(ct.received.get("10.13.0.0/24")!.nextHop, "192.0.2.13")
      assert.strictEqual(ct.received.get("2001:db8:13::/48")!.nextHop, "2001:db8::13")
      assert.deepStrictEqual(ct.received.get("10.13.0.0/24")!.attrs.communities, [((65000 << 16) | 13) >>> 0])
      // Down the tree (originated at the top).
      assert.deepStrictEqual(reflection(cm.received.get("10.11.0.0/24")), { originatorId: "10.0.2.11", clusterList: [cluster.mid, cluster.top] })
      assert.deepStrictEqual(reflection(cl.received.get("10.11.0.0/24")), { originatorId: "10.0.2.11", clusterList: [cluster.low, cluster.mid, cluster.top] })
      // From the middle, both ways.
      assert.deepStrictEqual(reflection(ct.received.get("10.12.0.0/24")), { originatorId: "10.0.2.12", clusterList: [cluster.top, cluster.mid] })
      assert.deepStrictEqual(reflection(cl.received.get("10.12.0.0/24")), { originatorId: "10.0.2.12", clusterList: [cluster.low, cluster.mid] })
      // No reflector holds a second copy of a route that went round: one path each.
      for (const [s, prefix] of [[top, "10.13.0.0/24"], [mid, "10.13.0.0/24"], [low, "10.11.0.0/24"], [mid, "10.11.0.0/24"]] as const) {
        assert.strictEqual((yield* s.explain(prefix))?.paths.length, 1, prefix)
      }
      // A withdrawal at the bottom reaches the top.
      yield* cl.withdraw("10.13.0.0/24")
      yield* until("CT loses 10.13.0.0/24", () => !ct.received.has("10.13.0.0/24"))
      assert.isFalse(cm.received.has("10.13.0.0/24"))
      assert.isTrue(ct.received.has("2001:db8:13::/48"))
    }).pipe(Effect.provide(quiet)))
})
