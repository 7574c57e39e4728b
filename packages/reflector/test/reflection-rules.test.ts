/**
 * RFC 4456 rules of one Starling reflector, seen on the wire by raw BGP peers over the in-memory network
 * (virtual time): who receives what (§6), what is added (§8: ORIGINATOR_ID, CLUSTER_LIST) and what stays
 * as the originator sent it (next hop, every other attribute), the loop checks (§8), a client that drops
 * and comes back, ADD-PATH reflection, and the client side of the ORIGINATOR_ID check.
 */
import { assert, describe, it } from "@effect/vitest"
import type { PathAttributes } from "@starling/codec"
import { AttrFlag, formatIpv4, SegmentType } from "@starling/codec"
import { makeMemoryNetwork, type MemoryNetwork } from "@starling/session"
import type { NeighborConfig } from "@starling/speaker"
import { makeSpeaker } from "@starling/speaker"
import { Effect, Logger } from "effect"
import { makeReflector } from "../src/index.ts"
import { allEstablished, AS, idle, ip, keys, rawPeer, type RawPeer, reflection, until } from "./reflection-harness.ts"

const quiet = Logger.layer([])

const RR = "10.9.0.100"
const RR_ID = "10.0.0.100"
const addr = { c1: "10.9.0.1", c2: "10.9.0.2", n1: "10.9.0.3", n2: "10.9.0.4", e1: "10.9.0.5", c3: "10.9.0.6" }
const ids = { c1: "10.0.0.1", c2: "10.0.0.2", n1: "10.0.0.3", n2: "10.0.0.4", e1: "10.0.0.5", c3: "10.0.0.6" }
const E_AS = 65100
const v4 = { afi: 1, safi: 1 }
const v6 = { afi: 2, safi: 1 }

const passive = (address: string, extra: Partial<NeighborConfig> = {}): NeighborConfig => ({
  address,
  peerAs: AS,
  passive: true,
  holdTime: 30,
  idleHoldTime: { initial: 1, max: 1 },
  ...extra
})

/**
 * One reflector with clients C1, C2, non-clients N1, N2 and an eBGP peer E1 (and, with `addPathClient`,
 * a client C3 that receives every path).
 */
const lab = (options: { clusterId?: string; addPathClient?: boolean } = {}) =>
  Effect.gen(function*() {
    const net = yield* makeMemoryNetwork
    const rr = yield* makeReflector({
      localAs: AS,
      routerId: RR_ID,
      ...(options.clusterId === undefined ? {} : { clusterId: options.clusterId }),
      listen: [{ address: RR, port: 179 }],
      transport: net,
      ebgpRequiresPolicy: false,
      neighbors: [
        passive(addr.c1, { routeReflectorClient: true }),
        passive(addr.c2, { routeReflectorClient: true }),
        passive(addr.n1),
        passive(addr.n2),
        passive(addr.e1, { peerAs: E_AS, nextHopV6: "2001:db8::100" }),
        ...(options.addPathClient === true
          ? [passive(addr.c3, { routeReflectorClient: true, addPath: [{ ...v4, send: true, receive: false }, { ...v6, send: true, receive: false }] })]
          : [])
      ]
    })
    const peer = (name: keyof typeof addr, extra: { localAs?: number; addPath?: ReadonlyArray<{ afi: number; safi: number; receive: boolean; send: boolean }> } = {}) =>
      rawPeer(net, { name, address: addr[name], routerId: ids[name], remote: RR, ...extra })
    const p = {
      c1: yield* peer("c1"),
      c2: yield* peer("c2"),
      n1: yield* peer("n1"),
      n2: yield* peer("n2"),
      e1: yield* peer("e1", { localAs: E_AS }),
      ...(options.addPathClient === true ? { c3: yield* peer("c3", { addPath: [{ ...v4, receive: true, send: false }, { ...v6, receive: true, send: false }] }) } : {})
    }
    yield* until("every session Established", () => allEstablished(rr))
    return { net, rr, p }
  })

const has = (peer: RawPeer, ...prefixes: string[]) => () => prefixes.every((x) => peer.received.has(x))
const lacks = (peer: RawPeer, ...prefixes: string[]) => () => prefixes.every((x) => !peer.received.has(x))

