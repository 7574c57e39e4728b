/**
 * One benchmark run against one freshly started reflector: S1 (fan-out of a pre-encoded table from one
 * source to N counting sinks), S2 (N Calico nodes that each announce k blocks and receive everyone
 * else's), optionally followed on the same converged reflector by S5 (churn, a client reset, canary
 * latency under background churn) and S6 (idle footprint).
 *
 * Timing: all harness marks are performance.now() in this process (generator and sinks share the clock).
 * Convergence is first byte handed to the generator's socket → the moment the slowest sink holds exactly
 * the expected prefixes; it is valid only if, after a quiet window, every sink holds exactly the expected
 * set (no missing, no foreign prefixes, no withdrawals). CPU and memory are the reflector's whole process
 * tree from /proc (schedstat ns per thread; VmHWM summed), sampled at convergence and after the window.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { performance } from "node:perf_hooks"
import { type DutName, duts, type RunningDut } from "./duts.ts"
import { connectAll, HarnessPeer } from "./peer.ts"
import { cpuStat, interference, type Interference, selfCpu, treeUsage, type TreeUsage } from "./proc.ts"
import type { ProfileSummary } from "./profile.ts"
import { quantile } from "./stats.ts"
import { calicoNodeUpdate, calicoSpace, type EncodedTable, encodeSubset, encodeWithdrawSubset } from "./tables.ts"
import { formatIpv4, parseIpv4, PrefixSpace } from "./wire.ts"

export const AS = 65000
/**
 * The loopback /16 the S1/S2/S5/S6 labs use: 127.81.0.0/16, or 127.<STARLING_BENCH_NET>.0.0/16 so a CI smoke run
 * and a benchmark on the same machine never share addresses.
 */
export const BENCH_NET = Number(process.env["STARLING_BENCH_NET"] ?? 81)
export const DUT_ADDRESS = `127.${BENCH_NET}.0.1`
export const DUT_PORT = 1790
export const GENERATOR_ADDRESS = `127.${BENCH_NET}.0.10`
export const HOLD_TIME = 90
/** Client n (0-based) of a run: 250 per /24 from 127.<net>.1.0. */
export const clientAddress = (n: number): string => `127.${BENCH_NET}.${1 + Math.floor(n / 250)}.${1 + (n % 250)}`

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export interface RunOptions {
  readonly block: number
  /** Reflector core and harness core. */
  readonly dutCpu: number
  /** Give up on convergence after this long (the run is then invalid). */
  readonly timeoutMs: number
  /** Quiet window after convergence before the counts are checked. */
  readonly quietMs: number
  /** Send a KEEPALIVE from the generator every this many ms while waiting (0: never). See README. */
  readonly pokeMs: number
  readonly cpuProfileDir?: string
  readonly heapMb?: number
  readonly churn?: ChurnOptions
  /** S6: seconds of idle measurement after convergence (0: none). */
  readonly idleSeconds: number
  readonly keepDir?: boolean
  /** S2: node n starts connecting n × this many ms after the first (0: all at once, a reconnect storm). */
  readonly s2StaggerMs?: number
}

export interface ChurnOptions {
  /** Share of routes withdrawn and re-announced. */
  readonly share: number
  /** Background churn while canaries are measured: routes flapped per second. */
  readonly backgroundPerSecond: number
  readonly canaries: number
  readonly canaryIntervalMs: number
  readonly latencySeconds: number
}

export interface Phase {
  readonly seconds: number
  readonly dutCpu: number
  readonly valid: boolean
  readonly detail?: string
}

export interface ChurnResult {
  readonly withdraw: Phase
  readonly reannounce: Phase
  readonly clientReset: Phase
  readonly latency: {
    readonly events: number
    readonly samples: number
    readonly missed: number
    readonly p50Ms: number
    readonly p99Ms: number
    readonly maxMs: number
    readonly backgroundRoutesPerSecond: number
    readonly dutCpu: number
    readonly harnessLagMs: number
  }
}

