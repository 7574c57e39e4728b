/**
 * Route-reflector benchmarks, Starling side by side with BIRD 2, FRR, GoBGP, OpenBGPD and the null
 * reflector (the floor): S1 fan-out, S2 Calico-shaped, S5 churn and S6 idle footprint. See
 * bench/README.md for the method; `node bench/rr.ts --help` for the options.
 *
 * Every cell runs in blocks: each block starts every router once, fresh, in a shuffled order (seeded),
 * so slow drifts of a shared machine spread over all routers alike; ratios against BIRD and against the
 * floor are taken within a block, then summarized (median, bootstrap 95 % interval, min–max).
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { DUT_NAMES, type DutName, duts, stopAllDuts } from "./lab/duts.ts"
import { cores, loadAverage, machine, pin, starlingCommit } from "./lab/proc.ts"
import { newestProfile, summarizeProfile } from "./lab/profile.ts"
import { type ChurnOptions, type RunOptions, type RunResult, runS1, runS2 } from "./lab/rr-run.ts"
import { rng, shuffle } from "./lab/stats.ts"
import { cellKey, summarize } from "./lab/summary.ts"
import { encodeTable, type EncodedTable, type Mix, RIS_BVIEW } from "./lab/tables.ts"

const benchDir = fileURLToPath(new URL(".", import.meta.url))

const usage = `usage: node bench/rr.ts [options]
  --scenario s1|s2|all        which family (default all)
  --duts LIST                 comma list of ${DUT_NAMES.join(",")} (default: all installed)
  --routes LIST               S1 table sizes (default 10000,100000,1000000)
  --clients LIST              S1 clients (default 10,50,100; 1M routes only with <= 10)
  --mix LIST                  shared,realistic (default both)
  --nodes LIST                S2 nodes (default 100,250,500,1000)
  --per-node LIST             S2 prefixes per node (default 1,4)
  --s2-stagger LIST           S2 ms between node connects (default 0: all at once, a reconnect storm)
  --blocks N                  interleaved blocks per cell (default 5)
  --no-warmup                 skip the discarded warm-up run per router and cell
  --churn                     S5 after each S1 run of the --churn-cell (default 100000x10 realistic)
  --idle S                    S6: seconds of idle measurement after each run of the idle cells
  --timeout S                 per-run convergence timeout (default 300)
  --profile DIR               V8 CPU profile of every Starling run into DIR
  --quick                     the CI smoke variant: tiny cells, 1 block, < 1 minute
  --full                      the whole matrix of the issue (quiet machine: hours)
  --out FILE                  results JSON (default bench/results/rr-<date>.json)
  --seed N                    shuffle seed (default 7)
  --keep                      keep each run's directory (configs, router logs) under $TMPDIR/starling-bench`

const args = process.argv.slice(2)
if (args.includes("--help")) {
  process.stdout.write(`${usage}\n`)
  process.exit(0)
}
const opt = (name: string): string | undefined => {
  const i = args.indexOf(name)
  return i < 0 ? undefined : args[i + 1]
}
const list = (name: string, dflt: string): string[] => (opt(name) ?? dflt).split(",").filter((x) => x !== "")
const nums = (name: string, dflt: string): number[] => list(name, dflt).map(Number)

const quick = args.includes("--quick")
const full = args.includes("--full")
const scenario = opt("--scenario") ?? "all"
const available = DUT_NAMES.filter((d) => duts[d].available())
const dutList = (opt("--duts")?.split(",") ?? (quick ? ["null", "starling", "bird"] : [...available])).filter((d): d is DutName => {
  if (!(DUT_NAMES as ReadonlyArray<string>).includes(d)) throw new Error(`unknown router ${d}`)
  if (!duts[d as DutName].available()) {
    process.stderr.write(`skipping ${d}: not installed\n`)
    return false
  }
  return true
})
const routesList = nums("--routes", quick ? "10000" : full ? "10000,100000,1000000" : "10000,100000")
const clientsList = nums("--clients", quick ? "5" : full ? "10,50,100" : "10,100")
const mixes = (list("--mix", "shared,realistic") as Mix[]).filter((m) => {
  if (m !== "realistic" || existsSync(RIS_BVIEW)) return true
  process.stderr.write(`skipping the realistic mix: ${RIS_BVIEW} not found (the shared data beside the repository)\n`)
  return false
})
const nodesList = nums("--nodes", quick ? "20" : full ? "100,250,500,1000" : "100,1000")
const perNodeList = nums("--per-node", quick ? "2" : full ? "1,4" : "1,4")
const blocks = Number(opt("--blocks") ?? (quick ? 1 : 5))
const staggers = nums("--s2-stagger", "0")
const warmup = !args.includes("--no-warmup") && !quick
const timeoutMs = Number(opt("--timeout") ?? (quick ? 60 : 300)) * 1000
const idleSeconds = Number(opt("--idle") ?? (quick ? 2 : 0))
const seed = Number(opt("--seed") ?? 7)
const profileDir = opt("--profile")
const churnCell = opt("--churn-cell") ?? (quick ? "10000x5:shared" : "100000x10:realistic")
const churnOn = args.includes("--churn") || quick
const churn: ChurnOptions = quick
  ? { share: 0.1, backgroundPerSecond: 5000, canaries: 20, canaryIntervalMs: 20, latencySeconds: 2 }
  : { share: 0.1, backgroundPerSecond: 20000, canaries: 100, canaryIntervalMs: 10, latencySeconds: 10 }
const idleCells = new Set(list("--idle-cells", quick ? "s1:10000x5:shared,s2:20x2" : "s1:100000x10:realistic,s2:1000x1"))
const stamp = new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19)
const out = opt("--out") ?? join(benchDir, "results", `rr-${quick ? "quick-" : ""}${stamp}.json`)

// The harness takes the second core; each router is started on the first.
const DUT_CPU = 0
const pinned = pin(process.pid, 1)

interface Cell {
  readonly scenario: "s1" | "s2"
  readonly key: string
  readonly routes?: number
  readonly clients?: number
  readonly mix?: Mix
  readonly nodes?: number
  readonly perNode?: number
  readonly staggerMs?: number
}

const cells: Cell[] = []
if (scenario === "s1" || scenario === "all") {
  for (const mix of mixes) {
    for (const routes of routesList) {
      for (const clients of clientsList) {
        if (routes >= 1_000_000 && clients > 10) continue
        cells.push({ scenario: "s1", key: `s1:${routes}x${clients}:${mix}`, routes, clients, mix })
      }
    }
  }
}
if (scenario === "s2" || scenario === "all") {
  for (const nodes of nodesList) {
    for (const perNode of perNodeList) {
      for (const st of staggers) {
        cells.push({ scenario: "s2", key: `s2:${nodes}x${perNode}${st > 0 ? `:stagger${st}` : ""}`, nodes, perNode, staggerMs: st })
      }
    }
  }
}

const tables = new Map<string, EncodedTable>()
const tableFor = async (mix: Mix, routes: number): Promise<EncodedTable> => {
  const k = `${mix}:${routes}`
  let t = tables.get(k)
  if (t === undefined) {
    const t0 = Date.now()
    t = await encodeTable(mix, routes)
    process.stderr.write(`encoded ${routes} routes (${mix}): ${t.messages} UPDATEs, ${t.attributeSets} attribute sets, ${(t.bytes.length / 1e6).toFixed(1)} MB in ${Date.now() - t0} ms\n`)
    tables.set(k, t)
  }
  return t
}

const fmt = (x: number, d = 3) => (Number.isFinite(x) ? x.toFixed(d) : "-")
const mb = (b: number) => (b / 2 ** 20).toFixed(0)

const runs: RunResult[] = []

const runOne = async (cell: Cell, dut: DutName, block: number, record: boolean): Promise<RunResult | undefined> => {
  const heapMb = cell.routes !== undefined && cell.routes >= 1_000_000 ? 8192 : 4096
  const o: RunOptions = {
    block,
    dutCpu: DUT_CPU,
    timeoutMs,
    quietMs: quick ? 300 : 1000,
    pokeMs: 100,
    idleSeconds: record && idleCells.has(cell.key) ? idleSeconds : 0,
    heapMb,
    ...(cell.staggerMs === undefined ? {} : { s2StaggerMs: cell.staggerMs }),
    keepDir: args.includes("--keep"),
    ...(profileDir !== undefined && dut === "starling" && record ? { cpuProfileDir: join(profileDir, cell.key.replace(/[:]/g, "_"), `b${block}`) } : {}),
    ...(churnOn && record && cell.key === `s1:${churnCell}` ? { churn } : {})
  }
  let r: RunResult
  try {
    r = cell.scenario === "s1"
      ? await runS1(dut, await tableFor(cell.mix!, cell.routes!), cell.clients!, o)
      : await runS2(dut, cell.nodes!, cell.perNode!, o)
  } catch (e) {
    process.stderr.write(`${cell.key} ${dut} block ${block}: ${e instanceof Error ? e.message : String(e)}\n`)
    return undefined
  }
  if (o.cpuProfileDir !== undefined) {
    // Keep a summary of Starling's CPU profile with the run (the raw profile stays in the directory).
    const file = newestProfile(o.cpuProfileDir)
    if (file !== undefined) r = { ...r, profile: summarizeProfile(file, 20) }
  }
  const flag = r.valid ? "" : `  INVALID: ${r.invalid}`
  process.stderr.write(
    `${record ? "" : "(warm-up) "}${cell.key} b${block} ${dut.padEnd(8)} conv ${fmt(r.convergeSeconds)} s  est ${fmt(r.establishSeconds)} s  cpu ${fmt(r.dutCpu)} s  peak ${mb(r.dutPeakRss)} MB  foreign ${fmt(r.interference.foreignShare, 2)}${flag}\n`
  )
  if (r.churn !== undefined) {
    const c = r.churn
    process.stderr.write(`   churn: withdraw ${fmt(c.withdraw.seconds)} s, re-announce ${fmt(c.reannounce.seconds)} s, client reset ${fmt(c.clientReset.seconds)} s, canary p50 ${fmt(c.latency.p50Ms, 1)} ms p99 ${fmt(c.latency.p99Ms, 1)} ms (${c.latency.samples} samples, ${c.latency.missed} missed)\n`)
  }
  if (r.idle !== undefined) process.stderr.write(`   idle ${fmt(r.idle.seconds, 0)} s: cpu ${fmt(r.idle.cpuShare * 100, 2)} %, rss ${mb(r.idle.rss)} MB\n`)
  if (record) runs.push(r)
  return r
}

const commit = starlingCommit()
const save = () => {
  mkdirSync(join(out, ".."), { recursive: true })
  const versions = Object.fromEntries(dutList.map((d) => [d, duts[d].version()]))
  writeFileSync(out, JSON.stringify({
    kind: "rr",
    quick,
    starlingCommit: commit,
    machine: machine(),
    versions,
    pinned: { harnessCpu: pinned ? 1 : "unpinned", dutCpu: cores() >= 2 ? DUT_CPU : "unpinned" },
    options: { scenario, duts: dutList, routes: routesList, clients: clientsList, mixes, nodes: nodesList, perNode: perNodeList, blocks, warmup, timeoutMs, idleSeconds, churn: churnOn ? { cell: churnCell, ...churn } : undefined, seed },
    cells: cells.map((c) => c.key),
    summary: summarize(runs, cells.map((c) => c.key), dutList),
    runs
  }, null, 1))
}

const main = async () => {
  const m = machine()
  process.stderr.write(`machine: ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.kernel}, node ${m.node}; load ${m.loadAverage.map((x) => x.toFixed(2)).join(" ")}\n`)
  process.stderr.write(`harness pinned to cpu 1: ${pinned}; routers on cpu ${DUT_CPU}\n`)
  for (const d of dutList) process.stderr.write(`  ${duts[d].label}: ${duts[d].version()}\n`)
  process.stderr.write(`cells: ${cells.map((c) => c.key).join(" ")}\n`)
  const random = rng(seed)
  for (const cell of cells) {
    if (warmup) for (const d of dutList) await runOne(cell, d, 0, false)
    for (let b = 1; b <= blocks; b++) {
      for (const d of shuffle([...dutList], random)) await runOne(cell, d, b, true)
      save()
    }
    process.stderr.write(`load average now ${loadAverage().toFixed(2)}\n`)
  }
  save()
  process.stderr.write(`results: ${out}\n`)
  const bad = runs.filter((r) => !r.valid)
  process.stdout.write(`${JSON.stringify({ out, runs: runs.length, valid: runs.length - bad.length, invalid: bad.map((r) => `${cellKey(r)} ${r.dut} b${r.block}: ${r.invalid}`) })}\n`)
}

// Interrupted (Ctrl-C, a CI timeout): stop the routers we started, by pid, before leaving.
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.once(sig, () => {
    void stopAllDuts().finally(() => process.exit(130))
  })
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`)
    process.exit(1)
  }
)
