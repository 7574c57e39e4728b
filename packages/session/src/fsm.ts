/**
 * The BGP finite state machine of RFC 4271 §8, as a pure function: `step(fsm, event) → { fsm, actions }`.
 * No sockets, no clocks: timers are actions (start/stop), TCP is actions (connect/close), messages are
 * actions (send) — the Effect driver carries them out and feeds back events.
 *
 * One peer may have two TCP connections at once (ours and the peer's) until collision detection
 * (§6.8) keeps one. Each connection walks Connecting → (Connected, while DelayOpen runs) → OpenSent →
 * OpenConfirm → Established; the peer's state, as RFC 4271 names it, is derived from its connections.
 *
 * Choices where the RFC leaves room (as BIRD and GoBGP do):
 * - A failed outgoing connect stays in Active and retries when ConnectRetryTimer expires, instead of
 *   going to Idle (§8.2.2 Connect state, event 18).
 * - Errors after TCP is up (NOTIFICATION sent or received, hold timer, TCP loss) go to Idle and restart
 *   automatically after IdleHoldTime, doubled per consecutive failure up to a cap (DampPeerOscillations,
 *   §8.1.1); a session that stays Established for StableTime resets it. A Cease/Connection Rejected or
 *   Connection Collision Resolution received before Established is not such an error: the peer refused or
 *   replaced that connection, not the session (damping it would refuse the connection the peer kept).
 * - Unexpected messages get the RFC 6608 FSM Error subcodes.
 * - An incoming connection while Established is refused with Cease/Connection Collision Resolution,
 *   unless the peer negotiated graceful restart (RFC 4724 §4.2: the new OPEN means the peer restarted) or
 *   CollisionDetectEstablishedState is set (then identifiers decide, §6.8).
 *
 * Connection ids: the FSM numbers its outgoing connections with odd numbers; the driver numbers
 * incoming ones with even numbers.
 */
import type { BgpError, Message, Notification, Open, RouteRefresh, Update } from "@starling/codec"
import { CeaseSubcode, ErrorCode, HARD_RESET_CEASES, hardReset, shutdownMessage, shutdownNotification, toNotification } from "@starling/codec"
import type { PeerConfig, Settings } from "./config.ts"
import { OPEN_HOLD_TIME, settings } from "./config.ts"
import type { Negotiated } from "./negotiate.ts"
import { localOpen, negotiate } from "./negotiate.ts"

export type SessionState = "Idle" | "Connect" | "Active" | "OpenSent" | "OpenConfirm" | "Established"

/** Connecting: our TCP connect is in progress. Connected: TCP is up and DelayOpenTimer runs. */
export type ConnectionState = "Connecting" | "Connected" | "OpenSent" | "OpenConfirm" | "Established"

export type Direction = "outgoing" | "incoming"

export interface Connection {
  readonly id: number
  readonly direction: Direction
  readonly state: ConnectionState
  readonly peerOpen?: Open
  readonly negotiated?: Negotiated
  /**
   * Accepted while a graceful-restart session was Established: its OPEN means the peer restarted
   * (RFC 4724 §4.2). A connection that predates the session is a collision partner instead (§6.8).
   */
  readonly restart?: boolean
}

/** Peer timers (ConnectRetry, IdleHold, Stable) and connection timers (the rest, keyed by connection). */
export type TimerName = "ConnectRetry" | "IdleHold" | "Stable" | "Hold" | "Keepalive" | "DelayOpen" | "SendHold"

export interface Fsm {
  readonly config: PeerConfig
  readonly settings: Settings
  readonly state: SessionState
  /** ManualStart given and no ManualStop since (RFC 4271 AllowAutomaticStart). */
  readonly enabled: boolean
  /** IdleHoldTimer is running: no connections are made or accepted. */
  readonly idleHolding: boolean
  readonly connections: ReadonlyArray<Connection>
  readonly connectRetryCounter: number
  /** The IdleHoldTime the next failure will wait. */
  readonly idleHoldTime: number
  readonly nextConnId: number
}

