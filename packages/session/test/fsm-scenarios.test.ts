/**
 * FSM behaviour over several steps: stops with RFC 9003 messages, ConnectRetry, DelayOpen, hold time and
 * keepalive negotiation, RFC 9687 send hold, NOTIFICATIONs received, IdleHold damping, and connection
 * collisions (RFC 4271 §6.8, RFC 6286 §2.3, RFC 4724 §4.2). Every step runs the invariant checks.
 */
import { describe, expect, it } from "@effect/vitest"
import type { Notification } from "@starling/codec"
import { bgpError, CeaseSubcode, hardResetInner, shutdownMessage, toNotification } from "@starling/codec"
import type { Action, DownReason, PeerConfig } from "../src/index.ts"
import { config, endOfRib, ev, ID_REMOTE, notification, Peer, remoteOpen, sentNotifications } from "./support/fsm.ts"

const sentOn = (actions: ReadonlyArray<Action>, conn: number) =>
  actions.flatMap((a) => (a._tag === "Send" && a.conn === conn ? [a.message] : []))
const notifs = (actions: ReadonlyArray<Action>): Notification[] =>
  actions.flatMap((a) => (a._tag === "Send" && a.message._tag === "Notification" ? [a.message] : []))
const downs = (actions: ReadonlyArray<Action>): DownReason[] =>
  actions.flatMap((a) => (a._tag === "SessionDown" ? [a.reason] : []))

/** Our outgoing session Established on #1. */
const established = (cfg: PeerConfig = config(), open = remoteOpen()) => {
  const p = new Peer(cfg)
  p.run(ev.manualStart, ev.crAcked(1), ev.open(1, open), ev.keepalive(1))
  expect(p.fsm.state).toBe("Established")
  return p
}

describe("ManualStart", () => {
  it("active: connects, retries, and takes the first TCP connection up", () => {
    const p = new Peer(config())
    expect(p.step(ev.manualStart)).toEqual(["connect #1", "start ConnectRetry 30", "state Idle→Connect"])
    expect(p.fsm.enabled).toBe(true)
  })

  it("passive: listens only, never connects, accepts the peer", () => {
    const p = new Peer(config({ passive: true }))
    expect(p.step(ev.manualStart)).toEqual(["state Idle→Active"])
    expect(p.step(ev.connectRetry)).toEqual([])
    expect(p.run(ev.confirmed(2), ev.open(2), ev.keepalive(2))).toContain("established #2")
    expect(p.actions.some((a) => a._tag === "Connect")).toBe(false)
  })

  it("AutomaticStart behaves like ManualStart", () => {
    const p = new Peer(config())
    expect(p.step(ev.automaticStart)).toEqual(["connect #1", "start ConnectRetry 30", "state Idle→Connect"])
  })
})

describe("ManualStop: Cease/Administrative Shutdown with the RFC 9003 message", () => {
  it("Established: NOTIFICATION 6/2 carrying the text, SessionDown AdminStop, Idle, no restart", () => {
    const p = established()
    p.step({ _tag: "ManualStop", message: "maintenance window 42" })
    const [n] = notifs(p.last)
    expect([n!.code, n!.subcode]).toEqual([6, 2])
    expect(shutdownMessage(n!)).toBe("maintenance window 42")
    expect(downs(p.last)).toEqual([{ _tag: "AdminStop", message: "maintenance window 42" }])
    expect(p.fsm.state).toBe("Idle")
    expect(p.fsm.enabled).toBe(false)
    expect(p.timers.summary()).toBe("")
    // Nothing restarts it; incoming connections are refused with Cease/Connection Rejected.
    expect(p.step(ev.idleHold)).toEqual([])
    expect(p.step(ev.confirmed(2))).toEqual(["send #2 NOTIFICATION 6/5", "close #2"])
  })

  it("no message: a zero-length shutdown communication", () => {
    const p = established()
    p.step({ _tag: "ManualStop" })
    const [n] = notifs(p.last)
    expect([n!.code, n!.subcode, ...n!.data]).toEqual([6, 2, 0])
    expect(shutdownMessage(n!)).toBeUndefined()
  })

  it("a long message is cut to 255 octets at a character boundary", () => {
    const p = established()
    p.step({ _tag: "ManualStop", message: "é".repeat(200) })
    const [n] = notifs(p.last)
    expect(n!.data[0]).toBe(254)
    expect(n!.data.length).toBe(255)
    expect(shutdownMessage(n!)).toBe("é".repeat(127))
  })

  it("every connection that has TCP up gets the NOTIFICATION; a pending connect is just closed", () => {
    const p = new Peer(config({ delayOpenTime: 5 }))
    p.run(ev.manualStart, ev.confirmed(2))
    expect(p.conns).toBe("1:Connecting 2:Connected")
    expect(p.step({ _tag: "ManualStop", message: "x" })).toEqual([
      "close #1",
      "send #2 NOTIFICATION 6/2 0178",
      "close #2",
      "stop ConnectRetry",
      "stop IdleHold",
      "state Connect→Idle AdminStop"
    ])
  })

  it("resets damping and the retry counter, then ManualStart begins afresh", () => {
    const p = new Peer(config())
    p.run(ev.manualStart, ev.crAcked(1), ev.hold(1), ev.idleHold, ev.crAcked(3), ev.hold(3))
    expect(p.fsm.idleHoldTime).toBe(20)
    expect(p.fsm.connectRetryCounter).toBe(2)
    p.step({ _tag: "ManualStop" })
    expect([p.fsm.idleHoldTime, p.fsm.connectRetryCounter, p.fsm.idleHolding]).toEqual([5, 0, false])
    expect(p.step(ev.manualStart)).toEqual(["connect #5", "start ConnectRetry 30", "state Idle→Connect"])
  })
})

