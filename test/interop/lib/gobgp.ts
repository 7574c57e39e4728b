/**
 * A GoBGP 3.x driver for interop tests: writes a TOML config, runs `gobgpd` in the foreground with its gRPC
 * API on a unix socket (no TCP port, no pprof listener, so instances never collide), queries it with the
 * `gobgp` CLI, and stops it by pid. One instance per router address; see /work/shared/notes/real-routers.md.
 *
 * GoBGP's JSON lists capabilities as protobuf `Any` values (type URL + base64 bytes); `decodeCapabilities`
 * reads the few message types the tests look at with a tiny protobuf reader.
 */
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { run, runDir, start, waitFor, type Started } from "./process.ts"

/** GoBGP's afi-safi names for the families the tests use. */
export type GobgpFamily = "ipv4-unicast" | "ipv6-unicast"

export interface GobgpNeighbor {
  readonly address: string
  readonly peerAs: number
  /** The neighbor's port (we connect there). Default 179. */
  readonly port?: number
  /** Source address of our connects. Default: the router's address. */
  readonly localAddress?: string
  /** Never connect, only accept (transport passive-mode). */
  readonly passive?: boolean
  readonly holdTime?: number
  readonly keepaliveInterval?: number
  /** Seconds between connect attempts. Default 1 (GoBGP's default is 120). */
  readonly connectRetry?: number
  /** Idle time after a reset or an error, seconds. Default 1 (GoBGP's default is 30). */
  readonly idleHoldTimeAfterReset?: number
  /** Default: IPv4 and IPv6 unicast. */
  readonly families?: ReadonlyArray<GobgpFamily>
  /** RFC 7911: receive paths, and send up to `sendMax` paths per prefix (0 = no send). */
  readonly addPath?: { readonly receive: boolean; readonly sendMax: number }
  /** RFC 4724 capability with this restart time, for every configured family. */
  readonly gracefulRestart?: { readonly restartTime: number }
  /** Route-reflector client; the cluster id defaults to the router id. */
  readonly routeReflectorClient?: boolean
  readonly clusterId?: string
  readonly adminDown?: boolean
}

/** A route the router originates (`gobgp global rib add`) after every start. */
export interface GobgpRoute {
  readonly prefix: string
  readonly nextHop: string
  readonly origin?: "igp" | "egp" | "incomplete"
  readonly asPath?: ReadonlyArray<number>
  readonly med?: number
  readonly localPref?: number
  /** "65000:100" */
  readonly communities?: ReadonlyArray<string>
  /** "65000:1:2" */
  readonly largeCommunities?: ReadonlyArray<string>
  /** ADD-PATH path identifier. */
  readonly identifier?: number
}

export interface GobgpOptions {
  readonly name: string
  readonly routerId: string
  readonly as: number
  /** Listen address, and the default source address for connects. */
  readonly address: string
  /** Listen port; -1 = do not listen. Default 179. */
  readonly port?: number
  readonly neighbors: ReadonlyArray<GobgpNeighbor>
  readonly routes?: ReadonlyArray<GobgpRoute>
  /** Set the Restart State bit in the graceful restart capability (gobgpd -r). */
  readonly restarting?: boolean
  /** gobgpd log level. Default "info" (enough to see received NOTIFICATIONs). */
  readonly logLevel?: "debug" | "info" | "warn"
}

/** GoBGP's session_state numbers (api.PeerState.SessionState). */
export const gobgpStates = ["UNKNOWN", "IDLE", "CONNECT", "ACTIVE", "OPENSENT", "OPENCONFIRM", "ESTABLISHED"] as const
export type GobgpState = (typeof gobgpStates)[number]

export interface GobgpCapabilities {
  /** Protobuf message names, e.g. "MultiProtocolCapability", "UnknownCapability". */
  readonly types: ReadonlyArray<string>
  readonly multiprotocol: ReadonlyArray<{ readonly afi: number; readonly safi: number }>
  readonly fourOctetAs?: number
  readonly routeRefresh: boolean
  readonly enhancedRouteRefresh: boolean
  readonly gracefulRestart?: {
    readonly flags: number
    readonly time: number
    readonly families: ReadonlyArray<{ readonly afi: number; readonly safi: number; readonly flags: number }>
  }
  /** mode: 1 receive, 2 send, 3 both (api.AddPathCapabilityTuple.Mode). */
  readonly addPath: ReadonlyArray<{ readonly afi: number; readonly safi: number; readonly mode: number }>
  /** Capability codes GoBGP does not know (it lists them as UnknownCapability), e.g. 6 = extended message. */
  readonly unknown: ReadonlyArray<number>
}

