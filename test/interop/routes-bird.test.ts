/**
 * @starling/speaker exchanging routes with a real BIRD 2 (started here on 127.66.6.0/24): BIRD in AS 65020
 * with two Starling speakers, E (eBGP, AS 65010, import/export policies that accept) and I (iBGP, AS
 * 65020). IPv4 and IPv6 (MP-BGP over the IPv4 sessions, explicit IPv6 next hops on every side) in every
 * direction — Starling → BIRD, BIRD → Starling, and Starling → BIRD → Starling — with the attributes
 * checked field by field where they arrive; withdrawals both ways. Then graceful restart (RFC 4724) with
 * Starling as the helper of a BIRD that is SIGKILLed: routes kept as stale, refreshed and swept at
 * End-of-RIB; removed at once for a family BIRD comes back without; swept after the restart time when
 * BIRD does not come back. Fails (never skips) when BIRD is not installed.
 */
import { afterAll, afterEach, assert, describe, expect, it } from "@effect/vitest"
import type { UnknownAttribute } from "@starling/codec"
import { ipv6ToBytes, parseIpv4, SegmentType } from "@starling/codec"
import { acceptAll, compilePolicy } from "@starling/rib"
import type { NeighborConfig } from "@starling/speaker"
import { lab } from "./lib/addresses.ts"
import type { BirdRoute, BirdSpec, BirdStaticRoute } from "./lib/bird.ts"
import { parseShowRouteAll, startBird as startBirdProcess } from "./lib/bird.ts"
import { stopAll, waitFor } from "./lib/process.ts"
import type { RunningSpeaker } from "./lib/speaker.ts"
import { closeAllSpeakers, routeView, startSpeaker } from "./lib/speaker.ts"

const net = lab(6)