const community = (a: number, b: number) => ((a << 16) | b) >>> 0
const iBgp = (extra: PathAttributes = {}): PathAttributes => ({ origin: 0, asPath: [], localPref: 100, ...extra })

describe("RFC 4456 §6: who receives a reflected route", () => {
  it.effect("client routes go to every peer, non-client routes to clients only, eBGP and local routes to all", () =>
    Effect.gen(function*() {
      const { rr, p } = yield* lab()
      yield* p.c1.announce({ prefix: "10.1.0.0/24", nextHop: "192.0.2.1", attrs: iBgp() }, { prefix: "2001:db8:1::/48", nextHop: "2001:db8::1", attrs: iBgp() })
      yield* p.c2.announce({ prefix: "10.2.0.0/24", nextHop: "192.0.2.2", attrs: iBgp() })
      yield* p.n1.announce({ prefix: "10.3.0.0/24", nextHop: "192.0.2.3", attrs: iBgp() }, { prefix: "2001:db8:3::/48", nextHop: "2001:db8::3", attrs: iBgp() })
      yield* p.n2.announce({ prefix: "10.4.0.0/24", nextHop: "192.0.2.4", attrs: iBgp() })
      yield* p.e1.announce({ prefix: "10.5.0.0/24", nextHop: "192.0.2.5", attrs: { origin: 0, asPath: [{ type: SegmentType.AS_SEQUENCE, asns: [E_AS] }] } })
      yield* rr.originate("10.6.0.0/24", { nextHop: ip("192.0.2.6") })
      yield* until("the Loc-RIB has every route", () => Effect.map(rr.routes, (r) => r.length === 8))
      yield* until("C2 has C1's routes", has(p.c2, "10.1.0.0/24", "2001:db8:1::/48"))
      // Let anything that should NOT arrive have every chance to.
      yield* idle(3000)
      assert.deepStrictEqual(keys(p.c1), ["10.2.0.0/24", "10.3.0.0/24", "10.4.0.0/24", "10.5.0.0/24", "10.6.0.0/24", "2001:db8:3::/48"], "C1: everything but its own")
      assert.deepStrictEqual(keys(p.c2), ["10.1.0.0/24", "10.3.0.0/24", "10.4.0.0/24", "10.5.0.0/24", "10.6.0.0/24", "2001:db8:1::/48", "2001:db8:3::/48"], "C2: everything but its own")
      assert.deepStrictEqual(keys(p.n1), ["10.1.0.0/24", "10.2.0.0/24", "10.5.0.0/24", "10.6.0.0/24", "2001:db8:1::/48"], "N1: client, eBGP and local routes; not N2's")
      assert.deepStrictEqual(keys(p.n2), ["10.1.0.0/24", "10.2.0.0/24", "10.5.0.0/24", "10.6.0.0/24", "2001:db8:1::/48"], "N2: client, eBGP and local routes; not N1's")
      assert.deepStrictEqual(keys(p.e1), ["10.1.0.0/24", "10.2.0.0/24", "10.3.0.0/24", "10.4.0.0/24", "10.6.0.0/24", "2001:db8:1::/48", "2001:db8:3::/48"], "E1: every iBGP and local route")
      // A withdrawal from a client reaches the same set of peers.
      yield* p.c1.withdraw("10.1.0.0/24")
      yield* until("C1's IPv4 route is withdrawn everywhere", () => [p.c2, p.n1, p.n2, p.e1].every((x) => !x.received.has("10.1.0.0/24")))
      assert.isTrue(p.c2.received.has("2001:db8:1::/48"), "only the withdrawn prefix goes")
    }).pipe(Effect.provide(quiet)))

  it.effect("only the best path is reflected: when it moves from a client to a non-client, the non-clients lose the route and the clients switch", () =>
    Effect.gen(function*() {
      const { p } = yield* lab()
      const P = "10.8.0.0/24"
      yield* p.c1.announce({ prefix: P, nextHop: "192.0.2.1", attrs: iBgp() })
      yield* until("N1, N2 and C2 have C1's path", () => [p.n1, p.n2, p.c2].every((x) => x.received.get(P)?.nextHop === "192.0.2.1"))
      // N1 announces a better path (LOCAL_PREF 200): non-client to non-client is not reflected, so N2 has nothing
      // to get any more, and N1 (the new best's source) must drop C1's path too.
      yield* p.n1.announce({ prefix: P, nextHop: "192.0.2.3", attrs: iBgp({ localPref: 200 }) })
      yield* until("C1 and C2 switch to N1's path", () => [p.c1, p.c2].every((x) => x.received.get(P)?.nextHop === "192.0.2.3"))
      yield* until("N1 and N2 lose the route", () => !p.n1.received.has(P) && !p.n2.received.has(P))
      assert.deepStrictEqual(reflection(p.c2.received.get(P)), { originatorId: ids.n1, clusterList: [RR_ID] })
      assert.strictEqual(p.e1.received.get(P)?.nextHop, RR, "eBGP still gets the best path")
      // N1 withdraws: C1's path is best again and reaches the non-clients again.
      yield* p.n1.withdraw(P)
      yield* until("N1 and N2 get C1's path back", () => [p.n1, p.n2].every((x) => x.received.get(P)?.nextHop === "192.0.2.1"))
      yield* until("C2 switches back to C1's path", () => p.c2.received.get(P)?.nextHop === "192.0.2.1")
      assert.isFalse(p.c1.received.has(P), "C1 never gets its own path back")
    }).pipe(Effect.provide(quiet)))
})

