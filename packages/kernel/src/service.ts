/**
 * The `KernelRoutes` service: apply route operations, dump routes, watch for changes. The live layer
 * drives iproute2 (`ip -batch`, `ip -json route show`, `ip monitor`) through Effect's ChildProcess; the
 * test layer runs the same command generation against an in-memory model of the kernel's rules and
 * records every batch.
 *
 * Why iproute2 and not netlink: Node has no AF_NETLINK sockets, so netlink means a native addon (a build
 * step, an ABI to track, a crash that takes the speaker down). `ip -batch` keeps one process per batch
 * (not per route), sends one netlink request per line and reports failures per line under `-force`; the
 * kernel does the same work either way, and the cost measured here is dominated by the kernel
 * (see bench/README.md).
 */
import { NodeServices } from "@effect/platform-node"
import { Context, Data, Effect, FiberHandle, Layer, PubSub, Scope, Semaphore, Stream } from "effect"
import { ChildProcess, ChildProcessSpawner } from "effect/process"
import type { Notice, OpResult, RouteOp } from "./iproute.ts"
import { batchResults, commandLine, flushArgs, parseDump, parseMonitorLine, validateRoute } from "./iproute.ts"
import type { KernelRoute } from "./route.ts"
import { routeKey, satisfies } from "./route.ts"

export class KernelError extends Data.TaggedError("KernelError")<{ readonly command: string; readonly detail: string }> {
  override get message(): string {
    return `${this.command}: ${this.detail}`
  }
}

export interface DumpQuery {
  readonly family: 4 | 6
  /** A table id, or "all" (default). */
  readonly table?: number | "all"
  /** Only routes of this protocol (filtered by the kernel). */
  readonly protocol?: number
}

export interface KernelStats {
  /** `ip` processes run for batches and flushes. */
  readonly processes: number
  /** Operations applied (batch lines plus flushes). */
  readonly operations: number
  readonly dumps: number
  /** Times the monitor was paused for a large batch. */
  readonly monitorPauses: number
}

export interface KernelRoutesApi {
  /** Applies operations in order. Never fails: every operation gets its own result. */
  readonly apply: (ops: ReadonlyArray<RouteOp>) => Effect.Effect<ReadonlyArray<OpResult>>
  readonly dump: (query: DumpQuery) => Effect.Effect<ReadonlyArray<KernelRoute>, KernelError>
  /** Route, link and address notices from the shared monitor (nothing when monitoring is off). */
  readonly subscribe: Effect.Effect<PubSub.Subscription<Notice>, never, Scope.Scope>
  /** Dry run: `apply` prints what it would do and changes nothing. */
  readonly dryRun: boolean
  readonly monitoring: boolean
  readonly stats: Effect.Effect<KernelStats>
}

export class KernelRoutes extends Context.Service<KernelRoutes, KernelRoutesApi>()("@starling/kernel/KernelRoutes") {
  /** iproute2, with the spawner provided by the caller. */
  static readonly layer = (options: IprouteOptions = {}): Layer.Layer<KernelRoutes, never, ChildProcessSpawner.ChildProcessSpawner> =>
    Layer.effect(KernelRoutes, makeIproute(options))
  /** iproute2 through Node's child_process. */
  static readonly layerNode = (options: IprouteOptions = {}): Layer.Layer<KernelRoutes> =>
    KernelRoutes.layer(options).pipe(Layer.provide(NodeServices.layer))
  /** The in-memory kernel model (tests); pass a `FakeKernel` to inspect and change it. */
  static readonly layerTest = (kernel: FakeKernel = new FakeKernel(), options: { readonly dryRun?: boolean } = {}): Layer.Layer<KernelRoutes> =>
    Layer.effect(KernelRoutes, makeFake(kernel, options))
}

export interface IprouteOptions {
  /** Run every command inside this network namespace (`ip -n NS`). */
  readonly netns?: string
  /** The `ip` binary (default "ip", from PATH). */
  readonly ip?: string
  /** Print the batches instead of running them. */
  readonly dryRun?: boolean
  /** Where dry-run output goes (default: stdout, one `ip -batch` line each). */
  readonly print?: (lines: ReadonlyArray<string>) => void
  /** Lines per `ip -batch` process (default 50 000). */
  readonly batchLines?: number
  /** Watch routes, links and addresses with `ip monitor` (default true). */
  readonly monitor?: boolean
  /**
   * Batches larger than this run with the monitor stopped, followed by a `Resync` notice (default 2000).
   * Echoes of our own changes cost `ip monitor` as much CPU as the changes themselves; one re-scan after
   * a large batch costs much less.
   */
  readonly pauseMonitorAbove?: number
}

