/**
 * The session driver's timers, end to end: real `makePeer` instances over the in-memory network, in
 * virtual time. Each test checks what the peers did (events, states) and what crossed the wire (the
 * messages each node's tap recorded, with their virtual timestamps), to the millisecond.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Latch } from "effect"
import type { PeerConfig } from "../src/index.ts"
import { makeMemoryNetwork, makeMemoryNetworkWith } from "../src/index.ts"
import {
  addPeer,
  advance,
  advanceUntil,
  config,
  currentTime,
  downs,
  establishments,
  ipv4Updates,
  makeNode,
  notificationsWith,
  wireWith
} from "./support/driver-harness.ts"
import type { Node, PeerHandle } from "./support/driver-harness.ts"
import { rawSpeaker } from "./support/driver-raw.ts"

const A = "10.0.0.1"
const B = "10.0.0.2"
const KEEPALIVE = 4
const OPEN = 1

/** A (AS 65001, id 1) connects to B (AS 65002, id 2, passive); both listen. */
const pair = (aConfig: Partial<PeerConfig> = {}, bConfig: Partial<PeerConfig> = {}) =>
  Effect.gen(function*() {
    const net = yield* makeMemoryNetwork
    const a = yield* makeNode(net, A)
    const b = yield* makeNode(net, B)
    const pa = yield* addPeer(a, B, { config: config(65001, 1, { peerAs: 65002, ...aConfig }) })
    const pb = yield* addPeer(b, A, { config: config(65002, 2, { peerAs: 65001, passive: true, ...bConfig }) })
    return { net, a, b, pa, pb }
  })

const bothEstablished = (...hs: PeerHandle[]) => () => hs.every((h) => establishments(h).length > 0)

/** Times at which `node` received KEEPALIVEs from `remote`. */
const keepalivesFrom = (node: Node, remote: string) => wireWith(node, remote, { type: KEEPALIVE, dir: "received" }).map((m) => m.at)

const multiples = (step: number, from: number, to: number) => {
  const out: number[] = []
  for (let t = from; t <= to; t += step) out.push(t)
  return out
}

/** Advances to one millisecond before `t`, checks `before`, then to `t`. */
const straddle = (t: number, before: () => void) =>
  Effect.gen(function*() {
    yield* advance(t - 1 - (yield* currentTime))
    before()
    yield* advance(1)
  })

describe("hold timer", () => {
  it.effect("a peer that goes silent: NOTIFICATION 4/0 and Down(HoldTimerExpired) exactly the negotiated hold time after its last message", () =>
    Effect.gen(function*() {
      const { a, b, pa, pb } = yield* pair({ holdTime: 90 }, { holdTime: 30 })
      yield* advanceUntil("Established", bothEstablished(pa, pb))
      const n = yield* pa.peer.negotiated
      assert.strictEqual(n?.holdTime, 30)
      assert.strictEqual(n?.keepaliveTime, 10)
      yield* advance(45_000)
      // B stops sending anything but keeps its connection (and keeps reading).
      b.controls.mute = true
      const lastRx = wireWith(a, B, { dir: "received" }).at(-1)!.at
      assert.strictEqual(lastRx, 40_000)
      const expiry = lastRx + 30_000
      yield* straddle(expiry, () => {
        assert.deepStrictEqual(downs(pa), [])
        assert.deepStrictEqual(notificationsWith(a, B), [])
      })
      const down = downs(pa)
      assert.strictEqual(down.length, 1)
      assert.strictEqual(down[0]!.at, expiry)
      assert.deepStrictEqual(down[0]!.value.reason, { _tag: "HoldTimerExpired" })
      const sent = notificationsWith(a, B).filter((x) => x.dir === "sent")
      assert.strictEqual(sent.length, 1)
      assert.deepStrictEqual([sent[0]!.at, sent[0]!.code, sent[0]!.subcode, sent[0]!.data.length], [expiry, 4, 0, 0])
      // B still reads: it gets the NOTIFICATION and goes down with the reason it carries.
      const bDown = downs(pb)
      assert.strictEqual(bDown.length, 1)
      assert.strictEqual(bDown[0]!.at, expiry)
      const reason = bDown[0]!.value.reason
      assert.strictEqual(reason._tag, "NotificationReceived")
      if (reason._tag === "NotificationReceived") assert.deepStrictEqual([reason.notification.code, reason.notification.subcode], [4, 0])
    }))

  it.effect("waiting for the OPEN: the large hold time of RFC 4271 §8.2.2 (240 s) applies, then 4/0", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork
      const a = yield* makeNode(net, A)
      // B's port 179 accepts the connection and then neither reads nor writes.
      yield* net.listen({ address: B, port: 179 }, () => Effect.void)
      const pa = yield* addPeer(a, B, { config: config(65001, 1, { peerAs: 65002 }) })
      yield* straddle(240_000, () => {
        assert.deepStrictEqual(notificationsWith(a, B), [])
      })
      const sent = notificationsWith(a, B).filter((x) => x.dir === "sent")
      assert.deepStrictEqual(sent.map((x) => [x.at, x.code, x.subcode]), [[240_000, 4, 0]])
      const idle = pa.events.find((e) => e.value._tag === "StateChanged" && e.value.to === "Idle")
      assert.strictEqual(idle?.at, 240_000)
      if (idle?.value._tag === "StateChanged") assert.deepStrictEqual(idle.value.reason, { _tag: "HoldTimerExpired" })
      assert.deepStrictEqual(downs(pa), [], "never Established, so no Down")
    }))

  it.effect("a severed link is a lost connection at once, not a hold timer expiry", () =>
    Effect.gen(function*() {
      const { net, pa, pb } = yield* pair()
      yield* advanceUntil("Established", bothEstablished(pa, pb))
      yield* advance(12_345)
      yield* net.sever(A)
      yield* advance(0)
      for (const h of [pa, pb]) {
        assert.deepStrictEqual(downs(h).map((d) => [d.at, d.value.reason._tag]), [[12_345, "ConnectionLost"]])
      }
    }))
})

