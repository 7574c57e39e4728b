/**
 * BIRD 2 as an interop peer: writes a config from a small spec, runs `bird -f` as a tracked process on
 * a loopback address, talks to it over `birdc`, and parses `show protocols all` into plain data.
 *
 * Config choices (see /work/shared/notes/real-routers.md): `strict bind yes` so several routers can
 * listen on port 179 of their own 127.x address; short `connect delay time` / `connect retry time` /
 * `error wait time` (BIRD waits 60 s after any NOTIFICATION by default); import/export filters always
 * explicit (BIRD refuses eBGP routes without them, RFC 8212).
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import type { Started } from "./process.ts"
import { removeDir, run, runDir, start, waitFor, which } from "./process.ts"

export const BIRD = "/usr/sbin/bird"
export const BIRDC = "/usr/sbin/birdc"

export interface BirdChannel {
  readonly family: "ipv4" | "ipv6"
  /** RFC 7911 ADD-PATH: receive, send, or both. */
  readonly addPath?: "rx" | "tx" | "on"
  /** Import filter: "all", "none", or a filter expression such as "where net ~ [10.0.0.0/8+]". Default "all". */
  readonly import?: string
  /** Export filter, as for `import`. Default "all". */
  readonly export?: string
  /** Next hop for exported routes: "self", or an address (`next hop address`). */
  readonly nextHop?: string
  /** RFC 8950 extended next hop (IPv4 NLRI with IPv6 next hops). */
  readonly extendedNextHop?: boolean
  /** Raw lines inside the channel block. */
  readonly extra?: ReadonlyArray<string>
}

export interface BirdNeighbor {
  /** Protocol name (letters, digits, underscores; not a BIRD keyword). */
  readonly name: string
  readonly address: string
  readonly port?: number
  readonly as: number
  /** Our AS on this session (default: the router's). */
  readonly localAs?: number
  /** Never connect; wait for the neighbor. */
  readonly passive?: boolean
  readonly holdTime?: number
  readonly keepaliveTime?: number
  /** Seconds between connect attempts (BIRD default 120). Default 2. */
  readonly connectRetryTime?: number
  /** Seconds before the first connect attempt (BIRD default 5). Default 1. */
  readonly connectDelayTime?: number
  /** Wait after an error before retrying: first and cap, seconds (BIRD default 60, 300). Default 1, 10. */
  readonly errorWaitTime?: readonly [number, number]
  /** Channels; default IPv4 and IPv6 unicast with import/export all. */
  readonly channels?: ReadonlyArray<BirdChannel>
  /** RFC 8654 (BIRD default off). */
  readonly extendedMessages?: boolean
  /** RFC 4724: true, or with a restart time. */
  readonly gracefulRestart?: boolean | { readonly restartTime: number }
  /** RFC 9494 (BIRD default on when graceful restart is aware; "off" disables). */
  readonly longLivedGracefulRestart?: boolean
  /** RFC 2918 (BIRD default on). */
  readonly routeRefresh?: boolean
  /** RFC 7313 (BIRD default on). */
  readonly enhancedRouteRefresh?: boolean
  /** RFC 4456: this neighbor is a route-reflector client of ours. */
  readonly rrClient?: boolean
  readonly rrClusterId?: string
  /**
   * eBGP over loopback addresses is never "directly connected" for BIRD ("Invalid remote address"), so
   * eBGP neighbors get `multihop` unless this is false; a number sets the TTL.
   */
  readonly multihop?: boolean | number
  /** Start with the protocol disabled (`birdc enable NAME` later). */
  readonly disabled?: boolean
  /** Raw lines inside the protocol block. */
  readonly extra?: ReadonlyArray<string>
}

export interface BirdStaticRoute {
  readonly prefix: string
  /** A next hop address (`via`); default `blackhole`. */
  readonly via?: string
  readonly communities?: ReadonlyArray<readonly [number, number]>
  readonly largeCommunities?: ReadonlyArray<readonly [number, number, number]>
  readonly localPref?: number
  readonly med?: number
  /** ORIGIN to set (`bgp_origin`). */
  readonly origin?: "igp" | "egp" | "incomplete"
}

