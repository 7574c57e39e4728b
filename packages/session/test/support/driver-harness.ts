/**
 * A harness for driving real `makePeer` instances over `makeMemoryNetwork` in virtual time (TestClock).
 *
 * A `Node` is one speaker's address on the network: a tapping transport that records every BGP message
 * crossing it (with the virtual time), every connect attempt, and that can be made to misbehave — go
 * silent, stop reading, crash without a FIN, or have its SYNs vanish. Peers are added to a node; each
 * records its session events and inbound items with the time they were seen.
 *
 * Everything here runs inside `it.effect` (TestClock) and the test's scope.
 */
import { Clock, Effect, Latch, PubSub, Result, Scope } from "effect"
import { TestClock } from "effect/testing"
import type { Inbound, MemoryNetwork, Peer, PeerConfig, PeerListener, SessionEvent, Transport } from "../../src/index.ts"
import type { Conn, Endpoint, TransportError } from "../../src/transport.ts"
import type { CodecContext, Prefix } from "@starling/codec"
import { buildAnnouncements, defaultContext, ipv4Prefix, makeFramer } from "@starling/codec"
import { makePeer, makePeerListener } from "../../src/index.ts"

export interface Timed<T> {
  readonly at: number
  readonly value: T
}

/** One BGP message that crossed a node's transport. */
export interface WireMessage {
  readonly at: number
  /** The node's own numbering of its connections (1, 2, …, in order of connect/accept). */
  readonly conn: number
  readonly dir: "sent" | "received"
  /** 1 OPEN, 2 UPDATE, 3 NOTIFICATION, 4 KEEPALIVE, 5 ROUTE-REFRESH. */
  readonly type: number
  readonly bytes: Uint8Array
  readonly local: Endpoint
  readonly remote: Endpoint
}

export interface ConnectAttempt {
  readonly at: number
  readonly remote: string
  /** "ok", "refused" (nobody listening), or "pending" (blackholed, never answered). */
  readonly outcome: "ok" | "refused" | "pending"
}

export interface TapControls {
  /** Crashed: writes vanish, reads never return, `close` sends nothing (no FIN reaches the peer). */
  crashed: boolean
  /** Outgoing bytes are dropped though writes succeed: the node goes silent, its connections stay up. */
  mute: boolean
  /** Connect attempts hang, as a SYN to a host that does not answer. */
  blackholeConnect: boolean
  /** Reads proceed while open; closing it makes the node stop reading (its TCP window then fills). */
  readonly reading: Latch.Latch
}

export interface Node {
  readonly address: string
  readonly transport: Transport
  readonly wire: WireMessage[]
  readonly connects: ConnectAttempt[]
  readonly controls: TapControls
  /** Present when the node listens on port 179. */
  readonly listener: PeerListener | undefined
}

const now = Clock.currentTimeMillis

/** Wraps `inner` so that every message, connect attempt and connection of the node is recorded and steerable. */
const tap = (inner: Transport, wire: WireMessage[], connects: ConnectAttempt[], controls: TapControls): Transport => {
  let nextConn = 1
  const wrap = (conn: Conn): Conn => {
    const id = nextConn++
    const rx = makeFramer({ extendedMessages: true })
    const tx = makeFramer({ extendedMessages: true })
    const note = (dir: WireMessage["dir"], framer: ReturnType<typeof makeFramer>, chunk: Uint8Array, at: number) => {
      for (const m of framer.push(chunk).messages) {
        wire.push({ at, conn: id, dir, type: m[18]!, bytes: m.slice(), local: conn.local, remote: conn.remote })
      }
    }
    return {
      local: conn.local,
      remote: conn.remote,
      read: Effect.gen(function*() {
        if (controls.crashed) return yield* Effect.never
        const chunk = yield* Latch.whenOpen(controls.reading, conn.read)
        // A crash while the read was pending: what arrives now goes nowhere.
        if (controls.crashed) return yield* Effect.never
        if (chunk !== undefined) note("received", rx, chunk, yield* now)
        return chunk
      }),
      write: (chunks) =>
        Effect.gen(function*() {
          if (controls.crashed || controls.mute) return
          yield* conn.write(chunks)
          const at = yield* now
          for (const c of chunks) note("sent", tx, c, at)
        }),
      close: Effect.suspend(() => (controls.crashed ? Effect.void : conn.close)),
      abort: Effect.suspend(() => (controls.crashed ? Effect.void : conn.abort))
    }
  }
  return {
    connect: (o) =>
      Effect.gen(function*() {
        const at = yield* now
        if (controls.blackholeConnect || controls.crashed) {
          connects.push({ at, remote: o.remote.address, outcome: "pending" })
          return yield* Effect.never
        }
        const r = yield* Effect.result(inner.connect(o))
        connects.push({ at, remote: o.remote.address, outcome: r._tag === "Success" ? "ok" : "refused" })
        if (r._tag === "Failure") return yield* Effect.fail(r.failure)
        return wrap(r.success)
      }),
    listen: (o, onConnection) => inner.listen(o, (c) => onConnection(wrap(c)))
  }
}

