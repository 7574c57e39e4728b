/**
 * A pure two-speaker simulation: two FSMs, each with a timer model, joined by simulated TCP connections.
 * It plays the driver's part: a Connect action opens a link (the other side gets TcpConnectionConfirmed
 * with an even id of its own, we get TcpCrAcked), Send actions are encoded with the codec and queued on
 * the link in order (TCP keeps order per direction, not across connections), Close sends a FIN that
 * becomes TcpConnectionFails on the other side, and a successful send is reported back as SendProgress.
 *
 * Nothing happens by itself: the test picks which pending delivery happens next (any order across links),
 * when time moves to the next timer, and which faults to inject. Every step is checked with `checkStep`.
 */
import { Result } from "effect"
import type { Message } from "@starling/codec"
import { decodeMessage, defaultContext, encodeMessage } from "@starling/codec"
import type { Action, Event, Fsm, PeerConfig, TimerName } from "../../src/index.ts"
import { initial, step } from "../../src/index.ts"
import type { Track } from "./invariants.ts"
import { checkStep, newTrack } from "./invariants.ts"
import type { ArmedTimer } from "./timers.ts"
import { TimerModel } from "./timers.ts"

export type Side = 0 | 1

type Item =
  | { readonly kind: "confirmed" }
  | { readonly kind: "acked" }
  | { readonly kind: "bytes"; readonly bytes: Uint8Array }
  | { readonly kind: "fin" }

interface End {
  readonly conn: number
  /** The speaker's FSM has been told about this connection. */
  known: boolean
  /** The socket is still open on this side. */
  open: boolean
}

export interface Link {
  readonly id: number
  readonly initiator: Side
  readonly ends: [End, End]
  /** chan[s]: what is on its way to speaker s, in order. */
  readonly chan: [Item[], Item[]]
}

export interface Speaker {
  fsm: Fsm
  readonly timers: TimerModel
  readonly track: Track
  /** SendProgress reports waiting to be delivered (connection ids). */
  readonly progress: number[]
  nextIncoming: number
  readonly log: Array<{ readonly at: number; readonly event: Event; readonly actions: ReadonlyArray<Action> }>
}

export type Pending =
  | { readonly kind: "link"; readonly link: Link; readonly to: Side }
  | { readonly kind: "progress"; readonly to: Side; readonly index: number }

const other = (s: Side): Side => (s === 0 ? 1 : 0)

export class Sim {
  now = 0
  readonly speakers: [Speaker, Speaker]
  readonly links: Link[] = []
  private nextLink = 1
  /**
   * How the driver scales timer durations. RFC 4271 §10 asks for jitter (a factor in [0.75, 1]) on
   * ConnectRetry and Keepalive; the simulation jitters IdleHold too, or two speakers that fail together
   * stay in lockstep, each refusing the other (Cease 5) while idle-holding. Undefined: exact timers.
   */
  jitter: ((timer: TimerName) => number) | undefined = undefined
  /** Check invariants after every step (the default). */
  check = true
  /** Every NOTIFICATION sent, as [side, code, subcode]. */
  readonly notifications: Array<readonly [Side, number, number]> = []
  readonly delivered: Array<readonly [Side, string]> = []

  constructor(a: PeerConfig, b: PeerConfig) {
    const mk = (c: PeerConfig): Speaker => ({
      fsm: initial(c),
      timers: new TimerModel(),
      track: newTrack(),
      progress: [],
      nextIncoming: 2,
      log: []
    })
    this.speakers = [mk(a), mk(b)]
  }

  /** Feeds one event to a speaker and carries out the actions. */
  event(s: Side, e: Event): ReadonlyArray<Action> {
    const sp = this.speakers[s]
    const before = sp.fsm
    const r = step(before, e)
    sp.fsm = r.fsm
    sp.timers.apply(r.actions, this.now, this.jitter)
    sp.log.push({ at: this.now, event: e, actions: r.actions })
    for (const a of r.actions) this.carryOut(s, a)
    if (this.check) checkStep(`speaker ${s} at t=${this.now} on ${e._tag}`, before, r.fsm, r.actions, sp.timers, sp.track)
    return r.actions
  }

