/**
 * A Starling route reflector (RFC 4456) with BIRD 2, FRR, GoBGP and OpenBGPD as its clients, all started
 * here on 127.66.10.0/24. Every client originates an IPv4 and an IPv6 route (next hops in TEST-NET: 127/8
 * next hops are martian for FRR and GoBGP) and must see every other client's routes in its own CLI/JSON
 * with ORIGINATOR_ID = the originator's router id, CLUSTER_LIST = [our cluster id] and the next hop
 * unchanged. Then clients drop (a graceful stop, and a SIGKILL) and come back: their routes leave the
 * others and return. Fails (never skips) when a router is not installed.
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
import { stopAll, waitFor } from "./lib/process.ts"
import type { RouteSource, RouteView } from "./lib/routes.ts"
import { allEstablished, birdRoutes, describeRoute, frrRoutes, gobgpRoutes, openbgpdRoutes, reflectionOf, starlingPaths } from "./lib/routes.ts"
import type { RunningSpeaker } from "./lib/speaker.ts"
import { closeAllSpeakers, startSpeaker } from "./lib/speaker.ts"

const net = lab(10)
const AS = 65000
const RR = net.host(1)
const RR_ID = "10.66.10.1"
/** Not the router id: the clients must see the cluster id. */
const CLUSTER = "10.255.10.1"

interface Client {
  readonly name: "bird" | "frr" | "gobgp" | "openbgpd"
  readonly address: string
  readonly routerId: string
  readonly v4: { readonly prefix: string; readonly nextHop: string }
  readonly v6: { readonly prefix: string; readonly nextHop: string }
}

const client = (name: Client["name"], k: number): Client => ({
  name,
  address: net.host(k),
  routerId: `10.66.10.${k}`,
  v4: { prefix: `10.10.${k}.0/24`, nextHop: `192.0.2.${k}` },
  v6: { prefix: `2001:db8:10:${k}::/64`, nextHop: `2001:db8::${k}` }
})
const clients = [client("bird", 2), client("frr", 3), client("gobgp", 4), client("openbgpd", 5)] as const
const [cBird, cFrr, cGobgp, cObgpd] = clients

let rr: RunningSpeaker
let bird: Bird
let frr: Frr
let gobgp: Gobgp
let obgpd: Openbgpd
const sources = new Map<Client["name"], RouteSource>()

beforeAll(async () => {
  rr = await startSpeaker({
    localAs: AS,
    routerId: RR_ID,
    clusterId: CLUSTER,
    listen: [{ address: RR, port: 179 }],
    neighbors: clients.map((c) => ({
      address: c.address,
      peerAs: AS,
      name: c.name,
      passive: true,
      routeReflectorClient: true,
      holdTime: 30,
      idleHoldTime: { initial: 1, max: 2 }
    }))
  }, { reflector: true })
  ;[bird, frr, gobgp, obgpd] = await Promise.all([
    startBird({
      name: "client",
      routerId: cBird.routerId,
      as: AS,
      address: cBird.address,
      staticRoutes: [{ prefix: cBird.v4.prefix }, { prefix: cBird.v6.prefix }],
      neighbors: [{
        name: "starling_rr",
        address: RR,
        as: AS,
        channels: [
          { family: "ipv4", export: "where source = RTS_STATIC", nextHop: cBird.v4.nextHop },
          { family: "ipv6", export: "where source = RTS_STATIC", nextHop: cBird.v6.nextHop }
        ]
      }]
    }),
    startFrr({
      name: "client",
      routerId: cFrr.routerId,
      as: AS,
      address: cFrr.address,
      staticRoutes: [cFrr.v4, cFrr.v6],
      neighbors: [{ address: RR, as: AS }]
    }),
    startGobgp({
      name: "client",
      routerId: cGobgp.routerId,
      as: AS,
      address: cGobgp.address,
      routes: [cGobgp.v4, cGobgp.v6],
      neighbors: [{ address: RR, peerAs: AS }]
    }),
    startOpenbgpd({
      name: "client",
      routerId: cObgpd.routerId,
      as: AS,
      address: cObgpd.address,
      routes: [cObgpd.v4, cObgpd.v6],
      neighbors: [{ address: RR, remoteAs: AS }]
    })
  ])
  sources.set("bird", birdRoutes(bird)).set("frr", frrRoutes(frr)).set("gobgp", gobgpRoutes(gobgp)).set("openbgpd", openbgpdRoutes(obgpd))
  await allEstablished(rr, 30_000)
}, 60_000)

afterAll(async () => {
  await closeAllSpeakers()
  await Promise.all([bird?.dispose(), frr?.dispose(), gobgp?.stop(), obgpd?.stop()])
  await stopAll()
  killLeftoverChildren()
}, 30_000)

