/**
 * An OpenBGPD 7.x driver for interop tests: writes bgpd.conf, runs `bgpd -d` in a private mount namespace
 * whose /run is a small tmpfs holding the empty chroot directory /run/openbgpd (the children chroot there;
 * only systemd would create it, and nothing is created on the host), queries it with `bgpctl -s SOCK -j`,
 * and stops it by pid. See /work/shared/notes/real-routers.md §7.
 *
 * Processes: the parent `bgpd -d -f CONF` (our pid: unshare and sh exec into it) forks three children
 * that re-exec as `bgpd -R` (route decision engine), `bgpd -S` (session engine: sockets, timers, the
 * control socket) and `bgpd -T` (RTR). Stopping the session engine alone freezes every BGP session.
 *
 * Config pitfalls handled here: one statement per line (no `;`), filters default to deny (we add
 * `allow from any` / `allow to any`), connect-retry defaults to 120 s (we default to 1).
 */
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { run, runDir, start, waitFor, type Started } from "./process.ts"

/** By full path: FRR's daemon is also called bgpd (in /usr/lib/frr). */
const BGPD = "/usr/sbin/bgpd"
const BGPCTL = "/usr/sbin/bgpctl"

export type OpenbgpdFamily = "ipv4-unicast" | "ipv6-unicast"

export interface OpenbgpdNeighbor {
  readonly address: string
  readonly remoteAs: number
  readonly description?: string
  /** The neighbor's port (we connect there). Default 179. */
  readonly port?: number
  /** Source address of our connects. Default: the router's address. */
  readonly localAddress?: string
  /** Never connect, only accept. */
  readonly passive?: boolean
  readonly holdTime?: number
  readonly minHoldTime?: number
  /** Families announced in the multiprotocol capability. Default IPv4 and IPv6 unicast. */
  readonly families?: ReadonlyArray<OpenbgpdFamily>
  /** RFC 7911 add-path receive / send ("all" sends every valid path). */
  readonly addPath?: { readonly receive: boolean; readonly send: "no" | "all" | "best" }
  /** Announce the graceful restart capability (OpenBGPD: End-of-RIB only). Default true. */
  readonly gracefulRestart?: boolean
  readonly routeRefresh?: boolean
  readonly enhancedRouteRefresh?: boolean
  readonly as4?: boolean
  /** Treat the neighbor as a route-reflector client; the cluster id defaults to the router id. */
  readonly routeReflectorClient?: boolean
  readonly clusterId?: string
  /** Stay Idle at start. */
  readonly down?: boolean
}

/** A route the router originates (`network` statement). */
export interface OpenbgpdRoute {
  readonly prefix: string
  readonly nextHop?: string
  /** "65000:100" */
  readonly communities?: ReadonlyArray<string>
  readonly largeCommunities?: ReadonlyArray<string>
  readonly localPref?: number
  readonly med?: number
}

export interface OpenbgpdOptions {
  readonly name: string
  readonly routerId: string
  readonly as: number
  /** Listen address, and the default source address for connects. */
  readonly address: string
  /** Listen port. Default 179. */
  readonly port?: number
  /** Global connect-retry, seconds. Default 1 (OpenBGPD's default is 120). */
  readonly connectRetry?: number
  /** Global hold time. Default 90. */
  readonly holdTime?: number
  readonly neighbors: ReadonlyArray<OpenbgpdNeighbor>
  readonly routes?: ReadonlyArray<OpenbgpdRoute>
  /** bgpd -v (log every state change and message detail). Default true. */
  readonly verbose?: boolean
}

/** `bgpctl -j show neighbor X` capability object (the config, the session's local/remote, or negotiated). */
export interface OpenbgpdCapabilities {
  readonly as4byte?: boolean
  readonly refresh?: boolean
  readonly enhanced_refresh?: boolean
  /** e.g. "IPv4 unicast" */
  readonly multiprotocol?: ReadonlyArray<string>
  readonly graceful_restart?: {
    readonly eor?: boolean
    readonly restart?: boolean
    readonly timeout?: number
    readonly protocols?: ReadonlyArray<{ readonly family: string; readonly preserved: boolean }>
  }
  /** mode: "recv" | "send" | "bidir" */
  readonly "add-path"?: ReadonlyArray<{ readonly family: string; readonly mode: string }>
}

