/**
 * The devices under test as route reflectors with equivalent configs: one RIB, no kernel FIB, no
 * advertisement interval, hold time 90 s / keepalive 30 s, IPv4 unicast only, every neighbor a passive
 * route-reflector client with one cluster id, logging off or at warning level, to a file. Each runs as a
 * fresh process pinned to one core (`taskset -c CPU`), started and stopped by pid; the config text comes
 * from the interop drivers' writers (test/interop/lib) where one exists.
 *
 * Router by router:
 * - Starling: `bench/dut/starling-rr.ts` (makeReflector) in its own Node process.
 * - null: `bench/dut/null-rr.ts`, the floor (forwards bytes, no RIB).
 * - BIRD 2: one `protocol bgp` per client (`rr client`, `passive on`), a single table (master4); no
 *   kernel protocol.
 * - FRR: bgpd alone (`-Z` no zebra, `-l ADDR` implies no FIB), `coalesce-time` stated, in a private mount
 *   namespace so its crash-log directory stays off the host.
 * - GoBGP: gobgpd, gRPC on a unix socket, pprof off; the Go runtime sees one CPU (GOMAXPROCS follows the
 *   affinity mask).
 * - OpenBGPD: bgpd parent + route engine + session engine + RTR, all four processes counted; a private
 *   /run for its chroot; `fib-update no` (the Debian build never touches the FIB anyway).
 */
import { type ChildProcess, spawn } from "node:child_process"
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { birdConfig } from "../../test/interop/lib/bird.ts"
import { frrConfig } from "../../test/interop/lib/frr.ts"
import { gobgpConfig } from "../../test/interop/lib/gobgp.ts"
import { openbgpdConfig } from "../../test/interop/lib/openbgpd.ts"
import { pinnedCommand, processTree, versionOf } from "./proc.ts"

export const DUT_NAMES = ["null", "starling", "bird", "frr", "gobgp", "openbgpd"] as const
export type DutName = (typeof DUT_NAMES)[number]

const benchDir = fileURLToPath(new URL("..", import.meta.url))

export interface RrSpec {
  /** Run directory (config, logs, sockets). */
  readonly dir: string
  readonly address: string
  readonly port: number
  readonly as: number
  readonly routerId: string
  readonly clusterId: string
  /** Client addresses (passive, route-reflector clients). */
  readonly clients: ReadonlyArray<string>
  readonly holdTime: number
  /** Core to pin the process tree to. */
  readonly cpu: number
  /** Starling only: write a V8 CPU profile into this directory. */
  readonly cpuProfileDir?: string
  /** Starling only: V8 old-space limit, MB. */
  readonly heapMb?: number
}

export interface RunningDut {
  readonly name: DutName
  readonly pid: number
  /** pid and its descendants now. */
  readonly tree: () => number[]
  readonly log: () => string
  readonly stop: () => Promise<void>
  readonly exited: () => boolean
  /** Cpus_allowed_list of every process of the tree (what taskset achieved), e.g. "0". */
  readonly affinity: () => string
  /**
   * Starling only: live memory after a full GC (SIGUSR2 → "mem {...}" on stdout); undefined for others
   * or when it does not answer within `timeoutMs`.
   */
  readonly liveMemory: (timeoutMs?: number) => Promise<{ rss: number; heapUsed: number; external: number; arrayBuffers: number } | undefined>
}

export interface Dut {
  readonly name: DutName
  readonly label: string
  readonly available: () => boolean
  readonly version: () => string
  readonly start: (spec: RrSpec) => Promise<RunningDut>
  /** The config text it was started with (for the report). */
  readonly configText: (spec: RrSpec) => string
}

// -------------------------------------------------------------------------------------------------
// Processes

const comm = (pid: number): string | undefined => {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim()
  } catch {
    return undefined
  }
}

const cpusAllowed = (pid: number): string => {
  try {
    return /^Cpus_allowed_list:\s*(\S+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? "?"
  } catch {
    return "?"
  }
}

/** Hex form of an IPv4:port as /proc/net/tcp prints a local address (little-endian host on x86). */
const procNetAddress = (address: string, port: number): string => {
  const [a, b, c, d] = address.split(".").map(Number) as [number, number, number, number]
  const hex = (n: number) => n.toString(16).toUpperCase().padStart(2, "0")
  return `${hex(d)}${hex(c)}${hex(b)}${hex(a)}:${port.toString(16).toUpperCase().padStart(4, "0")}`
}

export const isListening = (address: string, port: number): boolean => {
  const want = procNetAddress(address, port)
  const any = `00000000:${port.toString(16).toUpperCase().padStart(4, "0")}`
  const text = readFileSync("/proc/net/tcp", "utf8")
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/)
    if (f[3] === "0A" && (f[1] === want || f[1] === any)) return true
  }
  return false
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

