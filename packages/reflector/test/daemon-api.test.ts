/**
 * The management API of an in-process daemon (127.66.9.30-59): bearer token, loopback-only binding,
 * neighbors, routes with filters, explain, originate / withdraw, dry-run reload, Prometheus metrics.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { lab } from "../../../test/interop/lib/addresses.ts"
import { startApi } from "../src/daemon/api.ts"
import type { NeighborView, ReloadResult, RouteView } from "../src/daemon/index.ts"
import type { TestDaemon, TestPeer } from "./daemon-support.ts"
import { startDaemon, startPeer, waitFor } from "./daemon-support.ts"

const h = lab(9).host
const TOKEN = "s3cret-token"

const config = (extra = "") => `localAs: 64512
routerId: 10.255.9.30
listen: [{ address: ${h(30)} }]
neighbors:
  - { address: ${h(31)}, peerAs: 64512, passive: true, routeReflectorClient: true, name: node-31 }
  - { address: ${h(32)}, peerAs: 64512, passive: true, routeReflectorClient: true, name: node-32 }
api: { address: 127.0.0.1, port: 0, token: ${TOKEN} }
${extra}`

let d: TestDaemon
let peer: TestPeer
let base: string

beforeAll(async () => {
  d = await startDaemon(config())
  const api = d.daemon.api()!
  base = `http://127.0.0.1:${api.port}`
  peer = await startPeer({ address: h(31), daemon: h(30), originate: ["10.244.31.0/24", "10.244.131.0/24"] })
  await d.established(h(31))
  await waitFor("the daemon has the peer's routes", async () => ((await d.run(d.daemon.speaker().routes)).length === 2 ? true : undefined))
})

afterAll(async () => {
  await peer?.close()
  await d?.close()
})

const call = async (method: string, path: string, body?: unknown, token: string | null = TOKEN) => {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...(token === null ? {} : { authorization: `Bearer ${token}` }), ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) })
  })
  const text = await res.text()
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    json = undefined
  }
  return { status: res.status, json: json as any, text }
}

describe("API", () => {
  it("needs the bearer token (401 without it or with a wrong one); /healthz does not", async () => {
    expect((await call("GET", "/neighbors", undefined, null)).status).toBe(401)
    const wrong = await call("GET", "/neighbors", undefined, "guess")
    expect(wrong.status).toBe(401)
    expect(wrong.json).toEqual({ error: "missing or wrong bearer token" })
    expect((await call("POST", "/originate", { prefix: "10.0.0.0/8" }, null)).status).toBe(401)
    expect((await call("GET", "/metrics", undefined, null)).status).toBe(401)
    expect((await call("GET", "/neighbors")).status).toBe(200)
    const health = await call("GET", "/healthz", undefined, null)
    expect([health.status, health.text]).toEqual([200, "ok\n"])
    expect((await call("GET", "/nothing")).status).toBe(404)
    expect((await call("POST", "/neighbors")).status).toBe(405)
  })

  it("refuses to bind a non-loopback address unless explicitly allowed", async () => {
    const handlers = { neighbors: async () => [], routes: async () => [], explain: async () => ({}), originate: async () => ({}), withdraw: async () => ({}), reload: async () => ({}), metrics: async () => "" }
    await expect(startApi({ address: "0.0.0.0", port: 0 }, handlers)).rejects.toThrow(/refusing to serve the API on 0.0.0.0: not a loopback address/)
    await expect(startApi({ address: "192.0.2.1", port: 0, allowNonLoopback: false }, handlers)).rejects.toThrow(/not a loopback address/)
    // Loopback is the default and is fine, IPv6 too.
    const s = await startApi({ address: "::1", port: 0 }, handlers)
    expect(s.address).toBe("::1")
    await s.close()
    // Without an address the API is on 127.0.0.1.
    const dflt = await startDaemon(`localAs: 64512\nrouterId: 10.255.9.40\napi: { port: 0 }\n`)
    expect(dflt.daemon.api()?.address).toBe("127.0.0.1")
    await dflt.close()
    // The config says so before anything starts.
    await expect(startDaemon(config().replace("address: 127.0.0.1, port: 0", "address: 0.0.0.0, port: 0"))).rejects.toThrow(/api.address: 0.0.0.0 is not a loopback address/)
  })

  it("GET /neighbors", async () => {
    const r = await call("GET", "/neighbors")
    const ns = r.json as NeighborView[]
    expect(ns.map((n) => [n.address, n.name, n.state])).toEqual([[h(31), "node-31", "Established"], [h(32), "node-32", "Active"]])
    const n = ns[0]!
    expect(n.routesReceived).toBe(2)
    expect(n.updatesReceived).toBeGreaterThanOrEqual(2) // the routes and End-of-RIB
    expect(n.uptime).toBeGreaterThanOrEqual(0)
    expect(n.negotiated?.peerId).toBe("10.66.9.31")
    expect(n.negotiated?.families).toEqual(["ipv4-unicast", "ipv6-unicast"])
  })

  it("POST /originate and /withdraw, GET /routes with filters and /explain", async () => {
    const bad = await call("POST", "/originate", { prefix: "10.96.0.0/33", localPref: -1, colour: 1 })
    expect(bad.status).toBe(400)
    expect(bad.json.details.map((i: { path: string }) => i.path).sort()).toEqual(["colour", "localPref", "prefix"])
    expect((await call("POST", "/originate", "{not json")).status).toBe(400)

    const o = await call("POST", "/originate", { prefix: "10.96.0.10/32", nextHop: "192.0.2.99", communities: ["64512:7"], localPref: 200 })
    expect(o.json).toEqual({ ok: true, prefix: "10.96.0.10/32" })
    await waitFor("the peer learns the originated route", async () => ((await peer.prefixes()).includes("10.96.0.10/32") ? true : undefined))

    const all = (await call("GET", "/routes")).json as { total: number; truncated: boolean; routes: RouteView[] }
    expect(all.total).toBe(3)
    expect(all.routes.map((r) => r.prefix).sort()).toEqual(["10.244.131.0/24", "10.244.31.0/24", "10.96.0.10/32"])
    const local = all.routes.find((r) => r.prefix === "10.96.0.10/32")!
    expect(local).toMatchObject({ source: "local", nextHop: "192.0.2.99", communities: ["64512:7"], localPref: 200, origin: "igp", asPath: "" })

    const byCommunity = (await call("GET", "/routes?community=64512:7")).json
    expect(byCommunity.routes.map((r: RouteView) => r.prefix)).toEqual(["10.96.0.10/32"])
    const byNeighbor = (await call("GET", `/routes?neighbor=${h(31)}`)).json
    expect(byNeighbor.routes.map((r: RouteView) => r.prefix).sort()).toEqual(["10.244.131.0/24", "10.244.31.0/24"])
    const byPrefix = (await call("GET", "/routes?prefix=10.244.0.0/16&limit=1")).json
    expect([byPrefix.total, byPrefix.truncated, byPrefix.routes.length]).toEqual([2, true, 1])
    expect((await call("GET", "/routes?prefix=banana")).status).toBe(400)
    expect((await call("GET", "/routes?community=1:2:3")).status).toBe(400)

    const e = await call("GET", "/explain?prefix=10.244.31.0/24")
    expect(e.json.prefix).toBe("10.244.31.0/24")
    expect(e.json.paths).toEqual([expect.objectContaining({ source: h(31), best: true, nextHop: "192.0.2.1", localPref: 100 })])
    expect((await call("GET", "/explain?prefix=10.1.0.0/16")).status).toBe(404)
    expect((await call("GET", "/explain")).status).toBe(400)

    expect((await call("POST", "/withdraw", { prefix: "10.96.0.10/32" })).json).toEqual({ ok: true, prefix: "10.96.0.10/32" })
    await waitFor("the peer loses the withdrawn route", async () => ((await peer.prefixes()).includes("10.96.0.10/32") ? undefined : true))
  })

  it("GET /metrics: sessions by state, prefixes and updates per peer, Loc-RIB size, memory, event-loop lag", async () => {
    const r = await call("GET", "/metrics")
    expect(r.status).toBe(200)
    const m = r.text
    const value = (line: string): number => {
      const found = m.split("\n").find((l) => l.startsWith(`${line} `))
      if (found === undefined) throw new Error(`no ${line} in\n${m}`)
      return Number(found.slice(line.length + 1))
    }
    const p31 = `peer="${h(31)}",name="node-31",peer_as="64512"`
    expect(value(`starling_bgp_sessions{state="Established"}`)).toBe(1)
    expect(value(`starling_bgp_sessions{state="Active"}`)).toBe(1)
    expect(value(`starling_bgp_sessions{state="Idle"}`)).toBe(0)
    expect(value(`starling_bgp_session_up{${p31}}`)).toBe(1)
    expect(value(`starling_bgp_prefixes_received{${p31}}`)).toBe(2)
    expect(value(`starling_bgp_prefixes_advertised{${p31}}`)).toBe(0) // only its own routes exist now
    expect(value(`starling_bgp_updates_received_total{${p31}}`)).toBeGreaterThanOrEqual(2)
    expect(value(`starling_bgp_updates_sent_total{${p31}}`)).toBeGreaterThanOrEqual(3) // End-of-RIB x2, the originated route, its withdrawal
    expect(value("starling_loc_rib_routes")).toBe(2)
    expect(value("process_resident_memory_bytes")).toBeGreaterThan(1e6)
    expect(value("nodejs_heap_used_bytes")).toBeGreaterThan(1e5)
    expect(value(`nodejs_eventloop_lag_seconds{quantile="0.99"}`)).toBeGreaterThanOrEqual(0)
    expect(m).toContain("# TYPE starling_bgp_updates_received_total counter")
    expect(m).toContain("# TYPE starling_bgp_sessions gauge")
  })

  it("POST /reload?dryRun=true with a config in the body plans without applying; errors name the field and line", async () => {
    const next = config().replace(`  - { address: ${h(32)}, peerAs: 64512, passive: true, routeReflectorClient: true, name: node-32 }\n`, "")
    const r = await call("POST", "/reload?dryRun=true", next)
    expect(r.status).toBe(200)
    const plan = r.json as ReloadResult
    expect(plan.dryRun).toBe(true)
    expect(plan.changes.map((c) => `${c.target}: ${c.effect}`)).toEqual([`neighbor ${h(32)} (node-32): remove`])
    expect((await d.neighbors()).length).toBe(2)

    const bad = await call("POST", "/reload?dryRun=true", config().replace("peerAs: 64512, passive: true, routeReflectorClient: true, name: node-32", "peerAs: -5, passive: true, name: node-32"))
    expect(bad.status).toBe(400)
    expect(bad.json.errors).toEqual([{ path: "neighbors[1].peerAs", line: 6, column: 29, message: "Expected a value between 1 and 4294967295, got -5" }])
    // A real reload reads the config file; a body is for dry runs only.
    expect((await call("POST", "/reload", next)).status).toBe(400)
  })
})