export interface BirdSpec {
  /** Instance name (run directory, logs). */
  readonly name: string
  readonly routerId: string
  readonly as: number
  /** Listen and source address. */
  readonly address: string
  /** Listen port. Default 179. */
  readonly port?: number
  readonly neighbors: ReadonlyArray<BirdNeighbor>
  /** Routes to originate: one `protocol static` per family (export them with a channel `export`). */
  readonly staticRoutes?: ReadonlyArray<BirdStaticRoute>
  /** Raw top-level lines. */
  readonly extra?: ReadonlyArray<string>
}

const defaultChannels: ReadonlyArray<BirdChannel> = [{ family: "ipv4" }, { family: "ipv6" }]

const onOff = (b: boolean) => (b ? "on" : "off")

const channelBlock = (c: BirdChannel, n: BirdNeighbor, spec: BirdSpec): string[] => {
  const lines = [`import ${c.import ?? "all"};`, `export ${c.export ?? "all"};`]
  if (c.addPath !== undefined) lines.push(`add paths ${c.addPath};`)
  // An IPv6 channel on an IPv4 session needs some IPv6 next hop to export anything.
  const nextHop = c.nextHop ?? (c.family === "ipv6" && !n.address.includes(":") ? `::ffff:${spec.address}` : undefined)
  if (nextHop === "self") lines.push("next hop self;")
  else if (nextHop !== undefined) lines.push(`next hop address ${nextHop};`)
  if (c.extendedNextHop === true) lines.push("extended next hop on;")
  for (const x of c.extra ?? []) lines.push(x)
  return [`  ${c.family} {`, ...lines.map((l) => `    ${l}`), "  };"]
}

const protocolBlock = (n: BirdNeighbor, spec: BirdSpec): string[] => {
  const l: string[] = [
    `local ${spec.address} port ${spec.port ?? 179} as ${n.localAs ?? spec.as};`,
    `neighbor ${n.address} port ${n.port ?? 179} as ${n.as};`,
    "strict bind yes;",
    `connect delay time ${n.connectDelayTime ?? 1};`,
    `connect retry time ${n.connectRetryTime ?? 2};`,
    `error wait time ${(n.errorWaitTime ?? [1, 10]).join(", ")};`
  ]
  const multihop = n.multihop ?? n.as !== (n.localAs ?? spec.as)
  if (typeof multihop === "number") l.push(`multihop ${multihop};`)
  else if (multihop) l.push("multihop;")
  if (n.passive === true) l.push("passive on;")
  if (n.holdTime !== undefined) l.push(`hold time ${n.holdTime};`)
  if (n.keepaliveTime !== undefined) l.push(`keepalive time ${n.keepaliveTime};`)
  if (n.extendedMessages !== undefined) l.push(`enable extended messages ${onOff(n.extendedMessages)};`)
  if (n.gracefulRestart !== undefined) {
    l.push(`graceful restart ${onOff(n.gracefulRestart !== false)};`)
    if (typeof n.gracefulRestart === "object") l.push(`graceful restart time ${n.gracefulRestart.restartTime};`)
  }
  if (n.longLivedGracefulRestart !== undefined) l.push(`long lived graceful restart ${onOff(n.longLivedGracefulRestart)};`)
  if (n.routeRefresh !== undefined) l.push(`enable route refresh ${onOff(n.routeRefresh)};`)
  if (n.enhancedRouteRefresh !== undefined) l.push(`enable enhanced route refresh ${onOff(n.enhancedRouteRefresh)};`)
  if (n.rrClient === true) l.push("rr client;")
  if (n.rrClusterId !== undefined) l.push(`rr cluster id ${n.rrClusterId};`)
  if (n.disabled === true) l.push("disabled;")
  for (const x of n.extra ?? []) l.push(x)
  return [
    `protocol bgp ${n.name} {`,
    ...l.map((x) => `  ${x}`),
    ...(n.channels ?? defaultChannels).flatMap((c) => channelBlock(c, n, spec)),
    "}"
  ]
}

const staticBlocks = (routes: ReadonlyArray<BirdStaticRoute>): string[] => {
  const out: string[] = []
  for (const family of ["ipv4", "ipv6"] as const) {
    const mine = routes.filter((r) => r.prefix.includes(":") === (family === "ipv6"))
    if (mine.length === 0) continue
    out.push(`protocol static static_${family} {`, `  ${family};`)
    for (const r of mine) {
      const sets: string[] = []
      for (const [a, b] of r.communities ?? []) sets.push(`bgp_community.add((${a}, ${b}));`)
      for (const [a, b, c] of r.largeCommunities ?? []) sets.push(`bgp_large_community.add((${a}, ${b}, ${c}));`)
      if (r.localPref !== undefined) sets.push(`bgp_local_pref = ${r.localPref};`)
      if (r.med !== undefined) sets.push(`bgp_med = ${r.med};`)
      if (r.origin !== undefined) sets.push(`bgp_origin = ORIGIN_${r.origin.toUpperCase()};`)
      const target = r.via === undefined ? "blackhole" : `via ${r.via}`
      out.push(`  route ${r.prefix} ${target}${sets.length === 0 ? "" : ` { ${sets.join(" ")} }`};`)
    }
    out.push("}")
  }
  return out
}

