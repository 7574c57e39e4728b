/**
 * A whole Starling speaker (@starling/speaker: neighbors, RIB, export) run in-process for an interop test,
 * driven from async test code: it lives in its own Effect scope (closed by `close`), its session events are
 * recorded, and every BGP message on any of its connections is recorded by the same transport wrapper as
 * the single-peer helper (so a test can check what really crossed the wire: NOTIFICATIONs, ROUTE-REFRESH).
 */
import type { LogLevel } from "effect"
import { Effect, Exit, References, Scope, Stream } from "effect"
import { formatPrefix } from "@starling/codec"
import type { Explanation } from "@starling/rib"
import { formatAsPath } from "@starling/rib"
import type { SessionEvent } from "@starling/session"
import { tcpTransport } from "@starling/session"
import type { NeighborStatus, RouteInfo, SpeakerApi, SpeakerConfig } from "@starling/speaker"
import { makeSpeaker } from "@starling/speaker"
import { makeReflector } from "@starling/reflector"
import { waitFor } from "./process.ts"
import type { WireMessage } from "./starling.ts"
import { recordingTransport } from "./starling.ts"

/** A Loc-RIB change as recorded: when, which prefix, and whether it has a best path afterwards. */
export interface ChangeSeen {
  readonly at: number
  readonly prefix: string
  readonly present: boolean
}

export interface RunningSpeaker {
  readonly api: SpeakerApi
  readonly config: SpeakerConfig
  /** Session events of every neighbor so far, in order. */
  readonly events: ReadonlyArray<SessionEvent>
  /** Every message on the wire so far (all neighbors; `conn` numbers are per speaker). */
  readonly wire: ReadonlyArray<WireMessage>
  /** Every Loc-RIB change since the start (from the speaker's `changes` stream, after its initial table). */
  readonly changes: ReadonlyArray<ChangeSeen>
  readonly run: <A, E>(effect: Effect.Effect<A, E>) => Promise<A>
  /** The Loc-RIB best path per prefix ("10.0.0.0/24" → route), after the RIB fiber settled. */
  readonly table: () => Promise<Map<string, RouteInfo>>
  readonly neighbor: (address: string) => Promise<NeighborStatus>
  readonly explain: (prefix: string) => Promise<Explanation | undefined>
  /**
   * Polls the Loc-RIB until `check` accepts it. `poke` runs on every poll (e.g. a `birdc` call: BIRD 2.0
   * may hold its last export batch until something wakes its main loop).
   */
  readonly waitTable: (what: string, check: (t: Map<string, RouteInfo>) => boolean, opts?: { readonly timeoutMs?: number; readonly poke?: () => Promise<unknown> }) => Promise<Map<string, RouteInfo>>
  /** Polls until the neighbor is Established and the speaker has handled it (its status shows `negotiated`). */
  readonly established: (address: string, timeoutMs?: number) => Promise<NeighborStatus>
  readonly close: () => Promise<void>
}

const open = new Set<RunningSpeaker>()

