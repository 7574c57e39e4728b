/**
 * Model tests: two FSMs joined by the simulated network of `support/sim.ts` (TCP per-connection order,
 * any interleaving across connections, codec round trips, timers from the actions), driven by fast-check.
 *
 * Invariants checked after every step of every speaker (`support/invariants.ts`): the peer state is the
 * one the connections imply; at most one connection in OpenConfirm/Established; no connections while
 * stopped or idle-holding; Hold, Keepalive, SendHold and DelayOpen armed exactly when the connection state
 * and negotiated hold time call for them, never for a closed connection; IdleHold armed iff idle-holding;
 * an enabled active peer without connections always has ConnectRetry armed; nothing is sent or armed on a
 * connection after its Close; SessionEstablished and SessionDown alternate and match the Established
 * connection; a StateChanged accompanies every state change and only then.
 *
 * Properties: without faults both speakers reach Established on the same connection and stay there;
 * with arbitrary faults (TCP failures, timers firing early, stops and starts, garbage and unexpected
 * messages) the invariants still hold, and once the faults stop both sides converge again; a single FSM
 * fed arbitrary events never throws.
 */
import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import type { Message } from "@starling/codec"
import { bgpError, shutdownNotification } from "@starling/codec"
import type { Event, PeerConfig } from "../src/index.ts"
import { initial, step } from "../src/index.ts"
import { endOfRib, notification, refresh, remoteOpen } from "./support/fsm.ts"
import { checkStep, newTrack } from "./support/invariants.ts"
import type { Side } from "./support/sim.ts"
import { prng, rfcJitter, runCalm, Sim } from "./support/sim.ts"
import { firedBy, TimerModel } from "./support/timers.ts"

/** Runs per property; FSM_MODEL_RUNS raises it for a soak run. */
const runs = (n: number): number => Number(process.env["FSM_MODEL_RUNS"] ?? n)

interface SpeakerShape {
  readonly as: number
  readonly id: number
  readonly holdTime: number
  readonly delayOpenTime: number
  readonly connectRetryTime: number
  readonly idleHold: { readonly initial: number; readonly max: number }
  readonly gr: boolean
  readonly cde: boolean
  readonly passive: boolean
}

const speakerArb: fc.Arbitrary<SpeakerShape> = fc.record({
  as: fc.constantFrom(65001, 65002, 4_200_000_000),
  id: fc.constantFrom(1, 2, 0x0a000001, 0x80000000, 0xffffffff),
  holdTime: fc.constantFrom(0, 3, 9, 90),
  delayOpenTime: fc.constantFrom(0, 0, 2, 5),
  connectRetryTime: fc.constantFrom(5, 30, 120),
  idleHold: fc.constantFrom({ initial: 1, max: 8 }, { initial: 5, max: 120 }),
  gr: fc.boolean(),
  cde: fc.boolean(),
  passive: fc.boolean()
})

/** Two speakers that can peer: not both passive, and distinct identifiers when internal (RFC 6286 §2.2). */
const pairArb = fc.tuple(speakerArb, speakerArb).map(([a, b]): [SpeakerShape, SpeakerShape] => {
  const b2 = { ...b, passive: a.passive ? false : b.passive }
  return [a, a.as === b2.as && a.id === b2.id ? { ...b2, id: a.id === 1 ? 2 : 1 } : b2]
})

const toConfig = (me: SpeakerShape, peer: SpeakerShape): PeerConfig => ({
  localAs: me.as,
  peerAs: peer.as,
  localId: me.id,
  holdTime: me.holdTime,
  delayOpenTime: me.delayOpenTime,
  connectRetryTime: me.connectRetryTime,
  idleHoldTime: me.idleHold,
  stableTime: 60,
  collisionDetectEstablished: me.cde,
  passive: me.passive,
  ...(me.gr ? { gracefulRestart: { restartTime: 120 } } : {})
})

