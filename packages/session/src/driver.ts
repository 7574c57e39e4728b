/**
 * The Effect driver of one BGP peer: it owns the TCP connections, the timers and the FSM state, runs the
 * pure `step` for every event and carries out the actions.
 *
 * Fibers per peer: one event loop (the only writer of FSM state), and per connection a reader
 * (socket → framer → decode) and a writer (a queue of control messages and UPDATE batches → socket).
 * Timers are fibers keyed by name (and connection) that sleep until a deadline; restarting a timer moves
 * the deadline without forking.
 *
 * Fast paths that implement FSM cells without a trip through the loop (their behaviour is exactly the
 * cell's; the FSM tests define it):
 * - in Established, a received KEEPALIVE/UPDATE/ROUTE-REFRESH restarts the hold timer by moving the
 *   connection's last-receive time, and UPDATEs go straight from the reader to `inbound`;
 * - the reader switches its decode context as soon as it has seen a valid OPEN, because the next octets
 *   (in the same chunk) are already encoded for the negotiated session.
 *
 * Backpressure: the reader takes a permit per batch it hands to `inbound` and stops reading (so TCP
 * pushes back on the peer) when the consumer lags; UPDATE batches sent by the speaker take a permit of
 * the writer. Control messages (OPEN, KEEPALIVE, NOTIFICATION, ROUTE-REFRESH) never wait for permits and
 * are written before queued UPDATEs, so KEEPALIVEs are never starved by a large transfer.
 */
import type { CodecContext, Framer, Message, Open, RouteRefresh, Update } from "@starling/codec"
import { decodeMessage, defaultContext, encodeMessage, makeFramer } from "@starling/codec"
import { Clock, Deferred, Effect, Fiber, PubSub, Queue, Ref, Result, Scope, Semaphore } from "effect"
import type { PeerConfig } from "./config.ts"
import type { Action, DownReason, Event, Fsm, SessionState, TimerName } from "./fsm.ts"
import { initial, step } from "./fsm.ts"
import type { Negotiated } from "./negotiate.ts"
import { negotiate } from "./negotiate.ts"
import type { Conn, Endpoint, Transport } from "./transport.ts"

export interface PeerOptions {
  readonly config: PeerConfig
  /** The peer's address and port (default port 179). */
  readonly remote: { readonly address: string; readonly port?: number }
  /** Source address and port for our connections. */
  readonly localAddress?: string
  readonly localPort?: number
  /** A name for logs and events (default: the remote address). */
  readonly name?: string
  /** Batches buffered toward the consumer of `inbound` before the reader stops reading. Default 64. */
  readonly inboundBuffer?: number
  /** UPDATE batches buffered toward the socket before `send` waits. Default 64. */
  readonly outboundBuffer?: number
}

/** What observers see (logs, metrics, the API). */
export type SessionEvent =
  | { readonly _tag: "StateChanged"; readonly peer: string; readonly from: SessionState; readonly to: SessionState; readonly reason?: DownReason }
  | { readonly _tag: "Established"; readonly peer: string; readonly conn: number; readonly negotiated: Negotiated }
  | { readonly _tag: "Down"; readonly peer: string; readonly conn: number; readonly reason: DownReason }

/** What the consumer of received routes sees, in order. */
export type Inbound =
  | { readonly _tag: "Established"; readonly conn: number; readonly negotiated: Negotiated; readonly peerOpen: Open }
  | { readonly _tag: "Messages"; readonly conn: number; readonly messages: ReadonlyArray<Update | RouteRefresh> }
  | { readonly _tag: "Down"; readonly conn: number; readonly reason: DownReason }

export class NotEstablished extends Error {
  readonly _tag = "NotEstablished"
}

