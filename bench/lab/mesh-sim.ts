/**
 * S3 in deterministic simulation: the same cluster plans as over TCP, all speakers in this process on
 * the in-memory network (`makeMemoryNetwork`) under a TestClock, so hundreds of speakers fit on one machine
 * and time is virtual. What it measures: sessions, UPDATEs and octets (exact and reproducible), virtual
 * convergence time (only timers take virtual time: connect retry, idle hold; processing is instant), the
 * real CPU the simulation spent (all speakers' work together, one core) and the heap it holds.
 */
import { performance } from "node:perf_hooks"
import { Effect, Logger } from "effect"
import { TestClock } from "effect/testing"
import { makeMemoryNetwork } from "@starling/session"
import {
  type ClusterSpec,
  countingTransport,
  enableAll,
  expectedRoutes,
  planCluster,
  sessionCount,
  setEnabled,
  speakerStats,
  startSpeakers,
  type Topology,
  type Tracked,
  type Wire
} from "./cluster.ts"

export interface SimResult {
  readonly topology: Topology
  readonly nodes: number
  readonly perNode: number
  readonly speakers: number
  readonly valid: boolean
  readonly invalid?: string
  readonly sessions: number
  readonly established: number
  /** Virtual seconds from enabling every neighbor to every speaker holding the whole table. */
  readonly coldStartVirtualSeconds: number
  /** Real CPU seconds (user + system, this process) for the cold start. */
  readonly coldStartCpuSeconds: number
  readonly coldStartWallSeconds: number
  readonly flapWithdrawVirtualSeconds: number
  readonly flapRestoreVirtualSeconds: number
  readonly flapCpuSeconds: number
  readonly updatesSent: number
  readonly bytesSent: number
  /** Flap only: UPDATEs and octets caused by the flap. */
  readonly flapUpdates: number
  readonly flapBytes: number
  /** Heap growth from before the speakers started to after convergence, bytes. */
  readonly heapBytes: number
  readonly stepMs: number
}

const cpuNow = () => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1e6
}

const gc = (): void => {
  const g = (globalThis as { gc?: () => void }).gc
  g?.()
}

/** Advances virtual time in steps until `done`, or `maxMs`; returns the virtual ms taken. */
const advanceUntil = (done: () => boolean, stepMs: number, maxMs: number): Effect.Effect<number> =>
  Effect.gen(function*() {
    let t = 0
    // Let the fibers run what is runnable before any time passes.
    for (let k = 0; k < 20 && !done(); k++) yield* Effect.yieldNow
    while (!done() && t < maxMs) {
      yield* TestClock.adjust(`${stepMs} millis`)
      t += stepMs
      for (let k = 0; k < 20 && !done(); k++) yield* Effect.yieldNow
    }
    return t
  })

export const runMeshSim = (topology: Topology, nodes: number, perNode: number, opts: { stepMs: number; maxVirtualMs: number }): Promise<SimResult> => {
  const spec: ClusterSpec = {
    topology,
    nodes,
    perNode,
    nodeAddress: (i) => `10.${64 + Math.floor(i / 65536)}.${Math.floor(i / 256) % 256}.${i % 256}`,
    rrAddress: (r) => `10.63.0.${r + 1}`,
    port: 179
  }
  const program = Effect.gen(function*() {
    const net = yield* makeMemoryNetwork
    const wire: Wire = { bytesOut: 0, writes: 0 }
    const plans = planCluster(spec)
    gc()
    const heap0 = process.memoryUsage().heapUsed
    const ts: Tracked[] = yield* startSpeakers(plans, countingTransport(net, wire))
    const target = expectedRoutes(spec)
    const cpu0 = cpuNow()
    const wall0 = performance.now()
    yield* enableAll(ts)
    const cold = yield* advanceUntil(() => ts.every((t) => t.count === target), opts.stepMs, opts.maxVirtualMs)
    const coldCpu = cpuNow() - cpu0
    const coldWall = (performance.now() - wall0) / 1000
    const converged = ts.every((t) => t.count === target)
    const stats = yield* Effect.forEach(ts, speakerStats)
    const updates0 = stats.reduce((x, s) => x + s.updatesSent, 0)
    const bytes0 = wire.bytesOut
    gc()
    const heap1 = process.memoryUsage().heapUsed
    // One node flaps: its sessions go down (everyone withdraws its blocks), then come back.
    const flapper = ts.find((t) => t.plan.id === "node0")!
    const others = ts.filter((t) => t !== flapper)
    const cpu1 = cpuNow()
    yield* setEnabled(flapper, false)
    const down = yield* advanceUntil(() => others.every((t) => t.count === target - perNode), opts.stepMs, opts.maxVirtualMs)
    const withdrawn = others.every((t) => t.count === target - perNode)
    yield* setEnabled(flapper, true)
    const up = yield* advanceUntil(() => ts.every((t) => t.count === target), opts.stepMs, opts.maxVirtualMs)
    const restored = ts.every((t) => t.count === target)
    const flapCpu = cpuNow() - cpu1
    const after = yield* Effect.forEach(ts, speakerStats)
    const invalid = !converged
      ? `cold start: ${ts.filter((t) => t.count !== target).length} speakers short of ${target} routes after ${opts.maxVirtualMs} virtual ms`
      : !withdrawn
      ? "flap: withdrawal did not reach everyone"
      : !restored
      ? "flap: routes did not come back everywhere"
      : undefined
    const result: SimResult = {
      topology,
      nodes,
      perNode,
      speakers: ts.length,
      valid: invalid === undefined,
      ...(invalid === undefined ? {} : { invalid }),
      sessions: sessionCount(topology, nodes),
      established: stats.reduce((x, s) => x + s.established, 0) / 2,
      coldStartVirtualSeconds: cold / 1000,
      coldStartCpuSeconds: coldCpu,
      coldStartWallSeconds: coldWall,
      flapWithdrawVirtualSeconds: down / 1000,
      flapRestoreVirtualSeconds: up / 1000,
      flapCpuSeconds: flapCpu,
      updatesSent: updates0,
      bytesSent: bytes0,
      flapUpdates: after.reduce((x, s) => x + s.updatesSent, 0) - updates0,
      flapBytes: wire.bytesOut - bytes0,
      heapBytes: heap1 - heap0,
      stepMs: opts.stepMs
    }
    return result
  })
  return Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(TestClock.layer()), Effect.provide(Logger.layer([]))))
}