/** The one path `at` should hold for `from`'s route, as reflected by us. */
const expected = (from: Client, family: "v4" | "v6"): RouteView => ({
  prefix: from[family].prefix,
  nextHop: from[family].nextHop,
  originatorId: from.routerId,
  clusterList: [CLUSTER],
  from: RR
})

/** Mismatches between what `at` shows for the routes of `froms` and what it should (empty: all good). */
const check = async (at: Client, froms: ReadonlyArray<Client>): Promise<string[]> => {
  const bad: string[] = []
  for (const from of froms) {
    for (const family of ["v4", "v6"] as const) {
      const seen = await sources.get(at.name)!.routes(from[family].prefix)
      const want = describeRoute(expected(from, family))
      const got = seen.map(describeRoute)
      if (got.length !== 1 || got[0] !== want) bad.push(`${at.name} has [${got.join("; ")}], wants [${want}]`)
    }
  }
  return bad
}

/** Waits until every client in `ats` shows exactly the reflected routes of every other client in `froms`. */
const converged = async (ats: ReadonlyArray<Client>, froms: ReadonlyArray<Client>, timeoutMs = 25_000) => {
  let last: string[] = []
  await waitFor("every client to show every other client's routes", async () => {
    last = (await Promise.all(ats.map((at) => check(at, froms.filter((f) => f !== at))))).flat()
    return last.length === 0 ? true : undefined
  }, timeoutMs, 250).catch((e: unknown) => {
    throw new Error(`${e instanceof Error ? e.message : String(e)}\n${last.join("\n")}`)
  })
}

/** Waits until no client in `ats` holds any route of `gone`. */
const withdrawn = async (ats: ReadonlyArray<Client>, gone: Client, timeoutMs = 20_000) => {
  let last: string[] = []
  await waitFor(`${gone.name}'s routes to leave the other clients`, async () => {
    last = []
    for (const at of ats) {
      for (const p of [gone.v4.prefix, gone.v6.prefix]) last.push(...(await sources.get(at.name)!.routes(p)).map((r) => `${at.name}: ${describeRoute(r)}`))
    }
    return last.length === 0 ? true : undefined
  }, timeoutMs, 250).catch((e: unknown) => {
    throw new Error(`${e instanceof Error ? e.message : String(e)}\n${last.join("\n")}`)
  })
}

describe("Starling route reflector with BIRD, FRR, GoBGP and OpenBGPD clients", () => {
  it("every client receives every other client's IPv4 and IPv6 routes with ORIGINATOR_ID, CLUSTER_LIST = [cluster id] and the next hop unchanged", async () => {
    await converged(clients, clients)
    // The reflector's own view: one path per route, from the originating client, as the client sent it.
    for (const c of clients) {
      for (const family of ["v4", "v6"] as const) {
        const paths = await starlingPaths(rr, c[family].prefix)
        assert.strictEqual(paths.length, 1, `${c[family].prefix} at the reflector`)
        assert.strictEqual(paths[0]!.source, c.address)
        assert.deepStrictEqual(reflectionOf(paths[0]), { originatorId: undefined, clusterList: undefined })
      }
      const n = await rr.neighbor(c.address)
      assert.strictEqual(n.routesReceived, 2, `${c.name}: routes received`)
      assert.strictEqual(n.routesAdvertised, 6, `${c.name}: routes advertised (the three other clients' two each)`)
    }
    // No client got its own routes back (the reflector does not send a route to the client it came from).
    for (const c of clients) {
      const own = await sources.get(c.name)!.routes(c.v4.prefix)
      assert.isFalse(own.some((r) => r.from === RR), `${c.name} received its own route back: ${own.map(describeRoute).join("; ")}`)
    }
  }, 60_000)

  it("a client that drops (graceful stop, then SIGKILL) has its routes withdrawn from the others, and they come back when it re-establishes", async () => {
    await converged(clients, clients)
    // GoBGP stops (SIGTERM).
    await gobgp.stop()
    const others = [cBird, cFrr, cObgpd]
    await withdrawn(others, cGobgp)
    assert.deepStrictEqual(await starlingPaths(rr, cGobgp.v4.prefix), [])
    assert.notStrictEqual((await rr.neighbor(cGobgp.address)).state, "Established")
    await converged(others, others, 5_000) // the others' routes stay
    // It starts again and re-announces: everyone has everything again.
    await gobgp.restart()
    await converged(clients, clients)

    // FRR dies without a NOTIFICATION (SIGKILL): the TCP connection closing is enough.
    await frr.kill()
    const rest = [cBird, cGobgp, cObgpd]
    await withdrawn(rest, cFrr)
    assert.notStrictEqual((await rr.neighbor(cFrr.address)).lastDown, undefined)
    await frr.start()
    await converged(clients, clients)
  }, 80_000)
})