export interface Peer {
  readonly name: string
  readonly remote: Endpoint
  readonly start: Effect.Effect<void>
  /** ManualStop: Cease / Administrative Shutdown with an RFC 9003 message. */
  readonly stop: (message?: string) => Effect.Effect<void>
  /** AutomaticStop with a Cease subcode (RFC 4486), e.g. max prefixes, de-configured; restarts after IdleHold. */
  readonly reset: (subcode: number, message?: string) => Effect.Effect<void>
  readonly state: Effect.Effect<SessionState>
  readonly fsm: Effect.Effect<Fsm>
  /** The negotiated session while Established. */
  readonly negotiated: Effect.Effect<Negotiated | undefined>
  /** Takes the next inbound item (waits). Consume it, or the peer stops reading. */
  readonly inbound: Effect.Effect<Inbound>
  /** Subscribes to session events. */
  readonly events: Effect.Effect<PubSub.Subscription<SessionEvent>, never, Scope.Scope>
  /**
   * Queues pre-encoded messages (UPDATEs) on the Established connection; waits when the writer lags. With
   * `conn` (from the `Established` item) only on that connection: messages encoded for a session that has
   * since gone down (its capabilities, its ADD-PATH ids) never reach the next one.
   */
  readonly send: (messages: ReadonlyArray<Uint8Array>, conn?: number) => Effect.Effect<void, NotEstablished>
  /**
   * `send` without waiting: queues the messages and returns true when the writer has room now; returns
   * false (nothing queued) when it has not or the session (that connection) is not Established. Lets a
   * caller with its own queue skip a fiber hand-off per batch while the peer keeps up.
   */
  readonly trySend: (messages: ReadonlyArray<Uint8Array>, conn?: number) => Effect.Effect<boolean>
  /** Sends a ROUTE-REFRESH (RFC 2918; subtype per RFC 7313). */
  readonly refresh: (afi: number, safi: number, subtype?: number) => Effect.Effect<void, NotEstablished>
  /** Hands over an accepted TCP connection from a listener. */
  readonly accept: (conn: Conn) => Effect.Effect<void>
  /** Largest gap between two KEEPALIVE writes seen on the current connection, ms (for measurements). */
  readonly maxKeepaliveGapMs: Effect.Effect<number>
  /** Our address on the Established connection (for next hop self), if any. */
  readonly localAddress: () => string | undefined
}

type WriteItem =
  | { readonly kind: "control"; readonly bytes: Uint8Array; readonly keepalive: boolean }
  | { readonly kind: "data"; readonly bytes: ReadonlyArray<Uint8Array> }
  | { readonly kind: "close" }

interface ConnRuntime {
  readonly id: number
  conn: Conn | undefined
  connecting: Fiber.Fiber<void> | undefined
  reader: Fiber.Fiber<void> | undefined
  writer: Fiber.Fiber<void> | undefined
  readonly out: Queue.Queue<WriteItem>
  readonly dataSlots: Semaphore.Semaphore
  readonly established: Deferred.Deferred<boolean>
  tx: CodecContext
  /** Last time anything arrived: the hold timer's reference point (ms). */
  lastRx: number
  holdMs: number
  lastKeepaliveAt: number
  /** When the writer last reported send progress (ms). */
  lastProgressAt: number
  maxKeepaliveGap: number
  closed: boolean
  /** The reader waits for our own consumer (not the peer): the hold timer must not blame the peer. */
  readerBlocked: boolean
}

interface TimerEntry {
  deadline: number
  generation: number
  fiber: Fiber.Fiber<void> | undefined
}

const KEEPALIVE_TYPE = 4
/** Octets per socket write; each completed write counts as send progress (RFC 9687). */
const WRITE_SLICE = 64 * 1024
/** Send progress is reported at most this often while UPDATEs flow (timers: 480 s SendHold, ≥ 1 s keepalive). */
const PROGRESS_MS = 500