interface Launch {
  readonly name: DutName
  readonly cmd: string
  readonly args: ReadonlyArray<string>
  readonly spec: RrSpec
  /** Program names the tracked pid may have (wrappers exec into the daemon). */
  readonly comms: ReadonlyArray<string>
  /** Ready when stdout prints this line (else: when the listen socket is open). */
  readonly readyLine?: string
  readonly env?: NodeJS.ProcessEnv
}

/** Routers started and not stopped yet (stopped by `stopAllDuts` when the harness is interrupted). */
const live = new Set<RunningDut>()

export const stopAllDuts = async (): Promise<void> => {
  await Promise.all([...live].map((d) => d.stop()))
}

const launch = async (l: Launch): Promise<RunningDut> => {
  // Another benchmark (or a CI smoke run) on this machine must not be mistaken for our router.
  if (isListening(l.spec.address, l.spec.port)) {
    throw new Error(`${l.spec.address}:${l.spec.port} is already in use (another benchmark on this machine? set STARLING_BENCH_NET)`)
  }
  const logFile = join(l.spec.dir, `${l.name}.log`)
  const fd = openSync(logFile, "a")
  const [cmd, args] = pinnedCommand(l.spec.cpu, l.cmd, l.args)
  // Node routers get a stdin pipe and exit when it closes: they do not outlive a harness that was killed.
  const child: ChildProcess = spawn(cmd, args, {
    stdio: [l.readyLine === undefined ? "ignore" : "pipe", l.readyLine === undefined ? fd : "pipe", fd],
    env: { ...process.env, ...l.env }
  })
  closeSync(fd)
  const pid = child.pid
  if (pid === undefined) throw new Error(`${l.name}: could not start ${l.cmd}`)
  let exitCode: number | null | undefined
  const exited = new Promise<void>((resolve) => child.once("exit", (code, sig) => {
    exitCode = code ?? (sig === null ? null : -1)
    resolve()
  }))
  let sawReady = false
  let buf = ""
  const lineWaiters = new Set<() => void>()
  if (l.readyLine !== undefined) {
    child.stdout?.on("data", (b: Buffer) => {
      buf += b.toString()
      if (buf.includes(l.readyLine!)) sawReady = true
      for (const w of [...lineWaiters]) w()
    })
  }
  const log = () => (existsSync(logFile) ? readFileSync(logFile, "utf8") : "")
  const allowed = new Set(["taskset", "unshare", "sh", ...l.comms])
  /** The daemon's processes, remembered while it runs so that stop can reach children that outlive it. */
  let known: number[] = [pid]
  const tree = () => {
    if (exitCode !== undefined) return []
    const t = processTree(pid)
    if (t.length > 0) known = t
    return t
  }
  const signal = (p: number, sig: NodeJS.Signals) => {
    const c = comm(p)
    if (c === undefined || !allowed.has(c)) return
    try {
      process.kill(p, sig)
    } catch {
      // gone
    }
  }
  const running: RunningDut = {
    name: l.name,
    pid,
    tree,
    log,
    exited: () => exitCode !== undefined,
    affinity: () => [...new Set(tree().map(cpusAllowed))].join(" "),
    liveMemory: async (timeoutMs = 10_000) => {
      if (l.name !== "starling" || exitCode !== undefined) return undefined
      const from = buf.length
      const found = () => /^mem (\{.*\})$/m.exec(buf.slice(from))
      const got = new Promise<void>((resolve) => {
        const w = () => {
          if (found() !== null) {
            lineWaiters.delete(w)
            resolve()
          }
        }
        lineWaiters.add(w)
        setTimeout(() => {
          lineWaiters.delete(w)
          resolve()
        }, timeoutMs)
      })
      signal(pid, "SIGUSR2")
      await got
      const m = found()
      return m === null ? undefined : (JSON.parse(m[1]!) as { rss: number; heapUsed: number; external: number; arrayBuffers: number })
    },
    stop: async () => {
      live.delete(running)
      const all = exitCode === undefined ? tree() : known
      if (exitCode === undefined) {
        signal(pid, "SIGTERM")
        const t = setTimeout(() => signal(pid, "SIGKILL"), 5000)
        await exited
        clearTimeout(t)
      }
      // Children that did not follow their parent (OpenBGPD's engines) get the same, by their own pid.
      for (let i = 0; i < 50; i++) {
        const left = all.filter((p) => p !== pid && comm(p) !== undefined && allowed.has(comm(p)!))
        if (left.length === 0) break
        for (const p of left) signal(p, i < 20 ? "SIGTERM" : "SIGKILL")
        await sleep(100)
      }
    }
  }
  live.add(running)
  const deadline = Date.now() + 30_000
  while (Date.now() < deadline) {
    if (exitCode !== undefined) {
      live.delete(running)
      throw new Error(`${l.name} exited (${exitCode}) while starting:\n${log().slice(-3000)}`)
    }
    if (l.readyLine !== undefined ? sawReady : isListening(l.spec.address, l.spec.port)) return running
    await sleep(20)
  }
  await running.stop()
  throw new Error(`${l.name} did not become ready within 30 s:\n${log().slice(-3000)}`)
}

