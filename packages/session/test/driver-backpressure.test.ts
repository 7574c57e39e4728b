/**
 * Backpressure over real TCP (loopback): a smaller run of `bench/session-keepalive.ts`. One Starling peer
 * sends 100 000 IPv4 routes to another, one route per UPDATE, in batches through `peer.send`; the receiver
 * consumes `inbound`. Checked: no session drop, every route arrives exactly once, and the sender's memory
 * stays bounded — UPDATEs handed to `send` but not yet written never exceed the outbound buffer (batches ×
 * batch size), including while the receiver's consumer is paused and the whole pipeline is full. No timing
 * assertions.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Latch, PubSub, Result } from "effect"
import type { Prefix } from "@starling/codec"
import { buildAnnouncements, ipv4Prefix, makeContext } from "@starling/codec"
import type { Conn, Peer, PeerConfig, SessionEvent, Transport } from "../src/index.ts"
import { makePeer, makePeerListener, tcpTransport } from "../src/index.ts"

const ROUTES = 100_000
const BATCH = 64
const OUTBOUND_BUFFER = 4

/** Counts UPDATEs once the transport has taken them (the write completed). */
const countingWrites = (inner: Transport, counter: { written: number }): Transport => {
  const wrap = (conn: Conn): Conn => ({
    ...conn,
    write: (chunks) =>
      Effect.map(conn.write(chunks), () => {
        for (const c of chunks) if (c[18] === 2) counter.written++
      })
  })
  return { connect: (o) => Effect.map(inner.connect(o), wrap), listen: (o, on) => inner.listen(o, (c) => on(wrap(c))) }
}

/** Route `i` is 1.0.0.0/24 + i; each UPDATE carries one route and a 200-octet optional transitive attribute. */
const encodeAll = (): Uint8Array[] => {
  const ctx = makeContext({ as4: true, extendedMessage: true, internal: false })
  const out: Uint8Array[] = []
  const padding = new Uint8Array(200).fill(0x5a)
  for (let i = 0; i < ROUTES; i++) {
    const p: Prefix = ipv4Prefix((0x01000000 + i * 256) >>> 0, 24)
    const r = buildAnnouncements({
      afi: 1,
      attributes: {
        origin: 0,
        asPath: [{ type: 2, asns: [65001, 64512 + (i % 1000)] }],
        nextHop: 0x7f000001,
        unknown: [{ flags: 0xc0, type: 250, value: padding }]
      },
      prefixes: [p]
    }, ctx)
    if (Result.isFailure(r)) throw r.failure
    out.push(r.success[0]!)
  }
  return out
}

const cfg = (localAs: number, peerAs: number, localId: number, passive: boolean): PeerConfig => ({
  localAs,
  peerAs,
  localId,
  holdTime: 9,
  passive,
  connectRetryTime: 1,
  idleHoldTime: { initial: 1, max: 1 }
})

/** A receiver listening on loopback and a sender connecting to it, whose completed writes are counted. */
const pair = (counter: { written: number }) =>
  Effect.gen(function*() {
    const listener = yield* makePeerListener(tcpTransport, { address: "127.0.0.1", port: 0 })
    const receiver = yield* makePeer({ config: cfg(65002, 65001, 2, true), remote: { address: "127.0.0.1" }, name: "receiver", inboundBuffer: 8 }, tcpTransport)
    yield* listener.register(receiver)
    const sender = yield* makePeer({
      config: cfg(65001, 65002, 1, false),
      remote: { address: "127.0.0.1", port: listener.local.port },
      name: "sender",
      outboundBuffer: OUTBOUND_BUFFER
    }, countingWrites(tcpTransport, counter))
    return { receiver, sender }
  })

