/**
 * Whole sessions between real `makePeer` instances over the in-memory network, in virtual time:
 * connection collisions (RFC 4271 §6.8), ManualStop with an RFC 9003 shutdown message, graceful restart
 * (RFC 4724 §4.2: a restarted peer's new connection replaces the old session), and a 20-speaker full mesh.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Scope } from "effect"
import type { Peer } from "../src/index.ts"
import { makeMemoryNetwork } from "../src/index.ts"
import {
  addPeer,
  advance,
  advanceUntil,
  config,
  currentTime,
  downs,
  establishments,
  makeNode,
  notificationsWith,
  wireWith
} from "./support/driver-harness.ts"
import type { Node, PeerHandle } from "./support/driver-harness.ts"

const A = "10.0.0.1"
const B = "10.0.0.2"
const KEEPALIVE = 4

/** Outgoing connections have odd ids, accepted ones even (driver convention). */
const outgoing = (conn: number) => conn % 2 === 1

const establishedConns = (h: PeerHandle) => establishments(h).map((e) => e.value.conn)

/** The tap connection over which `node` received the KEEPALIVEs of the last `windowMs` from `remote`. */
const liveConns = (node: Node, remote: string, since: number) =>
  [...new Set(wireWith(node, remote, { type: KEEPALIVE, dir: "received" }).filter((m) => m.at >= since).map((m) => m.conn))]

const startTogether = (...peers: Peer[]) => Effect.all(peers.map((p) => p.start), { concurrency: "unbounded", discard: true })

describe("connection collision (RFC 4271 §6.8)", () => {
  const cases = [
    { name: "A has the higher BGP Identifier: A's connection survives", idA: 0x0a000009, idB: 0x0a000002, asA: 65001, asB: 65002, aWins: true },
    { name: "B has the higher BGP Identifier: B's connection survives", idA: 0x0a000002, idB: 0x0a000009, asA: 65001, asB: 65002, aWins: false },
    { name: "identifiers compared as unsigned 32-bit numbers (0xC0000001 > 0x0A000001)", idA: 0xc0000001, idB: 0x0a000001, asA: 65001, asB: 65002, aWins: true },
    { name: "equal identifiers (RFC 6286 §2.3): the larger AS number's connection survives", idA: 7, idB: 7, asA: 65001, asB: 65002, aWins: false }
  ]
  for (const c of cases) {
    it.effect(`both connect at the same instant; ${c.name}`, () =>
      Effect.gen(function*() {
        const net = yield* makeMemoryNetwork
        const a = yield* makeNode(net, A)
        const b = yield* makeNode(net, B)
        const pa = yield* addPeer(a, B, { config: config(c.asA, c.idA, { peerAs: c.asB }), start: false })
        const pb = yield* addPeer(b, A, { config: config(c.asB, c.idB, { peerAs: c.asA }), start: false })
        yield* startTogether(pa.peer, pb.peer)
        yield* advance(0)
        // Both tried: each node made one connection and accepted one.
        assert.deepStrictEqual([a.connects.length, b.connects.length], [1, 1])
        assert.strictEqual(new Set(a.wire.map((m) => m.conn)).size, 2, "A saw traffic on two connections")
        yield* advance(300_000)
        // One session each, never dropped, over the connection opened by the winner.
        assert.deepStrictEqual([establishments(pa).map((e) => e.at), establishments(pb).map((e) => e.at)], [[0], [0]])
        assert.deepStrictEqual([...downs(pa), ...downs(pb)], [])
        assert.deepStrictEqual(establishedConns(pa).map(outgoing), [c.aWins])
        assert.deepStrictEqual(establishedConns(pb).map(outgoing), [!c.aWins])
        // Exactly one TCP connection carries the session: the same one seen from both ends.
        const aLive = liveConns(a, B, 240_000)
        const bLive = liveConns(b, A, 240_000)
        assert.strictEqual(aLive.length, 1)
        assert.strictEqual(bLive.length, 1)
        const aEnd = a.wire.find((m) => m.conn === aLive[0])!
        const bEnd = b.wire.find((m) => m.conn === bLive[0])!
        assert.deepStrictEqual([aEnd.local, aEnd.remote], [bEnd.remote, bEnd.local])
        assert.strictEqual(aEnd.remote.port === 179, c.aWins, "the survivor was opened by the winner")
        // The other connection was closed with Cease / Connection Collision Resolution, and nothing else was sent.
        const notes = [...notificationsWith(a, B), ...notificationsWith(b, A)]
        assert.ok(notes.length > 0)
        for (const n of notes) assert.deepStrictEqual([n.code, n.subcode], [6, 7])
        assert.ok(notificationsWith(a, B).every((n) => n.conn !== aLive[0]))
      }))
  }
})

