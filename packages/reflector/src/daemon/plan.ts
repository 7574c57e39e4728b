/**
 * Reload planning: what a new config changes, and what each change costs a running session.
 *
 * - in-place: nothing on the wire (a name, a max-prefix limit, a template for future dynamic neighbors);
 * - route-refresh: routes are re-evaluated without a reset: an import change by soft reconfiguration
 *   (import policy re-run over retained pre-policy routes) or by a ROUTE-REFRESH request (RFC 2918); an
 *   export change by re-export (the neighbor moves to the update group of its new settings and gets the
 *   difference);
 * - reset: the session goes down and comes back: what is negotiated in OPEN (AS, hold time, families,
 *   ADD-PATH, graceful restart, role), how the TCP connection is made (address, port, passive, timers),
 *   the reflection role (it changes what every other peer gets from this one), or an import change a peer
 *   without ROUTE-REFRESH can only get by a reset;
 * - add / remove / stop / start: a neighbor appears, goes, or is disabled or enabled;
 * - restart: a global setting (AS, router id, cluster id, listen addresses, decision options): every
 *   session resets.
 *
 * The same plan drives the dry run and the reload itself, so what `--dry-run` says is what happens.
 */
import type { CompiledPolicy, DaemonConfig, NeighborEntry, SessionFields } from "./config.ts"
import { canonical } from "./config.ts"

export type ChangeEffect = "in-place" | "route-refresh" | "reset" | "add" | "remove" | "stop" | "start" | "restart"

export type RefreshHow = "soft-reconfiguration" | "route-refresh-request" | "re-export"

export interface PlannedChange {
  /** "global", "api", "logging", "policy NAME", "dynamicNeighbors PREFIX", "neighbor ADDRESS". */
  readonly target: string
  readonly effect: ChangeEffect
  /** The fields that changed. */
  readonly fields: ReadonlyArray<string>
  /** In words: why this effect. */
  readonly detail: string
  readonly how?: ReadonlyArray<RefreshHow>
  /** For neighbors: the address, whether it is dynamic (from which range), and whether a reset needs a new session object. */
  readonly address?: string
  readonly dynamicRange?: string
  readonly recreate?: boolean
}

/** What the planner needs to know about a running neighbor. */
export interface NeighborRuntime {
  readonly address: string
  readonly established: boolean
  /** ROUTE-REFRESH negotiated on the current session. */
  readonly routeRefresh: boolean
  /** The range it was accepted through, for dynamic neighbors. */
  readonly dynamicRange?: string
}

export interface PlanInput {
  readonly old: DaemonConfig
  readonly next: DaemonConfig
  readonly oldPolicies: ReadonlyMap<string, CompiledPolicy>
  readonly newPolicies: ReadonlyMap<string, CompiledPolicy>
  readonly running: ReadonlyArray<NeighborRuntime>
}

const GLOBAL = ["localAs", "routerId", "clusterId", "listen", "retainPrePolicy", "ebgpRequiresPolicy", "decision"] as const

/** Carried in OPEN: a change needs a new OPEN exchange. */
const NEGOTIATED = new Set(["peerAs", "holdTime", "families", "addPath", "gracefulRestart", "role"])
/** How the session's connection is made: fixed when the session object is created. */
const TRANSPORT = new Set(["port", "localAddress", "localPort", "passive", "keepaliveTime", "connectRetryTime", "delayOpenTime", "idleHoldTime"])
const IMPORT = new Set(["importPolicy", "allowAsIn"])
const EXPORT = new Set(["exportPolicy", "nextHopSelf", "nextHopV6", "addPathSendMax"])

/** Defaults, so that writing a default out explicitly is not a change. */
const DEFAULTS: Record<string, unknown> = {
  port: 179,
  passive: false,
  enabled: true,
  holdTime: 90,
  connectRetryTime: 120,
  delayOpenTime: 0,
  families: ["ipv4-unicast", "ipv6-unicast"],
  allowAsIn: 0,
  nextHopSelf: false,
  routeReflectorClient: false
}

const norm = (k: string, v: unknown): string => JSON.stringify(v === undefined ? DEFAULTS[k] : v)
const same = (k: string, a: unknown, b: unknown): boolean => norm(k, a) === norm(k, b)

type Fields = Partial<NeighborEntry> & SessionFields

/** The changed fields of one neighbor (or template), with policy definition changes folded in. */
const changedFields = (a: Fields, b: Fields, oldPolicies: ReadonlyMap<string, CompiledPolicy>, newPolicies: ReadonlyMap<string, CompiledPolicy>): string[] => {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)])
  keys.delete("address")
  const out: string[] = []
  for (const k of keys) {
    const x = (a as Record<string, unknown>)[k]
    const y = (b as Record<string, unknown>)[k]
    if (!same(k, x, y)) out.push(k)
    else if ((k === "importPolicy" || k === "exportPolicy") && typeof y === "string" && oldPolicies.get(y)?.json !== newPolicies.get(y)?.json) {
      out.push(`${k} (policy ${y} changed)`)
    }
  }
  return out.sort()
}