/** Starts the peer's fibers in the current scope (they end with it). The peer starts Idle: call `start`. */
export const makePeer = (options: PeerOptions, transport: Transport): Effect.Effect<Peer, never, Scope.Scope> =>
  Effect.gen(function*() {
    const cfg = options.config
    const remote: Endpoint = { address: options.remote.address, port: options.remote.port ?? 179 }
    const name = options.name ?? remote.address
    const scope = yield* Effect.scope
    const events = yield* Queue.unbounded<Event>()
    const inboundQ = yield* Queue.unbounded<Inbound>()
    const inboundSlots = yield* Semaphore.make(options.inboundBuffer ?? 64)
    const observers = yield* PubSub.unbounded<SessionEvent>()
    const fsmRef = yield* Ref.make(initial(cfg))
    const conns = new Map<number, ConnRuntime>()
    const timers = new Map<string, TimerEntry>()
    let establishedConn: ConnRuntime | undefined
    let negotiated: Negotiated | undefined
    let nextIncoming = 2

    const post = (e: Event) => Queue.offer(events, e)
    const fork = <A, E>(eff: Effect.Effect<A, E>) => Effect.forkIn(eff, scope)

    // ---------------------------------------------------------------------------------------------
    // Timers

    const timerKey = (timer: TimerName, conn?: number) => (conn === undefined ? timer : `${timer}:${conn}`)

    const expiry = (timer: TimerName, conn: number | undefined): Event => {
      switch (timer) {
        case "ConnectRetry":
          return { _tag: "ConnectRetryTimerExpires" }
        case "IdleHold":
          return { _tag: "IdleHoldTimerExpires" }
        case "Stable":
          return { _tag: "StableTimerExpires" }
        case "Hold":
          return { _tag: "HoldTimerExpires", conn: conn! }
        case "Keepalive":
          return { _tag: "KeepaliveTimerExpires", conn: conn! }
        case "DelayOpen":
          return { _tag: "DelayOpenTimerExpires", conn: conn! }
        case "SendHold":
          return { _tag: "SendHoldTimerExpires", conn: conn! }
      }
    }

    const startTimer = (timer: TimerName, conn: number | undefined, seconds: number) =>
      Effect.gen(function*() {
        const k = timerKey(timer, conn)
        const now = yield* Clock.currentTimeMillis
        const deadline = now + seconds * 1000
        const rt = conn === undefined ? undefined : conns.get(conn)
        if (timer === "Hold" && rt !== undefined) {
          rt.holdMs = seconds * 1000
          rt.lastRx = now
        }
        const existing = timers.get(k)
        if (existing !== undefined && existing.fiber !== undefined && deadline >= existing.deadline) {
          // The sleeping fiber wakes at the old deadline and sleeps again until the new one.
          existing.deadline = deadline
          return
        }
        if (existing?.fiber !== undefined) yield* Fiber.interrupt(existing.fiber)
        const entry: TimerEntry = { deadline, generation: (existing?.generation ?? 0) + 1, fiber: undefined }
        timers.set(k, entry)
        const gen = entry.generation
        entry.fiber = yield* fork(Effect.gen(function*() {
          while (true) {
            const t = yield* Clock.currentTimeMillis
            let due = entry.deadline
            // The hold timer also honours receipts noted by the reader fast path.
            if (timer === "Hold" && rt !== undefined) {
              // While our own consumer holds the reader back, unread input is waiting: no expiry (as BIRD does).
              due = Math.max(due, rt.lastRx + rt.holdMs, rt.readerBlocked ? t + rt.holdMs : 0)
            }
            if (t >= due) break
            yield* Effect.sleep(due - t)
          }
          if (timers.get(k)?.generation === gen) {
            timers.delete(k)
            yield* post(expiry(timer, conn))
          }
        }))
      })

    const stopTimer = (timer: TimerName, conn?: number) =>
      Effect.gen(function*() {
        const k = timerKey(timer, conn)
        const t = timers.get(k)
        if (t === undefined) return
        timers.delete(k)
        if (t.fiber !== undefined) yield* Fiber.interrupt(t.fiber)
      })

    const stopConnTimers = (conn: number) =>
      Effect.forEach(["Hold", "Keepalive", "DelayOpen", "SendHold"] as const, (t) => stopTimer(t, conn), { discard: true })

    // ---------------------------------------------------------------------------------------------
    // Connections

    const newRuntime = (id: number, conn: Conn | undefined) =>
      Effect.gen(function*() {
        const rt: ConnRuntime = {
          id,
          conn,
          connecting: undefined,
          reader: undefined,
          writer: undefined,
          out: yield* Queue.unbounded<WriteItem>(),
          dataSlots: yield* Semaphore.make(options.outboundBuffer ?? 64),
          established: yield* Deferred.make<boolean>(),
          tx: defaultContext,
          lastRx: yield* Clock.currentTimeMillis,
          holdMs: 0,
          lastKeepaliveAt: 0,
          lastProgressAt: 0,
          maxKeepaliveGap: 0,
          closed: false,
          readerBlocked: false
        }
        conns.set(id, rt)
        return rt
      })

    const writerLoop = (rt: ConnRuntime, conn: Conn) =>
      Effect.gen(function*() {
        while (true) {
          const items = yield* Queue.takeAll(rt.out)
          const chunks: Uint8Array[] = []
          let data = 0
          let close = false
          let keepalive = false
          // Control messages first: a KEEPALIVE never waits behind queued UPDATEs.
          for (const it of items) {
            if (it.kind === "control") {
              chunks.push(it.bytes)
              keepalive ||= it.keepalive
            } else if (it.kind === "close") close = true
          }
          for (const it of items) {
            if (it.kind === "data") {
              for (const b of it.bytes) chunks.push(b)
              data++
            }
          }
          if (chunks.length > 0) {
            // Written in slices of about WRITE_SLICE octets, each reported as send progress (RFC 9687): a
            // large backlog that a slow but reading peer drains is progress, not a stuck session.
            let ok = true
            for (let i = 0; ok && i < chunks.length;) {
              let j = i + 1
              let size = chunks[i]!.length
              while (j < chunks.length && size + chunks[j]!.length <= WRITE_SLICE) size += chunks[j++]!.length
              ok = yield* conn.write(j - i === chunks.length ? chunks : chunks.slice(i, j)).pipe(Effect.as(true), Effect.catch(() => Effect.succeed(false)))
              if (ok && i === 0 && keepalive) {
                // Control messages lead the first slice.
                const now = yield* Clock.currentTimeMillis
                if (rt.lastKeepaliveAt > 0) rt.maxKeepaliveGap = Math.max(rt.maxKeepaliveGap, now - rt.lastKeepaliveAt)
                rt.lastKeepaliveAt = now
              }
              i = j
              if (ok && i < chunks.length && !rt.closed) yield* post({ _tag: "SendProgress", conn: rt.id })
            }
            if (data > 0) yield* Semaphore.release(rt.dataSlots, data)
            if (!ok) {
              if (!rt.closed) yield* post({ _tag: "TcpConnectionFails", conn: rt.id })
              return
            }
            // Progress restarts the SendHold and Keepalive timers (two timer updates through the FSM): at
            // most once per PROGRESS_MS while data flows, always for control messages (bench/REPORT.md, S2).
            const at = yield* Clock.currentTimeMillis
            if (!rt.closed && (data === 0 || keepalive || at - rt.lastProgressAt >= PROGRESS_MS)) {
              rt.lastProgressAt = at
              yield* post({ _tag: "SendProgress", conn: rt.id })
            }
          }
          if (close) {
            yield* conn.close
            return
          }
        }
      })

    const readerLoop = (rt: ConnRuntime, conn: Conn) =>
      Effect.gen(function*() {
        const framer: Framer = makeFramer()
        let rx: CodecContext = defaultContext
        let routeRefresh = false
        let sawOpen = false
        let established = false
        while (true) {
          const chunk = yield* conn.read.pipe(Effect.catch(() => Effect.succeed(undefined)))
          if (chunk === undefined) {
            if (!rt.closed) yield* post({ _tag: "TcpConnectionFails", conn: rt.id })
            return
          }
          rt.lastRx = yield* Clock.currentTimeMillis
          const framed = framer.push(chunk)
          let batch: Array<Update | RouteRefresh> | undefined
          for (const bytes of framed.messages) {
            const r = decodeMessage(bytes, rx)
            if (Result.isFailure(r)) {
              if (batch !== undefined) yield* deliver(rt, batch)
              yield* post({ _tag: "MessageError", conn: rt.id, error: r.failure })
              return
            }
            const m = r.success
            if (established && (m._tag === "Update" || m._tag === "RouteRefresh")) {
              if (m._tag === "RouteRefresh" && !routeRefresh) continue
              ;(batch ??= []).push(m)
              continue
            }
            if (established && m._tag === "Keepalive") continue
            if (batch !== undefined) {
              yield* deliver(rt, batch)
              batch = undefined
            }
            switch (m._tag) {
              case "Open": {
                const n = negotiate(cfg, m)
                if (n.ok) {
                  rx = n.value.rx
                  routeRefresh = n.value.routeRefresh
                  framer.setExtendedMessages(n.value.extendedMessage)
                }
                sawOpen = true
                yield* post({ _tag: "BgpOpen", conn: rt.id, open: m })
                break
              }
              case "Keepalive": {
                yield* post({ _tag: "KeepAliveMsg", conn: rt.id })
                if (sawOpen) {
                  // OpenConfirm → Established happens in the loop; wait for it so nothing overtakes it.
                  established = yield* Deferred.await(rt.established)
                  if (!established) return
                }
                break
              }
              case "Notification":
                yield* post({ _tag: "NotifMsg", conn: rt.id, notification: m })
                return
              case "Update":
                yield* post({ _tag: "UpdateMsg", conn: rt.id, update: m })
                break
              case "RouteRefresh":
                yield* post({ _tag: "RouteRefreshMsg", conn: rt.id, message: m })
                break
            }
          }
          if (batch !== undefined) yield* deliver(rt, batch)
          if (framed.error !== undefined) {
            yield* post({ _tag: "MessageError", conn: rt.id, error: framed.error })
            return
          }
        }
      })

    const deliver = (rt: ConnRuntime, messages: ReadonlyArray<Update | RouteRefresh>) =>
      Effect.gen(function*() {
        rt.readerBlocked = true
        yield* Semaphore.take(inboundSlots, 1)
        rt.readerBlocked = false
        rt.lastRx = yield* Clock.currentTimeMillis
        yield* Queue.offer(inboundQ, { _tag: "Messages", conn: rt.id, messages })
      })

    const attach = (rt: ConnRuntime, conn: Conn) =>
      Effect.gen(function*() {
        if (rt.closed) return
        rt.conn = conn
        rt.writer = yield* fork(writerLoop(rt, conn))
        rt.reader = yield* fork(readerLoop(rt, conn))
      })

    const closeConn = (id: number) =>
      Effect.gen(function*() {
        const rt = conns.get(id)
        if (rt === undefined) return
        conns.delete(id)
        rt.closed = true
        // A `send` waiting for room on this connection must not wait forever: wake it (it then fails).
        yield* Semaphore.releaseAll(rt.dataSlots)
        yield* stopConnTimers(id)
        yield* Deferred.succeed(rt.established, false)
        if (rt.connecting !== undefined) yield* Fiber.interrupt(rt.connecting)
        if (rt.reader !== undefined) yield* Fiber.interrupt(rt.reader)
        const conn = rt.conn
        if (conn === undefined) return
        yield* Queue.offer(rt.out, { kind: "close" })
        // Give the writer a moment to flush (a NOTIFICATION); then make sure the socket is gone.
        const writer = rt.writer
        yield* fork(Effect.gen(function*() {
          if (writer !== undefined) yield* Fiber.await(writer).pipe(Effect.timeoutOption("3 seconds"))
          if (writer !== undefined) yield* Fiber.interrupt(writer)
          yield* conn.close
        }))
      })

    const encodeFor = (rt: ConnRuntime, m: Message): Uint8Array | undefined => {
      const r = encodeMessage(m, rt.tx)
      return Result.isSuccess(r) ? r.success : undefined
    }

    // ---------------------------------------------------------------------------------------------
    // Actions

    const execute = (a: Action): Effect.Effect<void> => {
      switch (a._tag) {
        case "StartTimer":
          return startTimer(a.timer, a.conn, a.seconds)
        case "StopTimer":
          return stopTimer(a.timer, a.conn)
        case "Connect":
          return Effect.gen(function*() {
            const rt = yield* newRuntime(a.conn, undefined)
            rt.connecting = yield* fork(Effect.gen(function*() {
              const r = yield* transport.connect({
                remote,
                ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }),
                ...(options.localPort === undefined ? {} : { localPort: options.localPort }),
                timeoutMs: Math.max(1, (cfg.connectRetryTime ?? 120)) * 1000
              }).pipe(Effect.result)
              rt.connecting = undefined
              if (Result.isFailure(r)) {
                if (!rt.closed) yield* post({ _tag: "TcpConnectionFails", conn: a.conn })
                return
              }
              if (rt.closed) {
                yield* r.success.close
                return
              }
              rt.conn = r.success
              // The event goes first: the peer's OPEN (read by the reader) must not overtake it.
              yield* post({ _tag: "TcpCrAcked", conn: a.conn })
              yield* attach(rt, r.success)
            }))
          })
        case "Send":
          return Effect.gen(function*() {
            const rt = conns.get(a.conn)
            if (rt === undefined) return
            const bytes = encodeFor(rt, a.message)
            if (bytes === undefined) return
            yield* Queue.offer(rt.out, { kind: "control", bytes, keepalive: bytes[18] === KEEPALIVE_TYPE })
          })
        case "Close":
          return closeConn(a.conn)
        case "SessionEstablished":
          return Effect.gen(function*() {
            const rt = conns.get(a.conn)
            if (rt === undefined) return
            rt.tx = a.negotiated.tx
            establishedConn = rt
            negotiated = a.negotiated
            yield* Queue.offer(inboundQ, { _tag: "Established", conn: a.conn, negotiated: a.negotiated, peerOpen: a.peerOpen })
            yield* PubSub.publish(observers, { _tag: "Established", peer: name, conn: a.conn, negotiated: a.negotiated })
            yield* Effect.logInfo(`session established with ${name}`).pipe(Effect.annotateLogs({ peer: name, conn: a.conn }))
            yield* Deferred.succeed(rt.established, true)
          })
        case "SessionDown":
          return Effect.gen(function*() {
            if (establishedConn?.id === a.conn) {
              establishedConn = undefined
              negotiated = undefined
            }
            yield* Queue.offer(inboundQ, { _tag: "Down", conn: a.conn, reason: a.reason })
            yield* PubSub.publish(observers, { _tag: "Down", peer: name, conn: a.conn, reason: a.reason })
            yield* Effect.logInfo(`session with ${name} down: ${a.reason._tag}`).pipe(Effect.annotateLogs({ peer: name, conn: a.conn }))
          })
        case "Deliver":
          return Effect.gen(function*() {
            const rt = conns.get(a.conn)
            if (rt !== undefined) yield* deliver(rt, [a.message])
          })
        case "StateChanged":
          return Effect.gen(function*() {
            yield* PubSub.publish(observers, {
              _tag: "StateChanged",
              peer: name,
              from: a.from,
              to: a.to,
              ...(a.reason === undefined ? {} : { reason: a.reason })
            })
            yield* Effect.logDebug(`${name}: ${a.from} → ${a.to}${a.reason === undefined ? "" : ` (${a.reason._tag})`}`)
          })
      }
    }

    const handle = (e: Event) =>
      Effect.gen(function*() {
        const before = yield* Ref.get(fsmRef)
        const { fsm, actions } = step(before, e)
        yield* Ref.set(fsmRef, fsm)
        for (const a of actions) yield* execute(a)
      })

    yield* fork(Effect.forever(Effect.flatMap(Queue.take(events), handle)))

    // When the peer's scope ends, its sockets go with it (fibers are interrupted, sockets are not).
    yield* Scope.addFinalizer(scope, Effect.suspend(() => Effect.forEach([...conns.values()], (rt) => rt.conn?.abort ?? Effect.void, { discard: true })))

    const peer: Peer = {
      name,
      remote,
      start: post({ _tag: "ManualStart" }).pipe(Effect.asVoid),
      stop: (message) => post(message === undefined ? { _tag: "ManualStop" } : { _tag: "ManualStop", message }).pipe(Effect.asVoid),
      reset: (subcode, message) =>
        post(message === undefined ? { _tag: "AutomaticStop", subcode } : { _tag: "AutomaticStop", subcode, message }).pipe(Effect.asVoid),
      state: Effect.map(Ref.get(fsmRef), (f) => f.state),
      fsm: Ref.get(fsmRef),
      negotiated: Effect.sync(() => negotiated),
      inbound: Effect.gen(function*() {
        const item = yield* Queue.take(inboundQ)
        if (item._tag === "Messages") yield* Semaphore.release(inboundSlots, 1)
        return item
      }),
      events: PubSub.subscribe(observers),
      send: (messages, conn) =>
        Effect.gen(function*() {
          const rt = establishedConn
          if (rt === undefined || rt.closed) return yield* Effect.fail(new NotEstablished(`no established session with ${name}`))
          if (conn !== undefined && rt.id !== conn) return yield* Effect.fail(new NotEstablished(`the session with ${name} on connection ${conn} is gone`))
          yield* Semaphore.take(rt.dataSlots, 1)
          if (rt.closed) return yield* Effect.fail(new NotEstablished(`the session with ${name} closed while the send waited`))
          yield* Queue.offer(rt.out, { kind: "data", bytes: messages })
        }),
      trySend: (messages, conn) =>
        Effect.gen(function*() {
          const rt = establishedConn
          if (rt === undefined || rt.closed || (conn !== undefined && rt.id !== conn)) return false
          if (!(yield* Semaphore.takeIfAvailable(rt.dataSlots, 1))) return false
          yield* Queue.offer(rt.out, { kind: "data", bytes: messages })
          return true
        }),
      refresh: (afi, safi, subtype = 0) =>
        Effect.gen(function*() {
          const rt = establishedConn
          if (rt === undefined || rt.closed) return yield* Effect.fail(new NotEstablished(`no established session with ${name}`))
          const bytes = encodeFor(rt, { _tag: "RouteRefresh", afi, safi, subtype })
          if (bytes !== undefined) yield* Queue.offer(rt.out, { kind: "control", bytes, keepalive: false })
        }),
      accept: (conn) =>
        Effect.gen(function*() {
          const id = nextIncoming
          nextIncoming += 2
          const rt = yield* newRuntime(id, conn)
          yield* post({ _tag: "TcpConnectionConfirmed", conn: id })
          yield* attach(rt, conn)
        }),
      maxKeepaliveGapMs: Effect.sync(() => establishedConn?.maxKeepaliveGap ?? 0),
      localAddress: () => establishedConn?.conn?.local.address
    }
    return peer
  })