export interface IdleResult {
  readonly seconds: number
  readonly dutCpu: number
  /** CPU share of one core. */
  readonly cpuShare: number
  readonly rss: number
  readonly peakRss: number
}

export interface RunResult {
  readonly scenario: "s1" | "s2"
  readonly dut: DutName
  readonly block: number
  readonly cell: Record<string, string | number>
  readonly valid: boolean
  readonly invalid?: string
  /** From the first connect to all sessions Established. */
  readonly establishSeconds: number
  /** S1: first byte sent → last expected prefix at the slowest sink. S2: first connect → same. */
  readonly convergeSeconds: number
  /** S1: first byte → the generator's last byte handed to the kernel. */
  readonly sendSeconds: number
  /** S2: sessions that failed or closed and were tried again (1 s connect retry). */
  readonly sessionFailures?: number
  readonly dutCpu: number
  readonly dutCpuTicks: number
  /** CPU until the end of the quiet window (anything left after the last prefix is counted here). */
  readonly dutCpuTotal: number
  readonly dutPeakRss: number
  readonly dutRss: number
  readonly dutProcesses: number
  /** Cores the reflector's processes may run on (taskset's effect). */
  readonly dutAffinity: string
  readonly harnessCpu: number
  readonly interference: Interference
  readonly updatesReceived: number
  readonly bytesReceived: number
  readonly expectedPerSink: number
  readonly minPresent: number
  readonly maxPresent: number
  readonly duplicates: number
  readonly foreign: number
  readonly withdrawals: number
  readonly endOfRib: number
  /** Starling: memory after a full GC once converged (live data, against the peak RSS above). */
  readonly dutLive?: { readonly rss: number; readonly heapUsed: number; readonly external: number; readonly arrayBuffers: number }
  readonly churn?: ChurnResult
  readonly idle?: IdleResult
  /** Starling with --profile: summary of the V8 CPU profile of the whole DUT process life. */
  readonly profile?: ProfileSummary
  readonly startedAt: string
}

interface Snapshot {
  readonly t: number
  readonly usage: TreeUsage
  readonly stat: ReturnType<typeof cpuStat>
  readonly self: number
}

const snapshot = (dut: RunningDut): Snapshot => ({ t: performance.now(), usage: treeUsage(dut.pid, dut.tree()), stat: cpuStat(), self: selfCpu() })

/** Waits for every peer's `whenComplete`, or the timeout; resolves with the time the last completed. */
const allComplete = async (peers: ReadonlyArray<HarnessPeer>, timeoutMs: number, onLast?: () => void): Promise<boolean> => {
  let remaining = peers.length
  let done = false
  return await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => {
      done = true
      resolve(false)
    }, timeoutMs)
    if (remaining === 0) {
      clearTimeout(timer)
      resolve(true)
    }
    for (const p of peers) {
      void p.whenComplete().then(() => {
        if (done) return
        remaining--
        if (remaining === 0) {
          done = true
          clearTimeout(timer)
          onLast?.()
          resolve(true)
        }
      })
    }
  })
}

const checkSinks = (sinks: ReadonlyArray<HarnessPeer>, expected: number): string | undefined => {
  for (const s of sinks) {
    const c = s.counter!
    if (s.error !== undefined && s.establishedAt === 0) return `${s.options.name}: ${s.error}`
    if (s.closed) return `${s.options.name}: session closed (${s.error ?? "?"})`
    if (c.present !== expected) return `${s.options.name} holds ${c.present} of ${expected} prefixes`
    if (c.foreign > 0) return `${s.options.name} received ${c.foreign} unexpected prefixes`
  }
  return undefined
}

const sum = (xs: ReadonlyArray<HarnessPeer>, f: (p: HarnessPeer) => number) => xs.reduce((n, p) => n + f(p), 0)

interface Lab {
  readonly dir: string
  readonly dut: RunningDut
}