describe("keepalives", () => {
  const cases: ReadonlyArray<{ name: string; a: Partial<PeerConfig>; b: Partial<PeerConfig>; aEvery: number; bEvery: number }> = [
    { name: "hold 90 both ways: every 30 s", a: { holdTime: 90 }, b: { holdTime: 90 }, aEvery: 30_000, bEvery: 30_000 },
    { name: "hold 9 offered by A, 90 by B: 9 negotiated, every 3 s", a: { holdTime: 9 }, b: { holdTime: 90 }, aEvery: 3_000, bEvery: 3_000 },
    { name: "A's keepalive time 10 s under hold 90: A every 10 s, B every 30 s", a: { holdTime: 90, keepaliveTime: 10 }, b: { holdTime: 90 }, aEvery: 10_000, bEvery: 30_000 }
  ]
  for (const c of cases) {
    it.effect(`${c.name} (10 minutes counted at the receiver)`, () =>
      Effect.gen(function*() {
        const { a, b, pa, pb } = yield* pair(c.a, c.b)
        const up = yield* advanceUntil("Established", bothEstablished(pa, pb))
        assert.strictEqual(up, 0)
        yield* advance(600_000)
        // The first KEEPALIVE (t = 0) is the one that answers the OPEN.
        assert.deepStrictEqual(keepalivesFrom(b, A), multiples(c.aEvery, 0, 600_000))
        assert.deepStrictEqual(keepalivesFrom(a, B), multiples(c.bEvery, 0, 600_000))
        assert.strictEqual(yield* pa.peer.maxKeepaliveGapMs, c.aEvery)
        assert.strictEqual(yield* pb.peer.maxKeepaliveGapMs, c.bEvery)
        assert.deepStrictEqual([...downs(pa), ...downs(pb)], [])
      }))
  }

  it.effect("sending UPDATEs restarts the keepalive timer (RFC 4271 §4.4): no KEEPALIVE while UPDATEs flow", () =>
    Effect.gen(function*() {
      const { b, pa, pb } = yield* pair()
      yield* advanceUntil("Established", bothEstablished(pa, pb))
      yield* advance(15_000)
      for (let k = 0; k < 6; k++) {
        yield* pa.peer.send(ipv4Updates(1, { first: k }))
        yield* advance(k === 5 ? 0 : 20_000)
      }
      // Last UPDATE at 115 s: the next KEEPALIVE is due 30 s later.
      yield* advance(200_000 - (yield* currentTime))
      assert.deepStrictEqual(keepalivesFrom(b, A), [0, 145_000, 175_000])
      assert.deepStrictEqual(wireWith(b, A, { type: 2, dir: "received" }).map((m) => m.at), [15_000, 35_000, 55_000, 75_000, 95_000, 115_000])
    }))

  it.effect("hold time 0: no keepalives and no hold timer, the session stays up for an hour", () =>
    Effect.gen(function*() {
      const { a, b, pa, pb } = yield* pair({ holdTime: 0 }, { holdTime: 90 })
      yield* advanceUntil("Established", bothEstablished(pa, pb))
      assert.strictEqual((yield* pb.peer.negotiated)?.holdTime, 0)
      yield* advance(3_600_000)
      assert.deepStrictEqual(keepalivesFrom(a, B), [0])
      assert.deepStrictEqual(keepalivesFrom(b, A), [0])
      assert.strictEqual(yield* pa.peer.state, "Established")
      assert.strictEqual(yield* pb.peer.state, "Established")
    }))
})

