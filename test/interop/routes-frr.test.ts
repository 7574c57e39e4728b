/**
 * @starling/speaker exchanging routes with a real FRR bgpd (started here on 127.66.7.0/24): FRR in AS 65030
 * with two Starling speakers, E (eBGP, AS 65010, import/export policies that accept) and I (iBGP, AS
 * 65030). IPv4 and IPv6 (MP-BGP over the IPv4 sessions, explicit IPv6 next hops on every side) in every
 * direction, attributes checked field by field where they arrive (FRR does not show unknown attributes,
 * so the one Starling originates is checked after it crossed FRR into the other Starling speaker);
 * withdrawals both ways. Then a route refresh FRR asks for (`clear bgp … soft in`): Starling answers with
 * BoRR, its whole Adj-RIB-Out and EoRR (RFC 7313) and FRR's view stays complete. Then max-prefix: "reset"
 * sends Cease/Maximum Number of Prefixes Reached (RFC 4486) and comes back after the idle hold time;
 * "warn" keeps the session. Fails (never skips) when FRR is not installed.
 */
import { afterAll, afterEach, assert, describe, expect, it } from "@effect/vitest"
import { Result } from "effect"
import type { UnknownAttribute, Update } from "@starling/codec"
import { decodeMessage, formatPrefix, ipv6ToBytes, makeContext, parseIpv4, SegmentType } from "@starling/codec"
import { acceptAll, compilePolicy } from "@starling/rib"
import { lab } from "./lib/addresses.ts"
import type { FrrNeighbor, FrrSpec, FrrStaticRoute } from "./lib/frr.ts"
import { startFrr as startFrrProcess } from "./lib/frr.ts"
import { stopAll, waitFor } from "./lib/process.ts"
import { closeAllSpeakers, routeView, startSpeaker } from "./lib/speaker.ts"
import type { WireMessage } from "./lib/starling.ts"
import { notifications } from "./lib/starling.ts"

const net = lab(7)

const routers: Array<{ dispose: () => Promise<void> }> = []
const startFrr = async (spec: FrrSpec) => {
  const r = await startFrrProcess(spec)
  routers.push(r)
  return r
}
const cleanup = async () => {
  await closeAllSpeakers()
  await Promise.all(routers.splice(0).map((r) => r.dispose()))
  await stopAll()
}
afterEach(cleanup)
afterAll(cleanup)

const AS_E = 65010
const AS_R = 65030

/** Test `k`: E at .(10k+1), FRR at .(10k+2), I at .(10k+3). */
const hosts = (k: number) => ({ e: net.host(10 * k + 1), r: net.host(10 * k + 2), i: net.host(10 * k + 3) })
const routerId = (address: string) => address.replace(/^127\./, "10.")
const timers = { connectRetryTime: 1, idleHoldTime: { initial: 1, max: 2 } } as const

/** FRR sends at once: no MinRouteAdvertisementInterval batching. */
const frrNeighbor = (n: FrrNeighbor): FrrNeighbor => ({ ...n, extra: ["advertisement-interval 0", ...(n.extra ?? [])] })

/** FRR applies route-maps (ours originate routes through them) only after its 5 s route-map delay timer by default. */
const quickRouteMaps = ["bgp route-map delay-timer 0"]

const unknownE: UnknownAttribute = { flags: 0xc0, type: 250, value: Uint8Array.of(1, 2, 3, 4) }
const unknownI: UnknownAttribute = { flags: 0xc0, type: 250, value: Uint8Array.of(9) }

const exportE = compilePolicy({
  statements: [
    { match: { prefixes: [{ prefix: "0.0.0.0/0", le: 32 }] }, action: "accept", set: { prepend: 2, nextHop: "192.0.2.71" } },
    { action: "accept", set: { prepend: 2 } }
  ]
})

