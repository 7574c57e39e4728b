/**
 * The standalone route reflector: a reflector speaker built from a config file, dynamic neighbors, the
 * management API with metrics, reload that applies only what changed, and graceful shutdown.
 *
 * State that a reload replaces (the config, the compiled policies, the speaker on a global change, the
 * API server) is owned here and changed only under one lock, so reloads from SIGHUP and from the API
 * never interleave. A config with errors changes nothing: the daemon keeps running on the old one and
 * the errors are logged and returned.
 */
import { readFile } from "node:fs/promises"
import { ipv6ToBytes, parseIpv4, parsePrefix } from "@starling/codec"
import type { Prefix } from "@starling/codec"
import type { RouteAttributes } from "@starling/rib"
import { parseCommunity, parseLargeCommunity, PolicyError } from "@starling/rib"
import type { Transport } from "@starling/session"
import type { NeighborConfig, NeighborEnd, SpeakerApi } from "@starling/speaker"
import { Effect, Exit, Result, Schedule, Scope, Semaphore, Stream } from "effect"
import { makeReflector } from "../reflector.ts"
import type { ApiResponse, ApiServer } from "./api.ts"
import { ApiError, startApi } from "./api.ts"
import type { CompiledPolicy, ConfigIssue, DaemonConfig, LoadedConfig } from "./config.ts"
import { canonical, compilePolicies, ConfigFileError, parseConfig, parseOriginate, parseWithdraw, toNeighborConfig, toSpeakerConfig } from "./config.ts"
import { DEFAULT_API_PORT } from "./defaults.ts"
import type { LogSettings } from "./logging.ts"
import type { DaemonCounters } from "./metrics.ts"
import { LoopLag, renderMetrics } from "./metrics.ts"
import type { NeighborRuntime, PlannedChange } from "./plan.ts"
import { planReload } from "./plan.ts"
import { downText, explainView, neighborView, routeView } from "./views.ts"

export interface DaemonOptions {
  /** The config file: `reload()` without text re-reads it. */
  readonly configPath?: string
  /** BGP transport (default TCP). */
  readonly transport?: Transport
  /** Told when the logging settings change on reload (the CLI sets pino's level). */
  readonly onLogging?: (settings: LogSettings) => void
  /** Expand `${NAME}` in config text from this environment on reload (as the first load did). */
  readonly env?: Readonly<Record<string, string | undefined>>
}

export interface ReloadResult {
  readonly ok: boolean
  readonly dryRun: boolean
  /** Where the config came from (file name, "api", ...). */
  readonly source: string
  readonly changes: ReadonlyArray<PlannedChange>
  /** Config errors: nothing was changed. */
  readonly errors: ReadonlyArray<ConfigIssue>
  /** Changes that were tried and failed (the others were applied). */
  readonly failures: ReadonlyArray<{ readonly target: string; readonly error: string }>
}

export interface Daemon {
  /** The running speaker (replaced when a reload changes a global setting). */
  readonly speaker: () => SpeakerApi
  readonly config: () => LoadedConfig
  /** Re-reads the config file (or takes `text`) and applies what changed; `dryRun` only plans. */
  readonly reload: (options?: { readonly text?: string; readonly source?: string; readonly dryRun?: boolean }) => Effect.Effect<ReloadResult>
  /** Where the API listens, if it is on. */
  readonly api: () => { readonly address: string; readonly port: number } | undefined
  readonly metrics: Effect.Effect<string>
  /** Every session gets Cease/Administrative Shutdown with `message` (RFC 9003); the API closes. */
  readonly shutdown: (message?: string) => Effect.Effect<void>
}

export class DaemonError extends Error {
  readonly _tag = "DaemonError"
  readonly issues: ReadonlyArray<ConfigIssue>
  constructor(message: string, issues: ReadonlyArray<ConfigIssue> = []) {
    super(message)
    this.issues = issues
  }
}

