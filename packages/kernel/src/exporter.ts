/**
 * RIB → kernel. Follows a route-change stream (the speaker's `changes`: full table, EndOfTable, then
 * changes) and keeps one routing table in sync: add, replace, delete, in batches; ECMP from the multipath
 * set; blackholes for the node's own blocks; onlink / device next hops for tunnels (the IP-in-IP `tunl0`
 * case). One fiber owns the state (sync.ts); the kernel is reached only through `KernelRoutes`.
 *
 * - Start: the routes of our protocol already in the table are adopted and kept (graceful restart) until
 *   the RIB has converged — the first EndOfTable, then `converged` (by default, for a speaker: every
 *   neighbor Established and route counts quiet), bounded by `maxHoldMs`; then the ones the RIB did not
 *   ask for are swept.
 * - A route the kernel refuses (unreachable next hop, missing device, a foreign route in the slot) is
 *   reported and retried every `retryIntervalMs`; nothing the kernel says stops the exporter.
 * - Monitor notices our own state does not explain (someone deleted or replaced our route, a link went
 *   down and took IPv4 routes with it) trigger a re-scan shortly after; a full re-scan also runs every
 *   `rescanIntervalMs`.
 */
import type { Prefix } from "@starling/codec"
import { formatPrefix } from "@starling/codec"
import type { RouteEvent, RouteInfo, SpeakerApi } from "@starling/speaker"
import { ConfigError } from "@starling/speaker"
import { Deferred, Duration, Effect, PubSub, Queue, Scope, Stream } from "effect"
import type { Notice, RouteOp } from "./iproute.ts"
import { validDevice } from "./iproute.ts"
import type { KernelRoute, NextHop } from "./route.ts"
import { canonicalAddress, DEFAULT_METRIC, DEFAULT_PROTOCOL, describeRoute, MAIN_TABLE, normalizeNextHops, routeKey, RouteType } from "./route.ts"
import { KernelRoutes } from "./service.ts"
import type { Failure } from "./sync.ts"
import { FibSync } from "./sync.ts"

export interface ExporterOptions {
  /** Route protocol number that marks our routes (default 201, see route.ts). Must be 5..255. */
  readonly protocol?: number
  /** Routing table (default 254, main). */
  readonly table?: number
  /** Route metric (priority) of every route we install (default 32). */
  readonly metric?: number
  /** Install the multipath set as ECMP next hops (default true); false: the best path only. */
  readonly multipath?: boolean
  /** Send through this device (IP-in-IP: "tunl0"; also needed for IPv6 link-local next hops). */
  readonly device?: string
  /** Mark next hops onlink: reachable over `device` without a covering connected route (tunnels). */
  readonly onlink?: boolean
  /** Routes this speaker originates itself: left out (default) or installed as blackholes (own blocks). */
  readonly localRoutes?: "skip" | "blackhole"
  /** Which Loc-RIB routes go to the kernel (default: all). */
  readonly filter?: (prefix: Prefix, best: RouteInfo) => boolean
  /** The kernel next hop for a BGP next hop (default: via it, with `device` and `onlink`). Undefined: not installable. */
  readonly nextHop?: (address: string, family: 4 | 6) => NextHop | undefined
  /** Full re-scan period (default 60 s; 0: never). */
  readonly rescanIntervalMs?: number
  /** Retry period for refused routes (default 5 s). */
  readonly retryIntervalMs?: number
  /** Delay before a re-scan triggered by a notice, to catch a burst in one scan (default 200 ms). */
  readonly resyncDelayMs?: number
  /**
   * Delay before the re-scan that follows a gap in the monitor (it is paused during large batches, or
   * overran): one scan after a run of large batches rather than one per batch (default 1 s).
   */
  readonly verifyDelayMs?: number
  /** Graceful restart: routes found at start stay until this completes (after the first EndOfTable). */
  readonly converged?: Effect.Effect<void>
  /** Upper bound on that hold (default 120 s). */
  readonly maxHoldMs?: number
  /** When every route of a family goes and there are more than this many, one flush (default 1000; 0: never). */
  readonly flushAbove?: number
  /** Remove our routes when the exporter's scope closes (default false: they stay, for a restart). */
  readonly removeOnClose?: boolean
  /**
   * Change routes with one atomic `replace` instead of delete + add (default false). `replace` overwrites
   * whatever route holds the slot, whatever its protocol: only for a table nobody else writes to.
   */
  readonly atomicReplace?: boolean
}

