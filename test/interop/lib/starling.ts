/**
 * A Starling peer run in-process for an interop test, driven from async test code: the peer lives in its
 * own Effect scope (closed by `close`), its session events are recorded, its inbound queue is drained, and
 * every BGP message it writes or reads on the wire is recorded by a transport wrapper (so a test can check
 * what really went out, e.g. the NOTIFICATION after a hold timer expiry).
 */
import type { LogLevel } from "effect"
import { Effect, Exit, PubSub, References, Scope } from "effect"
import { makeFramer, parseIpv4 } from "@starling/codec"
import type { Conn, Inbound, Negotiated, Peer, PeerOptions, SessionEvent, Transport } from "@starling/session"
import { makePeer, makePeerListener, tcpTransport } from "@starling/session"
import { waitFor } from "./process.ts"

/** Timers for tests: retry connects every second, come back 1 s after an error (2 s after a second one). */
export const quickTimers = { connectRetryTime: 1, idleHoldTime: { initial: 1, max: 2 } } as const

/** A dotted-quad BGP Identifier as the u32 `PeerConfig.localId` wants. */
export const bgpId = (dotted: string): number => {
  const v = parseIpv4(dotted)
  if (v === undefined) throw new Error(`not an IPv4 address: ${dotted}`)
  return v
}

/** One BGP message seen on a connection of the peer. */
export interface WireMessage {
  readonly at: number
  /** Connection number (per transport, in order of connect/accept). */
  readonly conn: number
  /** The connection was opened by Starling (false: accepted by its listener). */
  readonly outgoing: boolean
  readonly dir: "sent" | "received"
  /** Message type (1 OPEN, 2 UPDATE, 3 NOTIFICATION, 4 KEEPALIVE, 5 ROUTE-REFRESH). */
  readonly type: number
  /** The whole message, header included (a copy). */
  readonly bytes: Uint8Array
}

export interface NotificationSeen {
  readonly dir: "sent" | "received"
  readonly code: number
  readonly subcode: number
  readonly data: Uint8Array
}

/** Wraps a transport so that every message crossing any of its connections is appended to `log`. */
export const recordingTransport = (inner: Transport, log: WireMessage[]): Transport => {
  let nextConn = 1
  const wrap = (outgoing: boolean) => (conn: Conn): Conn => {
    const id = nextConn++
    // Extended messages allowed in both directions: we only observe, the session does the policing.
    const rx = makeFramer({ extendedMessages: true })
    const tx = makeFramer({ extendedMessages: true })
    const note = (dir: WireMessage["dir"], framer: ReturnType<typeof makeFramer>, chunk: Uint8Array) => {
      for (const m of framer.push(chunk).messages) log.push({ at: Date.now(), conn: id, outgoing, dir, type: m[18]!, bytes: m.slice() })
    }
    return {
      ...conn,
      read: Effect.tap(conn.read, (chunk) => Effect.sync(() => chunk !== undefined && note("received", rx, chunk))),
      write: (chunks) =>
        Effect.tap(conn.write(chunks), () => Effect.sync(() => chunks.forEach((c) => note("sent", tx, c))))
    }
  }
  return {
    connect: (o) => Effect.map(inner.connect(o), wrap(true)),
    listen: (o, onConnection) => inner.listen(o, (c) => onConnection(wrap(false)(c)))
  }
}

export const notifications = (log: ReadonlyArray<WireMessage>): NotificationSeen[] =>
  log.filter((m) => m.type === 3).map((m) => ({ dir: m.dir, code: m.bytes[19]!, subcode: m.bytes[20]!, data: m.bytes.slice(21) }))

export interface StarlingOptions extends PeerOptions {
  /**
   * Accept connections from the remote on `localAddress`:`listenPort` (default 179) through a peer
   * listener. Needed when the peer is passive; an active peer with a listener accepts both ways.
   */
  readonly listen?: boolean
  readonly listenPort?: number
  /** Call `peer.start` at once (default true). */
  readonly autoStart?: boolean
  /** Sees every inbound item (received UPDATEs, ROUTE-REFRESH, session up/down) in order. */
  readonly onInbound?: (item: Inbound) => void
  /** The peer's log threshold (default "Warn": `history()` tells the story when a wait fails). */
  readonly logLevel?: LogLevel.LogLevel
}

