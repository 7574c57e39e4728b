/**
 * Export through update groups, checked on the wire: who shares a group, that a change is encoded once
 * per group (members get the very same buffers), how UPDATEs are packed, End-of-RIB after the initial
 * table, and that nothing is re-sent when the best path did not change.
 */
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect } from "effect"
import { formatPrefix } from "@starling/codec"
import { makeMemoryNetwork } from "@starling/session"
import {
  Afi,
  acceptEverything,
  advance,
  asns,
  connectRaw,
  drain,
  ipv4Block,
  LOCAL_AS,
  nh,
  prefixesOf,
  quiet,
  recordingTransport,
  Safi,
  starling
} from "./support/harness.ts"

const ibgp = (address: string) => ({ address, peerAs: LOCAL_AS })

describe("update groups", () => {
  it.effect("peers with the same export policy and encoding share a group; policy, AS4, ADD-PATH and session type split them", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork
      const shared = acceptEverything()
      const other = acceptEverything()
      const s = yield* starling(net, [
        ibgp("10.0.1.1"),
        ibgp("10.0.1.2"),
        ibgp("10.0.1.3"),
        // iBGP, but ADD-PATH send negotiated
        { ...ibgp("10.0.1.4"), addPath: [{ afi: 1, safi: 1, send: true, receive: false }] },
        // iBGP, but a 2-octet-AS speaker
        ibgp("10.0.1.5"),
        // eBGP AS 65001, same policy object: one group
        { address: "10.0.2.1", peerAs: 65001, importPolicy: shared, exportPolicy: shared },
        { address: "10.0.2.2", peerAs: 65001, importPolicy: shared, exportPolicy: shared },
        // eBGP AS 65001 with another (equivalent) policy function: its own group
        { address: "10.0.2.3", peerAs: 65001, importPolicy: shared, exportPolicy: other },
        // named policies: same name, same group
        { address: "10.0.2.4", peerAs: 65001, importPolicy: "all", exportPolicy: "all" },
        { address: "10.0.2.5", peerAs: 65001, importPolicy: "all", exportPolicy: "all" }
      ], { policies: { all: acceptEverything() } })
      for (const a of ["10.0.1.1", "10.0.1.2", "10.0.1.3"]) yield* connectRaw(net, { address: a, as: LOCAL_AS })
      yield* connectRaw(net, { address: "10.0.1.4", as: LOCAL_AS, config: { addPath: [{ afi: 1, safi: 1, send: false, receive: true }] } })
      yield* connectRaw(net, { address: "10.0.1.5", as: LOCAL_AS, noAs4: true })
      for (const a of ["10.0.2.1", "10.0.2.2", "10.0.2.3", "10.0.2.4", "10.0.2.5"]) yield* connectRaw(net, { address: a, as: 65001 })
      yield* drain(s)
      const groups = yield* s.groups
      const sizes = groups.map((g) => g.members).sort()
      // iBGP (3), ADD-PATH (1), 2-octet AS (1), eBGP shared fn (2), eBGP other fn (1), eBGP named (2)
      assert.deepStrictEqual(sizes, [1, 1, 1, 2, 2, 3])
      assert.strictEqual(groups.length, 6)
    }).pipe(Effect.provide(quiet)))

  it.effect("one change is encoded once per group: every member is handed the same buffers", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork
      const { transport, log } = recordingTransport(net)
      const policy = acceptEverything()
      const s = yield* starling(transport, [
        ibgp("10.0.1.1"),
        ibgp("10.0.1.2"),
        ibgp("10.0.1.3"),
        { address: "10.0.2.1", peerAs: 65001, importPolicy: policy, exportPolicy: policy },
        { address: "10.0.2.2", peerAs: 65001, importPolicy: policy, exportPolicy: policy }
      ])
      const peers = []
      for (const a of ["10.0.1.1", "10.0.1.2", "10.0.1.3"]) peers.push(yield* connectRaw(net, { address: a, as: LOCAL_AS }))
      for (const a of ["10.0.2.1", "10.0.2.2"]) peers.push(yield* connectRaw(net, { address: a, as: 65001 }))
      yield* drain(s)
      const before = log.writes.length
      yield* s.originate("192.0.2.0/24", { nextHop: nh("192.0.2.1"), med: 5 })
      yield* drain(s)
      const written = log.writes.slice(before).filter((w) => w.chunk[18] === 2)
      assert.strictEqual(written.length, 5, "one UPDATE to each of the five peers")
      const distinct = new Set(written.map((w) => w.chunk))
      assert.strictEqual(distinct.size, 2, "encoded once for the iBGP group and once for the eBGP group")
      const byGroup = (addrs: string[]) => new Set(written.filter((w) => addrs.includes(w.to)).map((w) => w.chunk))
      assert.strictEqual(byGroup(["10.0.1.1", "10.0.1.2", "10.0.1.3"]).size, 1)
      assert.strictEqual(byGroup(["10.0.2.1", "10.0.2.2"]).size, 1)
      // And what arrived is right for each kind of session.
      for (const p of peers) assert.deepStrictEqual(prefixesOf(p), ["192.0.2.0/24"])
      assert.strictEqual(peers[0]!.routes.get("192.0.2.0/24#0")!.attributes.localPref, 100)
      assert.strictEqual(peers[3]!.routes.get("192.0.2.0/24#0")!.attributes.localPref, undefined)
    }).pipe(Effect.provide(quiet)))

  it.effect("a burst of changes from one UPDATE is encoded once per group, not once per member", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork
      const { transport, log } = recordingTransport(net)
      const members = ["10.0.1.2", "10.0.1.3", "10.0.1.4", "10.0.1.5"]
      const policy = acceptEverything()
      const s = yield* starling(transport, [
        { address: "10.0.2.1", peerAs: 65001, importPolicy: policy, exportPolicy: policy },
        ...members.map(ibgp)
      ])
      const src = yield* connectRaw(net, { address: "10.0.2.1", as: 65001 })
      const sinks = []
      for (const a of members) sinks.push(yield* connectRaw(net, { address: a, as: LOCAL_AS, config: { extendedMessage: false } }))
      yield* drain(s)
      const before = log.writes.length
      // Three attribute sets, 200 prefixes each.
      for (let k = 0; k < 3; k++) {
        yield* src.announce(ipv4Block(`10.${k + 1}.0.0`, 200), { origin: 0, asPath: [{ type: 2, asns: [65001, 64600 + k] }], nextHop: nh("192.0.2.9") })
      }
      yield* drain(s)
      for (const k of sinks) assert.strictEqual(k.routes.size, 600)
      const written = log.writes.slice(before).filter((w) => w.chunk[18] === 2 && members.includes(w.to))
      const distinct = new Set(written.map((w) => w.chunk))
      // One attribute set's 200 /24s fit one 4096-octet UPDATE: at least 3, and every member got each of them.
      assert.isAtLeast(distinct.size, 3)
      assert.strictEqual(written.length, distinct.size * members.length)
    }).pipe(Effect.provide(quiet)))
})