export type ExporterEvent =
  | { readonly _tag: "Adopted"; readonly routes: number }
  | { readonly _tag: "Applied"; readonly added: number; readonly replaced: number; readonly deleted: number; readonly flushed: number; readonly failed: number; readonly ms: number }
  | { readonly _tag: "Failed"; readonly route: string; readonly error: string; readonly attempts: number; readonly conflict: boolean }
  | { readonly _tag: "Recovered"; readonly route: string }
  | { readonly _tag: "Rescanned"; readonly reason: string; readonly differences: number }
  | { readonly _tag: "Converged"; readonly swept: number; readonly timedOut: boolean }

export interface ExporterStatus {
  readonly desired: number
  readonly installed: number
  readonly stale: number
  readonly holding: boolean
  readonly converged: boolean
  readonly failed: ReadonlyArray<{ readonly route: string; readonly error: string; readonly attempts: number; readonly conflict: boolean }>
  readonly rescans: number
  /** A re-scan is due (after a notice or a monitor gap). */
  readonly rescanPending: boolean
  readonly batches: number
}

export interface Exporter {
  readonly status: Effect.Effect<ExporterStatus>
  /** Events from now on. */
  readonly events: Stream.Stream<ExporterEvent>
  /** The last 1000 events. */
  readonly history: Effect.Effect<ReadonlyArray<ExporterEvent>>
  /** Waits until everything that reached the exporter so far has been applied. */
  readonly settled: Effect.Effect<void>
  /** Re-scans the kernel now and repairs what differs. */
  readonly rescan: Effect.Effect<void>
  /** Resolves once the graceful-restart hold is over (stale routes swept). */
  readonly convergedSignal: Effect.Effect<void>
}

type Input =
  | { readonly _tag: "Routes"; readonly events: ReadonlyArray<RouteEvent> }
  | { readonly _tag: "Notices"; readonly notices: ReadonlyArray<Notice> }
  | { readonly _tag: "Rescan"; readonly reason: string; readonly done?: Deferred.Deferred<void> }
  | { readonly _tag: "Retry" }
  | { readonly _tag: "Converged"; readonly timedOut: boolean }
  | { readonly _tag: "Settle"; readonly done: Deferred.Deferred<void> }

interface Resolved {
  readonly protocol: number
  readonly table: number
  readonly metric: number
}

const resolveOptions = (o: ExporterOptions): Effect.Effect<Resolved, ConfigError> => {
  const protocol = o.protocol ?? DEFAULT_PROTOCOL
  const table = o.table ?? MAIN_TABLE
  const metric = o.metric ?? DEFAULT_METRIC
  // 0-4 are the kernel's own and the administrator's (static): owning them would sweep other routes.
  if (!Number.isInteger(protocol) || protocol < 5 || protocol > 255) return Effect.fail(new ConfigError({ path: "kernel.protocol", detail: `must be 5..255, got ${protocol}` }))
  if (!Number.isInteger(table) || table < 1 || table > 0xffffffff || table === 255) return Effect.fail(new ConfigError({ path: "kernel.table", detail: `not a routing table we may own: ${table}` }))
  if (!Number.isInteger(metric) || metric < 0 || metric > 0xffffffff) return Effect.fail(new ConfigError({ path: "kernel.metric", detail: `not a metric: ${metric}` }))
  if (o.device !== undefined && !validDevice(o.device)) return Effect.fail(new ConfigError({ path: "kernel.device", detail: `not a device name: ${o.device}` }))
  return Effect.succeed({ protocol, table, metric })
}

/**
 * The kernel route for one Loc-RIB entry under these options, or undefined when it stays out of the kernel.
 */