const startDut = async (name: DutName, clients: ReadonlyArray<string>, o: RunOptions): Promise<Lab> => {
  const base = join(tmpdir(), "starling-bench")
  mkdirSync(base, { recursive: true })
  const dir = mkdtempSync(join(base, `${name}-`))
  const dut = await duts[name].start({
    dir,
    address: DUT_ADDRESS,
    port: DUT_PORT,
    as: AS,
    routerId: "10.255.0.1",
    clusterId: "10.255.0.1",
    clients,
    holdTime: HOLD_TIME,
    cpu: o.dutCpu,
    ...(o.cpuProfileDir === undefined ? {} : { cpuProfileDir: o.cpuProfileDir }),
    ...(o.heapMb === undefined ? {} : { heapMb: o.heapMb })
  })
  return { dir, dut }
}

const stopLab = async (lab: Lab, peers: ReadonlyArray<HarnessPeer>, keep: boolean) => {
  for (const p of peers) p.close()
  await lab.dut.stop()
  if (!keep) rmSync(lab.dir, { recursive: true, force: true })
}

const sinkPeer = (n: number, space: PrefixSpace, expect: number, own?: { from: number; count: number }): HarnessPeer =>
  new HarnessPeer({
    ...(own === undefined ? {} : { own }),
    name: `client${n + 1}`,
    localAddress: clientAddress(n),
    remote: { address: DUT_ADDRESS, port: DUT_PORT },
    as: AS,
    bgpId: parseIpv4(clientAddress(n)),
    holdTime: HOLD_TIME,
    space,
    expect
  })

const idlePhase = async (dut: RunningDut, seconds: number): Promise<IdleResult> => {
  const a = snapshot(dut)
  await sleep(seconds * 1000)
  const b = snapshot(dut)
  const wall = (b.t - a.t) / 1000
  return { seconds: wall, dutCpu: b.usage.cpu - a.usage.cpu, cpuShare: (b.usage.cpu - a.usage.cpu) / wall, rss: b.usage.rss, peakRss: b.usage.peakRss }
}

// -------------------------------------------------------------------------------------------------
// S1