describe("ADD-PATH send (RFC 7911)", () => {
  it.effect("a peer with ADD-PATH gets every path under its own path id; the others get the best only", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork
      const policy = acceptEverything()
      const s = yield* starling(net, [
        { address: "10.0.2.1", peerAs: 65001, importPolicy: policy, exportPolicy: policy },
        { address: "10.0.3.1", peerAs: 65002, importPolicy: policy, exportPolicy: policy },
        { ...ibgp("10.0.1.2"), addPath: [{ afi: 1, safi: 1, send: true, receive: false }] },
        ibgp("10.0.1.3")
      ])
      const e1 = yield* connectRaw(net, { address: "10.0.2.1", as: 65001 })
      const e2 = yield* connectRaw(net, { address: "10.0.3.1", as: 65002 })
      const multi = yield* connectRaw(net, { address: "10.0.1.2", as: LOCAL_AS, config: { addPath: [{ afi: 1, safi: 1, send: false, receive: true }] } })
      const single = yield* connectRaw(net, { address: "10.0.1.3", as: LOCAL_AS })
      yield* e1.announce(["10.1.0.0/24"], { origin: 0, asPath: [{ type: 2, asns: [65001] }], nextHop: nh("192.0.2.61") })
      yield* e2.announce(["10.1.0.0/24"], { origin: 0, asPath: [{ type: 2, asns: [65002, 65009] }], nextHop: nh("192.0.2.62") })
      yield* drain(s)
      const paths = [...multi.routes.values()].map((r) => [r.prefix, r.attributes.nextHop]).sort()
      assert.deepStrictEqual(paths, [["10.1.0.0/24", nh("192.0.2.61")], ["10.1.0.0/24", nh("192.0.2.62")]])
      assert.strictEqual(new Set([...multi.routes.values()].map((r) => r.pathId)).size, 2)
      assert.deepStrictEqual([...single.routes.values()].map((r) => [r.prefix, r.pathId, r.attributes.nextHop]), [["10.1.0.0/24", 0, nh("192.0.2.61")]])
      // The best path goes: the ADD-PATH peer loses that path id only; the other peer gets the new best.
      const kept = [...multi.routes.values()].find((r) => r.attributes.nextHop === nh("192.0.2.62"))!.pathId
      yield* e1.withdraw(["10.1.0.0/24"])
      yield* drain(s)
      assert.deepStrictEqual([...multi.routes.values()].map((r) => [r.pathId, r.attributes.nextHop]), [[kept, nh("192.0.2.62")]])
      assert.deepStrictEqual([...single.routes.values()].map((r) => r.attributes.nextHop), [nh("192.0.2.62")])
    }).pipe(Effect.provide(quiet)))
})