describe("AutomaticStop", () => {
  it("Cease with the given subcode, then Idle with IdleHold and an automatic restart", () => {
    const p = established()
    p.step({ _tag: "AutomaticStop", subcode: CeaseSubcode.MAXIMUM_PREFIXES_REACHED })
    expect(sentNotifications(p.last)).toEqual(["6/1"])
    expect(downs(p.last)).toEqual([{ _tag: "AutomaticStop", subcode: 1 }])
    expect(p.fsm.idleHolding).toBe(true)
    expect(p.remaining("IdleHold")).toBe(5)
    expect(p.step(ev.idleHold)).toEqual(["connect #3", "start ConnectRetry 30", "state Idle→Connect"])
  })

  it("Administrative Reset carries its RFC 9003 message", () => {
    const p = established()
    p.step({ _tag: "AutomaticStop", subcode: CeaseSubcode.ADMINISTRATIVE_RESET, message: "config change" })
    const [n] = notifs(p.last)
    expect([n!.code, n!.subcode, shutdownMessage(n!)]).toEqual([6, 4, "config change"])
  })
})

describe("ConnectRetryTimer", () => {
  it("a failed connect waits in Active and retries on expiry, without damping", () => {
    const p = new Peer(config())
    p.step(ev.manualStart)
    expect(p.step(ev.fails(1))).toEqual(["close #1", "start ConnectRetry 30", "state Connect→Active ConnectionLost"])
    expect(p.step(ev.connectRetry)).toEqual(["connect #3", "start ConnectRetry 30", "state Active→Connect"])
    expect(p.run(ev.fails(3), ev.connectRetry)).toContain("connect #5")
    expect(p.fsm.idleHolding).toBe(false)
    expect(p.fsm.connectRetryCounter).toBe(0)
    expect(p.run(ev.crAcked(5), ev.open(5), ev.keepalive(5))).toContain("established #5")
  })

  it("a hanging connect is abandoned on expiry; its late completion is closed", () => {
    const p = new Peer(config())
    p.step(ev.manualStart)
    expect(p.step(ev.connectRetry)).toEqual(["close #1", "connect #3", "start ConnectRetry 30"])
    expect(p.step(ev.crAcked(1))).toEqual(["close #1"])
    expect(p.conns).toBe("3:Connecting")
  })

  it("while listening and waiting, a passive-side peer connection is accepted", () => {
    const p = new Peer(config())
    p.run(ev.manualStart, ev.fails(1))
    expect(p.step(ev.confirmed(2))).toEqual(["send #2 OPEN", "start Hold#2 240", "start SendHold#2 480", "stop ConnectRetry", "state Active→OpenSent"])
  })
})

describe("TCP failure before and after OPEN", () => {
  it("during DelayOpen (no BGP message yet): no damping", () => {
    const p = new Peer(config({ delayOpenTime: 5 }))
    p.run(ev.manualStart, ev.crAcked(1))
    p.step(ev.fails(1))
    expect([p.fsm.state, p.fsm.idleHolding, p.remaining("ConnectRetry")]).toEqual(["Active", false, 30])
  })

  it("after our OPEN: a failure, IdleHold", () => {
    const p = new Peer(config())
    p.run(ev.manualStart, ev.crAcked(1))
    p.step(ev.fails(1))
    expect([p.fsm.state, p.fsm.idleHolding, p.remaining("IdleHold"), p.fsm.connectRetryCounter]).toEqual(["Idle", true, 5, 1])
  })

  it("one connection failing while the other carries on is no failure", () => {
    const p = new Peer(config())
    p.run(ev.manualStart, ev.crAcked(1), ev.confirmed(2))
    expect(p.step(ev.fails(2))).toEqual(["close #2"])
    expect([p.fsm.state, p.fsm.idleHolding]).toEqual(["OpenSent", false])
  })
})

