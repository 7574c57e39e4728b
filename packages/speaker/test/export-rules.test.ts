/**
 * What Starling sends to whom, checked on the wire: eBGP attribute rules (RFC 4271 §5), unknown
 * attributes, the AS loop check on import, well-known communities (RFC 1997), RFC 8212, the iBGP
 * re-advertisement rule (RFC 4271 §9.1.3) and split horizon inside an update group.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { AttrFlag, formatIpv6 } from "@starling/codec"
import { compilePolicy } from "@starling/rib"
import { makeMemoryNetwork } from "@starling/session"
import type { ReflectionHooks } from "@starling/speaker"
import { makeSpeaker } from "@starling/speaker"
import {
  acceptEverything,
  Afi,
  asns,
  connectRaw,
  drain,
  ipv4Block,
  LOCAL_AS,
  NO_ADVERTISE,
  NO_EXPORT,
  nh,
  prefixesOf,
  quiet,
  Safi,
  STARLING,
  starling
} from "./support/harness.ts"

const ibgp = (address: string) => ({ address, peerAs: LOCAL_AS })
const both = [{ afi: Afi.IPV4, safi: Safi.UNICAST }, { afi: Afi.IPV6, safi: Safi.UNICAST }]

/** Starling AS 65000 with eBGP neighbors E (AS 65001) and X (AS 65002), iBGP neighbors I and J. */
const topology = (overrides: { readonly allowAsIn?: number } = {}) =>
  Effect.gen(function*() {
    const net = yield* makeMemoryNetwork
    const policy = acceptEverything()
    const s = yield* starling(net, [
      { address: "10.0.2.1", peerAs: 65001, importPolicy: policy, exportPolicy: policy, families: both, nextHopV6: "2001:db8::1", ...overrides },
      { address: "10.0.3.1", peerAs: 65002, importPolicy: policy, exportPolicy: policy, families: both, nextHopV6: "2001:db8::1" },
      { ...ibgp("10.0.1.2"), families: both },
      { ...ibgp("10.0.1.3"), families: both }
    ])
    const e = yield* connectRaw(net, { address: "10.0.2.1", as: 65001, config: { families: both } })
    const x = yield* connectRaw(net, { address: "10.0.3.1", as: 65002, config: { families: both } })
    const i = yield* connectRaw(net, { address: "10.0.1.2", as: LOCAL_AS, config: { families: both } })
    const j = yield* connectRaw(net, { address: "10.0.1.3", as: LOCAL_AS, config: { families: both } })
    yield* drain(s)
    return { net, s, e, x, i, j }
  })