/** Why a session (or an attempt) ended; carried by `SessionDown` and state changes. */
export type DownReason =
  | { readonly _tag: "AdminStop"; readonly message?: string }
  | { readonly _tag: "AutomaticStop"; readonly subcode: number; readonly message?: string }
  | { readonly _tag: "HoldTimerExpired" }
  | { readonly _tag: "SendHoldTimerExpired" }
  | { readonly _tag: "NotificationReceived"; readonly notification: Notification; readonly message?: string }
  | { readonly _tag: "NotificationSent"; readonly notification: Notification; readonly error?: BgpError }
  | { readonly _tag: "ConnectionLost" }
  | { readonly _tag: "CollisionResolved" }
  | { readonly _tag: "PeerRestarted" }
  | { readonly _tag: "OpenRejected"; readonly error: BgpError }

/** RFC 4271 §8.1 events (numbers in comments), plus SendHoldTimer (RFC 9687) and send progress. */
export type Event =
  | { readonly _tag: "ManualStart" } // 1 (4 when config.passive)
  | { readonly _tag: "ManualStop"; readonly message?: string } // 2
  | { readonly _tag: "AutomaticStart" } // 3 (5 when config.passive)
  | { readonly _tag: "AutomaticStop"; readonly subcode: number; readonly message?: string } // 8
  | { readonly _tag: "ConnectRetryTimerExpires" } // 9
  | { readonly _tag: "HoldTimerExpires"; readonly conn: number } // 10
  | { readonly _tag: "KeepaliveTimerExpires"; readonly conn: number } // 11
  | { readonly _tag: "DelayOpenTimerExpires"; readonly conn: number } // 12
  | { readonly _tag: "IdleHoldTimerExpires" } // 13
  | { readonly _tag: "StableTimerExpires" }
  | { readonly _tag: "SendHoldTimerExpires"; readonly conn: number } // RFC 9687
  | { readonly _tag: "TcpCrAcked"; readonly conn: number } // 16: our connect succeeded
  | { readonly _tag: "TcpConnectionConfirmed"; readonly conn: number } // 17: the peer connected to us
  | { readonly _tag: "TcpConnectionFails"; readonly conn: number } // 18
  | { readonly _tag: "BgpOpen"; readonly conn: number; readonly open: Open } // 19, 20
  | { readonly _tag: "MessageError"; readonly conn: number; readonly error: BgpError } // 21, 22, 28
  | { readonly _tag: "NotifMsg"; readonly conn: number; readonly notification: Notification } // 24, 25
  | { readonly _tag: "KeepAliveMsg"; readonly conn: number } // 26
  | { readonly _tag: "UpdateMsg"; readonly conn: number; readonly update: Update } // 27
  | { readonly _tag: "RouteRefreshMsg"; readonly conn: number; readonly message: RouteRefresh }
  | { readonly _tag: "SendProgress"; readonly conn: number }

export type Action =
  | { readonly _tag: "StartTimer"; readonly timer: TimerName; readonly conn?: number; readonly seconds: number }
  | { readonly _tag: "StopTimer"; readonly timer: TimerName; readonly conn?: number }
  /** Open a TCP connection to the peer; report TcpCrAcked or TcpConnectionFails with this id. */
  | { readonly _tag: "Connect"; readonly conn: number }
  | { readonly _tag: "Send"; readonly conn: number; readonly message: Message }
  /** Flush what was sent, close the TCP connection, and cancel all of its timers. */
  | { readonly _tag: "Close"; readonly conn: number }
  | { readonly _tag: "SessionEstablished"; readonly conn: number; readonly negotiated: Negotiated; readonly peerOpen: Open }
  | { readonly _tag: "SessionDown"; readonly conn: number; readonly reason: DownReason }
  | { readonly _tag: "Deliver"; readonly conn: number; readonly message: Update | RouteRefresh }
  | { readonly _tag: "StateChanged"; readonly from: SessionState; readonly to: SessionState; readonly reason?: DownReason }

export interface StepResult {
  readonly fsm: Fsm
  readonly actions: ReadonlyArray<Action>
}

export const initial = (config: PeerConfig): Fsm => {
  const s = settings(config)
  return {
    config,
    settings: s,
    state: "Idle",
    enabled: false,
    idleHolding: false,
    connections: [],
    connectRetryCounter: 0,
    idleHoldTime: s.idleHoldInitial,
    nextConnId: 1
  }
}