describe("ConnectRetry", () => {
  it.effect("nobody listening: attempts exactly ConnectRetryTime apart, then the session comes up at the next one", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork
      const a = yield* makeNode(net, A)
      const pa = yield* addPeer(a, B, { config: config(65001, 1, { peerAs: 65002, connectRetryTime: 7 }) })
      yield* advance(60_000)
      assert.deepStrictEqual(a.connects.map((c) => [c.at, c.outcome]), multiples(7_000, 0, 60_000).map((t) => [t, "refused"]))
      assert.strictEqual(yield* pa.peer.state, "Active")
      // B appears at 60 s; A's next attempt (63 s) finds it.
      const b = yield* makeNode(net, B)
      const pb = yield* addPeer(b, A, { config: config(65002, 2, { peerAs: 65001, passive: true }) })
      yield* straddle(63_000, () => assert.deepStrictEqual(establishments(pa), []))
      assert.deepStrictEqual([establishments(pa).map((e) => e.at), establishments(pb).map((e) => e.at)], [[63_000], [63_000]])
      assert.deepStrictEqual(a.connects.at(-1), { at: 63_000, remote: B, outcome: "ok" })
    }))

  it.effect("a connect that never completes is abandoned and retried when ConnectRetryTimer expires", () =>
    Effect.gen(function*() {
      const { a, pa, pb } = yield* pair({ connectRetryTime: 10 })
      a.controls.blackholeConnect = true
      yield* advance(35_000)
      assert.deepStrictEqual(a.connects.map((c) => [c.at, c.outcome]), [[0, "pending"], [10_000, "pending"], [20_000, "pending"], [30_000, "pending"]])
      assert.strictEqual(yield* pa.peer.state, "Connect")
      a.controls.blackholeConnect = false
      yield* straddle(40_000, () => assert.deepStrictEqual(establishments(pa), []))
      assert.deepStrictEqual([establishments(pa).map((e) => e.at), establishments(pb).map((e) => e.at)], [[40_000], [40_000]])
    }))
})

describe("IdleHold damping (RFC 4271 §8.1.1 DampPeerOscillations)", () => {
  it.effect("IdleHoldTime doubles per consecutive failure up to its cap, and resets after StableTime Established", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork
      const a = yield* makeNode(net, A)
      // B's port 179 is a gate: while `crash` is set it accepts and drops every connection at once (the
      // OPEN exchange never completes, a failure after TCP was up); otherwise it hands it to B's peer.
      const b = yield* makeNode(net, B, { listen: false })
      const pb = yield* addPeer(b, A, { config: config(65002, 2, { peerAs: 65001, passive: true }), register: false })
      let crash = true
      yield* b.transport.listen({ address: B, port: 179 }, (conn) => (crash ? conn.close : pb.peer.accept(conn)))
      const pa = yield* addPeer(a, B, {
        config: config(65001, 1, { peerAs: 65002, idleHoldTime: { initial: 2, max: 16 }, stableTime: 60, connectRetryTime: 120 })
      })
      const attempts = () => a.connects.map((c) => c.at)
      yield* advance(50_000)
      // 2, 4, 8, 16, then the cap.
      assert.deepStrictEqual(attempts(), [0, 2_000, 6_000, 14_000, 30_000, 46_000])
      crash = false
      yield* straddle(62_000, () => assert.deepStrictEqual(establishments(pa), []))
      assert.deepStrictEqual(establishments(pa).map((e) => e.at), [62_000])
      // Up for 30 s only (less than StableTime): the next wait is still the cap.
      yield* advance(30_000)
      yield* net.sever(A)
      yield* straddle(92_000 + 16_000, () => assert.strictEqual(establishments(pa).length, 1))
      assert.deepStrictEqual(establishments(pa).map((e) => e.at), [62_000, 108_000])
      // Up for 70 s (StableTime passes): damping is forgotten, the next failure waits 2 s again, then 4.
      yield* advance(70_000)
      crash = true
      yield* net.sever(A)
      const down = yield* currentTime
      yield* advance(10_000)
      assert.deepStrictEqual(attempts().filter((t) => t >= down), [down + 2_000, down + 6_000])
    }))
})