export const runS1 = async (name: DutName, table: EncodedTable, clients: number, o: RunOptions): Promise<RunResult> => {
  const sinkAddrs = Array.from({ length: clients }, (_, n) => clientAddress(n))
  const lab = await startDut(name, [GENERATOR_ADDRESS, ...sinkAddrs], o)
  const generator = new HarnessPeer({
    name: "generator",
    localAddress: GENERATOR_ADDRESS,
    remote: { address: DUT_ADDRESS, port: DUT_PORT },
    as: AS,
    bgpId: parseIpv4(GENERATOR_ADDRESS),
    holdTime: HOLD_TIME
  })
  const sinks = sinkAddrs.map((_, n) => sinkPeer(n, table.space, table.routes))
  const startedAt = new Date().toISOString()
  try {
    const e0 = performance.now()
    await connectAll(sinks, 64, 60_000)
    await generator.connect(60_000)
    const establishSeconds = (performance.now() - e0) / 1000
    // Let the reflector send its End-of-RIBs and go quiet before the clock starts.
    await sleep(300)
    const a = snapshot(lab.dut)
    let atLast: Snapshot | undefined
    let sentAt = 0
    const poke = o.pokeMs > 0 ? setInterval(() => generator.poke(), o.pokeMs) : undefined
    const sent = generator.write(table.bytes).then(() => (sentAt = performance.now()))
    const ok = await allComplete(sinks, o.timeoutMs, () => (atLast = snapshot(lab.dut)))
    if (poke !== undefined) clearInterval(poke)
    await sent
    const convergeAt = ok ? Math.max(...sinks.map((s) => s.completeAt)) : performance.now()
    await sleep(o.quietMs)
    const b = snapshot(lab.dut)
    const last = atLast ?? b
    const invalid = ok ? checkSinks(sinks, table.routes) : `timeout after ${o.timeoutMs} ms: ${checkSinks(sinks, table.routes) ?? "?"}`
    const withdrawals = sum(sinks, (s) => s.counter!.withdrawals)
    // The counts as converged (the churn phase below changes them).
    const counts = {
      updatesReceived: sum(sinks, (s) => s.counter!.updates),
      bytesReceived: sum(sinks, (s) => s.bytesIn),
      minPresent: Math.min(...sinks.map((s) => s.counter!.present)),
      maxPresent: Math.max(...sinks.map((s) => s.counter!.present)),
      duplicates: sum(sinks, (s) => s.counter!.duplicates),
      foreign: sum(sinks, (s) => s.counter!.foreign),
      endOfRib: sum(sinks, (s) => s.counter!.endOfRib)
    }
    const live = await lab.dut.liveMemory()
    let churn: ChurnResult | undefined
    let idle: IdleResult | undefined
    if (invalid === undefined && o.churn !== undefined) churn = await churnPhases(lab, generator, sinks, table, o)
    if (invalid === undefined && o.idleSeconds > 0) idle = await idlePhase(lab.dut, o.idleSeconds)
    const own = b.usage.cpu - a.usage.cpu + (b.self - a.self)
    return {
      scenario: "s1",
      dut: name,
      block: o.block,
      cell: { routes: table.routes, clients, mix: table.mix },
      valid: invalid === undefined && withdrawals === 0,
      ...(invalid !== undefined ? { invalid } : withdrawals > 0 ? { invalid: `${withdrawals} withdrawals seen` } : {}),
      establishSeconds,
      convergeSeconds: (convergeAt - a.t) / 1000,
      sendSeconds: (sentAt - a.t) / 1000,
      dutCpu: last.usage.cpu - a.usage.cpu,
      dutCpuTicks: last.usage.cpuTicks - a.usage.cpuTicks,
      dutCpuTotal: b.usage.cpu - a.usage.cpu,
      dutPeakRss: b.usage.peakRss,
      dutRss: b.usage.rss,
      dutProcesses: b.usage.pids.length,
      dutAffinity: lab.dut.affinity(),
      harnessCpu: b.self - a.self,
      interference: interference(a.stat, b.stat, (b.t - a.t) / 1000, own),
      ...counts,
      expectedPerSink: table.routes,
      withdrawals,
      ...(live === undefined ? {} : { dutLive: live }),
      ...(churn === undefined ? {} : { churn }),
      ...(idle === undefined ? {} : { idle }),
      startedAt
    }
  } finally {
    // (The churn phase may have replaced a sink: close the current ones.)
    await stopLab(lab, [generator, ...sinks], o.keepDir === true)
  }
}

// -------------------------------------------------------------------------------------------------
// S5: churn on a converged S1 reflector

const phase = async (
  lab: Lab,
  sinks: ReadonlyArray<HarnessPeer>,
  expected: number,
  send: () => Promise<unknown>,
  o: RunOptions
): Promise<Phase> => {
  for (const s of sinks) s.expectPresent(expected)
  const a = snapshot(lab.dut)
  let last: Snapshot | undefined
  void send()
  const ok = await allComplete(sinks, o.timeoutMs, () => (last = snapshot(lab.dut)))
  const at = ok ? Math.max(...sinks.map((s) => s.completeAt)) : performance.now()
  const b = last ?? snapshot(lab.dut)
  const detail = ok ? undefined : `timeout: ${checkSinks(sinks, expected) ?? "?"}`
  return { seconds: (at - a.t) / 1000, dutCpu: b.usage.cpu - a.usage.cpu, valid: ok, ...(detail === undefined ? {} : { detail }) }
}