// -------------------------------------------------------------------------------------------------
// Configs

const starlingConfig = (s: RrSpec) => ({
  localAs: s.as,
  routerId: s.routerId,
  clusterId: s.clusterId,
  listen: [{ address: s.address, port: s.port }],
  advertisementIntervalMs: 0,
  neighbors: s.clients.map((address) => ({
    address,
    peerAs: s.as,
    passive: true,
    routeReflectorClient: true,
    holdTime: s.holdTime,
    // As BIRD's `error wait time 1, 10` and GoBGP's idle-hold-time-after-reset 1 in the interop configs
    // (Starling's default is 5 s, doubling to 120 s).
    idleHoldTime: { initial: 1, max: 10 },
    families: [{ afi: 1, safi: 1 }]
  }))
})

const birdText = (s: RrSpec): string =>
  birdConfig({
    name: "rr",
    routerId: s.routerId,
    as: s.as,
    address: s.address,
    port: s.port,
    neighbors: s.clients.map((address, i) => ({
      name: `c${i + 1}`,
      address,
      as: s.as,
      passive: true,
      holdTime: s.holdTime,
      keepaliveTime: Math.floor(s.holdTime / 3),
      rrClient: true,
      rrClusterId: s.clusterId,
      channels: [{ family: "ipv4", import: "all", export: "all" }]
    }))
  }, join(s.dir, "bird-routes.log"))

/** FRR's subgroup coalesce time, ms: stated explicitly (its default is 1000; 0 = no added delay). */
export const FRR_COALESCE_MS = 0

const frrText = (s: RrSpec): string =>
  frrConfig({
    name: "rr",
    routerId: s.routerId,
    as: s.as,
    address: s.address,
    port: s.port,
    clusterId: s.clusterId,
    extraBgp: [`coalesce-time ${FRR_COALESCE_MS}`],
    neighbors: s.clients.map((address) => ({
      address,
      as: s.as,
      passive: true,
      holdTime: s.holdTime,
      keepaliveTime: Math.floor(s.holdTime / 3),
      rrClient: true,
      families: [{ family: "ipv4", extra: ["advertisement-interval 0"] }]
    }))
  })

const gobgpText = (s: RrSpec): string =>
  gobgpConfig({
    name: "rr",
    routerId: s.routerId,
    as: s.as,
    address: s.address,
    port: s.port,
    neighbors: s.clients.map((address) => ({
      address,
      peerAs: s.as,
      passive: true,
      holdTime: s.holdTime,
      keepaliveInterval: Math.floor(s.holdTime / 3),
      families: ["ipv4-unicast"],
      routeReflectorClient: true,
      clusterId: s.clusterId
    }))
  })

const openbgpdText = (s: RrSpec): string =>
  openbgpdConfig({
    name: "rr",
    routerId: s.routerId,
    as: s.as,
    address: s.address,
    port: s.port,
    holdTime: s.holdTime,
    verbose: false,
    neighbors: s.clients.map((address) => ({
      address,
      remoteAs: s.as,
      passive: true,
      families: ["ipv4-unicast"],
      gracefulRestart: false,
      routeReflectorClient: true,
      clusterId: s.clusterId
    }))
  }, join(s.dir, "bgpd.sock"))
    // The interop config evaluates every path for ADD-PATH; the benchmark sends best paths only.
    .replace("rde evaluate all\n", "")

// -------------------------------------------------------------------------------------------------
// The routers

const node = process.execPath

