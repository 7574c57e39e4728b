/**
 * @starling/session against a real OpenBGPD 7.x (bgpd started per test in a private mount namespace on its
 * own loopback address, lab 4). Every check looks at both ends: Starling's negotiated session and bgpd's
 * own view (`bgpctl -j show neighbor`).
 *
 * OpenBGPD 7.7 does not implement RFC 8654 extended messages, so that capability must come out not
 * negotiated. Its graceful restart capability is End-of-RIB only: no families, restart time 0, and the
 * Restart State bit set on a fresh start.
 */
import { readFileSync } from "node:fs"
import { afterAll, afterEach, assert, describe, it } from "vitest"
import { parseIpv4 } from "@starling/codec"
import type { Negotiated, SessionEvent } from "@starling/session"
import { lab } from "./lib/addresses.ts"
import { killLeftoverChildren, startOpenbgpd, type Openbgpd, type OpenbgpdNeighbor } from "./lib/openbgpd.ts"
import { stopAll, waitFor } from "./lib/process.ts"
import { closeAllStarling, notifications, startStarling, type Starling, type StarlingOptions } from "./lib/starling.ts"

const net = lab(4)
const OPENBGPD_AS = 65004
/** A 4-octet AS for Starling: the OPEN carries AS_TRANS and the real AS only in the capability. */
const STARLING_AS = 4200000004
const IPV4 = { afi: 1, safi: 1 }
const IPV6 = { afi: 2, safi: 1 }

const routers: Openbgpd[] = []
const starlings: Starling[] = []

afterEach(async () => {
  await Promise.all(starlings.splice(0).map((s) => s.close()))
  await Promise.all(routers.splice(0).map((r) => r.stop()))
})

afterAll(async () => {
  await closeAllStarling()
  await stopAll()
  killLeftoverChildren()
})

/** OpenBGPD at host(k) and Starling at host(k + 1). */
const pair = async (
  k: number,
  opts: { openbgpd?: Partial<OpenbgpdNeighbor>; starling?: Partial<StarlingOptions["config"]>; starlingPassive?: boolean } = {}
) => {
  const routerAddress = net.host(k)
  const starlingAddress = net.host(k + 1)
  const passive = opts.starlingPassive === true
  const router = await startOpenbgpd({
    name: `s${k}`,
    routerId: `10.4.0.${k}`,
    as: OPENBGPD_AS,
    address: routerAddress,
    neighbors: [{
      address: starlingAddress,
      remoteAs: STARLING_AS,
      description: "starling",
      // When Starling is active, bgpd only listens: the session then comes from Starling's connect.
      passive: !passive,
      holdTime: 30,
      addPath: { receive: true, send: "all" },
      enhancedRouteRefresh: true,
      ...opts.openbgpd
    }]
  })
  routers.push(router)
  const starling = await startStarling({
    config: {
      localAs: STARLING_AS,
      peerAs: OPENBGPD_AS,
      localId: parseIpv4(`10.4.0.${k + 1}`)!,
      holdTime: 45,
      connectRetryTime: 1,
      idleHoldTime: { initial: 1, max: 2 },
      passive,
      addPath: [{ ...IPV4, receive: true, send: true }, { ...IPV6, receive: true, send: true }],
      gracefulRestart: { restartTime: 90 },
      ...opts.starling
    },
    remote: { address: routerAddress },
    localAddress: starlingAddress,
    listen: passive
  })
  starlings.push(starling)
  return { router, starling, routerAddress, starlingAddress }
}

const isEstablished = (e: SessionEvent): e is Extract<SessionEvent, { _tag: "Established" }> => e._tag === "Established"
const isDown = (e: SessionEvent): e is Extract<SessionEvent, { _tag: "Down" }> => e._tag === "Down"
const keys = (fs: ReadonlyArray<{ afi: number; safi: number }>) => fs.map((f) => `${f.afi}/${f.safi}`).sort()