  private endOf(s: Side, conn: number): Link | undefined {
    return this.links.find((l) => l.ends[s].conn === conn && l.ends[s].open)
  }

  private carryOut(s: Side, a: Action): void {
    const o = other(s)
    switch (a._tag) {
      case "Connect": {
        const remoteConn = this.speakers[o].nextIncoming
        this.speakers[o].nextIncoming += 2
        const link: Link = {
          id: this.nextLink++,
          initiator: s,
          ends: s === 0
            ? [{ conn: a.conn, known: true, open: true }, { conn: remoteConn, known: false, open: true }]
            : [{ conn: remoteConn, known: false, open: true }, { conn: a.conn, known: true, open: true }],
          chan: [[], []]
        }
        // TCP: the initiator's connect completes (SYN-ACK) before the acceptor's accept does (final ACK),
        // so the acceptor hears of the connection only once TcpCrAcked has been delivered.
        link.chan[s].push({ kind: "acked" })
        this.links.push(link)
        break
      }
      case "Send": {
        const link = this.endOf(s, a.conn)
        if (link === undefined) throw new Error(`speaker ${s} sends on connection ${a.conn}, which has no open socket`)
        if (a.message._tag === "Notification") this.notifications.push([s, a.message.code, a.message.subcode])
        const bytes = encodeMessage(a.message, defaultContext)
        if (Result.isFailure(bytes)) throw new Error(`encode failed: ${bytes.failure.message}`)
        link.chan[o].push({ kind: "bytes", bytes: bytes.success })
        const sp = this.speakers[s]
        if (!sp.progress.includes(a.conn)) sp.progress.push(a.conn)
        break
      }
      case "Close": {
        const link = this.endOf(s, a.conn)
        if (link === undefined) break
        link.ends[s].open = false
        if (link.ends[o].open) link.chan[o].push({ kind: "fin" })
        // Our own undelivered input dies with the socket.
        link.chan[s].length = 0
        const sp = this.speakers[s]
        const i = sp.progress.indexOf(a.conn)
        if (i >= 0) sp.progress.splice(i, 1)
        break
      }
      case "Deliver":
        this.delivered.push([s, a.message._tag])
        break
      default:
        break
    }
  }

  /** Everything that could happen next without time passing. */
  pending(): Pending[] {
    const out: Pending[] = []
    for (const link of this.links) {
      for (const to of [0, 1] as const) if (link.chan[to].length > 0) out.push({ kind: "link", link, to })
    }
    for (const to of [0, 1] as const) {
      this.speakers[to].progress.forEach((_, index) => out.push({ kind: "progress", to, index }))
    }
    return out
  }

  /** Carries out one pending delivery. */
  deliver(p: Pending): void {
    if (p.kind === "progress") {
      const sp = this.speakers[p.to]
      const [conn] = sp.progress.splice(p.index, 1)
      if (conn !== undefined) this.event(p.to, { _tag: "SendProgress", conn })
      return
    }
    const { link, to } = p
    const item = link.chan[to].shift()
    const end = link.ends[to]
    if (item === undefined || !end.open) return
    switch (item.kind) {
      case "confirmed":
        end.known = true
        this.event(to, { _tag: "TcpConnectionConfirmed", conn: end.conn })
        return
      case "acked": {
        const o = other(to)
        if (link.ends[o].open) link.chan[o].unshift({ kind: "confirmed" })
        this.event(to, { _tag: "TcpCrAcked", conn: end.conn })
        return
      }
      case "fin":
        end.open = false
        link.chan[to].length = 0
        if (end.known) this.event(to, { _tag: "TcpConnectionFails", conn: end.conn })
        return
      case "bytes": {
        if (!end.known) return
        const r = decodeMessage(item.bytes, defaultContext)
        if (Result.isFailure(r)) {
          this.event(to, { _tag: "MessageError", conn: end.conn, error: r.failure })
          return
        }
        this.event(to, messageEvent(end.conn, r.success))
        return
      }
    }
  }