/** The bird.conf text for a spec; the log goes to `logFile`. */
export const birdConfig = (spec: BirdSpec, logFile: string): string =>
  [
    `log "${logFile}" all;`,
    `router id ${spec.routerId};`,
    ...(spec.extra ?? []),
    "protocol device { }",
    ...staticBlocks(spec.staticRoutes ?? []),
    ...spec.neighbors.flatMap((n) => protocolBlock(n, spec)),
    ""
  ].join("\n")

// -------------------------------------------------------------------------------------------------
// `show protocols all` parsed

export interface BirdChannelInfo {
  readonly state: string
  readonly imported?: number
  readonly exported?: number
  readonly preferred?: number
  /** Every other "Key: value" line of the channel. */
  readonly fields: Readonly<Record<string, string>>
}

/** A capability list as BIRD prints it: capability name → its detail lines ("AF announced" → "ipv4 ipv6"). */
export type BirdCapabilities = Readonly<Record<string, Readonly<Record<string, string>>>>

export interface BirdProtocol {
  readonly name: string
  /** Protocol state: up, start, down, … */
  readonly state: string
  readonly info: string
  /** The last RFC 9003 shutdown communication received (BIRD keeps it after the session is back up). */
  readonly message?: string
  /** BGP state: Idle, Connect, Active, OpenSent, OpenConfirm, Established, Passive, Down. */
  readonly bgpState?: string
  readonly neighborAs?: number
  readonly localAs?: number
  readonly neighborId?: string
  readonly lastError?: string
  readonly session?: string
  readonly holdTime?: number
  readonly keepaliveTime?: number
  readonly localCapabilities: BirdCapabilities
  readonly neighborCapabilities: BirdCapabilities
  readonly channels: Readonly<Record<string, BirdChannelInfo>>
  /** Every top-level "Key: value" line under "BGP state". */
  readonly fields: Readonly<Record<string, string>>
  readonly raw: string
}

const indentOf = (line: string) => line.length - line.trimStart().length
const keyValue = (line: string): [string, string] | undefined => {
  const m = /^\s*([^:]+?):\s*(.*?)\s*$/.exec(line)
  return m === null ? undefined : [m[1]!, m[2]!]
}