const rank: Record<ConnectionState, number> = { Connecting: 0, Connected: 1, OpenSent: 2, OpenConfirm: 3, Established: 4 }

/** The peer state RFC 4271 would show, from the connections. */
export const derivedState = (f: Omit<Fsm, "state">): SessionState => {
  let best = -1
  for (const c of f.connections) best = Math.max(best, rank[c.state])
  if (best === 4) return "Established"
  if (best === 3) return "OpenConfirm"
  if (best === 2) return "OpenSent"
  if (!f.enabled || f.idleHolding) return "Idle"
  if (f.connections.some((c) => c.direction === "outgoing")) return "Connect"
  return "Active"
}

const fsmError = (subcode: number): Notification => ({
  _tag: "Notification",
  code: ErrorCode.FSM,
  subcode,
  data: new Uint8Array(0)
})

const cease = (subcode: number): Notification => ({ _tag: "Notification", code: ErrorCode.CEASE, subcode, data: new Uint8Array(0) })

/**
 * RFC 8538 §5.1: with the N bit exchanged a plain Cease lets the peer keep our routes as stale; the ends for
 * good must not, so they go out as a Hard Reset carrying the Cease.
 */
const forSession = (n: Notification, negotiated: Negotiated | undefined): Notification =>
  negotiated?.gracefulRestart?.notification === true && n.code === ErrorCode.CEASE && n.subcode !== CeaseSubcode.HARD_RESET &&
    HARD_RESET_CEASES.has(n.subcode)
    ? hardReset(n)
    : n

const KEEPALIVE: Message = { _tag: "Keepalive" }

/** The working copy of one step: mutable locally, frozen into a new `Fsm` at the end. */
class Stepper {
  f: { -readonly [K in keyof Fsm]: Fsm[K] }
  conns: Connection[]
  readonly actions: Action[] = []
  downReason: DownReason | undefined

  constructor(fsm: Fsm) {
    this.f = { ...fsm }
    this.conns = [...fsm.connections]
  }

  get s(): Settings {
    return this.f.settings
  }

  emit(a: Action): void {
    this.actions.push(a)
  }

  conn(id: number): Connection | undefined {
    return this.conns.find((c) => c.id === id)
  }

  update(id: number, patch: Partial<Connection>): Connection {
    const i = this.conns.findIndex((c) => c.id === id)
    const next = { ...this.conns[i]!, ...patch }
    this.conns[i] = next
    return next
  }

  remove(id: number): void {
    this.conns = this.conns.filter((c) => c.id !== id)
  }

  startTimer(timer: TimerName, seconds: number, conn?: number): void {
    this.emit(conn === undefined ? { _tag: "StartTimer", timer, seconds } : { _tag: "StartTimer", timer, conn, seconds })
  }

  stopTimer(timer: TimerName, conn?: number): void {
    this.emit(conn === undefined ? { _tag: "StopTimer", timer } : { _tag: "StopTimer", timer, conn })
  }

  send(conn: number, message: Message): void {
    this.emit({ _tag: "Send", conn, message })
  }

  /** Starts an outgoing connection attempt (Connect state). */
  connect(): void {
    if (this.s.passive || !this.f.enabled || this.f.idleHolding) return
    const id = this.f.nextConnId
    this.f.nextConnId += 2
    this.conns.push({ id, direction: "outgoing", state: "Connecting" })
    this.emit({ _tag: "Connect", conn: id })
    this.startTimer("ConnectRetry", this.s.connectRetryTime)
  }

  /** TCP is up on `id`: send OPEN now, or wait for the peer's OPEN while DelayOpenTimer runs. */
  tcpUp(id: number): void {
    if (this.s.delayOpenTime > 0) {
      this.update(id, { state: "Connected" })
      this.startTimer("DelayOpen", this.s.delayOpenTime, id)
    } else this.sendOpen(id)
    this.stopTimer("ConnectRetry")
  }

  sendOpen(id: number): void {
    this.send(id, localOpen(this.f.config))
    this.update(id, { state: "OpenSent" })
    // §8.2.2: a large hold time until the OPEN exchange negotiates the real one.
    this.startTimer("Hold", OPEN_HOLD_TIME, id)
    this.startTimer("SendHold", this.s.sendHoldTime, id)
  }