describe("eBGP export rules (RFC 4271 §5)", () => {
  it.effect("an iBGP route to eBGP: our AS prepended, NEXT_HOP ours, no LOCAL_PREF, ORIGINATOR_ID or CLUSTER_LIST", () =>
    Effect.gen(function*() {
      const { s, i, x, j } = yield* topology()
      yield* i.announce(["203.0.113.0/24"], {
        origin: 0,
        asPath: [{ type: 2, asns: [64700] }],
        nextHop: nh("192.0.2.50"),
        localPref: 250,
        originatorId: nh("10.9.9.9"),
        clusterList: [nh("10.8.8.8")],
        communities: [65000 * 65536 + 5]
      })
      yield* drain(s)
      const r = x.routes.get("203.0.113.0/24#0")
      assert.isDefined(r)
      const a = r!.attributes
      assert.deepStrictEqual(asns(a), [LOCAL_AS, 64700])
      assert.strictEqual(a.nextHop, nh(STARLING))
      assert.strictEqual(a.localPref, undefined)
      assert.strictEqual(a.originatorId, undefined)
      assert.strictEqual(a.clusterList, undefined)
      assert.deepStrictEqual(a.communities, [65000 * 65536 + 5], "communities pass")
      // iBGP-learned: not to the other iBGP peer (no reflection, RFC 4271 §9.1.3).
      assert.isFalse(j.routes.has("203.0.113.0/24#0"))
    }).pipe(Effect.provide(quiet)))

  it.effect("an eBGP route: its MED is not passed to another AS but is kept inside ours; next hop unchanged toward iBGP", () =>
    Effect.gen(function*() {
      const { s, e, x, i } = yield* topology()
      yield* e.announce(["198.51.100.0/24"], { origin: 1, asPath: [{ type: 2, asns: [65001, 64800] }], nextHop: nh("192.0.2.60"), med: 77 })
      yield* drain(s)
      const toX = x.routes.get("198.51.100.0/24#0")!.attributes
      assert.deepStrictEqual(asns(toX), [LOCAL_AS, 65001, 64800])
      assert.strictEqual(toX.med, undefined, "RFC 4271 §5.1.4")
      assert.strictEqual(toX.origin, 1)
      assert.strictEqual(toX.nextHop, nh(STARLING))
      const toI = i.routes.get("198.51.100.0/24#0")!.attributes
      assert.strictEqual(toI.med, 77)
      assert.strictEqual(toI.localPref, 100, "LOCAL_PREF is added toward iBGP (RFC 4271 §5.1.5)")
      assert.strictEqual(toI.nextHop, nh("192.0.2.60"))
      assert.deepStrictEqual(asns(toI), [65001, 64800])
      // Not back to E: its own AS is in the path (and it sent it).
      assert.isFalse(e.routes.has("198.51.100.0/24#0"))
    }).pipe(Effect.provide(quiet)))

  it.effect("a local route keeps the MED we set; IPv6 to eBGP gets nextHopV6 in MP_REACH_NLRI", () =>
    Effect.gen(function*() {
      const { s, x, i } = yield* topology()
      yield* s.originate("192.0.2.128/25", { nextHop: nh("192.0.2.1"), med: 10 })
      yield* s.originate("2001:db8:40::/48", { mpNextHop: new Uint8Array([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x99]) })
      yield* drain(s)
      const v4 = x.routes.get("192.0.2.128/25#0")!.attributes
      assert.strictEqual(v4.med, 10)
      assert.deepStrictEqual(asns(v4), [LOCAL_AS])
      const v6 = x.routes.get("2001:db8:40::/48#0")!
      assert.strictEqual(formatIpv6(v6.mpNextHop!), "2001:db8::1")
      assert.deepStrictEqual(asns(v6.attributes), [LOCAL_AS])
      assert.strictEqual(v6.attributes.nextHop, undefined)
      // iBGP gets the local route with the next hop it was given.
      assert.strictEqual(formatIpv6(i.routes.get("2001:db8:40::/48#0")!.mpNextHop!), "2001:db8::99")
    }).pipe(Effect.provide(quiet)))

  it.effect("an export policy's IPv6 next hop goes out in MP_REACH_NLRI; IPv4 routes keep theirs", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork
      const v6NextHop = compilePolicy({ statements: [{ action: "accept", set: { nextHop: "2001:db8::42" } }] })
      const s = yield* starling(net, [
        { address: "10.0.3.1", peerAs: 65002, importPolicy: acceptEverything(), exportPolicy: v6NextHop, families: both, nextHopV6: "2001:db8::1" }
      ])
      const x = yield* connectRaw(net, { address: "10.0.3.1", as: 65002, config: { families: both } })
      yield* s.originate("192.0.2.128/25", { nextHop: nh("192.0.2.1") })
      yield* s.originate("2001:db8:40::/48", { mpNextHop: new Uint8Array([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x99]) })
      yield* drain(s)
      assert.strictEqual(formatIpv6(x.routes.get("2001:db8:40::/48#0")!.mpNextHop!), "2001:db8::42")
      assert.strictEqual(x.routes.get("192.0.2.128/25#0")!.attributes.nextHop, nh(STARLING))
    }).pipe(Effect.provide(quiet)))

  it.effect("unknown attributes: optional transitive passed with Partial set, optional non-transitive dropped", () =>
    Effect.gen(function*() {
      const { s, e, x, i } = yield* topology()
      yield* e.announce(["198.51.100.0/24"], {
        origin: 0,
        asPath: [{ type: 2, asns: [65001] }],
        nextHop: nh("192.0.2.60"),
        unknown: [
          { flags: AttrFlag.OPTIONAL | AttrFlag.TRANSITIVE, type: 240, value: Uint8Array.of(1, 2, 3) },
          { flags: AttrFlag.OPTIONAL, type: 241, value: Uint8Array.of(4, 5) }
        ]
      })
      yield* drain(s)
      for (const peer of [x, i]) {
        const u = peer.routes.get("198.51.100.0/24#0")!.attributes.unknown ?? []
        assert.deepStrictEqual(u.map((a) => [a.type, a.flags & (AttrFlag.OPTIONAL | AttrFlag.TRANSITIVE | AttrFlag.PARTIAL), [...a.value]]), [
          [240, AttrFlag.OPTIONAL | AttrFlag.TRANSITIVE | AttrFlag.PARTIAL, [1, 2, 3]]
        ])
      }
    }).pipe(Effect.provide(quiet)))
})

