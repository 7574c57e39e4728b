/**
 * Kernel routes as plain data: what the exporter wants installed and what a dump of the kernel shows,
 * in one shape so the two compare directly. Addresses and prefixes are kept in canonical text (IPv4
 * dotted quad, IPv6 RFC 5952), which is also what iproute2 prints, so a dumped route and a desired one
 * compare as strings.
 */
import { formatIpv4, formatIpv6Words, formatPrefix, parseIpv4, parseIpv6Words, parsePrefix } from "@starling/codec"

/** Route types (RTN_* in linux/rtnetlink.h); the numbers iproute2 prints with `-N`. */
export const RouteType = {
  unicast: 1,
  local: 2,
  broadcast: 3,
  anycast: 4,
  multicast: 5,
  blackhole: 6,
  unreachable: 7,
  prohibit: 8,
  throw: 9,
  nat: 10
} as const

const TYPE_NAMES: ReadonlyArray<string | undefined> = (() => {
  const a: Array<string | undefined> = []
  for (const [name, n] of Object.entries(RouteType)) a[n] = name
  return a
})()

export const routeTypeName = (t: number): string | undefined => TYPE_NAMES[t]

/** Route protocols (RTPROT_*) with a meaning to the kernel or to administrators. */
export const RouteProtocol = { unspec: 0, redirect: 1, kernel: 2, boot: 3, static: 4, bird: 12, zebraBgp: 186 } as const

/**
 * Our default route protocol. Not in iproute2's rt_protos (0-4 kernel, 8-18 gated..keepalived, 42 babel,
 * 99 openr, 186-192 FRR/zebra), clear of the block FRR's zebra uses (186 bgp ... 198 srte), and of BIRD
 * (12): a number nobody else on a Calico node installs routes with, so ownership by protocol is exact.
 */
export const DEFAULT_PROTOCOL = 201
/** The main routing table. */
export const MAIN_TABLE = 254
/** BIRD's default kernel metric; low enough to win over DHCP/RA defaults, high enough to lose to admin routes at 0. */
export const DEFAULT_METRIC = 32

export interface NextHop {
  /** Gateway address (canonical text); absent for a device route (`dev tunl0`). */
  readonly via?: string
  readonly dev?: string
  /** Treat the gateway as directly reachable over `dev` even if no connected route covers it. */
  readonly onlink?: boolean
  /** ECMP weight, 1..256 (1 when absent). */
  readonly weight?: number
}

export interface KernelRoute {
  /** Canonical prefix text (`10.0.0.0/24`, `2001:db8::/64`). */
  readonly prefix: string
  readonly family: 4 | 6
  readonly table: number
  readonly protocol: number
  readonly metric: number
  /** RTN_* route type. */
  readonly type: number
  /** Next hops of a unicast route, in canonical order; empty for blackhole / unreachable / prohibit. */
  readonly nexthops: ReadonlyArray<NextHop>
  readonly scope?: number
  readonly src?: string
}

/**
 * The kernel's identity of a route in a table: destination and metric (priority). TOS is never set by
 * us. Two routes with the same key cannot coexist (`add` fails with EEXIST; `replace` overwrites).
 */
export const routeKey = (r: Pick<KernelRoute, "table" | "prefix" | "metric">): string => `${r.table} ${r.prefix} ${r.metric}`

/**
 * `s` as an IPv4 address in canonical dotted-quad text (no leading zeros): its value, or -1. A hand
 * scanner, because dumps and batches of 100 k routes run it for every route.
 */
const v4Value = (s: string, from: number, to: number): number => {
  let i = from
  let addr = 0
  for (let part = 0; part < 4; part++) {
    const start = i
    let n = 0
    while (i < to) {
      const c = s.charCodeAt(i)
      if (c < 48 || c > 57) break
      n = n * 10 + (c - 48)
      i++
    }
    const digits = i - start
    if (digits === 0 || digits > 3 || n > 255 || (digits > 1 && s.charCodeAt(start) === 48)) return -1
    addr = addr * 256 + n
    if (part < 3) {
      if (i >= to || s.charCodeAt(i) !== 46) return -1
      i++
    }
  }
  return i === to ? addr : -1
}

/** Is `s` a canonical IPv4 prefix (`a.b.c.d/len`, host bits zero)? */
const canonicalV4Prefix = (s: string): boolean => {
  const slash = s.indexOf("/")
  if (slash < 0) return false
  const addr = v4Value(s, 0, slash)
  if (addr < 0) return false
  const lenText = s.length - slash - 1
  if (lenText < 1 || lenText > 2 || (lenText === 2 && s.charCodeAt(slash + 1) === 48)) return false
  let len = 0
  for (let i = slash + 1; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 48 || c > 57) return false
    len = len * 10 + (c - 48)
  }
  return len <= 32 && addr % 2 ** (32 - len) === 0
}

const addressCache = new Map<string, { readonly text: string; readonly family: 4 | 6 } | undefined>()

/** Canonical text of an address, or undefined when it is not one. (Next hops repeat: answers are cached.) */
export const canonicalAddress = (s: string): { readonly text: string; readonly family: 4 | 6 } | undefined => {
  const hit = addressCache.get(s)
  if (hit !== undefined || addressCache.has(s)) return hit
  let out: { readonly text: string; readonly family: 4 | 6 } | undefined
  const v4 = parseIpv4(s)
  if (v4 !== undefined) out = { text: formatIpv4(v4), family: 4 }
  else {
    const w = parseIpv6Words(s)
    out = w === undefined ? undefined : { text: formatIpv6Words(w[0], w[1], w[2], w[3]), family: 6 }
  }
  if (addressCache.size >= 4096) addressCache.clear()
  addressCache.set(s, out)
  return out
}