const churnPhases = async (lab: Lab, generator: HarnessPeer, sinks: HarnessPeer[], table: EncodedTable, o: RunOptions): Promise<ChurnResult> => {
  const c = o.churn!
  const routes = table.routes
  // (a) withdraw an evenly spread share, then announce it again with the same attributes.
  const step = Math.max(1, Math.round(1 / c.share))
  const picked: number[] = []
  for (let n = 0; n < routes; n += step) picked.push(n)
  const wd = encodeWithdrawSubset(table, picked)
  const re = encodeSubset(table, picked)
  const poke = o.pokeMs > 0 ? setInterval(() => generator.poke(), o.pokeMs) : undefined
  const withdraw = await phase(lab, sinks, routes - picked.length, () => generator.write(wd.bytes), o)
  const reannounce = await phase(lab, sinks, routes, () => generator.write(re.bytes), o)
  // (b) one client's session is reset: it reconnects and must get the whole table again.
  const old = sinks[0]!
  old.close()
  await sleep(200)
  const a = snapshot(lab.dut)
  let clientReset: Phase
  const deadline = performance.now() + o.timeoutMs
  let fresh: HarnessPeer | undefined
  while (fresh === undefined && performance.now() < deadline) {
    const p = sinkPeer(0, table.space, routes)
    try {
      await p.connect(10_000)
      fresh = p
    } catch {
      // The reflector may still be tearing the old session down: try again.
      p.close()
      await sleep(250)
    }
  }
  if (fresh !== undefined) {
    const ok = await allComplete([fresh], o.timeoutMs)
    const b = snapshot(lab.dut)
    clientReset = { seconds: ((ok ? fresh.completeAt : performance.now()) - a.t) / 1000, dutCpu: b.usage.cpu - a.usage.cpu, valid: ok }
    sinks[0] = fresh
  } else clientReset = { seconds: (performance.now() - a.t) / 1000, dutCpu: 0, valid: false, detail: "could not reconnect" }
  const latency = await canaries(lab, generator, sinks, table, c)
  if (poke !== undefined) clearInterval(poke)
  return { withdraw, reannounce, clientReset, latency }
}

/**
 * Canary latency under load: the last `canaries` routes of the table are flipped (withdrawn, announced
 * again) one every `canaryIntervalMs`, while the rest of the table churns in the background (a rolling
 * window withdrawn and re-announced at `backgroundPerSecond`). Every sink records when each canary change
 * reaches it; latency = arrival − the moment the generator handed it to its socket.
 */
