/**
 * The FSM as a table: every starting state × every event variant, with the peer state, the connections
 * and the exact actions expected (RFC 4271 §8.2.2, RFC 6608 subcodes, RFC 9687, RFC 9003, and the
 * module's documented choices). Each step also runs the invariant checks against a timer model.
 *
 * Cells marked "unreachable" are events a correct driver cannot produce in that state (a timer that is not
 * armed, a message on a connection whose TCP is not up); for those only robustness is asserted: the step
 * does not throw and the invariants hold.
 */
import { describe, expect, it } from "@effect/vitest"
import type { Event, PeerConfig, SessionState } from "../src/index.ts"
import type { Reached } from "./support/fsm.ts"
import { baseConfig, config, connSummary, ev, lengthError, reach, renderAll, stepFrom } from "./support/fsm.ts"

const delayed = config({ delayOpenTime: 5 })
const passive = config({ passive: true })
const passiveDelayed = config({ passive: true, delayOpenTime: 5 })

interface Setup {
  readonly name: string
  readonly cfg: PeerConfig
  readonly events: ReadonlyArray<Event>
  /** The connection the connection-level events name (a closed or never-seen one where there is none). */
  readonly conn: number
  readonly state: SessionState
  readonly conns: string
  readonly timers: string
}

const setups: ReadonlyArray<Setup> = [
  { name: "Idle", cfg: baseConfig, events: [], conn: 1, state: "Idle", conns: "", timers: "" },
  {
    name: "Idle, idle-holding",
    cfg: baseConfig,
    events: [ev.manualStart, ev.crAcked(1), ev.notif(1)],
    conn: 1,
    state: "Idle",
    conns: "",
    timers: "IdleHold=5"
  },
  { name: "Connect", cfg: baseConfig, events: [ev.manualStart], conn: 1, state: "Connect", conns: "1:Connecting", timers: "ConnectRetry=30" },
  { name: "Active (passive)", cfg: passive, events: [ev.manualStart], conn: 1, state: "Active", conns: "", timers: "" },
  {
    name: "Connect, DelayOpen running",
    cfg: delayed,
    events: [ev.manualStart, ev.crAcked(1)],
    conn: 1,
    state: "Connect",
    conns: "1:Connected",
    timers: "DelayOpen#1=5"
  },
  {
    name: "Active, DelayOpen running",
    cfg: passiveDelayed,
    events: [ev.manualStart, ev.confirmed(2)],
    conn: 2,
    state: "Active",
    conns: "2:Connected",
    timers: "DelayOpen#2=5"
  },
  {
    name: "OpenSent, outgoing",
    cfg: baseConfig,
    events: [ev.manualStart, ev.crAcked(1)],
    conn: 1,
    state: "OpenSent",
    conns: "1:OpenSent",
    timers: "Hold#1=240 SendHold#1=480"
  },
  {
    name: "OpenSent, incoming",
    cfg: passive,
    events: [ev.manualStart, ev.confirmed(2)],
    conn: 2,
    state: "OpenSent",
    conns: "2:OpenSent",
    timers: "Hold#2=240 SendHold#2=480"
  },
  {
    name: "OpenConfirm",
    cfg: baseConfig,
    events: [ev.manualStart, ev.crAcked(1), ev.open(1)],
    conn: 1,
    state: "OpenConfirm",
    conns: "1:OpenConfirm",
    timers: "Hold#1=60 Keepalive#1=20 SendHold#1=480"
  },
  {
    name: "Established",
    cfg: baseConfig,
    events: [ev.manualStart, ev.crAcked(1), ev.open(1), ev.keepalive(1)],
    conn: 1,
    state: "Established",
    conns: "1:Established",
    timers: "Hold#1=60 Keepalive#1=20 SendHold#1=480 Stable=60"
  }
]

type Tag = Event["_tag"]

/** Every event variant, built for a connection id. A Record over the tags: a new variant must be listed. */
const events: Record<Tag, (c: number) => Event> = {
  ManualStart: () => ev.manualStart,
  ManualStop: () => ({ _tag: "ManualStop", message: "maintenance" }),
  AutomaticStart: () => ev.automaticStart,
  AutomaticStop: () => ({ _tag: "AutomaticStop", subcode: 1 }),
  ConnectRetryTimerExpires: () => ev.connectRetry,
  HoldTimerExpires: ev.hold,
  KeepaliveTimerExpires: ev.keepaliveTimer,
  DelayOpenTimerExpires: ev.delayOpen,
  IdleHoldTimerExpires: () => ev.idleHold,
  StableTimerExpires: () => ev.stable,
  SendHoldTimerExpires: ev.sendHold,
  TcpCrAcked: ev.crAcked,
  // The driver numbers a new incoming connection with a fresh even id.
  TcpConnectionConfirmed: () => ev.confirmed(4),
  TcpConnectionFails: ev.fails,
  BgpOpen: (c) => ev.open(c),
  MessageError: (c) => ({ _tag: "MessageError", conn: c, error: lengthError }),
  NotifMsg: (c) => ev.notif(c),
  KeepAliveMsg: ev.keepalive,
  UpdateMsg: ev.update,
  RouteRefreshMsg: ev.refresh,
  SendProgress: ev.sendProgress
}

