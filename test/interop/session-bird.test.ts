/**
 * @starling/session against a real BIRD 2 (started here as a process on 127.66.1.0/24): session set-up in
 * both directions, capability negotiation seen from both ends, hold timer expiry, the RFC 9003 shutdown
 * communication, and recovery after BIRD restarts. Fails (never skips) when BIRD is not installed.
 */
import { afterAll, afterEach, assert, describe, expect, it } from "@effect/vitest"
import { Afi, Safi } from "@starling/codec"
import type { SessionEvent } from "@starling/session"
import { lab } from "./lib/addresses.ts"
import type { BirdNeighbor, BirdSpec } from "./lib/bird.ts"
import { startBird as startBirdProcess } from "./lib/bird.ts"
import { stopAll, waitFor } from "./lib/process.ts"
import type { StarlingOptions } from "./lib/starling.ts"
import { bgpId, closeAllStarling, notifications, quickTimers, startStarling } from "./lib/starling.ts"

const net = lab(1)

/** Routers started by the current test (stopped, run directories removed, after each test). */
const routers: Array<{ dispose: () => Promise<void> }> = []
const startBird = async (spec: BirdSpec) => {
  const r = await startBirdProcess(spec)
  routers.push(r)
  return r
}

const cleanup = async () => {
  await closeAllStarling()
  await Promise.all(routers.splice(0).map((r) => r.dispose()))
  await stopAll() // anything left by a failed start
}
afterEach(cleanup)
afterAll(cleanup)

const v4 = { afi: Afi.IPV4, safi: Safi.UNICAST }
const v6 = { afi: Afi.IPV6, safi: Safi.UNICAST }

/** Test `k` uses Starling at .(10k+1) and BIRD at .(10k+2). */
const pair = (k: number) => ({ starling: net.host(10 * k + 1), bird: net.host(10 * k + 2) })

const birdSpec = (name: string, address: string, as: number, neighbor: BirdNeighbor): BirdSpec => ({
  name,
  routerId: address.replace(/^127\./, "10."),
  as,
  address,
  neighbors: [neighbor]
})

const starlingOptions = (local: string, remote: string, localAs: number, peerAs: number, extra: Partial<StarlingOptions["config"]> = {}, listen = false): StarlingOptions => ({
  config: { localAs, peerAs, localId: bgpId(local.replace(/^127\./, "10.")), holdTime: 9, ...quickTimers, ...extra },
  remote: { address: remote },
  localAddress: local,
  listen
})

const isDown = (e: SessionEvent): e is Extract<SessionEvent, { _tag: "Down" }> => e._tag === "Down"
const isEstablished = (e: SessionEvent): e is Extract<SessionEvent, { _tag: "Established" }> => e._tag === "Established"