  /**
   * Ends connection `id`. `error` says whether this counts as a failure (IdleHold and damping) — TCP
   * failures before any BGP message do not.
   */
  drop(id: number, reason: DownReason, notification: Notification | undefined, error: boolean): void {
    const c = this.conn(id)
    if (c === undefined) return
    if (notification !== undefined && c.state !== "Connecting") this.send(id, notification)
    this.emit({ _tag: "Close", conn: id })
    this.remove(id)
    if (c.state === "Established") {
      this.emit({ _tag: "SessionDown", conn: id, reason })
      this.stopTimer("Stable")
    }
    this.downReason = reason
    const live = this.conns.some((x) => rank[x.state] >= rank.OpenSent)
    if (live) return
    if (error) this.enterIdleHold()
    else if (!this.conns.some((x) => x.direction === "outgoing") && this.f.enabled && !this.f.idleHolding) {
      // Plain TCP trouble: try again when ConnectRetryTimer fires (it keeps running, or restarts here).
      if (!this.s.passive) this.startTimer("ConnectRetry", this.s.connectRetryTime)
    }
  }

  /** RFC 4271 §8.2.2 → Idle after an error, then an automatic restart after IdleHoldTime (damped). */
  enterIdleHold(): void {
    // What is left has not exchanged OPENs: just close it.
    for (const c of this.conns) this.emit({ _tag: "Close", conn: c.id })
    this.conns = []
    this.stopTimer("ConnectRetry")
    this.f.connectRetryCounter += 1
    if (!this.f.enabled) return
    this.f.idleHolding = true
    this.startTimer("IdleHold", this.f.idleHoldTime)
    this.f.idleHoldTime = Math.min(this.f.idleHoldTime * 2, this.s.idleHoldMax)
  }

  /** Tears everything down for a stop; `notification` goes to every connection that can take it. */
  stopAll(reason: DownReason, notification: Notification): void {
    for (const c of [...this.conns]) {
      if (c.state !== "Connecting") this.send(c.id, forSession(notification, c.negotiated))
      this.emit({ _tag: "Close", conn: c.id })
      if (c.state === "Established") {
        this.emit({ _tag: "SessionDown", conn: c.id, reason })
        this.stopTimer("Stable")
      }
    }
    this.conns = []
    this.downReason = reason
    this.stopTimer("ConnectRetry")
    this.stopTimer("IdleHold")
    this.f.idleHolding = false
  }

  /** RFC 4271 §6.8: which of two connections survives, by BGP Identifier (then AS, RFC 6286 §2.3). */
  keepOutgoing(remoteId: number, remoteAs: number): boolean {
    const localId = this.f.config.localId >>> 0
    if (localId !== remoteId) return localId > remoteId
    return this.f.config.localAs > remoteAs
  }

  /** Collision detection after connection `id` received a valid OPEN (it is now in OpenConfirm). */
  resolveCollision(id: number, n: Negotiated): boolean {
    const self = this.conn(id)!
    for (const other of [...this.conns]) {
      if (other.id === id) continue
      if (other.state === "Connecting") {
        // Our own attempt, TCP not up yet: stop it (no collision can be detected with it, §6.8).
        this.drop(other.id, { _tag: "CollisionResolved" }, undefined, false)
        continue
      }
      if (other.state === "Established") {
        if (self.restart === true && other.negotiated?.gracefulRestart !== undefined) {
          // RFC 4724 §4.2: an OPEN on a connection the graceful-restart peer opened after the session came
          // up means it restarted; drop the old session.
          this.drop(other.id, { _tag: "PeerRestarted" }, undefined, false)
          continue
        }
        const newWins = this.s.collisionDetectEstablished &&
          (this.keepOutgoing(n.peerId, n.peerAs) === (self.direction === "outgoing"))
        if (newWins) {
          this.drop(other.id, { _tag: "CollisionResolved" }, cease(CeaseSubcode.CONNECTION_COLLISION_RESOLUTION), false)
          continue
        }
        this.drop(id, { _tag: "CollisionResolved" }, cease(CeaseSubcode.CONNECTION_COLLISION_RESOLUTION), false)
        return false
      }
      // The other is past TCP setup (Connected under DelayOpen, OpenSent, OpenConfirm): the connection
      // opened by the higher identifier survives — the rule the peer applies too, so both keep the same one.
      const keepOut = this.keepOutgoing(n.peerId, n.peerAs)
      const loser = (self.direction === "outgoing") === keepOut ? other : self
      this.drop(loser.id, { _tag: "CollisionResolved" }, cease(CeaseSubcode.CONNECTION_COLLISION_RESOLUTION), false)
      if (loser.id === id) return false
    }
    return true
  }

