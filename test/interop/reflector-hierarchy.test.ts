/**
 * Starling below and between other reflectors, on 127.66.13.0/24:
 * - a plain Starling speaker as a client of a BIRD 2 route reflector (`rr client`), next to an FRR client:
 *   Starling receives FRR's routes with the ORIGINATOR_ID and CLUSTER_LIST that BIRD set, and FRR receives
 *   Starling's with Starling's router id as ORIGINATOR_ID;
 * - hierarchical reflection: a Starling reflector that is a client of another Starling reflector, with GoBGP
 *   under the lower one and OpenBGPD under the upper one: CLUSTER_LIST holds both cluster ids, nearest first.
 */
import { afterEach, assert, describe, it } from "vitest"
import { ipv6ToBytes, parseIpv4 } from "@starling/codec"
import { lab } from "./lib/addresses.ts"
import { startBird } from "./lib/bird.ts"
import { startFrr } from "./lib/frr.ts"
import { startGobgp } from "./lib/gobgp.ts"
import { killLeftoverChildren, startOpenbgpd } from "./lib/openbgpd.ts"
import { stopAll } from "./lib/process.ts"
import { allEstablished, birdRoutes, describeRoute, expectRoutes, frrRoutes, gobgpRoutes, openbgpdRoutes, starlingPaths, starlingRoutes } from "./lib/routes.ts"
import { closeAllSpeakers, startSpeaker } from "./lib/speaker.ts"

const net = lab(13)
const AS = 65000

const routers: Array<() => Promise<void>> = []
afterEach(async () => {
  await closeAllSpeakers()
  await Promise.all(routers.splice(0).map((stop) => stop()))
  await stopAll()
  killLeftoverChildren()
}, 30_000)

