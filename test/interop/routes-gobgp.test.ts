/**
 * @starling/speaker exchanging routes with a real GoBGP (started here on 127.66.8.0/24): GoBGP in AS 65040
 * with two Starling speakers, E (eBGP, AS 65010, import/export policies that accept) and I (iBGP, AS
 * 65040). IPv4 and IPv6 (MP-BGP over the IPv4 sessions, explicit IPv6 next hops from Starling and for
 * GoBGP's own routes) in every direction, attributes checked field by field where they arrive (GoBGP's
 * JSON shows the unknown attribute Starling originates); withdrawals both ways. Then a route refresh
 * Starling asks for (RFC 2918) and max-prefix with action "stop". Fails (never skips) when GoBGP is not
 * installed.
 */
import { afterAll, afterEach, assert, describe, expect, it } from "@effect/vitest"
import { Result } from "effect"
import type { UnknownAttribute, Update } from "@starling/codec"
import { Afi, decodeMessage, formatIpv6, formatPrefix, ipv6ToBytes, makeContext, parseIpv4, Safi, SegmentType } from "@starling/codec"
import { acceptAll, compilePolicy } from "@starling/rib"
import { lab } from "./lib/addresses.ts"
import type { Gobgp, GobgpOptions, GobgpRoute } from "./lib/gobgp.ts"
import { startGobgp as startGobgpProcess } from "./lib/gobgp.ts"
import { removeDir, stopAll, waitFor } from "./lib/process.ts"
import { closeAllSpeakers, routeView, startSpeaker } from "./lib/speaker.ts"
import type { WireMessage } from "./lib/starling.ts"
import { notifications } from "./lib/starling.ts"

const net = lab(8)

const routers: Gobgp[] = []
const startGobgp = async (o: GobgpOptions) => {
  const r = await startGobgpProcess(o)
  routers.push(r)
  return r
}
const cleanup = async () => {
  await closeAllSpeakers()
  // The GoBGP driver has no dispose: stop, then remove the run directory.
  await Promise.all(routers.splice(0).map(async (r) => {
    await r.stop()
    removeDir(r.dir)
  }))
  await stopAll()
}
afterEach(cleanup)
afterAll(cleanup)

const AS_E = 65010
const AS_R = 65040

/** Test `k`: E at .(10k+1), GoBGP at .(10k+2), I at .(10k+3). */
const hosts = (k: number) => ({ e: net.host(10 * k + 1), r: net.host(10 * k + 2), i: net.host(10 * k + 3) })
const routerId = (address: string) => address.replace(/^127\./, "10.")
const timers = { connectRetryTime: 1, idleHoldTime: { initial: 1, max: 2 } } as const

const unknownE: UnknownAttribute = { flags: 0xc0, type: 250, value: Uint8Array.of(1, 2, 3, 4) }
const unknownI: UnknownAttribute = { flags: 0xc0, type: 250, value: Uint8Array.of(9) }

/** GoBGP treats IPv4 next hops in 127/8 as withdrawals: E's export policy gives its routes 192.0.2.81. */
const exportE = compilePolicy({
  statements: [
    { match: { prefixes: [{ prefix: "0.0.0.0/0", le: 32 }] }, action: "accept", set: { prepend: 2, nextHop: "192.0.2.81" } },
    { action: "accept", set: { prepend: 2 } }
  ]
})

/** One path of `gobgp global rib -a <afi> -j`. */
interface GobgpPath {
  readonly "neighbor-ip"?: string
  readonly attrs: ReadonlyArray<Record<string, any>>
}
const gobgpRib = async (g: Gobgp, afi: "ipv4" | "ipv6"): Promise<Record<string, GobgpPath[]>> => {
  const out = (await g.cli(["global", "rib", "-a", afi, "-j"])).trim()
  return out === "" || out === "null" ? {} : JSON.parse(out)
}
const gobgpAll = async (g: Gobgp): Promise<Record<string, GobgpPath[]>> => ({ ...(await gobgpRib(g, "ipv4")), ...(await gobgpRib(g, "ipv6")) })

