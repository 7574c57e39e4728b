/**
 * Invariants every FSM step must keep, checked against the timer model (what a driver would have armed
 * after carrying out the actions). Each check throws an Error naming the broken rule, so a fast-check
 * counterexample says what went wrong.
 */
import type { Action, Fsm, SessionState } from "../../src/index.ts"
import type { TimerModel } from "./timers.ts"

/** Per-peer bookkeeping the checks carry from step to step. */
export interface Track {
  /** A SessionEstablished was reported and no SessionDown since: the connection it named. */
  upConn: number | undefined
  established: number
  down: number
}

export const newTrack = (): Track => ({ upConn: undefined, established: 0, down: 0 })

/**
 * RFC 4271 §8.2.2 names the peer's state; with two connections the most advanced one shows (OpenSent and
 * beyond are connection states). Below that: Idle when stopped or damping, Connect while one of our
 * attempts is in progress, else Active (listening).
 */
export const expectedPeerState = (f: Fsm): SessionState => {
  const states = f.connections.map((c) => c.state)
  if (states.includes("Established")) return "Established"
  if (states.includes("OpenConfirm")) return "OpenConfirm"
  if (states.includes("OpenSent")) return "OpenSent"
  if (!f.enabled || f.idleHolding) return "Idle"
  return f.connections.some((c) => c.direction === "outgoing") ? "Connect" : "Active"
}

const fail = (label: string, rule: string, detail: string): never => {
  throw new Error(`${label}: ${rule} (${detail})`)
}

export const checkStep = (
  label: string,
  before: Fsm,
  after: Fsm,
  actions: ReadonlyArray<Action>,
  timers: TimerModel,
  track: Track
): void => {
  const ids = new Set(after.connections.map((c) => c.id))
  const beforeIds = new Set(before.connections.map((c) => c.id))
  const summary = () => `${after.state} [${after.connections.map((c) => `${c.id}:${c.state}`).join(" ")}] timers ${timers.summary()}`

  if (after.state !== expectedPeerState(after)) fail(label, "peer state matches the connections", summary())
  if (new Set(after.connections.map((c) => c.id)).size !== after.connections.length) fail(label, "connection ids are unique", summary())
  const confirmed = after.connections.filter((c) => c.state === "OpenConfirm" || c.state === "Established")
  if (confirmed.length > 1) fail(label, "at most one connection in OpenConfirm/Established (§6.8)", summary())
  if ((!after.enabled || after.idleHolding) && after.connections.length > 0) {
    fail(label, "no connections while stopped or idle-holding", summary())
  }
  for (const c of after.connections) {
    if ((c.direction === "outgoing") !== (c.id % 2 === 1)) fail(label, "outgoing ids odd, incoming even", summary())
    if (c.direction === "outgoing" && after.settings.passive) fail(label, "a passive peer never connects", summary())
    if (c.state === "OpenConfirm" || c.state === "Established") {
      if (c.negotiated === undefined || c.peerOpen === undefined) fail(label, "negotiated after OPEN", summary())
    }
  }

  // Timers against connections.
  for (const t of timers.armed.values()) {
    if (t.conn !== undefined && !ids.has(t.conn)) fail(label, "no timer armed for a closed connection", `${t.timer}#${t.conn}; ${summary()}`)
  }
  for (const c of after.connections) {
    const hold = c.negotiated?.holdTime
    const wantHold = c.state === "OpenSent" || ((c.state === "OpenConfirm" || c.state === "Established") && hold !== 0)
    if (timers.isArmed("Hold", c.id) !== wantHold) fail(label, "Hold armed iff OpenSent or negotiated hold > 0", `#${c.id}; ${summary()}`)
    const wantKeepalive = (c.state === "OpenConfirm" || c.state === "Established") && hold !== 0
    if (timers.isArmed("Keepalive", c.id) !== wantKeepalive) fail(label, "Keepalive armed iff OpenConfirm/Established with hold > 0", `#${c.id}; ${summary()}`)
    // RFC 9687 §3: SendHoldTimer runs once we send, and is stopped when the negotiated HoldTime is zero.
    if (timers.isArmed("SendHold", c.id) !== wantHold) fail(label, "SendHold armed iff sending with hold > 0", `#${c.id}; ${summary()}`)
    if (timers.isArmed("DelayOpen", c.id) !== (c.state === "Connected")) fail(label, "DelayOpen armed iff Connected", `#${c.id}; ${summary()}`)
  }
  if (timers.isArmed("IdleHold") !== after.idleHolding) fail(label, "IdleHold armed iff idle-holding", summary())
  if (timers.isArmed("Stable") && !after.connections.some((c) => c.state === "Established")) {
    fail(label, "Stable armed only while Established", summary())
  }
  if (timers.isArmed("ConnectRetry") && (!after.enabled || after.idleHolding || after.settings.passive)) {
    fail(label, "ConnectRetry armed only for an enabled, active, non-damped peer", summary())
  }
  if (timers.isArmed("ConnectRetry") && after.connections.some((c) => c.state !== "Connecting" && c.state !== "Connected")) {
    fail(label, "ConnectRetry runs only in Connect/Active (§8.2.2: zeroed once OPEN is sent)", summary())
  }
  if (after.enabled && !after.idleHolding && !after.settings.passive && after.connections.length === 0 && !timers.isArmed("ConnectRetry")) {
    fail(label, "an enabled active peer with no connection has ConnectRetry armed (no dead end)", summary())
  }

  // Actions against connections.
  const closed = new Set<number>()
  for (const a of actions) {
    if (a._tag === "Close") closed.add(a.conn)
    if (a._tag === "Close" && ids.has(a.conn)) fail(label, "a closed connection is forgotten", `#${a.conn}; ${summary()}`)
    if (a._tag === "Connect" && (a.conn % 2 !== 1 || beforeIds.has(a.conn))) fail(label, "Connect uses a fresh odd id", `#${a.conn}`)
  }
  for (const a of actions) {
    if ((a._tag === "Send" || a._tag === "StartTimer") && a.conn !== undefined && !ids.has(a.conn) && !closed.has(a.conn)) {
      fail(label, "sends and timers only on tracked connections (or one closed in the same step)", `${a._tag} #${a.conn}`)
    }
  }
  // After a Close, nothing more for that connection.
  const seenClose = new Set<number>()
  for (const a of actions) {
    if (a._tag === "Close") seenClose.add(a.conn)
    else if ((a._tag === "Send" || a._tag === "StartTimer") && a.conn !== undefined && seenClose.has(a.conn)) {
      fail(label, "nothing sent or armed on a connection after its Close", `${a._tag} #${a.conn}`)
    }
  }

  // SessionEstablished / SessionDown alternate.
  for (const a of actions) {
    if (a._tag === "SessionEstablished") {
      if (track.upConn !== undefined) fail(label, "SessionEstablished only after SessionDown", `#${a.conn} while #${track.upConn} up`)
      track.upConn = a.conn
      track.established += 1
    } else if (a._tag === "SessionDown") {
      if (track.upConn !== a.conn) fail(label, "SessionDown names the session that is up", `#${a.conn} while ${String(track.upConn)} up`)
      track.upConn = undefined
      track.down += 1
    }
  }
  const est = after.connections.find((c) => c.state === "Established")
  if (est?.id !== track.upConn) fail(label, "a session is reported up iff a connection is Established", `${String(track.upConn)}; ${summary()}`)

  // StateChanged is emitted exactly when the peer state changes.
  const changes = actions.filter((a) => a._tag === "StateChanged")
  if (before.state === after.state ? changes.length !== 0 : changes.length !== 1) fail(label, "one StateChanged per change", summary())
}
