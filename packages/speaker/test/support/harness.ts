/**
 * Test harness for the speaker in virtual time (TestClock): a Starling speaker on the in-memory network,
 * and hand-driven BGP peers ("raw peers") that connect to it, send exactly the bytes a test builds and
 * record every message Starling sends them (decoded with @starling/codec in the negotiated context), so
 * tests assert on the wire rather than on Starling's own view of what it did.
 *
 * Raw peers advertise hold time 0 by default: the session then has no keepalives and no hold timer
 * (RFC 4271 §4.2), so tests can move virtual time by minutes without keeping sessions alive by hand.
 */
import type { CodecContext, Message, Notification, PathAttributes, Prefix, RouteRefresh, Update } from "@starling/codec"
import {
  Afi,
  buildAnnouncements,
  buildWithdrawals,
  decodeMessage,
  defaultContext,
  encodeMessage,
  endOfRib,
  formatPrefix,
  ipv6ToBytes,
  makeFramer,
  parseIpv4,
  parsePrefix,
  Safi
} from "@starling/codec"
import type { Conn, Negotiated, PeerConfig, Transport } from "@starling/session"
import { localOpen, negotiate } from "@starling/session"
import type { NeighborConfig, SpeakerApi, SpeakerConfig } from "@starling/speaker"
import { makeSpeaker } from "@starling/speaker"
import { Clock, Effect, Latch, Logger, Result, Scope } from "effect"
import { TestClock } from "effect/testing"

/** Starling's address and AS in these tests. */
export const STARLING = "10.0.0.1"
export const LOCAL_AS = 65000
export const NO_EXPORT = 0xffffff01
export const NO_ADVERTISE = 0xffffff02

export const quiet = Logger.layer([])

/** A logger that keeps the messages (to check warnings). */
export const capturingLogger = (into: string[]) =>
  Logger.layer([Logger.make((o) => void into.push(`${o.logLevel}: ${Array.isArray(o.message) ? o.message.map(String).join(" ") : String(o.message)}`))])

// -------------------------------------------------------------------------------------------------
// Time

/** Lets every fiber run at the current virtual instant. */
export const settle: Effect.Effect<void> = Effect.gen(function*() {
  for (let i = 0; i < 40; i++) yield* Effect.yieldNow
})

export const advance = (ms: number): Effect.Effect<void> =>
  Effect.gen(function*() {
    yield* settle
    yield* TestClock.adjust(ms)
    yield* settle
  })

/** Advances virtual time in steps until `done()` holds; dies after `maxMs`. */
export const eventually = (what: string, done: () => boolean, options: { readonly stepMs?: number; readonly maxMs?: number } = {}): Effect.Effect<void> =>
  Effect.gen(function*() {
    const step = options.stepMs ?? 10
    const max = options.maxMs ?? 60_000
    let waited = 0
    yield* settle
    while (!done()) {
      if (waited >= max) return yield* Effect.die(new Error(`not reached after ${max} ms of virtual time: ${what}`))
      yield* advance(step)
      waited += step
    }
  })

/** Lets the speaker finish everything queued, and everything it sent arrive. */
export const drain = (s: SpeakerApi): Effect.Effect<void> =>
  Effect.gen(function*() {
    yield* settle
    yield* s.settled
    yield* settle
    yield* s.settled
    yield* settle
  })

// -------------------------------------------------------------------------------------------------
// Starling

/** Starling on `transport`, listening on STARLING:179; neighbors are passive unless they say otherwise. */
export const starling = (
  transport: Transport,
  neighbors: ReadonlyArray<NeighborConfig>,
  overrides: Partial<SpeakerConfig> = {}
) =>
  makeSpeaker({
    localAs: LOCAL_AS,
    routerId: STARLING,
    listen: [{ address: STARLING, port: 179 }],
    transport,
    ...overrides,
    neighbors: neighbors.map((n) => ({ passive: true, ...n }))
  })

/** Every chunk Starling handed to a connection, with the remote address: to check buffer identity. */
export interface WriteLog {
  readonly writes: Array<{ readonly to: string; readonly chunk: Uint8Array }>
}