  /** A valid or invalid OPEN on connection `id` (in Connected or OpenSent). */
  open(id: number, open: Open, delayed: boolean): void {
    const r = negotiate(this.f.config, open)
    if (!r.ok) {
      this.drop(id, { _tag: "OpenRejected", error: r.error }, toNotification(r.error), true)
      return
    }
    const n = r.value
    if (delayed) this.stopTimer("DelayOpen", id)
    this.update(id, { state: "OpenConfirm", peerOpen: open, negotiated: n })
    // §6.8: collision detection runs on receipt of the OPEN, before we answer it — a losing connection
    // gets only the Cease (a KEEPALIVE first would let the peer reach Established on it).
    if (!this.resolveCollision(id, n)) return
    if (delayed) {
      // Event 20: the peer's OPEN arrived while DelayOpenTimer ran — answer with OPEN and KEEPALIVE.
      this.stopTimer("ConnectRetry")
      this.send(id, localOpen(this.f.config))
      if (n.holdTime > 0) this.startTimer("SendHold", this.s.sendHoldTime, id)
    }
    this.send(id, KEEPALIVE)
    if (n.holdTime > 0) {
      this.startTimer("Hold", n.holdTime, id)
      this.startTimer("Keepalive", n.keepaliveTime, id)
    } else {
      // RFC 9687 §3: with a zero HoldTime the SendHoldTimer is stopped as well (no keepalives to make progress).
      this.stopTimer("Hold", id)
      this.stopTimer("SendHold", id)
    }
  }

  /** A message that is not allowed in the connection's state: FSM Error (RFC 6608 subcodes). */
  unexpected(c: Connection, _what: string): void {
    const sub = c.state === "OpenSent" ? 1 : c.state === "OpenConfirm" ? 2 : c.state === "Established" ? 3 : 0
    const n = fsmError(sub)
    this.drop(c.id, { _tag: "NotificationSent", notification: n }, n, true)
  }

  finish(): StepResult {
    const next = { ...this.f, connections: this.conns }
    const state = derivedState(next)
    if (state !== this.f.state) {
      this.emit(
        this.downReason === undefined
          ? { _tag: "StateChanged", from: this.f.state, to: state }
          : { _tag: "StateChanged", from: this.f.state, to: state, reason: this.downReason }
      )
    }
    return { fsm: { ...next, state }, actions: this.actions }
  }
}

