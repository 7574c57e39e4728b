/**
 * Session transfer under load, and whether KEEPALIVEs stay on time while it runs.
 *
 *   node bench/session-keepalive.ts                     1 M IPv4 routes, three UPDATE shapes (below)
 *   node bench/session-keepalive.ts --routes 200000     fewer routes
 *   node bench/session-keepalive.ts --shape 16          one shape only: prefixes per UPDATE ("packed" = as many as fit)
 *   options: --hold <s> (default 9: KEEPALIVE every 3 s), --batch <n> (UPDATEs per `peer.send`, default 256),
 *            --json (one JSON object per shape on stdout instead of the table)
 *
 * Two Starling peers in this process, over TCP on 127.0.0.1: the sender connects to the receiver's
 * listener; once Established, the sender pushes pre-encoded UPDATEs (built with `buildAnnouncements`
 * before the clock starts) with `peer.send` in batches, and the receiver consumes `inbound`, counting
 * prefixes, until every route has arrived. Both run on one event loop, so the receiver's decoding and the
 * sender's writing compete for the same thread — the hard case for keepalive timeliness.
 *
 * Reported per shape: transfer time and routes/s; the sender's `maxKeepaliveGapMs` (largest gap between
 * two KEEPALIVE writes); at each end, the largest interval between KEEPALIVEs received and between any
 * two messages received (what the hold timer sees: every message restarts it), from a tap on each
 * side's transport; the largest event-loop delay (a 50 ms interval timer's lateness); RSS once the input
 * is encoded and its peak during the transfer; the
 * largest number of UPDATEs handed to `send` but not yet written (bounded by the outbound buffer).
 * A session drop fails the run (exit code 1).
 */
import os from "node:os"
import { Deferred, Effect, Exit, PubSub, References, Result, Scope } from "effect"
import type { CodecContext, Prefix } from "@starling/codec"
import { buildAnnouncements, ipv4Prefix, makeContext, makeFramer } from "@starling/codec"
import type { Conn, Peer, PeerConfig, SessionEvent, Transport } from "@starling/session"
import { makePeer, makePeerListener, tcpTransport } from "@starling/session"

const args = process.argv.slice(2)
const opt = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 ? args[i + 1] : undefined
}
const ROUTES = Number(opt("routes") ?? 1_000_000)
const HOLD = Number(opt("hold") ?? 9)
const BATCH = Number(opt("batch") ?? 256)
const JSON_OUT = args.includes("--json")
const SHAPES: ReadonlyArray<number | "packed"> = opt("shape") !== undefined
  ? [opt("shape") === "packed" ? "packed" : Number(opt("shape"))]
  : ["packed", 16, 1]

// -------------------------------------------------------------------------------------------------
// Wire tap: message arrival times per side

interface Tap {
  keepaliveTimes: number[]
  lastRx: number
  maxRxGap: number
  updatesWritten: number
}

const newTap = (): Tap => ({ keepaliveTimes: [], lastRx: 0, maxRxGap: 0, updatesWritten: 0 })

/** Counts what crosses the transport: received KEEPALIVE times, gaps between received messages, UPDATEs written. */
const tapped = (inner: Transport, tap: Tap): Transport => {
  const wrap = (conn: Conn): Conn => {
    const rx = makeFramer({ extendedMessages: true })
    return {
      ...conn,
      read: Effect.map(conn.read, (chunk) => {
        if (chunk !== undefined) {
          const now = performance.now()
          for (const m of rx.push(chunk).messages) {
            if (tap.lastRx > 0) tap.maxRxGap = Math.max(tap.maxRxGap, now - tap.lastRx)
            tap.lastRx = now
            if (m[18] === 4) tap.keepaliveTimes.push(now)
          }
        }
        return chunk
      }),
      write: (chunks) =>
        Effect.map(conn.write(chunks), () => {
          for (const c of chunks) if (c[18] === 2) tap.updatesWritten++
        })
    }
  }
  return { connect: (o) => Effect.map(inner.connect(o), wrap), listen: (o, on) => inner.listen(o, (c) => on(wrap(c))) }
}

const maxGap = (times: ReadonlyArray<number>): number => {
  let g = 0
  for (let i = 1; i < times.length; i++) g = Math.max(g, times[i]! - times[i - 1]!)
  return g
}

// -------------------------------------------------------------------------------------------------
// Routes

/** `n` distinct /24s from 1.0.0.0 upward. */
const prefixes = (n: number): Prefix[] => {
  const out: Prefix[] = new Array(n)
  for (let i = 0; i < n; i++) out[i] = ipv4Prefix((0x01000000 + i * 256) >>> 0, 24)
  return out
}