describe("RFC 4456 §8: attributes of reflected routes", () => {
  it.effect("ORIGINATOR_ID is the originator's router id and CLUSTER_LIST our cluster id; next hop and every other attribute stay as sent", () =>
    Effect.gen(function*() {
      const { p } = yield* lab({ clusterId: "10.255.0.1" })
      const rich: PathAttributes = {
        origin: 2,
        asPath: [],
        localPref: 150,
        med: 7,
        atomicAggregate: true,
        aggregator: { asn: 65000, address: ip("10.0.0.1") },
        communities: [community(65000, 100), community(65000, 200)],
        largeCommunities: [{ global: 65000, local1: 1, local2: 2 }],
        extendedCommunities: [{ hi: 0x0002fde8, lo: 7 }],
        unknown: [{ flags: AttrFlag.OPTIONAL | AttrFlag.TRANSITIVE, type: 222, value: Uint8Array.of(1, 2, 3) }]
      }
      yield* p.c1.announce(
        { prefix: "10.1.0.0/24", nextHop: "192.0.2.1", attrs: rich },
        { prefix: "2001:db8:1::/48", nextHop: "2001:db8::1", attrs: rich },
        { prefix: "2001:db8:11::/48", nextHop: "2001:db8::11 fe80::11", attrs: iBgp() }
      )
      yield* p.n1.announce({ prefix: "10.3.0.0/24", nextHop: "192.0.2.3", attrs: iBgp({ localPref: 90 }) })
      yield* p.e1.announce({ prefix: "10.5.0.0/24", nextHop: "192.0.2.5", attrs: { origin: 0, asPath: [{ type: SegmentType.AS_SEQUENCE, asns: [E_AS] }], med: 50 } })
      // Already reflected once, in another cluster: the ORIGINATOR_ID stays, our id goes in front.
      yield* p.c2.announce({ prefix: "10.2.0.0/24", nextHop: "192.0.2.2", attrs: iBgp({ originatorId: ip("10.0.0.77"), clusterList: [ip("10.255.9.9")] }) })
      yield* until("C2 and N1 have C1's routes, C1 has N1's, E1's and C2's", () =>
        has(p.c2, "10.1.0.0/24", "2001:db8:1::/48", "2001:db8:11::/48")() && has(p.n1, "10.1.0.0/24")() && has(p.c1, "10.3.0.0/24", "10.5.0.0/24", "10.2.0.0/24")() &&
        has(p.e1, "10.1.0.0/24")())

      const reflected = { ...rich, originatorId: ip(ids.c1), clusterList: [ip("10.255.0.1")], unknown: [{ ...rich.unknown![0]!, flags: rich.unknown![0]!.flags | AttrFlag.PARTIAL }] }
      for (const to of [p.c2, p.n1]) {
        const r4 = to.received.get("10.1.0.0/24")!
        assert.strictEqual(r4.nextHop, "192.0.2.1", `${to.name}: IPv4 next hop unchanged`)
        assert.deepStrictEqual(r4.attrs, reflected, `${to.name}: IPv4 attributes`)
        const r6 = to.received.get("2001:db8:1::/48")!
        assert.strictEqual(r6.nextHop, "2001:db8::1", `${to.name}: IPv6 next hop unchanged`)
        assert.deepStrictEqual(r6.attrs, reflected, `${to.name}: IPv6 attributes`)
      }
      assert.strictEqual(p.c2.received.get("2001:db8:11::/48")!.nextHop, "2001:db8::11 fe80::11", "global and link-local next hop both kept")

      // From a non-client: ORIGINATOR_ID is the non-client's id.
      const fromN1 = p.c1.received.get("10.3.0.0/24")!
      assert.strictEqual(fromN1.nextHop, "192.0.2.3")
      assert.deepStrictEqual(fromN1.attrs, iBgp({ localPref: 90, originatorId: ip(ids.n1), clusterList: [ip("10.255.0.1")] }))
      // Reflected a second time.
      assert.deepStrictEqual(reflection(p.c1.received.get("10.2.0.0/24")), { originatorId: "10.0.0.77", clusterList: ["10.255.0.1", "10.255.9.9"] })
      // eBGP-learned: advertised, not reflected (no ORIGINATOR_ID / CLUSTER_LIST), next hop unchanged.
      const fromE1 = p.c1.received.get("10.5.0.0/24")!
      assert.strictEqual(fromE1.nextHop, "192.0.2.5")
      assert.deepStrictEqual(fromE1.attrs, { origin: 0, asPath: [{ type: SegmentType.AS_SEQUENCE, asns: [E_AS] }], med: 50, localPref: 100 })
      // To eBGP: ORIGINATOR_ID, CLUSTER_LIST and LOCAL_PREF never leave the AS; our AS prepended, next hop ours.
      const toE1 = p.e1.received.get("10.1.0.0/24")!
      assert.strictEqual(toE1.nextHop, RR)
      assert.isUndefined(toE1.attrs.originatorId)
      assert.isUndefined(toE1.attrs.clusterList)
      assert.isUndefined(toE1.attrs.localPref)
      assert.deepStrictEqual(toE1.attrs.asPath, [{ type: SegmentType.AS_SEQUENCE, asns: [AS] }])
      assert.deepStrictEqual(toE1.attrs.communities, rich.communities)
    }).pipe(Effect.provide(quiet)))
})

