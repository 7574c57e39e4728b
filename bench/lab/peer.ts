/**
 * A harness BGP endpoint over node:net: connects from its own loopback address to the device under test,
 * exchanges OPEN/KEEPALIVE, then either writes pre-encoded bytes as fast as the socket takes them (the
 * generator) or counts the NLRI of every UPDATE it receives (a sink), or both (a Calico node). It never
 * decodes attributes and never builds anything while a run is timed.
 */
import * as net from "node:net"
import { performance } from "node:perf_hooks"
import { Framer, keepalive, MsgType, openMessage, PrefixCounter, type PrefixSpace, readOpen } from "./wire.ts"

export interface PeerOptions {
  readonly name: string
  readonly localAddress: string
  readonly remote: { readonly address: string; readonly port: number }
  readonly as: number
  readonly bgpId: number
  readonly holdTime: number
  /** Count announcements in this space (sinks); omit to discard what arrives. */
  readonly space?: PrefixSpace
  /** Prefixes this peer must end up holding (sinks): `complete` fires when reached. */
  readonly expect?: number
  /** The peer's own prefixes in `space` (first index, count): reflected back, they are not counted. */
  readonly own?: { readonly from: number; readonly count: number }
}

const KEEPALIVE = keepalive()

export class HarnessPeer {
  readonly options: PeerOptions
  readonly counter: PrefixCounter | undefined
  socket: net.Socket | undefined
  /** performance.now() marks. */
  connectStartedAt = 0
  establishedAt = 0
  /** When `present` last reached `expect` (0: not yet). */
  completeAt = 0
  /** Time of the last UPDATE received. */
  lastUpdateAt = 0
  bytesIn = 0
  bytesOut = 0
  peerOpen: { as: number; holdTime: number; bgpId: number } | undefined
  notification: { code: number; subcode: number } | undefined
  closed = false
  error: string | undefined
  /** Called once when the connection closes (for whatever reason). */
  onClose: (() => void) | undefined
  private expected: number | undefined
  private onComplete: (() => void) | undefined
  private keepaliveTimer: NodeJS.Timeout | undefined
  private established: { resolve: () => void; reject: (e: Error) => void } | undefined
  private gotOpen = false

  constructor(options: PeerOptions) {
    this.options = options
    this.counter = options.space === undefined ? undefined : new PrefixCounter(options.space)
    if (this.counter !== undefined && options.own !== undefined) {
      this.counter.ownFrom = options.own.from
      this.counter.ownCount = options.own.count
    }
    this.expected = options.expect
  }

  /** Sets the count to wait for (and forgets an earlier completion). */
  expectPresent(n: number): void {
    this.expected = n
    this.completeAt = 0
    this.check()
  }

  /** Resolves when `present` equals the expectation (immediately if it does now). */
  whenComplete(): Promise<void> {
    if (this.completeAt > 0) return Promise.resolve()
    return new Promise((resolve) => {
      const prev = this.onComplete
      this.onComplete = () => {
        prev?.()
        resolve()
      }
    })
  }

  private check(): void {
    const c = this.counter
    if (c === undefined || this.expected === undefined || this.completeAt > 0) return
    if (c.present === this.expected) {
      this.completeAt = performance.now()
      const f = this.onComplete
      this.onComplete = undefined
      f?.()
    }
  }

  private onMessage = (b: Uint8Array, start: number, length: number): void => {
    const type = b[start + 18]!
    if (type === MsgType.UPDATE) {
      this.lastUpdateAt = performance.now()
      if (this.counter !== undefined) {
        this.counter.update(b, start, length)
        this.check()
      }
      return
    }
    if (type === MsgType.OPEN) {
      this.peerOpen = readOpen(b.subarray(start, start + length))
      this.gotOpen = true
      this.write(KEEPALIVE)
      return
    }
    if (type === MsgType.KEEPALIVE) {
      if (this.gotOpen && this.establishedAt === 0) {
        this.establishedAt = performance.now()
        const e = this.established
        this.established = undefined
        e?.resolve()
      }
      return
    }
    if (type === MsgType.NOTIFICATION) {
      this.notification = { code: b[start + 19]!, subcode: b[start + 20]! }
      this.fail(`NOTIFICATION ${this.notification.code}/${this.notification.subcode} received`)
    }
  }

  private fail(why: string): void {
    if (this.error === undefined) this.error = why
    const e = this.established
    this.established = undefined
    e?.reject(new Error(`${this.options.name}: ${why}`))
  }

  /** Opens the TCP connection and the BGP session; resolves once Established. */
  connect(timeoutMs = 60_000): Promise<void> {
    const o = this.options
    return new Promise((resolve, reject) => {
      this.established = { resolve, reject }
      const timer = setTimeout(() => {
        this.fail(`no session within ${timeoutMs} ms`)
        this.socket?.destroy()
      }, timeoutMs)
      timer.unref()
      const framer = new Framer(this.onMessage)
      this.connectStartedAt = performance.now()
      const s = net.connect({ host: o.remote.address, port: o.remote.port, localAddress: o.localAddress, noDelay: true })
      this.socket = s
      s.on("connect", () => {
        this.write(openMessage({ as: o.as, holdTime: o.holdTime, bgpId: o.bgpId }))
      })
      s.on("data", (chunk: Buffer) => {
        this.bytesIn += chunk.length
        try {
          framer.push(chunk)
        } catch (e) {
          this.fail(String(e))
          s.destroy()
        }
      })
      s.on("error", (e) => this.fail(e.message))
      s.on("close", () => {
        this.closed = true
        clearTimeout(timer)
        if (this.keepaliveTimer !== undefined) clearInterval(this.keepaliveTimer)
        this.fail("connection closed")
        this.onClose?.()
      })
      // KEEPALIVE at a third of the hold time (RFC 4271 §4.4), so long runs keep their sessions.
      if (o.holdTime > 0) {
        this.keepaliveTimer = setInterval(() => this.write(KEEPALIVE), (o.holdTime * 1000) / 3)
        this.keepaliveTimer.unref()
      }
      void this.whenEstablished().then(() => clearTimeout(timer), () => clearTimeout(timer))
    })
  }

  private whenEstablished(): Promise<void> {
    if (this.establishedAt > 0) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const prev = this.established
      this.established = {
        resolve: () => {
          prev?.resolve()
          resolve()
        },
        reject: (e) => {
          prev?.reject(e)
          reject(e)
        }
      }
    })
  }

  /** Queues bytes on the socket; resolves when they are handed to the kernel. */
  write(bytes: Uint8Array): Promise<void> {
    const s = this.socket
    if (s === undefined || s.destroyed) return Promise.resolve()
    this.bytesOut += bytes.length
    return new Promise((resolve) => {
      s.write(bytes, () => resolve())
    })
  }

  /** A KEEPALIVE now (also wakes a router that waits for socket activity). */
  poke(): void {
    this.write(KEEPALIVE)
  }

  close(): void {
    if (this.keepaliveTimer !== undefined) clearInterval(this.keepaliveTimer)
    this.socket?.destroy()
  }
}

/** Connects peers `concurrency` at a time; resolves when all are Established (rejects on the first failure). */
export const connectAll = async (peers: ReadonlyArray<HarnessPeer>, concurrency = 64, timeoutMs = 120_000): Promise<void> => {
  let next = 0
  const worker = async () => {
    while (next < peers.length) {
      const p = peers[next++]!
      await p.connect(timeoutMs)
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, peers.length) }, worker))
}
