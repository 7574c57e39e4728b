/**
 * S3 over TCP on loopback: M Starling node speakers (and 0, 1 or 2 reflectors) in host processes
 * (bench/dut/mesh-node.ts), driven by JSON lines. Nodes are spread round-robin over `hosts` processes
 * (each reflector gets a process of its own, as a dedicated reflector node would), so the total RSS is
 * the sum over `hosts` Node runtimes plus the reflectors. Nothing is pinned: the cluster is the system
 * under test and uses both cores.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { type ClusterSpec, expectedRoutes, loopbackAddresses, planCluster, sessionCount, type SpeakerPlan, type SpeakerStats, type Topology } from "./cluster.ts"
import { treeUsage } from "./proc.ts"

const benchDir = fileURLToPath(new URL("..", import.meta.url))

export interface MeshRealResult {
  readonly topology: Topology
  readonly nodes: number
  readonly perNode: number
  readonly speakers: number
  readonly processes: number
  readonly valid: boolean
  readonly invalid?: string
  readonly sessions: number
  readonly established: number
  readonly coldStartSeconds: number
  /** CPU of all host processes during the cold start. */
  readonly coldStartCpuSeconds: number
  readonly flapWithdrawSeconds: number
  readonly flapRestoreSeconds: number
  readonly flapCpuSeconds: number
  readonly updatesSent: number
  readonly bytesSent: number
  readonly flapUpdates: number
  readonly flapBytes: number
  /** Sum of VmRSS over all host processes after convergence, and of VmHWM. */
  readonly totalRss: number
  readonly totalPeakRss: number
  /** RSS of the reflector processes alone (0 in a mesh). */
  readonly reflectorRss: number
  readonly startedAt: string
}

interface Host {
  readonly child: ChildProcess
  readonly pid: number
  readonly plans: ReadonlyArray<SpeakerPlan>
  send: (o: Record<string, unknown>) => void
  readonly events: Array<Record<string, unknown>>
  readonly waiters: Set<() => void>
}

const now = () => process.hrtime.bigint()

/** Host processes alive (killed by `stopAllHosts` when the harness is interrupted). */
const liveHosts = new Set<ChildProcess>()

export const stopAllHosts = (): void => {
  for (const c of liveHosts) {
    if (c.pid !== undefined && c.exitCode === null) {
      try {
        process.kill(c.pid, "SIGKILL")
      } catch {
        // gone
      }
    }
  }
}

const startHost = (dir: string, n: number, plans: ReadonlyArray<SpeakerPlan>): Host => {
  const file = join(dir, `host${n}.json`)
  writeFileSync(file, JSON.stringify(plans))
  const child = spawn(process.execPath, ["--max-old-space-size=4096", join(benchDir, "dut/mesh-node.ts"), file], { stdio: ["pipe", "pipe", "inherit"] })
  if (child.pid === undefined) throw new Error("could not start a mesh host")
  liveHosts.add(child)
  child.once("exit", () => liveHosts.delete(child))
  const host: Host = {
    child,
    pid: child.pid,
    plans,
    send: (o) => child.stdin!.write(`${JSON.stringify(o)}\n`),
    events: [],
    waiters: new Set()
  }
  const rl = createInterface({ input: child.stdout! })
  rl.on("line", (line) => {
    try {
      host.events.push(JSON.parse(line) as Record<string, unknown>)
    } catch {
      return
    }
    for (const w of [...host.waiters]) w()
  })
  return host
}

/** Waits until `pred` holds over the hosts' events (checked on every new event). */
const waitEvents = (hosts: ReadonlyArray<Host>, pred: () => boolean, timeoutMs: number): Promise<boolean> =>
  new Promise((resolve) => {
    if (pred()) return resolve(true)
    const timer = setTimeout(() => finish(false), timeoutMs)
    const check = () => {
      if (pred()) finish(true)
    }
    const finish = (ok: boolean) => {
      clearTimeout(timer)
      for (const h of hosts) h.waiters.delete(check)
      resolve(ok)
    }
    for (const h of hosts) h.waiters.add(check)
  })