/** UPDATEs for `ps`, `per` prefixes sharing one attribute set (each set its own AS_PATH and MED). */
const encodeUpdates = (ps: ReadonlyArray<Prefix>, per: number | "packed", ctx: CodecContext): Uint8Array[] => {
  const size = per === "packed" ? ps.length : per
  const out: Uint8Array[] = []
  for (let g = 0, k = 0; g < ps.length; g += size, k++) {
    const r = buildAnnouncements({
      afi: 1,
      attributes: {
        origin: 0,
        asPath: [{ type: 2, asns: [65001, 64512 + (k % 1000), 4200000000 + (k % 65536)] }],
        nextHop: 0x7f000001,
        med: k % 100_000
      },
      prefixes: ps.slice(g, g + size)
    }, ctx)
    if (Result.isFailure(r)) throw r.failure
    for (const u of r.success) out.push(u)
  }
  return out
}

// -------------------------------------------------------------------------------------------------

interface Outcome {
  readonly shape: string
  readonly routes: number
  readonly updates: number
  readonly bytes: number
  readonly seconds: number
  readonly routesPerSecond: number
  readonly senderMaxKeepaliveGapMs: number
  readonly receiverMaxKeepaliveGapMs: number
  readonly receiverRxKeepaliveGapMs: number
  readonly receiverRxAnyGapMs: number
  readonly senderRxKeepaliveGapMs: number
  readonly senderRxAnyGapMs: number
  readonly maxEventLoopDelayMs: number
  readonly maxQueuedUpdates: number
  readonly outboundBound: number
  /** RSS once the UPDATEs are encoded (before the peers exist), and the peak during the transfer. */
  readonly rssBeforeMiB: number
  readonly peakRssMiB: number
  readonly dropped: ReadonlyArray<string>
}

const OUTBOUND_BUFFER = 64

const runShape = (per: number | "packed") =>
  Effect.gen(function*() {
    const ctx = makeContext({ as4: true, extendedMessage: true, internal: false })
    const updates = encodeUpdates(prefixes(ROUTES), per, ctx)
    const bytes = updates.reduce((n, u) => n + u.length, 0)
    const rssBefore = process.memoryUsage.rss()
    const scope = yield* Scope.make()
    const sTap = newTap()
    const rTap = newTap()
    const downs: string[] = []
    const cfg = (localAs: number, peerAs: number, localId: number, passive: boolean): PeerConfig => ({
      localAs, peerAs, localId, holdTime: HOLD, passive, connectRetryTime: 1, idleHoldTime: { initial: 1, max: 1 }
    })
    const watch = (peer: Peer) =>
      Effect.gen(function*() {
        const sub = yield* peer.events
        yield* Effect.forkScoped(Effect.forever(Effect.map(PubSub.take(sub), (e: SessionEvent) => {
          if (e._tag === "Down") downs.push(`${peer.name}: ${e.reason._tag}`)
        })))
      })
    const done = yield* Deferred.make<void>()
    let received = 0
    const { sender, receiver } = yield* Scope.provide(scope)(Effect.gen(function*() {
      const rTransport = tapped(tcpTransport, rTap)
      const listener = yield* makePeerListener(rTransport, { address: "127.0.0.1", port: 0 })
      const receiver = yield* makePeer({ config: cfg(65002, 65001, 2, true), remote: { address: "127.0.0.1" }, name: "receiver" }, rTransport)
      yield* listener.register(receiver)
      const sender = yield* makePeer({
        config: cfg(65001, 65002, 1, false),
        remote: { address: "127.0.0.1", port: listener.local.port },
        name: "sender",
        outboundBuffer: OUTBOUND_BUFFER
      }, tapped(tcpTransport, sTap))
      yield* watch(receiver)
      yield* watch(sender)
      yield* Effect.forkScoped(Effect.forever(Effect.flatMap(sender.inbound, () => Effect.void)))
      yield* Effect.forkScoped(Effect.forever(Effect.flatMap(receiver.inbound, (item) => {
        if (item._tag === "Messages") {
          for (const m of item.messages) if (m._tag === "Update") received += m.nlri.length + (m.mpReach?.nlri.length ?? 0)
          if (received >= ROUTES) return Deferred.succeed(done, undefined)
        }
        return Effect.void
      })))
      yield* receiver.start
      yield* sender.start
      return { sender, receiver }
    }))
    while ((yield* sender.state) !== "Established" || (yield* receiver.state) !== "Established") yield* Effect.sleep("20 millis")
    const n = yield* sender.negotiated
    if (n?.extendedMessage !== true || !n.as4) throw new Error("unexpected negotiation: UPDATEs were encoded for extended messages and 4-octet AS")

    // Event-loop lateness and memory, sampled by a plain timer on the same loop.
    let loopDelay = 0
    let peakRss = process.memoryUsage.rss()
    let expected = performance.now() + 50
    const sampler = setInterval(() => {
      const now = performance.now()
      loopDelay = Math.max(loopDelay, now - expected)
      expected = now + 50
      peakRss = Math.max(peakRss, process.memoryUsage.rss())
    }, 50)

    const t0 = performance.now()
    let submitted = 0
    let maxQueued = 0
    yield* Effect.forkIn(Effect.gen(function*() {
      for (let i = 0; i < updates.length; i += BATCH) {
        const batch = updates.slice(i, i + BATCH)
        yield* sender.send(batch)
        submitted += batch.length
        maxQueued = Math.max(maxQueued, submitted - sTap.updatesWritten)
      }
    }).pipe(Effect.orDie), scope)
    yield* Deferred.await(done).pipe(Effect.timeoutOption("600 seconds"))
    const seconds = (performance.now() - t0) / 1000
    clearInterval(sampler)
    // A moment after the transfer: a drop caused by it would show now.
    yield* Effect.sleep(`${HOLD + 1} seconds`)
    const outcome: Outcome = {
      shape: per === "packed" ? "packed" : `${per}/UPDATE`,
      routes: received,
      updates: updates.length,
      bytes,
      seconds,
      routesPerSecond: received / seconds,
      senderMaxKeepaliveGapMs: yield* sender.maxKeepaliveGapMs,
      receiverMaxKeepaliveGapMs: yield* receiver.maxKeepaliveGapMs,
      receiverRxKeepaliveGapMs: maxGap(rTap.keepaliveTimes),
      receiverRxAnyGapMs: rTap.maxRxGap,
      senderRxKeepaliveGapMs: maxGap(sTap.keepaliveTimes),
      senderRxAnyGapMs: sTap.maxRxGap,
      maxEventLoopDelayMs: loopDelay,
      maxQueuedUpdates: maxQueued,
      outboundBound: OUTBOUND_BUFFER * BATCH,
      rssBeforeMiB: rssBefore / 2 ** 20,
      peakRssMiB: peakRss / 2 ** 20,
      dropped: [...downs, ...(received < ROUTES ? [`only ${received} of ${ROUTES} routes arrived`] : []),
        ...((yield* sender.state) === "Established" && (yield* receiver.state) === "Established" ? [] : ["not Established at the end"])]
    }
    yield* Scope.close(scope, Exit.void)
    return outcome
  })