describe("DelayOpen (RFC 4271 §8.2.2 events 12 and 20)", () => {
  const delayed = config({ delayOpenTime: 5 })

  it("TCP up: no OPEN yet, DelayOpenTimer; on expiry our OPEN, then the peer's → KEEPALIVE only", () => {
    const p = new Peer(delayed)
    p.step(ev.manualStart)
    expect(p.step(ev.crAcked(1))).toEqual(["start DelayOpen#1 5", "stop ConnectRetry"])
    expect(p.fsm.state).toBe("Connect")
    expect(p.step(ev.delayOpen(1))).toEqual(["send #1 OPEN", "start Hold#1 240", "start SendHold#1 480", "stop ConnectRetry", "state Connect→OpenSent"])
    expect(p.step(ev.open(1))).toEqual(["send #1 KEEPALIVE", "start Hold#1 60", "start Keepalive#1 20", "state OpenSent→OpenConfirm"])
    expect(sentOn(p.actions, 1).map((m) => m._tag)).toEqual(["Open", "Keepalive"])
  })

  it("the peer's OPEN while it runs: our OPEN and KEEPALIVE at once, straight to OpenConfirm", () => {
    const p = new Peer(delayed)
    p.run(ev.manualStart, ev.crAcked(1))
    p.step(ev.open(1))
    expect(p.fsm.state).toBe("OpenConfirm")
    expect(p.timers.isArmed("DelayOpen", 1)).toBe(false)
    expect(sentOn(p.actions, 1).map((m) => m._tag)).toEqual(["Open", "Keepalive"])
    // A late DelayOpenTimer event changes nothing.
    expect(p.step(ev.delayOpen(1))).toEqual([])
  })

  it("an unacceptable OPEN while it runs: only the NOTIFICATION, never our OPEN", () => {
    const p = new Peer(delayed)
    p.run(ev.manualStart, ev.crAcked(1))
    p.step(ev.open(1, remoteOpen({}, { version: 3 })))
    expect(sentOn(p.actions, 1).map((m) => m._tag)).toEqual(["Notification"])
    expect(sentNotifications(p.last)).toEqual(["2/1"])
    expect(p.fsm.idleHolding).toBe(true)
  })

  it("incoming connections wait too", () => {
    const p = new Peer(config({ delayOpenTime: 5, passive: true }))
    p.step(ev.manualStart)
    expect(p.step(ev.confirmed(2))).toEqual(["start DelayOpen#2 5", "stop ConnectRetry"])
  })
})

describe("hold time and keepalive through the FSM", () => {
  it("negotiated hold 0: no Hold, Keepalive or SendHold timer (RFC 4271 §4.2, RFC 9687 §3)", () => {
    const p = new Peer(config())
    p.run(ev.manualStart, ev.crAcked(1))
    expect(p.step(ev.open(1, remoteOpen({ holdTime: 0 })))).toEqual([
      "send #1 KEEPALIVE",
      "stop Hold#1",
      "stop SendHold#1",
      "state OpenSent→OpenConfirm"
    ])
    p.step(ev.keepalive(1))
    expect(p.fsm.state).toBe("Established")
    expect(p.timers.summary()).toBe("Stable=60")
    // Nothing to restart: no keepalives, no send hold.
    expect(p.step(ev.sendProgress(1))).toEqual([])
    expect(p.step(ev.keepaliveTimer(1))).toEqual([])
    expect(p.run(ev.keepalive(1), ev.update(1))).toEqual(["deliver #1 UPDATE"])
  })

  it("hold 0 under DelayOpen: OPEN and KEEPALIVE, no SendHold", () => {
    const p = new Peer(config({ delayOpenTime: 5, holdTime: 0 }))
    p.run(ev.manualStart, ev.crAcked(1), ev.open(1))
    expect(p.timers.summary()).toBe("")
  })

  it("remote hold 1 or 2: NOTIFICATION 2/6 and IdleHold", () => {
    for (const h of [1, 2]) {
      const p = new Peer(config())
      p.run(ev.manualStart, ev.crAcked(1))
      p.step(ev.open(1, remoteOpen({ holdTime: h })))
      expect(sentNotifications(p.last)).toEqual(["2/6"])
      expect(p.last.find((a) => a._tag === "StateChanged")).toMatchObject({ to: "Idle", reason: { _tag: "OpenRejected" } })
      expect(p.fsm.idleHolding).toBe(true)
    }
  })

  it("the smaller hold time; keepalive a third of it, or the configured interval when smaller", () => {
    const p = new Peer(config({ holdTime: 90 }))
    p.run(ev.manualStart, ev.crAcked(1), ev.open(1, remoteOpen({ holdTime: 3 })))
    expect([p.remaining("Hold", 1), p.remaining("Keepalive", 1)]).toEqual([3, 1])
    const q = new Peer(config({ holdTime: 90, keepaliveTime: 10 }))
    q.run(ev.manualStart, ev.crAcked(1), ev.open(1, remoteOpen({ holdTime: 180 })))
    expect([q.remaining("Hold", 1), q.remaining("Keepalive", 1)]).toEqual([90, 10])
  })

  it("KEEPALIVE, UPDATE and ROUTE-REFRESH restart the hold timer; its expiry sends 4/0", () => {
    const p = established()
    p.now = 50
    p.step(ev.update(1))
    expect(p.remaining("Hold", 1)).toBe(60)
    p.now = 100
    p.step(ev.refresh(1))
    p.now = 159
    p.step(ev.keepalive(1))
    expect(p.timers.get("Hold", 1)!.deadline).toBe(219)
    expect(p.step(ev.hold(1))).toEqual([
      "send #1 NOTIFICATION 4/0",
      "close #1",
      "down #1 HoldTimerExpired",
      "stop Stable",
      "stop ConnectRetry",
      "start IdleHold 5",
      "state Established→Idle HoldTimerExpired"
    ])
  })

  it("keepalives every keepalive interval; sending anything restarts the interval", () => {
    const p = established()
    expect(p.step(ev.keepaliveTimer(1))).toEqual(["send #1 KEEPALIVE", "start Keepalive#1 20"])
    p.now = 15
    p.step(ev.sendProgress(1)) // e.g. an UPDATE went out
    expect(p.timers.get("Keepalive", 1)!.deadline).toBe(35)
  })
})

