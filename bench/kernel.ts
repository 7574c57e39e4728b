/**
 * Kernel route installation benchmark: Starling's exporter against BIRD's kernel protocol, installing and
 * removing the same N routes in the same namespace setup (see bench/README.md for the method and results).
 *
 *   node bench/kernel.ts                 3 rounds of 100 000 routes (about 2 minutes)
 *   node bench/kernel.ts --quick         1 round of 20 000
 *   options: --routes N, --rounds N, --no-pin, --json <file>, --only bird|starling|starling-noflush (profiling)
 *
 * Each round makes a fresh network namespace (starling-kb-<pid>-<n>) with a veth pair (va 10.1.0.1/24),
 * then, in alternating order:
 * - BIRD: `protocol static` with N routes `via 10.1.0.2` (disabled), `protocol kernel` exporting all
 *   (metric 32). Install = `birdc enable` until the kernel protocol counts N exported and the kernel holds
 *   N routes of proto bird; remove = `birdc disable` until 0.
 * - Starling: `makeExporter` (live iproute2 layer, `ip -n NS`, monitor on) fed the same N routes as a
 *   Loc-RIB change stream. Install = first event until the exporter reports N installed (it has read the
 *   answer of the last `ip -batch`); remove = N withdrawals until 0. Twice: with the default flush for a
 *   family that empties, and with per-route deletes (`flushAbove: 0`).
 * Wall time and CPU time (BIRD: the bird process; Starling: this process plus its `ip` children) per
 * phase, medians over the rounds, and ratios Starling / BIRD.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import os from "node:os"
import path from "node:path"
import { fileURLToPath } from "node:url"
import { Effect, Logger, Queue, Stream } from "effect"
import { parsePrefix } from "@starling/codec"
import type { RouteEvent } from "../packages/speaker/src/index.ts"
import { KernelRoutes, makeExporter } from "../packages/kernel/src/index.ts"
import { treeUsage } from "./lab/proc.ts"

const args = process.argv.slice(2)
const arg = (name: string): string | undefined => {
  const i = args.indexOf(name)
  return i >= 0 ? args[i + 1] : undefined
}
const quick = args.includes("--quick")
const N = Number(arg("--routes") ?? (quick ? 20_000 : 100_000))
const ROUNDS = Number(arg("--rounds") ?? (quick ? 1 : 3))
const PIN_CPU = 1

// Everything that is measured runs on one core: re-run ourselves under taskset (children inherit it),
// and start BIRD under taskset too.
const canPin = !args.includes("--no-pin") && os.cpus().length > 1 && spawnSync("taskset", ["-V"]).status === 0
if (canPin && process.env["STARLING_KBENCH_CHILD"] === undefined) {
  const r = spawnSync("taskset", ["-c", String(PIN_CPU), process.execPath, ...process.execArgv, fileURLToPath(import.meta.url), ...args], {
    stdio: "inherit",
    env: { ...process.env, STARLING_KBENCH_CHILD: "1" }
  })
  process.exit(r.status ?? 1)
}

for (const bin of ["/usr/sbin/bird", "/usr/sbin/birdc"]) {
  if (!existsSync(bin)) {
    process.stderr.write(`${bin} is needed (Debian package bird2)\n`)
    process.exit(2)
  }
}
if (process.getuid?.() !== 0) {
  process.stderr.write("root is needed (network namespaces)\n")
  process.exit(2)
}

const sh = (cmd: string, a: ReadonlyArray<string>, allowFail = false): string => {
  const r = spawnSync(cmd, [...a], { encoding: "utf8", maxBuffer: 512 * 1024 * 1024 })
  if (r.status !== 0 && !allowFail) throw new Error(`${cmd} ${a.join(" ")}: ${r.stderr}`)
  return r.stdout ?? ""
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const prefixes = Array.from({ length: N }, (_, i) => `10.${128 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}/32`)

let nsCounter = 0
const withNamespace = async <A>(f: (ns: string) => Promise<A>): Promise<A> => {
  const ns = `starling-kb-${process.pid}-${++nsCounter}`
  sh("ip", ["netns", "add", ns])
  try {
    sh("ip", ["-n", ns, "link", "set", "lo", "up"])
    sh("ip", ["-n", ns, "link", "add", "va", "type", "veth", "peer", "name", "vb"])
    sh("ip", ["-n", ns, "addr", "add", "10.1.0.1/24", "dev", "va"])
    sh("ip", ["-n", ns, "link", "set", "va", "up"])
    sh("ip", ["-n", ns, "link", "set", "vb", "up"])
    return await f(ns)
  } finally {
    sh("ip", ["netns", "del", ns], true)
  }
}

const kernelCount = (ns: string, proto: string): number =>
  sh("ip", ["-n", ns, "-4", "route", "show", "table", "254", "proto", proto]).split("\n").filter((l) => l !== "").length

// ---------------------------------------------------------------------------------------------------
// CPU accounting

const TICK = 100
/** utime, stime, cutime, cstime of a process, seconds. */
const statTimes = (pid: number | "self") => {
  const s = readFileSync(`/proc/${pid}/stat`, "utf8")
  const f = s.slice(s.lastIndexOf(")") + 2).split(" ")
  return { self: (Number(f[11]) + Number(f[12])) / TICK, children: (Number(f[13]) + Number(f[14])) / TICK }
}
/** This process (µs resolution) plus its reaped children (`ip`; tick resolution). */
const ownCpu = (): number => nodeCpu() + statTimes("self").children
const nodeCpu = (): number => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1e6
}
interface Phase {
  readonly wall: number
  readonly cpu: number
  /** Starling: until the follow-up verification is done too. */
  readonly quiet?: number
  /** Starling: CPU when the last route was in (before the verification), and the `ip` children's share. */
  readonly cpuAtWall?: number
  readonly ipCpu?: number
}
interface Round {
  readonly impl: string
  readonly install: Phase
  readonly remove: Phase
  readonly notes?: string
}

