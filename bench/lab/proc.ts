/**
 * What a process tree costs, read from /proc: CPU time (per-thread schedstat in nanoseconds, with the
 * clock-tick utime+stime of /proc/PID/stat as a fallback), peak and current RSS (VmHWM / VmRSS summed
 * over the tree), and the machine-wide view from /proc/stat (busy time per core, steal) to tell how much
 * CPU others took during a run.
 */
import { execFileSync, spawnSync } from "node:child_process"
import { existsSync, readdirSync, readFileSync } from "node:fs"
import os from "node:os"

const TICK = 100 // USER_HZ on Linux

const read = (path: string): string | undefined => {
  try {
    return readFileSync(path, "utf8")
  } catch {
    return undefined
  }
}

/** Fields of /proc/PID/stat after the parenthesised comm (index 0 = state). */
const statFields = (pid: number): string[] | undefined => {
  const s = read(`/proc/${pid}/stat`)
  if (s === undefined) return undefined
  return s.slice(s.lastIndexOf(")") + 2).trim().split(" ")
}

/** `pid` and all its descendants (by ppid), alive now. */
export const processTree = (pid: number): number[] => {
  const children = new Map<number, number[]>()
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue
    const f = statFields(Number(e))
    if (f === undefined) continue
    const ppid = Number(f[1])
    let l = children.get(ppid)
    if (l === undefined) children.set(ppid, (l = []))
    l.push(Number(e))
  }
  const out: number[] = []
  const walk = (p: number) => {
    if (!existsSync(`/proc/${p}`)) return
    out.push(p)
    for (const c of children.get(p) ?? []) walk(c)
  }
  walk(pid)
  return out
}

/** CPU seconds of one process from its threads' schedstat (ns); undefined when unreadable. */
const schedSeconds = (pid: number): number | undefined => {
  let tasks: string[]
  try {
    tasks = readdirSync(`/proc/${pid}/task`)
  } catch {
    return undefined
  }
  let ns = 0
  for (const t of tasks) {
    const s = read(`/proc/${pid}/task/${t}/schedstat`)
    if (s === undefined) continue
    ns += Number(s.split(" ")[0])
  }
  return ns / 1e9
}

/** utime + stime of the process (all threads, including exited ones), seconds; 10 ms resolution. */
const tickSeconds = (pid: number): number | undefined => {
  const f = statFields(pid)
  if (f === undefined) return undefined
  return (Number(f[11]) + Number(f[12])) / TICK
}

export interface TreeUsage {
  readonly pids: ReadonlyArray<number>
  /** CPU seconds from schedstat (ns resolution) summed over the tree. */
  readonly cpu: number
  /** CPU seconds from utime+stime (ticks) summed over the tree. */
  readonly cpuTicks: number
  /** Sum of VmHWM (peak RSS) over the tree, bytes. */
  readonly peakRss: number
  /** Sum of VmRSS, bytes. */
  readonly rss: number
}

const statusKb = (pid: number, key: string): number => {
  const s = read(`/proc/${pid}/status`)
  if (s === undefined) return 0
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(s)
  return m === null ? 0 : Number(m[1]) * 1024
}

export const treeUsage = (root: number, pids: ReadonlyArray<number> = processTree(root)): TreeUsage => {
  let cpu = 0
  let cpuTicks = 0
  let peakRss = 0
  let rss = 0
  for (const p of pids) {
    const ticks = tickSeconds(p) ?? 0
    cpuTicks += ticks
    cpu += schedSeconds(p) ?? ticks
    peakRss += statusKb(p, "VmHWM")
    rss += statusKb(p, "VmRSS")
  }
  return { pids, cpu, cpuTicks, peakRss, rss }
}

// -------------------------------------------------------------------------------------------------
// Machine-wide

export interface CpuStat {
  /** Per core (cpu0, cpu1, ...): busy and steal seconds since boot. */
  readonly cores: ReadonlyArray<{ readonly busy: number; readonly idle: number; readonly steal: number }>
}

export const cpuStat = (): CpuStat => {
  const cores: Array<{ busy: number; idle: number; steal: number }> = []
  for (const line of (read("/proc/stat") ?? "").split("\n")) {
    const m = /^cpu(\d+)\s+(.*)$/.exec(line)
    if (m === null) continue
    const v = m[2]!.trim().split(/\s+/).map(Number)
    // user nice system idle iowait irq softirq steal guest guest_nice
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = v
    cores[Number(m[1])] = { busy: (user + nice + system + irq + softirq) / TICK, idle: (idle + iowait) / TICK, steal: steal / TICK }
  }
  return { cores }
}