describe("SendHoldTimer (RFC 9687)", () => {
  it("defaults to max(480, 2 × hold); configurable", () => {
    const p = new Peer(config({ holdTime: 300 }))
    p.run(ev.manualStart, ev.crAcked(1))
    expect(p.remaining("SendHold", 1)).toBe(600)
    const q = new Peer(config({ sendHoldTime: 100 }))
    q.run(ev.manualStart, ev.crAcked(1))
    expect(q.remaining("SendHold", 1)).toBe(100)
  })

  it("restarted by send progress, not by what we receive", () => {
    const p = established()
    p.now = 400
    p.run(ev.keepalive(1), ev.update(1))
    expect(p.timers.get("SendHold", 1)!.deadline).toBe(480)
    p.step(ev.sendProgress(1))
    expect(p.timers.get("SendHold", 1)!.deadline).toBe(880)
  })

  it("expiry: NOTIFICATION with code 8, SessionDown, IdleHold", () => {
    const p = established()
    p.step(ev.sendHold(1))
    expect(sentNotifications(p.last)).toEqual(["8/0"])
    expect(downs(p.last)).toEqual([{ _tag: "SendHoldTimerExpired" }])
    expect(p.fsm.idleHolding).toBe(true)
  })
})

describe("NOTIFICATION received", () => {
  it("carries the RFC 9003 message into SessionDown", () => {
    const p = established()
    p.step(ev.notif(1))
    expect(downs(p.last)).toMatchObject([{ _tag: "NotificationReceived", message: "bye" }])
    expect(p.fsm.idleHolding).toBe(true)
    expect(sentNotifications(p.last)).toEqual([])
  })

  it("any error NOTIFICATION before Established also damps", () => {
    const p = new Peer(config())
    p.run(ev.manualStart, ev.crAcked(1))
    p.step(ev.notif(1, notification(2, 6)))
    expect([p.fsm.state, p.fsm.idleHolding]).toEqual(["Idle", true])
  })

  for (const [name, sub] of [["Connection Rejected", CeaseSubcode.CONNECTION_REJECTED], ["Connection Collision Resolution", CeaseSubcode.CONNECTION_COLLISION_RESOLUTION]] as const) {
    it(`Cease/${name} before Established: no damping, keep listening, retry later`, () => {
      const p = new Peer(config())
      p.run(ev.manualStart, ev.crAcked(1))
      expect(p.step(ev.notif(1, notification(6, sub)))).toEqual([
        "close #1",
        "start ConnectRetry 30",
        "state OpenSent→Active NotificationReceived"
      ])
      expect([p.fsm.idleHolding, p.fsm.connectRetryCounter]).toEqual([false, 0])
      // The peer's own connection is welcome meanwhile.
      expect(p.run(ev.confirmed(2), ev.open(2), ev.keepalive(2))).toContain("established #2")
    })
  }

  it("Cease/Connection Collision Resolution in OpenConfirm: the same", () => {
    const p = new Peer(config())
    p.run(ev.manualStart, ev.crAcked(1), ev.open(1))
    p.step(ev.notif(1, notification(6, 7)))
    expect([p.fsm.state, p.fsm.idleHolding]).toEqual(["Active", false])
  })

  it("Cease/Connection Collision Resolution on an Established session is a session failure", () => {
    const p = established()
    p.step(ev.notif(1, notification(6, 7)))
    expect([p.fsm.state, p.fsm.idleHolding]).toEqual(["Idle", true])
  })
})