const encoder = new TextEncoder()

const makeIproute = (options: IprouteOptions) =>
  Effect.gen(function*() {
    const spawner = yield* ChildProcessSpawner.ChildProcessSpawner
    const ip = options.ip ?? "ip"
    const global = ["-N", ...(options.netns === undefined ? [] : ["-n", options.netns])]
    const batchLines = options.batchLines ?? 50_000
    const dryRun = options.dryRun === true
    const monitoring = options.monitor !== false
    const pauseAbove = options.pauseMonitorAbove ?? 2000
    const print = options.print ?? ((lines: ReadonlyArray<string>) => {
      for (const l of lines) process.stdout.write(`[dry-run] ip ${global.join(" ")} ${l}\n`)
    })
    const stats = { processes: 0, operations: 0, dumps: 0, monitorPauses: 0 }
    const notices = yield* PubSub.unbounded<Notice>()
    const applyLock = yield* Semaphore.make(1)

    const text = (s: Stream.Stream<Uint8Array, unknown>) => Stream.mkString(Stream.decodeText(s))
    const run = (args: ReadonlyArray<string>, input?: string) =>
      Effect.scoped(Effect.gen(function*() {
        const h = yield* spawner.spawn(ChildProcess.make(ip, [...global, ...args], {
          stdin: input === undefined ? "ignore" : Stream.make(encoder.encode(input))
        }))
        const [out, err, code] = yield* Effect.all([text(h.stdout), text(h.stderr), h.exitCode], { concurrency: "unbounded" })
        return { out, err, code: Number(code) }
      }))
    const describe = (args: ReadonlyArray<string>) => `ip ${[...global, ...args].join(" ")}`

    // One `ip monitor` for every subscriber; restarted (with a Resync) if it ever exits.
    const monitorOnce = Effect.scoped(Effect.gen(function*() {
      const h = yield* spawner.spawn(ChildProcess.make(ip, [...global, "-o", "monitor", "label", "route", "link", "address"]))
      yield* Stream.runForEachArray(Stream.splitLines(Stream.decodeText(h.all)), (lines) => {
        const parsed: Notice[] = []
        for (const l of lines) {
          const n = parseMonitorLine(l)
          if (n !== undefined) parsed.push(n)
        }
        return parsed.length === 0 ? Effect.void : PubSub.publishAll(notices, parsed)
      })
    }))
    const monitorLoop = Effect.forever(
      monitorOnce.pipe(
        Effect.ignore,
        Effect.andThen(PubSub.publish(notices, { _tag: "Resync", reason: "ip monitor exited" })),
        Effect.andThen(Effect.sleep("1 second"))
      )
    )
    const monitor = yield* FiberHandle.make<void, never>()
    if (monitoring && !dryRun) yield* FiberHandle.run(monitor, monitorLoop)

    const applyNow = (ops: ReadonlyArray<RouteOp>) =>
      Effect.gen(function*() {
        const results: OpResult[] = new Array(ops.length)
        let i = 0
        while (i < ops.length) {
          const op = ops[i]!
          if (op.op === "flush") {
            const args = flushArgs(op)
            stats.processes++
            stats.operations++
            if (dryRun) {
              print([`# ${describe(args)}`])
              results[i] = { ok: true }
            } else {
              const r = yield* Effect.result(run(args))
              results[i] = r._tag === "Failure"
                ? { ok: false, error: String(r.failure), unknown: true }
                : r.success.code === 0
                ? { ok: true }
                : { ok: false, error: r.success.err.trim() || `exit ${r.success.code}`, unknown: true }
            }
            i++
            continue
          }
          // A run of batchable operations, up to batchLines.
          const idx: number[] = []
          const lines: string[] = []
          while (i < ops.length && ops[i]!.op !== "flush" && lines.length < batchLines) {
            const o = ops[i] as Extract<RouteOp, { op: "add" | "replace" | "delete" }>
            const bad = validateRoute(o.route)
            if (bad !== undefined) results[i] = { ok: false, error: bad }
            else {
              idx.push(i)
              lines.push(commandLine(o))
            }
            i++
          }
          if (lines.length === 0) continue
          stats.processes++
          stats.operations += lines.length
          if (dryRun) {
            print(lines)
            for (const k of idx) results[k] = { ok: true }
            continue
          }
          const r = yield* Effect.result(run(["-force", "-batch", "-"], lines.join("\n") + "\n"))
          if (r._tag === "Failure") {
            for (const k of idx) results[k] = { ok: false, error: `could not run ${ip}: ${String(r.failure)}`, unknown: true }
            continue
          }
          const per = batchResults(lines.length, r.success.code, r.success.err)
          idx.forEach((k, j) => (results[k] = per[j]!))
        }
        return results as ReadonlyArray<OpResult>
      })

    const api: KernelRoutesApi = {
      dryRun,
      monitoring,
      apply: (ops) =>
        Semaphore.withPermit(applyLock, Effect.gen(function*() {
          if (ops.length === 0) return []
          // A flush removes many routes at once: it counts as a large batch.
          let weight = 0
          for (const o of ops) weight += o.op === "flush" ? pauseAbove + 1 : 1
          const pause = monitoring && !dryRun && weight > pauseAbove
          if (!pause) return yield* applyNow(ops)
          stats.monitorPauses++
          yield* FiberHandle.clear(monitor)
          const results = yield* applyNow(ops).pipe(
            Effect.ensuring(Effect.andThen(
              FiberHandle.run(monitor, monitorLoop),
              PubSub.publish(notices, { _tag: "Resync", reason: `monitor paused for a batch of ${ops.length}` })
            ))
          )
          return results
        })),
      dump: (q) => {
        const args = ["-json", q.family === 4 ? "-4" : "-6", "route", "show", "table", String(q.table ?? "all"), ...(q.protocol === undefined ? [] : ["proto", String(q.protocol)])]
        return Effect.gen(function*() {
          stats.dumps++
          let r = yield* run(args).pipe(Effect.mapError((e) => new KernelError({ command: describe(args), detail: String(e) })))
          // The table changed under the dump (NLM_F_DUMP_INTR): what came back may be inconsistent; again.
          for (let i = 0; i < 3 && /Dump was interrupted/.test(r.err); i++) {
            stats.dumps++
            r = yield* run(args).pipe(Effect.mapError((e) => new KernelError({ command: describe(args), detail: String(e) })))
          }
          // A table with no route in it does not exist yet: that is an empty table, not an error.
          if (r.code !== 0 && /FIB table does not exist/.test(r.err)) return []
          if (r.code !== 0) return yield* new KernelError({ command: describe(args), detail: r.err.trim() || `exit ${r.code}` })
          return yield* Effect.try({
            try: () => parseDump(r.out, q.family, { ...(q.protocol === undefined ? {} : { protocol: q.protocol }), ...(typeof q.table === "number" ? { table: q.table } : {}) }),
            catch: (e) => new KernelError({ command: describe(args), detail: `unreadable output: ${String(e)}` })
          })
        })
      },
      subscribe: PubSub.subscribe(notices),
      stats: Effect.sync(() => ({ ...stats }))
    }
    return api
  })