/** Reads and validates a config file. */
export const loadConfigFile = (path: string, env?: Readonly<Record<string, string | undefined>>): Effect.Effect<LoadedConfig, ConfigFileError> =>
  Effect.gen(function*() {
    const text = yield* Effect.tryPromise({
      try: () => readFile(path, "utf8"),
      catch: (e) => new ConfigFileError(path, [{ path: "", message: `cannot read: ${e instanceof Error ? e.message : String(e)}` }])
    })
    const r = parseConfig(text, path, env === undefined ? {} : { env })
    return Result.isSuccess(r) ? r.success : yield* Effect.fail(r.failure)
  })

/** The API token from the config: inline, from a file (a mounted Secret) or from the environment. */
const resolveToken = (c: DaemonConfig): Effect.Effect<string | undefined, DaemonError> =>
  Effect.gen(function*() {
    const api = c.api
    if (api?.token !== undefined) return api.token
    if (api?.tokenEnv !== undefined) {
      const v = process.env[api.tokenEnv]
      if (v === undefined || v === "") return yield* Effect.fail(new DaemonError(`api.tokenEnv: environment variable ${api.tokenEnv} is not set`, [{ path: "api.tokenEnv", message: `${api.tokenEnv} is not set` }]))
      return v
    }
    if (api?.tokenFile !== undefined) {
      const file = api.tokenFile
      return yield* Effect.tryPromise({
        try: async () => (await readFile(file, "utf8")).trim(),
        catch: (e) => new DaemonError(`api.tokenFile: cannot read ${file}: ${e instanceof Error ? e.message : String(e)}`, [{ path: "api.tokenFile", message: `cannot read ${file}` }])
      })
    }
    return undefined
  })

const covers = (f: Prefix, p: Prefix): boolean => {
  if (f.afi !== p.afi || p.length < f.length) return false
  const fw = [f.w0, f.w1, f.w2, f.w3]
  const pw = [p.w0, p.w1, p.w2, p.w3]
  for (let i = 0; i < 4; i++) {
    const bits = Math.max(0, Math.min(32, f.length - i * 32))
    if (bits === 0) break
    const mask = bits === 32 ? 0xffffffff : (0xffffffff << (32 - bits)) >>> 0
    if (((pw[i]! & mask) >>> 0) !== fw[i]) return false
  }
  return true
}

const comparePrefix = (a: Prefix, b: Prefix): number =>
  a.afi - b.afi || a.w0 - b.w0 || a.w1 - b.w1 || a.w2 - b.w2 || a.w3 - b.w3 || a.length - b.length

const issuesText = (issues: ReadonlyArray<ConfigIssue>): string => issues.map((i) => `${i.path === "" ? "" : `${i.path}: `}${i.message}`).join("; ")