describe("export policy", () => {
  it.effect("runs per prefix: prefixes sharing one attribute set can leave with different attributes, or not at all", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork
      const imp = acceptEverything()
      const s = yield* starling(net, [
        { address: "10.0.2.1", peerAs: 65001, importPolicy: imp, exportPolicy: imp },
        {
          address: "10.0.3.1",
          peerAs: 65002,
          importPolicy: imp,
          // MED from the prefix's third octet; odd third octets rejected.
          exportPolicy: (r) => ((r.prefix.w0 >>> 8) & 1) === 1 ? undefined : { ...r.attrs, med: (r.prefix.w0 >>> 8) & 255 }
        },
        { address: "10.0.4.1", peerAs: 65003, importPolicy: imp, exportPolicy: imp }
      ])
      const e = yield* connectRaw(net, { address: "10.0.2.1", as: 65001 })
      const x = yield* connectRaw(net, { address: "10.0.3.1", as: 65002 })
      const y = yield* connectRaw(net, { address: "10.0.4.1", as: 65003 })
      yield* e.announce(ipv4Block("10.1.0.0", 6), { origin: 0, asPath: [{ type: 2, asns: [65001] }], nextHop: nh("192.0.2.60") })
      yield* drain(s)
      assert.deepStrictEqual([...x.routes.values()].map((r) => [r.prefix, r.attributes.med]).sort(), [
        ["10.1.0.0/24", 0],
        ["10.1.2.0/24", 2],
        ["10.1.4.0/24", 4]
      ])
      // The other group is not affected by this group's policy.
      assert.strictEqual(y.routes.size, 6)
      assert.isTrue([...y.routes.values()].every((r) => r.attributes.med === undefined))
    }).pipe(Effect.provide(quiet)))
})

describe("import checks", () => {
  it.effect("a path holding our AS is a loop and is not used (RFC 4271 §9.1.2); allowAsIn relaxes it", () =>
    Effect.gen(function*() {
      const loop = { origin: 0, asPath: [{ type: 2, asns: [65001, LOCAL_AS, 64900] }], nextHop: nh("192.0.2.60") } as const
      const strict = yield* topology()
      yield* strict.e.announce(["198.51.100.0/24"], loop)
      yield* strict.e.announce(["198.51.101.0/24"], { ...loop, asPath: [{ type: 2, asns: [65001, 64900] }] })
      yield* drain(strict.s)
      assert.deepStrictEqual((yield* strict.s.routes).map((r) => r.best.source), ["10.0.2.1"])
      assert.deepStrictEqual(prefixesOf(strict.i), ["198.51.101.0/24"])
      // A route that was fine and now arrives with a loop is withdrawn (treated as a withdrawal).
      yield* strict.e.announce(["198.51.101.0/24"], loop)
      yield* drain(strict.s)
      assert.deepStrictEqual(prefixesOf(strict.i), [])

      const relaxed = yield* topology({ allowAsIn: 1 })
      yield* relaxed.e.announce(["198.51.100.0/24"], loop)
      // Twice is more than allowed.
      yield* relaxed.e.announce(["198.51.102.0/24"], { ...loop, asPath: [{ type: 2, asns: [65001, LOCAL_AS, LOCAL_AS, 64900] }] })
      yield* drain(relaxed.s)
      assert.deepStrictEqual(prefixesOf(relaxed.i), ["198.51.100.0/24"])
    }).pipe(Effect.provide(quiet)))
})

describe("well-known communities (RFC 1997)", () => {
  it.effect("NO_EXPORT stays inside the AS; NO_ADVERTISE goes to no one", () =>
    Effect.gen(function*() {
      const { s, e, x, i } = yield* topology()
      const base = { origin: 0, asPath: [{ type: 2, asns: [65001] }], nextHop: nh("192.0.2.60") } as const
      yield* e.announce(["198.51.100.0/24"], { ...base, communities: [NO_EXPORT] })
      yield* e.announce(["198.51.101.0/24"], { ...base, communities: [65001 * 65536 + 9, NO_ADVERTISE] })
      yield* e.announce(["198.51.102.0/24"], base)
      yield* drain(s)
      assert.strictEqual((yield* s.routes).length, 3, "all three are in the Loc-RIB")
      assert.deepStrictEqual(prefixesOf(i), ["198.51.100.0/24", "198.51.102.0/24"])
      assert.deepStrictEqual(prefixesOf(x), ["198.51.102.0/24"])
      // Locally originated with NO_EXPORT: the same.
      yield* s.originate("192.0.2.0/24", { nextHop: nh("192.0.2.1"), communities: [NO_EXPORT] })
      yield* drain(s)
      assert.isTrue(i.routes.has("192.0.2.0/24#0"))
      assert.isFalse(x.routes.has("192.0.2.0/24#0"))
    }).pipe(Effect.provide(quiet)))
})

