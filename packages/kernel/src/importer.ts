/**
 * Kernel → BGP: announce the routes the node owns — its pod block, connected or static routes — chosen by
 * protocol, table, prefix range, type and device (the role BIRD's kernel and direct protocols play in
 * Calico). Follows the kernel: monitor notices that touch a selected route (or any link/address change)
 * trigger a re-scan, and a full re-scan runs periodically; the difference is originated or withdrawn
 * through the speaker. Routes of the exporter's protocol are never imported (that would loop).
 */
import { ipv6ToBytes, parseIpv4 } from "@starling/codec"
import type { RouteAttributes } from "@starling/rib"
import type { SpeakerApi } from "@starling/speaker"
import { ConfigError } from "@starling/speaker"
import { Deferred, Duration, Effect, PubSub, Queue, Scope } from "effect"
import type { Notice } from "./iproute.ts"
import type { KernelRoute } from "./route.ts"
import { canonicalPrefix, DEFAULT_PROTOCOL, MAIN_TABLE, prefixWithin, RouteType } from "./route.ts"
import { KernelRoutes } from "./service.ts"

export interface ImportSelector {
  /** Route protocols, e.g. 2 (kernel: connected routes), 4 (static). Default: any. */
  readonly protocols?: ReadonlyArray<number>
  /** Tables (default: main). */
  readonly tables?: ReadonlyArray<number>
  /** Prefix ranges: a route is selected when its prefix lies inside one (default: any). */
  readonly prefixes?: ReadonlyArray<string>
  /** Route types (default unicast and blackhole). */
  readonly types?: ReadonlyArray<number>
  /** Only routes through one of these devices. */
  readonly devices?: ReadonlyArray<string>
}

export interface ImporterOptions {
  /** A route is announced when any selector matches it. */
  readonly select: ReadonlyArray<ImportSelector>
  /** IPv4 next hop to announce (the node's address). IPv4 routes are skipped without one (or `attributes`). */
  readonly nextHop?: string
  /** IPv6 next hop to announce. */
  readonly nextHopV6?: string
  /** Attributes for a selected route (default: the next hop of its family). Undefined: not announced. */
  readonly attributes?: (route: KernelRoute) => RouteAttributes | undefined
  /** The exporter's protocol: never imported (default 201). */
  readonly exporterProtocol?: number
  /** Full re-scan period (default 30 s; 0: never). */
  readonly rescanIntervalMs?: number
  /** Delay before a notice-triggered re-scan (default 200 ms). */
  readonly resyncDelayMs?: number
}

export interface Importer {
  /** Prefixes announced now. */
  readonly announced: Effect.Effect<ReadonlyArray<string>>
  /** Re-scans now and waits until the announcements follow. */
  readonly rescan: Effect.Effect<void>
}

interface Sel {
  readonly protocols: ReadonlySet<number> | undefined
  readonly tables: ReadonlySet<number>
  readonly prefixes: ReadonlyArray<string> | undefined
  readonly types: ReadonlySet<number>
  readonly devices: ReadonlySet<string> | undefined
}

/** Does a selector take this route? */
const matches = (s: Sel, r: KernelRoute): boolean =>
  s.tables.has(r.table) &&
  s.types.has(r.type) &&
  (s.protocols === undefined || s.protocols.has(r.protocol)) &&
  (s.prefixes === undefined || s.prefixes.some((p) => prefixWithin(r.prefix, p))) &&
  (s.devices === undefined || r.nexthops.some((nh) => nh.dev !== undefined && s.devices!.has(nh.dev)))