describe("Starling with other reflectors", () => {
  it("a plain Starling speaker as a client of a BIRD reflector: routes arrive with BIRD's ORIGINATOR_ID and CLUSTER_LIST, and Starling's routes leave with Starling's router id as ORIGINATOR_ID", async () => {
    const RR = net.host(1)
    const STARLING = net.host(2)
    const FRR = net.host(3)
    const CLUSTER = "10.255.13.1"
    const bird = await startBird({
      name: "reflector",
      routerId: "10.66.13.1",
      as: AS,
      address: RR,
      neighbors: [
        { name: "starling", address: STARLING, as: AS, rrClient: true, rrClusterId: CLUSTER },
        { name: "frr", address: FRR, as: AS, rrClient: true, rrClusterId: CLUSTER }
      ]
    })
    routers.push(() => bird.dispose())
    const frr = await startFrr({
      name: "client",
      routerId: "10.66.13.3",
      as: AS,
      address: FRR,
      staticRoutes: [{ prefix: "10.13.3.0/24", nextHop: "192.0.2.3" }, { prefix: "2001:db8:13:3::/64", nextHop: "2001:db8::3" }],
      neighbors: [{ address: RR, as: AS }]
    })
    routers.push(() => frr.dispose())
    const starling = await startSpeaker({
      localAs: AS,
      routerId: "10.66.13.2",
      listen: [{ address: STARLING, port: 179 }],
      neighbors: [{ address: RR, peerAs: AS, localAddress: STARLING, connectRetryTime: 1, holdTime: 30, idleHoldTime: { initial: 1, max: 2 } }]
    })
    await starling.run(starling.api.originate("10.13.2.0/24", { nextHop: parseIpv4("192.0.2.2")! }))
    await starling.run(starling.api.originate("2001:db8:13:2::/64", { mpNextHop: ipv6ToBytes("2001:db8::2")! }))
    await allEstablished(starling)
    await bird.waitProtocol("frr", (p) => p.bgpState === "Established")

    // Starling, the client: FRR's routes, reflected by BIRD.
    const atStarling = starlingRoutes(starling)
    await expectRoutes(atStarling, "10.13.3.0/24", [{ prefix: "10.13.3.0/24", nextHop: "192.0.2.3", originatorId: "10.66.13.3", clusterList: [CLUSTER], from: RR }])
    await expectRoutes(atStarling, "2001:db8:13:3::/64", [{ prefix: "2001:db8:13:3::/64", nextHop: "2001:db8::3", originatorId: "10.66.13.3", clusterList: [CLUSTER], from: RR }])
    // FRR, the other client: Starling's routes, reflected by BIRD with Starling's router id as ORIGINATOR_ID.
    const atFrr = frrRoutes(frr)
    await expectRoutes(atFrr, "10.13.2.0/24", [{ prefix: "10.13.2.0/24", nextHop: "192.0.2.2", originatorId: "10.66.13.2", clusterList: [CLUSTER], from: RR }])
    await expectRoutes(atFrr, "2001:db8:13:2::/64", [{ prefix: "2001:db8:13:2::/64", nextHop: "2001:db8::2", originatorId: "10.66.13.2", clusterList: [CLUSTER], from: RR }])
    // BIRD's own view of Starling's route: as Starling sent it (no reflection attributes yet).
    const atBird = await birdRoutes(bird).routes("10.13.2.0/24")
    assert.deepStrictEqual(atBird.map(describeRoute), [describeRoute({ prefix: "10.13.2.0/24", nextHop: "192.0.2.2", from: STARLING })])
    // Starling withdraws: FRR loses the route.
    await starling.run(starling.api.withdraw("10.13.2.0/24"))
    await expectRoutes(atFrr, "10.13.2.0/24", [])
    await expectRoutes(atFrr, "2001:db8:13:2::/64", [{ prefix: "2001:db8:13:2::/64", nextHop: "2001:db8::2", originatorId: "10.66.13.2", clusterList: [CLUSTER], from: RR }], 2_000)
  }, 60_000)

  it("hierarchical: a Starling reflector that is a client of another Starling reflector; GoBGP below and OpenBGPD above see CLUSTER_LIST [nearest, farther]", async () => {
    const TOP = net.host(11)
    const LOW = net.host(12)
    const GOBGP = net.host(13)
    const OBGPD = net.host(14)
    const [TOP_CLUSTER, LOW_CLUSTER] = ["10.255.13.11", "10.255.13.12"]
    const timers = { holdTime: 30, connectRetryTime: 1, idleHoldTime: { initial: 1, max: 2 } }
    const top = await startSpeaker({
      localAs: AS,
      routerId: "10.66.13.11",
      clusterId: TOP_CLUSTER,
      listen: [{ address: TOP, port: 179 }],
      neighbors: [
        { address: LOW, peerAs: AS, name: "low-rr", passive: true, routeReflectorClient: true, ...timers },
        { address: OBGPD, peerAs: AS, name: "openbgpd", passive: true, routeReflectorClient: true, ...timers }
      ]
    }, { reflector: true })
    const low = await startSpeaker({
      localAs: AS,
      routerId: "10.66.13.12",
      clusterId: LOW_CLUSTER,
      listen: [{ address: LOW, port: 179 }],
      neighbors: [
        { address: TOP, peerAs: AS, name: "top-rr", localAddress: LOW, ...timers },
        { address: GOBGP, peerAs: AS, name: "gobgp", passive: true, routeReflectorClient: true, ...timers }
      ]
    }, { reflector: true })
    const [gobgp, obgpd] = await Promise.all([
      startGobgp({
        name: "below",
        routerId: "10.66.13.13",
        as: AS,
        address: GOBGP,
        routes: [{ prefix: "10.13.13.0/24", nextHop: "192.0.2.13" }, { prefix: "2001:db8:13:13::/64", nextHop: "2001:db8::13" }],
        neighbors: [{ address: LOW, peerAs: AS }]
      }),
      startOpenbgpd({
        name: "above",
        routerId: "10.66.13.14",
        as: AS,
        address: OBGPD,
        routes: [{ prefix: "10.13.14.0/24", nextHop: "192.0.2.14" }, { prefix: "2001:db8:13:14::/64", nextHop: "2001:db8::14" }],
        neighbors: [{ address: TOP, remoteAs: AS }]
      })
    ])
    routers.push(() => gobgp.stop(), () => obgpd.stop())
    await Promise.all([allEstablished(top), allEstablished(low)])

    // Up: GoBGP → low → top → OpenBGPD.
    const atObgpd = openbgpdRoutes(obgpd)
    await expectRoutes(atObgpd, "10.13.13.0/24", [{ prefix: "10.13.13.0/24", nextHop: "192.0.2.13", originatorId: "10.66.13.13", clusterList: [TOP_CLUSTER, LOW_CLUSTER], from: TOP }])
    await expectRoutes(atObgpd, "2001:db8:13:13::/64", [{ prefix: "2001:db8:13:13::/64", nextHop: "2001:db8::13", originatorId: "10.66.13.13", clusterList: [TOP_CLUSTER, LOW_CLUSTER], from: TOP }])
    // Down: OpenBGPD → top → low → GoBGP.
    const atGobgp = gobgpRoutes(gobgp)
    await expectRoutes(atGobgp, "10.13.14.0/24", [{ prefix: "10.13.14.0/24", nextHop: "192.0.2.14", originatorId: "10.66.13.14", clusterList: [LOW_CLUSTER, TOP_CLUSTER], from: LOW }])
    await expectRoutes(atGobgp, "2001:db8:13:14::/64", [{ prefix: "2001:db8:13:14::/64", nextHop: "2001:db8::14", originatorId: "10.66.13.14", clusterList: [LOW_CLUSTER, TOP_CLUSTER], from: LOW }])
    // The middle hop as each reflector sees it: one path, one cluster id on it so far.
    const atTop = starlingRoutes(top)
    await expectRoutes(atTop, "10.13.13.0/24", [{ prefix: "10.13.13.0/24", nextHop: "192.0.2.13", originatorId: "10.66.13.13", clusterList: [LOW_CLUSTER], from: LOW }])
    const atLow = starlingRoutes(low)
    await expectRoutes(atLow, "10.13.14.0/24", [{ prefix: "10.13.14.0/24", nextHop: "192.0.2.14", originatorId: "10.66.13.14", clusterList: [TOP_CLUSTER], from: TOP }])
    assert.strictEqual((await starlingPaths(top, "10.13.13.0/24")).length, 1)
    assert.strictEqual((await starlingPaths(low, "10.13.14.0/24")).length, 1)
    // GoBGP goes: its routes leave the top of the tree too.
    await gobgp.stop()
    await expectRoutes(atObgpd, "10.13.13.0/24", [])
    await expectRoutes(atObgpd, "2001:db8:13:13::/64", [])
  }, 60_000)
})