/** One path of `show bgp <afi> unicast <prefix> json`, as plain comparable fields. */
interface FrrPathJson {
  aspath?: { string?: string }
  origin?: string
  metric?: number
  locPrf?: number
  community?: { list?: string[] }
  largeCommunity?: { list?: string[] }
  nexthops?: Array<{ ip?: string }>
  peer?: { peerId?: string; type?: string }
}
const frrPaths = async (frr: { json: <A>(c: string) => Promise<A> }, prefix: string): Promise<FrrPathJson[]> => {
  const out = await frr.json<{ paths?: FrrPathJson[] }>(`show bgp ${prefix.includes(":") ? "ipv6" : "ipv4"} unicast ${prefix} json`)
  return out.paths ?? []
}
const frrView = (p: FrrPathJson) => ({
  from: p.peer?.peerId,
  type: p.peer?.type,
  asPath: p.aspath?.string,
  origin: p.origin,
  med: p.metric,
  localPref: p.locPrf,
  nextHop: p.nexthops?.[0]?.ip,
  communities: p.community?.list,
  largeCommunities: p.largeCommunity?.list
})

const has = (t: Map<string, unknown>, ...prefixes: string[]) => prefixes.every((p) => t.has(p))
const lacks = (t: Map<string, unknown>, ...prefixes: string[]) => prefixes.every((p) => !t.has(p))

/** The prefixes announced by the UPDATEs among `msgs` (IPv4 NLRI and MP_REACH). */
const announced = (msgs: ReadonlyArray<WireMessage>): string[] =>
  msgs.filter((m) => m.type === 2).flatMap((m) => {
    const r = decodeMessage(m.bytes, makeContext({ extendedMessage: true }))
    if (Result.isFailure(r)) throw new Error(`undecodable UPDATE: ${r.failure.message}`)
    const u = r.success as Update
    return [...u.nlri, ...(u.mpReach?.nlri ?? [])].map(formatPrefix)
  })