export interface GobgpNeighborView {
  readonly state: GobgpState
  readonly holdTime: number | undefined
  readonly keepaliveInterval: number | undefined
  /** What GoBGP advertised, and what it received from the neighbor (empty until an OPEN arrived). */
  readonly localCapabilities: GobgpCapabilities
  readonly remoteCapabilities: GobgpCapabilities
  readonly messages: { readonly sent: Record<string, number>; readonly received: Record<string, number> }
  readonly raw: any
}

export interface ReceivedNotification {
  readonly neighbor: string
  readonly code: number
  readonly subcode: number
  /** RFC 9003 shutdown communication, as gobgpd logged it. */
  readonly reason?: string
}

export interface Gobgp {
  readonly name: string
  readonly dir: string
  readonly socket: string
  readonly configPath: string
  readonly options: GobgpOptions
  /** The current gobgpd process (changes on restart). */
  readonly process: () => Started
  /** gobgpd's output since the first start (all runs). */
  readonly log: () => string
  /** Runs `gobgp --target unix://SOCK ...args` and returns stdout. */
  readonly cli: (args: ReadonlyArray<string>) => Promise<string>
  readonly neighbor: (address: string) => Promise<GobgpNeighborView>
  readonly waitState: (address: string, state: GobgpState, timeoutMs?: number) => Promise<GobgpNeighborView>
  readonly addRoute: (route: GobgpRoute) => Promise<void>
  /** NOTIFICATIONs gobgpd logged as received (all runs). */
  readonly receivedNotifications: () => ReadonlyArray<ReceivedNotification>
  /** SIGSTOP / SIGCONT: the process keeps its sockets but stops reading and sending. */
  readonly suspend: () => void
  readonly resume: () => void
  readonly stop: () => Promise<void>
  /** Starts gobgpd again with the same config (and routes) after `stop`. */
  readonly restart: () => Promise<void>
}

// -------------------------------------------------------------------------------------------------
// Config

const q = (s: string) => JSON.stringify(s)

export const gobgpConfig = (o: GobgpOptions): string => {
  const lines: string[] = [
    "[global.config]",
    `  as = ${o.as}`,
    `  router-id = ${q(o.routerId)}`,
    `  port = ${o.port ?? 179}`,
    `  local-address-list = [${q(o.address)}]`
  ]
  for (const n of o.neighbors) {
    const keepalive = n.keepaliveInterval ?? (n.holdTime === undefined ? undefined : Math.max(1, Math.floor(n.holdTime / 3)))
    lines.push(
      "[[neighbors]]",
      "  [neighbors.config]",
      `    neighbor-address = ${q(n.address)}`,
      `    peer-as = ${n.peerAs}`,
      ...(n.adminDown === true ? ["    admin-down = true"] : []),
      "  [neighbors.transport.config]",
      `    local-address = ${q(n.localAddress ?? o.address)}`,
      `    remote-port = ${n.port ?? 179}`,
      `    passive-mode = ${n.passive === true}`,
      "  [neighbors.timers.config]",
      `    connect-retry = ${n.connectRetry ?? 1}`,
      `    idle-hold-time-after-reset = ${n.idleHoldTimeAfterReset ?? 1}`,
      ...(n.holdTime === undefined ? [] : [`    hold-time = ${n.holdTime}`]),
      ...(keepalive === undefined ? [] : [`    keepalive-interval = ${keepalive}`])
    )
    if (n.routeReflectorClient === true) {
      lines.push(
        "  [neighbors.route-reflector.config]",
        "    route-reflector-client = true",
        `    route-reflector-cluster-id = ${q(n.clusterId ?? o.routerId)}`
      )
    }
    if (n.gracefulRestart !== undefined) {
      lines.push("  [neighbors.graceful-restart.config]", "    enabled = true", `    restart-time = ${n.gracefulRestart.restartTime}`)
    }
    if (n.addPath !== undefined) {
      lines.push("  [neighbors.add-paths.config]", `    receive = ${n.addPath.receive}`, `    send-max = ${n.addPath.sendMax}`)
    }
    for (const f of n.families ?? ["ipv4-unicast", "ipv6-unicast"]) {
      lines.push("  [[neighbors.afi-safis]]", "    [neighbors.afi-safis.config]", `      afi-safi-name = ${q(f)}`)
      if (n.gracefulRestart !== undefined) lines.push("    [neighbors.afi-safis.mp-graceful-restart.config]", "      enabled = true")
    }
  }
  return lines.join("\n") + "\n"
}

