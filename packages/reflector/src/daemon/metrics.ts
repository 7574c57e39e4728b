/**
 * Prometheus metrics in the text exposition format (version 0.0.4), built on each scrape from the
 * speaker's neighbor table and the process: no metrics library, no per-UPDATE cost (the speaker already
 * counts what it needs).
 */
import type { IntervalHistogram } from "node:perf_hooks"
import { monitorEventLoopDelay } from "node:perf_hooks"
import type { NeighborStatus } from "@starling/speaker"

const STATES = ["Idle", "Connect", "Active", "OpenSent", "OpenConfirm", "Established"] as const

const escape = (v: string): string => v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"')
const labels = (l: Record<string, string>): string => {
  const e = Object.entries(l)
  return e.length === 0 ? "" : `{${e.map(([k, v]) => `${k}="${escape(v)}"`).join(",")}}`
}

class Exposition {
  private readonly lines: string[] = []
  metric(name: string, type: "gauge" | "counter", help: string, samples: ReadonlyArray<readonly [Record<string, string>, number]>): void {
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`)
    for (const [l, v] of samples) this.lines.push(`${name}${labels(l)} ${Number.isFinite(v) ? v : 0}`)
  }
  text(): string {
    return `${this.lines.join("\n")}\n`
  }
}

export interface DaemonCounters {
  reloadsOk: number
  reloadsFailed: number
  lastReloadOk: boolean
  lastReloadAt: number | undefined
}

/** Event-loop delay, sampled continuously; percentiles since the previous scrape. */
export class LoopLag {
  private readonly h: IntervalHistogram = monitorEventLoopDelay({ resolution: 10 })
  constructor() {
    this.h.enable()
  }
  /** Seconds: p50, p99, max (then the histogram starts over). */
  take(): { p50: number; p99: number; max: number; mean: number } {
    const ns = 1e9
    const r = { p50: this.h.percentile(50) / ns, p99: this.h.percentile(99) / ns, max: this.h.max / ns, mean: (Number.isNaN(this.h.mean) ? 0 : this.h.mean) / ns }
    this.h.reset()
    return r
  }
  close(): void {
    this.h.disable()
  }
}

export const renderMetrics = (input: {
  readonly neighbors: ReadonlyArray<NeighborStatus>
  readonly locRib: number
  readonly counters: DaemonCounters
  readonly lag: LoopLag
}): string => {
  const x = new Exposition()
  const nbs = input.neighbors
  x.metric(
    "starling_bgp_sessions",
    "gauge",
    "BGP sessions by FSM state.",
    STATES.map((s) => [{ state: s }, nbs.filter((n) => n.state === s).length] as const)
  )
  const peer = (n: NeighborStatus) => ({ peer: n.address, name: n.name, peer_as: String(n.peerAs) })
  x.metric("starling_bgp_session_up", "gauge", "1 when the session with the neighbor is Established.", nbs.map((n) => [peer(n), n.state === "Established" ? 1 : 0] as const))
  x.metric(
    "starling_bgp_session_uptime_seconds",
    "gauge",
    "Seconds since the session was established (0 when down).",
    nbs.map((n) => [peer(n), n.establishedAt === undefined ? 0 : (Date.now() - n.establishedAt) / 1000] as const)
  )
  x.metric("starling_bgp_prefixes_received", "gauge", "Routes accepted from the neighbor (post-policy Adj-RIB-In).", nbs.map((n) => [peer(n), n.routesReceived] as const))
  x.metric("starling_bgp_prefixes_advertised", "gauge", "Routes in the Adj-RIB-Out toward the neighbor.", nbs.map((n) => [peer(n), n.routesAdvertised] as const))
  x.metric("starling_bgp_updates_received_total", "counter", "UPDATE messages received from the neighbor.", nbs.map((n) => [peer(n), n.updatesReceived] as const))
  x.metric("starling_bgp_updates_sent_total", "counter", "UPDATE messages sent to the neighbor (End-of-RIB included).", nbs.map((n) => [peer(n), n.updatesSent] as const))
  x.metric("starling_bgp_dynamic_neighbors", "gauge", "Neighbors accepted through a dynamic-neighbor range.", [[{}, nbs.filter((n) => n.dynamicRange !== undefined).length]])
  x.metric("starling_loc_rib_routes", "gauge", "Destinations in the Loc-RIB.", [[{}, input.locRib]])
  const c = input.counters
  x.metric("starling_config_reloads_total", "counter", "Config reloads by result.", [[{ result: "success" }, c.reloadsOk], [{ result: "failure" }, c.reloadsFailed]])
  x.metric("starling_config_last_reload_successful", "gauge", "1 when the last reload succeeded (or none was tried).", [[{}, c.lastReloadOk ? 1 : 0]])
  const mem = process.memoryUsage()
  x.metric("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", [[{}, mem.rss]])
  x.metric("nodejs_heap_used_bytes", "gauge", "V8 heap used in bytes.", [[{}, mem.heapUsed]])
  x.metric("nodejs_heap_total_bytes", "gauge", "V8 heap size in bytes.", [[{}, mem.heapTotal]])
  x.metric("nodejs_external_memory_bytes", "gauge", "Memory of C++ objects bound to JavaScript (buffers) in bytes.", [[{}, mem.external]])
  const lag = input.lag.take()
  x.metric("nodejs_eventloop_lag_seconds", "gauge", "Event-loop delay since the previous scrape (monitorEventLoopDelay).", [
    [{ quantile: "0.5" }, lag.p50],
    [{ quantile: "0.99" }, lag.p99],
    [{ quantile: "1" }, lag.max]
  ])
  x.metric("nodejs_eventloop_lag_mean_seconds", "gauge", "Mean event-loop delay since the previous scrape.", [[{}, lag.mean]])
  x.metric("process_uptime_seconds", "gauge", "Seconds since the process started.", [[{}, process.uptime()]])
  return x.text()
}
