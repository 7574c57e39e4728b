/**
 * The daemon's config file: one YAML or JSON document, validated by an Effect Schema. Unknown fields are
 * errors (a typo must not silently become a default), every error names its field as a path
 * (`neighbors[2].peerAs`) and, when the text is at hand, its line and column.
 *
 * Decoding happens in three steps: YAML parse (JSON is YAML 1.2, so one parser gives line numbers for
 * both), the schema (types, ranges, address syntax, unknown fields), then the checks that span fields
 * (policy names that exist, duplicate neighbors, policies compiled with `compilePolicy`, the API bind
 * rule). The result converts to the speaker's `SpeakerConfig`.
 */
import { Afi, ipv6ToBytes, parseIpv4, parsePrefix, Role, Safi } from "@starling/codec"
import type { Policy, PolicyDefinition } from "@starling/rib"
import { compilePolicy, PolicyError } from "@starling/rib"
import type { FamilyConfig } from "@starling/session"
import type { NeighborConfig, SpeakerConfig } from "@starling/speaker"
import { Result, Schema, SchemaIssue } from "effect"
import type { Node } from "yaml"
import { isMap, isScalar, isSeq, LineCounter, parseDocument } from "yaml"

// -------------------------------------------------------------------------------------------------
// Field types

const isIp = (s: string): boolean => parseIpv4(s) !== undefined || ipv6ToBytes(s) !== undefined

const IpAddress = Schema.String.check(Schema.makeFilter((s: string) => (isIp(s) ? undefined : `not an IP address: "${s}"`)))
const Ipv4Address = Schema.String.check(Schema.makeFilter((s: string) => (parseIpv4(s) !== undefined ? undefined : `not an IPv4 address: "${s}"`)))
const Ipv6Address = Schema.String.check(Schema.makeFilter((s: string) => (ipv6ToBytes(s) !== undefined && parseIpv4(s) === undefined ? undefined : `not an IPv6 address: "${s}"`)))
const PrefixText = Schema.String.check(Schema.makeFilter((s: string) => (parsePrefix(s) !== undefined ? undefined : `not a prefix: "${s}"`)))
const intRange = (minimum: number, maximum: number) => Schema.Int.check(Schema.isBetween({ minimum, maximum }))
const Asn = intRange(1, 0xffffffff)
const U32 = intRange(0, 0xffffffff)
const Port = intRange(0, 65535)
/** RFC 4271 §4.2: zero (no keepalives) or at least three seconds. */
const HoldTime = Schema.Int.check(Schema.makeFilter((n: number) => (n === 0 || (n >= 3 && n <= 65535) ? undefined : `must be 0 or 3..65535 (RFC 4271 §4.2), got ${n}`)))

export const familyNames = { "ipv4-unicast": { afi: Afi.IPV4, safi: Safi.UNICAST }, "ipv6-unicast": { afi: Afi.IPV6, safi: Safi.UNICAST } } as const
export type FamilyName = keyof typeof familyNames
const Family = Schema.Literals(["ipv4-unicast", "ipv6-unicast"])

export const roleNames = { provider: Role.PROVIDER, rs: Role.RS, "rs-client": Role.RS_CLIENT, customer: Role.CUSTOMER, peer: Role.PEER } as const
const RoleName = Schema.Literals(["provider", "rs", "rs-client", "customer", "peer"])

const opt = Schema.optionalKey

// -------------------------------------------------------------------------------------------------
// Policies (the declarative form of @starling/rib; compilePolicy checks the values)

const PrefixMatch = Schema.Struct({ prefix: PrefixText, ge: opt(intRange(0, 128)), le: opt(intRange(0, 128)) })
const Match = Schema.Struct({
  prefixes: opt(Schema.Array(PrefixMatch)),
  communities: opt(Schema.Array(Schema.String)),
  largeCommunities: opt(Schema.Array(Schema.String)),
  asPath: opt(Schema.String),
  neighbors: opt(Schema.Array(IpAddress))
})
const SetActions = Schema.Struct({
  localPref: opt(U32),
  med: opt(U32),
  addCommunities: opt(Schema.Array(Schema.String)),
  removeCommunities: opt(Schema.Array(Schema.String)),
  addLargeCommunities: opt(Schema.Array(Schema.String)),
  removeLargeCommunities: opt(Schema.Array(Schema.String)),
  prepend: opt(intRange(0, 32)),
  nextHop: opt(Schema.String)
})
const Statement = Schema.Struct({ match: opt(Match), action: Schema.Literals(["accept", "reject"]), set: opt(SetActions) })
const PolicyDef = Schema.Struct({ statements: Schema.Array(Statement), default: opt(Schema.Literals(["accept", "reject"])) })
const PolicyName = Schema.String.check(Schema.makeFilter((s: string) => (/^[A-Za-z0-9_-]+$/.test(s) ? undefined : `policy names are letters, digits, "-" and "_": "${s}"`)))

