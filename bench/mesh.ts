/**
 * S3: full iBGP mesh versus one and two route reflectors, all Starling speakers (Calico nodes each
 * announcing their pod blocks). Two parts:
 *
 * - real: M speakers over TCP on loopback in host processes (bench/lab/mesh-real.ts): sessions, UPDATEs,
 *   octets, cold-start convergence, convergence after one node flaps, total RSS; repeated in blocks with
 *   the topology order shuffled;
 * - sim: the same plans to 1 000 speakers in one process on the in-memory network in virtual time
 *   (bench/lab/mesh-sim.ts), one fresh child process per size so heap figures do not mix.
 *
 * `node bench/mesh.ts --help` for the options.
 */
import { spawnSync } from "node:child_process"
import { mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { type Topology, TOPOLOGIES } from "./lab/cluster.ts"
import { type MeshRealResult, runMeshReal, stopAllHosts } from "./lab/mesh-real.ts"
import { runMeshSim, type SimResult } from "./lab/mesh-sim.ts"
import { loadAverage, machine, starlingCommit } from "./lab/proc.ts"
import { rng, shuffle } from "./lab/stats.ts"

const benchDir = fileURLToPath(new URL(".", import.meta.url))
const args = process.argv.slice(2)
const opt = (name: string): string | undefined => {
  const i = args.indexOf(name)
  return i < 0 ? undefined : args[i + 1]
}
const nums = (name: string, dflt: string): number[] => (opt(name) ?? dflt).split(",").filter((x) => x !== "").map(Number)

const usage = `usage: node bench/mesh.ts [options]
  --real LIST        speakers over TCP (default 10,25,50; --full 10,25,50,100; "" for none)
  --sim LIST         speakers in simulation (default 10,25,50,100,250,500,1000; "" for none)
  --sim-mesh-max N   largest simulated full mesh (default 100; --full 200): a mesh of 1 000 needs
                     499 500 sessions, tens of GB in one process
  --per-node K       prefixes per node (default 1)
  --topologies LIST  mesh,rr1,rr2 (default all)
  --blocks N         repetitions of the real part (default 3)
  --hosts H          host processes for the nodes (default 10)
  --timeout S        per-phase timeout (default 120)
  --quick            CI smoke: real 5 nodes, sim 10 and 30, one block
  --full             the whole matrix
  --out FILE         results JSON (default bench/results/mesh-<date>.json)`

// One simulation in a fresh process (spawned by the parent below).
if (args[0] === "--sim-one") {
  const [topology, m, k, step] = args[1]!.split(",")
  const r = await runMeshSim(topology as Topology, Number(m), Number(k), { stepMs: Number(step), maxVirtualMs: 120_000 })
  process.stdout.write(`${JSON.stringify(r)}\n`)
  process.exit(0)
}
if (args.includes("--help")) {
  process.stdout.write(`${usage}\n`)
  process.exit(0)
}

const quick = args.includes("--quick")
const full = args.includes("--full")
const realSizes = nums("--real", quick ? "5" : full ? "10,25,50,100" : "10,25,50")
const simSizes = nums("--sim", quick ? "10,30" : "10,25,50,100,250,500,1000")
const simMeshMax = Number(opt("--sim-mesh-max") ?? (full ? 200 : 100))
const perNode = Number(opt("--per-node") ?? 1)
const topologies = (opt("--topologies")?.split(",") ?? [...TOPOLOGIES]) as Topology[]
const blocks = Number(opt("--blocks") ?? (quick ? 1 : 3))
const hosts = Number(opt("--hosts") ?? (quick ? 3 : 10))
const timeoutMs = Number(opt("--timeout") ?? (quick ? 30 : 120)) * 1000
const stamp = new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19)
const out = opt("--out") ?? join(benchDir, "results", `mesh-${quick ? "quick-" : ""}${stamp}.json`)

const real: Array<MeshRealResult & { block: number }> = []
const sim: SimResult[] = []
const simFailures: string[] = []