/** A speaker's address on the memory network; `listen` (default true) opens port 179 with a peer listener. */
export const makeNode = (
  net: MemoryNetwork,
  address: string,
  options: { readonly listen?: boolean } = {}
): Effect.Effect<Node, TransportError, Scope.Scope> =>
  Effect.gen(function*() {
    const wire: WireMessage[] = []
    const connects: ConnectAttempt[] = []
    const controls: TapControls = { crashed: false, mute: false, blackholeConnect: false, reading: yield* Latch.make(true) }
    const transport = tap(net, wire, connects, controls)
    const listener = options.listen === false ? undefined : yield* makePeerListener(transport, { address, port: 179 })
    return { address, transport, wire, connects, controls, listener }
  })

export interface PeerHandle {
  readonly peer: Peer
  readonly node: Node
  readonly remote: string
  readonly events: Array<Timed<SessionEvent>>
  readonly inbound: Array<Timed<Inbound>>
  /** While open the test consumes `inbound` at once; closed, it stops (and the peer's reader soon stops too). */
  readonly consuming: Latch.Latch
}

export interface PeerSpec {
  readonly config: PeerConfig
  /** Call `peer.start` (default true). */
  readonly start?: boolean
  /** Consume `inbound` from the start (default true). */
  readonly consume?: boolean
  /** Register with the node's listener (default: when the node listens). */
  readonly register?: boolean
  readonly inboundBuffer?: number
  readonly outboundBuffer?: number
}

/** A peer on `node` toward `remote` (an address on the same network), recording what it does. */
export const addPeer = (node: Node, remote: string, spec: PeerSpec): Effect.Effect<PeerHandle, never, Scope.Scope> =>
  Effect.gen(function*() {
    const peer = yield* makePeer({
      config: spec.config,
      remote: { address: remote },
      localAddress: node.address,
      name: `${node.address}→${remote}`,
      ...(spec.inboundBuffer === undefined ? {} : { inboundBuffer: spec.inboundBuffer }),
      ...(spec.outboundBuffer === undefined ? {} : { outboundBuffer: spec.outboundBuffer })
    }, node.transport)
    const events: Array<Timed<SessionEvent>> = []
    const inbound: Array<Timed<Inbound>> = []
    const consuming = yield* Latch.make(spec.consume !== false)
    const sub = yield* peer.events
    yield* Effect.forkScoped(Effect.forever(Effect.gen(function*() {
      const e = yield* PubSub.take(sub)
      events.push({ at: yield* now, value: e })
    })))
    yield* Effect.forkScoped(Effect.forever(Effect.gen(function*() {
      const item = yield* Latch.whenOpen(consuming, peer.inbound)
      inbound.push({ at: yield* now, value: item })
    })))
    if (spec.register ?? node.listener !== undefined) {
      if (node.listener === undefined) return yield* Effect.die(new Error(`${node.address} does not listen`))
      yield* node.listener.register(peer)
    }
    if (spec.start !== false) yield* peer.start
    return { peer, node, remote, events, inbound, consuming }
  })

// -------------------------------------------------------------------------------------------------
// Time

/**
 * Lets every fiber run at the current virtual instant (work started by the test fiber itself is not
 * tracked by TestClock, so time must not move before it has settled).
 */
export const settle: Effect.Effect<void> = Effect.gen(function*() {
  for (let i = 0; i < 50; i++) yield* Effect.yieldNow
})

/** Moves virtual time forward by `ms`, after letting the present settle. */
export const advance = (ms: number): Effect.Effect<void> =>
  Effect.gen(function*() {
    yield* settle
    yield* TestClock.adjust(ms)
    yield* settle
  })