describe("ManualStop", () => {
  it.effect("delivers the RFC 9003 shutdown message; the stopped side stays down until started again", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork
      const a = yield* makeNode(net, A)
      const b = yield* makeNode(net, B)
      const pa = yield* addPeer(a, B, { config: config(65001, 1, { peerAs: 65002, passive: true }) })
      const pb = yield* addPeer(b, A, { config: config(65002, 2, { peerAs: 65001 }) })
      yield* advanceUntil("Established", () => establishments(pa).length === 1 && establishments(pb).length === 1)
      yield* advance(5_000)
      const text = "maintenance: fibre swap in rack 12, back at 14:00 UTC — ticket #4711 ✈"
      yield* pa.peer.stop(text)
      yield* advance(0)
      const sent = notificationsWith(a, B).filter((n) => n.dir === "sent")
      assert.strictEqual(sent.length, 1)
      assert.deepStrictEqual([sent[0]!.code, sent[0]!.subcode], [6, 2])
      const utf8 = new TextEncoder().encode(text)
      assert.deepStrictEqual([...sent[0]!.data], [utf8.length, ...utf8])
      assert.deepStrictEqual(downs(pa).map((d) => d.value.reason), [{ _tag: "AdminStop", message: text }])
      const bDown = downs(pb)
      assert.strictEqual(bDown.length, 1)
      const reason = bDown[0]!.value.reason
      assert.strictEqual(reason._tag, "NotificationReceived")
      if (reason._tag === "NotificationReceived") {
        assert.strictEqual(reason.message, text)
        assert.deepStrictEqual([reason.notification.code, reason.notification.subcode], [6, 2])
      }
      // B keeps trying; the stopped A refuses (Cease / Connection Rejected) and stays Idle.
      yield* advance(600_000)
      assert.strictEqual(yield* pa.peer.state, "Idle")
      assert.strictEqual(establishments(pa).length, 1)
      const refusals = notificationsWith(a, B).filter((n) => n.dir === "sent" && n.code === 6 && n.subcode === 5)
      assert.ok(refusals.length >= 10, `A refused B's attempts (${refusals.length})`)
      // Started again: the next attempt of B gets through.
      yield* pa.peer.start
      yield* advanceUntil("Established again", () => establishments(pa).length === 2 && establishments(pb).length === 2, { maxMs: 60_000 })
    }))
})

describe("graceful restart (RFC 4724 §4.2)", () => {
  /**
   * A is Established with B, then A's process dies without its TCP connection being closed (no FIN,
   * no NOTIFICATION: the tap swallows everything), and a new A comes up on the same address and connects.
   */
  const restart = (gracefulRestart: boolean) =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork
      const a = yield* makeNode(net, A)
      const b = yield* makeNode(net, B)
      const gr = gracefulRestart ? { gracefulRestart: { restartTime: 120 } } : {}
      const scopeA = yield* Scope.make()
      const pa = yield* addPeer(a, B, { config: config(65001, 1, { peerAs: 65002, ...gr }) }).pipe(Scope.provide(scopeA))
      const pb = yield* addPeer(b, A, { config: config(65002, 2, { peerAs: 65001, passive: true, ...gr }) })
      yield* advanceUntil("Established", () => establishments(pa).length === 1 && establishments(pb).length === 1)
      assert.strictEqual((yield* pb.peer.negotiated)?.gracefulRestart !== undefined, gracefulRestart)
      yield* advance(20_000)
      a.controls.crashed = true
      yield* Scope.close(scopeA, Exit.void)
      yield* advance(5_000)
      const restartedAt = yield* currentTime
      const a2 = yield* makeNode(net, A, { listen: false })
      const pa2 = yield* addPeer(a2, B, {
        config: config(65001, 1, { peerAs: 65002, ...(gracefulRestart ? { gracefulRestart: { restartTime: 120, restarting: true } } : {}) })
      })
      return { a, b, a2, pb, pa2, restartedAt }
    })

  it.effect("with GR negotiated, the restarted peer's OPEN replaces the old session at once (Down PeerRestarted)", () =>
    Effect.gen(function*() {
      const { b, pb, pa2, restartedAt } = yield* restart(true)
      yield* advance(0)
      const bDowns = downs(pb)
      assert.deepStrictEqual(bDowns.map((d) => [d.at, d.value.reason._tag]), [[restartedAt, "PeerRestarted"]])
      const est = establishments(pb)
      assert.deepStrictEqual(est.map((e) => e.at), [0, restartedAt])
      assert.notStrictEqual(est[1]!.value.conn, bDowns[0]!.value.conn)
      assert.deepStrictEqual(establishments(pa2).map((e) => e.at), [restartedAt])
      assert.strictEqual(establishments(pa2)[0]!.value.negotiated.gracefulRestart?.restarting, false, "B is not restarting")
      // RFC 4724 §4.2: the old connection is just closed, no NOTIFICATION is sent on it.
      assert.deepStrictEqual(notificationsWith(b, A), [])
      yield* advance(300_000)
      assert.strictEqual(downs(pb).length, 1)
      assert.strictEqual(yield* pb.peer.state, "Established")
    }))

  it.effect("without GR, the new connection is refused (Cease 6/7) until the old session's hold timer expires", () =>
    Effect.gen(function*() {
      const { b, pb, pa2 } = yield* restart(false)
      yield* advance(0)
      assert.deepStrictEqual(downs(pb), [])
      const refused = notificationsWith(b, A).filter((n) => n.dir === "sent")
      assert.ok(refused.length >= 1)
      for (const n of refused) assert.deepStrictEqual([n.code, n.subcode], [6, 7])
      // The old A's last KEEPALIVE reached B at 0 s (then 30 s was swallowed by the crash at 20 s).
      yield* advanceUntil("B's session down", () => downs(pb).length === 1, { stepMs: 1_000 })
      assert.deepStrictEqual(downs(pb).map((d) => [d.at, d.value.reason._tag]), [[90_000, "HoldTimerExpired"]])
      yield* advanceUntil("new session", () => establishments(pa2).length === 1, { stepMs: 1_000, maxMs: 60_000 })
      assert.strictEqual(establishments(pb).length, 2)
    }))
})