/** One transition: the new state and what to do, in order. */
export const step = (fsm: Fsm, event: Event): StepResult => {
  const t = new Stepper(fsm)
  const f = t.f
  switch (event._tag) {
    case "ManualStart":
    case "AutomaticStart": {
      if (f.enabled && (t.conns.length > 0 || f.idleHolding)) break
      f.enabled = true
      f.connectRetryCounter = 0
      t.connect()
      break
    }
    case "ManualStop": {
      // RFC 9003: Administrative Shutdown with the operator's message.
      t.stopAll({ _tag: "AdminStop", ...(event.message === undefined ? {} : { message: event.message }) },
        shutdownNotification(CeaseSubcode.ADMINISTRATIVE_SHUTDOWN, event.message ?? ""))
      f.enabled = false
      f.connectRetryCounter = 0
      f.idleHoldTime = t.s.idleHoldInitial
      break
    }
    case "AutomaticStop": {
      const n = event.message !== undefined &&
          (event.subcode === CeaseSubcode.ADMINISTRATIVE_SHUTDOWN || event.subcode === CeaseSubcode.ADMINISTRATIVE_RESET)
        ? shutdownNotification(event.subcode, event.message)
        : cease(event.subcode)
      t.stopAll({ _tag: "AutomaticStop", subcode: event.subcode, ...(event.message === undefined ? {} : { message: event.message }) }, n)
      t.enterIdleHold()
      break
    }
    case "ConnectRetryTimerExpires": {
      if (!f.enabled || f.idleHolding || t.s.passive) break
      if (t.conns.some((c) => rank[c.state] >= rank.OpenSent)) break
      // §8.2.2 Connect/Active: abandon the attempt in progress and try again.
      for (const c of t.conns.filter((x) => x.direction === "outgoing")) {
        t.emit({ _tag: "Close", conn: c.id })
        t.remove(c.id)
      }
      t.connect()
      break
    }
    case "IdleHoldTimerExpires": {
      if (!f.idleHolding) break
      f.idleHolding = false
      t.connect()
      break
    }
    case "StableTimerExpires": {
      f.idleHoldTime = t.s.idleHoldInitial
      break
    }
    case "TcpCrAcked": {
      const c = t.conn(event.conn)
      if (c === undefined) {
        // An attempt we already abandoned completed after all: close it.
        t.emit({ _tag: "Close", conn: event.conn })
        break
      }
      // A repeated report for a live connection: closing it would leave it tracked here but gone.
      if (c.state !== "Connecting") break
      t.tcpUp(c.id)
      break
    }
    case "TcpConnectionConfirmed": {
      if (!f.enabled || f.idleHolding) {
        // §8.2.2 Idle: refuse. Cease/Connection Rejected tells the peer why (RFC 4486).
        t.send(event.conn, cease(CeaseSubcode.CONNECTION_REJECTED))
        t.emit({ _tag: "Close", conn: event.conn })
        break
      }
      const est = t.conns.find((c) => c.state === "Established")
      const allowOverEstablished = est !== undefined &&
        (est.negotiated?.gracefulRestart !== undefined || t.s.collisionDetectEstablished)
      // One incoming connection at a time — but an Established one does not count when a new one may
      // replace it (a restarted graceful-restart peer reconnects to us; RFC 4724 §4.2).
      const dupIncoming = t.conns.some((c) => c.direction === "incoming" && !(c === est && allowOverEstablished))
      if ((est !== undefined && !allowOverEstablished) || dupIncoming) {
        t.send(event.conn, cease(CeaseSubcode.CONNECTION_COLLISION_RESOLUTION))
        t.emit({ _tag: "Close", conn: event.conn })
        break
      }
      t.conns.push({
        id: event.conn,
        direction: "incoming",
        state: "Connecting",
        ...(est?.negotiated?.gracefulRestart !== undefined ? { restart: true } : {})
      })
      t.tcpUp(event.conn)
      break
    }
    case "TcpConnectionFails": {
      const c = t.conn(event.conn)
      if (c === undefined) break
      // Failure before any BGP message is plain TCP trouble; after, it is an error (§8.2.2).
      t.drop(c.id, { _tag: "ConnectionLost" }, undefined, rank[c.state] >= rank.OpenSent)
      break
    }
    case "HoldTimerExpires": {
      const c = t.conn(event.conn)
      if (c === undefined) break
      const n: Notification = { _tag: "Notification", code: ErrorCode.HOLD_TIMER_EXPIRED, subcode: 0, data: new Uint8Array(0) }
      t.drop(c.id, { _tag: "HoldTimerExpired" }, n, true)
      break
    }
    case "SendHoldTimerExpires": {
      const c = t.conn(event.conn)
      if (c === undefined) break
      const n: Notification = { _tag: "Notification", code: ErrorCode.SEND_HOLD_TIMER_EXPIRED, subcode: 0, data: new Uint8Array(0) }
      t.drop(c.id, { _tag: "SendHoldTimerExpired" }, n, true)
      break
    }
    case "KeepaliveTimerExpires": {
      const c = t.conn(event.conn)
      if (c === undefined || (c.state !== "OpenConfirm" && c.state !== "Established")) break
      const n = c.negotiated!
      if (n.keepaliveTime === 0) break
      t.send(c.id, KEEPALIVE)
      t.startTimer("Keepalive", n.keepaliveTime, c.id)
      break
    }
    case "DelayOpenTimerExpires": {
      const c = t.conn(event.conn)
      if (c === undefined || c.state !== "Connected") break
      t.sendOpen(c.id)
      // §8.2.2 event 12: ConnectRetryTimer is zeroed too (a failed attempt beside this one may have rearmed it).
      t.stopTimer("ConnectRetry")
      break
    }
    case "SendProgress": {
      const c = t.conn(event.conn)
      if (c === undefined || rank[c.state] < rank.OpenSent) break
      if (c.negotiated?.holdTime !== 0) t.startTimer("SendHold", t.s.sendHoldTime, c.id)
      // §4.4: sending a KEEPALIVE or UPDATE restarts the KeepaliveTimer.
      const k = c.negotiated?.keepaliveTime ?? 0
      if ((c.state === "OpenConfirm" || c.state === "Established") && k > 0) t.startTimer("Keepalive", k, c.id)
      break
    }
    case "BgpOpen": {
      const c = t.conn(event.conn)
      if (c === undefined) break
      if (c.state === "Connected") t.open(c.id, event.open, true)
      else if (c.state === "OpenSent") t.open(c.id, event.open, false)
      else t.unexpected(c, "OPEN")
      break
    }
    case "KeepAliveMsg": {
      const c = t.conn(event.conn)
      if (c === undefined) break
      if (c.state === "OpenConfirm") {
        const n = c.negotiated!
        t.update(c.id, { state: "Established" })
        if (n.holdTime > 0) t.startTimer("Hold", n.holdTime, c.id)
        t.startTimer("Stable", t.s.stableTime)
        t.emit({ _tag: "SessionEstablished", conn: c.id, negotiated: n, peerOpen: c.peerOpen! })
      } else if (c.state === "Established") {
        if (c.negotiated!.holdTime > 0) t.startTimer("Hold", c.negotiated!.holdTime, c.id)
      } else t.unexpected(c, "KEEPALIVE")
      break
    }
    case "UpdateMsg":
    case "RouteRefreshMsg": {
      const c = t.conn(event.conn)
      if (c === undefined) break
      if (c.state !== "Established") {
        t.unexpected(c, event._tag === "UpdateMsg" ? "UPDATE" : "ROUTE-REFRESH")
        break
      }
      const n = c.negotiated!
      if (n.holdTime > 0) t.startTimer("Hold", n.holdTime, c.id)
      if (event._tag === "UpdateMsg") t.emit({ _tag: "Deliver", conn: c.id, message: event.update })
      // RFC 2918 §4: ignore a ROUTE-REFRESH when the capability was not negotiated.
      else if (n.routeRefresh) t.emit({ _tag: "Deliver", conn: c.id, message: event.message })
      break
    }
    case "NotifMsg": {
      const c = t.conn(event.conn)
      if (c === undefined) break
      const message = shutdownMessage(event.notification)
      // RFC 4486 Connection Rejected or Connection Collision Resolution before Established: the peer
      // refused this connection (it may be idle-holding itself) or kept our other one (§6.8). Not a session
      // failure: going to Idle would refuse the connection the peer kept, and two damped speakers would
      // refuse each other forever. Keep listening and retry on ConnectRetryTimer instead.
      const sub = event.notification.subcode
      const rejected = event.notification.code === ErrorCode.CEASE && rank[c.state] < rank.Established &&
        (sub === CeaseSubcode.CONNECTION_REJECTED || sub === CeaseSubcode.CONNECTION_COLLISION_RESOLUTION)
      t.drop(c.id, {
        _tag: "NotificationReceived",
        notification: event.notification,
        ...(message === undefined ? {} : { message })
      }, undefined, !rejected)
      break
    }
    case "MessageError": {
      const c = t.conn(event.conn)
      if (c === undefined) break
      const n = toNotification(event.error)
      t.drop(c.id, { _tag: "NotificationSent", notification: n, error: event.error }, n, true)
      break
    }
  }
  return t.finish()
}

/** Runs a sequence of events from a state (tests, simulations). */
export const run = (fsm: Fsm, events: ReadonlyArray<Event>): { fsm: Fsm; actions: Action[] } => {
  const actions: Action[] = []
  let cur = fsm
  for (const e of events) {
    const r = step(cur, e)
    cur = r.fsm
    actions.push(...r.actions)
  }
  return { fsm: cur, actions }
}