describe("RFC 8538 §5.1: Cease as a Hard Reset when the N bit was exchanged", () => {
  const grN = (notification: boolean) => ({ gracefulRestart: { restartTime: 120, notification } })
  const both = () => established(config(grN(true)), remoteOpen(grN(true)))

  it("ManualStop: Cease/Hard Reset carrying Cease/Administrative Shutdown and its RFC 9003 message", () => {
    const p = both()
    p.step({ _tag: "ManualStop", message: "bye" })
    const [n] = notifs(p.last)
    expect([n!.code, n!.subcode]).toEqual([6, CeaseSubcode.HARD_RESET])
    const inner = hardResetInner(n!)!
    expect([inner.code, inner.subcode]).toEqual([6, CeaseSubcode.ADMINISTRATIVE_SHUTDOWN])
    expect([...n!.data]).toEqual([6, 2, 3, ..."bye"].map((x) => (typeof x === "string" ? x.charCodeAt(0) : x)))
    expect(shutdownMessage(n!)).toBe("bye")
    expect(downs(p.last)).toEqual([{ _tag: "AdminStop", message: "bye" }])
  })

  it("AutomaticStop: max prefixes and de-configured go as Hard Reset; Administrative Reset and Out of Resources stay graceful", () => {
    const cases: Array<[number, number[]]> = [
      [CeaseSubcode.MAXIMUM_PREFIXES_REACHED, [6, 9, 6, 1]],
      [CeaseSubcode.PEER_DECONFIGURED, [6, 9, 6, 3]],
      [CeaseSubcode.ADMINISTRATIVE_RESET, [6, 4]],
      [CeaseSubcode.OUT_OF_RESOURCES, [6, 8]]
    ]
    for (const [subcode, wire] of cases) {
      const p = both()
      p.step({ _tag: "AutomaticStop", subcode })
      const [n] = notifs(p.last)
      expect([n!.code, n!.subcode, ...n!.data]).toEqual(wire)
    }
  })

  it("not exchanged (only one side set the N bit): the plain Cease", () => {
    for (const [ours, theirs] of [[true, false], [false, true]] as const) {
      const p = established(config(grN(ours)), remoteOpen(grN(theirs)))
      p.step({ _tag: "AutomaticStop", subcode: CeaseSubcode.MAXIMUM_PREFIXES_REACHED })
      const [n] = notifs(p.last)
      expect([n!.code, n!.subcode, n!.data.length]).toEqual([6, 1, 0])
    }
  })

  it("a received NOTIFICATION of Hard Resets nested 32 000 deep is read one level only (no recursion to overflow)", () => {
    const p = both()
    const data = new Uint8Array(64_000)
    for (let i = 0; i < data.length; i += 2) [data[i], data[i + 1]] = [6, CeaseSubcode.HARD_RESET]
    p.step(ev.notif(1, notification(6, CeaseSubcode.HARD_RESET, data)))
    const [d] = downs(p.last)
    expect(d?._tag === "NotificationReceived" ? d.message : "?").toBeUndefined()
    expect(p.fsm.state).toBe("Idle")
  })

  it("a received Hard Reset yields the message of the Cease inside it", () => {
    const p = both()
    const inner = [6, 2, 5, ..."later"].map((x) => (typeof x === "string" ? x.charCodeAt(0) : x))
    p.step(ev.notif(1, notification(6, CeaseSubcode.HARD_RESET, Uint8Array.from(inner))))
    const [d] = downs(p.last)
    expect(d?._tag).toBe("NotificationReceived")
    expect(d?._tag === "NotificationReceived" ? d.message : undefined).toBe("later")
  })
})

describe("decode errors: the NOTIFICATION comes from the error", () => {
  it("header, OPEN and UPDATE errors with their data", () => {
    const errors = [
      bgpError("ConnectionNotSynchronized", "marker"),
      bgpError("BadMessageType", "type 9", { data: Uint8Array.of(9) }),
      bgpError("UnsupportedOptionalParameter", "p", { data: Uint8Array.of(1, 0) }),
      bgpError("MalformedAsPath", "as path")
    ]
    for (const error of errors) {
      const p = established()
      p.step({ _tag: "MessageError", conn: 1, error })
      const [n] = notifs(p.last)
      expect(n).toEqual(toNotification(error))
      expect(downs(p.last)).toEqual([{ _tag: "NotificationSent", notification: n, error }])
      expect(p.fsm.idleHolding).toBe(true)
    }
  })
})

