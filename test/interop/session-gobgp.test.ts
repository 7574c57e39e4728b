/**
 * @starling/session against a real GoBGP 3.x (gobgpd started per test on its own loopback address, lab 3).
 * Every check looks at both ends: Starling's negotiated session and gobgpd's own view (`gobgp neighbor -j`,
 * its log of received NOTIFICATIONs).
 *
 * GoBGP does not implement RFC 8654 extended messages or RFC 7313 enhanced route refresh: it lists our
 * capability 6 as unknown and advertises neither, so both must come out not negotiated.
 */
import { afterAll, afterEach, assert, describe, it } from "vitest"
import { parseIpv4 } from "@starling/codec"
import type { Negotiated, SessionEvent } from "@starling/session"
import { lab } from "./lib/addresses.ts"
import { startGobgp, type Gobgp, type GobgpNeighbor } from "./lib/gobgp.ts"
import { stopAll, waitFor } from "./lib/process.ts"
import { closeAllStarling, notifications, startStarling, type Starling, type StarlingOptions } from "./lib/starling.ts"

const net = lab(3)
const GOBGP_AS = 65003
/** A 4-octet AS for Starling: the OPEN carries AS_TRANS and the real AS only in the capability. */
const STARLING_AS = 4200000003
const IPV4 = { afi: 1, safi: 1 }
const IPV6 = { afi: 2, safi: 1 }

const routers: Gobgp[] = []
const starlings: Starling[] = []

afterEach(async () => {
  await Promise.all(starlings.splice(0).map((s) => s.close()))
  await Promise.all(routers.splice(0).map((r) => r.stop()))
})

afterAll(async () => {
  await closeAllStarling()
  await stopAll()
})

/** GoBGP at host(k) and Starling at host(k + 1). */
const pair = async (
  k: number,
  opts: { gobgp?: Partial<GobgpNeighbor>; starling?: Partial<StarlingOptions["config"]>; starlingPassive?: boolean } = {}
) => {
  const gobgpAddress = net.host(k)
  const starlingAddress = net.host(k + 1)
  const passive = opts.starlingPassive === true
  const startRouter = async () => {
    const r = await startGobgp({
      name: `s${k}`,
      routerId: `10.3.0.${k}`,
      as: GOBGP_AS,
      address: gobgpAddress,
      neighbors: [{
        address: starlingAddress,
        peerAs: STARLING_AS,
        // When Starling is active, GoBGP only listens: the session then comes from Starling's connect.
        passive: !passive,
        holdTime: 30,
        addPath: { receive: true, sendMax: 8 },
        gracefulRestart: { restartTime: 120 },
        ...opts.gobgp
      }]
    })
    routers.push(r)
    return r
  }
  // A passive Starling listens before GoBGP starts: GoBGP's first connect then succeeds (its retries are
  // at least 5 s apart whatever connect-retry says).
  const gobgp = passive ? undefined : await startRouter()
  const starling = await startStarling({
    config: {
      localAs: STARLING_AS,
      peerAs: GOBGP_AS,
      localId: parseIpv4(`10.3.0.${k + 1}`)!,
      holdTime: 45,
      connectRetryTime: 1,
      idleHoldTime: { initial: 1, max: 2 },
      passive,
      addPath: [{ ...IPV4, receive: true, send: true }, { ...IPV6, receive: true, send: true }],
      gracefulRestart: { restartTime: 90 },
      ...opts.starling
    },
    remote: { address: gobgpAddress },
    localAddress: starlingAddress,
    listen: passive
  })
  starlings.push(starling)
  return { gobgp: gobgp ?? await startRouter(), starling, gobgpAddress, starlingAddress }
}

const isEstablished = (e: SessionEvent): e is Extract<SessionEvent, { _tag: "Established" }> => e._tag === "Established"
const isDown = (e: SessionEvent): e is Extract<SessionEvent, { _tag: "Down" }> => e._tag === "Down"
const key = (f: { afi: number; safi: number }) => `${f.afi}/${f.safi}`
const keys = (fs: ReadonlyArray<{ afi: number; safi: number }>) => fs.map(key).sort()