/** Wraps a transport so that every chunk written is recorded (before the memory network copies it). */
export const recordingTransport = (inner: Transport): { readonly transport: Transport; readonly log: WriteLog } => {
  const log: WriteLog = { writes: [] }
  const wrap = (conn: Conn): Conn => ({
    ...conn,
    write: (chunks) =>
      Effect.suspend(() => {
        for (const chunk of chunks) log.writes.push({ to: conn.remote.address, chunk })
        return conn.write(chunks)
      })
  })
  return {
    log,
    transport: {
      connect: (o) => Effect.map(inner.connect(o), wrap),
      listen: (o, onConnection) => inner.listen(o, (c) => onConnection(wrap(c)))
    }
  }
}

/** UPDATE chunks (type 2) written to `to`. */
export const updatesWritten = (log: WriteLog, to?: string): Uint8Array[] =>
  log.writes.filter((w) => (to === undefined || w.to === to) && w.chunk[18] === 2).map((w) => w.chunk)

// -------------------------------------------------------------------------------------------------
// Raw peers

export interface Received {
  readonly at: number
  readonly bytes: Uint8Array
  readonly message: Message
}

export interface RouteSeen {
  readonly prefix: string
  readonly pathId: number
  readonly attributes: PathAttributes
  /** MP_REACH next hop, as text-friendly bytes. */
  readonly mpNextHop?: Uint8Array
}

export interface RawPeerOptions {
  /** The peer's own address (source of its connections). */
  readonly address: string
  readonly as: number
  /** BGP Identifier, dotted quad (default: the address). */
  readonly id?: string
  /** Session settings beyond the defaults (families, addPath, gracefulRestart, extendedMessage...). */
  readonly config?: Partial<PeerConfig>
  /** Leave out the 4-octet AS capability (an old speaker, RFC 6793 §4.2). */
  readonly noAs4?: boolean
  /** Starling's address (default STARLING:179). */
  readonly target?: { readonly address: string; readonly port?: number }
}

export interface RawSession {
  readonly options: RawPeerOptions
  readonly config: PeerConfig
  /** Everything received on this connection, in order (KEEPALIVEs included). */
  readonly received: Received[]
  /** The peer's Adj-RIB-In: what Starling currently advertises to it, by `prefix#pathId`. */
  readonly routes: Map<string, RouteSeen>
  /** End-of-RIB markers received, as "afi/safi", in order. */
  readonly endOfRib: string[]
  /** Established (OPEN exchanged, KEEPALIVE seen), not closed. */
  readonly established: () => boolean
  readonly closed: () => boolean
  /** The session's negotiation from the raw peer's side. */
  readonly negotiated: () => Negotiated | undefined
  readonly tx: () => CodecContext
  /** Sends messages (encoded in the negotiated context) or raw bytes. */
  readonly send: (...messages: ReadonlyArray<Message | Uint8Array>) => Effect.Effect<void>
  /** Announces prefixes with one attribute set (packed, IPv4 in the NLRI field, IPv6 in MP_REACH). */
  readonly announce: (prefixes: ReadonlyArray<string | Prefix>, attributes: PathAttributes, nextHopV6?: string) => Effect.Effect<void>
  readonly withdraw: (prefixes: ReadonlyArray<string | Prefix>) => Effect.Effect<void>
  readonly sendEndOfRib: (afi?: number, safi?: number) => Effect.Effect<void>
  readonly refresh: (afi?: number, safi?: number, subtype?: number) => Effect.Effect<void>
  /** Stops (or resumes) reading: what Starling sends then stays in flight. */
  readonly pauseReading: Effect.Effect<void>
  readonly resumeReading: Effect.Effect<void>
  /** Drops the connection without a NOTIFICATION (a crash, a cable pulled). */
  readonly drop: Effect.Effect<void>
  /** UPDATE messages received, decoded. */
  readonly updates: () => Update[]
  readonly notifications: () => Notification[]
  readonly refreshes: () => RouteRefresh[]
}

const encode = (m: Message, ctx: CodecContext): Uint8Array => {
  const r = encodeMessage(m, ctx)
  if (Result.isFailure(r)) throw r.failure
  return r.success
}

