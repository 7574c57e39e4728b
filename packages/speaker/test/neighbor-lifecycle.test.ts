/**
 * What happens to routes when sessions come and go, checked on the wire in virtual time: session loss,
 * the graceful-restart helper (RFC 4724 §4.2), route refresh (RFC 2918, enhanced RFC 7313), max-prefix
 * limits (RFC 4486 Cease subcode 1) and a slow peer (bounded queue, Cease/Out of Resources).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { CeaseSubcode, ErrorCode, RouteRefreshSubtype, shutdownMessage } from "@starling/codec"
import { makeMemoryNetwork, makeMemoryNetworkWith } from "@starling/session"
import type { SpeakerApi } from "@starling/speaker"
import {
  acceptEverything,
  advance,
  capturingLogger,
  connectRaw,
  drain,
  eventually,
  ipv4Block,
  LOCAL_AS,
  nh,
  prefixesOf,
  quiet,
  starling
} from "./support/harness.ts"

const ibgp = (address: string) => ({ address, peerAs: LOCAL_AS })
const attrs = (...path: number[]) => ({ origin: 0, asPath: [{ type: 2, asns: path }], nextHop: nh("192.0.2.60") }) as const

const neighbor = (s: SpeakerApi, address: string) => Effect.map(s.neighbors, (ns) => ns.find((n) => n.address === address)!)

describe("session loss", () => {
  it.effect("everything learned from a peer is withdrawn when its session drops; the others get the withdrawals", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork
      const policy = acceptEverything()
      const s = yield* starling(net, [
        { address: "10.0.2.1", peerAs: 65001, importPolicy: policy, exportPolicy: policy },
        { address: "10.0.3.1", peerAs: 65002, importPolicy: policy, exportPolicy: policy },
        ibgp("10.0.1.2")
      ])
      const e = yield* connectRaw(net, { address: "10.0.2.1", as: 65001 })
      const x = yield* connectRaw(net, { address: "10.0.3.1", as: 65002 })
      const i = yield* connectRaw(net, { address: "10.0.1.2", as: LOCAL_AS })
      yield* e.announce(ipv4Block("10.1.0.0", 300), attrs(65001))
      // X has a backup path for the first 10.
      yield* x.announce(ipv4Block("10.1.0.0", 10), attrs(65002, 64999))
      yield* x.announce(["10.200.0.0/16"], attrs(65002))
      yield* drain(s)
      assert.strictEqual(i.routes.size, 301)
      const mark = i.received.length
      yield* e.drop
      yield* drain(s)
      assert.strictEqual((yield* neighbor(s, "10.0.2.1")).routesReceived, 0)
      // 290 withdrawn, 10 moved to X's path, X's own route untouched.
      assert.strictEqual(i.routes.size, 11)
      for (const r of i.routes.values()) assert.strictEqual(r.attributes.asPath![0]!.asns[0], 65002)
      const withdrawn = i.received.slice(mark).flatMap((m) => (m.message._tag === "Update" ? m.message.withdrawn : []))
      assert.strictEqual(withdrawn.length, 290)
      // X got E's routes before and now sees them withdrawn, except for its own prefixes (never sent back).
      assert.deepStrictEqual(prefixesOf(x), [])
    }).pipe(Effect.provide(quiet)))
})

describe("graceful restart helper (RFC 4724 §4.2)", () => {
  const gr = { gracefulRestart: { restartTime: 120 } }
  const grForwarding = { gracefulRestart: { restartTime: 120, forwarding: [{ afi: 1, safi: 1 }] } }
  const setup = Effect.gen(function*() {
    const net = yield* makeMemoryNetwork
    const policy = acceptEverything()
    const s = yield* starling(net, [
      { address: "10.0.2.1", peerAs: 65001, importPolicy: policy, exportPolicy: policy, ...gr },
      ibgp("10.0.1.2")
    ])
    const e = yield* connectRaw(net, { address: "10.0.2.1", as: 65001, config: gr })
    const i = yield* connectRaw(net, { address: "10.0.1.2", as: LOCAL_AS })
    yield* e.announce(["10.1.0.0/24", "10.2.0.0/24"], attrs(65001))
    yield* e.announce(["10.3.0.0/24"], attrs(65001, 64777))
    yield* drain(s)
    assert.deepStrictEqual(prefixesOf(i), ["10.1.0.0/24", "10.2.0.0/24", "10.3.0.0/24"])
    return { net, s, e, i }
  })

  it.effect("routes are kept (stale) across the restart; End-of-RIB sweeps only what was not re-sent", () =>
    Effect.gen(function*() {
      const { net, s, e, i } = yield* setup
      assert.isDefined(e.negotiated()?.gracefulRestart, "GR negotiated")
      const mark = i.received.length
      yield* e.drop
      yield* advance(30_000)
      yield* drain(s)
      assert.notStrictEqual((yield* neighbor(s, "10.0.2.1")).state, "Established")
      // Kept: nothing withdrawn, still in the Loc-RIB, marked stale.
      assert.strictEqual(i.received.length, mark)
      assert.strictEqual((yield* s.routes).length, 3)
      assert.isTrue((yield* s.explain("10.1.0.0/24"))!.paths[0]!.stale)
      // The peer is back (forwarding state kept for IPv4: the F bit): it re-sends two of its three routes
      // (one with new attributes), then End-of-RIB.
      const e2 = yield* connectRaw(net, { address: "10.0.2.1", as: 65001, config: grForwarding })
      yield* e2.announce(["10.1.0.0/24"], attrs(65001))
      yield* e2.announce(["10.2.0.0/24"], attrs(65001, 64888))
      yield* drain(s)
      // Before End-of-RIB the un-sent route is still there.
      assert.isTrue(i.routes.has("10.3.0.0/24#0"))
      yield* e2.sendEndOfRib()
      yield* drain(s)
      assert.deepStrictEqual(prefixesOf(i), ["10.1.0.0/24", "10.2.0.0/24"])
      assert.isFalse((yield* s.explain("10.1.0.0/24"))!.paths[0]!.stale)
      // On the wire to I: 10.2 re-announced with its new path, 10.3 withdrawn, 10.1 never re-sent.
      const sent = i.received.slice(mark).flatMap((m) => (m.message._tag === "Update" ? [m.message] : []))
      const announced = sent.flatMap((u) => u.nlri.map((p) => `${p.w0 >>> 24}.${(p.w0 >>> 16) & 255}`))
      const withdrawn = sent.flatMap((u) => u.withdrawn.map((p) => `${p.w0 >>> 24}.${(p.w0 >>> 16) & 255}`))
      assert.deepStrictEqual(announced, ["10.2"])
      assert.deepStrictEqual(withdrawn, ["10.3"])
      yield* advance(200_000)
      assert.deepStrictEqual(prefixesOf(i), ["10.1.0.0/24", "10.2.0.0/24"], "the old restart timer does not sweep the new session's routes")
    }).pipe(Effect.provide(quiet)))

  it.effect("a restarted peer that kept no forwarding state (F bit clear) has its stale routes removed at once", () =>
    Effect.gen(function*() {
      const { net, s, e, i } = yield* setup
      yield* e.drop
      yield* advance(5_000)
      assert.strictEqual(i.routes.size, 3)
      const e2 = yield* connectRaw(net, { address: "10.0.2.1", as: 65001, config: gr })
      yield* drain(s)
      assert.strictEqual(i.routes.size, 0, "RFC 4724 §4.2: removed on the new OPEN, not at End-of-RIB")
      yield* e2.announce(["10.1.0.0/24"], attrs(65001))
      yield* drain(s)
      assert.deepStrictEqual(prefixesOf(i), ["10.1.0.0/24"])
    }).pipe(Effect.provide(quiet)))

  it.effect("when the peer does not come back, the restart timer sweeps its routes", () =>
    Effect.gen(function*() {
      const { s, e, i } = yield* setup
      yield* e.drop
      yield* advance(119_000)
      yield* drain(s)
      assert.strictEqual(i.routes.size, 3, "kept for the restart time (120 s)")
      yield* advance(2_000)
      yield* drain(s)
      assert.strictEqual(i.routes.size, 0)
      assert.strictEqual((yield* s.routes).length, 0)
    }).pipe(Effect.provide(quiet)))

  // RFC 8538: with the N bit set by both sides a NOTIFICATION is a graceful end too, except a Hard Reset.
  const setupN = (oursN: boolean, theirsN: boolean) =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork
      const policy = acceptEverything()
      const s = yield* starling(net, [
        { address: "10.0.2.1", peerAs: 65001, importPolicy: policy, exportPolicy: policy, gracefulRestart: { restartTime: 120, notification: oursN } },
        ibgp("10.0.1.2")
      ])
      const e = yield* connectRaw(net, { address: "10.0.2.1", as: 65001, config: { gracefulRestart: { restartTime: 120, notification: theirsN } } })
      const i = yield* connectRaw(net, { address: "10.0.1.2", as: LOCAL_AS })
      yield* e.announce(["10.1.0.0/24", "10.2.0.0/24"], attrs(65001))
      yield* drain(s)
      assert.strictEqual(i.routes.size, 2)
      return { s, e, i }
    })
  const cease = (subcode: number, data: ReadonlyArray<number> = []) =>
    ({ _tag: "Notification", code: ErrorCode.CEASE, subcode, data: Uint8Array.from(data) }) as const

  it.effect("RFC 8538: N bit exchanged, a Cease from the peer keeps its routes stale; a Hard Reset removes them", () =>
    Effect.gen(function*() {
      const graceful = yield* setupN(true, true)
      yield* graceful.e.send(cease(CeaseSubcode.ADMINISTRATIVE_SHUTDOWN))
      yield* eventually("session closed", () => graceful.e.closed())
      yield* drain(graceful.s)
      assert.strictEqual(graceful.i.routes.size, 2, "kept")
      assert.isTrue((yield* graceful.s.explain("10.1.0.0/24"))!.paths[0]!.stale)

      const hard = yield* setupN(true, true)
      yield* hard.e.send(cease(CeaseSubcode.HARD_RESET, [ErrorCode.CEASE, CeaseSubcode.ADMINISTRATIVE_SHUTDOWN, 0]))
      yield* eventually("session closed", () => hard.e.closed())
      yield* drain(hard.s)
      assert.strictEqual(hard.i.routes.size, 0, "a Hard Reset is never graceful")
    }).pipe(Effect.provide(quiet)))

  it.effect("RFC 8538: the N bit set by the peer only is not exchanged: a Cease removes the routes at once", () =>
    Effect.gen(function*() {
      const { s, e, i } = yield* setupN(false, true)
      yield* e.send(cease(CeaseSubcode.ADMINISTRATIVE_SHUTDOWN))
      yield* eventually("session closed", () => e.closed())
      yield* drain(s)
      assert.strictEqual(i.routes.size, 0)
    }).pipe(Effect.provide(quiet)))

  it.effect("RFC 8538: N bit exchanged, max-prefix ends the session with a Hard Reset carrying Maximum Number of Prefixes Reached", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork
      const policy = acceptEverything()
      const grN = { gracefulRestart: { restartTime: 120, notification: true } }
      const s = yield* starling(net, [{ address: "10.0.2.1", peerAs: 65001, importPolicy: policy, exportPolicy: policy, maxPrefix: { limit: 1, action: "reset" }, ...grN }])
      const e = yield* connectRaw(net, { address: "10.0.2.1", as: 65001, config: grN })
      yield* e.announce(["10.1.0.0/24", "10.2.0.0/24"], attrs(65001))
      yield* drain(s)
      yield* eventually("session closed", () => e.closed())
      assert.deepStrictEqual(e.notifications().map((n) => [n.code, n.subcode, ...n.data]), [[ErrorCode.CEASE, CeaseSubcode.HARD_RESET, ErrorCode.CEASE, CeaseSubcode.MAXIMUM_PREFIXES_REACHED]])
      assert.strictEqual((yield* s.routes).length, 0, "our own end is not graceful either")
    }).pipe(Effect.provide(quiet)))

  it.effect("RFC 8538: N bit exchanged, removing a neighbor sends a Hard Reset; restarting it (new settings) an Administrative Reset, graceful", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork
      const policy = acceptEverything()
      const grN = { gracefulRestart: { restartTime: 120, notification: true } }
      const s = yield* starling(net, [
        { address: "10.0.2.1", peerAs: 65001, importPolicy: policy, exportPolicy: policy, ...grN },
        { address: "10.0.2.2", peerAs: 65002, importPolicy: policy, exportPolicy: policy, ...grN }
      ])
      const gone = yield* connectRaw(net, { address: "10.0.2.1", as: 65001, config: grN })
      const restarted = yield* connectRaw(net, { address: "10.0.2.2", as: 65002, config: grN })
      // removeNeighbor waits a moment (test clock) for the NOTIFICATION to go out.
      const removing = yield* Effect.forkChild(Effect.andThen(
        s.removeNeighbor("10.0.2.1", "bye"),
        s.removeNeighbor("10.0.2.2", "configuration changed: holdTime", "restart")
      ))
      yield* advance(100)
      yield* advance(100)
      yield* Fiber.join(removing)
      yield* eventually("both sessions closed", () => gone.closed() && restarted.closed())
      const [hard] = gone.notifications()
      assert.deepStrictEqual([hard!.code, hard!.subcode, hard!.data[0], hard!.data[1]], [ErrorCode.CEASE, CeaseSubcode.HARD_RESET, ErrorCode.CEASE, CeaseSubcode.ADMINISTRATIVE_SHUTDOWN])
      assert.strictEqual(shutdownMessage(hard!), "bye")
      const [soft] = restarted.notifications()
      assert.deepStrictEqual([soft!.code, soft!.subcode], [ErrorCode.CEASE, CeaseSubcode.ADMINISTRATIVE_RESET])
      assert.strictEqual(shutdownMessage(soft!), "configuration changed: holdTime")
      assert.strictEqual(restarted.notifications().length, 1, "one NOTIFICATION, the ManualStop that follows finds the session down")
    }).pipe(Effect.provide(quiet)))

  it.effect("RFC 8538 §4: N bit exchanged, our own graceful Cease (Other Configuration Change) keeps the peer's routes stale", () =>
    Effect.gen(function*() {
      const run = (n: boolean) =>
        Effect.gen(function*() {
          const net = yield* makeMemoryNetwork
          const policy = acceptEverything()
          const gr = { gracefulRestart: { restartTime: 120, notification: n } }
          const nbCfg = { address: "10.0.2.1", peerAs: 65001, importPolicy: policy, exportPolicy: policy, ...gr }
          const s = yield* starling(net, [nbCfg, ibgp("10.0.1.2")])
          // No ROUTE-REFRESH: a new import policy needs a new session (Cease 6/6, "import policy changed").
          const e = yield* connectRaw(net, { address: "10.0.2.1", as: 65001, config: { ...gr, routeRefresh: false } })
          const i = yield* connectRaw(net, { address: "10.0.1.2", as: LOCAL_AS })
          yield* e.announce(["10.1.0.0/24"], attrs(65001))
          yield* drain(s)
          assert.strictEqual(i.routes.size, 1)
          const r = yield* s.reconfigureNeighbor({ ...nbCfg, importPolicy: acceptEverything() })
          assert.strictEqual(r.import, "reset")
          yield* eventually("session closed", () => e.closed())
          yield* drain(s)
          assert.deepStrictEqual(e.notifications().map((x) => [x.code, x.subcode]), [[ErrorCode.CEASE, CeaseSubcode.OTHER_CONFIGURATION_CHANGE]])
          return i.routes.size
        })
      assert.strictEqual(yield* run(true), 1, "kept (stale) with the N bit exchanged")
      assert.strictEqual(yield* run(false), 0, "withdrawn without it")
    }).pipe(Effect.provide(quiet)))

  it.effect("without graceful restart negotiated the routes go at once", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork
      const policy = acceptEverything()
      // Starling offers GR, the peer does not: no helper mode.
      const s = yield* starling(net, [{ address: "10.0.2.1", peerAs: 65001, importPolicy: policy, exportPolicy: policy, ...gr }, ibgp("10.0.1.2")])
      const e = yield* connectRaw(net, { address: "10.0.2.1", as: 65001 })
      const i = yield* connectRaw(net, { address: "10.0.1.2", as: LOCAL_AS })
      yield* e.announce(["10.1.0.0/24"], attrs(65001))
      yield* drain(s)
      assert.strictEqual(i.routes.size, 1)
      yield* e.drop
      yield* drain(s)
      assert.strictEqual(i.routes.size, 0)
    }).pipe(Effect.provide(quiet)))
})

describe("route refresh", () => {
  for (const enhanced of [false, true]) {
    it.effect(`a ROUTE-REFRESH from the peer re-sends the Adj-RIB-Out${enhanced ? ", between BoRR and EoRR (RFC 7313)" : " (RFC 2918)"}`, () =>
      Effect.gen(function*() {
        const net = yield* makeMemoryNetwork
        const s = yield* starling(net, [ibgp("10.0.1.2")])
        for (const p of ipv4Block("10.1.0.0", 5)) yield* s.originate(p, { nextHop: nh("192.0.2.1") })
        yield* s.originate("10.9.0.0/16", { nextHop: nh("192.0.2.1"), med: 4 })
        const i = yield* connectRaw(net, { address: "10.0.1.2", as: LOCAL_AS, config: { enhancedRouteRefresh: enhanced } })
        yield* drain(s)
        assert.strictEqual(i.negotiated()?.enhancedRouteRefresh, enhanced)
        const mark = i.received.length
        yield* i.refresh()
        yield* drain(s)
        const after = i.received.slice(mark).filter((m) => m.message._tag !== "Keepalive")
        const shape = after.map((m) =>
          m.message._tag === "RouteRefresh"
            ? `RR/${m.message.subtype}`
            : m.message._tag === "Update"
            ? m.message.nlri.length > 0 ? `U${m.message.nlri.length}` : "EoR"
            : m.message._tag
        )
        const body = shape.filter((x) => x.startsWith("U")).sort()
        assert.deepStrictEqual(body, ["U1", "U5"], "every route again, packed by attribute set")
        if (enhanced) {
          assert.strictEqual(shape[0], `RR/${RouteRefreshSubtype.BORR}`)
          assert.strictEqual(shape[shape.length - 1], `RR/${RouteRefreshSubtype.EORR}`)
          assert.strictEqual(shape.length, 4)
        } else {
          assert.strictEqual(shape.length, 2, "no markers, no End-of-RIB")
        }
        assert.strictEqual(i.routes.size, 6)
      }).pipe(Effect.provide(quiet)))
  }

  it.effect("a refresh is per family: IPv4 asked, IPv4 re-sent; a family not negotiated is ignored", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork
      const both = [{ afi: 1, safi: 1 }, { afi: 2, safi: 1 }]
      const s = yield* starling(net, [{ ...ibgp("10.0.1.2"), families: both }])
      yield* s.originate("192.0.2.0/24", { nextHop: nh("192.0.2.1") })
      yield* s.originate("2001:db8:1::/48", { mpNextHop: new Uint8Array(16).fill(0x20, 0, 1) })
      const i = yield* connectRaw(net, { address: "10.0.1.2", as: LOCAL_AS, config: { families: both } })
      yield* drain(s)
      assert.strictEqual(i.routes.size, 2)
      let mark = i.received.length
      yield* i.refresh(2, 1)
      yield* drain(s)
      const v6 = i.received.slice(mark).flatMap((m) => (m.message._tag === "Update" ? [m.message] : []))
      assert.deepStrictEqual(v6.map((u) => [u.nlri.length, u.mpReach?.nlri.length ?? 0]), [[0, 1]])
      mark = i.received.length
      // Multicast was never negotiated.
      yield* i.refresh(1, 2)
      yield* drain(s)
      assert.deepStrictEqual(i.received.slice(mark).map((m) => m.message._tag).filter((t) => t !== "Keepalive"), [])
    }).pipe(Effect.provide(quiet)))

  it.effect("requestRefresh sends a ROUTE-REFRESH to the neighbor", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork
      const s = yield* starling(net, [ibgp("10.0.1.2")])
      const i = yield* connectRaw(net, { address: "10.0.1.2", as: LOCAL_AS })
      yield* s.requestRefresh("10.0.1.2")
      yield* drain(s)
      assert.deepStrictEqual(i.refreshes().map((r) => [r.afi, r.safi, r.subtype]), [[1, 1, 0]])
    }).pipe(Effect.provide(quiet)))
})

describe("End-of-RIB received (RFC 4724 §2)", () => {
  it.effect("neighbors lists the families whose End-of-RIB the neighbor sent in this session; a new session starts empty", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork
      const policy = acceptEverything()
      const both = [{ afi: 1, safi: 1 }, { afi: 2, safi: 1 }]
      const s = yield* starling(net, [{ address: "10.0.2.1", peerAs: 65001, importPolicy: policy, exportPolicy: policy, families: both }])
      const e = yield* connectRaw(net, { address: "10.0.2.1", as: 65001, config: { families: both } })
      yield* e.announce(["10.1.0.0/24"], attrs(65001))
      yield* drain(s)
      assert.deepStrictEqual((yield* neighbor(s, "10.0.2.1")).endOfRib, [])
      yield* e.sendEndOfRib(2, 1)
      yield* e.sendEndOfRib(1, 1)
      yield* e.sendEndOfRib(1, 1)
      yield* drain(s)
      assert.deepStrictEqual((yield* neighbor(s, "10.0.2.1")).endOfRib, [{ afi: 2, safi: 1 }, { afi: 1, safi: 1 }])
      yield* e.drop
      yield* drain(s)
      assert.deepStrictEqual((yield* neighbor(s, "10.0.2.1")).endOfRib, [])
    }).pipe(Effect.provide(quiet)))
})

describe("max-prefix (RFC 4486)", () => {
  const setup = (action: "warn" | "reset" | "stop", logs: string[] = []) =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork
      const policy = acceptEverything()
      const s = yield* starling(net, [
        { address: "10.0.2.1", peerAs: 65001, importPolicy: policy, exportPolicy: policy, maxPrefix: { limit: 5, action }, idleHoldTime: { initial: 10, max: 10 } },
        ibgp("10.0.1.2")
      ])
      const e = yield* connectRaw(net, { address: "10.0.2.1", as: 65001 })
      const i = yield* connectRaw(net, { address: "10.0.1.2", as: LOCAL_AS })
      yield* e.announce(ipv4Block("10.1.0.0", 5), attrs(65001))
      yield* drain(s)
      assert.strictEqual(i.routes.size, 5, "at the limit: fine")
      assert.isFalse(logs.some((l) => l.includes("exceed")))
      yield* e.announce(["10.7.0.0/24"], attrs(65001))
      yield* drain(s)
      return { net, s, e, i }
    })

  it.effect("warn: a warning, the session and the routes stay", () =>
    Effect.gen(function*() {
      const logs: string[] = []
      const { s, e, i } = yield* setup("warn", logs).pipe(Effect.provide(capturingLogger(logs)))
      assert.isTrue(e.established())
      assert.strictEqual(i.routes.size, 6)
      assert.strictEqual((yield* neighbor(s, "10.0.2.1")).routesReceived, 6)
      assert.isTrue(logs.some((l) => l.startsWith("Warn") && l.includes("6 routes exceed the limit of 5")), logs.join("\n"))
    }))

  it.effect("reset: Cease/Maximum Number of Prefixes Reached, routes withdrawn, the neighbor comes back after the idle hold time", () =>
    Effect.gen(function*() {
      const { net, s, e, i } = yield* setup("reset")
      yield* eventually("session closed", () => e.closed())
      assert.deepStrictEqual(e.notifications().map((n) => [n.code, n.subcode]), [[ErrorCode.CEASE, CeaseSubcode.MAXIMUM_PREFIXES_REACHED]])
      yield* drain(s)
      assert.strictEqual(i.routes.size, 0)
      const down = (yield* neighbor(s, "10.0.2.1")).lastDown
      assert.strictEqual(down?._tag, "AutomaticStop")
      // After the idle hold time it accepts the peer again.
      yield* advance(11_000)
      const again = yield* connectRaw(net, { address: "10.0.2.1", as: 65001 })
      assert.isTrue(again.established())
    }).pipe(Effect.provide(quiet)))

  it.effect("stop: the same NOTIFICATION, then the neighbor stays down until enabled again", () =>
    Effect.gen(function*() {
      const { net, s, e, i } = yield* setup("stop")
      yield* eventually("session closed", () => e.closed())
      assert.deepStrictEqual(e.notifications().map((n) => [n.code, n.subcode]), [[ErrorCode.CEASE, CeaseSubcode.MAXIMUM_PREFIXES_REACHED]])
      yield* drain(s)
      assert.strictEqual(i.routes.size, 0)
      yield* advance(60_000)
      assert.strictEqual((yield* neighbor(s, "10.0.2.1")).state, "Idle")
      // A connection attempt now is refused (Cease/Connection Rejected).
      const refused = yield* Effect.exit(connectRaw(net, { address: "10.0.2.1", as: 65001 }))
      assert.strictEqual(refused._tag, "Failure")
      yield* s.enableNeighbor("10.0.2.1")
      yield* advance(1_000)
      const again = yield* connectRaw(net, { address: "10.0.2.1", as: 65001 })
      assert.isTrue(again.established())
    }).pipe(Effect.provide(quiet)))
})

describe("a slow peer", () => {
  it.effect("a peer that stops reading does not hold up the others; its queue is bounded (Cease/Out of Resources)", () =>
    Effect.gen(function*() {
      // A 4 KiB TCP window per direction: a peer that stops reading blocks Starling's writes to it.
      const net = yield* makeMemoryNetworkWith({ window: 4096 })
      const s = yield* starling(net, [ibgp("10.0.1.2"), ibgp("10.0.1.3")], { maxQueuedBatches: 20 })
      const slow = yield* connectRaw(net, { address: "10.0.1.2", as: LOCAL_AS })
      const fast = yield* connectRaw(net, { address: "10.0.1.3", as: LOCAL_AS })
      yield* drain(s)
      yield* slow.pauseReading
      // 400 separate changes (one RIB step each): 400 batches for each member.
      const prefixes = ipv4Block("10.1.0.0", 400)
      for (const [k, p] of prefixes.entries()) {
        yield* s.originate(p, { nextHop: nh("192.0.2.1"), med: k })
        if (k % 50 === 0) yield* advance(10)
      }
      yield* drain(s)
      yield* advance(1_000)
      assert.strictEqual(fast.routes.size, 400, "the reading peer got everything")
      const st = yield* neighbor(s, "10.0.1.2")
      assert.strictEqual(st.lastDown?._tag, "AutomaticStop")
      assert.strictEqual(st.lastDown?._tag === "AutomaticStop" ? st.lastDown.subcode : -1, CeaseSubcode.OUT_OF_RESOURCES)
      assert.isBelow(slow.routes.size, 400)
      // The fast peer's session was never disturbed.
      assert.isTrue(fast.established())
      assert.strictEqual((yield* neighbor(s, "10.0.1.3")).lastDown, undefined)
      // The slow peer comes back (after the idle hold time) and, reading now, gets the whole table.
      yield* advance(10_000)
      const again = yield* connectRaw(net, { address: "10.0.1.2", as: LOCAL_AS })
      yield* drain(s)
      yield* advance(1_000)
      assert.strictEqual(again.routes.size, 400)
      assert.deepStrictEqual(again.endOfRib, ["1/1"])
    }).pipe(Effect.provide(quiet)))
})