// -------------------------------------------------------------------------------------------------
// Neighbors

/** Fields a dynamic-neighbor template shares with a neighbor (everything but where it is). */
const sessionFields = {
  peerAs: Asn,
  name: opt(Schema.String),
  holdTime: opt(HoldTime),
  keepaliveTime: opt(intRange(0, 21845)),
  connectRetryTime: opt(intRange(1, 65535)),
  delayOpenTime: opt(intRange(0, 240)),
  idleHoldTime: opt(Schema.Struct({ initial: intRange(0, 3600), max: intRange(0, 3600) })),
  families: opt(Schema.Array(Family)),
  addPath: opt(Schema.Array(Schema.Struct({ family: Family, send: Schema.Boolean, receive: Schema.Boolean }))),
  addPathSendMax: opt(intRange(1, 0xffff)),
  gracefulRestart: opt(Schema.Struct({ restartTime: intRange(0, 4095), notification: opt(Schema.Boolean) })),
  role: opt(Schema.Struct({ role: RoleName, strict: opt(Schema.Boolean) })),
  nextHopSelf: opt(Schema.Boolean),
  nextHopV6: opt(Ipv6Address),
  maxPrefix: opt(Schema.Struct({ limit: intRange(1, 0xffffffff), action: Schema.Literals(["warn", "reset", "stop"]) })),
  allowAsIn: opt(intRange(0, 10)),
  importPolicy: opt(Schema.String),
  exportPolicy: opt(Schema.String),
  routeReflectorClient: opt(Schema.Boolean)
}

const Neighbor = Schema.Struct({
  address: IpAddress,
  port: opt(Port),
  localAddress: opt(IpAddress),
  localPort: opt(Port),
  passive: opt(Schema.Boolean),
  enabled: opt(Schema.Boolean),
  ...sessionFields
})

const DynamicRange = Schema.Struct({
  prefix: PrefixText,
  limit: opt(intRange(1, 100000)),
  template: Schema.Struct(sessionFields)
})

const Api = Schema.Struct({
  enabled: opt(Schema.Boolean),
  address: opt(IpAddress),
  port: opt(Port),
  /** Binding anything but a loopback address must be asked for. */
  allowNonLoopback: opt(Schema.Boolean),
  /** Bearer token, given inline, in a file (a Kubernetes Secret) or in an environment variable. */
  token: opt(Schema.String),
  tokenFile: opt(Schema.String),
  tokenEnv: opt(Schema.String)
})

const Logging = Schema.Struct({
  level: opt(Schema.Literals(["trace", "debug", "info", "warn", "error", "fatal"])),
  format: opt(Schema.Literals(["json", "pretty", "auto"]))
})

export const DaemonConfigSchema = Schema.Struct({
  localAs: Asn,
  routerId: Ipv4Address,
  clusterId: opt(Ipv4Address),
  listen: opt(Schema.Array(Schema.Struct({ address: IpAddress, port: opt(Port) }))),
  neighbors: opt(Schema.Array(Neighbor)),
  dynamicNeighbors: opt(Schema.Array(DynamicRange)),
  policies: opt(Schema.Record(PolicyName, PolicyDef)),
  retainPrePolicy: opt(Schema.Boolean),
  ebgpRequiresPolicy: opt(Schema.Boolean),
  decision: opt(Schema.Struct({ alwaysCompareMed: opt(Schema.Boolean), deterministicMed: opt(Schema.Boolean), maxPaths: opt(intRange(1, 64)) })),
  api: opt(Api),
  logging: opt(Logging)
})

export type DaemonConfig = typeof DaemonConfigSchema.Type
export type NeighborEntry = typeof Neighbor.Type
export type DynamicRangeEntry = typeof DynamicRange.Type
export type SessionFields = typeof DynamicRange.Type["template"]
export type ApiConfig = typeof Api.Type

export { DEFAULT_API_PORT } from "./defaults.ts"

// -------------------------------------------------------------------------------------------------
// Errors with paths and lines

export interface ConfigIssue {
  /** `neighbors[2].peerAs`; empty for the document itself. */
  readonly path: string
  readonly message: string
  readonly line?: number
  readonly column?: number
}