const routeArgs = (r: GobgpRoute): string[] => {
  const v6 = r.prefix.includes(":")
  const args = ["global", "rib", "-a", v6 ? "ipv6" : "ipv4", "add", r.prefix]
  if (r.identifier !== undefined) args.push("identifier", String(r.identifier))
  if (r.origin !== undefined) args.push("origin", r.origin)
  if (r.asPath !== undefined && r.asPath.length > 0) args.push("aspath", r.asPath.join(","))
  args.push("nexthop", r.nextHop)
  if (r.med !== undefined) args.push("med", String(r.med))
  if (r.localPref !== undefined) args.push("local-pref", String(r.localPref))
  if (r.communities !== undefined && r.communities.length > 0) args.push("community", r.communities.join(","))
  if (r.largeCommunities !== undefined && r.largeCommunities.length > 0) args.push("large-community", r.largeCommunities.join(","))
  return args
}

// -------------------------------------------------------------------------------------------------
// Protobuf (just enough for api.*Capability)

type Fields = Map<number, Array<number | Uint8Array>>

const protoFields = (b: Uint8Array): Fields => {
  const out: Fields = new Map()
  let i = 0
  const varint = (): number => {
    let v = 0
    let mul = 1
    while (i < b.length) {
      const x = b[i++]!
      v += (x & 0x7f) * mul
      if ((x & 0x80) === 0) return v
      mul *= 128
    }
    throw new Error("truncated varint")
  }
  while (i < b.length) {
    const key = varint()
    const field = Math.floor(key / 8)
    const wire = key & 7
    let value: number | Uint8Array
    if (wire === 0) value = varint()
    else if (wire === 2) {
      const len = varint()
      value = b.subarray(i, i + len)
      i += len
    } else if (wire === 5) {
      value = new DataView(b.buffer, b.byteOffset + i, 4).getUint32(0, true)
      i += 4
    } else if (wire === 1) {
      value = new DataView(b.buffer, b.byteOffset + i, 8).getUint32(0, true)
      i += 8
    } else throw new Error(`protobuf wire type ${wire}`)
    const list = out.get(field) ?? []
    list.push(value)
    out.set(field, list)
  }
  return out
}

const num = (f: Fields, n: number): number => {
  const v = f.get(n)?.[0]
  return typeof v === "number" ? v : 0
}
const msgs = (f: Fields, n: number): Fields[] => (f.get(n) ?? []).filter((v): v is Uint8Array => typeof v !== "number").map(protoFields)
const family = (f: Fields | undefined) => ({ afi: f === undefined ? 0 : num(f, 1), safi: f === undefined ? 0 : num(f, 2) })

export const decodeCapabilities = (list: ReadonlyArray<{ type_url: string; value?: string }> | undefined): GobgpCapabilities => {
  const types: string[] = []
  const multiprotocol: Array<{ afi: number; safi: number }> = []
  const addPath: Array<{ afi: number; safi: number; mode: number }> = []
  const unknown: number[] = []
  let fourOctetAs: number | undefined
  let gracefulRestart: GobgpCapabilities["gracefulRestart"]
  for (const c of list ?? []) {
    const type = c.type_url.slice(c.type_url.lastIndexOf(".") + 1)
    types.push(type)
    const f = protoFields(Buffer.from(c.value ?? "", "base64"))
    switch (type) {
      case "MultiProtocolCapability":
        multiprotocol.push(family(msgs(f, 1)[0]))
        break
      case "FourOctetASNCapability":
        fourOctetAs = num(f, 1)
        break
      case "GracefulRestartCapability":
        gracefulRestart = {
          flags: num(f, 1),
          time: num(f, 2),
          families: msgs(f, 3).map((t) => ({ ...family(msgs(t, 1)[0]), flags: num(t, 2) }))
        }
        break
      case "AddPathCapability":
        for (const t of msgs(f, 1)) addPath.push({ ...family(msgs(t, 1)[0]), mode: num(t, 2) })
        break
      case "UnknownCapability":
        unknown.push(num(f, 1))
        break
    }
  }
  return {
    types,
    multiprotocol,
    ...(fourOctetAs === undefined ? {} : { fourOctetAs }),
    routeRefresh: types.includes("RouteRefreshCapability"),
    enhancedRouteRefresh: types.includes("EnhancedRouteRefreshCapability"),
    ...(gracefulRestart === undefined ? {} : { gracefulRestart }),
    addPath,
    unknown
  }
}