export const makeImporter = (speaker: SpeakerApi, options: ImporterOptions): Effect.Effect<Importer, ConfigError, KernelRoutes | Scope.Scope> =>
  Effect.gen(function*() {
    const kernel = yield* KernelRoutes
    const scope = yield* Effect.scope
    const exporterProtocol = options.exporterProtocol ?? DEFAULT_PROTOCOL
    const sels: Sel[] = []
    for (const [i, s] of options.select.entries()) {
      const prefixes: string[] = []
      for (const p of s.prefixes ?? []) {
        const c = canonicalPrefix(p)
        if (c === undefined || !p.includes("/")) return yield* new ConfigError({ path: `import.select[${i}].prefixes`, detail: `not a prefix: ${p}` })
        prefixes.push(c.text)
      }
      if (s.protocols?.includes(exporterProtocol) === true) {
        return yield* new ConfigError({ path: `import.select[${i}].protocols`, detail: `${exporterProtocol} is the exporter's protocol: importing it would loop` })
      }
      sels.push({
        protocols: s.protocols === undefined ? undefined : new Set(s.protocols),
        tables: new Set(s.tables ?? [MAIN_TABLE]),
        prefixes: s.prefixes === undefined ? undefined : prefixes,
        types: new Set(s.types ?? [RouteType.unicast, RouteType.blackhole]),
        devices: s.devices === undefined ? undefined : new Set(s.devices)
      })
    }
    const v4 = options.nextHop === undefined ? undefined : parseIpv4(options.nextHop)
    if (options.nextHop !== undefined && v4 === undefined) return yield* new ConfigError({ path: "import.nextHop", detail: `not an IPv4 address: ${options.nextHop}` })
    const v6 = options.nextHopV6 === undefined ? undefined : ipv6ToBytes(options.nextHopV6)
    if (options.nextHopV6 !== undefined && v6 === undefined) return yield* new ConfigError({ path: "import.nextHopV6", detail: `not an IPv6 address: ${options.nextHopV6}` })
    const attributesFor = options.attributes ??
      ((r: KernelRoute): RouteAttributes | undefined =>
        r.family === 4 ? (v4 === undefined ? undefined : { nextHop: v4 }) : v6 === undefined ? undefined : { mpNextHop: v6 })

    const selected = (r: KernelRoute) => r.protocol !== exporterProtocol && sels.some((s) => matches(s, r))
    // The dumps a scan needs: per family and table, filtered by protocol in the kernel when every selector
    // names its protocols (the main table may hold 100 k routes of the exporter's that we never want).
    const queries = new Map<string, { family: 4 | 6; table: number; protocol?: number }>()
    const tables = new Set<number>()
    for (const s of sels) {
      const fams: Array<4 | 6> = s.prefixes === undefined ? [4, 6] : [...new Set(s.prefixes.map((p) => (p.includes(":") ? 6 as const : 4 as const)))]
      for (const family of fams) {
        for (const table of s.tables) {
          tables.add(table)
          if (s.protocols === undefined) queries.set(`${family} ${table} *`, { family, table })
          else for (const protocol of s.protocols) queries.set(`${family} ${table} ${protocol}`, { family, table, protocol })
        }
      }
    }
    // An unfiltered dump of a table covers the filtered ones.
    for (const [k, q] of queries) if (q.protocol !== undefined && queries.has(`${q.family} ${q.table} *`)) queries.delete(k)

    /** prefix → the attributes we announced, as a comparable key. */
    const announced = new Map<string, string>()
    const skipped = new Set<string>()
    const inputs = yield* Queue.unbounded<{ readonly reason: string; readonly done?: Deferred.Deferred<void> }>()
    let scheduled = false

    const scan = Effect.gen(function*() {
      const want = new Map<string, RouteAttributes>()
      for (const q of queries.values()) {
        const routes = yield* kernel.dump(q)
        for (const r of routes) {
          if (!selected(r) || want.has(r.prefix)) continue
          const a = attributesFor(r)
          if (a === undefined) {
            if (!skipped.has(r.prefix)) {
              skipped.add(r.prefix)
              yield* Effect.logWarning(`kernel import: no next hop for IPv${r.family} route ${r.prefix}; not announced`)
            }
            continue
          }
          want.set(r.prefix, a)
        }
      }
      for (const [p, a] of want) {
        const key = JSON.stringify(a, (_k, v) => (v instanceof Uint8Array ? [...v] : v))
        if (announced.get(p) === key) continue
        yield* speaker.originate(p, a)
        announced.set(p, key)
      }
      for (const p of [...announced.keys()]) {
        if (want.has(p)) continue
        yield* speaker.withdraw(p)
        announced.delete(p)
      }
    })

    const schedule = (reason: string) =>
      Effect.suspend(() => {
        if (scheduled) return Effect.void
        scheduled = true
        return Effect.forkIn(Effect.andThen(Effect.sleep(Duration.millis(options.resyncDelayMs ?? 200)), Queue.offer(inputs, { reason })), scope)
      })

    const relevant = (n: Notice): boolean =>
      n._tag !== "Route" || (n.route.protocol !== exporterProtocol && tables.has(n.route.table) && sels.some((s) => matches(s, n.route)))

    const sub = yield* kernel.subscribe
    yield* Effect.forkIn(
      Effect.forever(Effect.gen(function*() {
        const batch = yield* Queue.takeAll(inputs)
        scheduled = false
        yield* scan.pipe(Effect.catch((e) => Effect.andThen(Effect.logWarning(`kernel import: scan failed: ${e.message}`), schedule("previous scan failed"))))
        for (const b of batch) if (b.done !== undefined) yield* Deferred.succeed(b.done, undefined)
      })),
      scope
    )
    yield* Effect.forkIn(
      Effect.forever(Effect.flatMap(PubSub.takeAll(sub), (ns) => (ns.some(relevant) ? schedule("kernel change") : Effect.void))),
      scope
    )
    const every = options.rescanIntervalMs ?? 30_000
    if (every > 0) yield* Effect.forkIn(Effect.forever(Effect.andThen(Effect.sleep(Duration.millis(every)), Queue.offer(inputs, { reason: "periodic" }))), scope)

    const rescan = Effect.gen(function*() {
      const d = yield* Deferred.make<void>()
      yield* Queue.offer(inputs, { reason: "requested", done: d })
      yield* Deferred.await(d)
    })
    yield* rescan
    return { announced: Effect.sync(() => [...announced.keys()].sort()), rescan }
  })