describe("UPDATE packing", () => {
  for (const extended of [false, true]) {
    it.effect(`1000 prefixes sharing one attribute set fill ${extended ? "one extended (RFC 8654)" : "4096-octet"} UPDATE${extended ? "" : "s"}`, () =>
      Effect.gen(function*() {
        const net = yield* makeMemoryNetwork
        const policy = acceptEverything()
        const s = yield* starling(net, [{ address: "10.0.2.1", peerAs: 65001, importPolicy: policy, exportPolicy: policy }, ibgp("10.0.1.2")])
        const src = yield* connectRaw(net, { address: "10.0.2.1", as: 65001, config: { extendedMessage: true } })
        const sink = yield* connectRaw(net, { address: "10.0.1.2", as: LOCAL_AS, config: { extendedMessage: extended } })
        yield* drain(s)
        const mark = sink.received.length
        const prefixes = ipv4Block("10.0.0.0", 1000)
        // One extended UPDATE in: all 1000 prefixes reach the RIB in one step.
        yield* src.announce(prefixes, { origin: 0, asPath: [{ type: 2, asns: [65001] }], nextHop: nh("192.0.2.9"), communities: [65001 * 65536 + 7] })
        yield* drain(s)
        const msgs = sink.received.slice(mark).filter((r) => r.message._tag === "Update")
        assert.strictEqual(sink.routes.size, 1000)
        if (extended) {
          assert.strictEqual(msgs.length, 1)
          return
        }
        // Every message carries the same attributes; NLRI fill the rest of 4096 octets.
        const first = msgs[0]!
        const u = first.message as Extract<typeof first.message, { _tag: "Update" }>
        const attrBytes = first.bytes.length - 19 - 4 - u.nlri.length * 4
        const perMessage = Math.floor((4096 - 19 - 4 - attrBytes) / 4)
        assert.strictEqual(msgs.length, Math.ceil(1000 / perMessage))
        for (const m of msgs.slice(0, -1)) assert.isAbove(m.bytes.length, 4096 - 4, "all but the last message are full")
        for (const m of msgs) assert.isAtMost(m.bytes.length, 4096)
      }).pipe(Effect.provide(quiet)))
  }

  it.effect("withdrawals are batched: 2000 withdrawn /24s take ceil(8000 / 4073) messages", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork
      const policy = acceptEverything()
      const s = yield* starling(net, [{ address: "10.0.2.1", peerAs: 65001, importPolicy: policy, exportPolicy: policy }, ibgp("10.0.1.2")])
      const src = yield* connectRaw(net, { address: "10.0.2.1", as: 65001, config: { extendedMessage: true } })
      const sink = yield* connectRaw(net, { address: "10.0.1.2", as: LOCAL_AS, config: { extendedMessage: false } })
      const prefixes = ipv4Block("10.0.0.0", 2000)
      // Two attribute sets, so the announcements and the withdrawals differ in shape.
      yield* src.announce(prefixes.slice(0, 1000), { origin: 0, asPath: [{ type: 2, asns: [65001, 1] }], nextHop: nh("192.0.2.9") })
      yield* src.announce(prefixes.slice(1000), { origin: 0, asPath: [{ type: 2, asns: [65001, 2] }], nextHop: nh("192.0.2.9") })
      yield* drain(s)
      assert.strictEqual(sink.routes.size, 2000)
      const mark = sink.received.length
      yield* src.withdraw(prefixes)
      yield* drain(s)
      const msgs = sink.received.slice(mark).flatMap((r) => (r.message._tag === "Update" ? [r.message] : []))
      assert.strictEqual(sink.routes.size, 0)
      // Header 19 + withdrawn length 2 + attribute length 2 leaves 4073 octets for 4-octet /24s.
      assert.strictEqual(msgs.length, Math.ceil(2000 * 4 / 4073))
      for (const m of msgs) {
        assert.strictEqual(m.nlri.length, 0)
        assert.deepStrictEqual(m.attributes, {})
      }
    }).pipe(Effect.provide(quiet)))
})