export const parseShowProtocolsAll = (out: string): BirdProtocol => {
  const lines = out.split("\n").filter((l) => l.trim() !== "" && !/^BIRD .* ready\.$/.test(l))
  const header = lines.findIndex((l) => l.startsWith("Name "))
  const first = lines[header + 1]
  if (header < 0 || first === undefined) throw new Error(`unexpected birdc output: ${out}`)
  const tokens = first.trim().split(/\s+/)
  const fields: Record<string, string> = {}
  const local: Record<string, Record<string, string>> = {}
  const neighbor: Record<string, Record<string, string>> = {}
  const channels: Record<string, { state: string; fields: Record<string, string>; imported?: number; exported?: number; preferred?: number }> = {}
  let message: string | undefined
  let capsTarget: Record<string, Record<string, string>> | undefined
  let capName: string | undefined
  let channel: string | undefined
  for (const line of lines.slice(header + 2)) {
    const ind = indentOf(line)
    const text = line.trim()
    if (ind === 2) {
      capsTarget = undefined
      const ch = /^Channel (\S+)/.exec(text)
      channel = ch === null ? undefined : ch[1]
      if (channel !== undefined) channels[channel] = { state: "", fields: {} }
      const kv = keyValue(line)
      if (ch === null && kv !== undefined) {
        if (kv[0] === "Message") message = kv[1]
        else fields[kv[0]] = kv[1]
      }
      continue
    }
    if (channel !== undefined) {
      const kv = keyValue(line)
      if (kv === undefined) continue
      const c = channels[channel]!
      if (kv[0] === "State") c.state = kv[1]
      else if (kv[0] === "Routes") {
        const m = /(\d+) imported, (?:(\d+) filtered, )?(\d+) exported, (\d+) preferred/.exec(kv[1])
        if (m !== null) {
          c.imported = Number(m[1])
          c.exported = Number(m[3])
          c.preferred = Number(m[4])
        }
      } else c.fields[kv[0]] = kv[1]
      continue
    }
    if (ind === 4) {
      capsTarget = text === "Local capabilities" ? local : text === "Neighbor capabilities" ? neighbor : undefined
      if (capsTarget === undefined) {
        const kv = keyValue(line)
        if (kv !== undefined) fields[kv[0]] = kv[1]
      }
      continue
    }
    if (capsTarget !== undefined && ind === 6) {
      capName = text
      capsTarget[capName] = {}
      continue
    }
    if (capsTarget !== undefined && capName !== undefined && ind >= 8) {
      const kv = keyValue(line)
      if (kv !== undefined) capsTarget[capName]![kv[0]] = kv[1]
    }
  }
  const timer = (v: string | undefined) => (v === undefined ? undefined : Number(v.split("/")[1]))
  const num = (v: string | undefined) => (v === undefined ? undefined : Number(v))
  const opt = <K extends string, V>(k: K, v: V | undefined) => (v === undefined ? {} : ({ [k]: v } as { [P in K]: V }))
  return {
    name: tokens[0]!,
    state: tokens[3] ?? "",
    info: tokens.slice(5).join(" "),
    ...opt("message", message),
    ...opt("bgpState", fields["BGP state"]),
    ...opt("neighborAs", num(fields["Neighbor AS"])),
    ...opt("localAs", num(fields["Local AS"])),
    ...opt("neighborId", fields["Neighbor ID"]),
    ...opt("lastError", fields["Last error"]),
    ...opt("session", fields["Session"]),
    ...opt("holdTime", timer(fields["Hold timer"])),
    ...opt("keepaliveTime", timer(fields["Keepalive timer"])),
    localCapabilities: local,
    neighborCapabilities: neighbor,
    channels,
    fields,
    raw: out
  }
}

// -------------------------------------------------------------------------------------------------
// `show route all` parsed

export interface BirdRoute {
  readonly prefix: string
  /** The route line after the prefix: "unreachable [ext_peer 19:51:26.664 from 127.66.6.1] * (100) [AS65010e]". */
  readonly summary: string
  /** "Key: value" lines: "BGP.as_path" → "65010 65010", "BGP.fa [t]" → "01 02 03 04" (unknown type 0xfa). */
  readonly attributes: Readonly<Record<string, string>>
}

/** Every path `show route all` lists (several per prefix when BIRD has several). */
export const parseShowRouteAll = (out: string): BirdRoute[] => {
  const routes: Array<{ prefix: string; summary: string; attributes: Record<string, string> }> = []
  let prefix: string | undefined
  for (const line of out.split("\n")) {
    if (line.trim() === "" || /^BIRD .* ready\.$/.test(line) || line.startsWith("Table ")) continue
    if (line.startsWith("\t")) {
      const kv = keyValue(line)
      const r = routes[routes.length - 1]
      if (kv !== undefined && r !== undefined) r.attributes[kv[0]] = kv[1]
      continue
    }
    if (!line.startsWith(" ")) {
      const m = /^(\S+)\s+(.*)$/.exec(line)
      if (m === null) continue
      prefix = m[1]!
      routes.push({ prefix, summary: m[2]!, attributes: {} })
    } else if (prefix !== undefined) routes.push({ prefix, summary: line.trim(), attributes: {} })
  }
  return routes
}

// -------------------------------------------------------------------------------------------------
// The running router