export const kernelRouteFor = (
  ev: { readonly prefix: Prefix; readonly best: RouteInfo | undefined; readonly multipath: ReadonlyArray<RouteInfo> },
  o: ExporterOptions & Resolved
): KernelRoute | undefined => {
  const best = ev.best
  if (best === undefined) return undefined
  if (o.filter !== undefined && !o.filter(ev.prefix, best)) return undefined
  const family: 4 | 6 = ev.prefix.afi === 1 ? 4 : 6
  const base = { prefix: formatPrefix({ ...ev.prefix, pathId: 0 }), family, table: o.table, protocol: o.protocol, metric: o.metric }
  if (best.local) return o.localRoutes === "blackhole" ? { ...base, type: RouteType.blackhole, nexthops: [] } : undefined
  const paths = o.multipath === false ? [best] : ev.multipath.length > 0 ? ev.multipath : [best]
  const nhs: NextHop[] = []
  for (const p of paths) {
    if (p.local || p.nextHop === undefined) continue
    const a = canonicalAddress(p.nextHop)
    if (a === undefined) continue
    const nh = o.nextHop !== undefined
      ? o.nextHop(a.text, a.family)
      : { via: a.text, ...(o.device === undefined ? {} : { dev: o.device }), ...(o.onlink === true ? { onlink: true } : {}) }
    if (nh !== undefined) nhs.push(nh)
  }
  if (nhs.length === 0) return undefined
  return { ...base, type: RouteType.unicast, nexthops: sharedNextHops(nhs) }
}

/**
 * One frozen array per distinct next-hop set: thousands of routes share a few sets, so this saves memory
 * and lets `satisfies` compare them by identity.
 */
const nextHopSets = new Map<string, ReadonlyArray<NextHop>>()
const hopKey = (n: NextHop) => `${n.via ?? ""}|${n.dev ?? ""}|${n.onlink === true ? 1 : 0}|${n.weight ?? 1}`
const sharedNextHops = (nhs: ReadonlyArray<NextHop>): ReadonlyArray<NextHop> => {
  const key = nhs.length === 1 ? hopKey(nhs[0]!) : nhs.map(hopKey).sort().join(" ")
  let s = nextHopSets.get(key)
  if (s !== undefined) return s
  const norm = normalizeNextHops(nhs)
  if (s === undefined) {
    if (nextHopSets.size >= 10_000) nextHopSets.clear()
    s = Object.freeze(norm.map((n) => Object.freeze(n)))
    nextHopSets.set(key, s)
  }
  return s
}

/** Every neighbor Established and the received-route counts unchanged for `quietMs` (End-of-RIB is not exposed). */
export const speakerConverged = (speaker: SpeakerApi, options: { readonly quietMs?: number; readonly pollMs?: number } = {}): Effect.Effect<void> =>
  Effect.gen(function*() {
    const quietMs = options.quietMs ?? 2000
    const pollMs = options.pollMs ?? 200
    let last = ""
    let since = Date.now()
    while (true) {
      const ns = yield* speaker.neighbors
      const sig = ns.map((n) => `${n.state}:${n.routesReceived}`).join(",")
      if (sig !== last || !ns.every((n) => n.state === "Established")) {
        last = sig
        since = Date.now()
      } else if (Date.now() - since >= quietMs) return
      yield* Effect.sleep(Duration.millis(pollMs))
    }
  })

/** Exports a speaker's Loc-RIB, holding stale routes until the speaker has converged. */
export const exportSpeaker = (speaker: SpeakerApi, options: ExporterOptions = {}) =>
  makeExporter(speaker.changes, { converged: speakerConverged(speaker), ...options })