export interface OpenbgpdNeighborView {
  /** "Idle", "Connect", "Active", "OpenSent", "OpenConfirm", "Established" */
  readonly state: string
  readonly raw: any
  /** Present while a session is up. */
  readonly session?: {
    readonly holdtime: number
    readonly keepalive: number
    readonly local: { readonly address: string; readonly port: number; readonly capabilities: OpenbgpdCapabilities }
    readonly remote: { readonly address: string; readonly port: number; readonly capabilities: OpenbgpdCapabilities }
    readonly capabilities: OpenbgpdCapabilities
  }
  readonly lastShutdownReason?: string
  readonly lastErrorReceived?: string
  readonly lastErrorSent?: string
}

export interface Openbgpd {
  readonly name: string
  readonly dir: string
  readonly socket: string
  readonly configPath: string
  readonly options: OpenbgpdOptions
  /** The current parent process (changes on restart). */
  readonly process: () => Started
  /** bgpd's log since the first start (all runs). */
  readonly log: () => string
  /** Runs `bgpctl -s SOCK ...args` and returns stdout. */
  readonly bgpctl: (args: ReadonlyArray<string>, timeoutMs?: number) => Promise<string>
  readonly neighbor: (address: string) => Promise<OpenbgpdNeighborView>
  readonly waitState: (address: string, state: string, timeoutMs?: number) => Promise<OpenbgpdNeighborView>
  /** Pids of the children of the current parent, by role. */
  readonly children: () => { readonly rde?: number; readonly se?: number; readonly rtr?: number; readonly all: ReadonlyArray<number> }
  /** SIGSTOP / SIGCONT the session engine: sessions freeze (no reads, no KEEPALIVEs, no bgpctl). */
  readonly suspend: () => void
  readonly resume: () => void
  /** Stops the parent and makes sure its children are gone too. */
  readonly stop: () => Promise<void>
  /** Starts bgpd again with the same config after `stop`. */
  readonly restart: () => Promise<void>
}

// -------------------------------------------------------------------------------------------------
// Config

const familyWords: Record<OpenbgpdFamily, string> = { "ipv4-unicast": "IPv4", "ipv6-unicast": "IPv6" }

export const openbgpdConfig = (o: OpenbgpdOptions, socket: string): string => {
  const yn = (b: boolean) => (b ? "yes" : "no")
  const lines: string[] = [
    `AS ${o.as}`,
    `router-id ${o.routerId}`,
    `socket "${socket}"`,
    `listen on ${o.address}${o.port === undefined ? "" : ` port ${o.port}`}`,
    // The Debian build never touches the kernel FIB; keep the config right for builds that do.
    "fib-update no",
    "nexthop qualify via default",
    "rde evaluate all",
    `connect-retry ${o.connectRetry ?? 1}`,
    `holdtime ${o.holdTime ?? 90}`
  ]
  for (const n of o.neighbors) {
    const families = n.families ?? ["ipv4-unicast", "ipv6-unicast"]
    lines.push(`neighbor ${n.address} {`, `  remote-as ${n.remoteAs}`, `  local-address ${n.localAddress ?? o.address}`)
    if (n.description !== undefined) lines.push(`  descr "${n.description}"`)
    if (n.port !== undefined) lines.push(`  port ${n.port}`)
    if (n.passive === true) lines.push("  passive")
    if (n.down === true) lines.push("  down")
    if (n.holdTime !== undefined) lines.push(`  holdtime ${n.holdTime}`)
    if (n.minHoldTime !== undefined) lines.push(`  holdtime min ${n.minHoldTime}`)
    for (const f of ["ipv4-unicast", "ipv6-unicast"] as const) {
      lines.push(`  announce ${familyWords[f]} ${families.includes(f) ? "unicast" : "none"}`)
    }
    if (n.addPath !== undefined) {
      lines.push(`  announce add-path recv ${yn(n.addPath.receive)}`, `  announce add-path send ${n.addPath.send}`)
    }
    lines.push(`  announce restart ${yn(n.gracefulRestart ?? true)}`)
    if (n.routeRefresh !== undefined) lines.push(`  announce refresh ${yn(n.routeRefresh)}`)
    if (n.enhancedRouteRefresh !== undefined) lines.push(`  announce enhanced refresh ${yn(n.enhancedRouteRefresh)}`)
    if (n.as4 !== undefined) lines.push(`  announce as-4byte ${yn(n.as4)}`)
    if (n.routeReflectorClient === true) lines.push(`  route-reflector${n.clusterId === undefined ? "" : ` ${n.clusterId}`}`)
    lines.push("}")
  }
  for (const r of o.routes ?? []) {
    const set: string[] = []
    if (r.nextHop !== undefined) set.push(`nexthop ${r.nextHop}`)
    for (const c of r.communities ?? []) set.push(`community ${c}`)
    for (const c of r.largeCommunities ?? []) set.push(`large-community ${c}`)
    if (r.localPref !== undefined) set.push(`localpref ${r.localPref}`)
    if (r.med !== undefined) set.push(`med ${r.med}`)
    lines.push(`network ${r.prefix}${set.length === 0 ? "" : ` set { ${set.join(" ")} }`}`)
  }
  // Filters default to deny.
  lines.push("allow from any", "allow to any")
  return lines.join("\n") + "\n"
}