/** GoBGP's JSON attributes (by type code) as plain comparable fields. */
const gobgpView = (p: GobgpPath) => {
  const a = (type: number) => p.attrs.find((x) => x.type === type)
  const origin = a(1)?.value as number | undefined
  return {
    from: p["neighbor-ip"],
    origin: origin === undefined ? undefined : ["igp", "egp", "incomplete"][origin],
    asPath: ((a(2)?.as_paths ?? []) as Array<{ asns: number[] }>).map((s) => s.asns.join(" ")).join(" "),
    nextHop: (a(3)?.nexthop ?? a(14)?.nexthop) as string | undefined,
    med: a(4)?.metric as number | undefined,
    localPref: a(5)?.value as number | undefined,
    communities: (a(8)?.communities as number[] | undefined)?.map((c) => `${c >>> 16}:${c & 0xffff}`),
    largeCommunities: (a(32)?.value as Array<{ ASN: number; LocalData1: number; LocalData2: number }> | undefined)?.map((c) => `${c.ASN}:${c.LocalData1}:${c.LocalData2}`),
    unknown: p.attrs.filter((x) => x.type === 250).map((x) => `${Number(x.flags).toString(16)} ${x.type} ${Buffer.from(String(x.value), "base64").toString("hex")}`)
  }
}

/** An IPv4-mapped IPv6 address (::ffff:a.b.c.d) as Starling prints it (RFC 5952 hex groups). */
const v4Mapped = (a: string) => formatIpv6(Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...a.split(".").map(Number)))

const has = (t: Map<string, unknown> | Record<string, unknown>, ...prefixes: string[]) => prefixes.every((p) => (t instanceof Map ? t.has(p) : p in t))
const lacks = (t: Map<string, unknown> | Record<string, unknown>, ...prefixes: string[]) => prefixes.every((p) => (t instanceof Map ? !t.has(p) : !(p in t)))

const announced = (msgs: ReadonlyArray<WireMessage>): string[] =>
  msgs.filter((m) => m.type === 2).flatMap((m) => {
    const r = decodeMessage(m.bytes, makeContext({ extendedMessage: true }))
    if (Result.isFailure(r)) throw new Error(`undecodable UPDATE: ${r.failure.message}`)
    const u = r.success as Update
    return [...u.nlri, ...(u.mpReach?.nlri ?? [])].map(formatPrefix)
  })