export interface Interference {
  /** Seconds of CPU used on each core during the window (everything). */
  readonly coreBusy: ReadonlyArray<number>
  /** Busy seconds on all cores not accounted for by the DUT and the harness. */
  readonly foreign: number
  /** Foreign CPU as a share of one core over the window. */
  readonly foreignShare: number
  /** Steal seconds (all cores) and as a share of the window × cores. */
  readonly steal: number
  readonly stealShare: number
}

export const interference = (a: CpuStat, b: CpuStat, wallSeconds: number, ownCpu: number): Interference => {
  const coreBusy = b.cores.map((c, i) => c.busy - (a.cores[i]?.busy ?? 0))
  const busy = coreBusy.reduce((x, y) => x + y, 0)
  const steal = b.cores.reduce((x, c, i) => x + c.steal - (a.cores[i]?.steal ?? 0), 0)
  const foreign = Math.max(0, busy - ownCpu)
  const w = Math.max(wallSeconds, 1e-3)
  return { coreBusy, foreign, foreignShare: foreign / w, steal, stealShare: steal / (w * Math.max(1, b.cores.length)) }
}

/** CPU seconds of this process (all threads). */
export const selfCpu = (): number => schedSeconds(process.pid) ?? (process.cpuUsage().user + process.cpuUsage().system) / 1e6

export const loadAverage = (): number => os.loadavg()[0] ?? 0

// -------------------------------------------------------------------------------------------------
// Pinning

/** Cores of the machine (not of our affinity mask, which pinning narrows to one). */
export const cores = (): number => os.cpus().length

/** Pins every thread of `pid` to `cpu` (taskset -a). No-op on a one-core machine. */
export const pin = (pid: number, cpu: number): boolean => {
  if (cores() < 2) return false
  try {
    execFileSync("taskset", ["-a", "-p", "-c", String(cpu), String(pid)], { stdio: "ignore" })
    return true
  } catch {
    return false
  }
}

/** The command prefix that starts a program on `cpu` (empty on a one-core machine or without taskset). */
export const pinnedCommand = (cpu: number, cmd: string, args: ReadonlyArray<string>): [string, string[]] =>
  cores() >= 2 && existsSync("/usr/bin/taskset") ? ["taskset", ["-c", String(cpu), cmd, ...args]] : [cmd, [...args]]

// -------------------------------------------------------------------------------------------------
// The machine, for the report

/** stdout and stderr of a command together (some print their version on stderr). */
const run = (cmd: string, args: ReadonlyArray<string>): string => {
  const r = spawnSync(cmd, [...args], { encoding: "utf8", timeout: 10_000 })
  return `${r.stdout ?? ""}${r.stderr ?? ""}`.trim()
}

export interface Machine {
  readonly cpuModel: string
  readonly cores: number
  readonly memoryGiB: number
  readonly kernel: string
  readonly node: string
  readonly lscpu: string
  readonly loadAverage: ReadonlyArray<number>
}

/**
 * The Starling code a result was measured with: the commit, "+dirty" when packages/ has uncommitted changes
 * ("unknown" outside a git checkout). The report keeps only the newest code's Starling runs per cell.
 */
export const starlingCommit = (): string => {
  const git = (...args: string[]) => spawnSync("git", args, { cwd: new URL("../..", import.meta.url).pathname, encoding: "utf8" })
  const head = git("rev-parse", "--short", "HEAD")
  if (head.status !== 0) return "unknown"
  const dirty = git("status", "--porcelain", "--", "packages").stdout.trim() !== ""
  return `${head.stdout.trim()}${dirty ? "+dirty" : ""}`
}

export const machine = (): Machine => ({
  cpuModel: os.cpus()[0]?.model ?? "unknown",
  cores: os.cpus().length,
  memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
  kernel: `${os.type()} ${os.release()}`,
  node: process.version,
  lscpu: run("lscpu", []).split("\n").filter((l) => /^(Architecture|CPU\(s\)|Model name|Thread|Core|Socket|Hypervisor|L[123])/.test(l)).join("\n"),
  loadAverage: os.loadavg()
})

/** First line of a program's version output, or "not installed". */
export const versionOf = (cmd: string, args: ReadonlyArray<string>): string => {
  if (!existsSync(cmd)) return "not installed"
  return run(cmd, args).split("\n")[0] ?? ""
}