const base = (f: string): string => f.split(" ")[0]!

/** Classifies a neighbor's changes. `runtime` undefined: not running (treated as not established). */
const classify = (
  target: string,
  address: string,
  fields: ReadonlyArray<string>,
  old: Fields,
  next: Fields,
  runtime: NeighborRuntime | undefined,
  retainPrePolicy: boolean
): PlannedChange => {
  const established = runtime?.established === true
  const common = { target, fields, address, ...(runtime?.dynamicRange === undefined ? {} : { dynamicRange: runtime.dynamicRange }) }
  const negotiated = fields.filter((f) => NEGOTIATED.has(base(f)))
  const transport = fields.filter((f) => TRANSPORT.has(base(f)))
  if (negotiated.length > 0 || transport.length > 0 || fields.includes("routeReflectorClient")) {
    const why = [
      negotiated.length > 0 ? `${negotiated.join(", ")} ${negotiated.length === 1 ? "is" : "are"} negotiated in OPEN` : "",
      transport.length > 0 ? `${transport.join(", ")} ${transport.length === 1 ? "is" : "are"} fixed when the session is created` : "",
      fields.includes("routeReflectorClient") ? "the reflection role changes what every other peer gets from this neighbor" : ""
    ].filter((x) => x !== "").join("; ")
    return { ...common, effect: "reset", detail: established ? `session resets: ${why}` : `session recreated (not established): ${why}`, recreate: true }
  }
  const wasEnabled = old.enabled ?? true
  const isEnabled = next.enabled ?? true
  const importChanged = fields.some((f) => IMPORT.has(base(f)))
  const exportChanged = fields.some((f) => EXPORT.has(base(f)))
  const how: RefreshHow[] = []
  let detail = ""
  let reset = false
  if (established && isEnabled) {
    if (importChanged) {
      if (retainPrePolicy) how.push("soft-reconfiguration")
      else if (runtime!.routeRefresh) how.push("route-refresh-request")
      else reset = true
    }
    if (exportChanged && !reset) how.push("re-export")
  }
  if (wasEnabled !== isEnabled) {
    return { ...common, effect: isEnabled ? "start" : "stop", detail: isEnabled ? "session started" : "session stopped with Cease/Administrative Shutdown" }
  }
  if (reset) {
    detail = "session resets: import changed, the neighbor did not negotiate ROUTE-REFRESH and pre-policy routes are not retained (retainPrePolicy)"
    return { ...common, effect: "reset", detail, recreate: false }
  }
  if (how.length > 0) {
    const words = how.map((h) =>
      h === "soft-reconfiguration"
        ? "import policy re-run over retained pre-policy routes (soft reconfiguration)"
        : h === "route-refresh-request"
        ? "ROUTE-REFRESH request to the neighbor (RFC 2918)"
        : "routes re-exported through the neighbor's new update group"
    )
    return { ...common, effect: "route-refresh", detail: words.join("; "), how }
  }
  detail = (importChanged || exportChanged) && !established ? "applies when the session comes up (not established)" : "applies in place; the session stays up"
  return { ...common, effect: "in-place", detail }
}

const label = (address: string, name: string | undefined) => `neighbor ${address}${name === undefined ? "" : ` (${name})`}`

