/**
 * Helpers for the FSM tests: a reference configuration and the peer's OPEN, a compact one-line rendering
 * of actions (so expected action lists read like the RFC's bullet lists), and canned routes to each
 * connection state.
 */
import type { Capability, Message, Notification, Open, RouteRefresh, Update } from "@starling/codec"
import { Afi, bgpError, CeaseSubcode, ErrorCode, Safi, shutdownNotification } from "@starling/codec"
import type { Action, Event, Fsm, PeerConfig, StepResult } from "../../src/index.ts"
import { initial, localOpen, step } from "../../src/index.ts"
import type { Track } from "./invariants.ts"
import { checkStep, newTrack } from "./invariants.ts"
import { firedBy, TimerModel } from "./timers.ts"

export const ID_LOCAL = 0x0a000001 // 10.0.0.1
export const ID_REMOTE = 0x0a000002 // 10.0.0.2

/** Our side: AS 65001, 10.0.0.1, hold 90 (keepalive 30), short timers so the numbers are distinct. */
export const baseConfig: PeerConfig = {
  localAs: 65001,
  peerAs: 65002,
  localId: ID_LOCAL,
  holdTime: 90,
  connectRetryTime: 30,
  idleHoldTime: { initial: 5, max: 40 },
  stableTime: 60
}

export const config = (over: Partial<PeerConfig> = {}): PeerConfig => ({ ...baseConfig, ...over })

/** The peer's configuration, mirrored; its OPEN is what our FSM receives. */
export const remoteConfig = (over: Partial<PeerConfig> = {}): PeerConfig => ({
  localAs: 65002,
  peerAs: 65001,
  localId: ID_REMOTE,
  holdTime: 60,
  ...over
})

export const remoteOpen = (over: Partial<PeerConfig> = {}, open: Partial<Open> = {}): Open => ({
  ...localOpen(remoteConfig(over)),
  ...open
})

export const notification = (code: number, subcode: number, data: Uint8Array = new Uint8Array(0)): Notification => ({
  _tag: "Notification",
  code,
  subcode,
  data
})

export const endOfRib: Update = { _tag: "Update", withdrawn: [], attributes: {}, nlri: [] }
export const refresh: RouteRefresh = { _tag: "RouteRefresh", afi: Afi.IPV4, safi: Safi.UNICAST, subtype: 0 }
export const byeNotification = shutdownNotification(CeaseSubcode.ADMINISTRATIVE_SHUTDOWN, "bye")
export const lengthError = bgpError("BadMessageLength", "test", { data: Uint8Array.of(0, 10) })

const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("")

const messageText = (m: Message): string => {
  switch (m._tag) {
    case "Open":
      return `OPEN`
    case "Keepalive":
      return "KEEPALIVE"
    case "Update":
      return "UPDATE"
    case "RouteRefresh":
      return "ROUTE-REFRESH"
    case "Notification":
      return `NOTIFICATION ${m.code}/${m.subcode}${m.data.length > 0 ? ` ${hex(m.data)}` : ""}`
  }
}

/** One action as a short line: `send #1 NOTIFICATION 4/0`, `start Hold#1 240`, `state OpenSent→Idle HoldTimerExpired`. */
export const render = (a: Action): string => {
  const c = (conn: number | undefined) => (conn === undefined ? "" : `#${conn}`)
  switch (a._tag) {
    case "StartTimer":
      return `start ${a.timer}${c(a.conn)} ${a.seconds}`
    case "StopTimer":
      return `stop ${a.timer}${c(a.conn)}`
    case "Connect":
      return `connect #${a.conn}`
    case "Send":
      return `send #${a.conn} ${messageText(a.message)}`
    case "Close":
      return `close #${a.conn}`
    case "SessionEstablished":
      return `established #${a.conn}`
    case "SessionDown":
      return `down #${a.conn} ${a.reason._tag}`
    case "Deliver":
      return `deliver #${a.conn} ${messageText(a.message)}`
    case "StateChanged":
      return `state ${a.from}→${a.to}${a.reason === undefined ? "" : ` ${a.reason._tag}`}`
  }
}

export const renderAll = (actions: ReadonlyArray<Action>): string[] => actions.map(render)

/** The connections as `id:state` words, in id order. */
export const connSummary = (fsm: Fsm): string =>
  [...fsm.connections].sort((a, b) => a.id - b.id).map((c) => `${c.id}:${c.state}`).join(" ")

/** NOTIFICATIONs sent, as `code/subcode`. */
export const sentNotifications = (actions: ReadonlyArray<Action>): string[] =>
  actions.flatMap((a) => (a._tag === "Send" && a.message._tag === "Notification" ? [`${a.message.code}/${a.message.subcode}`] : []))

/** A state reached by a list of events from `initial(cfg)`, with the timers those events left armed. */
export interface Reached {
  readonly fsm: Fsm
  readonly timers: TimerModel
  readonly track: Track
  readonly actions: ReadonlyArray<Action>
}