describe("backpressure over TCP", () => {
  it.live(`${ROUTES} routes, one per UPDATE: no drop, all received once, the sender's queue bounded by the outbound buffer`, () =>
    Effect.gen(function*() {
      const updates = encodeAll()
      const counter = { written: 0 }
      const downs: string[] = []
      const { receiver, sender } = yield* pair(counter)
      for (const p of [sender, receiver] as ReadonlyArray<Peer>) {
        const sub = yield* p.events
        yield* Effect.forkScoped(Effect.forever(Effect.map(PubSub.take(sub), (e: SessionEvent) => {
          if (e._tag === "Down") downs.push(`${p.name}: ${e.reason._tag}`)
        })))
      }
      // The receiver's consumer: counts each route, can be paused.
      const seen = new Uint8Array(ROUTES)
      let received = 0
      const consuming = yield* Latch.make(false)
      const done = yield* Deferred.make<void>()
      yield* Effect.forkScoped(Effect.forever(Effect.flatMap(Latch.whenOpen(consuming, receiver.inbound), (item) => {
        if (item._tag !== "Messages") return Effect.void
        for (const m of item.messages) {
          if (m._tag !== "Update") continue
          for (const p of m.nlri) {
            const k = ((p.w0 >>> 0) - 0x01000000) / 256
            seen[k] = (seen[k] ?? 0) + 1
            received++
          }
        }
        return received >= ROUTES ? Deferred.succeed(done, undefined) : Effect.void
      })))
      yield* Effect.forkScoped(Effect.forever(sender.inbound))
      yield* receiver.start
      yield* sender.start
      // Consume the Established item, then pause.
      yield* Latch.open(consuming)
      while ((yield* sender.state) !== "Established" || (yield* receiver.state) !== "Established") yield* Effect.sleep("10 millis")
      yield* Latch.close(consuming)

      const bound = OUTBOUND_BUFFER * BATCH
      let submitted = 0
      let maxQueued = 0
      const pump = yield* Effect.forkScoped(Effect.gen(function*() {
        for (let i = 0; i < updates.length; i += BATCH) {
          const batch = updates.slice(i, i + BATCH)
          yield* sender.send(batch)
          submitted += batch.length
          maxQueued = Math.max(maxQueued, submitted - counter.written)
        }
      }))
      // With the consumer paused the pipeline fills and the sender must stop: `submitted` stops moving.
      let last = -1
      while (submitted !== last) {
        last = submitted
        yield* Effect.sleep("300 millis")
      }
      const stalledAt = submitted
      assert.ok(stalledAt < updates.length, `the sender stalled at ${stalledAt} of ${updates.length} UPDATEs`)
      assert.ok(maxQueued <= bound, `queued ${maxQueued} > ${bound}`)
      assert.deepStrictEqual(downs, [])
      // Resume: everything arrives.
      yield* Latch.open(consuming)
      yield* Deferred.await(done)
      yield* Fiber.join(pump)
      assert.strictEqual(received, ROUTES)
      assert.ok(seen.every((n) => n === 1), "every route exactly once")
      assert.ok(maxQueued <= bound, `queued ${maxQueued} > ${bound}`)
      assert.strictEqual(counter.written, ROUTES)
      assert.deepStrictEqual(downs, [])
      assert.strictEqual(yield* sender.state, "Established")
      assert.strictEqual(yield* receiver.state, "Established")
    }), 120_000)

  it.live("trySend: false until Established and while the writer has no room (nothing queued then), true otherwise; order kept", () =>
    Effect.gen(function*() {
      const updates = encodeAll()
      const counter = { written: 0 }
      const { receiver, sender } = yield* pair(counter)
      const order: number[] = []
      const consuming = yield* Latch.make(false)
      const done = yield* Deferred.make<void>()
      yield* Effect.forkScoped(Effect.forever(Effect.flatMap(Latch.whenOpen(consuming, receiver.inbound), (item) => {
        if (item._tag !== "Messages") return Effect.void
        for (const m of item.messages) if (m._tag === "Update") for (const p of m.nlri) order.push(((p.w0 >>> 0) - 0x01000000) / 256)
        return order.length >= updates.length ? Deferred.succeed(done, undefined) : Effect.void
      })))
      let senderConn: number | undefined
      yield* Effect.forkScoped(Effect.forever(Effect.map(sender.inbound, (item) => {
        if (item._tag === "Established") senderConn = item.conn
      })))
      // Not Established: refused, nothing kept for later.
      assert.isFalse(yield* sender.trySend(updates.slice(0, BATCH)))
      yield* receiver.start
      yield* sender.start
      yield* Latch.open(consuming)
      while ((yield* sender.state) !== "Established" || (yield* receiver.state) !== "Established") yield* Effect.sleep("10 millis")
      yield* Latch.close(consuming)
      while (senderConn === undefined) yield* Effect.sleep("10 millis")
      // Messages meant for another connection's session (one that went down) are refused by both.
      assert.isFalse(yield* sender.trySend(updates.slice(0, BATCH), senderConn + 2))
      const wrong = yield* Effect.result(sender.send(updates.slice(0, BATCH), senderConn + 2))
      assert.isTrue(Result.isFailure(wrong) && wrong.failure._tag === "NotEstablished")

      // Consumer paused: trySend is taken while the writer has room, then refused once the pipeline is full.
      let next = 0
      let accepted = 0
      let refusedInARow = 0
      while (next < updates.length && refusedInARow < 10) {
        const batch = updates.slice(next, next + BATCH)
        if (yield* sender.trySend(batch, senderConn)) {
          next += batch.length
          accepted++
          refusedInARow = 0
        } else {
          refusedInARow++
          yield* Effect.sleep("30 millis")
        }
      }
      assert.isAbove(accepted, 0)
      assert.isBelow(next, updates.length, "the paused receiver stopped the sender")
      assert.isAtMost(next - counter.written, OUTBOUND_BUFFER * BATCH, "refused batches were not queued")
      // The rest through `send` (which waits), after what trySend queued: one stream, in order.
      const rest = yield* Effect.forkScoped(Effect.gen(function*() {
        for (let i = next; i < updates.length; i += BATCH) yield* sender.send(updates.slice(i, i + BATCH), senderConn)
      }))
      yield* Latch.open(consuming)
      yield* Deferred.await(done)
      yield* Fiber.join(rest)
      assert.strictEqual(order.length, updates.length)
      assert.ok(order.every((k, i) => k === i), "every route once, in the order given")
    }), 120_000)
})