describe("Starling speaker ⇄ GoBGP: routes", () => {
  it("eBGP and iBGP, IPv4 and IPv6: attributes intact in every direction, unknown transitive attribute shown by GoBGP and carried through, withdrawals both ways", async () => {
    const { e: eAddr, r: rAddr, i: iAddr } = hosts(1)
    // GoBGP's own routes carry an AS path of their own (AS 64998, prepended once).
    const own = { origin: "egp" as const, asPath: [64998, 64998], med: 30, localPref: 150, communities: ["65040:100"], largeCommunities: ["65040:1:2"] }
    const g = await startGobgp({
      name: "routes",
      routerId: routerId(rAddr),
      as: AS_R,
      address: rAddr,
      neighbors: [{ address: eAddr, peerAs: AS_E }, { address: iAddr, peerAs: AS_R }],
      routes: [
        { prefix: "10.82.1.0/24", nextHop: "192.0.2.82", ...own },
        { prefix: "2001:db8:82::/48", nextHop: "2001:db8::82", ...own, origin: "incomplete" }
      ]
    })
    const e = await startSpeaker({
      localAs: AS_E,
      routerId: routerId(eAddr),
      listen: [{ address: eAddr }],
      neighbors: [{ address: rAddr, peerAs: AS_R, localAddress: eAddr, nextHopV6: "2001:db8::81", importPolicy: acceptAll, exportPolicy: exportE, ...timers }]
    })
    const i = await startSpeaker({
      localAs: AS_R,
      routerId: routerId(iAddr),
      listen: [{ address: iAddr }],
      neighbors: [{ address: rAddr, peerAs: AS_R, localAddress: iAddr, nextHopV6: "2001:db8::83", ...timers }]
    })
    const fromE = { origin: 1 as const, med: 10, communities: [AS_E * 65536 + 1], largeCommunities: [{ global: AS_E, local1: 1, local2: 1 }], unknown: [unknownE] }
    await e.run(e.api.originate("10.81.1.0/24", fromE))
    await e.run(e.api.originate("2001:db8:81::/48", fromE))
    const fromI = {
      origin: 2 as const,
      asPath: [{ type: SegmentType.AS_SEQUENCE, asns: [64999, 64999] }],
      med: 40,
      localPref: 200,
      communities: [AS_R * 65536 + 3],
      largeCommunities: [{ global: AS_R, local1: 3, local2: 3 }],
      unknown: [unknownI]
    }
    await i.run(i.api.originate("10.83.1.0/24", { ...fromI, nextHop: parseIpv4("192.0.2.83")! }))
    await i.run(i.api.originate("2001:db8:83::/48", { ...fromI, mpNextHop: ipv6ToBytes("2001:db8::83")! }))

    const all = ["10.81.1.0/24", "2001:db8:81::/48", "10.82.1.0/24", "2001:db8:82::/48", "10.83.1.0/24", "2001:db8:83::/48"]
    const te = await e.waitTable("E has every route", (t) => has(t, ...all))
    const ti = await i.waitTable("I has every route", (t) => has(t, ...all))
    assert.strictEqual(te.size, 6)
    assert.strictEqual(ti.size, 6)
    const rib = await waitFor("GoBGP has every route", async () => {
      const r = await gobgpAll(g)
      return has(r, ...all) ? r : undefined
    })

    // GoBGP's view, including the unknown attribute as received (flags 0xc0: optional transitive).
    const view = (p: string) => rib[p]!.map(gobgpView)
    const fromEAtGobgp = { from: eAddr, origin: "egp", asPath: "65010 65010 65010", med: 10, localPref: undefined, communities: ["65010:1"], largeCommunities: ["65010:1:1"], unknown: ["c0 250 01020304"] }
    assert.deepStrictEqual(view("10.81.1.0/24"), [{ ...fromEAtGobgp, nextHop: "192.0.2.81" }])
    assert.deepStrictEqual(view("2001:db8:81::/48"), [{ ...fromEAtGobgp, nextHop: "2001:db8::81" }])
    const fromIAtGobgp = { from: iAddr, origin: "incomplete", asPath: "64999 64999", med: 40, localPref: 200, communities: ["65040:3"], largeCommunities: ["65040:3:3"] }
    assert.deepStrictEqual(view("10.83.1.0/24"), [{ ...fromIAtGobgp, nextHop: "192.0.2.83", unknown: ["c0 250 09"] }])
    assert.deepStrictEqual(view("2001:db8:83::/48"), [{ ...fromIAtGobgp, nextHop: "2001:db8::83", unknown: ["c0 250 09"] }])

    // E (eBGP): GoBGP's routes with its AS prepended, their own next hops, MED, no LOCAL_PREF.
    const gobgpOwn = { asPath: "65040 64998 64998", med: 30, communities: ["65040:100"], largeCommunities: ["65040:1:2"] }
    assert.deepStrictEqual(routeView(te.get("10.82.1.0/24")!), { nextHop: "192.0.2.82", origin: "egp", ...gobgpOwn })
    assert.deepStrictEqual(routeView(te.get("2001:db8:82::/48")!), { nextHop: "2001:db8::82", origin: "incomplete", ...gobgpOwn })
    // I's routes through GoBGP to E: GoBGP's address as next hop (IPv6: IPv4-mapped, GoBGP has no IPv6
    // address on this session), no MED. GoBGP passes the unknown attribute on without setting the
    // Partial bit (RFC 4271 §5 asks for it): flags stay 0xc0.
    const iViaGobgp = { origin: "incomplete" as const, asPath: "65040 64999 64999", communities: ["65040:3"], largeCommunities: ["65040:3:3"], unknown: ["c0 250 09"] }
    assert.deepStrictEqual(routeView(te.get("10.83.1.0/24")!), { nextHop: rAddr, ...iViaGobgp })
    assert.deepStrictEqual(routeView(te.get("2001:db8:83::/48")!), { nextHop: v4Mapped(rAddr), ...iViaGobgp })

    // I (iBGP): GoBGP's routes with LOCAL_PREF and MED.
    assert.deepStrictEqual(routeView(ti.get("10.82.1.0/24")!), { nextHop: "192.0.2.82", origin: "egp", ...gobgpOwn, asPath: "64998 64998", localPref: 150 })
    assert.deepStrictEqual(routeView(ti.get("2001:db8:82::/48")!), { nextHop: "2001:db8::82", origin: "incomplete", ...gobgpOwn, asPath: "64998 64998", localPref: 150 })
    // E's routes through GoBGP to I: next hop and MED kept, LOCAL_PREF 100.
    const eViaGobgp = { origin: "egp" as const, asPath: "65010 65010 65010", med: 10, localPref: 100, communities: ["65010:1"], largeCommunities: ["65010:1:1"], unknown: ["c0 250 01020304"] }
    assert.deepStrictEqual(routeView(ti.get("10.81.1.0/24")!), { nextHop: "192.0.2.81", ...eViaGobgp })
    assert.deepStrictEqual(routeView(ti.get("2001:db8:81::/48")!), { nextHop: "2001:db8::81", ...eViaGobgp })

    // Withdrawals: E → GoBGP → I.
    await e.run(e.api.withdraw("10.81.1.0/24"))
    await e.run(e.api.withdraw("2001:db8:81::/48"))
    await waitFor("GoBGP drops E's routes", async () => (lacks(await gobgpAll(g), "10.81.1.0/24", "2001:db8:81::/48") ? true : undefined))
    await i.waitTable("I drops E's routes", (t) => lacks(t, "10.81.1.0/24", "2001:db8:81::/48"))
    // GoBGP → Starling.
    await g.cli(["global", "rib", "-a", "ipv4", "del", "10.82.1.0/24"])
    await g.cli(["global", "rib", "-a", "ipv6", "del", "2001:db8:82::/48"])
    await e.waitTable("E drops GoBGP's routes", (t) => lacks(t, "10.82.1.0/24", "2001:db8:82::/48"))
    await i.waitTable("I drops GoBGP's routes", (t) => lacks(t, "10.82.1.0/24", "2001:db8:82::/48"))
    // I → GoBGP → E.
    await i.run(i.api.withdraw("10.83.1.0/24"))
    await i.run(i.api.withdraw("2001:db8:83::/48"))
    await e.waitTable("E drops I's routes", (t) => t.size === 0)
    await waitFor("GoBGP's RIB is empty", async () => (Object.keys(await gobgpAll(g)).length === 0 ? true : undefined))
    assert.deepStrictEqual([...(await i.table()).keys()], [])
  })

  it("route refresh requested by Starling (RFC 2918): GoBGP re-sends the family's routes", async () => {
    const { r: rAddr, i: iAddr } = hosts(2)
    const routes: GobgpRoute[] = [
      { prefix: "10.84.1.0/24", nextHop: "192.0.2.84", communities: ["65040:1"] },
      { prefix: "10.84.2.0/24", nextHop: "192.0.2.84", med: 7 },
      { prefix: "2001:db8:84::/48", nextHop: "2001:db8::84" }
    ]
    const g = await startGobgp({ name: "refresh", routerId: routerId(rAddr), as: AS_R, address: rAddr, neighbors: [{ address: iAddr, peerAs: AS_R }], routes })
    const s = await startSpeaker({ localAs: AS_R, routerId: routerId(iAddr), listen: [{ address: iAddr }], neighbors: [{ address: rAddr, peerAs: AS_R, localAddress: iAddr, ...timers }] })
    await s.waitTable("GoBGP's routes", (t) => t.size === 3)
    assert.isTrue((await s.neighbor(rAddr)).negotiated?.routeRefresh)
    const before = (await g.neighbor(iAddr)).messages
    const mark = s.wire.length
    await s.run(s.api.requestRefresh(rAddr, Afi.IPV4, Safi.UNICAST))
    const resent = await waitFor("GoBGP re-sends", () => {
      const after = s.wire.slice(mark)
      const got = announced(after.filter((m) => m.dir === "received")).sort()
      return got.length >= 2 ? { after, got } : undefined
    })
    assert.deepStrictEqual(resent.after.filter((m) => m.type === 5).map((m) => [m.dir, ...m.bytes.slice(19, 23)]), [["sent", 0, 1, 0, 1]], "one ROUTE-REFRESH for IPv4 unicast")
    assert.deepStrictEqual(resent.got, ["10.84.1.0/24", "10.84.2.0/24"], "the IPv4 routes, not the IPv6 one")
    const now = await waitFor("GoBGP counted it", async () => {
      const m = (await g.neighbor(iAddr)).messages
      return (m.received.refresh ?? 0) > (before.received.refresh ?? 0) ? m : undefined
    })
    expect(now.sent.update ?? 0).toBeGreaterThan(before.sent.update ?? 0)
    const t = await s.table()
    assert.deepStrictEqual([...t.keys()].sort(), ["10.84.1.0/24", "10.84.2.0/24", "2001:db8:84::/48"])
    // `gobgp global rib add` without an origin gives INCOMPLETE.
    assert.deepStrictEqual(routeView(t.get("10.84.2.0/24")!), { nextHop: "192.0.2.84", origin: "incomplete", asPath: "", med: 7, localPref: 100 })
  })

  it('max-prefix action "stop": Cease/Maximum Number of Prefixes Reached (RFC 4486), then the neighbor stays down until enabled again', async () => {
    const { r: rAddr, i: iAddr } = hosts(3)
    const routes: GobgpRoute[] = [1, 2, 3, 4].map((n) => ({ prefix: `10.85.${n}.0/24`, nextHop: "192.0.2.85" }))
    const g = await startGobgp({ name: "maxpfx", routerId: routerId(rAddr), as: AS_R, address: rAddr, neighbors: [{ address: iAddr, peerAs: AS_R }], routes })
    const s = await startSpeaker({
      localAs: AS_R,
      routerId: routerId(iAddr),
      listen: [{ address: iAddr }],
      neighbors: [{ address: rAddr, peerAs: AS_R, localAddress: iAddr, maxPrefix: { limit: 2, action: "stop" }, ...timers }]
    })
    const sent = await waitFor("Starling sends a NOTIFICATION", () => s.wire.find((m) => m.dir === "sent" && m.type === 3))
    assert.deepStrictEqual([sent.bytes[19], sent.bytes[20]], [6, 1], "Cease / Maximum Number of Prefixes Reached")
    const got = await waitFor("GoBGP logs it", () => g.receivedNotifications()[0])
    assert.deepInclude(got, { neighbor: iAddr, code: 6, subcode: 1 })
    // GoBGP keeps connecting (every second); Starling refuses while the neighbor is stopped.
    await new Promise((r) => setTimeout(r, 2500))
    const down = await s.neighbor(rAddr)
    assert.strictEqual(down.state, "Idle")
    assert.strictEqual(down.routesReceived, 0)
    assert.strictEqual(s.wire.filter((m) => m.dir === "sent" && m.type === 1).length, 1, "no second OPEN while stopped")
    assert.strictEqual((await s.table()).size, 0)
    // Enabled again: a new session (which GoBGP's four routes end the same way).
    await s.run(s.api.enableNeighbor(rAddr))
    await waitFor("a second session", () => (notifications(s.wire).filter((n) => n.dir === "sent").length === 2 ? true : undefined), 10_000)
    assert.deepStrictEqual(notifications(s.wire).map((n) => [n.dir, n.code, n.subcode]), [["sent", 6, 1], ["sent", 6, 1]])
  })
})