// -------------------------------------------------------------------------------------------------
// Processes

const procComm = (pid: number): string | undefined => {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim()
  } catch {
    return undefined
  }
}

/** Children of `parent` (ppid from /proc/PID/stat) with their argv. */
const childrenOf = (parent: number): Array<{ pid: number; argv: string[] }> => {
  const out: Array<{ pid: number; argv: string[] }> = []
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue
    try {
      const stat = readFileSync(`/proc/${e}/stat`, "utf8")
      // Fields after the parenthesised comm: state, ppid, ...
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1])
      if (ppid !== parent) continue
      const argv = readFileSync(`/proc/${e}/cmdline`, "utf8").split("\0").filter((x) => x.length > 0)
      out.push({ pid: Number(e), argv })
    } catch {
      // gone meanwhile
    }
  }
  return out
}

/** Signals a pid only while it is still a bgpd process. */
const signalBgpd = (pid: number, sig: NodeJS.Signals): void => {
  if (procComm(pid) !== "bgpd") return
  try {
    process.kill(pid, sig)
  } catch {
    // exited meanwhile
  }
}

// Every child pid any instance in this test file ever had: `stopAllOpenbgpd` makes sure none survives.
const knownChildren = new Set<number>()

/** Ends every OpenBGPD child this file started that is still around (SIGCONT + SIGKILL). For afterAll. */
export const killLeftoverChildren = (): void => {
  for (const pid of knownChildren) {
    signalBgpd(pid, "SIGCONT")
    signalBgpd(pid, "SIGKILL")
  }
  knownChildren.clear()
}

/**
 * bgpctl prints strings (descriptions, shutdown reasons) through vis(3), also in JSON: a non-ASCII byte
 * comes out as an octal escape (`\342\200\224`), which is not JSON. Turns runs of them back into UTF-8.
 */
export const unvisJson = (text: string): string =>
  text.replace(/(?:\\[0-3][0-7]{2})+|\\\\/g, (m) =>
    m === "\\\\"
      ? m
      : JSON.stringify(Buffer.from(m.split("\\").slice(1).map((o) => parseInt(o, 8))).toString("utf8")).slice(1, -1))

// -------------------------------------------------------------------------------------------------
// Running