/** What both ends must agree on for the configuration `pair` sets up. */
const checkCapabilities = async (router: Openbgpd, starlingAddress: string, n: Negotiated, k: number) => {
  // Starling's side.
  assert.strictEqual(n.peerAs, OPENBGPD_AS)
  assert.strictEqual(n.peerId, parseIpv4(`10.4.0.${k}`))
  assert.strictEqual(n.as4, true)
  assert.strictEqual(n.holdTime, 30)
  assert.strictEqual(n.keepaliveTime, 10)
  assert.deepStrictEqual(keys(n.families), ["1/1", "2/1"])
  assert.deepStrictEqual(keys(n.addPathReceive), ["1/1", "2/1"])
  assert.deepStrictEqual(keys(n.addPathSend), ["1/1", "2/1"])
  assert.strictEqual(n.routeRefresh, true)
  assert.strictEqual(n.enhancedRouteRefresh, true)
  assert.strictEqual(n.extendedMessage, false, "OpenBGPD 7.7 does not advertise extended messages")
  assert.strictEqual(n.rx.extendedMessage, false)
  assert.isDefined(n.gracefulRestart)
  assert.deepStrictEqual(n.gracefulRestart!.families, [], "End-of-RIB only: no families")

  // OpenBGPD's side: what Starling sent (session.remote), and what it negotiated (session.capabilities).
  const v = await router.neighbor(starlingAddress)
  assert.strictEqual(v.state, "Established")
  assert.strictEqual(v.raw.remote_as, String(STARLING_AS))
  assert.isDefined(v.session)
  const s = v.session!
  assert.strictEqual(s.holdtime, 30)
  assert.strictEqual(s.keepalive, 10)
  const r = s.remote.capabilities
  assert.strictEqual(r.as4byte, true)
  assert.strictEqual(r.refresh, true)
  assert.strictEqual(r.enhanced_refresh, true)
  assert.deepStrictEqual([...(r.multiprotocol ?? [])].sort(), ["IPv4 unicast", "IPv6 unicast"])
  assert.deepStrictEqual(r["add-path"], [{ family: "IPv4 unicast", mode: "bidir" }, { family: "IPv6 unicast", mode: "bidir" }])
  assert.strictEqual(r.graceful_restart?.timeout, 90)
  assert.strictEqual(r.graceful_restart?.restart, false, "Restart State bit clear")
  assert.deepStrictEqual(r.graceful_restart?.protocols, [
    { family: "IPv4 unicast", preserved: false },
    { family: "IPv6 unicast", preserved: false }
  ])
  const neg = s.capabilities
  assert.strictEqual(neg.as4byte, true)
  assert.strictEqual(neg.refresh, true)
  assert.strictEqual(neg.enhanced_refresh, true)
  assert.deepStrictEqual([...(neg.multiprotocol ?? [])].sort(), ["IPv4 unicast", "IPv6 unicast"])
  assert.deepStrictEqual(neg["add-path"], [{ family: "IPv4 unicast", mode: "bidir" }, { family: "IPv6 unicast", mode: "bidir" }])
  return v
}