export const makeExporter = (routes: Stream.Stream<RouteEvent>, options: ExporterOptions = {}): Effect.Effect<Exporter, ConfigError, KernelRoutes | Scope.Scope> =>
  Effect.gen(function*() {
    const resolved = yield* resolveOptions(options)
    const cfg = { ...options, ...resolved }
    const kernel = yield* KernelRoutes
    const scope = yield* Effect.scope
    const sync = new FibSync({ protocol: cfg.protocol, table: cfg.table, flushAbove: options.flushAbove ?? 1000, atomicReplace: options.atomicReplace === true })
    const inputs = yield* Queue.unbounded<Input>()
    const events = yield* PubSub.unbounded<ExporterEvent>()
    const endOfTable = yield* Deferred.make<void>()
    const convergedDone = yield* Deferred.make<void>()
    const counters = { rescans: 0, batches: 0 }
    let converged = false
    let rescanScheduled = false
    const history: ExporterEvent[] = []
    const emit = (e: ExporterEvent) =>
      Effect.suspend(() => {
        history.push(e)
        if (history.length > 1000) history.splice(0, history.length - 1000)
        return PubSub.publish(events, e)
      })

    const scanOurs = Effect.gen(function*() {
      const v4 = yield* kernel.dump({ family: 4, table: cfg.table, protocol: cfg.protocol })
      const v6 = yield* kernel.dump({ family: 6, table: cfg.table, protocol: cfg.protocol })
      return [...v4, ...v6]
    })

    const scheduleRescan = (reason: string, delayMs = options.resyncDelayMs ?? 200) =>
      Effect.suspend(() => {
        if (rescanScheduled || kernel.dryRun) return Effect.void
        rescanScheduled = true
        return Effect.forkIn(Effect.andThen(Effect.sleep(Duration.millis(delayMs)), Queue.offer(inputs, { _tag: "Rescan", reason })), scope)
      })

    // Subscribe before the first dump: a change between the dump and the subscription would be lost.
    const sub = yield* kernel.subscribe

    const initial = yield* Effect.result(scanOurs)
    let adopted = false
    const adopt = (routes: ReadonlyArray<KernelRoute>) =>
      Effect.gen(function*() {
        adopted = true
        // Before convergence only: after it there is nothing to hold for.
        if (!converged) sync.adopt(routes)
        yield* emit({ _tag: "Adopted", routes: sync.installed.size })
        if (sync.installed.size > 0) yield* Effect.logInfo(`kernel: adopted ${sync.installed.size} routes of protocol ${cfg.protocol} in table ${cfg.table}; kept until the RIB converges`)
      })
    if (initial._tag === "Success") yield* adopt(initial.success)
    else {
      yield* Effect.logWarning(`kernel: initial scan failed (${initial.failure.message}); retrying`)
      yield* scheduleRescan("initial scan failed", options.retryIntervalMs ?? 5000)
    }

    const report = (f: Failure) =>
      Effect.andThen(
        Effect.logWarning(`kernel: cannot install ${describeRoute(f.route)}: ${f.error}${f.conflict ? " (another route holds the slot)" : ""}; will retry`),
        emit({ _tag: "Failed", route: describeRoute(f.route), error: f.error, attempts: f.attempts, conflict: f.conflict })
      )

    // A refused replacement leaves follow-up work (removing the old route): a second round does it.
    const applyPlan = Effect.gen(function*() {
      for (let round = 0; round < 3 && sync.pending > 0; round++) yield* applyOnce
    })

    const applyOnce = Effect.gen(function*() {
      const ops: RouteOp[] = sync.plan()
      if (ops.length === 0) return
      const t0 = performance.now()
      const results = yield* kernel.apply(ops)
      const out = sync.record(ops, results)
      counters.batches++
      yield* emit({
        _tag: "Applied",
        added: out.added,
        replaced: out.replaced,
        deleted: out.deleted,
        flushed: out.flushed,
        failed: results.filter((r) => !r.ok).length,
        ms: performance.now() - t0
      })
      for (const f of out.newFailures) yield* report(f)
      for (const k of out.recovered) yield* emit({ _tag: "Recovered", route: sync.describe(k) })
      if (out.needRescan) yield* scheduleRescan("the kernel's answer left the state uncertain")
    })

    const step = (batch: ReadonlyArray<Input>) =>
      Effect.gen(function*() {
        let rescan: string | undefined
        const settle: Deferred.Deferred<void>[] = []
        for (const input of batch) {
          switch (input._tag) {
            case "Routes":
              for (const ev of input.events) {
                if (ev._tag === "EndOfTable") yield* Deferred.succeed(endOfTable, undefined)
                else {
                  const r = kernelRouteFor(ev, cfg)
                  sync.setDesired(routeKey({ table: cfg.table, metric: cfg.metric, prefix: formatPrefix({ ...ev.prefix, pathId: 0 }) }), r)
                }
              }
              break
            case "Notices":
              for (const n of input.notices) {
                if (n._tag === "Resync") yield* scheduleRescan(n.reason, options.verifyDelayMs ?? 1000)
                else if (!sync.explains(n)) yield* scheduleRescan(n._tag === "Link" ? "a link or address changed" : `unexpected change: ${n.line || describeRoute(n.route)}`)
              }
              break
            case "Rescan":
              rescanScheduled = false
              rescan ??= input.reason
              if (input.done !== undefined) settle.push(input.done)
              break
            case "Retry":
              sync.retryFailed()
              break
            case "Converged": {
              const swept = sync.release()
              converged = true
              yield* Effect.logInfo(`kernel: RIB converged${input.timedOut ? " (hold timed out)" : ""}; sweeping ${swept} stale routes`)
              yield* emit({ _tag: "Converged", swept, timedOut: input.timedOut })
              break
            }
            case "Settle":
              settle.push(input.done)
          }
        }
        if (rescan !== undefined && !kernel.dryRun) {
          const r = yield* Effect.result(scanOurs)
          counters.rescans++
          if (r._tag === "Success") {
            // The start-up scan had failed: this one is the adoption.
            if (!adopted) yield* adopt(r.success)
            const differences = sync.reconcile(r.success)
            yield* emit({ _tag: "Rescanned", reason: rescan, differences })
            if (differences > 0) yield* Effect.logInfo(`kernel: re-scan (${rescan}) found ${differences} differences; repairing`)
          } else {
            yield* Effect.logWarning(`kernel: re-scan failed: ${r.failure.message}`)
            yield* scheduleRescan("previous re-scan failed", options.retryIntervalMs ?? 5000)
          }
        }
        yield* applyPlan
        yield* applyConvergedRelease
        for (const d of settle) yield* Deferred.succeed(d, undefined)
      })

    // After release, the plan holds the sweep; it ran in the same step.
    const applyConvergedRelease = Effect.suspend(() => (converged ? Deferred.succeed(convergedDone, undefined) : Effect.void)).pipe(Effect.asVoid)

    // The owner fiber. A defect in one step is logged; the loop goes on.
    yield* Effect.forkIn(
      Effect.forever(Effect.flatMap(Queue.takeAll(inputs), (batch) =>
        step(batch).pipe(Effect.catchCause((cause) => Effect.logError("kernel exporter: step failed", cause))))),
      scope
    )
    yield* Effect.forkIn(Effect.forever(Effect.flatMap(PubSub.takeAll(sub), (notices) => Queue.offer(inputs, { _tag: "Notices", notices }))), scope)
    yield* Effect.forkIn(Stream.runForEachArray(routes, (evs) => Queue.offer(inputs, { _tag: "Routes", events: evs })), scope)
    yield* Effect.forkIn(Effect.forever(Effect.andThen(Effect.sleep(Duration.millis(options.retryIntervalMs ?? 5000)), Queue.offer(inputs, { _tag: "Retry" }))), scope)
    const rescanEvery = options.rescanIntervalMs ?? 60_000
    if (rescanEvery > 0) {
      yield* Effect.forkIn(Effect.forever(Effect.andThen(Effect.sleep(Duration.millis(rescanEvery)), Queue.offer(inputs, { _tag: "Rescan", reason: "periodic" }))), scope)
    }
    const waitConverged = Effect.andThen(Deferred.await(endOfTable), options.converged ?? Effect.void)
    yield* Effect.forkIn(
      waitConverged.pipe(
        Effect.timeoutOption(Duration.millis(options.maxHoldMs ?? 120_000)),
        Effect.flatMap((o) => Queue.offer(inputs, { _tag: "Converged", timedOut: o._tag === "None" }))
      ),
      scope
    )

    if (options.removeOnClose === true) {
      yield* Effect.addFinalizer(() =>
        Effect.suspend(() => {
          const ops: RouteOp[] = [...sync.installed.values()].map((route) => ({ op: "delete", route }))
          return Effect.asVoid(kernel.apply(ops))
        })
      )
    }

    const settled = Effect.gen(function*() {
      const d = yield* Deferred.make<void>()
      yield* Queue.offer(inputs, { _tag: "Settle", done: d })
      yield* Deferred.await(d)
    })

    const api: Exporter = {
      status: Effect.sync(() => ({
        desired: sync.desired.size,
        installed: sync.installed.size,
        stale: sync.stale.size,
        holding: sync.holding,
        converged,
        failed: [...sync.failed.values()].map((f) => ({ route: describeRoute(f.route), error: f.error, attempts: f.attempts, conflict: f.conflict })),
        rescans: counters.rescans,
        rescanPending: rescanScheduled,
        batches: counters.batches
      })),
      events: Stream.fromPubSub(events),
      history: Effect.sync(() => history.slice()),
      settled,
      rescan: Effect.gen(function*() {
        const d = yield* Deferred.make<void>()
        yield* Queue.offer(inputs, { _tag: "Rescan", reason: "requested", done: d })
        yield* Deferred.await(d)
      }),
      convergedSignal: Deferred.await(convergedDone)
    }
    return api
  })