/** The changes from `old` to `next`, in the order they are shown and applied. */
export const planReload = (input: PlanInput): PlannedChange[] => {
  const { old, next, oldPolicies, newPolicies } = input
  const out: PlannedChange[] = []
  const running = new Map(input.running.map((r) => [canonical(r.address), r]))

  const globals = GLOBAL.filter((k) => JSON.stringify(old[k]) !== JSON.stringify(next[k]))
  if (globals.length > 0) {
    out.push({ target: "global", effect: "restart", fields: globals, detail: "every session resets: the speaker restarts with the new global settings" })
    // Everything else is moot: the restart applies the whole new config.
    return out
  }
  if (JSON.stringify(old.api) !== JSON.stringify(next.api)) {
    out.push({ target: "api", effect: "in-place", fields: changedKeys(old.api ?? {}, next.api ?? {}), detail: "the API server restarts on the new settings; sessions are not touched" })
  }
  if (JSON.stringify(old.logging) !== JSON.stringify(next.logging)) {
    out.push({ target: "logging", effect: "in-place", fields: changedKeys(old.logging ?? {}, next.logging ?? {}), detail: "log settings change at once" })
  }
  for (const name of new Set([...oldPolicies.keys(), ...newPolicies.keys()])) {
    const a = oldPolicies.get(name)
    const b = newPolicies.get(name)
    if (a?.json === b?.json) continue
    const users = [
      ...(next.neighbors ?? []).filter((n) => n.importPolicy === name || n.exportPolicy === name).map((n) => n.address),
      ...(next.dynamicNeighbors ?? []).filter((d) => d.template.importPolicy === name || d.template.exportPolicy === name).map((d) => `dynamic ${d.prefix}`)
    ]
    out.push({
      target: `policy ${name}`,
      effect: "in-place",
      fields: [a === undefined ? "added" : b === undefined ? "removed" : "statements"],
      detail: users.length === 0 ? "not used by any neighbor" : `used by ${users.join(", ")} (see their entries)`
    })
  }

  // Dynamic ranges, and the neighbors accepted through them.
  const oldRanges = new Map((old.dynamicNeighbors ?? []).map((d) => [d.prefix, d]))
  const newRanges = new Map((next.dynamicNeighbors ?? []).map((d) => [d.prefix, d]))
  for (const [prefix, d] of newRanges) {
    const o = oldRanges.get(prefix)
    if (o === undefined) {
      out.push({ target: `dynamicNeighbors ${prefix}`, effect: "add", fields: ["prefix"], detail: "connections from the range are accepted", dynamicRange: prefix })
    } else if (JSON.stringify(o) !== JSON.stringify(d)) {
      const fields = [...changedFields(o.template, d.template, oldPolicies, newPolicies).map((f) => `template.${f}`), ...(o.limit === d.limit ? [] : ["limit"])]
      if (fields.length > 0) out.push({ target: `dynamicNeighbors ${prefix}`, effect: "in-place", fields, detail: "new neighbors from the range use the new settings", dynamicRange: prefix })
    }
  }
  for (const prefix of oldRanges.keys()) {
    if (newRanges.has(prefix)) continue
    const current = input.running.filter((r) => r.dynamicRange === prefix)
    out.push({
      target: `dynamicNeighbors ${prefix}`,
      effect: "remove",
      fields: ["prefix"],
      detail: `connections from the range are refused${current.length === 0 ? "" : `; ${current.length} neighbor(s) from it removed`}`,
      dynamicRange: prefix
    })
  }
  for (const r of input.running) {
    if (r.dynamicRange === undefined) continue
    const o = oldRanges.get(r.dynamicRange)
    const d = newRanges.get(r.dynamicRange)
    if (d === undefined) {
      out.push({ target: `neighbor ${r.address}`, effect: "remove", fields: [], detail: `its dynamic range ${r.dynamicRange} is gone`, address: r.address, dynamicRange: r.dynamicRange })
      continue
    }
    if (o === undefined) continue
    const fields = changedFields(o.template, d.template, oldPolicies, newPolicies)
    if (fields.length === 0) continue
    out.push(classify(label(r.address, d.template.name), r.address, fields, o.template, d.template, r, next.retainPrePolicy === true))
  }

  // Static neighbors, by address.
  const oldByAddr = new Map((old.neighbors ?? []).map((n) => [canonical(n.address), n]))
  const newByAddr = new Map((next.neighbors ?? []).map((n) => [canonical(n.address), n]))
  for (const [k, n] of oldByAddr) {
    if (!newByAddr.has(k)) out.push({ target: label(n.address, n.name), effect: "remove", fields: [], detail: "session closed with Cease/Administrative Shutdown", address: n.address })
  }
  for (const [k, n] of newByAddr) {
    const o = oldByAddr.get(k)
    if (o === undefined) continue
    const fields = changedFields(o, n, oldPolicies, newPolicies)
    if (fields.length === 0) continue
    out.push(classify(label(n.address, n.name), n.address, fields, o, n, running.get(k), next.retainPrePolicy === true))
  }
  for (const [k, n] of newByAddr) {
    if (!oldByAddr.has(k)) {
      const dyn = running.get(k)?.dynamicRange
      out.push({
        target: label(n.address, n.name),
        effect: "add",
        fields: [],
        detail: dyn === undefined ? "new session" : `new session (replaces the dynamic neighbor from ${dyn})`,
        address: n.address
      })
    }
  }
  return out
}

const changedKeys = (a: object, b: object): string[] =>
  [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => JSON.stringify((a as Record<string, unknown>)[k]) !== JSON.stringify((b as Record<string, unknown>)[k])).sort()

/** One line per change: `neighbor 10.0.0.2 (node-2): reset — session resets: holdTime is negotiated in OPEN`. */
export const formatPlan = (changes: ReadonlyArray<PlannedChange>): string => {
  if (changes.length === 0) return "no changes"
  const w = Math.max(...changes.map((c) => c.target.length))
  const e = Math.max(...changes.map((c) => c.effect.length))
  return changes
    .map((c) => `${c.target.padEnd(w)}  ${c.effect.padEnd(e)}  ${c.fields.length === 0 ? "" : `[${c.fields.join(", ")}] `}${c.detail}`)
    .join("\n")
}