interface Cell {
  readonly state: SessionState
  readonly conns: string
  readonly actions: ReadonlyArray<string>
}
type Expect = Cell | "unreachable"

const SHUTDOWN = "NOTIFICATION 6/2 0b6d61696e74656e616e6365" // RFC 9003: length 11, "maintenance"

/** A connection dropped for an error: NOTIFICATION (if any), close, SessionDown if it was up, then Idle with IdleHold. */
const failed = (c: number, from: SessionState, reason: string, notification?: string, idleHold = 5): Cell => ({
  state: "Idle",
  conns: "",
  actions: [
    ...(notification === undefined ? [] : [`send #${c} ${notification}`]),
    `close #${c}`,
    ...(from === "Established" ? [`down #${c} ${reason}`, "stop Stable"] : []),
    "stop ConnectRetry",
    `start IdleHold ${idleHold}`,
    `state ${from}→Idle ${reason}`
  ]
})

/** ManualStop (RFC 9003 shutdown) or AutomaticStop (Cease 1, then IdleHold) from a state. */
const stopped = (c: number | undefined, from: SessionState, automatic: boolean, idleHold = 5): Cell => ({
  state: "Idle",
  conns: "",
  actions: [
    ...(c === undefined ? [] : [`close #${c}`]),
    ...(c !== undefined && from === "Established" ? [`down #${c} ${automatic ? "AutomaticStop" : "AdminStop"}`, "stop Stable"] : []),
    "stop ConnectRetry",
    "stop IdleHold",
    ...(automatic ? ["stop ConnectRetry", `start IdleHold ${idleHold}`] : []),
    ...(from === "Idle" ? [] : [`state ${from}→Idle ${automatic ? "AutomaticStop" : "AdminStop"}`])
  ]
})

/** Like `stopped`, with the NOTIFICATION first (the connection's TCP is up). */
const stoppedWith = (c: number, from: SessionState, automatic: boolean): Cell => {
  const s = stopped(c, from, automatic)
  return { ...s, actions: [`send #${c} ${automatic ? "NOTIFICATION 6/1" : SHUTDOWN}`, ...s.actions] }
}

const same = (s: Setup, actions: ReadonlyArray<string> = []): Cell => ({ state: s.state, conns: s.conns, actions })
const refused = (s: Setup, subcode: number): Cell => same(s, [`send #4 NOTIFICATION 6/${subcode}`, "close #4"])
const start = (from: SessionState, id = 1): Cell => ({
  state: "Connect",
  conns: `${id}:Connecting`,
  actions: [`connect #${id}`, "start ConnectRetry 30", `state ${from}→Connect`]
})
const openSentOn = (c: number) => [`send #${c} OPEN`, `start Hold#${c} 240`, `start SendHold#${c} 480`]