describe("End-of-RIB", () => {
  it.effect("the initial table is followed by one End-of-RIB per negotiated family (RFC 4724 §2)", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork
      const s = yield* starling(net, [ibgp("10.0.1.1"), ibgp("10.0.1.2")])
      yield* s.originate("192.0.2.0/24", { nextHop: nh("192.0.2.1") })
      yield* s.originate("198.51.100.0/24", { nextHop: nh("192.0.2.1") })
      yield* s.originate("2001:db8:1::/48", { mpNextHop: new Uint8Array(16).fill(0x20, 0, 1) })
      const both = [{ afi: Afi.IPV4, safi: Safi.UNICAST }, { afi: Afi.IPV6, safi: Safi.UNICAST }]
      const p = yield* connectRaw(net, { address: "10.0.1.1", as: LOCAL_AS, config: { families: both } })
      yield* drain(s)
      assert.deepStrictEqual(prefixesOf(p), ["192.0.2.0/24", "198.51.100.0/24", "2001:db8:1::/48"])
      assert.deepStrictEqual([...p.endOfRib].sort(), ["1/1", "2/1"])
      // Routes first, markers last.
      const kinds = p.updates().map((u) => (u.nlri.length > 0 || (u.mpReach?.nlri.length ?? 0) > 0 ? "route" : "eor"))
      assert.deepStrictEqual(kinds.slice(-2), ["eor", "eor"])
      assert.notInclude(kinds.slice(0, -2), "eor")
      // An IPv4-only peer gets only the IPv4 marker, and no IPv6 route.
      const q = yield* connectRaw(net, { address: "10.0.1.2", as: LOCAL_AS })
      yield* drain(s)
      assert.deepStrictEqual(q.endOfRib, ["1/1"])
      assert.deepStrictEqual(prefixesOf(q), ["192.0.2.0/24", "198.51.100.0/24"])
    }).pipe(Effect.provide(quiet)))
})

describe("nothing is re-sent when the best path did not change", () => {
  const setup = Effect.gen(function*() {
    const net = yield* makeMemoryNetwork
    const policy = acceptEverything()
    const s = yield* starling(net, [
      { address: "10.0.2.1", peerAs: 65001, importPolicy: policy, exportPolicy: policy },
      { address: "10.0.3.1", peerAs: 65002, importPolicy: policy, exportPolicy: policy },
      ibgp("10.0.1.2")
    ])
    const e1 = yield* connectRaw(net, { address: "10.0.2.1", as: 65001 })
    const e2 = yield* connectRaw(net, { address: "10.0.3.1", as: 65002 })
    const sink = yield* connectRaw(net, { address: "10.0.1.2", as: LOCAL_AS })
    yield* drain(s)
    return { s, e1, e2, sink }
  })
  const updatesSince = (p: { received: ReadonlyArray<{ message: { _tag: string } }> }, mark: number) =>
    p.received.slice(mark).filter((r) => r.message._tag === "Update").length

  it.effect("the same attributes announced again produce no UPDATE", () =>
    Effect.gen(function*() {
      const { s, e1, sink } = yield* setup
      const attrs = { origin: 0, asPath: [{ type: 2, asns: [65001] }], nextHop: nh("192.0.2.9"), communities: [65001 * 65536 + 1] } as const
      yield* e1.announce(ipv4Block("10.1.0.0", 50), attrs)
      yield* drain(s)
      assert.strictEqual(sink.routes.size, 50)
      const mark = sink.received.length
      yield* e1.announce(ipv4Block("10.1.0.0", 50), attrs)
      yield* e1.announce(ipv4Block("10.1.0.0", 10), attrs)
      yield* drain(s)
      assert.strictEqual(updatesSince(sink, mark), 0)
      // A real change still goes out (the check above is not blind).
      yield* e1.announce(ipv4Block("10.1.0.0", 1), { ...attrs, communities: [65001 * 65536 + 2] })
      yield* drain(s)
      assert.strictEqual(updatesSince(sink, mark), 1)
    }).pipe(Effect.provide(quiet)))

  it.effect("a worse path appearing (or going) produces no UPDATE", () =>
    Effect.gen(function*() {
      const { s, e1, e2, sink } = yield* setup
      yield* e1.announce(ipv4Block("10.1.0.0", 20), { origin: 0, asPath: [{ type: 2, asns: [65001, 65005] }], nextHop: nh("192.0.2.9") })
      yield* drain(s)
      const mark = sink.received.length
      // Longer AS path: worse (RFC 4271 §9.1.2.2 a).
      yield* e2.announce(ipv4Block("10.1.0.0", 20), { origin: 0, asPath: [{ type: 2, asns: [65002, 65010, 65011] }], nextHop: nh("192.0.2.10") })
      yield* drain(s)
      const explained = yield* s.explain("10.1.0.0/24")
      assert.strictEqual(explained?.paths.length, 2, "Starling holds both paths")
      assert.strictEqual(updatesSince(sink, mark), 0)
      yield* e2.withdraw(ipv4Block("10.1.0.0", 20))
      yield* drain(s)
      assert.strictEqual(updatesSince(sink, mark), 0)
      // A better path does go out, once per attribute set.
      yield* e2.announce(ipv4Block("10.1.0.0", 20), { origin: 0, asPath: [{ type: 2, asns: [65002] }], nextHop: nh("192.0.2.10") })
      yield* drain(s)
      assert.strictEqual(updatesSince(sink, mark), 1)
      assert.deepStrictEqual(asns(sink.routes.get("10.1.0.0/24#0")!.attributes), [65002])
    }).pipe(Effect.provide(quiet)))
})