describe("DelayOpen", () => {
  it.effect("both sides delay: nothing is sent until A's DelayOpenTimer expires, then the session comes up at once", () =>
    Effect.gen(function*() {
      const { a, b, pa, pb } = yield* pair({ delayOpenTime: 5 }, { delayOpenTime: 8 })
      yield* straddle(5_000, () => {
        assert.deepStrictEqual(a.wire, [])
        assert.deepStrictEqual(b.wire, [])
      })
      const aOpens = wireWith(a, B, { type: OPEN, dir: "sent" }).map((m) => m.at)
      const bOpens = wireWith(b, A, { type: OPEN, dir: "sent" }).map((m) => m.at)
      assert.deepStrictEqual([aOpens, bOpens], [[5_000], [5_000]])
      assert.deepStrictEqual([establishments(pa).map((e) => e.at), establishments(pb).map((e) => e.at)], [[5_000], [5_000]])
      yield* advance(10_000)
      assert.deepStrictEqual(wireWith(b, A, { type: OPEN, dir: "sent" }).length, 1, "B's own DelayOpenTimer was stopped")
    }))

  it.effect("the peer's OPEN arrives while DelayOpenTimer runs: answered at once with OPEN + KEEPALIVE (event 20)", () =>
    Effect.gen(function*() {
      const { a, pa, pb } = yield* pair({ delayOpenTime: 5 }, {})
      yield* advance(0)
      const sent = wireWith(a, B, { dir: "sent" }).map((m) => [m.at, m.type])
      assert.deepStrictEqual(sent, [[0, OPEN], [0, KEEPALIVE]])
      assert.deepStrictEqual(establishments(pa).map((e) => e.at), [0])
      yield* advance(60_000)
      assert.deepStrictEqual(wireWith(a, B, { type: OPEN }).length, 2, "one OPEN each way, no second OPEN when the delay would have ended")
      assert.deepStrictEqual([...downs(pa), ...downs(pb)], [])
    }))
})

