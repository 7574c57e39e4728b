/**
 * Reload planning (what `--dry-run` prints): for each change, in place, route refresh (soft
 * reconfiguration, ROUTE-REFRESH request, re-export) or a session reset — and why.
 */
import { describe, expect, it } from "@effect/vitest"
import { Result } from "effect"
import type { DaemonConfig } from "../src/daemon/config.ts"
import { compilePolicies, parseConfig } from "../src/daemon/config.ts"
import type { NeighborRuntime, PlannedChange } from "../src/daemon/plan.ts"
import { formatPlan, planReload } from "../src/daemon/plan.ts"

const cfg = (text: string): DaemonConfig => Result.getOrThrow(parseConfig(text)).config

const base = `localAs: 64512
routerId: 10.0.0.1
listen: [{ address: 127.0.0.1 }]
policies:
  all: { statements: [], default: accept }
  some: { statements: [{ match: { prefixes: [{ prefix: 10.0.0.0/8, le: 32 }] }, action: accept }] }
neighbors:
  - { address: 127.0.0.2, peerAs: 64512, name: a, importPolicy: all, exportPolicy: all }
  - { address: 127.0.0.3, peerAs: 64512, name: b }
`

const up = (address: string, routeRefresh = true): NeighborRuntime => ({ address, established: true, routeRefresh })
const running = [up("127.0.0.2"), up("127.0.0.3")]

const plan = (next: string, opts: { old?: string; running?: ReadonlyArray<NeighborRuntime> } = {}): PlannedChange[] => {
  const old = cfg(opts.old ?? base)
  const n = cfg(next)
  const oldPolicies = compilePolicies(old)
  return planReload({ old, next: n, oldPolicies, newPolicies: compilePolicies(n, oldPolicies), running: opts.running ?? running })
}

const summary = (cs: ReadonlyArray<PlannedChange>) => cs.map((c) => `${c.target}: ${c.effect} [${c.fields.join(", ")}]${c.how === undefined ? "" : ` ${c.how.join("+")}`}`)