const fmt = (x: number, d = 0) => x.toFixed(d)

const main = Effect.gen(function*() {
  const cpu = os.cpus()[0]?.model ?? "unknown"
  if (!JSON_OUT) {
    console.log(`session-keepalive: ${ROUTES} IPv4 routes, hold ${HOLD} s (KEEPALIVE every ${Math.floor(HOLD / 3)} s), ${BATCH} UPDATEs per send, outbound buffer ${OUTBOUND_BUFFER} batches`)
    console.log(`${new Date().toISOString()}  Node ${process.version}  ${cpu} × ${os.cpus().length}  ${os.platform()} ${os.release()}`)
    console.log("")
    console.log("shape        UPDATEs    MB     time s   routes/s   KA gap ms (sender write / recv rx / sender rx)   any-rx gap ms (recv / sender)   loop delay ms   max queued   RSS MiB (input / peak)")
  }
  let failed = false
  for (const shape of SHAPES) {
    const o = yield* runShape(shape)
    if (o.dropped.length > 0) failed = true
    if (JSON_OUT) console.log(JSON.stringify({ ...o, node: process.version, cpu, date: new Date().toISOString() }))
    else {
      console.log([
        o.shape.padEnd(12),
        String(o.updates).padStart(8),
        fmt(o.bytes / 1e6, 1).padStart(6),
        fmt(o.seconds, 2).padStart(10),
        fmt(o.routesPerSecond).padStart(10),
        `${fmt(o.senderMaxKeepaliveGapMs)} / ${fmt(o.receiverRxKeepaliveGapMs)} / ${fmt(o.senderRxKeepaliveGapMs)}`.padStart(36),
        `${fmt(o.receiverRxAnyGapMs)} / ${fmt(o.senderRxAnyGapMs)}`.padStart(32),
        fmt(o.maxEventLoopDelayMs).padStart(15),
        `${o.maxQueuedUpdates} ≤ ${o.outboundBound}`.padStart(14),
        `${fmt(o.rssBeforeMiB)} / ${fmt(o.peakRssMiB)}`.padStart(12),
        o.dropped.length > 0 ? `  DROPPED: ${o.dropped.join("; ")}` : ""
      ].join(" "))
    }
  }
  if (failed) {
    console.error("a session dropped or routes were lost")
    process.exitCode = 1
  }
})

Effect.runPromise(main.pipe(Effect.provideService(References.MinimumLogLevel, "Warn"))).catch((e) => {
  console.error(e)
  process.exitCode = 1
})