const makeSim = ([a, b]: [SpeakerShape, SpeakerShape], seed: number, jitter: boolean) => {
  const sim = new Sim(toConfig(a, b), toConfig(b, a))
  const random = prng(seed)
  if (jitter) sim.jitter = rfcJitter(random)
  return { sim, random }
}

/** From the first deliveries to both sides Established, and then a quiet stretch that must keep them there. */
const convergeAndHold = (sim: Sim, random: () => number, within: number) => {
  const start = sim.now
  // Established with nothing left in flight (a fault's last message may still be on its way).
  const up = runCalm(sim, random, () => sim.bothEstablished() && sim.pending().length === 0, start + within)
  if (!up) {
    const [a, b] = sim.speakers
    throw new Error(`not Established by t=${sim.now}: ${a.fsm.state}/${b.fsm.state}`)
  }
  const reached = sim.now
  // Longer than the default SendHoldTime (480 s) and many hold times: keepalives must keep it up.
  const dropped = runCalm(sim, random, () => !sim.bothEstablished(), reached + 500)
  if (dropped) throw new Error(`session dropped at t=${sim.now} after reaching Established at t=${reached}`)
  return reached - start
}

describe("two speakers without faults", () => {
  it("always reach Established on the same connection, and stay there", () => {
    fc.assert(
      fc.property(pairArb, fc.integer(), fc.boolean(), (pair, seed, jitter) => {
        const { sim, random } = makeSim(pair, seed, jitter)
        const first = (seed & 1) as Side
        sim.event(first, { _tag: "ManualStart" })
        sim.event((1 - first) as Side, { _tag: "ManualStart" })
        const took = convergeAndHold(sim, random, 600)
        // Routes and refresh requests cross the codec both ways and are delivered (both negotiated RFC 2918).
        const link = sim.establishedLink()!
        for (const to of [0, 1] as const) for (const m of [endOfRib, refresh]) sim.inject(link, to, m)
        runCalm(sim, random, () => sim.pending().length === 0, sim.now)
        expect(sim.delivered).toEqual(expect.arrayContaining([[0, "Update"], [0, "RouteRefresh"], [1, "Update"], [1, "RouteRefresh"]]))
        expect(sim.delivered).toHaveLength(4)
        expect(sim.bothEstablished()).toBe(true)
        // The only NOTIFICATIONs are collision resolutions (§6.8).
        for (const [, code, sub] of sim.notifications) expect(`${code}/${sub}`).toBe("6/7")
        for (const s of sim.speakers) expect(s.track.established - s.track.down).toBe(1)
        // With graceful restart on both sides, the collision's losing connection may reach a speaker only
        // after its session is up; its OPEN then counts as a peer restart (RFC 4724 §4.2) and costs one
        // flap. Otherwise: one session each, never torn down, and only DelayOpen makes it wait.
        if (pair[0].gr && pair[1].gr) return
        expect(took).toBeLessThanOrEqual(Math.max(pair[0].delayOpenTime, pair[1].delayOpenTime))
        for (const s of sim.speakers) {
          expect([s.track.established, s.track.down]).toEqual([1, 0])
          expect(s.log.some((l) => l.event._tag === "IdleHoldTimerExpires" || l.event._tag === "ConnectRetryTimerExpires")).toBe(false)
        }
      }),
      { numRuns: runs(300) }
    )
  })

  it("with the same timers on both sides and exact expiry, a double failure still recovers (no refusal lockstep)", () => {
    // Both fail at once and idle-hold for exactly the same time: whoever wakes first is refused with
    // Cease 5 by the other, which must not count as a failure, or they refuse each other forever.
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        const shape: SpeakerShape = {
          as: 65001,
          id: 1,
          holdTime: 90,
          delayOpenTime: 0,
          connectRetryTime: 30,
          idleHold: { initial: 5, max: 120 },
          gr: false,
          cde: false,
          passive: false
        }
        const { sim, random } = makeSim([shape, { ...shape, as: 65002, id: 2 }], seed, false)
        sim.event(0, { _tag: "ManualStart" })
        sim.event(1, { _tag: "ManualStart" })
        convergeAndHold(sim, random, 600)
        const link = sim.openLinks().find((l) => l.ends[0].open && l.ends[1].open)!
        sim.breakLink(link)
        runCalm(sim, random, () => sim.pending().length === 0, sim.now)
        expect(sim.speakers.map((s) => s.fsm.state)).toEqual(["Idle", "Idle"])
        const took = convergeAndHold(sim, random, 3600)
        expect(took).toBeLessThanOrEqual(5 + 30)
      }),
      { numRuns: runs(100) }
    )
  })
})