describe("Starling speaker ⇄ FRR: routes", () => {
  it("eBGP and iBGP, IPv4 and IPv6: attributes intact in every direction, unknown transitive attribute carried through FRR with Partial set, withdrawals both ways", async () => {
    const { e: eAddr, r: rAddr, i: iAddr } = hosts(1)
    const statics: FrrStaticRoute[] = [
      { prefix: "10.72.1.0/24", origin: "egp", communities: [[AS_R, 100]], largeCommunities: [[AS_R, 1, 2]], med: 30, localPref: 150, nextHop: "192.0.2.72" },
      { prefix: "2001:db8:72::/48", origin: "incomplete", communities: [[AS_R, 100]], largeCommunities: [[AS_R, 1, 2]], med: 30, localPref: 150, nextHop: "2001:db8::72" }
    ]
    const frr = await startFrr({
      name: "routes",
      routerId: routerId(rAddr),
      as: AS_R,
      address: rAddr,
      neighbors: [
        frrNeighbor({ address: eAddr, as: AS_E, families: [{ family: "ipv4", routeMapOut: "TO_E4" }, { family: "ipv6", routeMapOut: "TO_E6" }] }),
        frrNeighbor({ address: iAddr, as: AS_R })
      ],
      staticRoutes: statics,
      // FRR's export policy toward E prepends its AS once more (FRR adds it once itself on eBGP) and gives
      // IPv6 routes FRR's own IPv6 next hop (the session runs over IPv4).
      extra: [
        ...quickRouteMaps,
        "route-map TO_E4 permit 10", ` set as-path prepend ${AS_R}`, "!",
        "route-map TO_E6 permit 10", ` set as-path prepend ${AS_R}`, " set ipv6 next-hop global 2001:db8::72", "!"
      ]
    })
    const e = await startSpeaker({
      localAs: AS_E,
      routerId: routerId(eAddr),
      listen: [{ address: eAddr }],
      neighbors: [{ address: rAddr, peerAs: AS_R, localAddress: eAddr, nextHopV6: "2001:db8::71", importPolicy: acceptAll, exportPolicy: exportE, ...timers }]
    })
    const i = await startSpeaker({
      localAs: AS_R,
      routerId: routerId(iAddr),
      listen: [{ address: iAddr }],
      neighbors: [{ address: rAddr, peerAs: AS_R, localAddress: iAddr, nextHopV6: "2001:db8::73", ...timers }]
    })
    const fromE = { origin: 1 as const, med: 10, communities: [AS_E * 65536 + 1], largeCommunities: [{ global: AS_E, local1: 1, local2: 1 }], unknown: [unknownE] }
    await e.run(e.api.originate("10.71.1.0/24", fromE))
    await e.run(e.api.originate("2001:db8:71::/48", fromE))
    const fromI = {
      origin: 2 as const,
      asPath: [{ type: SegmentType.AS_SEQUENCE, asns: [64999, 64999] }],
      med: 40,
      localPref: 200,
      communities: [AS_R * 65536 + 3],
      largeCommunities: [{ global: AS_R, local1: 3, local2: 3 }],
      unknown: [unknownI]
    }
    await i.run(i.api.originate("10.73.1.0/24", { ...fromI, nextHop: parseIpv4("192.0.2.73")! }))
    await i.run(i.api.originate("2001:db8:73::/48", { ...fromI, mpNextHop: ipv6ToBytes("2001:db8::73")! }))

    const all = ["10.71.1.0/24", "2001:db8:71::/48", "10.72.1.0/24", "2001:db8:72::/48", "10.73.1.0/24", "2001:db8:73::/48"]
    const te = await e.waitTable("E has every route", (t) => has(t, ...all))
    const ti = await i.waitTable("I has every route", (t) => has(t, ...all))
    assert.strictEqual(te.size, 6)
    assert.strictEqual(ti.size, 6)

    // FRR's view of what the Starling speakers sent.
    const fromEAtFrr = { from: eAddr, type: "external", asPath: "65010 65010 65010", origin: "EGP", med: 10, localPref: undefined, communities: ["65010:1"], largeCommunities: ["65010:1:1"] }
    assert.deepStrictEqual((await frrPaths(frr, "10.71.1.0/24")).map(frrView), [{ ...fromEAtFrr, nextHop: "192.0.2.71" }])
    assert.deepStrictEqual((await frrPaths(frr, "2001:db8:71::/48")).map(frrView), [{ ...fromEAtFrr, nextHop: "2001:db8::71" }])
    const fromIAtFrr = { from: iAddr, type: "internal", asPath: "64999 64999", origin: "incomplete", med: 40, localPref: 200, communities: ["65030:3"], largeCommunities: ["65030:3:3"] }
    assert.deepStrictEqual((await frrPaths(frr, "10.73.1.0/24")).map(frrView), [{ ...fromIAtFrr, nextHop: "192.0.2.73" }])
    assert.deepStrictEqual((await frrPaths(frr, "2001:db8:73::/48")).map(frrView), [{ ...fromIAtFrr, nextHop: "2001:db8::73" }])

    // E (eBGP): FRR's routes with its AS twice, FRR's next hop (IPv4: its address; IPv6: set by its
    // route-map), the MED of FRR's own routes (FRR sends it to eBGP), no LOCAL_PREF.
    const frrOwn = { communities: ["65030:100"], largeCommunities: ["65030:1:2"] }
    assert.deepStrictEqual(routeView(te.get("10.72.1.0/24")!), { nextHop: rAddr, origin: "egp", asPath: "65030 65030", med: 30, ...frrOwn })
    assert.deepStrictEqual(routeView(te.get("2001:db8:72::/48")!), { nextHop: "2001:db8::72", origin: "incomplete", asPath: "65030 65030", med: 30, ...frrOwn })
    // I's routes through FRR: no MED (learned over iBGP, not FRR's own), the unknown attribute with Partial.
    const iViaFrr = { origin: "incomplete" as const, asPath: "65030 65030 64999 64999", communities: ["65030:3"], largeCommunities: ["65030:3:3"], unknown: ["e0 250 09"] }
    assert.deepStrictEqual(routeView(te.get("10.73.1.0/24")!), { nextHop: rAddr, ...iViaFrr })
    assert.deepStrictEqual(routeView(te.get("2001:db8:73::/48")!), { nextHop: "2001:db8::72", ...iViaFrr })
    // FRR sends E's routes back to E (no sender-side loop check); E's loop check (RFC 4271 §9.1.2) keeps
    // them out: only E's own path.
    for (const p of ["10.71.1.0/24", "2001:db8:71::/48"]) {
      assert.deepStrictEqual((await e.explain(p))?.paths.map((x) => x.source), ["local"], `${p}: E's own path only`)
    }

    // I (iBGP): FRR's routes with its next hop as set, LOCAL_PREF and MED, empty AS path.
    assert.deepStrictEqual(routeView(ti.get("10.72.1.0/24")!), { nextHop: "192.0.2.72", origin: "egp", asPath: "", med: 30, localPref: 150, ...frrOwn })
    assert.deepStrictEqual(routeView(ti.get("2001:db8:72::/48")!), { nextHop: "2001:db8::72", origin: "incomplete", asPath: "", med: 30, localPref: 150, ...frrOwn })
    // E's routes through FRR: next hop kept, MED kept, LOCAL_PREF 100, unknown attribute with Partial set.
    const eViaFrr = { origin: "egp" as const, asPath: "65010 65010 65010", med: 10, localPref: 100, communities: ["65010:1"], largeCommunities: ["65010:1:1"], unknown: ["e0 250 01020304"] }
    assert.deepStrictEqual(routeView(ti.get("10.71.1.0/24")!), { nextHop: "192.0.2.71", ...eViaFrr })
    assert.deepStrictEqual(routeView(ti.get("2001:db8:71::/48")!), { nextHop: "2001:db8::71", ...eViaFrr })

    // Withdrawals: E → FRR → I.
    await e.run(e.api.withdraw("10.71.1.0/24"))
    await e.run(e.api.withdraw("2001:db8:71::/48"))
    await waitFor("FRR drops E's routes", async () =>
      (await frrPaths(frr, "10.71.1.0/24")).length === 0 && (await frrPaths(frr, "2001:db8:71::/48")).length === 0 ? true : undefined)
    await i.waitTable("I drops E's routes", (t) => lacks(t, "10.71.1.0/24", "2001:db8:71::/48"))
    // FRR → Starling: FRR stops originating.
    await frr.vtysh(
      "configure terminal", `router bgp ${AS_R}`,
      "address-family ipv4 unicast", "no network 10.72.1.0/24", "exit-address-family",
      "address-family ipv6 unicast", "no network 2001:db8:72::/48", "exit-address-family"
    )
    await e.waitTable("E drops FRR's routes", (t) => lacks(t, "10.72.1.0/24", "2001:db8:72::/48"))
    await i.waitTable("I drops FRR's routes", (t) => lacks(t, "10.72.1.0/24", "2001:db8:72::/48"))
    // I → FRR → E.
    await i.run(i.api.withdraw("10.73.1.0/24"))
    await i.run(i.api.withdraw("2001:db8:73::/48"))
    await e.waitTable("E drops I's routes", (t) => t.size === 0)
    assert.deepStrictEqual([...(await i.table()).keys()], [])
    for (const p of all) assert.deepStrictEqual(await frrPaths(frr, p), [], `FRR has no ${p} left`)
  })

  it("route refresh requested by FRR (clear bgp … soft in): Starling re-sends its Adj-RIB-Out between BoRR and EoRR, FRR keeps every route", async () => {
    const { r: rAddr, i: iAddr } = hosts(2)
    const frr = await startFrr({ name: "refresh", routerId: routerId(rAddr), as: AS_R, address: rAddr, neighbors: [frrNeighbor({ address: iAddr, as: AS_R })], extra: quickRouteMaps })
    const s = await startSpeaker({
      localAs: AS_R,
      routerId: routerId(iAddr),
      listen: [{ address: iAddr }],
      neighbors: [{ address: rAddr, peerAs: AS_R, localAddress: iAddr, ...timers }]
    })
    const v4 = ["10.74.1.0/24", "10.74.2.0/24", "10.74.3.0/25"]
    const v6 = ["2001:db8:74::/48", "2001:db8:74:1::/64"]
    for (const [n, p] of v4.entries()) await s.run(s.api.originate(p, { nextHop: parseIpv4("192.0.2.74")!, communities: [AS_R * 65536 + n] }))
    for (const p of v6) await s.run(s.api.originate(p, { mpNextHop: ipv6ToBytes("2001:db8::74")!, med: 5 }))
    const frrHasAll = async () => {
      for (const p of [...v4, ...v6]) if ((await frrPaths(frr, p)).length !== 1) return undefined
      return true
    }
    await waitFor("FRR has Starling's routes", frrHasAll)
    const n = (await s.neighbor(rAddr)).negotiated!
    assert.isTrue(n.routeRefresh)
    assert.isTrue(n.enhancedRouteRefresh, "FRR and Starling both do RFC 7313")

    type Stats = { routeRefreshSent: number; updatesRecv: number }
    const stats = async () => (await frr.neighbor(iAddr)).messageStats as Stats
    for (const [family, prefixes] of [["ipv4", v4], ["ipv6", v6]] as const) {
      const before = await stats()
      const mark = s.wire.length
      await frr.vtysh(`clear bgp ${family} unicast ${iAddr} soft in`)
      // Starling's side of the wire: the request, then BoRR, the routes, EoRR (RFC 7313 §4).
      const afi = family === "ipv4" ? 1 : 2
      const refreshes = () => s.wire.slice(mark).filter((m) => m.type === 5)
      await waitFor(`Starling answered the ${family} refresh`, () => (refreshes().length >= 3 ? true : undefined))
      const rr = refreshes().map((m) => `${m.dir} afi=${(m.bytes[19]! << 8) | m.bytes[20]!} subtype=${m.bytes[21]} safi=${m.bytes[22]}`)
      assert.deepStrictEqual(rr, [`received afi=${afi} subtype=0 safi=1`, `sent afi=${afi} subtype=1 safi=1`, `sent afi=${afi} subtype=2 safi=1`])
      const after = s.wire.slice(mark)
      const borr = after.findIndex((m) => m.dir === "sent" && m.type === 5 && m.bytes[21] === 1)
      const eorr = after.findIndex((m) => m.dir === "sent" && m.type === 5 && m.bytes[21] === 2)
      assert.deepStrictEqual(announced(after.slice(borr, eorr).filter((m) => m.dir === "sent")).sort(), [...prefixes].sort(), "the whole Adj-RIB-Out of the family")
      // FRR's counters: one ROUTE-REFRESH sent; the re-sent UPDATEs received.
      const now = await waitFor("FRR counted the UPDATEs", async () => {
        const x = await stats()
        return x.updatesRecv > before.updatesRecv ? x : undefined
      })
      assert.strictEqual(now.routeRefreshSent, before.routeRefreshSent + 1)
      // FRR marked Starling's routes stale at BoRR and swept what was not re-sent at EoRR: all still there.
      await new Promise((r) => setTimeout(r, 300))
      assert.isTrue(await frrHasAll(), "FRR kept every route")
      for (const p of prefixes) {
        const path = (await frrPaths(frr, p))[0]!
        assert.strictEqual(frrView(path).from, iAddr)
        assert.notProperty(path, "stale")
      }
    }
    assert.deepStrictEqual(notifications(s.wire), [])
  })

  describe("max-prefix: FRR announces more routes than the neighbor's limit", () => {
    const frrRoutes: FrrStaticRoute[] = [1, 2, 3, 4, 5].map((n) => ({ prefix: `10.75.${n}.0/24`, nextHop: "192.0.2.75" }))

    it('action "reset": Cease/Maximum Number of Prefixes Reached (RFC 4486) — FRR shows it as the last error — and Starling comes back after the idle hold time', async () => {
      const { r: rAddr, i: iAddr } = hosts(3)
      const frr = await startFrr({ name: "maxpfx", routerId: routerId(rAddr), as: AS_R, address: rAddr, neighbors: [frrNeighbor({ address: iAddr, as: AS_R })], staticRoutes: frrRoutes, extra: quickRouteMaps })
      const s = await startSpeaker({
        localAs: AS_R,
        routerId: routerId(iAddr),
        listen: [{ address: iAddr }],
        neighbors: [{ address: rAddr, peerAs: AS_R, localAddress: iAddr, maxPrefix: { limit: 3, action: "reset" }, ...timers }]
      })
      const sent = await waitFor("Starling sends a NOTIFICATION", () => s.wire.find((m) => m.dir === "sent" && m.type === 3))
      assert.deepStrictEqual([sent.bytes[19], sent.bytes[20]], [6, 1], "Cease / Maximum Number of Prefixes Reached")
      const nb = await frr.waitNeighbor(iAddr, (x) => x.lastNotificationReason !== undefined, 10_000, "a NOTIFICATION received")
      assert.strictEqual(nb.lastNotificationReason, "Cease/Maximum Number of Prefixes Reached")
      assert.strictEqual(nb.lastResetDueTo, "BGP Notification received")
      const st = await waitFor("Starling's reason", async () => (await s.neighbor(rAddr)).lastDown)
      assert.deepStrictEqual(st, { _tag: "AutomaticStop", subcode: 1 })
      // The neighbor comes back by itself after the idle hold time (1 s) — and FRR sees a second session.
      const back = await waitFor("a second session", () => s.wire.find((m) => m.dir === "sent" && m.type === 1 && m.at > sent.at), 10_000, 50)
      expect(back.at - sent.at).toBeGreaterThanOrEqual(900)
      await frr.waitNeighbor(iAddr, (x) => (x.connectionsEstablished ?? 0) >= 2, 10_000, "established twice")
      assert.isFalse(s.wire.some((m) => m.dir === "received" && m.type === 3), "FRR never sent a NOTIFICATION")
    })

    it('action "warn": the session stays up and every route is kept', async () => {
      const { r: rAddr, i: iAddr } = hosts(4)
      const frr = await startFrr({ name: "maxwarn", routerId: routerId(rAddr), as: AS_R, address: rAddr, neighbors: [frrNeighbor({ address: iAddr, as: AS_R })], staticRoutes: frrRoutes, extra: quickRouteMaps })
      const s = await startSpeaker({
        localAs: AS_R,
        routerId: routerId(iAddr),
        listen: [{ address: iAddr }],
        neighbors: [{ address: rAddr, peerAs: AS_R, localAddress: iAddr, maxPrefix: { limit: 3, action: "warn" }, ...timers }]
      })
      await s.waitTable("all five routes", (t) => t.size === 5)
      const est = await s.established(rAddr)
      assert.strictEqual(est.routesReceived, 5)
      await new Promise((r) => setTimeout(r, 1500))
      const later = await s.neighbor(rAddr)
      assert.strictEqual(later.state, "Established")
      assert.strictEqual(later.establishedAt, est.establishedAt, "the same session")
      assert.deepStrictEqual(notifications(s.wire), [])
      const nb = await frr.neighbor(iAddr)
      assert.strictEqual(nb.bgpState, "Established")
      assert.strictEqual(nb.connectionsEstablished, 1)
    })
  })
})