/** `opts.reflector`: a route reflector (@starling/reflector: the speaker with the RFC 4456 hooks). */
export const startSpeaker = async (config: SpeakerConfig, opts: { readonly logLevel?: LogLevel.LogLevel; readonly reflector?: boolean } = {}): Promise<RunningSpeaker> => {
  const scope = Effect.runSync(Scope.make())
  const events: SessionEvent[] = []
  const wire: WireMessage[] = []
  const changes: ChangeSeen[] = []
  const level = opts.logLevel ?? "Error"
  const run = <A, E>(effect: Effect.Effect<A, E>): Promise<A> =>
    Effect.runPromise(effect.pipe(Effect.provideService(References.MinimumLogLevel, level)))
  const withConfig: SpeakerConfig = { ...config, transport: recordingTransport(config.transport ?? tcpTransport, wire) }
  const api = await Effect.runPromise(Scope.provide(scope)(Effect.gen(function*() {
    const api = yield* (opts.reflector === true ? makeReflector(withConfig) : makeSpeaker(withConfig))
    yield* Effect.forkScoped(Stream.runForEach(api.sessionEvents, (e) => Effect.sync(() => void events.push(e))))
    yield* Effect.forkScoped(Stream.runForEach(api.changes, (e) =>
      Effect.sync(() => {
        if (e._tag === "Route") changes.push({ at: Date.now(), prefix: formatPrefix(e.prefix), present: e.best !== undefined })
      })))
    return api
  })).pipe(
    Effect.provideService(References.MinimumLogLevel, level),
    Effect.tapCause(() => Scope.close(scope, Exit.void))
  ))
  const table = async () => {
    const routes = await run(api.routes)
    return new Map(routes.map((r) => [formatPrefix(r.prefix), r.best]))
  }
  const history = () =>
    events.map((e) => (e._tag === "StateChanged" ? `${e.peer}: ${e.from} → ${e.to}${e.reason === undefined ? "" : ` (${e.reason._tag})`}` : `${e.peer}: ${e._tag}`)).join("\n")
  const s: RunningSpeaker = {
    api,
    config,
    events,
    wire,
    changes,
    run,
    table,
    neighbor: async (address) => {
      const n = (await run(api.neighbors)).find((x) => x.address === address)
      if (n === undefined) throw new Error(`no neighbor ${address}`)
      return n
    },
    explain: (prefix) => run(api.explain(prefix)),
    waitTable: async (what, check, opts = {}) => {
      let last = new Map<string, RouteInfo>()
      try {
        return await waitFor(what, async () => {
          await opts.poke?.()
          last = await table()
          return check(last) ? last : undefined
        }, opts.timeoutMs ?? 20_000, 100)
      } catch (e) {
        throw new Error(`${e instanceof Error ? e.message : String(e)}\nLoc-RIB of ${config.routerId}: ${[...last.keys()].join(", ") || "empty"}\nsessions:\n${history()}`)
      }
    },
    established: async (address, timeoutMs = 20_000) => {
      try {
        return await waitFor(`${config.routerId}: ${address} Established`, async () => {
          const n = await s.neighbor(address)
          // The session is up and the RIB fiber has taken it in (negotiated, establishedAt, update group).
          return n.state === "Established" && n.negotiated !== undefined && n.establishedAt !== undefined ? n : undefined
        }, timeoutMs, 50)
      } catch (e) {
        throw new Error(`${e instanceof Error ? e.message : String(e)}\nsessions:\n${history()}`)
      }
    },
    close: async () => {
      open.delete(s)
      await Effect.runPromise(Scope.close(scope, Exit.void))
    }
  }
  open.add(s)
  return s
}

/** Closes every speaker still open (use in afterEach / afterAll). */
export const closeAllSpeakers = async (): Promise<void> => {
  await Promise.all([...open].map((s) => s.close()))
}

/** A route's attributes as comparable plain text, field by field (absent fields are left out). */
export interface RouteView {
  readonly nextHop: string | undefined
  readonly origin: "igp" | "egp" | "incomplete" | undefined
  /** AS path as text: "65010 65010 {1,2}". */
  readonly asPath: string
  readonly med?: number
  readonly localPref?: number
  /** "65010:1" */
  readonly communities?: ReadonlyArray<string>
  /** "65010:1:2" */
  readonly largeCommunities?: ReadonlyArray<string>
  /** Unrecognized attributes: flags (hex), type, value (hex): "e0 250 01020304". */
  readonly unknown?: ReadonlyArray<string>
}

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex")

export const routeView = (r: RouteInfo): RouteView => {
  const a = r.attributes
  return {
    nextHop: r.nextHop,
    origin: a.origin === undefined ? undefined : (["igp", "egp", "incomplete"] as const)[a.origin],
    asPath: formatAsPath(a),
    ...(a.med === undefined ? {} : { med: a.med }),
    ...(a.localPref === undefined ? {} : { localPref: a.localPref }),
    ...(a.communities === undefined ? {} : { communities: a.communities.map((c) => `${c >>> 16}:${c & 0xffff}`) }),
    ...(a.largeCommunities === undefined ? {} : { largeCommunities: a.largeCommunities.map((c) => `${c.global}:${c.local1}:${c.local2}`) }),
    ...(a.unknown === undefined ? {} : { unknown: a.unknown.map((u) => `${u.flags.toString(16)} ${u.type} ${hex(u.value)}`) })
  }
}