const toPrefix = (p: string | Prefix): Prefix => {
  if (typeof p !== "string") return p
  const r = parsePrefix(p)
  if (r === undefined) throw new Error(`bad prefix ${p}`)
  return r
}

export const routeKey = (p: Prefix): string => `${formatPrefix(p)}#${p.pathId}`

/**
 * Connects a raw peer to Starling and completes the OPEN exchange; returns once the session is up (or
 * dies if Starling refuses it). The connection lives in the current scope.
 */
export const connectRaw = (transport: Transport, options: RawPeerOptions): Effect.Effect<RawSession, never, Scope.Scope> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const cfg: PeerConfig = {
      localAs: options.as,
      peerAs: LOCAL_AS,
      localId: parseIpv4(options.id ?? options.address)!,
      holdTime: 0,
      families: [{ afi: Afi.IPV4, safi: Safi.UNICAST }],
      ...options.config
    }
    const open = localOpen(cfg)
    const ourOpen = options.noAs4 === true
      ? { ...open, capabilities: open.capabilities.filter((c) => c._tag !== "FourOctetAs") }
      : open
    const conn = yield* transport.connect({
      remote: { address: options.target?.address ?? STARLING, port: options.target?.port ?? 179 },
      localAddress: options.address,
      timeoutMs: 1000
    }).pipe(Effect.orDie)
    const reading = yield* Latch.make(true)
    const received: Received[] = []
    const routes = new Map<string, RouteSeen>()
    const eors: string[] = []
    let negotiated: Negotiated | undefined
    let rx: CodecContext = defaultContext
    let tx: CodecContext = defaultContext
    let up = false
    let closed = false
    let failure: string | undefined

    const apply = (u: Update) => {
      const e = endOfRib(u)
      if (e !== undefined) {
        eors.push(`${e.afi}/${e.safi}`)
        return
      }
      for (const p of u.withdrawn) routes.delete(routeKey(p))
      for (const p of u.mpUnreach?.withdrawn ?? []) routes.delete(routeKey(p))
      for (const p of u.nlri) routes.set(routeKey(p), { prefix: formatPrefix(p), pathId: p.pathId, attributes: u.attributes })
      const mp = u.mpReach
      if (mp !== undefined) {
        for (const p of mp.nlri) routes.set(routeKey(p), { prefix: formatPrefix(p), pathId: p.pathId, attributes: u.attributes, mpNextHop: mp.nextHop })
      }
    }

    const write = (bytes: ReadonlyArray<Uint8Array>) => conn.write(bytes).pipe(Effect.ignore)

    yield* Effect.forkIn(
      Effect.gen(function*() {
        const framer = makeFramer({ extendedMessages: true })
        while (true) {
          const chunk = yield* Latch.whenOpen(reading, conn.read).pipe(Effect.catch(() => Effect.succeed(undefined)))
          if (chunk === undefined) {
            closed = true
            return
          }
          const at = yield* Clock.currentTimeMillis
          const framed = framer.push(chunk)
          for (const bytes of framed.messages) {
            const r = decodeMessage(bytes, rx)
            if (Result.isFailure(r)) {
              failure = `undecodable message from Starling: ${r.failure.message}`
              continue
            }
            const m = r.success
            received.push({ at, bytes: bytes.slice(), message: m })
            switch (m._tag) {
              case "Open": {
                const n = negotiate(cfg, m)
                if (!n.ok) {
                  failure = `Starling's OPEN refused: ${n.error.message}`
                  break
                }
                negotiated = n.value
                rx = n.value.rx
                tx = n.value.tx
                yield* write([encode({ _tag: "Keepalive" }, tx)])
                break
              }
              case "Keepalive":
                if (negotiated !== undefined) up = true
                break
              case "Notification":
                up = false
                break
              case "Update":
                apply(m)
                break
              case "RouteRefresh":
                break
            }
          }
        }
      }),
      scope
    )
    yield* write([encode(ourOpen, defaultContext)])

    const session: RawSession = {
      options,
      config: cfg,
      received,
      routes,
      endOfRib: eors,
      established: () => up && !closed,
      closed: () => closed,
      negotiated: () => negotiated,
      tx: () => tx,
      send: (...ms) => write(ms.map((m) => (m instanceof Uint8Array ? m : encode(m, tx)))),
      announce: (prefixes, attributes, nextHopV6) =>
        Effect.suspend(() => {
          const ps = prefixes.map(toPrefix)
          const out: Uint8Array[] = []
          const v4 = ps.filter((p) => p.afi === Afi.IPV4)
          const v6 = ps.filter((p) => p.afi === Afi.IPV6)
          const one = (r: Result.Result<Uint8Array[], unknown>) => {
            if (Result.isFailure(r)) throw r.failure
            out.push(...r.success)
          }
          if (v4.length > 0) one(buildAnnouncements({ afi: 1, attributes, prefixes: v4 }, tx))
          if (v6.length > 0) one(buildAnnouncements({ afi: 2, attributes, nextHop: ipv6ToBytes(nextHopV6 ?? "2001:db8::1")!, prefixes: v6 }, tx))
          return write(out)
        }),
      withdraw: (prefixes) =>
        Effect.suspend(() => {
          const ps = prefixes.map(toPrefix)
          const out: Uint8Array[] = []
          for (const afi of [1, 2] as const) {
            const fam = ps.filter((p) => p.afi === afi)
            if (fam.length === 0) continue
            const r = buildWithdrawals(afi, fam, tx)
            if (Result.isFailure(r)) throw r.failure
            out.push(...r.success)
          }
          return write(out)
        }),
      sendEndOfRib: (afi = Afi.IPV4, safi = Safi.UNICAST) =>
        write([
          encode(
            afi === Afi.IPV4 && safi === Safi.UNICAST
              ? { _tag: "Update", withdrawn: [], attributes: {}, nlri: [] }
              : { _tag: "Update", withdrawn: [], attributes: {}, nlri: [], mpUnreach: { afi, safi, withdrawn: [] } },
            tx
          )
        ]),
      refresh: (afi = Afi.IPV4, safi = Safi.UNICAST, subtype = 0) => write([encode({ _tag: "RouteRefresh", afi, safi, subtype }, tx)]),
      pauseReading: Latch.close(reading).pipe(Effect.asVoid),
      resumeReading: Latch.open(reading).pipe(Effect.asVoid),
      drop: conn.abort,
      updates: () => received.flatMap((r) => (r.message._tag === "Update" ? [r.message] : [])),
      notifications: () => received.flatMap((r) => (r.message._tag === "Notification" ? [r.message] : [])),
      refreshes: () => received.flatMap((r) => (r.message._tag === "RouteRefresh" ? [r.message] : []))
    }
    yield* eventually(`${options.address} established with Starling`, () => {
      if (failure !== undefined) throw new Error(failure)
      return up || closed
    }, { stepMs: 1, maxMs: 5_000 })
    if (!up) {
      const n = session.notifications()[0]
      return yield* Effect.die(new Error(`${options.address}: Starling closed the session${n === undefined ? "" : ` with NOTIFICATION ${n.code}/${n.subcode}`}`))
    }
    return session
  })

/** The prefixes (sorted) the raw peer holds from Starling. */
export const prefixesOf = (s: RawSession): string[] => [...s.routes.values()].map((r) => r.prefix).sort()

/** `count` IPv4 prefixes of length `len` from `base` upward. */
export const ipv4Block = (base: string, count: number, len = 24): Prefix[] => {
  const b = parseIpv4(base)!
  const out: Prefix[] = []
  for (let i = 0; i < count; i++) out.push({ afi: 1, length: len, w0: (b + i * 2 ** (32 - len)) >>> 0, w1: 0, w2: 0, w3: 0, pathId: 0 })
  return out
}

/** Route-map style eBGP policies for tests: accept everything (a fresh function each call). */
export const acceptEverything = () => (r: { readonly attrs: PathAttributes }) => r.attrs

export const nh = (a: string): number => parseIpv4(a)!

/** The AS numbers of a path, flattened. */
export const asns = (a: PathAttributes): number[] => (a.asPath ?? []).flatMap((s) => [...s.asns])

export const messagesAfter = (s: RawSession, at: number): Received[] => s.received.filter((r) => r.at >= at)

export { Afi, Safi }