describe("ROUTE-REFRESH is delivered only when negotiated (RFC 2918 §4)", () => {
  it("negotiated: delivered", () => {
    const p = established()
    expect(p.step(ev.refresh(1))).toEqual(["start Hold#1 60", "deliver #1 ROUTE-REFRESH"])
  })

  it("we did not advertise it, or the peer did not: ignored (the hold timer still restarts)", () => {
    expect(established(config({ routeRefresh: false })).step(ev.refresh(1))).toEqual(["start Hold#1 60"])
    expect(established(config(), remoteOpen({ routeRefresh: false })).step(ev.refresh(1))).toEqual(["start Hold#1 60"])
  })

  it("UPDATEs are delivered as received", () => {
    const p = established()
    p.step(ev.update(1))
    expect(p.last.find((a) => a._tag === "Deliver")).toEqual({ _tag: "Deliver", conn: 1, message: endOfRib })
  })
})

describe("IdleHold damping (DampPeerOscillations, RFC 4271 §8.1.1)", () => {
  /** (Re)starts, fails the session in OpenSent through its hold timer, and returns the IdleHold started. */
  const failOnce = (p: Peer): number => {
    p.step(p.fsm.idleHolding ? ev.idleHold : ev.manualStart)
    const id = p.fsm.connections[0]!.id
    p.run(ev.crAcked(id), ev.hold(id))
    return p.remaining("IdleHold")!
  }

  it("doubles per consecutive failure up to the cap", () => {
    const p = new Peer(config({ idleHoldTime: { initial: 5, max: 40 } }))
    const waits = [1, 2, 3, 4, 5, 6].map(() => failOnce(p))
    expect(waits).toEqual([5, 10, 20, 40, 40, 40])
    expect(p.fsm.connectRetryCounter).toBe(6)
  })

  it("a session Established for StableTime resets it; a shorter one does not", () => {
    const p = new Peer(config())
    failOnce(p)
    failOnce(p)
    // Up again, but down before StableTime: still doubling.
    p.run(ev.idleHold, ev.crAcked(5), ev.open(5), ev.keepalive(5))
    expect(p.remaining("Stable")).toBe(60)
    p.step(ev.hold(5))
    expect(p.remaining("IdleHold")).toBe(20)
    // Up again and stable.
    p.run(ev.idleHold, ev.crAcked(7), ev.open(7), ev.keepalive(7), ev.stable)
    expect(p.fsm.idleHoldTime).toBe(5)
    p.step(ev.hold(7))
    expect(p.remaining("IdleHold")).toBe(5)
  })

  it("idle-holding refuses incoming connections with Cease 5; a passive peer then listens again", () => {
    const p = new Peer(config({ passive: true }))
    p.run(ev.manualStart, ev.confirmed(2), ev.hold(2))
    expect(p.step(ev.confirmed(4))).toEqual(["send #4 NOTIFICATION 6/5", "close #4"])
    expect(p.step(ev.idleHold)).toEqual(["state Idle→Active"])
    expect(p.step(ev.confirmed(6))).toContain("send #6 OPEN")
  })
})