describe("Starling ⇄ BIRD 2", () => {
  it("iBGP, Starling active: 4-octet AS, IPv4+IPv6, ADD-PATH, graceful restart, route refresh and extended messages on both sides", async () => {
    const { starling, bird: birdAddr } = pair(1)
    const bird = await startBird(birdSpec("active", birdAddr, 65001, {
      name: "starling",
      address: starling,
      as: 65001,
      passive: true, // BIRD only listens: the session must be Starling's connection
      holdTime: 9,
      extendedMessages: true,
      gracefulRestart: { restartTime: 100 },
      channels: [{ family: "ipv4", addPath: "on" }, { family: "ipv6", addPath: "on" }]
    }))
    const s = await startStarling(starlingOptions(starling, birdAddr, 65001, 65001, {
      holdTime: 30,
      families: [v4, v6],
      addPath: [{ ...v4, receive: true, send: true }, { ...v6, receive: true, send: true }],
      gracefulRestart: { restartTime: 77 },
      extendedMessage: true,
      routeRefresh: true,
      enhancedRouteRefresh: true
    }))
    const n = await s.established()
    const est = await s.event(isEstablished)
    assert.strictEqual(est.conn % 2, 1, "the session runs on Starling's outgoing connection (odd ids)")
    assert.isTrue(s.wire.every((m) => m.outgoing), "the router never connected to Starling")

    // Starling's view.
    assert.strictEqual(n.peerAs, 65001)
    assert.strictEqual(n.peerId, bgpId(bird.spec.routerId))
    assert.isTrue(n.as4)
    assert.strictEqual(n.holdTime, 9) // min(30, BIRD's 9)
    assert.strictEqual(n.keepaliveTime, 3)
    assert.deepStrictEqual(n.families, [v4, v6])
    assert.deepStrictEqual(n.addPathReceive, [v4, v6])
    assert.deepStrictEqual(n.addPathSend, [v4, v6])
    assert.isTrue(n.extendedMessage)
    assert.isTrue(n.routeRefresh)
    assert.isTrue(n.enhancedRouteRefresh)
    assert.isDefined(n.gracefulRestart)
    assert.strictEqual(n.gracefulRestart?.restartTime, 100)
    assert.deepStrictEqual(n.gracefulRestart?.families.map((f) => [f.afi, f.safi]), [[1, 1], [2, 1]])
    assert.isTrue(n.rx.internal)

    // BIRD's view of the same session.
    const p = await bird.waitProtocol("starling", (x) => x.bgpState === "Established")
    assert.strictEqual(p.state, "up")
    assert.strictEqual(p.neighborId, starling.replace(/^127\./, "10."))
    assert.strictEqual(p.neighborAs, 65001)
    assert.match(p.session ?? "", /^internal\b.*\bAS4\b/)
    assert.strictEqual(p.holdTime, 9)
    assert.strictEqual(p.keepaliveTime, 3)
    const caps = p.neighborCapabilities
    assert.strictEqual(caps["Multiprotocol"]?.["AF announced"], "ipv4 ipv6")
    assert.property(caps, "Route refresh")
    assert.property(caps, "Enhanced refresh")
    assert.property(caps, "Extended message")
    assert.property(caps, "4-octet AS numbers")
    assert.deepStrictEqual(caps["ADD-PATH"], { RX: "ipv4 ipv6", TX: "ipv4 ipv6" })
    assert.strictEqual(caps["Graceful restart"]?.["Restart time"], "77")
    assert.strictEqual(caps["Graceful restart"]?.["AF supported"], "ipv4 ipv6")
    assert.notProperty(caps, "Long-lived graceful restart", "Starling was not configured for LLGR")
    assert.strictEqual(p.channels["ipv4"]?.state, "UP")
    assert.strictEqual(p.channels["ipv6"]?.state, "UP")
  })

  it("eBGP with a 4-octet AS, Starling passive: BIRD connects to Starling's listener", async () => {
    const { starling, bird: birdAddr } = pair(2)
    const bird = await startBird(birdSpec("passive", birdAddr, 65002, {
      name: "starling",
      address: starling,
      as: 4_200_000_002,
      holdTime: 6
    }))
    const s = await startStarling(starlingOptions(starling, birdAddr, 4_200_000_002, 65002, { passive: true, holdTime: 6 }, true))
    const n = await s.established()
    const est = await s.event(isEstablished)
    assert.strictEqual(est.conn % 2, 0, "the session runs on an accepted connection (even ids)")
    assert.strictEqual(n.peerAs, 65002)
    assert.isTrue(n.as4)
    assert.isFalse(n.rx.internal)
    assert.deepStrictEqual(n.families, [v4, v6])
    assert.isUndefined(n.gracefulRestart, "neither side advertised graceful restart")
    assert.deepStrictEqual(n.addPathReceive, [])
    assert.isTrue(s.wire.every((m) => !m.outgoing), "Starling never connected out")
    const p = await bird.waitProtocol("starling", (x) => x.bgpState === "Established")
    assert.strictEqual(p.neighborAs, 4_200_000_002)
    assert.match(p.session ?? "", /^external\b.*\bAS4\b/)
    assert.property(p.neighborCapabilities, "4-octet AS numbers")
    assert.strictEqual(p.neighborCapabilities["Multiprotocol"]?.["AF announced"], "ipv4 ipv6")
    assert.notProperty(p.neighborCapabilities, "ADD-PATH")
    assert.notProperty(p.neighborCapabilities, "Graceful restart")
  })

  it("hold timer: BIRD stopped with SIGSTOP → Starling reports HoldTimerExpired and sends NOTIFICATION 4/0; after SIGCONT the session comes back", async () => {
    const { starling, bird: birdAddr } = pair(3)
    const bird = await startBird(birdSpec("hold", birdAddr, 65003, { name: "starling", address: starling, as: 65003, passive: true, holdTime: 3 }))
    const s = await startStarling(starlingOptions(starling, birdAddr, 65003, 65003, { holdTime: 3 }))
    const n = await s.established()
    assert.strictEqual(n.holdTime, 3)
    const est = await s.event(isEstablished)
    const from = s.events.length
    const paused = Date.now()
    bird.pause()
    let down: Extract<SessionEvent, { _tag: "Down" }>
    try {
      down = await s.event(isDown, { from, timeoutMs: 10_000 })
    } finally {
      // SIGCONT once Starling has given up, so BIRD reads our NOTIFICATION before anything else.
      await new Promise((r) => setTimeout(r, 300))
      bird.resume()
    }
    const waited = Date.now() - paused
    assert.strictEqual(down.reason._tag, "HoldTimerExpired")
    assert.strictEqual(down.conn, est.conn)
    // Expiry is 3 s after the last KEEPALIVE from BIRD (sent at most ~1 s before the pause).
    expect(waited).toBeGreaterThanOrEqual(1900)
    expect(waited).toBeLessThan(5000)
    // The writer flushes the NOTIFICATION after the Down event (bounded by the driver's 3 s flush).
    const sentOn = () => s.wire.filter((m) => m.conn === est.conn && m.dir === "sent")
    await waitFor("the NOTIFICATION on the wire", () => (sentOn().at(-1)?.type === 3 ? true : undefined), 3000, 20)
    const sent = sentOn()
    assert.strictEqual(sent.at(-1)?.type, 3, "the last message Starling wrote is a NOTIFICATION")
    assert.deepStrictEqual(notifications(sent).map((x) => [x.code, x.subcode, x.data.length]), [[4, 0, 0]])
    // BIRD's hold timer defers while input is pending (bgp_hold_timeout), so it reads our NOTIFICATION.
    await bird.waitProtocol("starling", () => /Received: Hold timer expired/.test(bird.log()), 10_000, "our NOTIFICATION 4/0 in the log")
    // Starling comes back by itself after IdleHoldTime (1 s).
    await s.event(isEstablished, { from, timeoutMs: 15_000 })
    await bird.waitProtocol("starling", (x) => x.bgpState === "Established")
  })

  it("Cease with an RFC 9003 shutdown communication: BIRD shows Starling's exact text", async () => {
    const { starling, bird: birdAddr } = pair(4)
    const bird = await startBird(birdSpec("shutdown", birdAddr, 65004, { name: "starling", address: starling, as: 65014 }))
    const s = await startStarling(starlingOptions(starling, birdAddr, 65014, 65004))
    await s.established()
    await bird.waitProtocol("starling", (x) => x.bgpState === "Established")
    const text = "Starling interop: planned maintenance, back in 5 min — ticket #42 ✓"
    const from = s.events.length
    await s.run(s.peer.stop(text))
    const down = await s.event(isDown, { from })
    assert.deepStrictEqual(down.reason, { _tag: "AdminStop", message: text })
    // The NOTIFICATION is flushed by the writer after the Down event; wait for its wire record.
    const notif = await waitFor("the Cease on the wire", () => {
      const n = notifications(s.wire).filter((x) => x.dir === "sent")
      return n.length > 0 ? n : undefined
    }, 3000, 20)
    assert.strictEqual(notif.length, 1)
    assert.deepStrictEqual([notif[0]!.code, notif[0]!.subcode], [6, 2])
    const p = await bird.waitProtocol("starling", (x) => x.message !== undefined && x.bgpState !== "Established", 10_000, "the shutdown message")
    assert.strictEqual(p.message, text)
    assert.strictEqual(p.lastError, "Received: Administrative shutdown")
    assert.include(bird.log(), `starling: Received: Administrative shutdown: "${text}"`)
    // ManualStop: Starling stays down (no reconnect) although BIRD keeps trying to connect to it.
    await new Promise((r) => setTimeout(r, 2500))
    assert.strictEqual(await s.state(), "Idle")
    assert.isFalse(s.events.slice(from).some(isEstablished))
  })

  it("BIRD restarts (SIGTERM + start, then SIGKILL + start): Starling re-establishes by itself", async () => {
    const { starling, bird: birdAddr } = pair(5)
    const bird = await startBird(birdSpec("restart", birdAddr, 65005, { name: "starling", address: starling, as: 65005, holdTime: 6 }))
    const s = await startStarling(starlingOptions(starling, birdAddr, 65005, 65005, { holdTime: 6 }, true))
    await s.established()

    // Graceful stop: BIRD sends a Cease.
    let from = s.events.length
    await bird.stop()
    const down1 = await s.event(isDown, { from })
    assert.strictEqual(down1.reason._tag, "NotificationReceived")
    if (down1.reason._tag === "NotificationReceived") assert.strictEqual(down1.reason.notification.code, 6)
    const restarted = Date.now()
    await bird.start()
    await s.event(isEstablished, { from, timeoutMs: 15_000 })
    expect(Date.now() - restarted).toBeLessThan(10_000)
    await bird.waitProtocol("starling", (x) => x.bgpState === "Established")

    // Crash: no NOTIFICATION, the kernel closes BIRD's sockets.
    from = s.events.length
    await bird.kill()
    const down2 = await s.event(isDown, { from })
    assert.strictEqual(down2.reason._tag, "ConnectionLost")
    const restarted2 = Date.now()
    await bird.start()
    await s.event(isEstablished, { from, timeoutMs: 15_000 })
    expect(Date.now() - restarted2).toBeLessThan(10_000)
    const p = await bird.waitProtocol("starling", (x) => x.bgpState === "Established")
    assert.strictEqual(p.neighborAs, 65005)
  })
})