/** What both ends must agree on for the configuration `pair` sets up. */
const checkCapabilities = async (gobgp: Gobgp, starlingAddress: string, n: Negotiated, k: number) => {
  // Starling's side.
  assert.strictEqual(n.peerAs, GOBGP_AS)
  assert.strictEqual(n.peerId, parseIpv4(`10.3.0.${k}`))
  assert.strictEqual(n.as4, true)
  assert.strictEqual(n.holdTime, 30)
  assert.strictEqual(n.keepaliveTime, 10)
  assert.deepStrictEqual(keys(n.families), ["1/1", "2/1"])
  assert.deepStrictEqual(keys(n.addPathReceive), ["1/1", "2/1"])
  assert.deepStrictEqual(keys(n.addPathSend), ["1/1", "2/1"])
  assert.strictEqual(n.routeRefresh, true)
  assert.strictEqual(n.enhancedRouteRefresh, false, "GoBGP does not advertise enhanced route refresh")
  assert.strictEqual(n.extendedMessage, false, "GoBGP does not advertise extended messages")
  assert.strictEqual(n.rx.extendedMessage, false)
  assert.isDefined(n.gracefulRestart)
  assert.strictEqual(n.gracefulRestart!.restartTime, 120)
  assert.strictEqual(n.gracefulRestart!.restarting, false)
  assert.deepStrictEqual(keys(n.gracefulRestart!.families), ["1/1", "2/1"])

  // GoBGP's side: what it received from Starling, and what it advertised itself.
  const v = await gobgp.neighbor(starlingAddress)
  assert.strictEqual(v.state, "ESTABLISHED")
  assert.strictEqual(v.holdTime, 30)
  assert.strictEqual(v.raw.state.peer_asn, STARLING_AS)
  const r = v.remoteCapabilities
  assert.strictEqual(r.fourOctetAs, STARLING_AS)
  assert.deepStrictEqual(keys(r.multiprotocol), ["1/1", "2/1"])
  assert.strictEqual(r.routeRefresh, true)
  assert.strictEqual(r.enhancedRouteRefresh, true)
  // mode 3 = receive and send.
  assert.deepStrictEqual(r.addPath.map((a) => `${key(a)}:${a.mode}`).sort(), ["1/1:3", "2/1:3"])
  assert.isDefined(r.gracefulRestart)
  assert.strictEqual(r.gracefulRestart!.time, 90)
  assert.strictEqual(r.gracefulRestart!.flags & 0x8, 0, "Restart State bit clear")
  assert.deepStrictEqual(keys(r.gracefulRestart!.families), ["1/1", "2/1"])
  // Extended message (code 6): we offered it, GoBGP does not know it and did not offer it back.
  assert.include(r.unknown, 6)
  assert.notInclude(v.localCapabilities.unknown, 6)
  assert.strictEqual(v.localCapabilities.fourOctetAs, GOBGP_AS)
  assert.deepStrictEqual(v.localCapabilities.addPath.map((a) => `${key(a)}:${a.mode}`).sort(), ["1/1:3", "2/1:3"])
  return v
}