type Op =
  | { readonly op: "deliver"; readonly pick: number }
  | { readonly op: "advance" }
  | { readonly op: "fireEarly"; readonly pick: number }
  | { readonly op: "break"; readonly pick: number }
  | { readonly op: "admin"; readonly side: Side; readonly event: Event }
  | { readonly op: "inject"; readonly pick: number; readonly to: Side; readonly message: Message | Uint8Array }

const adminEvents: ReadonlyArray<Event> = [
  { _tag: "ManualStart" },
  { _tag: "AutomaticStart" },
  { _tag: "ManualStop", message: "going down" },
  { _tag: "ManualStop" },
  { _tag: "AutomaticStop", subcode: 1 },
  { _tag: "AutomaticStop", subcode: 4, message: "reset" }
]

const injected: ReadonlyArray<Message | Uint8Array> = [
  { _tag: "Keepalive" },
  endOfRib,
  refresh,
  remoteOpen(),
  notification(6, 7),
  notification(6, 5),
  shutdownNotification(2, "bye"),
  notification(3, 1),
  // A header with a broken marker, and one with a bad type.
  Uint8Array.of(...new Array<number>(15).fill(0xff), 0, 0, 19, 4),
  Uint8Array.of(...new Array<number>(16).fill(0xff), 0, 19, 9)
]

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 12, arbitrary: fc.nat().map((pick): Op => ({ op: "deliver", pick })) },
  { weight: 2, arbitrary: fc.constant<Op>({ op: "advance" }) },
  { weight: 1, arbitrary: fc.nat().map((pick): Op => ({ op: "fireEarly", pick })) },
  { weight: 1, arbitrary: fc.nat().map((pick): Op => ({ op: "break", pick })) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom<Side>(0, 1), fc.constantFrom(...adminEvents)).map(([side, event]): Op => ({ op: "admin", side, event })) },
  {
    weight: 1,
    arbitrary: fc.tuple(fc.nat(), fc.constantFrom<Side>(0, 1), fc.constantFrom(...injected)).map(([pick, to, message]): Op => ({ op: "inject", pick, to, message }))
  }
)

const apply = (sim: Sim, o: Op): void => {
  switch (o.op) {
    case "deliver": {
      const p = sim.pending()
      if (p.length > 0) sim.deliver(p[o.pick % p.length]!)
      return
    }
    case "advance": {
      const t = sim.nextTimer()
      if (t !== undefined) sim.fire(t.side, t.timer)
      return
    }
    case "fireEarly": {
      // Any armed timer fires now: a network slow enough that it ran out first.
      const all = ([0, 1] as const).flatMap((side) => [...sim.speakers[side].timers.armed.values()].map((timer) => ({ side, timer })))
      if (all.length === 0) return
      const { side, timer } = all[o.pick % all.length]!
      sim.event(side, sim.speakers[side].timers.fire(timer))
      return
    }
    case "break": {
      const links = sim.openLinks()
      if (links.length > 0) sim.breakLink(links[o.pick % links.length]!)
      return
    }
    case "admin":
      sim.event(o.side, o.event)
      return
    case "inject": {
      const links = sim.openLinks().filter((l) => l.ends[o.to].open && l.ends[o.to].known)
      if (links.length > 0) sim.inject(links[o.pick % links.length]!, o.to, o.message)
      return
    }
  }
}