/**
 * Canonical text of a prefix; a bare address counts as a host route and `default` as the zero-length
 * prefix of `family`.
 */
export const canonicalPrefix = (s: string, family?: 4 | 6): { readonly text: string; readonly family: 4 | 6 } | undefined => {
  if (s === "default") return family === undefined ? undefined : { text: family === 4 ? "0.0.0.0/0" : "::/0", family }
  if (canonicalV4Prefix(s)) return { text: s, family: 4 }
  // Dumps print host routes as a bare address.
  if (v4Value(s, 0, s.length) >= 0) return { text: `${s}/32`, family: 4 }
  if (!s.includes("/")) {
    const a = canonicalAddress(s)
    return a === undefined ? undefined : { text: `${a.text}/${a.family === 4 ? 32 : 128}`, family: a.family }
  }
  const p = parsePrefix(s)
  return p === undefined ? undefined : { text: formatPrefix(p), family: p.afi === 1 ? 4 : 6 }
}

const nhOrder = (a: NextHop, b: NextHop): number => {
  const x = a.via ?? ""
  const y = b.via ?? ""
  if (x !== y) return x < y ? -1 : 1
  const d = a.dev ?? ""
  const e = b.dev ?? ""
  return d === e ? 0 : d < e ? -1 : 1
}

/** Next hops in canonical order, duplicates removed, weight 1 dropped (the kernel's default). */
export const normalizeNextHops = (nhs: ReadonlyArray<NextHop>): ReadonlyArray<NextHop> => {
  const out: NextHop[] = []
  for (const nh of [...nhs].sort(nhOrder)) {
    const clean: NextHop = {
      ...(nh.via === undefined ? {} : { via: nh.via }),
      ...(nh.dev === undefined ? {} : { dev: nh.dev }),
      ...(nh.onlink === true ? { onlink: true } : {}),
      ...(nh.weight === undefined || nh.weight === 1 ? {} : { weight: nh.weight })
    }
    const last = out[out.length - 1]
    if (last !== undefined && nhOrder(last, clean) === 0) continue
    out.push(clean)
  }
  return out
}

/**
 * Does the installed route do what the desired one asks? Fields the desired route leaves open are not
 * compared: a next hop given without a device is satisfied by whatever device the kernel resolved.
 */
export const satisfies = (installed: KernelRoute, desired: KernelRoute): boolean => {
  if (installed.type !== desired.type || installed.protocol !== desired.protocol) return false
  if (installed.nexthops === desired.nexthops) return true
  if (installed.nexthops.length !== desired.nexthops.length) return false
  if (desired.nexthops.length === 1) return sameHop(installed.nexthops[0]!, desired.nexthops[0]!)
  const byVia = (nhs: ReadonlyArray<NextHop>) => [...nhs].sort((a, b) => ((a.via ?? "") < (b.via ?? "") ? -1 : (a.via ?? "") > (b.via ?? "") ? 1 : 0))
  const have = byVia(installed.nexthops)
  const want = byVia(desired.nexthops)
  for (let i = 0; i < want.length; i++) if (!sameHop(have[i]!, want[i]!)) return false
  return true
}

/** An installed next hop `h` does what `w` asks. */
const sameHop = (h: NextHop, w: NextHop): boolean =>
  (h.via ?? "") === (w.via ?? "") && (w.dev === undefined || h.dev === w.dev) && (h.onlink === true) === (w.onlink === true) &&
  (h.weight ?? 1) === (w.weight ?? 1)

/** A short human form, for logs and reports. */
export const describeRoute = (r: KernelRoute): string => {
  const head = r.type === RouteType.unicast ? r.prefix : `${routeTypeName(r.type) ?? r.type} ${r.prefix}`
  const nhs = r.nexthops.map((nh) =>
    [nh.via === undefined ? "" : `via ${nh.via}`, nh.dev === undefined ? "" : `dev ${nh.dev}`, nh.onlink === true ? "onlink" : "", nh.weight === undefined ? "" : `weight ${nh.weight}`]
      .filter((x) => x !== "")
      .join(" ")
  )
  return `${head}${nhs.length === 0 ? "" : ` ${nhs.join(", ")}`} table ${r.table} proto ${r.protocol} metric ${r.metric}`
}

/** Is `inner` inside `outer` (equal or more specific)? Both canonical prefixes. */
export const prefixWithin = (inner: string, outer: string): boolean => {
  const a = parsePrefix(inner)
  const b = parsePrefix(outer)
  if (a === undefined || b === undefined || a.afi !== b.afi || a.length < b.length) return false
  const words = [a.w0, a.w1, a.w2, a.w3]
  const outerWords = [b.w0, b.w1, b.w2, b.w3]
  let bits = b.length
  for (let i = 0; i < 4 && bits > 0; i++, bits -= 32) {
    const m = bits >= 32 ? 0xffffffff : (0xffffffff << (32 - bits)) >>> 0
    if (((words[i]! & m) >>> 0) !== ((outerWords[i]! & m) >>> 0)) return false
  }
  return true
}
