/**
 * Timing for the codec benchmark: calibrate a repetition to a target duration, warm up, then time several
 * repetitions and summarize (median, min, max, quartiles). Garbage collection is part of what is timed
 * (decoding allocates); when `gc` is exposed a full collection runs before each repetition so one
 * repetition does not pay for the previous one's garbage.
 *
 * Rates come from the process's CPU time (user + system), not wall time: on a shared 2-core VM other
 * processes take turns on our core, and CPU time does not count the turns they take (the process is
 * pinned to one core, so V8's helper threads run on that core and count too). Wall time is recorded
 * beside it; `cpuShare` (CPU / wall) says how much the run was disturbed.
 */
import { execFileSync } from "node:child_process"
import { readFileSync } from "node:fs"
import os from "node:os"

export interface Work {
  /** BGP messages processed by one pass over the corpus. */
  readonly messages: number
  /** Prefixes (NLRI + withdrawals, all families) in one pass. */
  readonly prefixes: number
}

export interface Summary {
  readonly median: number
  readonly min: number
  readonly max: number
  readonly q1: number
  readonly q3: number
}

export interface Measurement {
  readonly name: string
  readonly group: string
  /** Passes over the corpus per timed repetition (calibrated). */
  readonly passes: number
  readonly work: Work
  /** CPU seconds (user + system) per repetition, in run order: what the rates are computed from. */
  readonly seconds: ReadonlyArray<number>
  /** Wall-clock seconds per repetition. */
  readonly wallSeconds: ReadonlyArray<number>
  /** Median over repetitions of CPU / wall: 1 on an idle machine, lower when others shared our core. */
  readonly cpuShare: number
  /** Rates derived from each repetition (per second). */
  readonly messagesPerSecond: Summary
  readonly prefixesPerSecond: Summary
  /** Nanoseconds per message and per prefix at the median. */
  readonly nsPerMessage: number
  readonly nsPerPrefix: number
  /** (max - min) / median of the rate, a plain spread figure. */
  readonly spread: number
  readonly notes?: string
}

export interface MeasureOptions {
  readonly warmupSeconds: number
  readonly repetitions: number
  readonly targetRepSeconds: number
}

const quantile = (sorted: ReadonlyArray<number>, q: number): number => {
  const pos = (sorted.length - 1) * q
  const lo = Math.floor(pos)
  const hi = Math.ceil(pos)
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo)
}

export const summarize = (xs: ReadonlyArray<number>): Summary => {
  const s = [...xs].sort((a, b) => a - b)
  return { median: quantile(s, 0.5), min: s[0]!, max: s[s.length - 1]!, q1: quantile(s, 0.25), q3: quantile(s, 0.75) }
}

const now = (): number => Number(process.hrtime.bigint()) / 1e9

const cpuNow = (): number => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1e6
}

const gc: (() => void) | undefined = (globalThis as { gc?: () => void }).gc

/** A sink the optimizer cannot see through, so timed loops are not dead code. */
export let blackhole = 0

/**
 * Times `pass`, which processes the whole corpus once and returns a number derived from its results
 * (checked against `expect` when given, so a broken decoder cannot look fast).
 */
export const measure = (
  group: string,
  name: string,
  work: Work,
  pass: () => number,
  opts: MeasureOptions,
  expect?: number,
  notes?: string
): Measurement => {
  // Warm up (also the correctness check) and calibrate.
  const first = pass()
  if (expect !== undefined && first !== expect) {
    throw new Error(`${group}/${name}: pass returned ${first}, expected ${expect}`)
  }
  let t0 = now()
  let warm = 1
  while (now() - t0 < opts.warmupSeconds || warm < 3) {
    blackhole ^= pass()
    warm++
  }
  t0 = now()
  blackhole ^= pass()
  const one = Math.max(now() - t0, 1e-6)
  const passes = Math.max(1, Math.round(opts.targetRepSeconds / one))
  const seconds: number[] = []
  const wallSeconds: number[] = []
  for (let r = 0; r < opts.repetitions; r++) {
    gc?.()
    const start = now()
    const cpuStart = cpuNow()
    for (let p = 0; p < passes; p++) blackhole ^= pass()
    seconds.push(cpuNow() - cpuStart)
    wallSeconds.push(now() - start)
  }
  const mps = seconds.map((s) => (work.messages * passes) / s)
  const pps = seconds.map((s) => (work.prefixes * passes) / s)
  const m = summarize(mps)
  const p = summarize(pps)
  return {
    name,
    group,
    passes,
    work,
    seconds,
    wallSeconds,
    cpuShare: summarize(seconds.map((c, i) => c / wallSeconds[i]!)).median,
    messagesPerSecond: m,
    prefixesPerSecond: p,
    nsPerMessage: 1e9 / m.median,
    nsPerPrefix: work.prefixes > 0 ? 1e9 / p.median : 0,
    spread: (m.max - m.min) / m.median,
    ...(notes === undefined ? {} : { notes })
  }
}

export interface Machine {
  readonly date: string
  readonly cpuModel: string
  readonly cores: number
  readonly node: string
  readonly v8: string
  readonly platform: string
  readonly kernel: string
  /** CPUs this process may run on (from /proc/self/status), e.g. "1" when pinned. */
  readonly cpusAllowed: string
  readonly gcExposed: boolean
  readonly loadavg1: number
}

export const machine = (): Machine => {
  let cpuModel = os.cpus()[0]?.model ?? "unknown"
  try {
    const l = execFileSync("lscpu", { encoding: "utf8" })
    const m = /^Model name:\s*(.+)$/m.exec(l)
    if (m !== null) cpuModel = m[1]!.trim()
  } catch {
    // lscpu missing: keep os.cpus()
  }
  let cpusAllowed = "unknown"
  try {
    const m = /^Cpus_allowed_list:\s*(.+)$/m.exec(readFileSync("/proc/self/status", "utf8"))
    if (m !== null) cpusAllowed = m[1]!.trim()
  } catch {
    // not Linux
  }
  return {
    date: new Date().toISOString(),
    cpuModel,
    cores: os.cpus().length,
    node: process.version,
    v8: process.versions.v8,
    platform: `${os.platform()} ${os.arch()}`,
    kernel: os.release(),
    cpusAllowed,
    gcExposed: gc !== undefined,
    loadavg1: os.loadavg()[0] ?? 0
  }
}

/** Aggregate CPU time counters from /proc/stat (jiffies), to report steal and foreign load over the run. */
export interface CpuTimes {
  readonly total: number
  readonly steal: number
  readonly idle: number
}

export const cpuTimes = (): CpuTimes | undefined => {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n")[0]!
    const f = line.trim().split(/\s+/).slice(1).map(Number)
    const total = f.reduce((a, b) => a + b, 0)
    return { total, steal: f[7] ?? 0, idle: (f[3] ?? 0) + (f[4] ?? 0) }
  } catch {
    return undefined
  }
}

/** Process CPU seconds (user + system) from process.cpuUsage. */
export const processCpuSeconds = (): number => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1e6
}