describe("RFC 4456 §8: loop checks", () => {
  it.effect("a route with our router id as ORIGINATOR_ID, or our cluster id in CLUSTER_LIST, is ignored (cluster id ≠ router id)", () =>
    Effect.gen(function*() {
      const { rr, p } = yield* lab({ clusterId: "10.255.0.1" })
      yield* p.c2.announce(
        { prefix: "10.20.1.0/24", nextHop: "192.0.2.2", attrs: iBgp({ originatorId: ip(RR_ID), clusterList: [ip("10.255.9.9")] }) },
        { prefix: "10.20.2.0/24", nextHop: "192.0.2.2", attrs: iBgp({ originatorId: ip("10.0.0.77"), clusterList: [ip("10.255.9.9"), ip("10.255.0.1")] }) },
        // Our router id in CLUSTER_LIST is not our cluster id; our cluster id as ORIGINATOR_ID is not our router id.
        { prefix: "10.20.3.0/24", nextHop: "192.0.2.2", attrs: iBgp({ originatorId: ip("10.0.0.77"), clusterList: [ip(RR_ID)] }) },
        { prefix: "10.20.4.0/24", nextHop: "192.0.2.2", attrs: iBgp({ originatorId: ip("10.255.0.1"), clusterList: [ip("10.255.9.9")] }) },
        { prefix: "10.20.5.0/24", nextHop: "192.0.2.2", attrs: iBgp() }
      )
      yield* until("the accepted routes reach C1", has(p.c1, "10.20.3.0/24", "10.20.4.0/24", "10.20.5.0/24"))
      yield* idle(2000)
      for (const dropped of ["10.20.1.0/24", "10.20.2.0/24"]) {
        assert.isUndefined(yield* rr.explain(dropped), `${dropped} must not be in the reflector's RIB`)
        for (const x of [p.c1, p.n1, p.n2, p.e1]) assert.isFalse(x.received.has(dropped), `${dropped} reached ${x.name}`)
      }
      assert.deepStrictEqual(reflection(p.c1.received.get("10.20.3.0/24")), { originatorId: "10.0.0.77", clusterList: ["10.255.0.1", RR_ID] })
      assert.deepStrictEqual(reflection(p.c1.received.get("10.20.4.0/24")), { originatorId: "10.255.0.1", clusterList: ["10.255.0.1", "10.255.9.9"] })
      // A loop on a route we had: the old path goes (treat-as-withdraw), and the reflected copies with it.
      assert.isTrue(p.n1.received.has("10.20.5.0/24"))
      yield* p.c2.announce({ prefix: "10.20.5.0/24", nextHop: "192.0.2.2", attrs: iBgp({ originatorId: ip(ids.c2), clusterList: [ip("10.255.0.1")] }) })
      yield* until("10.20.5.0/24 is withdrawn everywhere", lacks(p.c1, "10.20.5.0/24"))
      yield* until("… N1 and E1 too", () => lacks(p.n1, "10.20.5.0/24")() && lacks(p.e1, "10.20.5.0/24")())
      assert.isUndefined(yield* rr.explain("10.20.5.0/24"))
    }).pipe(Effect.provide(quiet)))

  it.effect("with the default cluster id (the router id), a CLUSTER_LIST holding the router id is a loop", () =>
    Effect.gen(function*() {
      const { rr, p } = yield* lab()
      yield* p.n1.announce(
        { prefix: "10.30.1.0/24", nextHop: "192.0.2.3", attrs: iBgp({ originatorId: ip("10.0.0.77"), clusterList: [ip("10.255.9.9"), ip(RR_ID)] }) },
        { prefix: "10.30.2.0/24", nextHop: "192.0.2.3", attrs: iBgp({ originatorId: ip("10.0.0.77"), clusterList: [ip("10.255.9.9")] }) }
      )
      yield* until("the good route reaches C1", has(p.c1, "10.30.2.0/24"))
      yield* idle(2000)
      assert.isUndefined(yield* rr.explain("10.30.1.0/24"))
      assert.isFalse(p.c1.received.has("10.30.1.0/24"))
      assert.deepStrictEqual(reflection(p.c1.received.get("10.30.2.0/24")), { originatorId: "10.0.0.77", clusterList: [RR_ID, "10.255.9.9"] })
    }).pipe(Effect.provide(quiet)))
})