describe("RFC 8212: eBGP without policy", () => {
  for (const required of [true, false]) {
    it.effect(`ebgpRequiresPolicy ${required}: ${required ? "nothing is exchanged" : "routes flow both ways"}`, () =>
      Effect.gen(function*() {
        const net = yield* makeMemoryNetwork
        const s = yield* starling(net, [{ address: "10.0.2.1", peerAs: 65001 }, ibgp("10.0.1.2")], required ? {} : { ebgpRequiresPolicy: false })
        yield* s.originate("192.0.2.0/24", { nextHop: nh("192.0.2.1") })
        const e = yield* connectRaw(net, { address: "10.0.2.1", as: 65001 })
        const i = yield* connectRaw(net, { address: "10.0.1.2", as: LOCAL_AS })
        yield* i.announce(["203.0.113.0/24"], { origin: 0, asPath: [], nextHop: nh("192.0.2.70"), localPref: 100 })
        yield* e.announce(["198.51.100.0/24"], { origin: 0, asPath: [{ type: 2, asns: [65001] }], nextHop: nh("192.0.2.60") })
        yield* drain(s)
        const loc = (yield* s.routes).map((r) => r.prefix).length
        if (required) {
          assert.deepStrictEqual(prefixesOf(e), [])
          assert.deepStrictEqual(e.endOfRib, ["1/1"], "the session itself works: End-of-RIB arrives")
          assert.isFalse(i.routes.has("198.51.100.0/24#0"))
          assert.strictEqual(loc, 2)
        } else {
          assert.deepStrictEqual(prefixesOf(e), ["192.0.2.0/24", "203.0.113.0/24"])
          assert.isTrue(i.routes.has("198.51.100.0/24#0"))
          assert.strictEqual(loc, 3)
        }
      }).pipe(Effect.provide(quiet)))
  }
})

describe("split horizon", () => {
  // Reflection as the reflector package plugs it in: every member is a client, everything is reflected.
  const reflectAll: ReflectionHooks = {
    groupReflection: (_nb, routerId) => ({ client: true, clusterId: routerId, routerId, reflects: () => true })
  }

  it.effect("reflected routes: split horizon per member, and the member that sent the old best gets a withdrawal", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork
      const s = yield* makeSpeaker({
        localAs: LOCAL_AS,
        routerId: STARLING,
        listen: [{ address: STARLING, port: 179 }],
        transport: net,
        neighbors: ["10.0.1.1", "10.0.1.2", "10.0.1.3"].map((address) => ({ address, peerAs: LOCAL_AS, passive: true, routeReflectorClient: true }))
      }, reflectAll)
      const [a, b, c] = [
        yield* connectRaw(net, { address: "10.0.1.1", as: LOCAL_AS }),
        yield* connectRaw(net, { address: "10.0.1.2", as: LOCAL_AS }),
        yield* connectRaw(net, { address: "10.0.1.3", as: LOCAL_AS })
      ]
      yield* drain(s)
      assert.strictEqual((yield* s.groups).length, 1, "one group for the three clients")
      yield* a.announce(ipv4Block("10.50.0.0", 3), { origin: 0, asPath: [], nextHop: nh("192.0.2.11"), localPref: 100 })
      yield* drain(s)
      assert.deepStrictEqual(prefixesOf(a), [], "not back to the sender")
      assert.strictEqual(prefixesOf(b).length, 3)
      assert.strictEqual(prefixesOf(c).length, 3)
      // Reflected: ORIGINATOR_ID is A, CLUSTER_LIST holds our cluster id (RFC 4456 §8).
      const r = b.routes.get("10.50.0.0/24#0")!.attributes
      assert.strictEqual(r.originatorId, nh("10.0.1.1"))
      assert.deepStrictEqual(r.clusterList, [nh(STARLING)])
      // B now sends a better path for one prefix: A gets it, B does not get its own back and gets a
      // withdrawal of A's path it held before.
      const markB = b.received.length
      yield* b.announce(["10.50.0.0/24"], { origin: 0, asPath: [], nextHop: nh("192.0.2.12"), localPref: 200 })
      yield* drain(s)
      assert.strictEqual(a.routes.get("10.50.0.0/24#0")!.attributes.localPref, 200)
      assert.strictEqual(c.routes.get("10.50.0.0/24#0")!.attributes.localPref, 200)
      assert.isFalse(b.routes.has("10.50.0.0/24#0"))
      const toB = b.received.slice(markB).flatMap((m) => (m.message._tag === "Update" ? [m.message] : []))
      assert.deepStrictEqual(toB.map((u) => [u.withdrawn.length, u.nlri.length]), [[1, 0]])
    }).pipe(Effect.provide(quiet)))
})
