/**
 * `starling show neighbors | routes | route <prefix>` against an in-process daemon with a peer
 * (127.66.9.130-139): the tables, `--json`, filters, and the errors (wrong token, no daemon).
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { lab } from "../../../test/interop/lib/addresses.ts"
import type { TestDaemon, TestPeer } from "../../reflector/test/daemon-support.ts"
import { captureOutput, runCli, startDaemon, startPeer, waitFor } from "../../reflector/test/daemon-support.ts"
import { duration, explainText, neighborsTable, routesTable, run } from "../src/commands/show.ts"

const h = lab(9).host
let d: TestDaemon
let peer: TestPeer
let api: string

beforeAll(async () => {
  d = await startDaemon(`localAs: 64512
routerId: 10.255.9.130
listen: [{ address: ${h(130)} }]
neighbors:
  - { address: ${h(131)}, peerAs: 64512, passive: true, routeReflectorClient: true, name: node-131 }
  - { address: ${h(132)}, peerAs: 64512, passive: true, routeReflectorClient: true }
api: { address: 127.0.0.1, port: 0, token: show-token }
`)
  api = `http://127.0.0.1:${d.daemon.api()!.port}`
  peer = await startPeer({ address: h(131), daemon: h(130), originate: ["10.244.131.0/24", "10.244.231.0/24"] })
  await d.established(h(131))
  await waitFor("routes", async () => ((await d.run(d.daemon.speaker().routes)).length === 2 ? true : undefined))
})

afterAll(async () => {
  await peer?.close()
  await d?.close()
})

const show = (...args: ReadonlyArray<string>) => captureOutput(() => run([...args, "--api", api, "--token", "show-token"]))

describe("starling show", () => {
  it("neighbors: a table like birdc's / gobgp's", async () => {
    const r = await show("neighbors")
    expect(r.code).toBe(0)
    const lines = r.stdout.trimEnd().split("\n")
    expect(lines[0]).toBe("Peer          AS     Up/Down   State        #Received  #Advertised  Name      Info")
    expect(lines[1]).toMatch(new RegExp(`^${h(131).replace(/\./g, "\\.")}  64512  00:00:0\\d  Established          2            0  node-131$`))
    expect(lines[2]).toBe(`${h(132)}  64512  never     Active               0            0`)
    expect(lines.length).toBe(3)
  })

  it("routes: the Loc-RIB with filters; route <prefix>: every path and why", async () => {
    const all = await show("routes")
    expect(all.stdout).toBe([
      "    Network          Next Hop   AS_PATH  Origin  LocPrf  MED  From          Attributes",
      `*>  10.244.131.0/24  192.0.2.1           i          100       ${h(131)}`,
      `*>  10.244.231.0/24  192.0.2.2           i          100       ${h(131)}`,
      "2 routes",
      ""
    ].join("\n"))
    const one = await show("routes", "--prefix", "10.244.128.0/17", "--limit", "1")
    expect(one.stdout.split("\n").slice(1)).toEqual([`*>  10.244.131.0/24  192.0.2.1           i          100       ${h(131)}`, "(1 of 2 routes; --limit for more)", ""])
    const none = await show("routes", "--community", "no-export")
    expect(none.stdout).toBe("no routes\n")
    const route = await show("route", "10.244.231.0/24")
    expect(route.stdout).toBe([
      "10.244.231.0/24: 1 path",
      `  *> from ${h(131)} via 192.0.2.2  best`,
      "       as-path [], origin igp, local-pref 100",
      ""
    ].join("\n"))
    const json = await show("routes", "--json")
    expect(JSON.parse(json.stdout).routes.map((r: { prefix: string }) => r.prefix).sort()).toEqual(["10.244.131.0/24", "10.244.231.0/24"])
  })

  it("says what went wrong: no route, wrong token, no daemon, bad arguments", async () => {
    const missing = await show("route", "10.9.9.0/24")
    expect([missing.code, missing.stderr]).toEqual([1, `starling show: ${api}/explain?prefix=10.9.9.0%2F24: 404 no route for 10.9.9.0/24\n`])
    const denied = await captureOutput(() => run(["neighbors", "--api", api, "--token", "nope"]))
    expect([denied.code, denied.stderr]).toEqual([1, `starling show: ${api}/neighbors: 401 missing or wrong bearer token\n`])
    const nobody = await captureOutput(() => run(["neighbors", "--api", `http://${h(139)}:8179`]))
    expect(nobody.code).toBe(1)
    expect(nobody.stderr).toBe(`starling show: cannot reach the API at http://${h(139)}:8179: connect ECONNREFUSED ${h(139)}:8179\n`)
    const usage = await captureOutput(() => run(["peers"]))
    expect(usage.code).toBe(2)
    expect(usage.stderr).toContain(`starling show: cannot show "peers"`)
    expect((await captureOutput(() => run(["route"]))).stderr).toContain("route needs a prefix")
  })

  it("runs as the starling command (child process), token from the environment", async () => {
    const r = await runCli(["show", "neighbors", "--json", "--api", api], { STARLING_API_TOKEN: "show-token" })
    expect(r.stderr).toBe("")
    expect(r.code).toBe(0)
    const ns = JSON.parse(r.stdout) as Array<{ address: string; state: string; routesReceived: number }>
    expect(ns.map((n) => [n.address, n.state, n.routesReceived])).toEqual([[h(131), "Established", 2], [h(132), "Active", 0]])
  })

  it("formats durations, route attributes and explanations", () => {
    expect([duration(0), duration(3725), duration(86400 * 2 + 3 * 3600 + 5)]).toEqual(["00:00:00", "01:02:05", "2d03h"])
    expect(neighborsTable([])).toBe("no neighbors")
    expect(routesTable([{
      prefix: "10.0.0.0/24",
      nextHop: "192.0.2.1",
      source: "127.0.0.2",
      pathId: 0,
      origin: "incomplete",
      asPath: "65001 65002",
      med: 5,
      communities: ["65001:1"],
      largeCommunities: [],
      originatorId: "10.0.0.2",
      clusterList: ["10.255.0.1"],
      multipath: 2
    }], 3, true)).toBe([
      "    Network      Next Hop   AS_PATH      Origin  LocPrf  MED  From       Attributes",
      "*=  10.0.0.0/24  192.0.2.1  65001 65002  ?                 5  127.0.0.2  communities 65001:1, originator 10.0.0.2, cluster-list 10.255.0.1",
      "(1 of 3 routes; --limit for more)"
    ].join("\n"))
    expect(explainText({
      prefix: "10.0.0.0/24",
      paths: [
        { source: "127.0.0.2", pathId: 0, best: true, multipath: true, stale: false, nextHop: "192.0.2.1", origin: "igp", asPath: "", localPref: 200, communities: [] },
        { source: "127.0.0.3", pathId: 2, best: false, multipath: false, stale: true, lostAt: "LocalPref", lostTo: "127.0.0.2", nextHop: null, origin: "egp", asPath: "65001", med: 1, communities: ["1:2"] }
      ]
    })).toBe([
      "10.0.0.0/24: 2 paths",
      "  *> from 127.0.0.2 via 192.0.2.1  best",
      "       as-path [], origin igp, local-pref 200",
      "     from 127.0.0.3 path-id 2 via - (stale)  lost at LocalPref to 127.0.0.2",
      "       as-path [65001], origin egp, med 1, communities 1:2"
    ].join("\n"))
  })
})