const countEvents = (hosts: ReadonlyArray<Host>, n: number, since: ReadonlyArray<number>, ids: ReadonlySet<string>): Map<string, bigint> => {
  const out = new Map<string, bigint>()
  for (const [i, h] of hosts.entries()) {
    for (const e of h.events.slice(since[i])) {
      if (e["ev"] === "count" && e["n"] === n && ids.has(String(e["id"])) && !out.has(String(e["id"]))) out.set(String(e["id"]), BigInt(String(e["t"])))
    }
  }
  return out
}

const cpuOf = (hosts: ReadonlyArray<Host>) => hosts.reduce((x, h) => x + treeUsage(h.pid, [h.pid]).cpu, 0)

export const runMeshReal = async (topology: Topology, nodes: number, perNode: number, opts: { hosts: number; timeoutMs: number }): Promise<MeshRealResult> => {
  const spec: ClusterSpec = { topology, nodes, perNode, ...loopbackAddresses, port: 1790 }
  const plans = planCluster(spec)
  const base = join(tmpdir(), "starling-bench")
  mkdirSync(base, { recursive: true })
  const dir = mkdtempSync(join(base, `mesh-${topology}-`))
  const nodePlans = plans.filter((p) => p.kind === "node")
  const hostCount = Math.min(opts.hosts, nodePlans.length)
  const groups: SpeakerPlan[][] = Array.from({ length: hostCount }, () => [])
  nodePlans.forEach((p, i) => groups[i % hostCount]!.push(p))
  for (const p of plans.filter((x) => x.kind === "rr")) groups.push([p])
  const hosts = groups.map((g, n) => startHost(dir, n, g))
  const reflectorHosts = hosts.filter((h) => h.plans.some((p) => p.kind === "rr"))
  const startedAt = new Date().toISOString()
  const ids = new Set(plans.map((p) => p.id))
  const target = expectedRoutes(spec)
  const statsOf = async (): Promise<{ speakers: SpeakerStats[]; bytesOut: number }> => {
    const marks = hosts.map((h) => h.events.length)
    for (const h of hosts) h.send({ op: "stats" })
    await waitEvents(hosts, () => hosts.every((h, i) => h.events.slice(marks[i]).some((e) => e["ev"] === "stats")), 30_000)
    const speakers: SpeakerStats[] = []
    let bytesOut = 0
    hosts.forEach((h, i) => {
      const e = h.events.slice(marks[i]).find((x) => x["ev"] === "stats")
      if (e === undefined) return
      speakers.push(...(e["speakers"] as SpeakerStats[]))
      bytesOut += Number(e["bytesOut"])
    })
    return { speakers, bytesOut }
  }
  try {
    const ready = await waitEvents(hosts, () => hosts.every((h) => h.events.some((e) => e["ev"] === "ready")), 120_000)
    if (!ready) throw new Error("mesh hosts did not start")
    // Cold start: everyone enables its neighbors at (nearly) the same moment.
    let mark = hosts.map((h) => h.events.length)
    for (const h of hosts) h.send({ op: "expect", n: target })
    const cpu0 = cpuOf(hosts)
    const t0 = now()
    for (const h of hosts) h.send({ op: "go" })
    const sinceCold = mark
    const coldOk = await waitEvents(hosts, () => countEvents(hosts, target, sinceCold, ids).size === ids.size, opts.timeoutMs)
    const cold = countEvents(hosts, target, sinceCold, ids)
    const coldAt = cold.size === 0 ? now() : [...cold.values()].reduce((a, b) => (a > b ? a : b))
    const coldCpu = cpuOf(hosts) - cpu0
    await new Promise((r) => setTimeout(r, 500))
    // Routes can be complete before every session is (with two reflectors a client has each route twice,
    // and the reflector-to-reflector session may still be resolving a collision): wait for the sessions
    // the topology needs, bounded, before sampling them.
    let s0 = await statsOf()
    const sessionsDeadline = Date.now() + 20_000
    const established = (st: { speakers: SpeakerStats[] }) => st.speakers.reduce((x, sp) => x + sp.established, 0) / 2
    while (established(s0) < sessionCount(topology, nodes) && Date.now() < sessionsDeadline) {
      await new Promise((r) => setTimeout(r, 250))
      s0 = await statsOf()
    }
    const rss = hosts.map((h) => treeUsage(h.pid, [h.pid]))
    // One node flaps: all its sessions go down (Cease), everyone else withdraws its blocks; then it
    // comes back and everyone has the whole table again.
    const flapper = "node0"
    const others = new Set([...ids].filter((x) => x !== flapper))
    const flapHost = hosts.find((h) => h.plans.some((p) => p.id === flapper))!
    mark = hosts.map((h) => h.events.length)
    const sinceDown = mark
    for (const h of hosts) h.send({ op: "expect", n: target - perNode })
    const cpu1 = cpuOf(hosts)
    const t1 = now()
    flapHost.send({ op: "flap", id: flapper, on: false })
    const downOk = await waitEvents(hosts, () => countEvents(hosts, target - perNode, sinceDown, others).size === others.size, opts.timeoutMs)
    const down = countEvents(hosts, target - perNode, sinceDown, others)
    const downAt = down.size === 0 ? now() : [...down.values()].reduce((a, b) => (a > b ? a : b))
    mark = hosts.map((h) => h.events.length)
    const sinceUp = mark
    for (const h of hosts) h.send({ op: "expect", n: target })
    const t2 = now()
    flapHost.send({ op: "flap", id: flapper, on: true })
    const upOk = await waitEvents(hosts, () => countEvents(hosts, target, sinceUp, ids).size === ids.size, opts.timeoutMs)
    const up = countEvents(hosts, target, sinceUp, ids)
    const upAt = up.size === 0 ? now() : [...up.values()].reduce((a, b) => (a > b ? a : b))
    const flapCpu = cpuOf(hosts) - cpu1
    await new Promise((r) => setTimeout(r, 500))
    const s1 = await statsOf()
    const invalid = !coldOk
      ? `cold start: ${ids.size - cold.size} of ${ids.size} speakers short of ${target} routes`
      : !downOk
      ? `flap: ${others.size - down.size} speakers kept the flapped routes`
      : !upOk
      ? `flap: ${ids.size - up.size} speakers did not get the routes back`
      : undefined
    const sum = (xs: ReadonlyArray<SpeakerStats>, f: (s: SpeakerStats) => number) => xs.reduce((x, s) => x + f(s), 0)
    return {
      topology,
      nodes,
      perNode,
      speakers: plans.length,
      processes: hosts.length,
      valid: invalid === undefined,
      ...(invalid === undefined ? {} : { invalid }),
      sessions: sessionCount(topology, nodes),
      established: sum(s0.speakers, (s) => s.established) / 2,
      coldStartSeconds: Number(coldAt - t0) / 1e9,
      coldStartCpuSeconds: coldCpu,
      flapWithdrawSeconds: Number(downAt - t1) / 1e9,
      flapRestoreSeconds: Number(upAt - t2) / 1e9,
      flapCpuSeconds: flapCpu,
      updatesSent: sum(s0.speakers, (s) => s.updatesSent),
      bytesSent: s0.bytesOut,
      flapUpdates: sum(s1.speakers, (s) => s.updatesSent) - sum(s0.speakers, (s) => s.updatesSent),
      flapBytes: s1.bytesOut - s0.bytesOut,
      totalRss: rss.reduce((x, u) => x + u.rss, 0),
      totalPeakRss: rss.reduce((x, u) => x + u.peakRss, 0),
      reflectorRss: reflectorHosts.reduce((x, h) => x + treeUsage(h.pid, [h.pid]).rss, 0),
      startedAt
    }
  } finally {
    for (const h of hosts) h.send({ op: "exit" })
    await Promise.all(hosts.map((h) =>
      new Promise<void>((resolve) => {
        if (h.child.exitCode !== null) return resolve()
        const t = setTimeout(() => {
          try {
            process.kill(h.pid, "SIGKILL")
          } catch {
            // gone
          }
        }, 5000)
        h.child.once("exit", () => {
          clearTimeout(t)
          resolve()
        })
      })
    ))
    rmSync(dir, { recursive: true, force: true })
  }
}