// -------------------------------------------------------------------------------------------------
// Log parsing (gobgpd logs one JSON object per line unless --log-plain)

/** gobgpd's log lines that are JSON objects. */
export const logEntries = (log: string): Array<Record<string, unknown>> =>
  log.split("\n").flatMap((l) => {
    if (!l.startsWith("{")) return []
    try {
      return [JSON.parse(l) as Record<string, unknown>]
    } catch {
      return []
    }
  })

export const parseReceivedNotifications = (log: string): ReceivedNotification[] =>
  logEntries(log).filter((e) => e.msg === "received notification").map((e) => {
    const reason = e["Communicated-Reason"]
    return {
      neighbor: String(e.Key ?? ""),
      code: Number(e.Code),
      subcode: Number(e.Subcode),
      ...(typeof reason === "string" ? { reason } : {})
    }
  })

// -------------------------------------------------------------------------------------------------
// Running

export const startGobgp = async (options: GobgpOptions): Promise<Gobgp> => {
  const dir = runDir(`gobgp-${options.name}`)
  const socket = join(dir, "gobgp.sock")
  const configPath = join(dir, "gobgpd.toml")
  writeFileSync(configPath, gobgpConfig(options))
  const check = await run("gobgpd", ["-d", "-f", configPath], { allowFail: true })
  if (check.code !== 0) throw new Error(`gobgpd rejected ${configPath}: ${check.stderr}${check.stdout}`)
  let proc: Started | undefined
  let previousLogs = ""

  const cli = async (args: ReadonlyArray<string>): Promise<string> =>
    (await run("gobgp", ["--target", `unix://${socket}`, ...args], { timeoutMs: 5000 })).stdout

  const launch = async () => {
    const p = start(`gobgpd-${options.name}`, "gobgpd", [
      "-f", configPath,
      "--api-hosts", `unix://${socket}`,
      "--pprof-disable",
      "-l", options.logLevel ?? "info",
      ...(options.restarting === true ? ["-r"] : [])
    ])
    proc = p
    // Ready when the API answers.
    await waitFor(`gobgpd ${options.name} API`, async () => {
      if (p.child.exitCode !== null) throw new Error(`gobgpd exited ${p.child.exitCode}: ${p.log()}`)
      return (await cli(["global"])).includes("AS:") ? true : undefined
    }, 10_000, 100)
    for (const r of options.routes ?? []) await cli(routeArgs(r))
  }

  const neighbor = async (address: string): Promise<GobgpNeighborView> => {
    const raw = JSON.parse(await cli(["neighbor", address, "-j"]))
    const st = raw.state ?? {}
    const timers = raw.timers?.state ?? {}
    return {
      state: gobgpStates[st.session_state ?? 0] ?? "UNKNOWN",
      holdTime: timers.negotiated_hold_time,
      keepaliveInterval: timers.keepalive_interval,
      localCapabilities: decodeCapabilities(st.local_cap),
      remoteCapabilities: decodeCapabilities(st.remote_cap),
      messages: { sent: st.messages?.sent ?? {}, received: st.messages?.received ?? {} },
      raw
    }
  }

  const log = () => previousLogs + (proc?.log() ?? "")

  await launch()
  return {
    name: options.name,
    dir,
    socket,
    configPath,
    options,
    process: () => proc!,
    log,
    cli,
    neighbor,
    waitState: (address, state, timeoutMs = 15_000) =>
      waitFor(`gobgp ${options.name}: ${address} ${state}`, async () => {
        const v = await neighbor(address)
        return v.state === state ? v : undefined
      }, timeoutMs),
    addRoute: async (r) => void (await cli(routeArgs(r))),
    receivedNotifications: () => parseReceivedNotifications(log()),
    suspend: () => proc!.signal("SIGSTOP"),
    resume: () => proc!.signal("SIGCONT"),
    stop: async () => {
      if (proc === undefined) return
      await proc.stop()
    },
    restart: async () => {
      if (proc !== undefined) {
        await proc.stop()
        previousLogs += proc.log()
      }
      await launch()
    }
  }
}