/** Runs `events` from `initial(cfg)` with the timer model, checking every step's invariants. */
export const reach = (cfg: PeerConfig, events: ReadonlyArray<Event>): Reached => {
  let fsm = initial(cfg)
  const timers = new TimerModel()
  const track = newTrack()
  const actions: Action[] = []
  for (const e of events) {
    const r: StepResult = step(fsm, e)
    timers.apply(r.actions, 0)
    checkStep(`setup ${e._tag}`, fsm, r.fsm, r.actions, timers, track)
    actions.push(...r.actions)
    fsm = r.fsm
  }
  return { fsm, timers, track, actions }
}

/** One more step from a reached state, on copies of its timers and bookkeeping, invariants checked. */
export const stepFrom = (from: Reached, e: Event): StepResult & { readonly timers: TimerModel } => {
  const timers = from.timers.clone()
  // A timer that fires is no longer armed.
  const fired = firedBy(e)
  if (fired !== undefined) timers.armed.delete(fired)
  const track = { ...from.track }
  const r = step(from.fsm, e)
  timers.apply(r.actions, 0)
  checkStep(`step ${e._tag}`, from.fsm, r.fsm, r.actions, timers, track)
  return { ...r, timers }
}

/** Steps `fsm` through `events`, returning the last result and all actions. */
export const drive = (fsm: Fsm, events: ReadonlyArray<Event>): { fsm: Fsm; actions: Action[]; last: ReadonlyArray<Action> } => {
  const actions: Action[] = []
  let last: ReadonlyArray<Action> = []
  for (const e of events) {
    const r = step(fsm, e)
    fsm = r.fsm
    last = r.actions
    actions.push(...r.actions)
  }
  return { fsm, actions, last }
}

export const ev = {
  manualStart: { _tag: "ManualStart" } as Event,
  automaticStart: { _tag: "AutomaticStart" } as Event,
  crAcked: (conn: number): Event => ({ _tag: "TcpCrAcked", conn }),
  confirmed: (conn: number): Event => ({ _tag: "TcpConnectionConfirmed", conn }),
  fails: (conn: number): Event => ({ _tag: "TcpConnectionFails", conn }),
  open: (conn: number, open: Open = remoteOpen()): Event => ({ _tag: "BgpOpen", conn, open }),
  keepalive: (conn: number): Event => ({ _tag: "KeepAliveMsg", conn }),
  update: (conn: number): Event => ({ _tag: "UpdateMsg", conn, update: endOfRib }),
  refresh: (conn: number): Event => ({ _tag: "RouteRefreshMsg", conn, message: refresh }),
  notif: (conn: number, n: Notification = byeNotification): Event => ({ _tag: "NotifMsg", conn, notification: n }),
  hold: (conn: number): Event => ({ _tag: "HoldTimerExpires", conn }),
  sendHold: (conn: number): Event => ({ _tag: "SendHoldTimerExpires", conn }),
  keepaliveTimer: (conn: number): Event => ({ _tag: "KeepaliveTimerExpires", conn }),
  delayOpen: (conn: number): Event => ({ _tag: "DelayOpenTimerExpires", conn }),
  sendProgress: (conn: number): Event => ({ _tag: "SendProgress", conn }),
  connectRetry: { _tag: "ConnectRetryTimerExpires" } as Event,
  idleHold: { _tag: "IdleHoldTimerExpires" } as Event,
  stable: { _tag: "StableTimerExpires" } as Event
}

/** Our outgoing session to Established on connection 1. */
export const establishedOut = (cfg: PeerConfig = baseConfig, open: Open = remoteOpen()): Reached =>
  reach(cfg, [ev.manualStart, ev.crAcked(1), ev.open(1, open), ev.keepalive(1)])

export const capabilityTags = (caps: ReadonlyArray<Capability>): string[] => caps.map((c) => c._tag)

export { CeaseSubcode, ErrorCode }

/**
 * One FSM driven by hand, the way a driver would: each step disarms the timer that fired, carries out the
 * timer actions on the model at the current time, and checks the invariants.
 */
export class Peer {
  fsm: Fsm
  readonly timers = new TimerModel()
  readonly track = newTrack()
  now = 0
  /** Every action so far. */
  readonly actions: Action[] = []
  last: ReadonlyArray<Action> = []

  constructor(cfg: PeerConfig) {
    this.fsm = initial(cfg)
  }

  /** One event; returns this step's actions, rendered. */
  step(e: Event): string[] {
    const fired = firedBy(e)
    if (fired !== undefined) this.timers.armed.delete(fired)
    const r = step(this.fsm, e)
    this.timers.apply(r.actions, this.now)
    checkStep(`t=${this.now} ${e._tag}`, this.fsm, r.fsm, r.actions, this.timers, this.track)
    this.fsm = r.fsm
    this.last = r.actions
    this.actions.push(...r.actions)
    return renderAll(r.actions)
  }

  /** Several events; returns all their actions, rendered. */
  run(...events: ReadonlyArray<Event>): string[] {
    return events.flatMap((e) => this.step(e))
  }

  get conns(): string {
    return connSummary(this.fsm)
  }

  /** The deadline of an armed timer, relative to now. */
  remaining(timer: Parameters<TimerModel["get"]>[0], conn?: number): number | undefined {
    const t = this.timers.get(timer, conn)
    return t === undefined ? undefined : t.deadline - this.now
  }
}