export interface Bird {
  readonly spec: BirdSpec
  readonly dir: string
  readonly configFile: string
  readonly socket: string
  /** The current process (changes on `restart`). */
  readonly process: () => Started | undefined
  readonly birdc: (...args: ReadonlyArray<string>) => Promise<string>
  readonly protocol: (name: string) => Promise<BirdProtocol>
  /** Polls `show protocols all NAME` until `check` accepts it. */
  readonly waitProtocol: (name: string, check: (p: BirdProtocol) => boolean, timeoutMs?: number, what?: string) => Promise<BirdProtocol>
  /** The log file (all starts of this instance). */
  readonly log: () => string
  /** Rewrites the config and runs `birdc configure`. */
  readonly reconfigure: (spec: BirdSpec) => Promise<void>
  /**
   * Starts BIRD (after `stop` / `kill`). `spec` rewrites the config first (what the router has after a
   * restart); `gracefulRecovery` runs `bird -R`: RFC 4724 restart with the Restart State and Forwarding
   * State bits set, as a router that kept its forwarding state across the restart.
   */
  readonly start: (opts?: { readonly spec?: BirdSpec; readonly gracefulRecovery?: boolean }) => Promise<void>
  /** SIGTERM (BIRD sends Cease to its peers and exits), SIGKILL after a grace period. */
  readonly stop: () => Promise<void>
  /** SIGKILL: no NOTIFICATION, sockets reset by the kernel. */
  readonly kill: () => Promise<void>
  readonly pause: () => void
  readonly resume: () => void
  /** Stops the router and removes its run directory. */
  readonly dispose: () => Promise<void>
}

export const startBird = async (initial: BirdSpec): Promise<Bird> => {
  if (!which("bird") || !which("birdc")) throw new Error("BIRD 2 is not installed (apt-get install bird2)")
  const dir = runDir(`bird-${initial.name}`)
  const configFile = join(dir, "bird.conf")
  const socket = join(dir, "bird.ctl")
  const logFile = join(dir, "bird.log")
  let spec = initial
  let proc: Started | undefined

  const write = async (s: BirdSpec) => {
    writeFileSync(configFile, birdConfig(s, logFile))
    const check = await run(BIRD, ["-p", "-c", configFile], { allowFail: true })
    if (check.code !== 0) throw new Error(`bird.conf rejected: ${check.stderr}${check.stdout}\n${birdConfig(s, logFile)}`)
  }
  const birdc = async (...args: ReadonlyArray<string>) => (await run(BIRDC, ["-s", socket, ...args], { timeoutMs: 10_000 })).stdout
  const protocol = async (name: string) => parseShowProtocolsAll(await birdc("show", "protocols", "all", name))

  const b: Bird = {
    get spec() {
      return spec
    },
    dir,
    configFile,
    socket,
    process: () => proc,
    birdc,
    protocol,
    waitProtocol: async (name, check, timeoutMs = 20_000, what = "a state") => {
      let last = ""
      try {
        return await waitFor(`BIRD ${spec.name}/${name}: ${what}`, async () => {
          const p = await protocol(name)
          last = p.raw
          return check(p) ? p : undefined
        }, timeoutMs, 100)
      } catch (e) {
        throw new Error(`${e instanceof Error ? e.message : String(e)}\nlast seen:\n${last}\nlog:\n${b.log().slice(-3000)}`)
      }
    },
    log: () => (existsSync(logFile) ? readFileSync(logFile, "utf8") : ""),
    reconfigure: async (s) => {
      spec = s
      await write(s)
      const out = await birdc("configure")
      if (!/Reconfigur/.test(out)) throw new Error(`birdc configure: ${out}`)
    },
    start: async (opts = {}) => {
      if (proc !== undefined) throw new Error(`BIRD ${spec.name} is already running`)
      if (opts.spec !== undefined) {
        spec = opts.spec
        await write(spec)
      }
      const p = start(`bird-${spec.name}`, BIRD, [
        "-f", "-c", configFile, "-s", socket, "-P", join(dir, "bird.pid"),
        ...(opts.gracefulRecovery === true ? ["-R"] : [])
      ])
      proc = p
      let ready = false
      try {
        await Promise.race([
          waitFor(`BIRD ${spec.name} control socket`, async () =>
            (await run(BIRDC, ["-s", socket, "show", "status"], { allowFail: true, timeoutMs: 5000 })).stdout.includes("Daemon is up") ? true : undefined, 10_000, 50),
          p.exited.then((code) => {
            if (!ready) throw new Error(`BIRD ${spec.name} exited (${code}) while starting: ${p.log()}${b.log()}`)
          })
        ])
      } finally {
        ready = true
      }
    },
    stop: async () => {
      const p = proc
      proc = undefined
      await p?.stop()
    },
    kill: async () => {
      const p = proc
      proc = undefined
      if (p === undefined) return
      p.signal("SIGKILL")
      await p.exited
      await p.stop()
    },
    pause: () => proc?.signal("SIGSTOP"),
    resume: () => proc?.signal("SIGCONT"),
    dispose: async () => {
      await b.stop()
      removeDir(dir)
    }
  }
  await write(spec)
  await b.start()
  return b
}