export class ConfigFileError extends Error {
  readonly _tag = "ConfigFileError"
  readonly issues: ReadonlyArray<ConfigIssue>
  readonly source: string
  constructor(source: string, issues: ReadonlyArray<ConfigIssue>) {
    super(formatIssues(source, issues))
    this.source = source
    this.issues = issues
  }
}

export const formatIssue = (source: string, i: ConfigIssue): string =>
  `${source}${i.line === undefined ? "" : `:${i.line}${i.column === undefined ? "" : `:${i.column}`}`}: ${i.path === "" ? "" : `${i.path}: `}${i.message}`

export const formatIssues = (source: string, issues: ReadonlyArray<ConfigIssue>): string => issues.map((i) => formatIssue(source, i)).join("\n")

type Segment = string | number

export const pathText = (segments: ReadonlyArray<PropertyKey>): string => {
  let out = ""
  for (const s of segments) {
    if (typeof s === "number") out += `[${s}]`
    else out += out === "" ? String(s) : `.${String(s)}`
  }
  return out
}

/** `policies.x.statements[2].set` → ["policies", "x", "statements", 2, "set"] */
const parsePath = (p: string): Segment[] => {
  const out: Segment[] = []
  for (const part of p.split(".")) {
    const m = /^([^[]*)((?:\[\d+\])*)$/.exec(part)
    if (m === null) {
      out.push(part)
      continue
    }
    if (m[1] !== "") out.push(m[1]!)
    for (const idx of m[2]!.matchAll(/\[(\d+)\]/g)) out.push(Number(idx[1]))
  }
  return out
}

const valueAt = (root: unknown, path: ReadonlyArray<Segment>): { found: boolean; value: unknown } => {
  let v: unknown = root
  for (const s of path) {
    if (v === null || typeof v !== "object" || !(s in (v as object))) return { found: false, value: undefined }
    v = (v as Record<string | number, unknown>)[s]
  }
  return { found: true, value: v }
}

/** Where a path is in the YAML text: the key of the deepest field that exists (1-based line and column). */
const locate = (doc: { contents: unknown }, lc: LineCounter, path: ReadonlyArray<Segment>): { line: number; column: number } | undefined => {
  let node = doc.contents as Node | null | undefined
  let at: number | undefined = (node as { range?: [number, number, number] } | null | undefined)?.range?.[0]
  for (const s of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(s))
      if (pair === undefined) break
      const keyRange = (pair.key as { range?: [number, number, number] } | null)?.range
      if (keyRange !== undefined) at = keyRange[0]
      node = pair.value as Node | null
    } else if (isSeq(node) && typeof s === "number") {
      const item = node.items[s] as Node | undefined
      if (item === undefined) break
      if (item.range !== undefined && item.range !== null) at = item.range[0]
      node = item
    } else break
  }
  if (at === undefined) return undefined
  const { line, col } = lc.linePos(at)
  return line === 0 ? undefined : { line, column: col }
}

const describe = (v: unknown): string => {
  if (typeof v === "string") return JSON.stringify(v)
  if (v === null || typeof v === "number" || typeof v === "boolean") return String(v)
  return Array.isArray(v) ? "a list" : typeof v === "object" ? "an object" : typeof v
}

/** A schema message in the config's words: unknown field, missing field, and the value that was wrong. */
const reword = (message: string, value: { found: boolean; value: unknown }): string => {
  if (message === "Expected no excess property") return "unknown field"
  if (message === "Missing key") return "required field is missing"
  if (!value.found || (typeof value.value === "object" && value.value !== null)) return message
  if (message.includes("got ") || message.includes(describe(value.value))) return message
  return `${message}, got ${describe(value.value)}`
}

// -------------------------------------------------------------------------------------------------
// Loading

/** A validated config and what it converts to. */
export interface LoadedConfig {
  readonly config: DaemonConfig
  readonly text: string
  readonly source: string
}

/**
 * `${NAME}` in the text is replaced by the environment variable NAME (`$${` writes a literal `${`): one
 * config for every replica, each with its own router id (`routerId: ${NODE_IP}` in Kubernetes).
 */