describe("many speakers", () => {
  const N = 20
  const address = (k: number) => `10.9.0.${k + 1}`
  /** A permutation of 1..N, so that which side of a pair wins a collision varies. */
  const id = (k: number) => ((k * 7) % N) + 1

  const mesh = (startAt: (k: number) => number) =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork
      const nodes = yield* Effect.forEach(Array.from({ length: N }, (_, k) => k), (k) => makeNode(net, address(k)))
      const peers: PeerHandle[][] = []
      for (let i = 0; i < N; i++) {
        peers.push([])
        for (let j = 0; j < N; j++) {
          if (i === j) continue
          peers[i]!.push(yield* addPeer(nodes[i]!, address(j), {
            config: config(65100 + i, id(i), { peerAs: 65100 + j, connectRetryTime: 5, idleHoldTime: { initial: 1, max: 8 } }),
            start: false
          }))
        }
      }
      // Speakers with the same start time start together, without letting anything run in between.
      const times = [...new Set(Array.from({ length: N }, (_, k) => startAt(k)))].sort((x, y) => x - y)
      for (const t of times) {
        yield* advance(t - (yield* currentTime))
        const starting = Array.from({ length: N }, (_, k) => k).filter((k) => startAt(k) === t)
        yield* startTogether(...starting.flatMap((k) => peers[k]!.map((h) => h.peer)))
      }
      const all = peers.flat()
      const at = yield* advanceUntil("full mesh Established", () => all.every((h) => establishments(h).length > 0), { stepMs: 1_000, maxMs: 600_000 })
      yield* advance(600_000)
      return { nodes, peers, all, at }
    })

  /** For every pair, both ends agree on one connection: outgoing at exactly one of them. */
  const onePerPair = (peers: PeerHandle[][]) => {
    for (let i = 0; i < N; i++) {
      for (let j = i + 1; j < N; j++) {
        const ij = peers[i]![j - 1]!
        const ji = peers[j]![i]!
        const ci = establishedConns(ij).at(-1)!
        const cj = establishedConns(ji).at(-1)!
        assert.notStrictEqual(outgoing(ci), outgoing(cj), `${address(i)}–${address(j)}: one connection`)
      }
    }
  }

  it.effect(`${N} speakers in a full mesh, all starting at the same instant: every session up at once and stable, collisions decided by identifier`, () =>
    Effect.gen(function*() {
      const { all, peers, at, nodes } = yield* mesh(() => 0)
      assert.strictEqual(at, 0)
      // Every speaker connected to every other one at t = 0: 190 collisions.
      for (const n of nodes) assert.deepStrictEqual(n.connects.filter((c) => c.at === 0 && c.outcome === "ok").length, N - 1)
      assert.strictEqual(all.length, N * (N - 1))
      for (const h of all) {
        assert.strictEqual(establishments(h).length, 1, h.peer.name)
        assert.deepStrictEqual(downs(h), [], h.peer.name)
        assert.strictEqual(yield* h.peer.state, "Established")
      }
      onePerPair(peers)
      // Every pair collided (both connected at once): the connection opened by the higher identifier won.
      for (let i = 0; i < N; i++) {
        for (let j = 0; j < N; j++) {
          if (i === j) continue
          const h = peers[i]![j < i ? j : j - 1]!
          assert.strictEqual(outgoing(establishedConns(h)[0]!), id(i) > id(j), h.peer.name)
        }
      }
    }))

  it.effect(`${N} speakers in a full mesh, starting one after another: every session comes up, one connection per pair`, () =>
    Effect.gen(function*() {
      const { all, peers } = yield* mesh((k) => (k * 7919) % 9_973)
      for (const h of all) {
        assert.strictEqual(yield* h.peer.state, "Established", h.peer.name)
        assert.strictEqual(establishments(h).length, 1, h.peer.name)
        assert.deepStrictEqual(downs(h), [], h.peer.name)
      }
      onePerPair(peers)
    }))
})