const routers: Array<{ dispose: () => Promise<void> }> = []
const startBird = async (spec: BirdSpec) => {
  const r = await startBirdProcess(spec)
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
const AS_R = 65020

/** Test `k`: E at .(10k+1), BIRD at .(10k+2), I at .(10k+3). */
const hosts = (k: number) => ({ e: net.host(10 * k + 1), r: net.host(10 * k + 2), i: net.host(10 * k + 3) })
const routerId = (address: string) => address.replace(/^127\./, "10.")

/** Tests are quick to re-establish: retry every second, 1 s idle hold after a drop. */
const timers = { connectRetryTime: 1, idleHoldTime: { initial: 1, max: 2 } } as const

/** RFC 4271 §5: an optional transitive attribute nobody here knows (type 250). */
const unknownE: UnknownAttribute = { flags: 0xc0, type: 250, value: Uint8Array.of(1, 2, 3, 4) }
const unknownI: UnknownAttribute = { flags: 0xc0, type: 250, value: Uint8Array.of(9) }

/** E's export policy: prepend our AS twice more (three times in all on eBGP); IPv4 next hop 192.0.2.61. */
const exportE = compilePolicy({
  statements: [
    { match: { prefixes: [{ prefix: "0.0.0.0/0", le: 32 }] }, action: "accept", set: { prepend: 2, nextHop: "192.0.2.61" } },
    { action: "accept", set: { prepend: 2 } }
  ]
})

const birdRoutes = async (bird: { birdc: (...a: string[]) => Promise<string> }): Promise<Map<string, BirdRoute>> =>
  new Map(parseShowRouteAll(await bird.birdc("show", "route", "all")).map((r) => [r.prefix, r]))

const has = (t: Map<string, unknown>, ...prefixes: string[]) => prefixes.every((p) => t.has(p))
const lacks = (t: Map<string, unknown>, ...prefixes: string[]) => prefixes.every((p) => !t.has(p))

describe("Starling speaker ⇄ BIRD 2: routes", () => {
  it("eBGP and iBGP, IPv4 and IPv6: attributes intact in every direction, unknown transitive attribute passed on with Partial set, withdrawals both ways", async () => {
    const { e: eAddr, r: rAddr, i: iAddr } = hosts(1)
    const statics: BirdStaticRoute[] = [
      { prefix: "10.62.1.0/24", origin: "egp", communities: [[AS_R, 100]], largeCommunities: [[AS_R, 1, 2]], med: 30, localPref: 150 },
      { prefix: "2001:db8:62::/48", origin: "incomplete", communities: [[AS_R, 100]], largeCommunities: [[AS_R, 1, 2]], med: 30, localPref: 150 }
    ]
    const spec = (routes: BirdStaticRoute[]): BirdSpec => ({
      name: "routes",
      routerId: routerId(rAddr),
      as: AS_R,
      address: rAddr,
      neighbors: [
        {
          name: "ext_peer",
          address: eAddr,
          as: AS_E,
          // BIRD's own export policy prepends its AS once more (BIRD adds it once itself on eBGP).
          channels: [
            { family: "ipv4", export: `filter { bgp_path.prepend(${AS_R}); accept; }` },
            { family: "ipv6", nextHop: "2001:db8::62", export: `filter { bgp_path.prepend(${AS_R}); accept; }` }
          ]
        },
        { name: "int_peer", address: iAddr, as: AS_R, channels: [{ family: "ipv4" }, { family: "ipv6", nextHop: "2001:db8::62" }] }
      ],
      staticRoutes: routes
    })
    const bird = await startBird(spec(statics))
    const poke = () => bird.birdc("show", "status")
    const e = await startSpeaker({
      localAs: AS_E,
      routerId: routerId(eAddr),
      listen: [{ address: eAddr }],
      neighbors: [{ address: rAddr, peerAs: AS_R, localAddress: eAddr, nextHopV6: "2001:db8::61", importPolicy: acceptAll, exportPolicy: exportE, ...timers }]
    })
    const i = await startSpeaker({
      localAs: AS_R,
      routerId: routerId(iAddr),
      listen: [{ address: iAddr }],
      neighbors: [{ address: rAddr, peerAs: AS_R, localAddress: iAddr, nextHopV6: "2001:db8::63", ...timers }]
    })
    const fromE = { origin: 1 as const, med: 10, communities: [AS_E * 65536 + 1], largeCommunities: [{ global: AS_E, local1: 1, local2: 1 }], unknown: [unknownE] }
    await e.run(e.api.originate("10.61.1.0/24", fromE))
    await e.run(e.api.originate("2001:db8:61::/48", fromE))
    // I originates on behalf of AS 64999 (prepended once): a path that does not hold our own AS.
    const fromI = {
      origin: 2 as const,
      asPath: [{ type: SegmentType.AS_SEQUENCE, asns: [64999, 64999] }],
      med: 40,
      localPref: 200,
      communities: [AS_R * 65536 + 3],
      largeCommunities: [{ global: AS_R, local1: 3, local2: 3 }],
      unknown: [unknownI]
    }
    await i.run(i.api.originate("10.63.1.0/24", { ...fromI, nextHop: parseIpv4("192.0.2.63")! }))
    await i.run(i.api.originate("2001:db8:63::/48", { ...fromI, mpNextHop: ipv6ToBytes("2001:db8::63")! }))

    const all = ["10.61.1.0/24", "2001:db8:61::/48", "10.62.1.0/24", "2001:db8:62::/48", "10.63.1.0/24", "2001:db8:63::/48"]
    const te = await e.waitTable("E has every route", (t) => has(t, ...all), { poke })
    const ti = await i.waitTable("I has every route", (t) => has(t, ...all), { poke })
    assert.strictEqual(te.size, 6)
    assert.strictEqual(ti.size, 6)
    const br = await waitFor("BIRD has every route", async () => {
      const t = await birdRoutes(bird)
      return has(t, ...all) ? t : undefined
    })

    // BIRD's view of what the Starling speakers sent (eBGP from E, iBGP from I). "BGP.fa [t]" is BIRD's
    // name for an unknown attribute of type 0xfa with the transitive flag; the value in hex.
    const birdView = (p: string) => {
      const a = br.get(p)!.attributes
      return Object.fromEntries(Object.entries(a).filter(([k]) => k.startsWith("BGP.")))
    }
    assert.match(br.get("10.61.1.0/24")!.summary, new RegExp(`from ${eAddr.replaceAll(".", "\\.")}\\]`))
    assert.deepStrictEqual(birdView("10.61.1.0/24"), {
      "BGP.origin": "EGP",
      "BGP.as_path": "65010 65010 65010",
      "BGP.next_hop": "192.0.2.61",
      "BGP.med": "10",
      "BGP.local_pref": "100", // BIRD's default for a route without LOCAL_PREF (none crosses eBGP)
      "BGP.community": "(65010,1)",
      "BGP.large_community": "(65010, 1, 1)",
      "BGP.fa [t]": "01 02 03 04"
    })
    assert.deepStrictEqual(birdView("2001:db8:61::/48"), {
      "BGP.origin": "EGP",
      "BGP.as_path": "65010 65010 65010",
      "BGP.next_hop": "2001:db8::61",
      "BGP.med": "10",
      "BGP.local_pref": "100",
      "BGP.community": "(65010,1)",
      "BGP.large_community": "(65010, 1, 1)",
      "BGP.fa [t]": "01 02 03 04"
    })
    assert.match(br.get("10.63.1.0/24")!.summary, new RegExp(`from ${iAddr.replaceAll(".", "\\.")}\\]`))
    const fromIAtBird = {
      "BGP.origin": "Incomplete",
      "BGP.as_path": "64999 64999",
      "BGP.med": "40",
      "BGP.local_pref": "200",
      "BGP.community": "(65020,3)",
      "BGP.large_community": "(65020, 3, 3)",
      "BGP.fa [t]": "09"
    }
    assert.deepStrictEqual(birdView("10.63.1.0/24"), { ...fromIAtBird, "BGP.next_hop": "192.0.2.63" })
    assert.deepStrictEqual(birdView("2001:db8:63::/48"), { ...fromIAtBird, "BGP.next_hop": "2001:db8::63" })

    // E (eBGP) sees BIRD's routes with BIRD's AS twice (its export prepend + its own), BIRD's next hop, no
    // LOCAL_PREF, and no MED (BIRD strips MED toward eBGP unless its export filter sets it).
    const birdOwn = { communities: ["65020:100"], largeCommunities: ["65020:1:2"] }
    assert.deepStrictEqual(routeView(te.get("10.62.1.0/24")!), { nextHop: rAddr, origin: "egp", asPath: "65020 65020", ...birdOwn })
    assert.deepStrictEqual(routeView(te.get("2001:db8:62::/48")!), { nextHop: "2001:db8::62", origin: "incomplete", asPath: "65020 65020", ...birdOwn })
    // I's routes through BIRD to E: the unknown attribute now has the Partial bit (0xe0).
    const iViaBird = { origin: "incomplete" as const, asPath: "65020 65020 64999 64999", communities: ["65020:3"], largeCommunities: ["65020:3:3"], unknown: ["e0 250 09"] }
    assert.deepStrictEqual(routeView(te.get("10.63.1.0/24")!), { nextHop: rAddr, ...iViaBird })
    assert.deepStrictEqual(routeView(te.get("2001:db8:63::/48")!), { nextHop: "2001:db8::62", ...iViaBird })
    assert.isTrue(te.get("10.61.1.0/24")!.local, "E's own route stays its own (BIRD does not send it back)")

    // I (iBGP) sees BIRD's routes with LOCAL_PREF and MED, an empty AS path, BIRD as next hop (blackhole
    // statics have none of their own).
    assert.deepStrictEqual(routeView(ti.get("10.62.1.0/24")!), { nextHop: rAddr, origin: "egp", asPath: "", med: 30, localPref: 150, ...birdOwn })
    assert.deepStrictEqual(routeView(ti.get("2001:db8:62::/48")!), { nextHop: "2001:db8::62", origin: "incomplete", asPath: "", med: 30, localPref: 150, ...birdOwn })
    // E's routes through BIRD to I: next hop kept (iBGP), MED kept within the AS, LOCAL_PREF 100 added,
    // the unknown attribute with Partial set.
    const eViaBird = { origin: "egp" as const, asPath: "65010 65010 65010", med: 10, localPref: 100, communities: ["65010:1"], largeCommunities: ["65010:1:1"], unknown: ["e0 250 01020304"] }
    assert.deepStrictEqual(routeView(ti.get("10.61.1.0/24")!), { nextHop: "192.0.2.61", ...eViaBird })
    assert.deepStrictEqual(routeView(ti.get("2001:db8:61::/48")!), { nextHop: "2001:db8::61", ...eViaBird })

    // Withdrawals, Starling → BIRD → Starling: E withdraws its routes.
    await e.run(e.api.withdraw("10.61.1.0/24"))
    await e.run(e.api.withdraw("2001:db8:61::/48"))
    await waitFor("BIRD drops E's routes", async () => (lacks(await birdRoutes(bird), "10.61.1.0/24", "2001:db8:61::/48") ? true : undefined))
    await i.waitTable("I drops E's routes", (t) => lacks(t, "10.61.1.0/24", "2001:db8:61::/48"), { poke })
    // BIRD → Starling: BIRD loses its static routes (reconfigured without them).
    await bird.reconfigure(spec([]))
    await e.waitTable("E drops BIRD's routes", (t) => lacks(t, "10.62.1.0/24", "2001:db8:62::/48"), { poke })
    await i.waitTable("I drops BIRD's routes", (t) => lacks(t, "10.62.1.0/24", "2001:db8:62::/48"), { poke })
    // iBGP Starling → BIRD → eBGP Starling.
    await i.run(i.api.withdraw("10.63.1.0/24"))
    await i.run(i.api.withdraw("2001:db8:63::/48"))
    await e.waitTable("E drops I's routes", (t) => t.size === 0, { poke })
    await waitFor("BIRD drops I's routes", async () => ((await birdRoutes(bird)).size === 0 ? true : undefined))
    assert.deepStrictEqual([...(await i.table()).keys()], [])
    assert.deepStrictEqual([...(await e.table()).keys()], [])
  })

  describe("graceful restart: Starling helps a BIRD that is killed (SIGKILL, no NOTIFICATION)", () => {
    const kept = ["10.62.1.0/24", "2001:db8:62::/48"]
    const dropped = ["10.62.2.0/24", "2001:db8:62:2::/64"]

    const setup = async (k: number, restartTime: number) => {
      const { r: rAddr, i: iAddr } = hosts(k)
      const spec = (prefixes: string[], families: ReadonlyArray<"ipv4" | "ipv6"> = ["ipv4", "ipv6"]): BirdSpec => ({
        name: `gr${k}`,
        routerId: routerId(rAddr),
        as: AS_R,
        address: rAddr,
        neighbors: [{
          name: "int_peer",
          address: iAddr,
          as: AS_R,
          gracefulRestart: { restartTime },
          channels: families.map((family) => (family === "ipv4" ? { family } : { family, nextHop: "2001:db8::62" }))
        }],
        staticRoutes: prefixes.map((prefix) => ({ prefix, communities: [[AS_R, 7]] }))
      })
      const bird = await startBird(spec([...kept, ...dropped]))
      const neighbor: NeighborConfig = { address: rAddr, peerAs: AS_R, localAddress: iAddr, gracefulRestart: { restartTime: 60 }, ...timers }
      const i = await startSpeaker({ localAs: AS_R, routerId: routerId(iAddr), listen: [{ address: iAddr }], neighbors: [neighbor] })
      await i.run(i.api.originate("10.63.1.0/24", { nextHop: parseIpv4("192.0.2.63")! }))
      const poke = () => (bird.process() === undefined ? Promise.resolve("") : bird.birdc("show", "status"))
      await i.waitTable("I has BIRD's routes", (t) => has(t, ...kept, ...dropped), { poke })
      const n = (await i.neighbor(rAddr)).negotiated!
      assert.strictEqual(n.gracefulRestart?.restartTime, restartTime, "BIRD's restart time is the one Starling keeps the routes for")
      assert.isFalse(n.gracefulRestart?.restarting)
      await waitFor("BIRD has I's route", async () => ((await birdRoutes(bird)).has("10.63.1.0/24") ? true : undefined))
      return { bird, i, rAddr, spec, poke }
    }

    /** Kills BIRD; resolves once Starling saw the session go (and checked the routes are kept as stale). */
    const killBird = async (s: Awaited<ReturnType<typeof setup>>) => {
      await s.bird.kill()
      const killedAt = Date.now()
      // The RIB fiber has handled the loss once the neighbor shows why it went down.
      const down = await waitFor("Starling sees the session go", async () => {
        const n = await s.i.neighbor(s.rAddr)
        return n.lastDown === undefined ? undefined : n
      }, 10_000, 50)
      assert.strictEqual(down.lastDown?._tag, "ConnectionLost", "no NOTIFICATION: the TCP connection just went")
      assert.notStrictEqual(down.state, "Established")
      await assertStale(s.i, s.rAddr, [...kept, ...dropped], true)
      return killedAt
    }

    /** Each prefix has exactly one path, BIRD's, and it is (not) stale. */
    const assertStale = async (i: RunningSpeaker, bird: string, prefixes: string[], stale: boolean) => {
      for (const p of prefixes) {
        const x = await i.explain(p)
        assert.isDefined(x, `${p} is in the Loc-RIB`)
        assert.deepStrictEqual(x!.paths.map((q) => [q.source, q.stale]), [[bird, stale]], `${p}: one path, from BIRD, stale ${stale}`)
      }
    }

    it("BIRD comes back with its forwarding state (bird -R): routes kept stale meanwhile, refreshed, the ones BIRD lost swept at End-of-RIB", async () => {
      const s = await setup(2, 20)
      const killedAt = await killBird(s)
      // BIRD restarts in recovery mode (Restart State and Forwarding State bits) without two of its routes.
      await s.bird.start({ spec: s.spec(kept), gracefulRecovery: true })
      const st = await s.i.established(s.rAddr)
      const n = st.negotiated!
      assert.isTrue(n.gracefulRestart?.restarting, "BIRD announced the Restart State bit")
      assert.deepStrictEqual(n.gracefulRestart?.families.map((f) => [f.afi, f.safi, f.forwarding]), [[1, 1, true], [2, 1, true]])
      const t = await s.i.waitTable("BIRD's lost routes swept", (t) => lacks(t, ...dropped), { poke: s.poke })
      assert.deepStrictEqual([...t.keys()].sort(), ["10.62.1.0/24", "10.63.1.0/24", "2001:db8:62::/48"])
      await assertStale(s.i, s.rAddr, kept, false)
      assert.deepStrictEqual(routeView(t.get("10.62.1.0/24")!).communities, ["65020:7"])
      // The kept routes never left the Loc-RIB; the lost ones left only after the session was back.
      const after = s.i.changes.filter((c) => c.at >= killedAt)
      for (const p of kept) assert.isFalse(after.some((c) => c.prefix === p && !c.present), `${p} stayed in the Loc-RIB through the restart`)
      for (const p of dropped) {
        const gone = after.find((c) => c.prefix === p && !c.present)
        assert.isDefined(gone)
        expect(gone!.at).toBeGreaterThanOrEqual(st.establishedAt!)
      }
      // And BIRD learned Starling's route again.
      await waitFor("BIRD has I's route again", async () => ((await birdRoutes(s.bird)).has("10.63.1.0/24") ? true : undefined))
    })

    it("BIRD comes back without forwarding state and without IPv6: the stale routes of the family it dropped go at once (RFC 4724 §4.2), IPv4 is learned again", async () => {
      const s = await setup(3, 20)
      const killedAt = await killBird(s)
      // No -R: no Forwarding State bit; and only the IPv4 channel, so IPv6 will never see an End-of-RIB.
      await s.bird.start({ spec: s.spec([...kept, ...dropped], ["ipv4"]) })
      const st = await s.i.established(s.rAddr)
      const n = st.negotiated!
      assert.deepStrictEqual(n.families.map((f) => [f.afi, f.safi]), [[1, 1]])
      assert.deepStrictEqual(n.gracefulRestart?.families.map((f) => [f.afi, f.safi, f.forwarding]), [[1, 1, false]])
      const v4 = ["10.62.1.0/24", "10.62.2.0/24"]
      const v6 = ["2001:db8:62::/48", "2001:db8:62:2::/64"]
      const t = await s.i.waitTable("IPv4 back, IPv6 gone", (t) => has(t, ...v4) && lacks(t, ...v6), { poke: s.poke, timeoutMs: 10_000 })
      assert.deepStrictEqual([...t.keys()].sort(), ["10.62.1.0/24", "10.62.2.0/24", "10.63.1.0/24"])
      await assertStale(s.i, s.rAddr, v4, false)
      for (const p of v6) {
        // Removed when the session came back — not 20 s later by the restart timer, and not never.
        const gone = s.i.changes.find((c) => c.at >= killedAt && c.prefix === p && !c.present)
        assert.isDefined(gone, p)
        expect(gone!.at).toBeGreaterThanOrEqual(st.establishedAt!)
        expect(gone!.at - st.establishedAt!).toBeLessThan(1000)
      }
    })

    it("BIRD does not come back: its routes are swept when its restart time runs out", async () => {
      const restartTime = 3
      const s = await setup(4, restartTime)
      const killedAt = await killBird(s)
      await new Promise((r) => setTimeout(r, 1500))
      await assertStale(s.i, s.rAddr, [...kept, ...dropped], true)
      await s.i.waitTable("stale routes swept", (t) => lacks(t, ...kept, ...dropped), { timeoutMs: 10_000 })
      const sweptAt = Math.max(...s.i.changes.filter((c) => !c.present).map((c) => c.at))
      expect(sweptAt - killedAt).toBeGreaterThanOrEqual(restartTime * 1000 - 100)
      expect(sweptAt - killedAt).toBeLessThan(restartTime * 1000 + 2000)
      assert.deepStrictEqual([...(await s.i.table()).keys()], ["10.63.1.0/24"], "Starling's own route stays")
    })
  })
})
