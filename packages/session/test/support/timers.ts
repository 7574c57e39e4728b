/**
 * What a correct driver does with the FSM's timer actions: StartTimer (re)arms a timer with a deadline,
 * StopTimer disarms it, Close disarms every timer of that connection. Tests ask which timers are armed
 * and fire the earliest one.
 */
import type { Action, Event, TimerName } from "../../src/index.ts"

export interface ArmedTimer {
  readonly timer: TimerName
  readonly conn: number | undefined
  readonly seconds: number
  readonly deadline: number
  /** Insertion order, to break deadline ties deterministically. */
  readonly seq: number
}

export const timerKey = (timer: TimerName, conn?: number): string => (conn === undefined ? timer : `${timer}#${conn}`)

/** The FSM event a timer raises when it fires. */
export const timerEvent = (t: { readonly timer: TimerName; readonly conn: number | undefined }): Event => {
  const conn = t.conn ?? -1
  switch (t.timer) {
    case "ConnectRetry":
      return { _tag: "ConnectRetryTimerExpires" }
    case "IdleHold":
      return { _tag: "IdleHoldTimerExpires" }
    case "Stable":
      return { _tag: "StableTimerExpires" }
    case "Hold":
      return { _tag: "HoldTimerExpires", conn }
    case "Keepalive":
      return { _tag: "KeepaliveTimerExpires", conn }
    case "DelayOpen":
      return { _tag: "DelayOpenTimerExpires", conn }
    case "SendHold":
      return { _tag: "SendHoldTimerExpires", conn }
  }
}

/** The timer whose expiry `e` reports, if it is a timer event. */
export const firedBy = (e: Event): string | undefined => {
  switch (e._tag) {
    case "ConnectRetryTimerExpires":
      return timerKey("ConnectRetry")
    case "IdleHoldTimerExpires":
      return timerKey("IdleHold")
    case "StableTimerExpires":
      return timerKey("Stable")
    case "HoldTimerExpires":
      return timerKey("Hold", e.conn)
    case "KeepaliveTimerExpires":
      return timerKey("Keepalive", e.conn)
    case "DelayOpenTimerExpires":
      return timerKey("DelayOpen", e.conn)
    case "SendHoldTimerExpires":
      return timerKey("SendHold", e.conn)
    default:
      return undefined
  }
}

export class TimerModel {
  readonly armed = new Map<string, ArmedTimer>()
  private seq = 0

  /** Carries out the timer actions; `jitter` scales a duration the way a driver may (RFC 4271 §10). */
  apply(actions: ReadonlyArray<Action>, now: number, jitter?: (timer: TimerName) => number): void {
    for (const a of actions) {
      if (a._tag === "StartTimer") {
        this.armed.set(timerKey(a.timer, a.conn), {
          timer: a.timer,
          conn: a.conn,
          seconds: a.seconds,
          deadline: now + a.seconds * (jitter === undefined ? 1 : jitter(a.timer)),
          seq: this.seq++
        })
      } else if (a._tag === "StopTimer") this.armed.delete(timerKey(a.timer, a.conn))
      else if (a._tag === "Close") {
        for (const [k, t] of this.armed) if (t.conn === a.conn) this.armed.delete(k)
      }
    }
  }

  isArmed(timer: TimerName, conn?: number): boolean {
    return this.armed.has(timerKey(timer, conn))
  }

  get(timer: TimerName, conn?: number): ArmedTimer | undefined {
    return this.armed.get(timerKey(timer, conn))
  }

  /** Armed timers as `Hold#1=240` words (seconds as started), sorted: handy in expectations. */
  summary(): string {
    return [...this.armed.values()]
      .map((t) => `${timerKey(t.timer, t.conn)}=${t.seconds}`)
      .sort()
      .join(" ")
  }

  earliest(): ArmedTimer | undefined {
    let best: ArmedTimer | undefined
    for (const t of this.armed.values()) {
      if (best === undefined || t.deadline < best.deadline || (t.deadline === best.deadline && t.seq < best.seq)) best = t
    }
    return best
  }

  /** Removes the timer (it fired) and returns the event it raises. */
  fire(t: ArmedTimer): Event {
    this.armed.delete(timerKey(t.timer, t.conn))
    return timerEvent(t)
  }

  clone(): TimerModel {
    const m = new TimerModel()
    for (const [k, t] of this.armed) m.armed.set(k, t)
    m.seq = this.seq
    return m
  }
}