describe("Starling ↔ GoBGP sessions", () => {
  it("establishes with Starling active and negotiates 4-octet AS, IPv4+IPv6, ADD-PATH, GR, route refresh", async () => {
    const { gobgp, starling, starlingAddress } = await pair(1)
    const n = await starling.established()
    const up = await starling.event(isEstablished)
    assert.strictEqual(up.conn % 2, 1, "Starling's own (outgoing) connection carries the session")
    await checkCapabilities(gobgp, starlingAddress, n, 1)
    // The OPEN on the wire: 2-octet My AS is AS_TRANS for our 4-octet AS (RFC 6793 §4.1).
    const open = starling.wire.find((m) => m.dir === "sent" && m.type === 1)!
    assert.strictEqual((open.bytes[20]! << 8) | open.bytes[21]!, 23456)
  })

  it("establishes with Starling passive (GoBGP connects), negotiates the same on both sides, and closing ends it at once", async () => {
    const { gobgp, starling, starlingAddress } = await pair(3, { starlingPassive: true })
    const n = await starling.established()
    const up = await starling.event(isEstablished)
    assert.strictEqual(up.conn % 2, 0, "the accepted (incoming) connection carries the session")
    const v = await checkCapabilities(gobgp, starlingAddress, n, 3)
    // GoBGP connected out: its end of the session is an ephemeral port, ours is 179.
    assert.strictEqual(v.raw.transport.remote_port, 179)
    assert.notStrictEqual(v.raw.transport.local_port, 179)
    assert.strictEqual(new Set(starling.wire.map((m) => m.conn)).size, 1, "one connection, no collision")

    // Closing the peer's scope (and its listener's) ends the session at once, instead of leaving the
    // socket to the remote's 30 s hold timer.
    const t0 = Date.now()
    await starling.close()
    assert.isAtMost(Date.now() - t0, 3000)
    await waitFor("gobgp to leave ESTABLISHED", async () => ((await gobgp.neighbor(starlingAddress)).state === "ESTABLISHED" ? undefined : true), 5000)
  })

  it("detects hold timer expiry when gobgpd is stopped (SIGSTOP), then recovers after SIGCONT", async () => {
    const { gobgp, starling, starlingAddress } = await pair(5, { gobgp: { holdTime: 6 }, starling: { holdTime: 6 } })
    const n = await starling.established()
    assert.strictEqual(n.holdTime, 6)
    assert.strictEqual((await gobgp.neighbor(starlingAddress)).holdTime, 6)
    const from = starling.events.length
    const t0 = Date.now()
    gobgp.suspend()
    try {
      const down = await starling.event(isDown, { from, timeoutMs: 12_000 })
      const elapsed = (Date.now() - t0) / 1000
      assert.strictEqual(down.reason._tag, "HoldTimerExpired")
      // The last KEEPALIVE came at most one keepalive interval (2 s) before the stop.
      assert.isAtLeast(elapsed, 3.5)
      assert.isAtMost(elapsed, 8)
      // RFC 4271 §6.5: the NOTIFICATION went out (code 4, Hold Timer Expired). The writer flushes it
      // after the Down event is published (bounded by the driver's 3 s flush), so wait for the wire record.
      await waitFor("the NOTIFICATION 4/0 on the wire", () =>
        notifications(starling.wire).some((x) => x.dir === "sent" && x.code === 4 && x.subcode === 0) ? true : undefined, 3000, 20)
    } finally {
      gobgp.resume()
    }
    // Both ends come back by themselves.
    await starling.event(isEstablished, { from, timeoutMs: 20_000 })
    await gobgp.waitState(starlingAddress, "ESTABLISHED", 10_000)
  })

  it("sends a Cease/Administrative Shutdown with an RFC 9003 message that gobgpd logs verbatim", async () => {
    const { gobgp, starling, starlingAddress } = await pair(7)
    await starling.established()
    await gobgp.waitState(starlingAddress, "ESTABLISHED")
    const message = "starling interop: planned maintenance — back in 5 min ✓"
    const from = starling.events.length
    await starling.run(starling.peer.stop(message))
    const down = await starling.event(isDown, { from })
    assert.deepStrictEqual(down.reason, { _tag: "AdminStop", message })
    const got = await waitFor("gobgpd to log the NOTIFICATION", () => gobgp.receivedNotifications().find((x) => x.code === 6), 10_000)
    assert.deepStrictEqual(got, { neighbor: starlingAddress, code: 6, subcode: 2, reason: message })
    const v = await waitFor("gobgp to leave ESTABLISHED", async () => {
      const v = await gobgp.neighbor(starlingAddress)
      return v.state === "ESTABLISHED" ? undefined : v
    }, 10_000)
    assert.strictEqual(v.messages.received.notification, 1)
    assert.strictEqual(await starling.state(), "Idle")
  })

  it("re-establishes by itself after gobgpd is restarted", async () => {
    const { gobgp, starling, starlingAddress } = await pair(9)
    await starling.established()
    await gobgp.waitState(starlingAddress, "ESTABLISHED")
    const from = starling.events.length
    await gobgp.stop()
    const down = await starling.event(isDown, { from, timeoutMs: 10_000 })
    // gobgpd says goodbye with a Cease on SIGTERM, or the connection just drops.
    assert.include(["NotificationReceived", "ConnectionLost"], down.reason._tag)
    if (down.reason._tag === "NotificationReceived") assert.strictEqual(down.reason.notification.code, 6)
    // Let Starling fail a few connects against the dead address first.
    await new Promise((r) => setTimeout(r, 2000))
    assert.notStrictEqual(await starling.state(), "Established")
    await gobgp.restart()
    const t0 = Date.now()
    // GoBGP is passive: only Starling's retries can bring the session back (connectRetry 1 s, idle hold ≤ 2 s).
    await starling.event(isEstablished, { from, timeoutMs: 10_000 })
    assert.isAtMost((Date.now() - t0) / 1000, 5)
    const v = await gobgp.waitState(starlingAddress, "ESTABLISHED", 5000)
    assert.strictEqual(v.remoteCapabilities.fourOctetAs, STARLING_AS)
  })
})