export const startOpenbgpd = async (options: OpenbgpdOptions): Promise<Openbgpd> => {
  const dir = runDir(`openbgpd-${options.name}`)
  const socket = join(dir, "bgpd.sock")
  const configPath = join(dir, "bgpd.conf")
  writeFileSync(configPath, openbgpdConfig(options, socket))
  const check = await run(BGPD, ["-n", "-f", configPath], { allowFail: true })
  if (check.code !== 0) throw new Error(`bgpd rejected ${configPath}: ${check.stderr}${check.stdout}`)
  let proc: Started | undefined
  let previousLogs = ""

  const bgpctl = async (args: ReadonlyArray<string>, timeoutMs = 5000): Promise<string> =>
    (await run(BGPCTL, ["-s", socket, ...args], { timeoutMs })).stdout

  const children = () => {
    if (proc === undefined || proc.child.exitCode !== null) return { all: [] }
    const list = childrenOf(proc.pid).filter((c) => c.argv[0]?.endsWith("bgpd") === true)
    for (const c of list) knownChildren.add(c.pid)
    const role = (flag: string) => list.find((c) => c.argv.includes(flag))?.pid
    const rde = role("-R")
    const se = role("-S")
    const rtr = role("-T")
    return {
      ...(rde === undefined ? {} : { rde }),
      ...(se === undefined ? {} : { se }),
      ...(rtr === undefined ? {} : { rtr }),
      all: list.map((c) => c.pid)
    }
  }

  const launch = async () => {
    // A stale socket from an earlier run would answer nothing.
    if (existsSync(socket)) rmSync(socket)
    const p = start(`openbgpd-${options.name}`, "unshare", [
      "-m", "--propagation", "private",
      "sh", "-c", "mount -t tmpfs -o mode=0755,size=1m obgpdrun /run && mkdir -m 0755 /run/openbgpd && exec \"$@\"",
      "obgpd",
      BGPD, "-d", ...(options.verbose === false ? [] : ["-v"]), "-f", configPath
    ], { comm: "bgpd" })
    proc = p
    await waitFor(`openbgpd ${options.name} control socket`, async () => {
      if (p.child.exitCode !== null) throw new Error(`bgpd exited ${p.child.exitCode}: ${p.log()}`)
      if (!existsSync(socket)) return undefined
      return (await bgpctl(["show", "summary"], 2000)).includes("Neighbor") ? true : undefined
    }, 10_000, 100)
    // Record the children now, so cleanup finds them even if the parent dies first.
    children()
  }

  const neighbor = async (address: string): Promise<OpenbgpdNeighborView> => {
    const raw = JSON.parse(unvisJson(await bgpctl(["-j", "show", "neighbor", address])))
    const n = raw.neighbors?.[0]
    if (n === undefined) throw new Error(`openbgpd ${options.name}: no neighbor ${address}`)
    return {
      state: n.state,
      raw: n,
      ...(n.session === undefined ? {} : { session: n.session }),
      ...(n.last_shutdown_reason === undefined ? {} : { lastShutdownReason: n.last_shutdown_reason }),
      ...(n.last_error_received === undefined ? {} : { lastErrorReceived: n.last_error_received }),
      ...(n.last_error_sent === undefined ? {} : { lastErrorSent: n.last_error_sent })
    }
  }

  const stop = async () => {
    const p = proc
    if (p === undefined) return
    const kids = children().all
    // Stopped children would never act on the parent's SIGTERM.
    for (const pid of kids) signalBgpd(pid, "SIGCONT")
    await p.stop()
    // The parent waits for its children; make sure, then kill what is left.
    await waitFor(`openbgpd ${options.name} children to exit`, () => (kids.every((pid) => procComm(pid) !== "bgpd") ? true : undefined), 3000, 50)
      .catch(() => kids.forEach((pid) => signalBgpd(pid, "SIGKILL")))
    for (const pid of kids) knownChildren.delete(pid)
  }

  await launch()
  return {
    name: options.name,
    dir,
    socket,
    configPath,
    options,
    process: () => proc!,
    log: () => previousLogs + (proc?.log() ?? ""),
    bgpctl,
    neighbor,
    waitState: (address, state, timeoutMs = 15_000) =>
      waitFor(`openbgpd ${options.name}: ${address} ${state}`, async () => {
        const v = await neighbor(address)
        return v.state === state ? v : undefined
      }, timeoutMs),
    children,
    suspend: () => {
      const se = children().se
      if (se === undefined) throw new Error(`openbgpd ${options.name}: no session engine`)
      signalBgpd(se, "SIGSTOP")
    },
    resume: () => {
      const se = children().se
      if (se !== undefined) signalBgpd(se, "SIGCONT")
    },
    stop,
    restart: async () => {
      if (proc !== undefined) {
        await stop()
        previousLogs += proc.log()
      }
      await launch()
    }
  }
}