export const duts: Record<DutName, Dut> = {
  null: {
    name: "null",
    label: "null reflector (floor)",
    available: () => true,
    version: () => `node ${process.version}`,
    configText: (s) => JSON.stringify({ address: s.address, port: s.port, as: s.as, routerId: s.routerId, holdTime: s.holdTime }),
    start: (s) => {
      const file = join(s.dir, "null.json")
      writeFileSync(file, duts.null.configText(s))
      return launch({ name: "null", cmd: node, args: [join(benchDir, "dut/null-rr.ts"), file], spec: s, comms: ["node"], readyLine: "ready" })
    }
  },
  starling: {
    name: "starling",
    label: "Starling",
    available: () => true,
    version: () => {
      try {
        const pkg = JSON.parse(readFileSync(join(benchDir, "../packages/reflector/package.json"), "utf8")) as { version?: string }
        return `@starling/reflector ${pkg.version ?? "?"} (node ${process.version})`
      } catch {
        return `node ${process.version}`
      }
    },
    configText: (s) => JSON.stringify(starlingConfig(s), null, 1),
    start: (s) => {
      const file = join(s.dir, "starling.json")
      writeFileSync(file, duts.starling.configText(s))
      const flags = [`--max-old-space-size=${s.heapMb ?? 4096}`, "--expose-gc"]
      if (s.cpuProfileDir !== undefined) {
        mkdirSync(s.cpuProfileDir, { recursive: true })
        flags.push("--cpu-prof", `--cpu-prof-dir=${s.cpuProfileDir}`)
      }
      return launch({ name: "starling", cmd: node, args: [...flags, join(benchDir, "dut/starling-rr.ts"), file], spec: s, comms: ["node"], readyLine: "ready" })
    }
  },
  bird: {
    name: "bird",
    label: "BIRD 2",
    available: () => existsSync("/usr/sbin/bird"),
    version: () => versionOf("/usr/sbin/bird", ["--version"]),
    configText: birdText,
    start: (s) => {
      const file = join(s.dir, "bird.conf")
      writeFileSync(file, birdText(s))
      return launch({ name: "bird", cmd: "/usr/sbin/bird", args: ["-f", "-c", file, "-s", join(s.dir, "bird.ctl"), "-P", join(s.dir, "bird.pid")], spec: s, comms: ["bird"] })
    }
  },
  frr: {
    name: "frr",
    label: "FRR bgpd",
    available: () => existsSync("/usr/lib/frr/bgpd"),
    version: () => versionOf("/usr/lib/frr/bgpd", ["--version"]),
    configText: frrText,
    start: (s) => {
      const file = join(s.dir, "bgpd.conf")
      writeFileSync(file, frrText(s))
      return launch({
        name: "frr",
        cmd: "unshare",
        args: [
          "-m", "--propagation", "private", "sh", "-c", 'mount -t tmpfs frrtmp /var/tmp && exec "$@"', "frr",
          "/usr/lib/frr/bgpd", "-f", file, "-i", join(s.dir, "bgpd.pid"), "--vty_socket", s.dir, "-Z", "-S",
          "-l", s.address, "-p", String(s.port), "-P", "0", "--log", "stdout", "--log-level", "warnings", "--limit-fds", "8192"
        ],
        spec: s,
        comms: ["bgpd"]
      })
    }
  },
  gobgp: {
    name: "gobgp",
    label: "GoBGP",
    available: () => existsSync("/usr/bin/gobgpd"),
    version: () => versionOf("/usr/bin/gobgpd", ["--version"]),
    configText: gobgpText,
    start: (s) => {
      const file = join(s.dir, "gobgpd.toml")
      writeFileSync(file, gobgpText(s))
      return launch({
        name: "gobgp",
        cmd: "/usr/bin/gobgpd",
        args: ["-f", file, "--api-hosts", `unix://${join(s.dir, "gobgp.sock")}`, "--pprof-disable", "-l", "warn"],
        spec: s,
        comms: ["gobgpd"]
      })
    }
  },
  openbgpd: {
    name: "openbgpd",
    label: "OpenBGPD",
    available: () => existsSync("/usr/sbin/bgpd") && existsSync("/usr/sbin/bgpctl"),
    version: () => versionOf("/usr/sbin/bgpd", ["-V"]),
    configText: openbgpdText,
    start: (s) => {
      const file = join(s.dir, "openbgpd.conf")
      writeFileSync(file, openbgpdText(s))
      return launch({
        name: "openbgpd",
        cmd: "unshare",
        args: [
          "-m", "--propagation", "private", "sh", "-c",
          'mount -t tmpfs -o mode=0755,size=1m obgpdrun /run && mkdir -m 0755 /run/openbgpd && exec "$@"', "obgpd",
          "/usr/sbin/bgpd", "-d", "-f", file
        ],
        spec: s,
        comms: ["bgpd"]
      })
    }
  }
}
