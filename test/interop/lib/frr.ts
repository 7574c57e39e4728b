/**
 * FRR bgpd as an interop peer: writes a bgpd.conf from a small spec, runs bgpd standalone (no zebra,
 * `-Z -S`) on a loopback address as a tracked process, and reads its state with `vtysh ... json`.
 *
 * Run choices (see /work/shared/notes/real-routers.md): `-l ADDR -p PORT` so every router has its own
 * 127.x:179; a private mount namespace with a tmpfs on /var/tmp so bgpd's crash-log directory
 * (/var/tmp/frr/bgpd.<pid>) never lands on the host; `no bgp ebgp-requires-policy` (else FRR 8.4
 * exchanges nothing over eBGP); `bgp allow-martian-nexthop` (127/8 next hops); `timers connect 1`.
 */
import { existsSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import type { Started } from "./process.ts"
import { removeDir, run, runDir, start, waitFor } from "./process.ts"

export const BGPD = "/usr/lib/frr/bgpd"
export const VTYSH = "/usr/bin/vtysh"

export interface FrrFamily {
  readonly family: "ipv4" | "ipv6"
  /** RFC 7911 send side: all paths, or the best path per neighbor AS. FRR always offers to receive. */
  readonly addPathTx?: "all" | "bestpath-per-as"
  readonly nextHopSelf?: boolean
  /** Route-map names applied in/out (define them with `extra`). */
  readonly routeMapIn?: string
  readonly routeMapOut?: string
  /** Raw lines for this neighbor inside the address-family block. */
  readonly extra?: ReadonlyArray<string>
}

export interface FrrNeighbor {
  readonly address: string
  readonly port?: number
  readonly as: number
  /** `neighbor X local-as N no-prepend replace-as`: a different AS on this session. */
  readonly localAs?: number
  readonly passive?: boolean
  readonly holdTime?: number
  /** Default holdTime / 3 when holdTime is set. */
  readonly keepaliveTime?: number
  /** `timers connect`, seconds. Default 1. */
  readonly connectRetryTime?: number
  /** Families to activate; default IPv4 and IPv6 unicast. */
  readonly families?: ReadonlyArray<FrrFamily>
  /** RFC 4724 per neighbor: on (`graceful-restart`), helper only, or disabled. */
  readonly gracefulRestart?: "on" | "helper" | "disable"
  /** RFC 4456: a route-reflector client (in every family). */
  readonly rrClient?: boolean
  /** RFC 8950 (`capability extended-nexthop`). */
  readonly extendedNextHop?: boolean
  readonly shutdown?: boolean
  /** Raw `neighbor` lines (without the "neighbor ADDR" prefix) under `router bgp`. */
  readonly extra?: ReadonlyArray<string>
}

export interface FrrStaticRoute {
  readonly prefix: string
  readonly communities?: ReadonlyArray<readonly [number, number]>
  readonly largeCommunities?: ReadonlyArray<readonly [number, number, number]>
  readonly localPref?: number
  readonly med?: number
  /** IPv4 or IPv6 next hop to set (a route-map `set ip next-hop` / `set ipv6 next-hop global`). */
  readonly nextHop?: string
  /** ORIGIN to set (`set origin`); FRR's default for `network` routes is IGP. */
  readonly origin?: "igp" | "egp" | "incomplete"
}

export interface FrrSpec {
  readonly name: string
  readonly routerId: string
  readonly as: number
  /** Listen and source address. */
  readonly address: string
  /** Listen port. Default 179. */
  readonly port?: number
  readonly neighbors: ReadonlyArray<FrrNeighbor>
  /** Routes to originate with `network` statements (import-check is off: no RIB route needed). */
  readonly staticRoutes?: ReadonlyArray<FrrStaticRoute>
  /** Global graceful restart (`bgp graceful-restart` and its restart time). */
  readonly gracefulRestart?: boolean | { readonly restartTime: number }
  readonly clusterId?: string
  /** Raw lines under `router bgp`, and raw top-level lines after it (route-maps, prefix-lists). */
  readonly extraBgp?: ReadonlyArray<string>
  readonly extra?: ReadonlyArray<string>
}

const defaultFamilies: ReadonlyArray<FrrFamily> = [{ family: "ipv4" }, { family: "ipv6" }]

const staticMapName = (i: number) => `STARLING_ORIGINATE_${i}`

/** The bgpd.conf text for a spec. */
export const frrConfig = (spec: FrrSpec): string => {
  const l: string[] = ["frr defaults traditional", `hostname ${spec.name}`, "!", `router bgp ${spec.as}`]
  const b = (x: string) => l.push(` ${x}`)
  b(`bgp router-id ${spec.routerId}`)
  b("no bgp default ipv4-unicast")
  b("no bgp network import-check")
  b("no bgp ebgp-requires-policy")
  b("bgp allow-martian-nexthop")
  b("bgp log-neighbor-changes")
  if (spec.clusterId !== undefined) b(`bgp cluster-id ${spec.clusterId}`)
  if (spec.gracefulRestart !== undefined && spec.gracefulRestart !== false) {
    b("bgp graceful-restart")
    if (typeof spec.gracefulRestart === "object") b(`bgp graceful-restart restart-time ${spec.gracefulRestart.restartTime}`)
  }
  for (const x of spec.extraBgp ?? []) b(x)
  for (const n of spec.neighbors) {
    const nb = (x: string) => b(`neighbor ${n.address} ${x}`)
    nb(`remote-as ${n.as}`)
    nb(`update-source ${spec.address}`)
    if (n.port !== undefined) nb(`port ${n.port}`)
    if (n.localAs !== undefined) nb(`local-as ${n.localAs} no-prepend replace-as`)
    nb(`timers connect ${n.connectRetryTime ?? 1}`)
    if (n.holdTime !== undefined) nb(`timers ${n.keepaliveTime ?? Math.max(1, Math.floor(n.holdTime / 3))} ${n.holdTime}`)
    if (n.passive === true) nb("passive")
    if (n.gracefulRestart === "on") nb("graceful-restart")
    else if (n.gracefulRestart === "helper") nb("graceful-restart-helper")
    else if (n.gracefulRestart === "disable") nb("graceful-restart-disable")
    if (n.extendedNextHop === true) nb("capability extended-nexthop")
    if (n.shutdown === true) nb("shutdown")
    for (const x of n.extra ?? []) nb(x)
  }
  const routes = spec.staticRoutes ?? []
  for (const family of ["ipv4", "ipv6"] as const) {
    const neighbors = spec.neighbors.flatMap((n) => (n.families ?? defaultFamilies).filter((f) => f.family === family).map((f) => [n, f] as const))
    const mine = routes.map((r, i) => [r, i] as const).filter(([r]) => r.prefix.includes(":") === (family === "ipv6"))
    if (neighbors.length === 0 && mine.length === 0) continue
    b(`address-family ${family} unicast`)
    for (const [r, i] of mine) b(` network ${r.prefix}${routeMapNeeded(r) ? ` route-map ${staticMapName(i)}` : ""}`)
    for (const [n, f] of neighbors) {
      const nb = (x: string) => b(` neighbor ${n.address} ${x}`)
      nb("activate")
      if (f.addPathTx === "all") nb("addpath-tx-all-paths")
      else if (f.addPathTx === "bestpath-per-as") nb("addpath-tx-bestpath-per-AS")
      if (f.nextHopSelf === true) nb("next-hop-self")
      if (n.rrClient === true) nb("route-reflector-client")
      if (f.routeMapIn !== undefined) nb(`route-map ${f.routeMapIn} in`)
      if (f.routeMapOut !== undefined) nb(`route-map ${f.routeMapOut} out`)
      for (const x of f.extra ?? []) nb(x)
    }
    b("exit-address-family")
  }
  l.push("!")
  routes.forEach((r, i) => {
    if (!routeMapNeeded(r)) return
    l.push(`route-map ${staticMapName(i)} permit 10`)
    const comms = (r.communities ?? []).map(([a, c]) => `${a}:${c}`)
    if (comms.length > 0) l.push(` set community ${comms.join(" ")}`)
    const large = (r.largeCommunities ?? []).map(([a, c, d]) => `${a}:${c}:${d}`)
    if (large.length > 0) l.push(` set large-community ${large.join(" ")}`)
    if (r.localPref !== undefined) l.push(` set local-preference ${r.localPref}`)
    if (r.med !== undefined) l.push(` set metric ${r.med}`)
    if (r.nextHop !== undefined) l.push(r.nextHop.includes(":") ? ` set ipv6 next-hop global ${r.nextHop}` : ` set ip next-hop ${r.nextHop}`)
    if (r.origin !== undefined) l.push(` set origin ${r.origin}`)
    l.push("!")
  })
  for (const x of spec.extra ?? []) l.push(x)
  l.push("")
  return l.join("\n")
}

const routeMapNeeded = (r: FrrStaticRoute) =>
  (r.communities?.length ?? 0) > 0 || (r.largeCommunities?.length ?? 0) > 0 || r.localPref !== undefined || r.med !== undefined || r.nextHop !== undefined ||
  r.origin !== undefined

// -------------------------------------------------------------------------------------------------
// The running router

/** `show bgp neighbors ADDR json`, for one neighbor (FRR's own key names; loosely typed on purpose). */
export type FrrNeighborJson = Record<string, unknown> & {
  readonly bgpState?: string
  readonly remoteAs?: number
  readonly localAs?: number
  readonly remoteRouterId?: string
  readonly bgpTimerHoldTimeMsecs?: number
  readonly bgpTimerKeepAliveIntervalMsecs?: number
  readonly neighborCapabilities?: Record<string, unknown>
  readonly lastNotificationReason?: string
  readonly lastShutdownDescription?: string
  readonly lastResetDueTo?: string
  readonly connectionsEstablished?: number
  readonly connectionsDropped?: number
}

export interface Frr {
  readonly spec: FrrSpec
  readonly dir: string
  readonly configFile: string
  readonly process: () => Started | undefined
  /** Runs vtysh with each argument as a `-c` command; stdout. */
  readonly vtysh: (...commands: ReadonlyArray<string>) => Promise<string>
  /** Runs one command ending in `json` and parses it. */
  readonly json: <A = unknown>(command: string) => Promise<A>
  readonly neighbor: (address: string) => Promise<FrrNeighborJson>
  /** Polls the neighbor until `check` accepts it. */
  readonly waitNeighbor: (address: string, check: (n: FrrNeighborJson) => boolean, timeoutMs?: number, what?: string) => Promise<FrrNeighborJson>
  /** Output of every bgpd run of this instance (`--log stdout`). */
  readonly log: () => string
  readonly start: () => Promise<void>
  /** SIGTERM (bgpd sends Cease to its peers), SIGKILL after a grace period. */
  readonly stop: () => Promise<void>
  readonly kill: () => Promise<void>
  readonly pause: () => void
  readonly resume: () => void
  /** Stops the router and removes its run directory. */
  readonly dispose: () => Promise<void>
}

export const startFrr = async (spec: FrrSpec): Promise<Frr> => {
  if (!existsSync(BGPD) || !existsSync(VTYSH)) throw new Error("FRR is not installed (apt-get install frr)")
  const dir = runDir(`frr-${spec.name}`)
  const configFile = join(dir, "bgpd.conf")
  writeFileSync(configFile, frrConfig(spec))
  let proc: Started | undefined
  let earlierLogs = ""

  const vtysh = async (...commands: ReadonlyArray<string>) =>
    (await run(VTYSH, ["--vty_socket", dir, ...commands.flatMap((c) => ["-c", c])], { timeoutMs: 10_000 })).stdout
  const json = async <A>(command: string): Promise<A> => JSON.parse(await vtysh(command)) as A
  const neighbor = async (address: string): Promise<FrrNeighborJson> => {
    const all = await json<Record<string, FrrNeighborJson>>(`show bgp neighbors ${address} json`)
    const n = all[address]
    if (n === undefined) throw new Error(`FRR ${spec.name}: no neighbor ${address}: ${JSON.stringify(all)}`)
    return n
  }

  const f: Frr = {
    spec,
    dir,
    configFile,
    process: () => proc,
    vtysh,
    json,
    neighbor,
    waitNeighbor: async (address, check, timeoutMs = 20_000, what = "a state") => {
      let last: FrrNeighborJson | undefined
      try {
        return await waitFor(`FRR ${spec.name} neighbor ${address}: ${what}`, async () => {
          const n = await neighbor(address)
          last = n
          return check(n) ? n : undefined
        }, timeoutMs, 150)
      } catch (e) {
        throw new Error(`${e instanceof Error ? e.message : String(e)}\nlast seen: ${JSON.stringify(last)}\nlog:\n${f.log().slice(-3000)}`)
      }
    },
    log: () => earlierLogs + (proc?.log() ?? ""),
    start: async () => {
      if (proc !== undefined) throw new Error(`FRR ${spec.name} is already running`)
      // A private mount namespace with its own /var/tmp; `exec` keeps the pid we track as bgpd's.
      const p = start(`frr-${spec.name}`, "unshare", [
        "-m", "--propagation", "private", "sh", "-c", 'mount -t tmpfs frrtmp /var/tmp && exec "$@"', "frr",
        BGPD, "-f", configFile, "-i", join(dir, "bgpd.pid"), "--vty_socket", dir, "-Z", "-S",
        "-l", spec.address, "-p", String(spec.port ?? 179), "-P", "0", "--log", "stdout", "--log-level", "info"
      ], { comm: "bgpd" })
      proc = p
      let ready = false
      try {
        await Promise.race([
          waitFor(`FRR ${spec.name} vty`, async () => {
            const r = await run(VTYSH, ["--vty_socket", dir, "-c", "show bgp summary json"], { allowFail: true, timeoutMs: 5000 })
            return r.code === 0 && r.stdout.trim().startsWith("{") ? true : undefined
          }, 15_000, 100),
          p.exited.then((code) => {
            if (!ready) throw new Error(`bgpd ${spec.name} exited (${code}) while starting: ${p.log()}`)
          })
        ])
      } finally {
        ready = true
      }
      const bad = /(No such command|Unknown command|Error|% )[^\n]*line \d+[^\n]*/i.exec(p.log())
      if (bad !== null) throw new Error(`bgpd.conf rejected a line: ${bad[0]}\n${frrConfig(spec)}`)
    },
    stop: async () => {
      const p = proc
      proc = undefined
      if (p === undefined) return
      await p.stop()
      earlierLogs += p.log()
    },
    kill: async () => {
      const p = proc
      proc = undefined
      if (p === undefined) return
      p.signal("SIGKILL")
      await p.exited
      await p.stop()
      earlierLogs += p.log()
    },
    pause: () => proc?.signal("SIGSTOP"),
    resume: () => proc?.signal("SIGCONT"),
    dispose: async () => {
      await f.stop()
      removeDir(dir)
    }
  }
  await f.start()
  return f
}