describe("SendHoldTimer (RFC 9687)", () => {
  it.effect("a raw peer that stops reading but keeps sending KEEPALIVEs: Down(SendHoldTimerExpired) after the default 480 s without progress", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetworkWith({ window: 4096 })
      const a = yield* makeNode(net, A)
      const raw = yield* rawSpeaker(net, B, { as: 65002, id: 2, holdTime: 90, keepaliveEvery: 30 })
      const pa = yield* addPeer(a, B, { config: config(65001, 1, { peerAs: 65002, holdTime: 90 }) })
      yield* advanceUntil("Established", bothEstablished(pa))
      yield* advance(10_000)
      raw.stopReading()
      // 64 KiB of UPDATEs: far more than the 4 KiB window.
      yield* pa.peer.send(ipv4Updates(16_000, { perUpdate: 1000 }))
      yield* advance(0)
      const lastProgress = wireWith(a, B, { dir: "sent" }).at(-1)!.at
      assert.strictEqual(lastProgress, 0, "nothing written completely since the KEEPALIVE at 0")
      yield* straddle(lastProgress + 480_000, () => {
        assert.deepStrictEqual(downs(pa), [])
        assert.ok(keepalivesFrom(a, B).length >= 16, "the raw peer's KEEPALIVEs keep A's hold timer from expiring")
      })
      assert.deepStrictEqual(downs(pa).map((d) => [d.at, d.value.reason._tag]), [[480_000, "SendHoldTimerExpired"]])
    }))

  for (const v of [
    { resume: 61_000, bDown: "NotificationReceived", what: "B reads again within the 3 s flush grace: the pending UPDATEs, then NOTIFICATION 8/0" },
    { resume: 65_000, bDown: "ConnectionLost", what: "B reads again after A has closed: the pending UPDATEs, then the end of the stream" }
  ] as const) {
    it.effect(`a Starling peer whose reader is stalled: the sender gives up after its SendHoldTime; ${v.what}`, () =>
      Effect.gen(function*() {
        const net = yield* makeMemoryNetworkWith({ window: 4096 })
        const a = yield* makeNode(net, A)
        const b = yield* makeNode(net, B)
        // Hold 30 s (KEEPALIVE every 10 s): a SendHoldTime of 20 s is still longer than the keepalive period.
        const pa = yield* addPeer(a, B, { config: config(65001, 1, { peerAs: 65002, holdTime: 30, sendHoldTime: 20 }) })
        const pb = yield* addPeer(b, A, { config: config(65002, 2, { peerAs: 65001, passive: true, holdTime: 30 }) })
        yield* advanceUntil("Established", bothEstablished(pa, pb))
        yield* advance(45_000)
        assert.deepStrictEqual(downs(pa), [], "regular KEEPALIVEs are progress")
        yield* Latch.close(b.controls.reading)
        yield* pa.peer.send(ipv4Updates(16_000, { perUpdate: 1000 }))
        yield* advance(0)
        const lastProgress = wireWith(a, B, { dir: "sent" }).at(-1)!.at
        assert.strictEqual(lastProgress, 40_000, "the KEEPALIVE at 40 s was A's last complete write")
        yield* straddle(lastProgress + 20_000, () => assert.deepStrictEqual(downs(pa), []))
        assert.deepStrictEqual(downs(pa).map((d) => [d.at, d.value.reason._tag]), [[60_000, "SendHoldTimerExpired"]])
        yield* advance(v.resume - 60_000)
        yield* Latch.open(b.controls.reading)
        yield* advance(0)
        const bDown = downs(pb)
        assert.deepStrictEqual(bDown.map((d) => [d.at, d.value.reason._tag]), [[v.resume, v.bDown]])
        const r = bDown[0]!.value.reason
        if (r._tag === "NotificationReceived") assert.deepStrictEqual([r.notification.code, r.notification.subcode], [8, 0])
        assert.ok(wireWith(b, A, { type: 2, dir: "received" }).length > 0, "B got the UPDATEs that were in flight")
      }))
  }

  it.effect("a receiver that reads slowly but steadily never trips the sender's send hold timer, however long the transfer", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetworkWith({ window: 4096 })
      const a = yield* makeNode(net, A)
      const b = yield* makeNode(net, B)
      const pa = yield* addPeer(a, B, { config: config(65001, 1, { peerAs: 65002, holdTime: 30, sendHoldTime: 20 }) })
      // B hands over one batch at a time, and the test takes one every 500 ms of virtual time: the
      // transfer is paced by the receiver, far slower than the sender would go.
      const pb = yield* addPeer(b, A, { config: config(65002, 2, { peerAs: 65001, passive: true, holdTime: 30 }), inboundBuffer: 1, consume: false })
      yield* advanceUntil("Established", bothEstablished(pa, pb))
      // 4 KiB UPDATEs, each in its own batch, all queued at once.
      const updates = ipv4Updates(80_000, { perUpdate: 1000 })
      yield* Effect.forkScoped(Effect.forEach(updates, (u) => pa.peer.send([u]), { discard: true }))
      let taken = 0
      while (taken < updates.length) {
        yield* advance(500)
        const item = yield* pb.peer.inbound
        if (item._tag === "Messages") taken += item.messages.length
        else if (item._tag !== "Established") assert.fail(`unexpected ${item._tag} at ${yield* currentTime}: ${JSON.stringify([...downs(pa), ...downs(pb)].map((d) => [d.at, d.value.reason._tag]))}`)
      }
      assert.ok((yield* currentTime) > 30_000, "the transfer outlasted the send hold time")
      assert.deepStrictEqual([...downs(pa), ...downs(pb)], [])
    }))
})