const commit = starlingCommit()
const save = () => {
  mkdirSync(join(out, ".."), { recursive: true })
  writeFileSync(out, JSON.stringify({
    kind: "mesh",
    quick,
    starlingCommit: commit,
    machine: machine(),
    options: { realSizes, simSizes, simMeshMax, perNode, topologies, blocks, hosts, timeoutMs },
    real,
    sim,
    simFailures
  }, null, 1))
}

const f = (x: number, d = 3) => (Number.isFinite(x) ? x.toFixed(d) : "-")

const main = async () => {
  const m = machine()
  process.stderr.write(`machine: ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB; load ${m.loadAverage.map((x) => x.toFixed(2)).join(" ")}\n`)
  const random = rng(11)
  for (let b = 1; b <= blocks; b++) {
    for (const size of realSizes) {
      for (const t of shuffle([...topologies], random)) {
        try {
          const r = await runMeshReal(t, size, perNode, { hosts, timeoutMs })
          real.push({ ...r, block: b })
          process.stderr.write(
            `real b${b} ${t.padEnd(4)} M=${String(size).padEnd(4)} sessions ${r.established}/${r.sessions} cold ${f(r.coldStartSeconds)} s (cpu ${f(r.coldStartCpuSeconds)} s) flap ${f(r.flapWithdrawSeconds)}/${f(r.flapRestoreSeconds)} s updates ${r.updatesSent} bytes ${r.bytesSent} rss ${(r.totalRss / 2 ** 20).toFixed(0)} MB${r.valid ? "" : `  INVALID: ${r.invalid}`}\n`
          )
        } catch (e) {
          process.stderr.write(`real ${t} ${size}: ${e instanceof Error ? e.message : String(e)}\n`)
        }
        save()
      }
    }
  }
  for (const size of simSizes) {
    for (const t of topologies) {
      if (t === "mesh" && size > simMeshMax) continue
      // Small steps for small clusters; the large ones take longer per step (one core simulates all).
      const step = 10
      const heap = Math.max(2048, Math.ceil(size * size * 0.15) + 1024)
      const r = spawnSync(process.execPath, [`--max-old-space-size=${heap}`, "--expose-gc", fileURLToPath(import.meta.url), "--sim-one", `${t},${size},${perNode},${step}`], {
        encoding: "utf8",
        maxBuffer: 1 << 24,
        timeout: 3_600_000
      })
      const line = (r.stdout ?? "").trim().split("\n").pop() ?? ""
      try {
        const s = JSON.parse(line) as SimResult
        sim.push(s)
        process.stderr.write(
          `sim ${t.padEnd(4)} M=${String(size).padEnd(5)} sessions ${s.established}/${s.sessions} cold ${f(s.coldStartVirtualSeconds)} vs (cpu ${f(s.coldStartCpuSeconds)} s) flap ${f(s.flapWithdrawVirtualSeconds)}/${f(s.flapRestoreVirtualSeconds)} vs updates ${s.updatesSent} bytes ${s.bytesSent} heap ${(s.heapBytes / 2 ** 20).toFixed(0)} MB${s.valid ? "" : `  INVALID: ${s.invalid}`}\n`
        )
      } catch {
        const why = `sim ${t} ${size}: exit ${r.status} ${r.signal ?? ""} ${(r.stderr ?? "").slice(-500)}`
        simFailures.push(why)
        process.stderr.write(`${why}\n`)
      }
      save()
    }
  }
  save()
  process.stderr.write(`load average now ${loadAverage().toFixed(2)}; results: ${out}\n`)
  const bad = [...real.filter((r) => !r.valid).map((r) => `real ${r.topology} ${r.nodes}: ${r.invalid}`), ...sim.filter((s) => !s.valid).map((s) => `sim ${s.topology} ${s.nodes}: ${s.invalid}`), ...simFailures]
  process.stdout.write(`${JSON.stringify({ out, real: real.length, sim: sim.length, invalid: bad })}\n`)
}

for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.once(sig, () => {
    stopAllHosts()
    process.exit(130)
  })
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`)
    process.exit(1)
  }
)