const canaries = async (lab: Lab, generator: HarnessPeer, sinks: ReadonlyArray<HarnessPeer>, table: EncodedTable, c: ChurnOptions): Promise<ChurnResult["latency"]> => {
  const routes = table.routes
  const first = routes - c.canaries
  const state = new Uint8Array(c.canaries).fill(1) // 1: announced
  const pending: Array<{ at: number; announced: boolean; seen: Uint8Array } | undefined> = new Array(c.canaries)
  const samples: number[] = []
  let missed = 0
  sinks.forEach((s, si) => {
    s.counter!.onPrefix = (i, announced) => {
      if (i < first) return
      const p = pending[i - first]
      if (p === undefined || p.announced !== announced || p.seen[si] === 1) return
      p.seen[si] = 1
      samples.push(performance.now() - p.at)
    }
  })
  // Pre-encode everything the loop sends: per canary its withdrawal and announcement; background windows.
  const canaryMsgs = Array.from({ length: c.canaries }, (_, k) => ({
    withdraw: encodeWithdrawSubset(table, [first + k]).bytes,
    announce: encodeSubset(table, [first + k]).bytes
  }))
  const tickMs = 10
  const perTick = Math.max(0, Math.round((c.backgroundPerSecond * tickMs) / 1000))
  const windows: Array<{ withdraw: Uint8Array; announce: Uint8Array }> = []
  if (perTick > 0) {
    for (let start = 0; start + perTick <= first && windows.length < 200; start += perTick) {
      const idx = Array.from({ length: perTick }, (_, k) => start + k)
      windows.push({ withdraw: encodeWithdrawSubset(table, idx).bytes, announce: encodeSubset(table, idx).bytes })
    }
  }
  const a = snapshot(lab.dut)
  let events = 0
  let background = 0
  let lag = 0
  let tick = 0
  let nextCanary = performance.now()
  let canaryIndex = 0
  const end = performance.now() + c.latencySeconds * 1000
  let expectedAt = performance.now()
  while (performance.now() < end) {
    const now = performance.now()
    lag = Math.max(lag, now - expectedAt)
    if (windows.length > 0) {
      // Background: withdraw this window, re-announce the previous one (each route is down one tick).
      const w = windows[tick % windows.length]!
      const prev = windows[(tick + windows.length - 1) % windows.length]!
      void generator.write(w.withdraw)
      if (tick > 0) void generator.write(prev.announce)
      background += perTick * (tick > 0 ? 2 : 1)
    }
    while (nextCanary <= now) {
      const k = canaryIndex++ % c.canaries
      const p = pending[k]
      if (p !== undefined) missed += sinks.length - p.seen.reduce((x, y) => x + y, 0)
      const announce = state[k] === 0
      state[k] = announce ? 1 : 0
      pending[k] = { at: performance.now(), announced: announce, seen: new Uint8Array(sinks.length) }
      void generator.write(announce ? canaryMsgs[k]!.announce : canaryMsgs[k]!.withdraw)
      events++
      nextCanary += c.canaryIntervalMs
    }
    tick++
    expectedAt += tickMs
    await sleep(Math.max(0, expectedAt - performance.now()))
  }
  // Let the last changes arrive, count what never did, then put the last background window and every
  // withdrawn canary back so the sinks end with the whole table again.
  await sleep(1000)
  for (const p of pending) if (p !== undefined) missed += sinks.length - p.seen.reduce((x, y) => x + y, 0)
  pending.fill(undefined)
  if (windows.length > 0) void generator.write(windows[(tick + windows.length - 1) % windows.length]!.announce)
  for (let k = 0; k < c.canaries; k++) {
    if (state[k] === 0) {
      state[k] = 1
      void generator.write(canaryMsgs[k]!.announce)
    }
  }
  await sleep(500)
  const b = snapshot(lab.dut)
  for (const s of sinks) s.counter!.onPrefix = undefined
  return {
    events,
    samples: samples.length,
    missed,
    p50Ms: quantile(samples, 0.5),
    p99Ms: quantile(samples, 0.99),
    maxMs: samples.length === 0 ? NaN : Math.max(...samples),
    backgroundRoutesPerSecond: background / c.latencySeconds,
    dutCpu: b.usage.cpu - a.usage.cpu,
    harnessLagMs: lag
  }
}

// -------------------------------------------------------------------------------------------------
// S2: Calico-shaped