/** The table. Rows: setups; columns: events. */
const table: Record<string, Partial<Record<Tag, Expect>> & { readonly rest: Expect }> = {
  "Idle": {
    ManualStart: start("Idle"),
    AutomaticStart: start("Idle"),
    ManualStop: same(setups[0]!, ["stop ConnectRetry", "stop IdleHold"]),
    AutomaticStop: same(setups[0]!, ["stop ConnectRetry", "stop IdleHold", "stop ConnectRetry"]),
    TcpCrAcked: same(setups[0]!, ["close #1"]),
    // §8.2.2 Idle: incoming connections are refused (RFC 4486 Connection Rejected).
    TcpConnectionConfirmed: refused(setups[0]!, 5),
    rest: same(setups[0]!)
  },
  "Idle, idle-holding": {
    ManualStop: same(setups[1]!, ["stop ConnectRetry", "stop IdleHold"]),
    // The IdleHoldTime has doubled after the first failure.
    AutomaticStop: same(setups[1]!, ["stop ConnectRetry", "stop IdleHold", "stop ConnectRetry", "start IdleHold 10"]),
    IdleHoldTimerExpires: start("Idle", 3),
    TcpCrAcked: same(setups[1]!, ["close #1"]),
    TcpConnectionConfirmed: refused(setups[1]!, 5),
    rest: same(setups[1]!)
  },
  "Connect": {
    ManualStop: stopped(1, "Connect", false),
    AutomaticStop: stopped(1, "Connect", true),
    // §8.2.2 Connect, event 9: drop the attempt, restart ConnectRetryTimer, connect again.
    ConnectRetryTimerExpires: { state: "Connect", conns: "3:Connecting", actions: ["close #1", "connect #3", "start ConnectRetry 30"] },
    HoldTimerExpires: "unreachable",
    SendHoldTimerExpires: "unreachable",
    // Event 16: TCP up → OPEN, large hold timer (§8.2.2: 4 minutes), ConnectRetryTimer stopped.
    TcpCrAcked: { state: "OpenSent", conns: "1:OpenSent", actions: [...openSentOn(1), "stop ConnectRetry", "state Connect→OpenSent"] },
    TcpConnectionConfirmed: {
      state: "OpenSent",
      conns: "1:Connecting 4:OpenSent",
      actions: [...openSentOn(4), "stop ConnectRetry", "state Connect→OpenSent"]
    },
    // Event 18 before any BGP message: plain TCP trouble, no damping; retry on ConnectRetryTimer.
    TcpConnectionFails: { state: "Active", conns: "", actions: ["close #1", "start ConnectRetry 30", "state Connect→Active ConnectionLost"] },
    BgpOpen: "unreachable",
    MessageError: "unreachable",
    NotifMsg: "unreachable",
    KeepAliveMsg: "unreachable",
    UpdateMsg: "unreachable",
    RouteRefreshMsg: "unreachable",
    rest: same(setups[2]!)
  },
  "Active (passive)": {
    ManualStop: stopped(undefined, "Active", false),
    AutomaticStop: stopped(undefined, "Active", true),
    TcpCrAcked: same(setups[3]!, ["close #1"]),
    TcpConnectionConfirmed: { state: "OpenSent", conns: "4:OpenSent", actions: [...openSentOn(4), "stop ConnectRetry", "state Active→OpenSent"] },
    rest: same(setups[3]!)
  },
  "Connect, DelayOpen running": {
    ManualStop: stoppedWith(1, "Connect", false),
    AutomaticStop: stoppedWith(1, "Connect", true),
    ConnectRetryTimerExpires: "unreachable",
    HoldTimerExpires: "unreachable",
    SendHoldTimerExpires: "unreachable",
    // Event 12: DelayOpenTimer expires → send OPEN now.
    DelayOpenTimerExpires: { state: "OpenSent", conns: "1:OpenSent", actions: [...openSentOn(1), "stop ConnectRetry", "state Connect→OpenSent"] },
    TcpConnectionConfirmed: same({ ...setups[4]!, conns: "1:Connected 4:Connected" }, ["start DelayOpen#4 5", "stop ConnectRetry"]),
    TcpConnectionFails: { state: "Active", conns: "", actions: ["close #1", "start ConnectRetry 30", "state Connect→Active ConnectionLost"] },
    // Event 20: the peer's OPEN while DelayOpenTimer runs → OPEN and KEEPALIVE, OpenConfirm.
    BgpOpen: {
      state: "OpenConfirm",
      conns: "1:OpenConfirm",
      actions: ["stop DelayOpen#1", "stop ConnectRetry", "send #1 OPEN", "start SendHold#1 480", "send #1 KEEPALIVE", "start Hold#1 60", "start Keepalive#1 20", "state Connect→OpenConfirm"]
    },
    MessageError: failed(1, "Connect", "NotificationSent", "NOTIFICATION 1/2 000a"),
    NotifMsg: failed(1, "Connect", "NotificationReceived"),
    // RFC 6608: unexpected messages outside OpenSent/OpenConfirm/Established get subcode 0.
    KeepAliveMsg: failed(1, "Connect", "NotificationSent", "NOTIFICATION 5/0"),
    UpdateMsg: failed(1, "Connect", "NotificationSent", "NOTIFICATION 5/0"),
    RouteRefreshMsg: failed(1, "Connect", "NotificationSent", "NOTIFICATION 5/0"),
    rest: same(setups[4]!)
  },
  "Active, DelayOpen running": {
    ManualStop: stoppedWith(2, "Active", false),
    AutomaticStop: stoppedWith(2, "Active", true),
    HoldTimerExpires: "unreachable",
    SendHoldTimerExpires: "unreachable",
    DelayOpenTimerExpires: { state: "OpenSent", conns: "2:OpenSent", actions: [...openSentOn(2), "stop ConnectRetry", "state Active→OpenSent"] },
    // One incoming connection at a time.
    TcpConnectionConfirmed: refused(setups[5]!, 7),
    TcpConnectionFails: { state: "Active", conns: "", actions: ["close #2"] },
    BgpOpen: {
      state: "OpenConfirm",
      conns: "2:OpenConfirm",
      actions: ["stop DelayOpen#2", "stop ConnectRetry", "send #2 OPEN", "start SendHold#2 480", "send #2 KEEPALIVE", "start Hold#2 60", "start Keepalive#2 20", "state Active→OpenConfirm"]
    },
    MessageError: failed(2, "Active", "NotificationSent", "NOTIFICATION 1/2 000a"),
    NotifMsg: failed(2, "Active", "NotificationReceived"),
    KeepAliveMsg: failed(2, "Active", "NotificationSent", "NOTIFICATION 5/0"),
    UpdateMsg: failed(2, "Active", "NotificationSent", "NOTIFICATION 5/0"),
    RouteRefreshMsg: failed(2, "Active", "NotificationSent", "NOTIFICATION 5/0"),
    rest: same(setups[5]!)
  },
  "OpenSent, outgoing": {
    ManualStop: stoppedWith(1, "OpenSent", false),
    AutomaticStop: stoppedWith(1, "OpenSent", true),
    HoldTimerExpires: failed(1, "OpenSent", "HoldTimerExpired", "NOTIFICATION 4/0"),
    SendHoldTimerExpires: failed(1, "OpenSent", "SendHoldTimerExpired", "NOTIFICATION 8/0"),
    TcpConnectionConfirmed: same({ ...setups[6]!, conns: "1:OpenSent 4:OpenSent" }, [...openSentOn(4), "stop ConnectRetry"]),
    // After OPEN, losing TCP is a session failure (IdleHold).
    TcpConnectionFails: failed(1, "OpenSent", "ConnectionLost"),
    // Event 19: KEEPALIVE, negotiated hold time min(90, 60) = 60 and keepalive 20.
    BgpOpen: { state: "OpenConfirm", conns: "1:OpenConfirm", actions: ["send #1 KEEPALIVE", "start Hold#1 60", "start Keepalive#1 20", "state OpenSent→OpenConfirm"] },
    MessageError: failed(1, "OpenSent", "NotificationSent", "NOTIFICATION 1/2 000a"),
    NotifMsg: failed(1, "OpenSent", "NotificationReceived"),
    KeepAliveMsg: failed(1, "OpenSent", "NotificationSent", "NOTIFICATION 5/1"),
    UpdateMsg: failed(1, "OpenSent", "NotificationSent", "NOTIFICATION 5/1"),
    RouteRefreshMsg: failed(1, "OpenSent", "NotificationSent", "NOTIFICATION 5/1"),
    SendProgress: same(setups[6]!, ["start SendHold#1 480"]),
    rest: same(setups[6]!)
  },
  "OpenSent, incoming": {
    ManualStop: stoppedWith(2, "OpenSent", false),
    AutomaticStop: stoppedWith(2, "OpenSent", true),
    HoldTimerExpires: failed(2, "OpenSent", "HoldTimerExpired", "NOTIFICATION 4/0"),
    SendHoldTimerExpires: failed(2, "OpenSent", "SendHoldTimerExpired", "NOTIFICATION 8/0"),
    TcpConnectionConfirmed: refused(setups[7]!, 7),
    TcpConnectionFails: failed(2, "OpenSent", "ConnectionLost"),
    BgpOpen: { state: "OpenConfirm", conns: "2:OpenConfirm", actions: ["send #2 KEEPALIVE", "start Hold#2 60", "start Keepalive#2 20", "state OpenSent→OpenConfirm"] },
    MessageError: failed(2, "OpenSent", "NotificationSent", "NOTIFICATION 1/2 000a"),
    NotifMsg: failed(2, "OpenSent", "NotificationReceived"),
    KeepAliveMsg: failed(2, "OpenSent", "NotificationSent", "NOTIFICATION 5/1"),
    UpdateMsg: failed(2, "OpenSent", "NotificationSent", "NOTIFICATION 5/1"),
    RouteRefreshMsg: failed(2, "OpenSent", "NotificationSent", "NOTIFICATION 5/1"),
    SendProgress: same(setups[7]!, ["start SendHold#2 480"]),
    rest: same(setups[7]!)
  },
  "OpenConfirm": {
    ManualStop: stoppedWith(1, "OpenConfirm", false),
    AutomaticStop: stoppedWith(1, "OpenConfirm", true),
    HoldTimerExpires: failed(1, "OpenConfirm", "HoldTimerExpired", "NOTIFICATION 4/0"),
    KeepaliveTimerExpires: same(setups[8]!, ["send #1 KEEPALIVE", "start Keepalive#1 20"]),
    SendHoldTimerExpires: failed(1, "OpenConfirm", "SendHoldTimerExpired", "NOTIFICATION 8/0"),
    TcpConnectionConfirmed: same({ ...setups[8]!, conns: "1:OpenConfirm 4:OpenSent" }, [...openSentOn(4), "stop ConnectRetry"]),
    TcpConnectionFails: failed(1, "OpenConfirm", "ConnectionLost"),
    BgpOpen: failed(1, "OpenConfirm", "NotificationSent", "NOTIFICATION 5/2"),
    MessageError: failed(1, "OpenConfirm", "NotificationSent", "NOTIFICATION 1/2 000a"),
    NotifMsg: failed(1, "OpenConfirm", "NotificationReceived"),
    // Event 26: KEEPALIVE → Established; hold timer restarted, StableTimer for damping.
    KeepAliveMsg: { state: "Established", conns: "1:Established", actions: ["start Hold#1 60", "start Stable 60", "established #1", "state OpenConfirm→Established"] },
    UpdateMsg: failed(1, "OpenConfirm", "NotificationSent", "NOTIFICATION 5/2"),
    RouteRefreshMsg: failed(1, "OpenConfirm", "NotificationSent", "NOTIFICATION 5/2"),
    // §4.4 / RFC 9687: sending restarts KeepaliveTimer and SendHoldTimer.
    SendProgress: same(setups[8]!, ["start SendHold#1 480", "start Keepalive#1 20"]),
    rest: same(setups[8]!)
  },
  "Established": {
    ManualStop: stoppedWith(1, "Established", false),
    AutomaticStop: stoppedWith(1, "Established", true),
    HoldTimerExpires: failed(1, "Established", "HoldTimerExpired", "NOTIFICATION 4/0"),
    KeepaliveTimerExpires: same(setups[9]!, ["send #1 KEEPALIVE", "start Keepalive#1 20"]),
    SendHoldTimerExpires: failed(1, "Established", "SendHoldTimerExpired", "NOTIFICATION 8/0"),
    // §6.8: a new connection while Established is refused (no graceful restart, no CollisionDetectEstablishedState).
    TcpConnectionConfirmed: refused(setups[9]!, 7),
    TcpConnectionFails: failed(1, "Established", "ConnectionLost"),
    BgpOpen: failed(1, "Established", "NotificationSent", "NOTIFICATION 5/3"),
    MessageError: failed(1, "Established", "NotificationSent", "NOTIFICATION 1/2 000a"),
    NotifMsg: failed(1, "Established", "NotificationReceived"),
    KeepAliveMsg: same(setups[9]!, ["start Hold#1 60"]),
    UpdateMsg: same(setups[9]!, ["start Hold#1 60", "deliver #1 UPDATE"]),
    RouteRefreshMsg: same(setups[9]!, ["start Hold#1 60", "deliver #1 ROUTE-REFRESH"]),
    SendProgress: same(setups[9]!, ["start SendHold#1 480", "start Keepalive#1 20"]),
    rest: same(setups[9]!)
  }
}

describe("FSM setups reach the intended states", () => {
  for (const s of setups) {
    it(s.name, () => {
      const r = reach(s.cfg, s.events)
      expect(r.fsm.state).toBe(s.state)
      expect(connSummary(r.fsm)).toBe(s.conns)
      expect(r.timers.summary()).toBe(s.timers)
    })
  }
})

describe("FSM: state × event", () => {
  for (const s of setups) {
    const row = table[s.name]!
    describe(s.name, () => {
      let from: Reached | undefined
      const get = () => (from ??= reach(s.cfg, s.events))
      for (const tag of Object.keys(events) as Tag[]) {
        const want = row[tag] ?? row.rest
        const e = events[tag](s.conn)
        it(`${tag}${want === "unreachable" ? " (unreachable: robustness only)" : ""}`, () => {
          if (want === "unreachable") {
            // No exception, and `stepFrom` found every invariant intact.
            expect(() => stepFrom(get(), e)).not.toThrow()
            return
          }
          const r = stepFrom(get(), e)
          expect(renderAll(r.actions)).toEqual(want.actions)
          expect(r.fsm.state).toBe(want.state)
          expect(connSummary(r.fsm)).toBe(want.conns)
        })
      }
    })
  }
})