describe("an incoming connection while Established", () => {
  const gr = { gracefulRestart: { restartTime: 120 } } as const

  it("is refused with Cease 7 without graceful restart", () => {
    const p = established()
    expect(p.step(ev.confirmed(4))).toEqual(["send #4 NOTIFICATION 6/7", "close #4"])
    expect(p.conns).toBe("1:Established")
  })

  it("is refused when only one side advertises graceful restart", () => {
    expect(established(config(gr)).step(ev.confirmed(4))).toEqual(["send #4 NOTIFICATION 6/7", "close #4"])
    expect(established(config(), remoteOpen(gr)).step(ev.confirmed(4))).toEqual(["send #4 NOTIFICATION 6/7", "close #4"])
  })

  it("with graceful restart: accepted; the new OPEN drops the old session as PeerRestarted (RFC 4724 §4.2)", () => {
    const p = established(config(gr), remoteOpen(gr))
    expect(p.step(ev.confirmed(4))).toEqual(["send #4 OPEN", "start Hold#4 240", "start SendHold#4 480", "stop ConnectRetry"])
    expect(p.conns).toBe("1:Established 4:OpenSent")
    expect(p.step(ev.open(4, remoteOpen({ ...gr, gracefulRestart: { restartTime: 120, restarting: true } })))).toEqual([
      "close #1",
      "down #1 PeerRestarted",
      "stop Stable",
      "send #4 KEEPALIVE",
      "start Hold#4 60",
      "start Keepalive#4 20",
      "state Established→OpenConfirm PeerRestarted"
    ])
    // No NOTIFICATION on the old connection: the peer already dropped it.
    expect(sentOn(p.last, 1)).toEqual([])
    expect(p.step(ev.keepalive(4))).toEqual(["start Hold#4 60", "start Stable 60", "established #4", "state OpenConfirm→Established"])
    expect(p.fsm.idleHolding).toBe(false)
  })

  it("with graceful restart, also when the old session was itself incoming", () => {
    const p = new Peer(config({ ...gr, passive: true }))
    p.run(ev.manualStart, ev.confirmed(2), ev.open(2, remoteOpen(gr)), ev.keepalive(2))
    expect(p.step(ev.confirmed(4))).toContain("send #4 OPEN")
    expect(p.run(ev.open(4, remoteOpen(gr)), ev.keepalive(4))).toContain("established #4")
    expect(p.conns).toBe("4:Established")
    expect(p.track.established).toBe(2)
    expect(p.track.down).toBe(1)
  })

  it("with graceful restart, a connection accepted before the session came up is a collision partner, not a restart", () => {
    const p = new Peer(config(gr))
    p.run(ev.manualStart, ev.crAcked(1), ev.open(1, remoteOpen(gr)), ev.confirmed(2))
    expect(p.conns).toBe("1:OpenConfirm 2:OpenSent")
    p.step(ev.keepalive(1))
    // Its OPEN (sent before the peer settled the collision) loses to the Established session (§6.8).
    expect(p.step(ev.open(2, remoteOpen(gr)))).toEqual(["send #2 NOTIFICATION 6/7", "close #2"])
    expect(p.conns).toBe("1:Established")
    expect(p.track.down).toBe(0)
  })

  it("but a second pending incoming connection is still refused", () => {
    const p = established(config(gr), remoteOpen(gr))
    p.step(ev.confirmed(4))
    expect(p.step(ev.confirmed(6))).toEqual(["send #6 NOTIFICATION 6/7", "close #6"])
  })

  describe("with CollisionDetectEstablishedState: identifiers decide (§6.8)", () => {
    it("our identifier is higher: the new incoming connection loses", () => {
      const p = established(config({ collisionDetectEstablished: true, localId: ID_REMOTE + 1 }))
      p.step(ev.confirmed(4))
      expect(p.step(ev.open(4))).toEqual(["send #4 NOTIFICATION 6/7", "close #4"])
      expect(p.conns).toBe("1:Established")
    })

    it("our identifier is lower: the Established session loses to the peer's connection", () => {
      const p = established(config({ collisionDetectEstablished: true }))
      p.step(ev.confirmed(4))
      expect(p.step(ev.open(4))).toEqual([
        "send #1 NOTIFICATION 6/7",
        "close #1",
        "down #1 CollisionResolved",
        "stop Stable",
        "send #4 KEEPALIVE",
        "start Hold#4 60",
        "start Keepalive#4 20",
        "state Established→OpenConfirm CollisionResolved"
      ])
      expect(p.run(ev.keepalive(4))).toContain("established #4")
    })

    it("equal identifiers: the larger AS decides (RFC 6286 §2.3)", () => {
      const low = established(config({ collisionDetectEstablished: true, localId: ID_REMOTE }))
      low.step(ev.confirmed(4))
      low.step(ev.open(4))
      expect(low.conns).toBe("4:OpenConfirm") // 65001 < 65002: the peer's connection wins
      const high = established(config({ collisionDetectEstablished: true, localId: ID_REMOTE, localAs: 65003 }))
      high.step(ev.confirmed(4))
      high.step(ev.open(4))
      expect(high.conns).toBe("1:Established")
    })
  })
})