describe("reload plan", () => {
  it("an identical config (defaults written out count as identical) changes nothing", () => {
    expect(plan(base)).toEqual([])
    expect(plan(base.replace("name: b }", "name: b, port: 179, holdTime: 90, passive: false, enabled: true }"))).toEqual([])
    expect(formatPlan([])).toBe("no changes")
  })

  it("timers and capabilities negotiated in OPEN reset the session; connection settings too, saying why", () => {
    const cs = plan(base.replace("name: b }", "name: b, holdTime: 30, families: [ipv4-unicast] }"))
    expect(summary(cs)).toEqual(["neighbor 127.0.0.3 (b): reset [families, holdTime]"])
    expect(cs[0]!.detail).toBe("session resets: families, holdTime are negotiated in OPEN")
    expect(cs[0]!.recreate).toBe(true)
    const t = plan(base.replace("name: b }", "name: b, connectRetryTime: 5 }"))
    expect(t[0]!.effect).toBe("reset")
    expect(t[0]!.detail).toBe("session resets: connectRetryTime is fixed when the session is created")
    expect(plan(base.replace("name: b }", "name: b, peerAs: 64513 }").replace("peerAs: 64512, name: b", "name: b"))[0]!.effect).toBe("reset")
    const rr = plan(base.replace("name: b }", "name: b, routeReflectorClient: true }"))
    expect(rr[0]!.effect).toBe("reset")
    expect(rr[0]!.detail).toMatch(/reflection role/)
  })

  it("an import policy change: soft reconfiguration with retained pre-policy routes, else a ROUTE-REFRESH request, else a reset", () => {
    const next = base.replace("importPolicy: all", "importPolicy: some")
    expect(summary(plan(next))).toEqual(["neighbor 127.0.0.2 (a): route-refresh [importPolicy] route-refresh-request"])
    const retained = (t: string) => t.replace("routerId: 10.0.0.1", "routerId: 10.0.0.1\nretainPrePolicy: true")
    expect(summary(plan(retained(next), { old: retained(base) }))).toEqual(["neighbor 127.0.0.2 (a): route-refresh [importPolicy] soft-reconfiguration"])
    const noRefresh = plan(next, { running: [up("127.0.0.2", false), up("127.0.0.3")] })
    expect(summary(noRefresh)).toEqual(["neighbor 127.0.0.2 (a): reset [importPolicy]"])
    expect(noRefresh[0]!.recreate).toBe(false)
    expect(noRefresh[0]!.detail).toMatch(/did not negotiate ROUTE-REFRESH/)
    // Not established: nothing to refresh, it applies when the session comes up.
    const down = plan(next, { running: [{ address: "127.0.0.2", established: false, routeRefresh: false }, up("127.0.0.3")] })
    expect(summary(down)).toEqual(["neighbor 127.0.0.2 (a): in-place [importPolicy]"])
    expect(down[0]!.detail).toBe("applies when the session comes up (not established)")
  })

  it("an export change is a re-export; a changed policy definition counts for every neighbor using it", () => {
    expect(summary(plan(base.replace("exportPolicy: all", "exportPolicy: some")))).toEqual(["neighbor 127.0.0.2 (a): route-refresh [exportPolicy] re-export"])
    const redefined = base.replace("all: { statements: [], default: accept }", "all: { statements: [], default: reject }")
    expect(summary(plan(redefined))).toEqual([
      "policy all: in-place [statements]",
      "neighbor 127.0.0.2 (a): route-refresh [exportPolicy (policy all changed), importPolicy (policy all changed)] route-refresh-request+re-export"
    ])
    expect(plan(redefined)[0]!.detail).toBe("used by 127.0.0.2 (see their entries)")
  })

  it("a name or a max-prefix limit applies in place; enabled: false stops the session", () => {
    expect(summary(plan(base.replace("name: b }", "name: bee, maxPrefix: { limit: 10, action: warn } }")))).toEqual([
      "neighbor 127.0.0.3 (bee): in-place [maxPrefix, name]"
    ])
    const stop = plan(base.replace("name: b }", "name: b, enabled: false }"))
    expect(summary(stop)).toEqual(["neighbor 127.0.0.3 (b): stop [enabled]"])
    expect(stop[0]!.detail).toMatch(/Cease\/Administrative Shutdown/)
    expect(summary(plan(base, { old: base.replace("name: b }", "name: b, enabled: false }") }))).toEqual(["neighbor 127.0.0.3 (b): start [enabled]"])
  })

  it("neighbors added and removed; removals first", () => {
    const next = base.replace("  - { address: 127.0.0.3, peerAs: 64512, name: b }\n", "  - { address: 127.0.0.4, peerAs: 64512 }\n")
    expect(summary(plan(next))).toEqual(["neighbor 127.0.0.3 (b): remove []", "neighbor 127.0.0.4: add []"])
  })

  it("a global setting restarts everything and makes the rest moot", () => {
    const cs = plan(base.replace("routerId: 10.0.0.1", "routerId: 10.0.0.9").replace("name: b }", "name: b, holdTime: 30 }"))
    expect(summary(cs)).toEqual(["global: restart [routerId]"])
    expect(summary(plan(base.replace("listen: [{ address: 127.0.0.1 }]", "listen: [{ address: 127.0.0.1, port: 1179 }]")))).toEqual(["global: restart [listen]"])
  })

  it("API and logging settings apply in place", () => {
    expect(summary(plan(`${base}api: { port: 9000 }\nlogging: { level: debug }\n`))).toEqual(["api: in-place [port]", "logging: in-place [level]"])
  })

  it("dynamic ranges: added, template changed (current neighbors classified like configured ones), removed", () => {
    const dyn = (t: string) => `${base}dynamicNeighbors:\n  - { prefix: 127.0.1.0/24, template: { peerAs: 64512, ${t} } }\n`
    const withDyn = [...running, { address: "127.0.1.7", established: true, routeRefresh: true, dynamicRange: "127.0.1.0/24" }]
    expect(summary(plan(dyn("holdTime: 9")))).toEqual(["dynamicNeighbors 127.0.1.0/24: add [prefix]"])
    expect(summary(plan(dyn("holdTime: 30"), { old: dyn("holdTime: 9"), running: withDyn }))).toEqual([
      "dynamicNeighbors 127.0.1.0/24: in-place [template.holdTime]",
      "neighbor 127.0.1.7: reset [holdTime]"
    ])
    expect(summary(plan(dyn("holdTime: 9, exportPolicy: some"), { old: dyn("holdTime: 9"), running: withDyn }))).toEqual([
      "dynamicNeighbors 127.0.1.0/24: in-place [template.exportPolicy]",
      "neighbor 127.0.1.7: route-refresh [exportPolicy] re-export"
    ])
    const removed = plan(base, { old: dyn("holdTime: 9"), running: withDyn })
    expect(summary(removed)).toEqual(["dynamicNeighbors 127.0.1.0/24: remove [prefix]", "neighbor 127.0.1.7: remove []"])
    expect(removed[0]!.detail).toBe("connections from the range are refused; 1 neighbor(s) from it removed")
  })

  it("formats one aligned line per change", () => {
    const text = formatPlan(plan(base.replace("name: b }", "name: b, holdTime: 30 }").replace("exportPolicy: all", "exportPolicy: some")))
    expect(text).toBe([
      "neighbor 127.0.0.2 (a)  route-refresh  [exportPolicy] routes re-exported through the neighbor's new update group",
      "neighbor 127.0.0.3 (b)  reset          [holdTime] session resets: holdTime is negotiated in OPEN"
    ].join("\n"))
  })
})