export const runS2 = async (name: DutName, nodes: number, perNode: number, o: RunOptions): Promise<RunResult> => {
  const addrs = Array.from({ length: nodes }, (_, n) => clientAddress(n))
  const lab = await startDut(name, addrs, o)
  const space = calicoSpace(nodes, perNode)
  const expected = (nodes - 1) * perNode
  const updates = addrs.map((_, n) => calicoNodeUpdate(space, n, perNode))
  const startedAt = new Date().toISOString()
  // Each node behaves like a BGP speaker with a 1 s connect retry: a session that fails or closes is
  // tried again (a new session: it announces again and must receive everything again).
  const current: HarnessPeer[] = new Array(nodes)
  let failures = 0
  let done = false
  const startNode = (n: number): void => {
    const p = sinkPeer(n, space, expected, { from: n * perNode, count: perNode })
    current[n] = p
    p.onClose = () => {
      if (done) return
      failures++
      setTimeout(() => {
        if (!done) startNode(n)
      }, 1000)
    }
    p.connect(30_000).then(() => p.write(updates[n]!), () => undefined)
  }
  try {
    await sleep(200)
    const a = snapshot(lab.dut)
    let last: Snapshot | undefined
    // Every node connects at once and announces its blocks as soon as its session is up. Node 1 sends a
    // KEEPALIVE every pokeMs once up (as the generator does in S1: see README, BIRD's 3 s stall).
    const stagger = o.s2StaggerMs ?? 0
    for (let n = 0; n < nodes; n++) {
      if (stagger > 0 && n > 0) setTimeout(() => startNode(n), n * stagger)
      else startNode(n)
    }
    const poke = o.pokeMs > 0 ? setInterval(() => current[0] !== undefined && current[0].establishedAt > 0 && current[0].poke(), o.pokeMs) : undefined
    const deadline = performance.now() + o.timeoutMs
    let ok = false
    while (performance.now() < deadline) {
      if (current.length === nodes && current.every((p) => p !== undefined && p.completeAt > 0)) {
        last = snapshot(lab.dut)
        ok = true
        break
      }
      await sleep(5)
    }
    if (poke !== undefined) clearInterval(poke)
    const peers = current.filter((p) => p !== undefined)
    const establishAt = Math.max(...peers.map((p) => p.establishedAt))
    const convergeAt = ok ? Math.max(...peers.map((p) => p.completeAt)) : performance.now()
    await sleep(o.quietMs)
    done = true
    const b = snapshot(lab.dut)
    const at = last ?? b
    const started = current.filter((p) => p !== undefined)
    const invalid = ok ? checkSinks(current, expected) : `timeout after ${o.timeoutMs} ms: ${checkSinks(started, expected) ?? "?"} (${nodes - started.filter((p) => p.establishedAt > 0).length} nodes without a session)`
    const live = await lab.dut.liveMemory()
    let idle: IdleResult | undefined
    if (invalid === undefined && o.idleSeconds > 0) idle = await idlePhase(lab.dut, o.idleSeconds)
    const own = b.usage.cpu - a.usage.cpu + (b.self - a.self)
    return {
      scenario: "s2",
      dut: name,
      block: o.block,
      cell: stagger > 0 ? { nodes, perNode, staggerMs: stagger } : { nodes, perNode },
      valid: invalid === undefined,
      ...(invalid === undefined ? {} : { invalid }),
      establishSeconds: (establishAt - a.t) / 1000,
      convergeSeconds: (convergeAt - a.t) / 1000,
      sendSeconds: 0,
      sessionFailures: failures,
      dutCpu: at.usage.cpu - a.usage.cpu,
      dutCpuTicks: at.usage.cpuTicks - a.usage.cpuTicks,
      dutCpuTotal: b.usage.cpu - a.usage.cpu,
      dutPeakRss: b.usage.peakRss,
      dutRss: b.usage.rss,
      dutProcesses: b.usage.pids.length,
      dutAffinity: lab.dut.affinity(),
      harnessCpu: b.self - a.self,
      interference: interference(a.stat, b.stat, (b.t - a.t) / 1000, own),
      updatesReceived: sum(peers, (s) => s.counter!.updates),
      bytesReceived: sum(peers, (s) => s.bytesIn),
      expectedPerSink: expected,
      minPresent: Math.min(...peers.map((s) => s.counter!.present)),
      maxPresent: Math.max(...peers.map((s) => s.counter!.present)),
      duplicates: sum(peers, (s) => s.counter!.duplicates),
      foreign: sum(peers, (s) => s.counter!.foreign),
      withdrawals: sum(peers, (s) => s.counter!.withdrawals),
      endOfRib: sum(peers, (s) => s.counter!.endOfRib),
      ...(live === undefined ? {} : { dutLive: live }),
      ...(idle === undefined ? {} : { idle }),
      startedAt
    }
  } finally {
    done = true
    await stopLab(lab, current.filter((p) => p !== undefined), o.keepDir === true)
  }
}

export { formatIpv4 }