/** Advances in `stepMs` steps until `done()` holds; dies after `maxMs` of virtual time. */
export const advanceUntil = (what: string, done: () => boolean, options: { readonly stepMs?: number; readonly maxMs?: number } = {}): Effect.Effect<number> =>
  Effect.gen(function*() {
    const step = options.stepMs ?? 100
    const max = options.maxMs ?? 600_000
    const start = yield* now
    yield* settle
    while (!done()) {
      if ((yield* now) - start >= max) return yield* Effect.die(new Error(`not reached after ${max} ms of virtual time: ${what}`))
      yield* advance(step)
    }
    return yield* now
  })

export const currentTime = now

// -------------------------------------------------------------------------------------------------
// Queries

export type DownEvent = Extract<SessionEvent, { _tag: "Down" }>
export type EstablishedEvent = Extract<SessionEvent, { _tag: "Established" }>

export const downs = (h: PeerHandle): Array<Timed<DownEvent>> =>
  h.events.filter((e): e is Timed<DownEvent> => e.value._tag === "Down")

export const establishments = (h: PeerHandle): Array<Timed<EstablishedEvent>> =>
  h.events.filter((e): e is Timed<EstablishedEvent> => e.value._tag === "Established")

/** The messages a node exchanged with `remote`, optionally of one type and direction. */
export const wireWith = (node: Node, remote: string, filter: { readonly type?: number; readonly dir?: WireMessage["dir"] } = {}): WireMessage[] =>
  node.wire.filter((m) =>
    m.remote.address === remote && (filter.type === undefined || m.type === filter.type) && (filter.dir === undefined || m.dir === filter.dir)
  )

export interface NotificationSeen {
  readonly at: number
  readonly conn: number
  readonly dir: WireMessage["dir"]
  readonly code: number
  readonly subcode: number
  readonly data: Uint8Array
}

export const notificationsWith = (node: Node, remote: string): NotificationSeen[] =>
  wireWith(node, remote, { type: 3 }).map((m) => ({
    at: m.at,
    conn: m.conn,
    dir: m.dir,
    code: m.bytes[19]!,
    subcode: m.bytes[20]!,
    data: m.bytes.slice(21)
  }))

/** A session configuration with short, test-friendly retry timers unless overridden. */
export const config = (localAs: number, localId: number, overrides: Partial<PeerConfig> = {}): PeerConfig => ({
  localAs,
  localId,
  connectRetryTime: 5,
  idleHoldTime: { initial: 1, max: 1 },
  ...overrides
})

// -------------------------------------------------------------------------------------------------
// Routes

/**
 * Pre-encoded UPDATEs announcing `count` IPv4 /24s from 10.0.0.0 upward (offset by `first`), in groups of
 * `perUpdate` prefixes sharing an AS_PATH that differs per group (so each group is its own UPDATE).
 */
export const ipv4Updates = (
  count: number,
  options: { readonly first?: number; readonly perUpdate?: number; readonly localAs?: number; readonly ctx?: CodecContext } = {}
): Uint8Array[] => {
  const first = options.first ?? 0
  const per = options.perUpdate ?? count
  const ctx = options.ctx ?? defaultContext
  const out: Uint8Array[] = []
  for (let g = 0; g < count; g += per) {
    const prefixes: Prefix[] = []
    for (let i = g; i < Math.min(count, g + per); i++) prefixes.push(ipv4Prefix((0x0a000000 + ((first + i) << 8)) >>> 0, 24))
    const r = buildAnnouncements({
      afi: 1,
      attributes: {
        origin: 0,
        asPath: [{ type: 2, asns: [options.localAs ?? 65001, 64512 + (g / per) % 1000] }],
        nextHop: 0x0a000001
      },
      prefixes
    }, ctx)
    if (Result.isFailure(r)) throw r.failure
    out.push(...r.success)
  }
  return out
}

/** IPv4 prefixes announced (NLRI field and MP_REACH) in inbound Messages items. */
export const announcedCount = (items: ReadonlyArray<Timed<Inbound>>): number => {
  let n = 0
  for (const { value } of items) {
    if (value._tag !== "Messages") continue
    for (const m of value.messages) if (m._tag === "Update") n += m.nlri.length + (m.mpReach?.nlri.length ?? 0)
  }
  return n
}