// ---------------------------------------------------------------------------------------------------
// BIRD

const birdRound = (ns: string): Promise<Round> => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "starling-kb-bird-"))
  const conf = path.join(dir, "bird.conf")
  const ctl = path.join(dir, "bird.ctl")
  const lines = [
    `log "${path.join(dir, "bird.log")}" { warning, error, fatal };`,
    "router id 10.1.0.1;",
    "protocol device { scan time 10; }",
    // learn off + a long scan time: nothing but the export itself during the measurement.
    "protocol kernel k4 { ipv4 { import none; export all; }; metric 32; learn off; scan time 3600; }",
    "protocol static st {",
    "  disabled;",
    "  ipv4;",
    ...prefixes.map((x) => `  route ${x} via 10.1.0.2;`),
    "}"
  ]
  writeFileSync(conf, `${lines.join("\n")}\n`)
  const birdc = (...a: string[]) => sh("/usr/sbin/birdc", ["-s", ctl, ...a], true)
  const exported = (): number => {
    const m = /Routes:\s+\d+ imported, (?:\d+ filtered, )?(\d+) exported/.exec(birdc("show", "protocols", "all", "k4"))
    return m === null ? -1 : Number(m[1])
  }
  const cmd = canPin ? ["taskset", ["-c", String(PIN_CPU), "ip", "netns", "exec", ns, "/usr/sbin/bird", "-f", "-c", conf, "-s", ctl]] as const : ["ip", ["netns", "exec", ns, "/usr/sbin/bird", "-f", "-c", conf, "-s", ctl]] as const
  const bird: ChildProcess = spawn(cmd[0], [...cmd[1]], { stdio: "ignore" })
  const run = async (): Promise<Round> => {
    // Ready: the control socket answers and the device protocol is up.
    for (let i = 0; i < 500 && !/k4\s+Kernel\s+master4\s+up/.test(birdc("show", "protocols")); i++) await sleep(20)
    // taskset and `ip netns exec` exec into bird: the child's pid is bird's.
    const pid = bird.pid!
    if (readFileSync(`/proc/${pid}/comm`, "utf8").trim() !== "bird") throw new Error("bird did not start")
    const schedCpu = (p: number) => treeUsage(p).cpu
    const phase = async (action: string, want: number): Promise<Phase> => {
      const c0 = schedCpu(pid)
      const t0 = performance.now()
      birdc(action, "st")
      while (exported() !== want) await sleep(10)
      // The counter moves just before each kernel request: wait for the kernel itself.
      while (kernelCount(ns, "bird") !== want) await sleep(10)
      return { wall: (performance.now() - t0) / 1000, cpu: schedCpu(pid) - c0 }
    }
    const install = await phase("enable", N)
    const remove = await phase("disable", 0)
    return { impl: "BIRD 2 kernel protocol", install, remove }
  }
  return run().finally(() => {
    bird.kill("SIGTERM")
    rmSync(dir, { recursive: true, force: true })
  })
}