describe("sessions and paths", () => {
  it.effect("a client that drops: its routes are withdrawn from every peer, and come back when it re-establishes", () =>
    Effect.gen(function*() {
      const { net, rr, p } = yield* lab()
      yield* p.c1.announce({ prefix: "10.1.0.0/24", nextHop: "192.0.2.1", attrs: iBgp() }, { prefix: "2001:db8:1::/48", nextHop: "2001:db8::1", attrs: iBgp() })
      yield* p.c2.announce({ prefix: "10.2.0.0/24", nextHop: "192.0.2.2", attrs: iBgp() })
      const others = [p.c2, p.n1, p.n2, p.e1]
      yield* until("everyone has C1's routes", () => others.every((x) => has(x, "10.1.0.0/24", "2001:db8:1::/48")()))
      yield* until("C1 has C2's route", has(p.c1, "10.2.0.0/24"))
      yield* (net as MemoryNetwork).sever(addr.c1)
      yield* until("C1's routes are withdrawn everywhere", () => others.every((x) => lacks(x, "10.1.0.0/24", "2001:db8:1::/48")()))
      assert.isUndefined(yield* rr.explain("10.1.0.0/24"))
      assert.isTrue(p.n1.received.has("10.2.0.0/24"), "the other client's route stays")
      // C1 connects again (idle hold 1 s) and re-announces.
      yield* until("C1 back", () => p.c1.sessions() === 2 && p.c1.negotiated() !== undefined)
      yield* until("C1's routes are back everywhere", () => others.every((x) => has(x, "10.1.0.0/24", "2001:db8:1::/48")()))
      yield* until("C1 has the table again", has(p.c1, "10.2.0.0/24"))
      assert.deepStrictEqual(reflection(p.c2.received.get("10.1.0.0/24")), { originatorId: ids.c1, clusterList: [RR_ID] })
    }).pipe(Effect.provide(quiet)))

  it.effect("ADD-PATH (RFC 7911) to a client: every path, each with its own originator's ORIGINATOR_ID", () =>
    Effect.gen(function*() {
      const { p } = yield* lab({ addPathClient: true })
      const c3 = p.c3!
      yield* p.c1.announce({ prefix: "10.7.0.0/24", nextHop: "192.0.2.1", attrs: iBgp() }, { prefix: "2001:db8:7::/48", nextHop: "2001:db8::1", attrs: iBgp() })
      yield* p.c2.announce({ prefix: "10.7.0.0/24", nextHop: "192.0.2.2", attrs: iBgp() }, { prefix: "2001:db8:7::/48", nextHop: "2001:db8::2", attrs: iBgp() })
      yield* p.n1.announce({ prefix: "10.7.0.0/24", nextHop: "192.0.2.3", attrs: iBgp() })
      const paths = (prefix: string) => [...c3.received.entries()].filter(([k]) => k.startsWith(`${prefix}#`)).map(([, r]) => r)
      yield* until("C3 has three IPv4 paths and two IPv6 paths", () => paths("10.7.0.0/24").length === 3 && paths("2001:db8:7::/48").length === 2)
      const seen = paths("10.7.0.0/24").map((r) => `${r.nextHop} ${formatIpv4(r.attrs.originatorId!)} ${r.attrs.clusterList!.map(formatIpv4).join(",")}`).sort()
      assert.deepStrictEqual(seen, [`192.0.2.1 ${ids.c1} ${RR_ID}`, `192.0.2.2 ${ids.c2} ${RR_ID}`, `192.0.2.3 ${ids.n1} ${RR_ID}`])
      const seen6 = paths("2001:db8:7::/48").map((r) => `${r.nextHop} ${formatIpv4(r.attrs.originatorId!)}`).sort()
      assert.deepStrictEqual(seen6, [`2001:db8::1 ${ids.c1}`, `2001:db8::2 ${ids.c2}`])
      // A path goes: only that path is withdrawn.
      yield* p.c2.withdraw("10.7.0.0/24")
      yield* until("two IPv4 paths left", () => paths("10.7.0.0/24").length === 2)
      assert.deepStrictEqual(paths("10.7.0.0/24").map((r) => r.nextHop).sort(), ["192.0.2.1", "192.0.2.3"])
    }).pipe(Effect.provide(quiet)))
})

