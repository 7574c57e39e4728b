/**
 * `starling run` as a child process (127.66.9.90-119), with BIRD 2 and a Starling session as its peers:
 * SIGHUP applies a new config without touching the BIRD session, a broken config on SIGHUP changes
 * nothing and its error names the field, and SIGTERM gives every session Cease/Administrative Shutdown
 * with a message (RFC 9003) before the process exits 0. Logs are pino JSON lines.
 */
import { afterAll, describe, expect, it } from "@effect/vitest"
import { CeaseSubcode, ErrorCode, shutdownMessage } from "@starling/codec"
import { lab } from "../../../test/interop/lib/addresses.ts"
import type { Bird } from "../../../test/interop/lib/bird.ts"
import { startBird } from "../../../test/interop/lib/bird.ts"
import { stopAll } from "../../../test/interop/lib/process.ts"
import { bgpId, closeAllStarling, notifications, quickTimers, startStarling } from "../../../test/interop/lib/starling.ts"
import type { NeighborView } from "../src/daemon/views.ts"
import { logLines, startCli, stopChildren, tempDir, waitFor, writeConfig } from "./daemon-support.ts"

const h = lab(9).host
const TOKEN = "process-test-token"
let bird: Bird | undefined

afterAll(async () => {
  await stopChildren()
  await closeAllStarling()
  await bird?.dispose()
  await stopAll()
})

const config = (neighbors: string) => `localAs: 64512
routerId: 10.255.9.90
listen: [{ address: ${h(90)} }]
neighbors:
${neighbors}api: { address: 127.0.0.1, port: 0, token: ${TOKEN} }
logging: { level: info, format: json }
`
const birdNeighbor = `  - { address: ${h(91)}, peerAs: 64512, passive: true, routeReflectorClient: true, name: bird }\n`
const starlingNeighbor = `  - { address: ${h(92)}, peerAs: 64512, passive: true, routeReflectorClient: true, name: starling }\n`

describe("starling run (child process)", () => {
  it("SIGHUP reloads without disturbing untouched sessions, refuses a broken config, SIGTERM ends every session with a message and exits 0", async () => {
    const dir = tempDir("daemon-process")
    const file = writeConfig(dir, "rr.yaml", config(birdNeighbor))
    const daemon = startCli(["run", "--config", file])
    const apiLine = await waitFor("the API address in the log", () =>
      logLines(daemon.output()).find((l) => typeof l.msg === "string" && l.msg.startsWith("API listening on")), 15_000)
    const api = /http:\/\/[^ ]+/.exec(apiLine.msg as string)![0]
    const get = async (path: string) => {
      const r = await fetch(`${api}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } })
      return r.headers.get("content-type")?.includes("json") === true ? r.json() : r.text()
    }

    bird = await startBird({
      name: "rr-client",
      routerId: "10.66.9.91",
      as: 64512,
      address: h(91),
      neighbors: [{ name: "reflector", address: h(90), as: 64512, holdTime: 9 }],
      staticRoutes: [{ prefix: "10.244.91.0/24" }]
    })
    await bird.waitProtocol("reflector", (p) => p.bgpState === "Established", 20_000, "Established")
    const before = await waitFor("BIRD's session on the daemon", async () => {
      const ns = (await get("/neighbors")) as NeighborView[]
      return ns.find((n) => n.address === h(91) && n.establishedAt !== undefined)
    })
    await waitFor("BIRD's route", async () => (((await get(`/routes?neighbor=${h(91)}`)) as { total: number }).total === 1 ? true : undefined))

    // SIGHUP: a second neighbor appears; BIRD's session is not touched.
    writeConfig(dir, "rr.yaml", config(birdNeighbor + starlingNeighbor))
    daemon.signal("SIGHUP")
    await waitFor("the reload in the log", () => logLines(daemon.output()).find((l) => typeof l.msg === "string" && l.msg.startsWith("config reloaded")))
    const peer = await startStarling({
      config: { localAs: 64512, peerAs: 64512, localId: bgpId("10.66.9.92"), holdTime: 9, ...quickTimers },
      remote: { address: h(90) },
      localAddress: h(92)
    })
    await peer.established()
    const ns = (await get("/neighbors")) as NeighborView[]
    expect(ns.map((n) => [n.address, n.state])).toEqual([[h(91), "Established"], [h(92), "Established"]])
    expect(ns[0]!.establishedAt).toBe(before.establishedAt)
    const birdAfter = await bird.protocol("reflector")
    expect(birdAfter.bgpState).toBe("Established")
    expect(birdAfter.lastError ?? "").toBe("")

    // SIGHUP with a broken file: the daemon says what is wrong and keeps the old config.
    writeConfig(dir, "rr.yaml", config(birdNeighbor + starlingNeighbor.replace("peerAs: 64512", "peerAs: sixty-four")))
    daemon.signal("SIGHUP")
    const refused = await waitFor("the refusal in the log", () => logLines(daemon.output()).find((l) => typeof l.msg === "string" && l.msg.startsWith("reload refused")))
    expect(refused.level).toBe(50)
    expect(refused.msg).toContain(`neighbors[1].peerAs: Expected number, got "sixty-four"`)
    expect(refused.msg).toContain("still running the previous config")
    expect(((await get("/neighbors")) as NeighborView[]).map((n) => n.state)).toEqual(["Established", "Established"])
    expect(await get("/metrics")).toMatch(/starling_config_reloads_total\{result="failure"\} 1\n/)
    // Session events reach the log with the peer as a field.
    expect(logLines(daemon.output()).some((l) => l.msg === "session up" && l.peer === h(92) && l.name === "starling" && l.peerAs === 64512)).toBe(true)

    // SIGTERM: Cease/Administrative Shutdown with the message to both peers, then exit 0.
    daemon.signal("SIGTERM")
    expect(await daemon.exited).toBe(0)
    const cease = await waitFor("Starling peer's NOTIFICATION", () => notifications(peer.wire).find((n) => n.dir === "received"))
    expect([cease.code, cease.subcode]).toEqual([ErrorCode.CEASE, CeaseSubcode.ADMINISTRATIVE_SHUTDOWN])
    expect(shutdownMessage({ _tag: "Notification", ...cease })).toBe("Starling route reflector shutting down (SIGTERM)")
    const birdDown = await bird.waitProtocol("reflector", (p) => p.message !== undefined, 10_000, "the shutdown message")
    expect(birdDown.message).toBe("Starling route reflector shutting down (SIGTERM)")
    expect(logLines(daemon.output()).at(-1)?.msg).toBe("stopped")
  })
})
