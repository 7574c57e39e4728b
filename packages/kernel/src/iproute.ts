/**
 * iproute2 as a wire format: the `ip -batch` command lines we write, and the three things we read back —
 * per-line errors of a `-force` batch, `ip -N -json route show` dumps and `ip -N -o monitor label` lines.
 * Pure functions; the live service (service.ts) runs the processes.
 *
 * Facts this relies on (iproute2 6.1, checked on kernel 6.18):
 * - In a batch, options such as `table`, `proto` and `metric` must come before any `nexthop` keyword; a
 *   syntax error exits `ip` at once (code 255) even with `-force`, so lines are validated before they are
 *   written. A failing kernel request under `-force` prints its error, then `Command failed -:N`, and the
 *   batch goes on (exit code 1 at the end).
 * - The family of a batch line comes from its prefix; but `route flush` decides the family before it
 *   parses its arguments, so an IPv6 flush needs its own `ip -6` process.
 * - `-N` prints protocol, table, scope and type as numbers, so names in /etc/iproute2 never matter.
 * - `ip -json monitor` ignores `-json` (6.1); `-o` puts a record on one line (multipath next hops after
 *   `\` + tab) and `label` prefixes `[ROUTE]` / `[LINK]` / `[ADDR]`.
 * - The kernel sends no notification for IPv4 routes it drops with a link or address (only IPv6 ones):
 *   link and address events must trigger a re-scan.
 */
import type { KernelRoute, NextHop } from "./route.ts"
import { canonicalAddress, canonicalPrefix, MAIN_TABLE, normalizeNextHops, RouteType, routeTypeName } from "./route.ts"

export type RouteOp =
  | { readonly op: "add" | "replace" | "delete"; readonly route: KernelRoute }
  /** Delete every route of `protocol` in `table` for one family (one dump-and-delete by iproute2). */
  | { readonly op: "flush"; readonly family: 4 | 6; readonly table: number; readonly protocol: number }

export type OpResult =
  | { readonly ok: true }
  /** `unknown`: the line may or may not have run (the batch aborted, or `ip` could not be started). */
  | { readonly ok: false; readonly error: string; readonly unknown?: boolean }

const u32 = (n: number) => Number.isInteger(n) && n >= 0 && n <= 0xffffffff