export const makeDaemon = (initial: LoadedConfig, options: DaemonOptions = {}): Effect.Effect<Daemon, DaemonError, Scope.Scope> =>
  Effect.gen(function*() {
    const daemonScope = yield* Effect.scope
    const services = yield* Effect.context<never>()
    const run = <A, E>(eff: Effect.Effect<A, E>): Promise<A> => Effect.runPromiseWith(services)(eff)
    const lock = yield* Semaphore.make(1)
    const lag = new LoopLag()
    yield* Effect.addFinalizer(() => Effect.sync(() => lag.close()))
    const counters: DaemonCounters = { reloadsOk: 0, reloadsFailed: 0, lastReloadOk: true, lastReloadAt: undefined }

    let loaded = initial
    let policies: Map<string, CompiledPolicy> = compilePolicies(initial.config)
    let speaker: SpeakerApi
    let speakerScope: Scope.Closeable
    let ranges = new Set<string>()
    let apiServer: ApiServer | undefined
    let stopped = false

    // ---------------------------------------------------------------------------------------------
    // The speaker

    /** The neighbor for a connection from a dynamic range, from the config as it is now. */
    const dynamicNeighbor = (prefix: string, address: string): NeighborConfig | undefined => {
      const range = loaded.config.dynamicNeighbors?.find((d) => d.prefix === prefix)
      if (range === undefined) return undefined
      if (loaded.config.neighbors?.some((n) => canonical(n.address) === canonical(address)) === true) return undefined
      // Every neighbor of a range shares the template: its name gets the address.
      const cfg = toNeighborConfig(range.template, address, policies)
      return { ...cfg, name: range.template.name === undefined ? address : `${range.template.name}@${address}` }
    }

    const addRange = (sp: SpeakerApi, prefix: string) =>
      sp.addDynamicNeighbors({
        prefix,
        neighbor: (remote) => dynamicNeighbor(prefix, remote.address),
        // Read at each new connection, so a reload that changes the limit applies at once.
        get limit() {
          return loaded.config.dynamicNeighbors?.find((d) => d.prefix === prefix)?.limit
        }
      })

    /** Session events as log lines annotated with the peer's address and name. */
    const logSessionEvents = (sp: SpeakerApi) =>
      Stream.runForEach(sp.sessionEvents, (e) =>
        Effect.gen(function*() {
          // Events carry the session's name; the address is what operators grep for.
          const n = (yield* sp.neighbors).find((x) => x.name === e.peer)
          const who = { peer: n?.address ?? e.peer, ...(n === undefined || n.name === n.address ? {} : { name: n.name }) }
          switch (e._tag) {
            case "Established":
              return yield* Effect.logInfo("session up").pipe(Effect.annotateLogs({
                ...who,
                peerAs: e.negotiated.peerAs,
                holdTime: e.negotiated.holdTime,
                families: e.negotiated.families.map((f) => `${f.afi}/${f.safi}`).join(",")
              }))
            case "Down":
              return yield* Effect.logWarning(`session down: ${downText(e.reason)}`).pipe(Effect.annotateLogs({ ...who, reason: e.reason._tag }))
            case "StateChanged":
              return yield* Effect.logDebug(`${e.from} → ${e.to}`).pipe(Effect.annotateLogs(who))
          }
        }))

    const startSpeaker = (l: LoadedConfig, ps: ReadonlyMap<string, CompiledPolicy>) =>
      Effect.gen(function*() {
        const scope = yield* Scope.fork(daemonScope)
        const built = yield* Effect.gen(function*() {
          const sp = yield* makeReflector({ ...toSpeakerConfig(l.config, ps), ...(options.transport === undefined ? {} : { transport: options.transport }) })
          const rs = new Set<string>()
          for (const d of l.config.dynamicNeighbors ?? []) {
            yield* addRange(sp, d.prefix)
            rs.add(d.prefix)
          }
          yield* Effect.forkScoped(logSessionEvents(sp))
          return { sp, rs }
        }).pipe(
          Scope.provide(scope),
          Effect.mapError((e) => new DaemonError(`cannot start the speaker: ${e.message}`, [{ path: e.path, message: e.detail }])),
          Effect.tapError(() => Scope.close(scope, Exit.void))
        )
        return { sp: built.sp, rs: built.rs, scope }
      })

    /** Cease/Administrative Shutdown with `message` to every session, then the speaker's scope closes. */
    // "restart": the sessions come back (a reload), so Administrative Reset, graceful for RFC 8538 peers;
    // "stop": the daemon goes away, Administrative Shutdown (a Hard Reset for them).
    const stopSpeaker = (message: string, end: NeighborEnd = "stop") =>
      Effect.gen(function*() {
        const nbs = yield* speaker.neighbors
        yield* Effect.forEach(nbs, (n) => speaker.disableNeighbor(n.address, message, end).pipe(Effect.ignore), { discard: true })
        // Wait (briefly) until every session is down: the NOTIFICATIONs are on their way.
        yield* speaker.neighbors.pipe(
          Effect.flatMap((ns) => (ns.every((n) => n.state === "Idle") ? Effect.void : Effect.fail("up" as const))),
          Effect.retry(Schedule.spaced("20 millis")),
          Effect.timeoutOption("3 seconds"),
          Effect.ignore
        )
        // The writer flushes the NOTIFICATION and closes the socket; give it a moment before the scope
        // ends (which aborts whatever is left).
        yield* Effect.sleep("150 millis")
        yield* Scope.close(speakerScope, Exit.void)
      })

    {
      const s = yield* startSpeaker(initial, policies)
      speaker = s.sp
      speakerScope = s.scope
      ranges = s.rs
    }

    // ---------------------------------------------------------------------------------------------
    // Reload

    const runtime = (sp: SpeakerApi): Effect.Effect<NeighborRuntime[]> =>
      Effect.map(sp.neighbors, (ns) =>
        ns.map((n) => ({
          address: n.address,
          established: n.state === "Established",
          routeRefresh: n.negotiated?.routeRefresh === true,
          ...(n.dynamicRange === undefined ? {} : { dynamicRange: n.dynamicRange })
        })))

    const neighborEntry = (c: DaemonConfig, address: string) => c.neighbors?.find((n) => canonical(n.address) === canonical(address))

    const applyChange = (ch: PlannedChange, next: LoadedConfig): Effect.Effect<void, string> =>
      Effect.gen(function*() {
        const sp = speaker
        const fail = (e: { readonly message: string }) => e.message
        if (ch.target === "api") return yield* restartApi(next.config)
        if (ch.target === "logging") return options.onLogging?.(next.config.logging ?? {})
        if (ch.target.startsWith("policy ")) return
        if (ch.target.startsWith("dynamicNeighbors ")) {
          if (ch.effect === "add" && ch.dynamicRange !== undefined && !ranges.has(ch.dynamicRange)) {
            yield* addRange(sp, ch.dynamicRange).pipe(Effect.mapError(fail))
            ranges.add(ch.dynamicRange)
          }
          // Removed or changed ranges: the neighbor callback reads the new config.
          return
        }
        const address = ch.address
        if (address === undefined) return
        const newCfg = (): NeighborConfig | undefined => {
          if (ch.dynamicRange !== undefined) return dynamicNeighbor(ch.dynamicRange, address)
          const n = neighborEntry(next.config, address)
          return n === undefined ? undefined : toNeighborConfig(n, n.address, policies)
        }
        const addCfg = () => {
          const c = newCfg()
          return c === undefined ? Effect.void : sp.addNeighbor(c).pipe(Effect.mapError(fail))
        }
        switch (ch.effect) {
          case "remove":
            return yield* sp.removeNeighbor(address, ch.dynamicRange === undefined ? "neighbor removed from the configuration" : "dynamic range removed from the configuration")
          case "add": {
            // A dynamic neighbor at that address gives way to the configured one.
            const current = yield* sp.neighbors
            if (current.some((n) => canonical(n.address) === canonical(address))) yield* sp.removeNeighbor(address, "replaced by a configured neighbor", "restart")
            return yield* addCfg()
          }
          case "reset":
            if (ch.recreate === true) {
              yield* sp.removeNeighbor(address, `configuration changed: ${ch.fields.join(", ")}`, "restart")
              // A dynamic neighbor comes back when it reconnects, with the new template.
              if (ch.dynamicRange === undefined) yield* addCfg()
              return
            }
            break
          default:
            break
        }
        const c = newCfg()
        if (c === undefined) return
        yield* sp.reconfigureNeighbor(c).pipe(Effect.mapError(fail))
        if (ch.effect === "stop") yield* sp.disableNeighbor(address, "disabled in the configuration").pipe(Effect.mapError(fail))
        if (ch.effect === "start") yield* sp.enableNeighbor(address).pipe(Effect.mapError(fail))
      })

    const reload = (opts: { readonly text?: string; readonly source?: string; readonly dryRun?: boolean } = {}): Effect.Effect<ReloadResult> =>
      lock.withPermit(Effect.gen(function*() {
        const dryRun = opts.dryRun === true
        const source = opts.source ?? options.configPath ?? "config"
        const failed = (errors: ReadonlyArray<ConfigIssue>): Effect.Effect<ReloadResult> =>
          Effect.gen(function*() {
            if (!dryRun) {
              counters.reloadsFailed++
              counters.lastReloadOk = false
              counters.lastReloadAt = Date.now()
              yield* Effect.logError(`reload refused, still running the previous config: ${issuesText(errors)}`).pipe(Effect.annotateLogs({ source }))
            }
            return { ok: false, dryRun, source, changes: [], errors, failures: [] }
          })
        if (stopped) return yield* failed([{ path: "", message: "the daemon is shutting down" }])
        let text = opts.text
        if (text === undefined) {
          if (options.configPath === undefined) return yield* failed([{ path: "", message: "no config file to reload from" }])
          const path = options.configPath
          const r = yield* Effect.result(Effect.tryPromise(() => readFile(path, "utf8")))
          if (Result.isFailure(r)) return yield* failed([{ path: "", message: `cannot read ${path}: ${String(r.failure.cause)}` }])
          text = r.success
        }
        const parsed = parseConfig(text, source, options.env === undefined ? {} : { env: options.env })
        if (Result.isFailure(parsed)) return yield* failed(parsed.failure.issues)
        const next = parsed.success
        const token = yield* Effect.result(resolveToken(next.config))
        if (Result.isFailure(token)) return yield* failed(token.failure.issues)
        const newPolicies = compilePolicies(next.config, policies)
        const changes = planReload({ old: loaded.config, next: next.config, oldPolicies: policies, newPolicies, running: yield* runtime(speaker) })
        if (dryRun) return { ok: true, dryRun, source, changes, errors: [], failures: [] }

        const previous = { loaded, policies }
        loaded = next
        policies = newPolicies
        const failures: Array<{ target: string; error: string }> = []
        if (changes[0]?.effect === "restart") {
          yield* Effect.logWarning(`global settings changed (${changes[0].fields.join(", ")}): restarting every session`)
          yield* stopSpeaker(`configuration changed: ${changes[0].fields.join(", ")}`, "restart")
          const started = yield* Effect.result(startSpeaker(next, newPolicies))
          if (Result.isFailure(started)) {
            failures.push({ target: "global", error: started.failure.message })
            // Back to the previous config, which did run.
            loaded = previous.loaded
            policies = previous.policies
            const again = yield* Effect.result(startSpeaker(previous.loaded, previous.policies))
            if (Result.isFailure(again)) return yield* Effect.die(new Error(`cannot restart on the previous config either: ${again.failure.message}`))
            speaker = again.success.sp
            speakerScope = again.success.scope
            ranges = again.success.rs
          } else {
            speaker = started.success.sp
            speakerScope = started.success.scope
            ranges = started.success.rs
          }
          if (JSON.stringify(previous.loaded.config.api) !== JSON.stringify(loaded.config.api)) {
            yield* restartApi(loaded.config).pipe(Effect.catch((e) => Effect.sync(() => void failures.push({ target: "api", error: e }))))
          }
          options.onLogging?.(loaded.config.logging ?? {})
        } else {
          for (const ch of changes) {
            const r = yield* Effect.result(applyChange(ch, next))
            if (Result.isFailure(r)) failures.push({ target: ch.target, error: r.failure })
          }
        }
        counters.reloadsOk++
        counters.lastReloadOk = failures.length === 0
        counters.lastReloadAt = Date.now()
        for (const ch of changes) {
          yield* Effect.logInfo(`${ch.target}: ${ch.effect} — ${ch.detail}`).pipe(Effect.annotateLogs({ reload: source, fields: ch.fields.join(",") }))
        }
        for (const f of failures) yield* Effect.logError(`reload: ${f.target} failed: ${f.error}`)
        yield* Effect.logInfo(`config reloaded from ${source}: ${changes.length} change(s)${failures.length === 0 ? "" : `, ${failures.length} failed`}`)
        return { ok: failures.length === 0, dryRun, source, changes, errors: [], failures }
      }))

    // ---------------------------------------------------------------------------------------------
    // Metrics and the API

    const metrics = Effect.gen(function*() {
      const neighbors = yield* speaker.neighbors
      const locRib = yield* speaker.locRibSize
      return renderMetrics({ neighbors, locRib, counters, lag })
    })

    const bad = (issues: ReadonlyArray<ConfigIssue>) => new ApiError(400, issuesText(issues), issues)

    const handlers = {
      neighbors: () => run(Effect.map(speaker.neighbors, (ns) => ns.map((n) => neighborView(n)))),
      routes: async (q: URLSearchParams) => {
        const prefix = q.get("prefix")
        const filter = prefix === null ? undefined : parsePrefix(prefix)
        if (prefix !== null && filter === undefined) throw new ApiError(400, `prefix: not a prefix: ${prefix}`)
        const neighbor = q.get("neighbor")
        const community = q.get("community")
        let c: number | undefined
        try {
          c = community === null ? undefined : parseCommunity(community, "community")
        } catch (e) {
          throw new ApiError(400, e instanceof Error ? e.message : String(e))
        }
        const limitText = q.get("limit")
        const limit = limitText === null ? 10_000 : Number(limitText)
        if (!Number.isInteger(limit) || limit < 0) throw new ApiError(400, `limit: not a count: ${limitText}`)
        const all = await run(speaker.routes)
        const matching = all.filter((r) =>
          (filter === undefined || covers(filter, r.prefix)) &&
          (neighbor === null || (!r.best.local && canonical(r.best.source) === canonical(neighbor))) &&
          (c === undefined || (r.best.attributes.communities ?? []).includes(c))
        )
        // In address order, not the order the routes arrived in.
        matching.sort((a, b) => comparePrefix(a.prefix, b.prefix))
        return { total: matching.length, truncated: matching.length > limit, routes: matching.slice(0, limit).map(routeView) }
      },
      explain: async (q: URLSearchParams) => {
        const prefix = q.get("prefix")
        if (prefix === null || parsePrefix(prefix) === undefined) throw new ApiError(400, `prefix: give a prefix (?prefix=10.0.0.0/24), got ${prefix ?? "none"}`)
        const e = await run(speaker.explain(prefix))
        if (e === undefined) throw new ApiError(404, `no route for ${prefix}`)
        return explainView(e)
      },
      originate: async (body: unknown) => {
        const r = parseOriginate(body)
        if (Result.isFailure(r)) throw bad(r.failure)
        const o = r.success
        let attrs: RouteAttributes
        try {
          const nh = o.nextHop
          const v4 = nh === undefined ? undefined : parseIpv4(nh)
          attrs = {
            origin: o.origin === undefined ? 0 : o.origin === "igp" ? 0 : o.origin === "egp" ? 1 : 2,
            asPath: o.asPath === undefined || o.asPath.length === 0 ? [] : [{ type: 2, asns: [...o.asPath] }],
            ...(v4 !== undefined ? { nextHop: v4 } : nh !== undefined ? { mpNextHop: ipv6ToBytes(nh)! } : {}),
            ...(o.localPref === undefined ? {} : { localPref: o.localPref }),
            ...(o.med === undefined ? {} : { med: o.med }),
            ...(o.communities === undefined ? {} : { communities: o.communities.map((x, i) => parseCommunity(x, `communities[${i}]`)) }),
            ...(o.largeCommunities === undefined ? {} : { largeCommunities: o.largeCommunities.map((x, i) => parseLargeCommunity(x, `largeCommunities[${i}]`)) })
          }
        } catch (e) {
          if (e instanceof PolicyError) throw new ApiError(400, e.message)
          throw e
        }
        const p = parsePrefix(o.prefix)!
        if (p.afi === 1 && attrs.mpNextHop !== undefined) throw new ApiError(400, "nextHop: an IPv4 prefix needs an IPv4 next hop")
        await run(speaker.originate(p, attrs).pipe(Effect.mapError((e) => new ApiError(400, e.message))))
        note(`originated ${o.prefix}`)
        return { ok: true, prefix: o.prefix }
      },
      withdraw: async (body: unknown) => {
        const r = parseWithdraw(body)
        if (Result.isFailure(r)) throw bad(r.failure)
        await run(speaker.withdraw(r.success.prefix).pipe(Effect.mapError((e) => new ApiError(400, e.message))))
        note(`withdrew ${r.success.prefix}`)
        return { ok: true, prefix: r.success.prefix }
      },
      reload: async (dryRun: boolean, body: string | undefined): Promise<ApiResponse> => {
        if (body !== undefined && !dryRun) throw new ApiError(400, "a reload reads the config file; send a config in the body only with ?dryRun=true")
        const r = await run(reload({ ...(body === undefined ? {} : { text: body, source: "request body" }), dryRun }))
        return { status: r.errors.length > 0 ? 400 : 200, json: r }
      },
      metrics: () => run(metrics)
    }
    const note = (msg: string) => void run(Effect.logInfo(msg).pipe(Effect.annotateLogs({ api: true })))

    const apiSettings = (c: DaemonConfig) => ({
      enabled: c.api?.enabled ?? true,
      address: c.api?.address ?? "127.0.0.1",
      port: c.api?.port ?? DEFAULT_API_PORT,
      allowNonLoopback: c.api?.allowNonLoopback === true
    })

    const openApi = (c: DaemonConfig): Effect.Effect<ApiServer | undefined, string> =>
      Effect.gen(function*() {
        const s = apiSettings(c)
        if (!s.enabled) return undefined
        const token = yield* resolveToken(c).pipe(Effect.mapError((e) => e.message))
        const server = yield* Effect.tryPromise({
          try: () => startApi({ ...s, ...(token === undefined ? {} : { token }) }, handlers),
          catch: (e) => `API on ${s.address}:${s.port}: ${e instanceof Error ? e.message : String(e)}`
        })
        if (token === undefined) yield* Effect.logWarning("the API has no token: anyone who can reach it can change routes (set api.token, api.tokenFile or api.tokenEnv)")
        yield* Effect.logInfo(`API listening on http://${server.address.includes(":") ? `[${server.address}]` : server.address}:${server.port}`)
        return server
      })

    const closeApi = Effect.suspend(() => {
      const s = apiServer
      apiServer = undefined
      return s === undefined ? Effect.void : Effect.promise(() => s.close())
    })

    const restartApi = (c: DaemonConfig): Effect.Effect<void, string> =>
      Effect.gen(function*() {
        yield* closeApi
        apiServer = yield* openApi(c)
      })

    const opened = yield* Effect.result(openApi(initial.config))
    if (Result.isFailure(opened)) {
      yield* Scope.close(speakerScope, Exit.void)
      return yield* Effect.fail(new DaemonError(opened.failure, [{ path: "api", message: opened.failure }]))
    }
    apiServer = opened.success
    yield* Effect.addFinalizer(() => closeApi)

    const shutdown = (message = "shutting down") =>
      lock.withPermit(Effect.gen(function*() {
        if (stopped) return
        stopped = true
        yield* Effect.logInfo(`shutting down: Cease/Administrative Shutdown to every session ("${message}")`)
        yield* closeApi
        yield* stopSpeaker(message)
      }))

    const daemon: Daemon = {
      speaker: () => speaker,
      config: () => loaded,
      reload,
      api: () => (apiServer === undefined ? undefined : { address: apiServer.address, port: apiServer.port }),
      metrics,
      shutdown
    }
    return daemon
  })