describe("two speakers with faults", () => {
  it("keep every invariant, and converge once the faults stop", () => {
    fc.assert(
      fc.property(pairArb, fc.integer(), fc.boolean(), fc.array(opArb, { maxLength: 150 }), (pair, seed, jitter, ops) => {
        const { sim, random } = makeSim(pair, seed, jitter)
        sim.event(0, { _tag: "ManualStart" })
        sim.event(1, { _tag: "ManualStart" })
        for (const o of ops) apply(sim, o)
        // Faults over: whoever was stopped is started again, and the network behaves.
        for (const side of [0, 1] as const) if (!sim.speakers[side].fsm.enabled) sim.event(side, { _tag: "ManualStart" })
        // Allow for IdleHold at its cap, a hold timer running out on a half-dead connection, and retries.
        convergeAndHold(sim, random, 3600)
      }),
      { numRuns: runs(300) }
    )
  })
})

describe("one FSM fed arbitrary events", () => {
  const eventArb = (conn: fc.Arbitrary<number>): fc.Arbitrary<Event | "confirm"> =>
    fc.oneof(
      fc.constantFrom<Event | "confirm">(...adminEvents, { _tag: "ConnectRetryTimerExpires" }, { _tag: "IdleHoldTimerExpires" }, { _tag: "StableTimerExpires" }, "confirm"),
      fc.tuple(
        fc.constantFrom(
          "HoldTimerExpires",
          "KeepaliveTimerExpires",
          "DelayOpenTimerExpires",
          "SendHoldTimerExpires",
          "TcpCrAcked",
          "TcpConnectionFails",
          "KeepAliveMsg",
          "SendProgress"
        ) as fc.Arbitrary<"HoldTimerExpires">,
        conn
      ).map(([tag, c]) => ({ _tag: tag, conn: c }) as Event),
      fc.tuple(conn, fc.constantFrom(remoteOpen(), remoteOpen({ holdTime: 0 }), remoteOpen({ holdTime: 1 }), remoteOpen({ gracefulRestart: { restartTime: 9 } }))).map(
        ([c, open]): Event => ({ _tag: "BgpOpen", conn: c, open })
      ),
      conn.map((c): Event => ({ _tag: "UpdateMsg", conn: c, update: endOfRib })),
      conn.map((c): Event => ({ _tag: "RouteRefreshMsg", conn: c, message: { _tag: "RouteRefresh", afi: 1, safi: 1, subtype: 0 } })),
      fc.tuple(conn, fc.constantFrom(notification(6, 5), notification(6, 7), notification(4, 0))).map(([c, n]): Event => ({ _tag: "NotifMsg", conn: c, notification: n })),
      conn.map((c): Event => ({ _tag: "MessageError", conn: c, error: bgpError("BadMessageType", "x", { data: Uint8Array.of(7) }) }))
    )

  it("never throws and keeps the invariants (driver-valid ids: incoming ones fresh and even)", () => {
    const configs = fc.constantFrom<Partial<PeerConfig>>(
      {},
      { passive: true },
      { delayOpenTime: 5 },
      { passive: true, delayOpenTime: 5 },
      { gracefulRestart: { restartTime: 120 } },
      { collisionDetectEstablished: true },
      { holdTime: 0 }
    )
    fc.assert(
      fc.property(configs, fc.array(eventArb(fc.integer({ min: 1, max: 8 })), { maxLength: 80 }), (over, events) => {
        let fsm = initial({ localAs: 65001, peerAs: 65002, localId: 1, connectRetryTime: 30, ...over })
        const timers = new TimerModel()
        const track = newTrack()
        let nextIncoming = 2
        for (const raw of events) {
          const e: Event = raw === "confirm" ? { _tag: "TcpConnectionConfirmed", conn: (nextIncoming += 2) } : raw
          const fired = firedBy(e)
          if (fired !== undefined) timers.armed.delete(fired)
          const r = step(fsm, e)
          timers.apply(r.actions, 0)
          checkStep(e._tag, fsm, r.fsm, r.actions, timers, track)
          fsm = r.fsm
        }
      }),
      { numRuns: runs(500) }
    )
  })
})