describe("collisions in OpenSent/OpenConfirm (RFC 4271 §6.8)", () => {
  /** Our outgoing #1 and the peer's incoming #2, both OpenSent. */
  const both = (cfg: PeerConfig) => {
    const p = new Peer(cfg)
    p.run(ev.manualStart, ev.crAcked(1), ev.confirmed(2))
    expect(p.conns).toBe("1:OpenSent 2:OpenSent")
    return p
  }
  const higher = config({ localId: 0x0a000003 }) // our identifier above the peer's 10.0.0.2
  const lower = config() // 10.0.0.1 below 10.0.0.2

  const cases = [
    { name: "our identifier higher, OPEN first on ours", cfg: higher, first: 1, keep: 1 },
    { name: "our identifier higher, OPEN first on the peer's", cfg: higher, first: 2, keep: 1 },
    { name: "our identifier lower, OPEN first on ours", cfg: lower, first: 1, keep: 2 },
    { name: "our identifier lower, OPEN first on the peer's", cfg: lower, first: 2, keep: 2 },
    { name: "equal identifiers, our AS lower", cfg: config({ localId: ID_REMOTE }), first: 1, keep: 2 },
    { name: "equal identifiers, our AS higher", cfg: config({ localId: ID_REMOTE, localAs: 65003 }), first: 2, keep: 1 },
    // Identifiers compare as unsigned 32-bit numbers.
    { name: "identifiers with the top bit set", cfg: config({ localId: 0x80000001 }), first: 2, keep: 1 }
  ]

  for (const c of cases) {
    it(`${c.name}: the connection opened by the winner survives`, () => {
      const p = both(c.cfg)
      const lose = c.keep === 1 ? 2 : 1
      p.step(ev.open(c.first))
      const second = c.first === 1 ? 2 : 1
      // The loser gets Cease 7 and nothing else from us — in particular no KEEPALIVE.
      expect(sentOn(p.last, lose).map((m) => (m._tag === "Notification" ? `${m.code}/${m.subcode}` : m._tag))).toEqual(["6/7"])
      if (c.first === c.keep) expect(sentOn(p.last, c.keep).map((m) => m._tag)).toEqual(["Keepalive"])
      expect(p.conns).toBe(c.first === c.keep ? `${c.keep}:OpenConfirm` : `${c.keep}:OpenSent`)
      // The OPEN on the dropped connection (already in flight) changes nothing.
      if (second === lose) expect(p.step(ev.open(lose))).toEqual([])
      else p.step(ev.open(second))
      p.step(ev.keepalive(c.keep))
      expect(p.conns).toBe(`${c.keep}:Established`)
      expect(p.fsm.idleHolding).toBe(false)
      expect(p.track.established).toBe(1)
    })
  }

  it("against a connection already in OpenConfirm", () => {
    const p = new Peer(lower)
    p.run(ev.manualStart, ev.crAcked(1), ev.open(1))
    p.step(ev.confirmed(2))
    expect(p.conns).toBe("1:OpenConfirm 2:OpenSent")
    expect(p.step(ev.open(2))).toEqual([
      "send #1 NOTIFICATION 6/7",
      "close #1",
      "send #2 KEEPALIVE",
      "start Hold#2 60",
      "start Keepalive#2 20"
    ])
    expect(p.conns).toBe("2:OpenConfirm")
  })

  it("our own connect still in progress is closed quietly once another connection reaches OpenConfirm", () => {
    const p = new Peer(higher)
    p.run(ev.manualStart, ev.confirmed(2))
    expect(p.conns).toBe("1:Connecting 2:OpenSent")
    expect(p.step(ev.open(2))).toEqual(["close #1", "send #2 KEEPALIVE", "start Hold#2 60", "start Keepalive#2 20", "state OpenSent→OpenConfirm CollisionResolved"])
  })

  it("a connection still in DelayOpen is judged by identifier like the others", () => {
    const d = { delayOpenTime: 5 }
    const win = new Peer(config({ ...d, localId: 0x0a000003 }))
    win.run(ev.manualStart, ev.crAcked(1), ev.confirmed(2))
    expect(win.conns).toBe("1:Connected 2:Connected")
    // The peer's OPEN on its own connection: ours (#1) wins, so #2 gets only Cease 7 and no OPEN of ours.
    expect(win.step(ev.open(2))).toEqual(["stop DelayOpen#2", "send #2 NOTIFICATION 6/7", "close #2"])
    expect(win.conns).toBe("1:Connected")
    expect(win.run(ev.open(1), ev.keepalive(1))).toContain("established #1")

    const lose = new Peer(config(d))
    lose.run(ev.manualStart, ev.crAcked(1), ev.confirmed(2))
    expect(lose.step(ev.open(2))).toEqual([
      "stop DelayOpen#2",
      "send #1 NOTIFICATION 6/7",
      "close #1",
      "stop ConnectRetry",
      "send #2 OPEN",
      "start SendHold#2 480",
      "send #2 KEEPALIVE",
      "start Hold#2 60",
      "start Keepalive#2 20",
      "state Connect→OpenConfirm CollisionResolved"
    ])
  })

  it("the peer's collision verdict (Cease 7 on our connection) is not a failure", () => {
    const p = both(lower)
    // The peer dropped #1 before we saw its OPEN on it.
    p.step(ev.notif(1, notification(6, 7)))
    expect([p.fsm.state, p.conns, p.fsm.idleHolding]).toEqual(["OpenSent", "2:OpenSent", false])
    expect(p.run(ev.open(2), ev.keepalive(2))).toContain("established #2")
  })
})