describe("advertisement interval (MinRouteAdvertisementInterval, RFC 4271 §9.2.1.1)", () => {
  it.effect("changes to a group are coalesced and flushed at most once per interval", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork
      const policy = acceptEverything()
      const s = yield* starling(net, [
        { address: "10.0.2.1", peerAs: 65001, importPolicy: policy, exportPolicy: policy },
        ibgp("10.0.1.2"),
        ibgp("10.0.1.3")
      ], { advertisementIntervalMs: 5_000 })
      const src = yield* connectRaw(net, { address: "10.0.2.1", as: 65001 })
      const sinks = [yield* connectRaw(net, { address: "10.0.1.2", as: LOCAL_AS }), yield* connectRaw(net, { address: "10.0.1.3", as: LOCAL_AS })]
      yield* drain(s)
      const t0 = yield* Clock.currentTimeMillis
      const marks = sinks.map((k) => k.received.length)
      const attrs = (n: number) => ({ origin: 0, asPath: [{ type: 2, asns: [65001, n] }], nextHop: nh("192.0.2.9") }) as const
      // One change per second for 12 s: a prefix that flaps (new attributes each time) and a new prefix each time.
      for (let i = 0; i < 12; i++) {
        yield* src.announce(["10.9.0.0/24", `10.8.${i}.0/24`], attrs(i))
        if (i === 6) yield* src.withdraw(["10.8.2.0/24"])
        yield* advance(1_000)
      }
      yield* advance(10_000)
      yield* drain(s)
      for (const [i, k] of sinks.entries()) {
        const got = k.received.slice(marks[i]!).filter((r) => r.message._tag === "Update")
        const times = [...new Set(got.map((r) => r.at - t0))]
        // The first change at once; then flushes 5 s apart (the last at 10 s covers changes up to 11 s... and 15 s).
        assert.deepStrictEqual(times, [0, 5_000, 10_000, 15_000])
        // The end state is exact.
        assert.strictEqual(k.routes.size, 12)
        assert.isFalse(k.routes.has("10.8.2.0/24#0"))
        assert.deepStrictEqual(asns(k.routes.get("10.9.0.0/24#0")!.attributes), [65001, 11])
        // The flapping prefix was sent once per flush, not once per change.
        const flaps = got.filter((r) => r.message._tag === "Update" && r.message.nlri.some((p) => formatPrefix(p) === "10.9.0.0/24"))
        assert.strictEqual(flaps.length, 4)
      }
    }).pipe(Effect.provide(quiet)))

  it.effect("without an interval every change goes out at once", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork
      const policy = acceptEverything()
      const s = yield* starling(net, [{ address: "10.0.2.1", peerAs: 65001, importPolicy: policy, exportPolicy: policy }, ibgp("10.0.1.2")])
      const src = yield* connectRaw(net, { address: "10.0.2.1", as: 65001 })
      const sink = yield* connectRaw(net, { address: "10.0.1.2", as: LOCAL_AS })
      yield* drain(s)
      const t0 = yield* Clock.currentTimeMillis
      const mark = sink.received.length
      for (let i = 0; i < 4; i++) {
        yield* src.announce(["10.9.0.0/24"], { origin: 0, asPath: [{ type: 2, asns: [65001, i] }], nextHop: nh("192.0.2.9") })
        yield* advance(1_000)
      }
      const times = sink.received.slice(mark).filter((r) => r.message._tag === "Update").map((r) => r.at - t0)
      assert.deepStrictEqual(times, [0, 1_000, 2_000, 3_000])
    }).pipe(Effect.provide(quiet)))
})