// ---------------------------------------------------------------------------------------------------
// The in-memory kernel

/**
 * A model of the rules the exporter depends on: one route per (table, prefix, metric); `add` refuses an
 * occupied slot (EEXIST) whatever its protocol; `replace` overwrites it; `del` with a protocol only
 * removes a route of that protocol (ESRCH otherwise); gateways listed in `unreachable` are refused unless
 * the next hop is onlink. Every change is announced to subscribers as `ip monitor` would.
 */
export class FakeKernel {
  readonly routes = new Map<string, KernelRoute>()
  /** The command lines of every batch applied, in order (flushes as `# ip ... route flush ...`). */
  readonly batches: string[][] = []
  readonly unreachable = new Set<string>()
  /** When non-empty, next-hop devices must be in this set. */
  readonly devices = new Set<string>()
  /** The next this many dumps fail (as when `ip` cannot run). */
  failDumps = 0
  listener: ((n: ReadonlyArray<Notice>) => void) | undefined = undefined

  private announce(deleted: boolean, route: KernelRoute): void {
    this.listener?.([{ _tag: "Route", deleted, route, line: "" }])
  }

  /** Applies one operation with the kernel's rules. */
  run(op: RouteOp): OpResult {
    if (op.op === "flush") {
      for (const [k, r] of this.routes) {
        if (r.family === op.family && r.table === op.table && r.protocol === op.protocol) {
          this.routes.delete(k)
          this.announce(true, r)
        }
      }
      return { ok: true }
    }
    const r = op.route
    const k = routeKey(r)
    const old = this.routes.get(k)
    if (op.op === "delete") {
      if (old === undefined || old.protocol !== r.protocol) return { ok: false, error: "RTNETLINK answers: No such process" }
      this.routes.delete(k)
      this.announce(true, old)
      return { ok: true }
    }
    for (const nh of r.nexthops) {
      if (nh.dev !== undefined && this.devices.size > 0 && !this.devices.has(nh.dev)) return { ok: false, error: `Cannot find device "${nh.dev}"` }
      if (nh.via !== undefined && nh.onlink !== true && this.unreachable.has(nh.via)) return { ok: false, error: "Error: Nexthop has invalid gateway." }
    }
    if (op.op === "add" && old !== undefined) return { ok: false, error: "RTNETLINK answers: File exists" }
    if (old !== undefined && satisfies(old, r) && old.nexthops.length === r.nexthops.length) return { ok: true }
    this.routes.set(k, r)
    this.announce(false, r)
    return { ok: true }
  }

