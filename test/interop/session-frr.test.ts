/**
 * @starling/session against a real FRR bgpd (started here as a standalone process on 127.66.2.0/24):
 * session set-up in both directions, capability negotiation seen from both ends, hold timer expiry, the
 * RFC 9003 shutdown communication, and recovery after bgpd restarts. Fails (never skips) when FRR is not
 * installed.
 */
import { afterAll, afterEach, assert, describe, expect, it } from "@effect/vitest"
import { Afi, Safi } from "@starling/codec"
import type { SessionEvent } from "@starling/session"
import { lab } from "./lib/addresses.ts"
import type { FrrNeighbor, FrrSpec } from "./lib/frr.ts"
import { startFrr as startFrrProcess } from "./lib/frr.ts"
import { stopAll, waitFor } from "./lib/process.ts"
import type { StarlingOptions } from "./lib/starling.ts"
import { bgpId, closeAllStarling, notifications, quickTimers, startStarling } from "./lib/starling.ts"

const net = lab(2)

/** Routers started by the current test (stopped, run directories removed, after each test). */
const routers: Array<{ dispose: () => Promise<void> }> = []
const startFrr = async (spec: FrrSpec) => {
  const r = await startFrrProcess(spec)
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

/** Test `k` uses Starling at .(10k+1) and FRR at .(10k+2). */
const pair = (k: number) => ({ starling: net.host(10 * k + 1), frr: net.host(10 * k + 2) })

const frrSpec = (name: string, address: string, as: number, neighbor: FrrNeighbor, extra: Partial<FrrSpec> = {}): FrrSpec => ({
  name,
  routerId: address.replace(/^127\./, "10."),
  as,
  address,
  neighbors: [neighbor],
  ...extra
})

const starlingOptions = (local: string, remote: string, localAs: number, peerAs: number, extra: Partial<StarlingOptions["config"]> = {}, listen = false): StarlingOptions => ({
  config: { localAs, peerAs, localId: bgpId(local.replace(/^127\./, "10.")), holdTime: 9, ...quickTimers, ...extra },
  remote: { address: remote },
  localAddress: local,
  listen
})

const isDown = (e: SessionEvent): e is Extract<SessionEvent, { _tag: "Down" }> => e._tag === "Down"
const isEstablished = (e: SessionEvent): e is Extract<SessionEvent, { _tag: "Established" }> => e._tag === "Established"

/** FRR prints a shutdown communication with every non-ASCII octet as `\xNN`; undo that. */
const unescapeFrr = (s: string): string => {
  const bytes: number[] = []
  for (let i = 0; i < s.length; i++) {
    const m = /^\\x([0-9a-fA-F]{2})/.exec(s.slice(i, i + 4))
    if (m !== null) {
      bytes.push(parseInt(m[1]!, 16))
      i += 3
    } else bytes.push(...new TextEncoder().encode(s[i]!))
  }
  return new TextDecoder().decode(Uint8Array.from(bytes))
}

describe("Starling ⇄ FRR bgpd", () => {
  it("iBGP, Starling active: 4-octet AS, IPv4+IPv6, ADD-PATH, graceful restart, route refresh and extended messages on both sides", async () => {
    const { starling, frr: frrAddr } = pair(1)
    const frr = await startFrr(frrSpec("frr-active", frrAddr, 65021, {
      address: starling,
      as: 65021,
      passive: true, // FRR only listens: the session must be Starling's connection
      holdTime: 9,
      families: [{ family: "ipv4", addPathTx: "all" }, { family: "ipv6", addPathTx: "all" }]
    }, { gracefulRestart: { restartTime: 100 } }))
    const s = await startStarling(starlingOptions(starling, frrAddr, 65021, 65021, {
      holdTime: 30,
      families: [v4, v6],
      addPath: [{ ...v4, receive: true, send: true }, { ...v6, receive: true, send: true }],
      gracefulRestart: { restartTime: 77 },
      extendedMessage: true,
      routeRefresh: true,
      enhancedRouteRefresh: true,
      hostname: "starling-interop"
    }))
    const n = await s.established()
    const est = await s.event(isEstablished)
    assert.strictEqual(est.conn % 2, 1, "the session runs on Starling's outgoing connection (odd ids)")
    assert.isTrue(s.wire.every((m) => m.outgoing), "the router never connected to Starling")

    // Starling's view.
    assert.strictEqual(n.peerAs, 65021)
    assert.strictEqual(n.peerId, bgpId(frr.spec.routerId))
    assert.isTrue(n.as4)
    assert.strictEqual(n.holdTime, 9)
    assert.strictEqual(n.keepaliveTime, 3)
    assert.deepStrictEqual(n.families, [v4, v6])
    assert.deepStrictEqual(n.addPathReceive, [v4, v6])
    assert.deepStrictEqual(n.addPathSend, [v4, v6])
    assert.isTrue(n.extendedMessage)
    assert.isTrue(n.routeRefresh)
    assert.isTrue(n.enhancedRouteRefresh)
    assert.strictEqual(n.gracefulRestart?.restartTime, 100)
    assert.deepStrictEqual(n.gracefulRestart?.families.map((f) => [f.afi, f.safi]), [[1, 1], [2, 1]])
    assert.strictEqual(n.peerHostname, "frr-active")
    assert.isTrue(n.rx.internal)

    // FRR's view of the same session.
    const nb = await frr.waitNeighbor(starling, (x) => x.bgpState === "Established")
    assert.strictEqual(nb.remoteAs, 65021)
    assert.strictEqual(nb.remoteRouterId, starling.replace(/^127\./, "10."))
    assert.strictEqual(nb["nbrInternalLink"], true)
    assert.strictEqual(nb.bgpTimerHoldTimeMsecs, 9000)
    assert.strictEqual(nb.bgpTimerKeepAliveIntervalMsecs, 3000)
    const caps = nb.neighborCapabilities as Record<string, any>
    assert.strictEqual(caps["4byteAs"], "advertisedAndReceived")
    assert.strictEqual(caps["extendedMessage"], "advertisedAndReceived")
    assert.strictEqual(caps["routeRefresh"], "advertisedAndReceivedNew")
    assert.strictEqual(caps["enhancedRouteRefresh"], "advertisedAndReceived")
    assert.deepStrictEqual(caps["multiprotocolExtensions"], {
      ipv4Unicast: { advertisedAndReceived: true },
      ipv6Unicast: { advertisedAndReceived: true }
    })
    for (const af of ["ipv4Unicast", "ipv6Unicast"]) {
      assert.strictEqual(caps["addPath"]?.[af]?.["txAdvertisedAndReceived"], true, `ADD-PATH tx ${af}`)
      assert.strictEqual(caps["addPath"]?.[af]?.["rxAdvertisedAndReceived"], true, `ADD-PATH rx ${af}`)
    }
    assert.strictEqual(caps["gracefulRestart"], "advertisedAndReceived")
    assert.strictEqual(caps["gracefulRestartRemoteTimerMsecs"], 77_000)
    assert.strictEqual(caps["hostName"]?.["rcvHostName"], "starling-interop")
  })

  it("eBGP with a 4-octet AS, Starling passive: bgpd connects to Starling's listener", async () => {
    const { starling, frr: frrAddr } = pair(2)
    const frr = await startFrr(frrSpec("frr-passive", frrAddr, 65022, { address: starling, as: 4_200_000_022, holdTime: 6 }))
    const s = await startStarling(starlingOptions(starling, frrAddr, 4_200_000_022, 65022, { passive: true, holdTime: 6 }, true))
    const n = await s.established()
    const est = await s.event(isEstablished)
    assert.strictEqual(est.conn % 2, 0, "the session runs on an accepted connection (even ids)")
    assert.strictEqual(n.peerAs, 65022)
    assert.isTrue(n.as4)
    assert.isFalse(n.rx.internal)
    assert.deepStrictEqual(n.families, [v4, v6])
    assert.isTrue(s.wire.every((m) => !m.outgoing), "Starling never connected out")
    const nb = await frr.waitNeighbor(starling, (x) => x.bgpState === "Established")
    assert.strictEqual(nb.remoteAs, 4_200_000_022)
    assert.strictEqual(nb["nbrExternalLink"], true)
    const caps = nb.neighborCapabilities as Record<string, any>
    assert.strictEqual(caps["4byteAs"], "advertisedAndReceived")
    assert.deepStrictEqual(caps["multiprotocolExtensions"], {
      ipv4Unicast: { advertisedAndReceived: true },
      ipv6Unicast: { advertisedAndReceived: true }
    })
  })

  it("hold timer: bgpd stopped with SIGSTOP → Starling reports HoldTimerExpired and sends NOTIFICATION 4/0; after SIGCONT the session comes back", async () => {
    const { starling, frr: frrAddr } = pair(3)
    const frr = await startFrr(frrSpec("frr-hold", frrAddr, 65023, { address: starling, as: 65023, passive: true, holdTime: 3 }))
    const s = await startStarling(starlingOptions(starling, frrAddr, 65023, 65023, { holdTime: 3 }))
    const n = await s.established()
    assert.strictEqual(n.holdTime, 3)
    const est = await s.event(isEstablished)
    await frr.waitNeighbor(starling, (x) => x.bgpState === "Established")
    const dropsBefore = (await frr.neighbor(starling)).connectionsDropped ?? 0
    const from = s.events.length
    const paused = Date.now()
    frr.pause()
    let down: Extract<SessionEvent, { _tag: "Down" }>
    try {
      down = await s.event(isDown, { from, timeoutMs: 10_000 })
    } finally {
      await new Promise((r) => setTimeout(r, 300))
      frr.resume()
    }
    const waited = Date.now() - paused
    assert.strictEqual(down.reason._tag, "HoldTimerExpired")
    assert.strictEqual(down.conn, est.conn)
    expect(waited).toBeGreaterThanOrEqual(1900)
    expect(waited).toBeLessThan(5000)
    // The writer flushes the NOTIFICATION after the Down event (bounded by the driver's 3 s flush).
    const sentOn = () => s.wire.filter((m) => m.conn === est.conn && m.dir === "sent")
    await waitFor("the NOTIFICATION on the wire", () => (sentOn().at(-1)?.type === 3 ? true : undefined), 3000, 20)
    const sent = sentOn()
    assert.strictEqual(sent.at(-1)?.type, 3, "the last message Starling wrote is a NOTIFICATION")
    assert.deepStrictEqual(notifications(sent).map((x) => [x.code, x.subcode, x.data.length]), [[4, 0, 0]])
    // On SIGCONT bgpd's own hold timer (also expired) races its I/O thread reading our NOTIFICATION, so
    // its record says 4/0 either "sent" or "received"; either way the session went down on the hold timer.
    const nb = await frr.waitNeighbor(starling, (x) => (x.connectionsDropped ?? 0) > dropsBefore, 10_000, "the session dropped")
    assert.strictEqual(nb["lastErrorCodeSubcode"], "0400")
    assert.match(nb.lastResetDueTo ?? "", /^BGP Notification (send|received)$/)
    // Starling comes back by itself after IdleHoldTime (1 s).
    await s.event(isEstablished, { from, timeoutMs: 15_000 })
    await frr.waitNeighbor(starling, (x) => x.bgpState === "Established")
  })

  it("Cease with an RFC 9003 shutdown communication: bgpd shows Starling's exact text", async () => {
    const { starling, frr: frrAddr } = pair(4)
    const frr = await startFrr(frrSpec("frr-shutdown", frrAddr, 65024, { address: starling, as: 65034 }))
    const s = await startStarling(starlingOptions(starling, frrAddr, 65034, 65024))
    await s.established()
    await frr.waitNeighbor(starling, (x) => x.bgpState === "Established")
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
    const nb = await frr.waitNeighbor(starling, (x) => x.lastShutdownDescription !== undefined, 10_000, "the shutdown message")
    assert.strictEqual(nb["lastErrorCodeSubcode"], "0602")
    assert.strictEqual(nb.lastNotificationReason, "Cease/Administrative Shutdown")
    assert.strictEqual(nb.lastResetDueTo, "BGP Notification received")
    // FRR escapes octets outside printable ASCII; the octets are exactly our UTF-8 text.
    assert.strictEqual(unescapeFrr(nb.lastShutdownDescription!), text)
    assert.include(frr.log(), `%NOTIFICATION: received from neighbor ${starling} 6/2 (Cease/Administrative Shutdown) "${nb.lastShutdownDescription}"`)
    // ManualStop: Starling stays down although bgpd keeps connecting to it.
    await new Promise((r) => setTimeout(r, 2500))
    assert.strictEqual(await s.state(), "Idle")
    assert.isFalse(s.events.slice(from).some(isEstablished))
  })

  it("bgpd restarts (SIGTERM + start, then SIGKILL + start): Starling re-establishes by itself", async () => {
    const { starling, frr: frrAddr } = pair(5)
    const frr = await startFrr(frrSpec("frr-restart", frrAddr, 65025, { address: starling, as: 65025, holdTime: 6 }))
    const s = await startStarling(starlingOptions(starling, frrAddr, 65025, 65025, { holdTime: 6 }, true))
    await s.established()

    // Graceful stop: bgpd sends a Cease.
    let from = s.events.length
    await frr.stop()
    const down1 = await s.event(isDown, { from })
    assert.strictEqual(down1.reason._tag, "NotificationReceived")
    if (down1.reason._tag === "NotificationReceived") assert.strictEqual(down1.reason.notification.code, 6)
    const restarted = Date.now()
    await frr.start()
    await s.event(isEstablished, { from, timeoutMs: 15_000 })
    expect(Date.now() - restarted).toBeLessThan(10_000)
    await frr.waitNeighbor(starling, (x) => x.bgpState === "Established")

    // Crash: no NOTIFICATION, the kernel closes bgpd's sockets.
    from = s.events.length
    await frr.kill()
    const down2 = await s.event(isDown, { from })
    assert.strictEqual(down2.reason._tag, "ConnectionLost")
    const restarted2 = Date.now()
    await frr.start()
    await s.event(isEstablished, { from, timeoutMs: 15_000 })
    expect(Date.now() - restarted2).toBeLessThan(10_000)
    const nb = await frr.waitNeighbor(starling, (x) => x.bgpState === "Established")
    assert.strictEqual(nb.remoteAs, 65025)
  })
})