describe("RFC 4456 §8 on the client side", () => {
  it.effect("a plain Starling speaker ignores a reflected route whose ORIGINATOR_ID is its own router id", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork
      const client = yield* makeSpeaker({
        localAs: AS,
        routerId: "10.0.0.50",
        listen: [{ address: "10.9.0.50", port: 179 }],
        transport: net,
        neighbors: [passive(RR)]
      })
      // A raw peer plays a reflector that sends the client's own route back.
      const rr = yield* rawPeer(net, { name: "rr", address: RR, routerId: RR_ID, remote: "10.9.0.50" })
      yield* until("Established", () => allEstablished(client))
      yield* rr.announce(
        { prefix: "10.50.1.0/24", nextHop: "192.0.2.50", attrs: iBgp({ originatorId: ip("10.0.0.50"), clusterList: [ip(RR_ID)] }) },
        { prefix: "10.50.2.0/24", nextHop: "192.0.2.51", attrs: iBgp({ originatorId: ip("10.0.0.51"), clusterList: [ip(RR_ID)] }) }
      )
      yield* until("the other client's route arrives", () => Effect.map(client.routes, (rs) => rs.length >= 1))
      yield* idle(1000)
      assert.isUndefined(yield* client.explain("10.50.1.0/24"), "our own route, reflected back, must be ignored")
      const other = yield* client.explain("10.50.2.0/24")
      assert.strictEqual(other?.paths.length, 1)
      assert.strictEqual(other?.paths[0]?.attributes.originatorId, ip("10.0.0.51"))
    }).pipe(Effect.provide(quiet)))
})