describe("Starling ↔ OpenBGPD sessions", () => {
  it("establishes with Starling active and negotiates 4-octet AS, IPv4+IPv6, ADD-PATH, GR, route refresh", async () => {
    const { router, starling, starlingAddress } = await pair(1)
    const n = await starling.established()
    const up = await starling.event(isEstablished)
    assert.strictEqual(up.conn % 2, 1, "Starling's own (outgoing) connection carries the session")
    const v = await checkCapabilities(router, starlingAddress, n, 1)
    assert.strictEqual(v.session!.local.port, 179)
    assert.notStrictEqual(v.session!.remote.port, 179)
    // The OPEN on the wire: 2-octet My AS is AS_TRANS for our 4-octet AS (RFC 6793 §4.1).
    const open = starling.wire.find((m) => m.dir === "sent" && m.type === 1)!
    assert.strictEqual((open.bytes[20]! << 8) | open.bytes[21]!, 23456)
  })

  it("establishes with Starling passive (bgpd connects), negotiates the same on both sides, and closing ends it at once", async () => {
    const { router, starling, starlingAddress } = await pair(3, { starlingPassive: true })
    const n = await starling.established()
    const up = await starling.event(isEstablished)
    assert.strictEqual(up.conn % 2, 0, "the accepted (incoming) connection carries the session")
    const v = await checkCapabilities(router, starlingAddress, n, 3)
    // bgpd connected out: its end is an ephemeral port, ours is 179.
    assert.strictEqual(v.session!.remote.port, 179)
    assert.notStrictEqual(v.session!.local.port, 179)
    assert.strictEqual(new Set(starling.wire.map((m) => m.conn)).size, 1, "one connection, no collision")

    // Closing the peer's scope (and its listener's) ends the session at once, instead of leaving the
    // socket to the remote's 30 s hold timer.
    const t0 = Date.now()
    await starling.close()
    assert.isAtMost(Date.now() - t0, 3000)
    await waitFor("bgpd to leave Established", async () => ((await router.neighbor(starlingAddress)).state === "Established" ? undefined : true), 5000)
  })

  it("detects hold timer expiry when the session engine is stopped (SIGSTOP), then recovers after SIGCONT", async () => {
    const { router, starling, starlingAddress } = await pair(5, { openbgpd: { holdTime: 6 }, starling: { holdTime: 6 } })
    const n = await starling.established()
    assert.strictEqual(n.holdTime, 6)
    assert.strictEqual((await router.waitState(starlingAddress, "Established")).session?.holdtime, 6)
    const { se, all } = router.children()
    assert.isDefined(se)
    assert.strictEqual(all.length, 3, "RDE, SE and RTR")
    const from = starling.events.length
    const t0 = Date.now()
    router.suspend()
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
      router.resume()
    }
    // Both ends come back by themselves.
    await starling.event(isEstablished, { from, timeoutMs: 20_000 })
    await router.waitState(starlingAddress, "Established", 10_000)
  })

  it("sends a Cease/Administrative Shutdown with an RFC 9003 message that bgpctl shows verbatim", async () => {
    const { router, starling, starlingAddress } = await pair(7)
    await starling.established()
    await router.waitState(starlingAddress, "Established")
    // UTF-8 (RFC 9003 §2): bgpctl shows non-ASCII bytes as vis(3) octal escapes; the driver decodes its JSON.
    const message = "starling interop: planned maintenance — back in 5 min ✓"
    const from = starling.events.length
    await starling.run(starling.peer.stop(message))
    const down = await starling.event(isDown, { from })
    assert.deepStrictEqual(down.reason, { _tag: "AdminStop", message })
    const v = await waitFor("bgpctl to show the shutdown reason", async () => {
      const v = await router.neighbor(starlingAddress)
      return v.lastShutdownReason === undefined ? undefined : v
    }, 10_000)
    assert.strictEqual(v.lastShutdownReason, message)
    assert.strictEqual(v.lastErrorReceived, "Cease, administratively down")
    assert.notStrictEqual(v.state, "Established")
    assert.strictEqual(v.raw.stats.message.received.notifications, 1)
    // The text view says the same, vis-encoded.
    const vis = [...Buffer.from(message)].map((b) => (b < 0x80 ? String.fromCharCode(b) : `\\${b.toString(8)}`)).join("")
    assert.include(await router.bgpctl(["show", "neighbor", starlingAddress]), `Last received shutdown reason: "${vis}"`)
    assert.strictEqual(await starling.state(), "Idle")
  })

  it("re-establishes by itself after bgpd is restarted", async () => {
    const { router, starling, starlingAddress } = await pair(9)
    await starling.established()
    await router.waitState(starlingAddress, "Established")
    const from = starling.events.length
    const children = router.children().all
    await router.stop()
    assert.isTrue(children.every((pid) => !isBgpd(pid)), "bgpd's children are gone too")
    const down = await starling.event(isDown, { from, timeoutMs: 10_000 })
    // bgpd says goodbye with a Cease on SIGTERM, or the connection just drops.
    assert.include(["NotificationReceived", "ConnectionLost"], down.reason._tag)
    if (down.reason._tag === "NotificationReceived") assert.strictEqual(down.reason.notification.code, 6)
    // Let Starling fail a few connects against the dead address first.
    await new Promise((r) => setTimeout(r, 2000))
    assert.notStrictEqual(await starling.state(), "Established")
    await router.restart()
    const t0 = Date.now()
    // bgpd is passive: only Starling's retries can bring the session back (connectRetry 1 s, idle hold ≤ 2 s).
    await starling.event(isEstablished, { from, timeoutMs: 10_000 })
    assert.isAtMost((Date.now() - t0) / 1000, 5)
    const v = await router.waitState(starlingAddress, "Established", 5000)
    assert.strictEqual(v.session?.remote.capabilities.as4byte, true)
  })
})

const isBgpd = (pid: number): boolean => {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim() === "bgpd"
  } catch {
    return false
  }
}