export const expandEnv = (text: string, env: Readonly<Record<string, string | undefined>>, source = "config"): Result.Result<string, ConfigFileError> => {
  const issues: ConfigIssue[] = []
  const lines = text.split("\n")
  const out = lines.map((line, i) =>
    // Comment lines are left alone.
    /^\s*#/.test(line) ? line : line.replace(/\$?\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (m: string, name: string, col: number) => {
      if (m.startsWith("$$")) return m.slice(1)
      const v = env[name]
      if (v === undefined) issues.push({ path: "", message: `environment variable ${name} is not set (used as \${${name}})`, line: i + 1, column: col + 1 })
      return v ?? ""
    })
  )
  return issues.length > 0 ? Result.fail(new ConfigFileError(source, issues)) : Result.succeed(out.join("\n"))
}

/**
 * Parses YAML or JSON text; fails with every problem found (not just the first). With `env`, `${NAME}`
 * references are expanded first (see `expandEnv`).
 */
export const parseConfig = (raw: string, source = "config", options: { readonly env?: Readonly<Record<string, string | undefined>> } = {}): Result.Result<LoadedConfig, ConfigFileError> => {
  let text = raw
  if (options.env !== undefined) {
    const expanded = expandEnv(raw, options.env, source)
    if (Result.isFailure(expanded)) return Result.fail(expanded.failure)
    text = expanded.success
  }
  const lc = new LineCounter()
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: true, uniqueKeys: true })
  if (doc.errors.length > 0) {
    return Result.fail(new ConfigFileError(source, doc.errors.map((e) => ({
      path: "",
      message: e.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, ""),
      ...(e.linePos === undefined ? {} : { line: e.linePos[0].line, column: e.linePos[0].col })
    }))))
  }
  const input: unknown = doc.toJS()
  const at = (segments: ReadonlyArray<Segment>, message: string): ConfigIssue => {
    const where = locate(doc, lc, segments)
    return { path: pathText(segments), message, ...(where === undefined ? {} : { line: where.line, column: where.column }) }
  }
  if (input === null || typeof input !== "object" || Array.isArray(input)) return Result.fail(new ConfigFileError(source, [at([], "the config must be a mapping (an object) of fields")]))
  const decoded = Schema.decodeUnknownResult(DaemonConfigSchema)(input, { errors: "all", onExcessProperty: "error" })
  if (Result.isFailure(decoded)) {
    const formatted = SchemaIssue.makeFormatterStandardSchemaV1()(decoded.failure.issue)
    const issues = formatted.issues.map((i) => {
      const segs = (i.path ?? []).map((p) => (typeof p === "object" && p !== null && "key" in p ? p.key : p)) as Segment[]
      return at(segs, reword(i.message, valueAt(input, segs)))
    })
    return Result.fail(new ConfigFileError(source, issues))
  }
  const config = decoded.success
  const problems = crossChecks(config).map((p) => at(p.path, p.message))
  if (problems.length > 0) return Result.fail(new ConfigFileError(source, problems))
  return Result.succeed({ config, text, source })
}

