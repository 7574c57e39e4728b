/**
 * ADD-PATH (RFC 7911) from a Starling route reflector to a BIRD 2 client (`add paths rx`), on
 * 127.66.12.0/24: FRR and GoBGP, both clients, announce the same IPv4 and IPv6 prefixes with different next
 * hops; BIRD must list both paths, each with its originator's ORIGINATOR_ID and our CLUSTER_LIST, while
 * OpenBGPD (a client without ADD-PATH) gets the best one only. When one announcer goes, BIRD is left with
 * the other path.
 */
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { lab } from "./lib/addresses.ts"
import type { Bird } from "./lib/bird.ts"
import { startBird } from "./lib/bird.ts"
import type { Frr } from "./lib/frr.ts"
import { startFrr } from "./lib/frr.ts"
import type { Gobgp } from "./lib/gobgp.ts"
import { startGobgp } from "./lib/gobgp.ts"
import type { Openbgpd } from "./lib/openbgpd.ts"
import { killLeftoverChildren, startOpenbgpd } from "./lib/openbgpd.ts"
import { stopAll } from "./lib/process.ts"
import type { RouteSource, RouteView } from "./lib/routes.ts"
import { allEstablished, birdRoutes, expectRoutes, openbgpdRoutes, starlingPaths } from "./lib/routes.ts"
import type { RunningSpeaker } from "./lib/speaker.ts"
import { closeAllSpeakers, startSpeaker } from "./lib/speaker.ts"

const net = lab(12)
const AS = 65000
const RR = net.host(1)
const CLUSTER = "10.66.12.1" // the default: our router id
const BIRD_ADDR = net.host(2)
const FRR_ADDR = net.host(3)
const GOBGP_ADDR = net.host(4)
const OBGPD_ADDR = net.host(5)
const P4 = "10.12.0.0/24"
const P6 = "2001:db8:12::/48"

let rr: RunningSpeaker
let bird: Bird
let frr: Frr
let gobgp: Gobgp
let obgpd: Openbgpd
let birdView: RouteSource
let obgpdView: RouteSource

beforeAll(async () => {
  const client = (address: string) => ({ address, peerAs: AS, passive: true, routeReflectorClient: true, holdTime: 30, idleHoldTime: { initial: 1, max: 2 } })
  rr = await startSpeaker({
    localAs: AS,
    routerId: "10.66.12.1",
    listen: [{ address: RR, port: 179 }],
    neighbors: [
      { ...client(BIRD_ADDR), name: "bird", addPath: [{ afi: 1, safi: 1, send: true, receive: false }, { afi: 2, safi: 1, send: true, receive: false }] },
      { ...client(FRR_ADDR), name: "frr" },
      { ...client(GOBGP_ADDR), name: "gobgp" },
      { ...client(OBGPD_ADDR), name: "openbgpd" }
    ]
  }, { reflector: true })
  ;[bird, frr, gobgp, obgpd] = await Promise.all([
    startBird({
      name: "addpath",
      routerId: "10.66.12.2",
      as: AS,
      address: BIRD_ADDR,
      neighbors: [{
        name: "starling_rr",
        address: RR,
        as: AS,
        channels: [{ family: "ipv4", addPath: "rx", export: "none" }, { family: "ipv6", addPath: "rx", export: "none" }]
      }]
    }),
    startFrr({
      name: "announcer",
      routerId: "10.66.12.3",
      as: AS,
      address: FRR_ADDR,
      staticRoutes: [{ prefix: P4, nextHop: "192.0.2.3" }, { prefix: P6, nextHop: "2001:db8::3" }],
      neighbors: [{ address: RR, as: AS }]
    }),
    startGobgp({
      name: "announcer",
      routerId: "10.66.12.4",
      as: AS,
      address: GOBGP_ADDR,
      routes: [{ prefix: P4, nextHop: "192.0.2.4" }, { prefix: P6, nextHop: "2001:db8::4" }],
      neighbors: [{ address: RR, peerAs: AS }]
    }),
    startOpenbgpd({ name: "plain", routerId: "10.66.12.5", as: AS, address: OBGPD_ADDR, neighbors: [{ address: RR, remoteAs: AS }] })
  ])
  birdView = birdRoutes(bird)
  obgpdView = openbgpdRoutes(obgpd)
  await allEstablished(rr, 30_000)
}, 60_000)

afterAll(async () => {
  await closeAllSpeakers()
  await Promise.all([bird?.dispose(), frr?.dispose(), gobgp?.stop(), obgpd?.stop()])
  await stopAll()
  killLeftoverChildren()
}, 30_000)

const reflected = (prefix: string, nextHop: string, originatorId: string): RouteView => ({ prefix, nextHop, originatorId, clusterList: [CLUSTER], from: RR })

describe("ADD-PATH from a Starling reflector to a BIRD client", () => {
  it("BIRD (add paths rx) lists both clients' paths for the same prefix, IPv4 and IPv6; a client without ADD-PATH gets the best one", async () => {
    const p = await bird.waitProtocol("starling_rr", (x) => x.bgpState === "Established")
    assert.strictEqual(p.neighborCapabilities["ADD-PATH"]?.["TX"], "ipv4 ipv6", "Starling offers to send path ids")
    assert.strictEqual(p.localCapabilities["ADD-PATH"]?.["RX"], "ipv4 ipv6", "BIRD offers to receive them")
    await expectRoutes(birdView, P4, [reflected(P4, "192.0.2.3", "10.66.12.3"), reflected(P4, "192.0.2.4", "10.66.12.4")])
    await expectRoutes(birdView, P6, [reflected(P6, "2001:db8::3", "10.66.12.3"), reflected(P6, "2001:db8::4", "10.66.12.4")])
    // The reflector's best: FRR's (ORIGIN IGP beats GoBGP's INCOMPLETE) — all OpenBGPD gets.
    assert.strictEqual((await starlingPaths(rr, P4)).find((x) => x.best)?.source, FRR_ADDR)
    await expectRoutes(obgpdView, P4, [reflected(P4, "192.0.2.3", "10.66.12.3")])
    await expectRoutes(obgpdView, P6, [reflected(P6, "2001:db8::3", "10.66.12.3")])
    // Every path counts as advertised to BIRD: two per prefix.
    assert.strictEqual((await rr.neighbor(BIRD_ADDR)).routesAdvertised, 4)
  }, 40_000)

  it("when one announcer goes, only its path is withdrawn from BIRD; the best path changes for the client without ADD-PATH", async () => {
    await expectRoutes(birdView, P4, [reflected(P4, "192.0.2.3", "10.66.12.3"), reflected(P4, "192.0.2.4", "10.66.12.4")])
    await frr.stop()
    await expectRoutes(birdView, P4, [reflected(P4, "192.0.2.4", "10.66.12.4")])
    await expectRoutes(birdView, P6, [reflected(P6, "2001:db8::4", "10.66.12.4")])
    await expectRoutes(obgpdView, P4, [reflected(P4, "192.0.2.4", "10.66.12.4")])
    await frr.start()
    await expectRoutes(birdView, P4, [reflected(P4, "192.0.2.3", "10.66.12.3"), reflected(P4, "192.0.2.4", "10.66.12.4")])
    await expectRoutes(birdView, P6, [reflected(P6, "2001:db8::3", "10.66.12.3"), reflected(P6, "2001:db8::4", "10.66.12.4")])
    await expectRoutes(obgpdView, P4, [reflected(P4, "192.0.2.3", "10.66.12.3")])
  }, 45_000)
})