// ---------------------------------------------------------------------------------------------------
// Starling

const starlingRound = (ns: string, flush: boolean): Promise<Round> =>
  Effect.runPromise(Effect.gen(function*() {
    const q = yield* Queue.unbounded<RouteEvent>()
    const exporter = yield* makeExporter(Stream.fromQueue(q), { converged: Effect.void, rescanIntervalMs: 0, flushAbove: flush ? 1000 : 0 })
    const kernel = yield* KernelRoutes
    yield* exporter.settled
    const announce: RouteEvent[] = prefixes.map((x) => ({
      _tag: "Route",
      prefix: parsePrefix(x)!,
      best: { source: "10.255.0.2", pathId: 0, local: false, nextHop: "10.1.0.2", attributes: {} },
      multipath: []
    }))
    const withdraw: RouteEvent[] = prefixes.map((x) => ({ _tag: "Route", prefix: parsePrefix(x)!, best: undefined, multipath: [] }))
    // Wall: until the exporter has the kernel's answer for the last route. CPU: until it is quiet again,
    // including the verification re-scan that follows a large batch (the monitor was paused for it).
    const phase = (evs: ReadonlyArray<RouteEvent>, want: number) =>
      Effect.gen(function*() {
        const c0 = ownCpu()
        const n0 = nodeCpu()
        const t0 = performance.now()
        yield* Queue.offerAll(q, evs)
        while ((yield* exporter.status).installed !== want) yield* Effect.sleep("2 millis")
        const wall = (performance.now() - t0) / 1000
        const cpuAtWall = ownCpu() - c0
        yield* Effect.sleep("50 millis")
        while ((yield* exporter.status).rescanPending) yield* Effect.sleep("20 millis")
        yield* exporter.settled
        const quiet = (performance.now() - t0) / 1000
        const cpu = ownCpu() - c0
        return { wall, cpu, quiet, cpuAtWall, ipCpu: cpu - (nodeCpu() - n0) }
      })
    const install = yield* phase([...announce, { _tag: "EndOfTable" }], N)
    if (kernelCount(ns, "201") !== N) throw new Error("kernel does not hold every route")
    const remove = yield* phase(withdraw, 0)
    if (kernelCount(ns, "201") !== 0) throw new Error("kernel still holds routes")
    const st = yield* kernel.stats
    return {
      impl: flush ? "Starling exporter" : "Starling exporter, per-route deletes",
      install,
      remove,
      notes: `${st.processes} ip processes, ${st.monitorPauses} monitor pauses, ${st.dumps} dumps; CPU when in ${install.cpuAtWall?.toFixed(2)} / ${remove.cpuAtWall?.toFixed(2)} s, of which ip ${install.ipCpu?.toFixed(2)} / ${remove.ipCpu?.toFixed(2)} s; quiet after ${install.quiet?.toFixed(2)} / ${remove.quiet?.toFixed(2)} s`
    }
  }).pipe(Effect.scoped, Effect.provide(KernelRoutes.layerNode({ netns: ns })), Effect.provide(Logger.layer([]))))