/** Linux accepts 1..15 bytes without '/', ':' or whitespace; we also refuse what the batch tokenizer treats specially. */
export const validDevice = (d: string): boolean => /^[^\s/:"'#\\]{1,15}$/.test(d) && d !== "." && d !== ".."

/** Why a route cannot be written as a batch line, or undefined when it can. */
export const validateRoute = (r: KernelRoute): string | undefined => {
  const p = canonicalPrefix(r.prefix)
  if (p === undefined || p.text !== r.prefix || p.family !== r.family) return `not a canonical prefix: ${r.prefix}`
  if (!u32(r.table) || r.table === 0) return `bad table ${r.table}`
  if (!Number.isInteger(r.protocol) || r.protocol < 0 || r.protocol > 255) return `bad protocol ${r.protocol}`
  if (!u32(r.metric)) return `bad metric ${r.metric}`
  if (routeTypeName(r.type) === undefined) return `bad route type ${r.type}`
  if (r.type === RouteType.unicast && r.nexthops.length === 0) return "a unicast route needs a next hop"
  if (r.type !== RouteType.unicast && r.nexthops.length > 0) return `a ${routeTypeName(r.type)} route has no next hops`
  for (const nh of r.nexthops) {
    if (nh.via === undefined && nh.dev === undefined) return "a next hop needs a gateway or a device"
    if (nh.via !== undefined && canonicalAddress(nh.via)?.text !== nh.via) return `not a canonical address: ${nh.via}`
    if (nh.dev !== undefined && !validDevice(nh.dev)) return `not a device name: ${JSON.stringify(nh.dev)}`
    if (nh.weight !== undefined && (!Number.isInteger(nh.weight) || nh.weight < 1 || nh.weight > 256)) return `bad weight ${nh.weight}`
  }
  return undefined
}

const nextHopWords = (family: 4 | 6, nh: NextHop, withWeight: boolean): string => {
  let s = ""
  if (nh.via !== undefined) {
    const f = canonicalAddress(nh.via)!.family
    // RFC 8950-style next hops of the other family need the family named (RTA_VIA).
    s += f === family ? ` via ${nh.via}` : ` via ${f === 4 ? "inet" : "inet6"} ${nh.via}`
  }
  if (nh.dev !== undefined) s += ` dev ${nh.dev}`
  if (withWeight) s += ` weight ${nh.weight ?? 1}`
  if (nh.onlink === true) s += " onlink"
  return s
}

/**
 * The `ip -batch` line for one operation (without a trailing newline). Deletes name the protocol and
 * metric, so the kernel removes our route and nothing else (IPv4 and IPv6 both match `rtm_protocol`
 * when it is given). Throws on an invalid route: callers validate first (a bad line would abort the batch).
 */
export const commandLine = (op: RouteOp): string => {
  if (op.op === "flush") throw new Error("flush is not a batch line (see flushArgs)")
  const r = op.route
  const bad = validateRoute(r)
  if (bad !== undefined) throw new Error(bad)
  const where = ` table ${r.table} proto ${r.protocol} metric ${r.metric}`
  if (op.op === "delete") return `route del ${r.prefix}${where}`
  const type = r.type === RouteType.unicast ? "" : `${routeTypeName(r.type)} `
  let s = `route ${op.op} ${type}${r.prefix}${where}`
  if (r.nexthops.length === 1 && (r.nexthops[0]!.weight ?? 1) === 1) s += nextHopWords(r.family, r.nexthops[0]!, false)
  else for (const nh of r.nexthops) s += ` nexthop${nextHopWords(r.family, nh, true)}`
  return s
}

/** Arguments (after the global options) of the process that flushes one family of our routes. */
export const flushArgs = (op: Extract<RouteOp, { op: "flush" }>): ReadonlyArray<string> => [
  op.family === 4 ? "-4" : "-6",
  "route",
  "flush",
  "table",
  String(op.table),
  "proto",
  String(op.protocol)
]

export interface BatchErrors {
  /** 1-based line number → the error printed for it. */
  readonly failures: ReadonlyMap<number, string>
  /** The last line number reported as failed (0 when none). */
  readonly lastReported: number
  /** Messages not followed by `Command failed` (the syntax error that aborted the batch, warnings). */
  readonly other: ReadonlyArray<string>
}

/**
 * Splits the stderr of `ip -force -batch -`: each failing line prints one or more messages, then
 * `Command failed <file>:<line>`.
 */
export const parseBatchErrors = (stderr: string): BatchErrors => {
  const failures = new Map<number, string>()
  let pending: string[] = []
  let lastReported = 0
  for (const raw of stderr.split("\n")) {
    const line = raw.trim()
    if (line === "") continue
    const m = /^Command failed .*:(\d+)$/.exec(line)
    if (m !== null) {
      const n = Number(m[1])
      failures.set(n, pending.length === 0 ? "failed" : pending.join("; "))
      lastReported = Math.max(lastReported, n)
      pending = []
    } else pending.push(line)
  }
  return { failures, lastReported, other: pending }
}

/**
 * Per-operation results of one batch from the exit code and stderr. With exit code 0 or 1 every line ran;
 * otherwise `ip` stopped after the last reported line and what follows is unknown.
 */
export const batchResults = (lines: number, exitCode: number, stderr: string): ReadonlyArray<OpResult> => {
  const e = parseBatchErrors(stderr)
  const completed = exitCode === 0 || exitCode === 1
  const abort = e.other.length > 0 ? e.other.join("; ") : `ip exited with code ${exitCode}`
  const out: OpResult[] = []
  for (let i = 1; i <= lines; i++) {
    const f = e.failures.get(i)
    if (f !== undefined) out.push({ ok: false, error: f })
    else if (!completed && i > e.lastReported) out.push({ ok: false, error: abort, unknown: true })
    else out.push({ ok: true })
  }
  return out
}

// ---------------------------------------------------------------------------------------------------
// Dumps: `ip -N -json -4|-6 route show ...`

interface JsonNextHop {
  readonly gateway?: string
  readonly via?: { readonly family?: string; readonly host?: string }
  readonly dev?: string
  readonly weight?: number
  readonly flags?: ReadonlyArray<string>
}

interface JsonRoute extends JsonNextHop {
  readonly type?: string
  readonly dst?: string
  readonly table?: string
  readonly protocol?: string
  readonly scope?: string
  readonly metric?: number
  readonly prefsrc?: string
  readonly nexthops?: ReadonlyArray<JsonNextHop>
}

const jsonNextHop = (j: JsonNextHop): NextHop | undefined => {
  const gw = j.gateway ?? j.via?.host
  const via = gw === undefined ? undefined : canonicalAddress(gw)?.text
  if (via === undefined && j.dev === undefined) return undefined
  const nh: { via?: string; dev?: string; onlink?: boolean; weight?: number } = {}
  if (via !== undefined) nh.via = via
  if (j.dev !== undefined) nh.dev = j.dev
  if (j.flags !== undefined && j.flags.includes("onlink")) nh.onlink = true
  if (j.weight !== undefined && j.weight !== 1) nh.weight = j.weight
  return nh
}

const num = (s: string | undefined, dflt: number): number => {
  if (s === undefined) return dflt
  const n = Number(s)
  return Number.isInteger(n) ? n : dflt
}

/**
 * Routes from one dump of one family. `defaults` fills what the JSON leaves out: the protocol when the
 * dump was filtered by it, the table (absent means main). Routes with the same single next hop share one
 * next-hop array (a dump of 100 k routes usually has a handful of next hops).
 */
export const parseDump = (json: string, family: 4 | 6, defaults: { readonly protocol?: number; readonly table?: number } = {}): KernelRoute[] => {
  const text = json.trim()
  if (text === "") return []
  const rows = JSON.parse(text) as ReadonlyArray<JsonRoute>
  const out: KernelRoute[] = []
  const shared = new Map<string, ReadonlyArray<NextHop>>()
  const none: ReadonlyArray<NextHop> = []
  const defaultTable = defaults.table ?? MAIN_TABLE
  const defaultProtocol = defaults.protocol ?? 0
  for (const j of rows) {
    if (j.dst === undefined) continue
    const p = canonicalPrefix(j.dst, family)
    if (p === undefined || p.family !== family) continue
    const type = num(j.type, RouteType.unicast)
    let nexthops = none
    if (type === RouteType.unicast) {
      if (j.nexthops !== undefined) {
        const nhs: NextHop[] = []
        for (const n of j.nexthops) {
          const nh = jsonNextHop(n)
          if (nh !== undefined) nhs.push(nh)
        }
        nexthops = normalizeNextHops(nhs)
      } else {
        const key = `${j.gateway ?? j.via?.host ?? ""}|${j.dev ?? ""}|${j.flags?.join(",") ?? ""}|${j.weight ?? 1}`
        const hit = shared.get(key)
        if (hit !== undefined) nexthops = hit
        else {
          const nh = jsonNextHop(j)
          nexthops = nh === undefined ? none : [nh]
          shared.set(key, nexthops)
        }
      }
    }
    const r: { -readonly [K in keyof KernelRoute]: KernelRoute[K] } = {
      prefix: p.text,
      family,
      table: num(j.table, defaultTable),
      protocol: num(j.protocol, defaultProtocol),
      // IPv4 routes without a metric print none (0); IPv6 ones always print it.
      metric: j.metric ?? 0,
      type,
      nexthops
    }
    if (j.scope !== undefined) r.scope = num(j.scope, 0)
    if (j.prefsrc !== undefined) {
      const src = canonicalAddress(j.prefsrc)?.text
      if (src !== undefined) r.src = src
    }
    out.push(r)
  }
  return out
}

// ---------------------------------------------------------------------------------------------------
// Monitor: `ip -N -o monitor label route link address`

export type Notice =
  | { readonly _tag: "Route"; readonly deleted: boolean; readonly route: KernelRoute; readonly line: string }
  /** A link or address changed: IPv4 routes may have been dropped silently. */
  | { readonly _tag: "Link"; readonly line: string }
  /** Notifications may have been missed (monitor restarted, paused or overrun): re-scan. */
  | { readonly _tag: "Resync"; readonly reason: string }

/** Keywords of `ip route` output that take one value (everything else is a flag). */
const VALUE_WORDS = new Set([
  "dev", "table", "proto", "metric", "scope", "src", "pref", "expires", "mtu", "advmss", "hoplimit", "realm", "realms",
  "from", "nhid", "tos", "dsfield", "rtt", "rttvar", "window", "cwnd", "initcwnd", "initrwnd", "features", "quickack",
  "congctl", "ttl-propagate", "error", "weight", "ssthresh", "reordering", "fastopen_no_cookie", "rto_min", "users", "age", "used"
])

const TYPE_WORDS = new Map<string, number>(Object.entries(RouteType))

interface Parsed {
  via?: string
  dev?: string
  table?: number
  protocol?: number
  metric?: number
  scope?: number
  src?: string
  weight?: number
  onlink: boolean
  pref: boolean
}

const parseWords = (words: ReadonlyArray<string>, from: number): Parsed => {
  const out: Parsed = { onlink: false, pref: false }
  for (let i = from; i < words.length; i++) {
    const w = words[i]!
    if (w === "via") {
      let a = words[++i]
      if (a === "inet" || a === "inet6") a = words[++i]
      if (a !== undefined) out.via = canonicalAddress(a)?.text ?? a
    } else if (w === "onlink") out.onlink = true
    else if (VALUE_WORDS.has(w)) {
      const v = words[++i]
      if (v === undefined) break
      if (w === "dev") out.dev = v
      else if (w === "table") out.table = num(v, -1)
      else if (w === "proto") out.protocol = num(v, -1)
      else if (w === "metric") out.metric = num(v, -1)
      else if (w === "scope") out.scope = num(v, -1)
      else if (w === "src") out.src = v
      else if (w === "weight") out.weight = num(v, 1)
      else if (w === "pref") out.pref = true
    }
  }
  return out
}

const toNextHop = (p: Parsed): NextHop | undefined =>
  p.via === undefined && p.dev === undefined
    ? undefined
    : {
      ...(p.via === undefined ? {} : { via: p.via }),
      ...(p.dev === undefined ? {} : { dev: p.dev }),
      ...(p.onlink ? { onlink: true } : {}),
      ...(p.weight === undefined ? {} : { weight: p.weight })
    }

/** One `[ROUTE]` record (label removed); undefined when it is not a route we can read. */
export const parseMonitorRoute = (text: string): { deleted: boolean; route: KernelRoute } | undefined => {
  const segments = text.split("\\\t")
  const words = segments[0]!.trim().split(/\s+/)
  let i = 0
  const deleted = words[0] === "Deleted"
  if (deleted) i++
  let type: number = RouteType.unicast
  const t = words[i]
  if (t !== undefined && /^\d+$/.test(t)) {
    type = Number(t)
    i++
  } else if (t !== undefined && TYPE_WORDS.has(t)) {
    type = TYPE_WORDS.get(t)!
    i++
  }
  const dst = words[i]
  if (dst === undefined) return undefined
  const head = parseWords(words, i + 1)
  const nexthops: NextHop[] = []
  const single = toNextHop(head)
  const multi = segments.slice(1).map((s) => s.trim()).filter((s) => s.startsWith("nexthop"))
  for (const s of multi) {
    const nh = toNextHop(parseWords(s.split(/\s+/), 1))
    if (nh !== undefined) nexthops.push(nh)
  }
  if (multi.length === 0 && single !== undefined && type === RouteType.unicast) nexthops.push(single)
  // "default" carries no family: an IPv6 gateway or the IPv6-only `pref` word tells.
  const anyVia = head.via ?? nexthops.find((n) => n.via !== undefined)?.via
  const family: 4 | 6 = dst.includes(":") || anyVia?.includes(":") === true || head.pref ? 6 : 4
  const p = canonicalPrefix(dst, family)
  if (p === undefined) return undefined
  return {
    deleted,
    route: {
      prefix: p.text,
      family: p.family,
      table: head.table ?? MAIN_TABLE,
      protocol: head.protocol ?? 0,
      metric: head.metric ?? 0,
      type,
      nexthops: normalizeNextHops(nexthops),
      ...(head.scope === undefined ? {} : { scope: head.scope }),
      ...(head.src === undefined ? {} : { src: head.src })
    }
  }
}

/** One line of `ip -N -o monitor label route link address`. */
export const parseMonitorLine = (line: string): Notice | undefined => {
  if (line.startsWith("[ROUTE]")) {
    const r = parseMonitorRoute(line.slice(7))
    return r === undefined ? undefined : { _tag: "Route", deleted: r.deleted, route: r.route, line }
  }
  if (line.startsWith("[LINK]") || line.startsWith("[ADDR]")) return { _tag: "Link", line }
  // rtnl_listen prints this when the socket overran (ENOBUFS) and carries on: events were lost.
  if (/netlink receive error/i.test(line)) return { _tag: "Resync", reason: line.trim() }
  return undefined
}