  /** The next timer to fire across both speakers. */
  nextTimer(): { readonly side: Side; readonly timer: ArmedTimer } | undefined {
    let best: { side: Side; timer: ArmedTimer } | undefined
    for (const side of [0, 1] as const) {
      const t = this.speakers[side].timers.earliest()
      if (t !== undefined && (best === undefined || t.deadline < best.timer.deadline)) best = { side, timer: t }
    }
    return best
  }

  /** Moves time to `t`'s deadline (never backwards) and fires it. */
  fire(side: Side, t: ArmedTimer): void {
    this.now = Math.max(this.now, t.deadline)
    const e = this.speakers[side].timers.fire(t)
    this.event(side, e)
  }

  /** A network fault: the link breaks, data in flight is lost, both open sides see the failure. */
  breakLink(link: Link): void {
    for (const s of [0, 1] as const) {
      link.chan[s].length = 0
      if (link.ends[s].open) link.chan[s].push({ kind: "fin" })
    }
  }

  /** Raw bytes arriving on a link toward `to` (a peer sending garbage or an unexpected message). */
  inject(link: Link, to: Side, message: Message | Uint8Array): void {
    if (!link.ends[to].open) return
    let bytes: Uint8Array
    if (message instanceof Uint8Array) bytes = message
    else {
      const r = encodeMessage(message, defaultContext)
      if (Result.isFailure(r)) throw new Error(`encode failed: ${r.failure.message}`)
      bytes = r.success
    }
    link.chan[to].push({ kind: "bytes", bytes })
  }

  openLinks(): Link[] {
    return this.links.filter((l) => l.ends[0].open || l.ends[1].open)
  }

  /** The link both speakers are Established on, if they are. */
  establishedLink(): Link | undefined {
    const [a, b] = this.speakers
    const ca = a.fsm.connections.find((c) => c.state === "Established")
    const cb = b.fsm.connections.find((c) => c.state === "Established")
    if (ca === undefined || cb === undefined) return undefined
    return this.links.find((l) => l.ends[0].conn === ca.id && l.ends[1].conn === cb.id && l.ends[0].open && l.ends[1].open)
  }

  bothEstablished(): boolean {
    return this.establishedLink() !== undefined
  }

  /** Drops links both sides are done with, so the pending list stays short. */
  gc(): void {
    for (let i = this.links.length - 1; i >= 0; i--) {
      const l = this.links[i]!
      if (!l.ends[0].open && !l.ends[1].open && l.chan[0].length === 0 && l.chan[1].length === 0) this.links.splice(i, 1)
    }
  }
}

export const messageEvent = (conn: number, m: Message): Event => {
  switch (m._tag) {
    case "Open":
      return { _tag: "BgpOpen", conn, open: m }
    case "Keepalive":
      return { _tag: "KeepAliveMsg", conn }
    case "Notification":
      return { _tag: "NotifMsg", conn, notification: m }
    case "Update":
      return { _tag: "UpdateMsg", conn, update: m }
    case "RouteRefresh":
      return { _tag: "RouteRefreshMsg", conn, message: m }
  }
}

/** A small deterministic PRNG (mulberry32) for schedules that must not repeat a losing race forever. */
/** RFC 4271 §10 jitter for the timers that take it (plus IdleHold), from a random source. */
export const rfcJitter = (random: () => number) => (timer: TimerName): number =>
  timer === "ConnectRetry" || timer === "Keepalive" || timer === "IdleHold" ? 0.75 + 0.25 * random() : 1

export const prng = (seed: number): (() => number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * Runs without faults: deliveries in random order (the network is fast next to every timer), time moves
 * only when nothing is in flight. Stops when `until` holds after a step or the budget runs out.
 */
export const runCalm = (sim: Sim, random: () => number, until: () => boolean, maxTime: number, maxSteps = 20_000): boolean => {
  for (let i = 0; i < maxSteps; i++) {
    if (until()) return true
    const p = sim.pending()
    if (p.length > 0) {
      sim.deliver(p[Math.floor(random() * p.length)]!)
      continue
    }
    sim.gc()
    const t = sim.nextTimer()
    if (t === undefined || t.timer.deadline > maxTime) return until()
    sim.fire(t.side, t.timer)
  }
  return until()
}