const LOOPBACK_V6 = "::1"
export const isLoopback = (address: string): boolean => {
  const v4 = parseIpv4(address)
  if (v4 !== undefined) return v4 >>> 24 === 127
  const b = ipv6ToBytes(address)
  if (b === undefined) return address === "localhost"
  // ::1, or an IPv4-mapped loopback (::ffff:127.x.y.z)
  const mapped = b.slice(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff && b[12] === 127
  return address === LOOPBACK_V6 || (b.slice(0, 15).every((x) => x === 0) && b[15] === 1) || mapped
}

/** Checks across fields, after the schema. */
const crossChecks = (c: DaemonConfig): Array<{ path: Segment[]; message: string }> => {
  const out: Array<{ path: Segment[]; message: string }> = []
  if (parseIpv4(c.routerId) === 0) out.push({ path: ["routerId"], message: "must not be 0.0.0.0" })
  const policies = c.policies ?? {}
  for (const [name, def] of Object.entries(policies)) {
    try {
      compilePolicy(def as PolicyDefinition, `policies.${name}`)
    } catch (e) {
      if (e instanceof PolicyError) {
        const detail = e.message.startsWith(`${e.path}: `) ? e.message.slice(e.path.length + 2) : e.message
        out.push({ path: parsePath(e.path), message: detail })
      } else throw e
    }
  }
  const checkSession = (n: SessionFields, base: Segment[]) => {
    for (const k of ["importPolicy", "exportPolicy"] as const) {
      const p = n[k]
      if (p !== undefined && !(p in policies)) out.push({ path: [...base, k], message: `no policy named "${p}" (policies: ${Object.keys(policies).join(", ") || "none"})` })
    }
    if (n.idleHoldTime !== undefined && n.idleHoldTime.initial > n.idleHoldTime.max) {
      out.push({ path: [...base, "idleHoldTime", "initial"], message: `must not exceed idleHoldTime.max (${n.idleHoldTime.max})` })
    }
    const fams = new Set<string>(n.families ?? ["ipv4-unicast", "ipv6-unicast"])
    n.addPath?.forEach((a, i) => {
      if (!fams.has(a.family)) out.push({ path: [...base, "addPath", i, "family"], message: `${a.family} is not among the neighbor's families` })
    })
    if (n.families !== undefined && n.families.length === 0) out.push({ path: [...base, "families"], message: "at least one family" })
  }
  const seen = new Map<string, number>()
  const listens = c.listen ?? []
  c.neighbors?.forEach((n, i) => {
    const key = canonical(n.address)
    const before = seen.get(key)
    if (before !== undefined) out.push({ path: ["neighbors", i, "address"], message: `${n.address} is already neighbors[${before}]` })
    else seen.set(key, i)
    if (n.passive === true && listens.length === 0) out.push({ path: ["neighbors", i, "passive"], message: "a passive neighbor needs a listen address (listen)" })
    checkSession(n, ["neighbors", i])
  })
  c.dynamicNeighbors?.forEach((d, i) => {
    if (listens.length === 0) out.push({ path: ["dynamicNeighbors", i, "prefix"], message: "dynamic neighbors need a listen address (listen)" })
    if (c.dynamicNeighbors!.findIndex((x) => x.prefix === d.prefix) < i) out.push({ path: ["dynamicNeighbors", i, "prefix"], message: `${d.prefix} is listed twice` })
    checkSession(d.template, ["dynamicNeighbors", i, "template"])
  })
  const api = c.api
  if (api !== undefined) {
    if (api.address !== undefined && !isLoopback(api.address) && api.allowNonLoopback !== true) {
      out.push({ path: ["api", "address"], message: `${api.address} is not a loopback address; set api.allowNonLoopback: true (and a token) to expose the API` })
    }
    const tokens = ["token", "tokenFile", "tokenEnv"].filter((k) => api[k as keyof ApiConfig] !== undefined)
    if (tokens.length > 1) out.push({ path: ["api", tokens[1]!], message: `give one of token, tokenFile, tokenEnv (also given: ${tokens[0]})` })
  }
  return out
}

/** Addresses compared in canonical form (IPv6 written differently is the same neighbor). */
export const canonical = (address: string): string => {
  const v4 = parseIpv4(address)
  if (v4 !== undefined) return address
  const b = ipv6ToBytes(address)
  return b === undefined ? address : [...b].map((x) => x.toString(16).padStart(2, "0")).join("")
}

// -------------------------------------------------------------------------------------------------
// Conversion to the speaker's config

export interface CompiledPolicy {
  /** The definition as JSON: equal text, same policy (kept across reloads so groups stay the same). */
  readonly json: string
  readonly policy: Policy
}

/**
 * Compiles the named policies, reusing `previous` entries whose definition did not change: the
 * function object stays the same, so update groups of untouched neighbors stay the same too.
 */
export const compilePolicies = (c: DaemonConfig, previous?: ReadonlyMap<string, CompiledPolicy>): Map<string, CompiledPolicy> => {
  const out = new Map<string, CompiledPolicy>()
  for (const [name, def] of Object.entries(c.policies ?? {})) {
    const json = JSON.stringify(def)
    const prev = previous?.get(name)
    out.set(name, prev !== undefined && prev.json === json ? prev : { json, policy: compilePolicy(def as PolicyDefinition, `policies.${name}`) })
  }
  return out
}

const families = (names: ReadonlyArray<FamilyName> | undefined): ReadonlyArray<FamilyConfig> | undefined =>
  names?.map((n) => familyNames[n])

/** A neighbor (or a dynamic template plus an address) as the speaker takes it, policies resolved. */
export const toNeighborConfig = (
  n: SessionFields & Partial<Pick<NeighborEntry, "address" | "port" | "localAddress" | "localPort" | "passive" | "enabled">>,
  address: string,
  policies: ReadonlyMap<string, CompiledPolicy>
): NeighborConfig => {
  const fams = families(n.families)
  const out: { -readonly [K in keyof NeighborConfig]: NeighborConfig[K] } = { address, peerAs: n.peerAs }
  if (n.port !== undefined) out.port = n.port
  if (n.localAddress !== undefined) out.localAddress = n.localAddress
  if (n.localPort !== undefined) out.localPort = n.localPort
  if (n.name !== undefined) out.name = n.name
  if (n.passive !== undefined) out.passive = n.passive
  if (n.enabled !== undefined) out.enabled = n.enabled
  if (n.holdTime !== undefined) out.holdTime = n.holdTime
  if (n.keepaliveTime !== undefined) out.keepaliveTime = n.keepaliveTime
  if (n.connectRetryTime !== undefined) out.connectRetryTime = n.connectRetryTime
  if (n.delayOpenTime !== undefined) out.delayOpenTime = n.delayOpenTime
  if (n.idleHoldTime !== undefined) out.idleHoldTime = n.idleHoldTime
  if (fams !== undefined) out.families = fams
  if (n.addPath !== undefined) out.addPath = n.addPath.map((a) => ({ ...familyNames[a.family], send: a.send, receive: a.receive }))
  if (n.addPathSendMax !== undefined) out.addPathSendMax = n.addPathSendMax
  if (n.gracefulRestart !== undefined) out.gracefulRestart = n.gracefulRestart
  if (n.role !== undefined) out.role = { role: roleNames[n.role.role], ...(n.role.strict === undefined ? {} : { strict: n.role.strict }) }
  if (n.nextHopSelf !== undefined) out.nextHopSelf = n.nextHopSelf
  if (n.nextHopV6 !== undefined) out.nextHopV6 = n.nextHopV6
  if (n.maxPrefix !== undefined) out.maxPrefix = n.maxPrefix
  if (n.allowAsIn !== undefined) out.allowAsIn = n.allowAsIn
  if (n.routeReflectorClient !== undefined) out.routeReflectorClient = n.routeReflectorClient
  // Names were checked against the policies when the file was decoded.
  if (n.importPolicy !== undefined) out.importPolicy = policies.get(n.importPolicy)!.policy
  if (n.exportPolicy !== undefined) out.exportPolicy = policies.get(n.exportPolicy)!.policy
  return out
}

/** The speaker's config (static neighbors only; dynamic ranges are added by the daemon). */
export const toSpeakerConfig = (c: DaemonConfig, policies: ReadonlyMap<string, CompiledPolicy>): SpeakerConfig => ({
  localAs: c.localAs,
  routerId: c.routerId,
  ...(c.clusterId === undefined ? {} : { clusterId: c.clusterId }),
  listen: (c.listen ?? []).map((l) => ({ address: l.address, port: l.port ?? 179 })),
  neighbors: (c.neighbors ?? []).map((n) => toNeighborConfig(n, n.address, policies)),
  ...(c.retainPrePolicy === undefined ? {} : { retainPrePolicy: c.retainPrePolicy }),
  ...(c.ebgpRequiresPolicy === undefined ? {} : { ebgpRequiresPolicy: c.ebgpRequiresPolicy }),
  ...(c.decision === undefined ? {} : { decision: c.decision })
})

// -------------------------------------------------------------------------------------------------
// API request bodies

const OriginateBody = Schema.Struct({
  prefix: PrefixText,
  nextHop: opt(IpAddress),
  origin: opt(Schema.Literals(["igp", "egp", "incomplete"])),
  asPath: opt(Schema.Array(Asn)),
  localPref: opt(U32),
  med: opt(U32),
  communities: opt(Schema.Array(Schema.String)),
  largeCommunities: opt(Schema.Array(Schema.String))
})
export type OriginateRequest = typeof OriginateBody.Type

const WithdrawBody = Schema.Struct({ prefix: PrefixText })

const decodeBody = <S extends Schema.Top & { readonly DecodingServices: never }>(schema: S, input: unknown): Result.Result<S["Type"], ReadonlyArray<ConfigIssue>> => {
  const r = Schema.decodeUnknownResult(schema)(input, { errors: "all", onExcessProperty: "error" })
  if (Result.isSuccess(r)) return Result.succeed(r.success)
  return Result.fail(SchemaIssue.makeFormatterStandardSchemaV1()(r.failure.issue).issues.map((i) => {
    const segs = (i.path ?? []).map((p) => (typeof p === "object" && p !== null && "key" in p ? p.key : p)) as Segment[]
    return { path: pathText(segs), message: reword(i.message, valueAt(input, segs)) }
  }))
}

export const parseOriginate = (input: unknown): Result.Result<OriginateRequest, ReadonlyArray<ConfigIssue>> => decodeBody(OriginateBody, input)
export const parseWithdraw = (input: unknown): Result.Result<{ readonly prefix: string }, ReadonlyArray<ConfigIssue>> => decodeBody(WithdrawBody, input)