  /** Routes as a dump would show them. */
  dump(q: DumpQuery): KernelRoute[] {
    return [...this.routes.values()].filter((r) =>
      r.family === q.family && (q.table === undefined || q.table === "all" || r.table === q.table) && (q.protocol === undefined || r.protocol === q.protocol)
    )
  }

  /** Routes of one protocol as sorted text, for assertions. */
  show(protocol?: number): string[] {
    return [...this.routes.values()].filter((r) => protocol === undefined || r.protocol === protocol).map((r) => routeKeyText(r)).sort()
  }
}

const routeKeyText = (r: KernelRoute): string =>
  `${r.type === 1 ? "" : r.type === 6 ? "blackhole " : `type${r.type} `}${r.prefix} table ${r.table} proto ${r.protocol} metric ${r.metric}${
    r.nexthops.map((n) => ` nh ${n.via ?? ""}${n.dev === undefined ? "" : `%${n.dev}`}${n.onlink === true ? " onlink" : ""}${n.weight === undefined ? "" : ` w${n.weight}`}`).join("")
  }`

const makeFake = (kernel: FakeKernel, options: { readonly dryRun?: boolean }) =>
  Effect.gen(function*() {
    const notices = yield* PubSub.unbounded<Notice>()
    const stats = { processes: 0, operations: 0, dumps: 0, monitorPauses: 0 }
    kernel.listener = (ns) => {
      for (const n of ns) PubSub.publishUnsafe(notices, n)
    }
    const dryRun = options.dryRun === true
    const api: KernelRoutesApi = {
      dryRun,
      monitoring: true,
      apply: (ops) =>
        Effect.sync(() => {
          const lines: string[] = []
          const results = ops.map((op): OpResult => {
            if (op.op === "flush") {
              lines.push(`# ip ${flushArgs(op).join(" ")}`)
              return dryRun ? { ok: true } : kernel.run(op)
            }
            const bad = validateRoute(op.route)
            if (bad !== undefined) return { ok: false, error: bad }
            lines.push(commandLine(op))
            return dryRun ? { ok: true } : kernel.run(op)
          })
          if (lines.length > 0) kernel.batches.push(lines)
          stats.processes++
          stats.operations += ops.length
          return results
        }),
      dump: (q) =>
        Effect.suspend(() => {
          stats.dumps++
          if (kernel.failDumps > 0) {
            kernel.failDumps--
            return Effect.fail(new KernelError({ command: "dump", detail: "failing as asked" }))
          }
          return Effect.succeed(kernel.dump(q))
        }),
      subscribe: PubSub.subscribe(notices),
      stats: Effect.sync(() => ({ ...stats }))
    }
    return api
  })