export interface Starling {
  readonly peer: Peer
  /** Session events so far, in order. */
  readonly events: ReadonlyArray<SessionEvent>
  /** Every message on the wire so far. */
  readonly wire: ReadonlyArray<WireMessage>
  /** Runs an Effect against the peer (e.g. `s.run(s.peer.stop("..."))`). */
  readonly run: <A, E>(effect: Effect.Effect<A, E>) => Promise<A>
  readonly state: () => Promise<string>
  readonly negotiated: () => Promise<Negotiated | undefined>
  /** Waits until Established; resolves with what was negotiated. */
  readonly established: (timeoutMs?: number) => Promise<Negotiated>
  /** Waits for an event after index `from` (default: any so far) matching `match`. */
  readonly event: <T extends SessionEvent>(match: (e: SessionEvent) => e is T, opts?: { from?: number; timeoutMs?: number }) => Promise<T>
  /** Events and wire messages so far, one per line, with ms since start (for failure messages). */
  readonly history: () => string
  readonly close: () => Promise<void>
}

const typeNames = ["?", "OPEN", "UPDATE", "NOTIFICATION", "KEEPALIVE", "ROUTE-REFRESH"]

const history = (t0: number, events: ReadonlyArray<SessionEvent>, wire: ReadonlyArray<WireMessage>): string => {
  const lines = wire.map((m) => {
    const extra = m.type === 3 ? ` ${m.bytes[19]}/${m.bytes[20]}` : ""
    return `  ${m.at - t0} ms conn ${m.conn} (${m.outgoing ? "out" : "in"}) ${m.dir} ${typeNames[m.type] ?? m.type}${extra}`
  })
  const ev = events.map((e) =>
    e._tag === "StateChanged" ? `${e.from} → ${e.to}${e.reason === undefined ? "" : ` (${e.reason._tag})`}` : `${e._tag} conn ${e.conn}${e._tag === "Down" ? ` (${e.reason._tag})` : ""}`
  )
  return `session events: ${ev.join(", ") || "none"}\nwire:\n${lines.join("\n") || "  nothing"}`
}

const open = new Set<Starling>()

export const startStarling = async (options: StarlingOptions): Promise<Starling> => {
  const scope = Effect.runSync(Scope.make())
  const events: SessionEvent[] = []
  const wire: WireMessage[] = []
  const transport = recordingTransport(tcpTransport, wire)
  const run = <A, E>(effect: Effect.Effect<A, E>): Promise<A> => Effect.runPromise(effect)
  const started = Date.now()
  // A timed-out wait says what the session went through.
  const explain = <A>(p: Promise<A>): Promise<A> =>
    p.catch((e: unknown) => {
      throw new Error(`${e instanceof Error ? e.message : String(e)}\n${history(started, events, wire)}`)
    })
  const peer = await Effect.runPromise(Scope.provide(scope)(Effect.gen(function*() {
    const peer = yield* makePeer(options, transport)
    const sub = yield* peer.events
    yield* Effect.forkScoped(Effect.forever(Effect.flatMap(PubSub.take(sub), (e) => Effect.sync(() => void events.push(e)))))
    // The inbound queue must be drained or the peer stops reading.
    const onInbound = options.onInbound
    yield* Effect.forkScoped(Effect.forever(onInbound === undefined ? peer.inbound : Effect.map(peer.inbound, onInbound)))
    if (options.listen === true) {
      const address = options.localAddress
      if (address === undefined) return yield* Effect.die(new Error("listen needs localAddress"))
      const listener = yield* makePeerListener(transport, { address, port: options.listenPort ?? 179 })
      yield* listener.register(peer)
    }
    if (options.autoStart !== false) yield* peer.start
    return peer
  })).pipe(
    Effect.provideService(References.MinimumLogLevel, options.logLevel ?? "Warn"),
    Effect.tapCause(() => Scope.close(scope, Exit.void))
  ))
  const s: Starling = {
    peer,
    events,
    wire,
    run,
    state: () => run(peer.state),
    negotiated: () => run(peer.negotiated),
    established: (timeoutMs = 20_000) =>
      explain(waitFor(`${peer.name} Established`, async () => ((await run(peer.state)) === "Established" ? run(peer.negotiated) : undefined), timeoutMs, 50)),
    event: (match, opts = {}) =>
      explain(waitFor(`event on ${peer.name}`, () => events.slice(opts.from ?? 0).find(match), opts.timeoutMs ?? 20_000, 50)),
    history: () => history(started, events, wire),
    close: async () => {
      open.delete(s)
      await Effect.runPromise(Scope.close(scope, Exit.void))
    }
  }
  open.add(s)
  return s
}

/** Closes every Starling peer still open (use in afterAll). */
export const closeAllStarling = async (): Promise<void> => {
  await Promise.all([...open].map((s) => s.close()))
}