// ---------------------------------------------------------------------------------------------------

const median = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

const main = async () => {
  const rounds: Round[] = []
  const load0 = os.loadavg()[0]!
  for (let r = 0; r < ROUNDS; r++) {
    // Alternate the order so neither side always runs first.
    const order = r % 2 === 0 ? ["bird", "starling", "starling-noflush"] : ["starling-noflush", "starling", "bird"]
    for (const which of order) {
      if (arg("--only") !== undefined && arg("--only") !== which) continue
      const res = await withNamespace((ns) => (which === "bird" ? birdRound(ns) : starlingRound(ns, which === "starling")))
      rounds.push(res)
      process.stdout.write(`round ${r + 1} ${res.impl}: install ${res.install.wall.toFixed(2)} s (cpu ${res.install.cpu.toFixed(2)}), remove ${res.remove.wall.toFixed(2)} s (cpu ${res.remove.cpu.toFixed(2)})${res.notes === undefined ? "" : `  [${res.notes}]`}\n`)
    }
  }
  const impls = [...new Set(rounds.map((r) => r.impl))]
  const med = (impl: string, ph: "install" | "remove", k: "wall" | "cpu" | "cpuAtWall") =>
    median(rounds.filter((r) => r.impl === impl).map((r) => r[ph][k] ?? r[ph].cpu))
  const bird = "BIRD 2 kernel protocol"
  const rows = impls.map((impl) => ({
    impl,
    installWall: med(impl, "install", "wall"),
    installCpuIn: med(impl, "install", "cpuAtWall"),
    installCpu: med(impl, "install", "cpu"),
    removeWall: med(impl, "remove", "wall"),
    removeCpuIn: med(impl, "remove", "cpuAtWall"),
    removeCpu: med(impl, "remove", "cpu")
  }))
  const b = rows.find((r) => r.impl === bird) ?? rows[0]!
  const f = (x: number) => x.toFixed(2)
  process.stdout.write(`\n${N} IPv4 routes, ${ROUNDS} rounds, medians in seconds (ratio to BIRD), load average ${load0.toFixed(1)} → ${os.loadavg()[0]!.toFixed(1)}${canPin ? `, pinned to CPU ${PIN_CPU}` : ""}\n`)
  process.stdout.write("CPU \"in\": until the kernel holds every route; \"+verify\": including Starling's re-scan after the batch (BIRD has none)\n")
  process.stdout.write("| implementation | install wall | install CPU in | install CPU +verify | remove wall | remove CPU in | remove CPU +verify |\n|---|---:|---:|---:|---:|---:|---:|\n")
  for (const r of rows) {
    const c = (x: number, y: number) => `${f(x)}${r.impl === bird ? "" : ` (${(x / y).toFixed(2)}×)`}`
    process.stdout.write(`| ${r.impl} | ${c(r.installWall, b.installWall)} | ${c(r.installCpuIn, b.installCpuIn)} | ${c(r.installCpu, b.installCpu)} | ${c(r.removeWall, b.removeWall)} | ${c(r.removeCpuIn, b.removeCpuIn)} | ${c(r.removeCpu, b.removeCpu)} |\n`)
  }
  const out = arg("--json")
  if (out !== undefined) {
    mkdirSync(path.dirname(path.resolve(out)), { recursive: true })
    writeFileSync(out, JSON.stringify({ routes: N, rounds, medians: rows, kernel: os.release(), node: process.version, loadAverage: [load0, os.loadavg()[0]] }, null, 2))
  }
}

await main()
