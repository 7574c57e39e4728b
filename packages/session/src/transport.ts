/**
 * The transport seam: how a session reaches bytes. `tcpTransport` runs over Node's `net` sockets;
 * `makeMemoryNetwork` gives an in-memory network whose connections are queues, so many speakers run in one
 * process, deterministically and in virtual time (TestClock), with the same driver.
 */
import * as net from "node:net"
import { Data, Deferred, Effect, Queue, Scope, Semaphore } from "effect"

export class TransportError extends Data.TaggedError("TransportError")<{
  readonly op: "connect" | "listen" | "read" | "write"
  readonly detail: string
}> {
  override get message(): string {
    return `${this.op}: ${this.detail}`
  }
}

export interface Endpoint {
  readonly address: string
  readonly port: number
}

/** One open byte stream. Reads and writes are Effects; closing is idempotent. */
export interface Conn {
  readonly local: Endpoint
  readonly remote: Endpoint
  /** The next chunk, or `undefined` at end of stream. */
  readonly read: Effect.Effect<Uint8Array | undefined, TransportError>
  /** Writes the chunks in order; completes when the transport can take more (backpressure). */
  readonly write: (chunks: ReadonlyArray<Uint8Array>) => Effect.Effect<void, TransportError>
  /** Half-closes after what was written has gone out, then waits (bounded) for the socket to close. */
  readonly close: Effect.Effect<void>
  /** Drops the connection at once (teardown). */
  readonly abort: Effect.Effect<void>
}

export interface ConnectOptions {
  readonly remote: Endpoint
  /** Source address (and optionally port) of the connection. */
  readonly localAddress?: string
  readonly localPort?: number
  /** Give up after this many milliseconds. */
  readonly timeoutMs: number
}

export interface ListenOptions {
  readonly address: string
  /** 0 picks a free port. */
  readonly port: number
}

export interface Listener {
  readonly local: Endpoint
}

export interface Transport {
  readonly connect: (options: ConnectOptions) => Effect.Effect<Conn, TransportError>
  /** Listens until the scope closes; `onConnection` runs for every accepted connection. */
  readonly listen: (
    options: ListenOptions,
    onConnection: (conn: Conn) => Effect.Effect<void>
  ) => Effect.Effect<Listener, TransportError, Scope.Scope>
}

// -------------------------------------------------------------------------------------------------
// TCP

const endpointOf = (address: string | undefined, port: number | undefined): Endpoint => ({
  address: (address ?? "").replace(/^::ffff:/, ""),
  port: port ?? 0
})

/** Wraps a connected `net.Socket`: reads are pulled from a small buffer of chunks (socket paused when full). */
const wrapSocket = (socket: net.Socket): Conn => {
  socket.setNoDelay(true)
  const chunks: Uint8Array[] = []
  let ended = false
  let failure: TransportError | undefined
  let waiter: (() => void) | undefined
  const wake = () => {
    const w = waiter
    waiter = undefined
    w?.()
  }
  socket.on("data", (b: Buffer) => {
    chunks.push(new Uint8Array(b.buffer, b.byteOffset, b.byteLength))
    // Backpressure toward the peer: stop reading while the session has unprocessed input.
    if (chunks.length >= 16) socket.pause()
    wake()
  })
  socket.on("end", () => {
    ended = true
    wake()
  })
  socket.on("close", () => {
    ended = true
    wake()
  })
  socket.on("error", (e) => {
    failure = new TransportError({ op: "read", detail: e.message })
    wake()
  })
  const read: Conn["read"] = Effect.callback<Uint8Array | undefined, TransportError>((resume) => {
    const attempt = (): boolean => {
      const c = chunks.shift()
      if (c !== undefined) {
        if (chunks.length < 4 && socket.isPaused()) socket.resume()
        resume(Effect.succeed(c))
        return true
      }
      if (failure !== undefined) {
        resume(Effect.fail(failure))
        return true
      }
      if (ended) {
        resume(Effect.succeed(undefined))
        return true
      }
      return false
    }
    if (!attempt()) waiter = () => void attempt()
    return Effect.sync(() => {
      waiter = undefined
    })
  })
  const write: Conn["write"] = (data) =>
    Effect.callback<void, TransportError>((resume) => {
      if (socket.destroyed || !socket.writable) {
        resume(Effect.fail(new TransportError({ op: "write", detail: "socket closed" })))
        return
      }
      socket.cork()
      let ok = true
      for (const d of data) ok = socket.write(d)
      socket.uncork()
      if (ok) {
        resume(Effect.void)
        return
      }
      const onDrain = () => {
        cleanup()
        resume(Effect.void)
      }
      const onClose = () => {
        cleanup()
        resume(Effect.fail(new TransportError({ op: "write", detail: "socket closed while writing" })))
      }
      const cleanup = () => {
        socket.off("drain", onDrain)
        socket.off("close", onClose)
      }
      socket.on("drain", onDrain)
      socket.on("close", onClose)
      return Effect.sync(cleanup)
    })
  const close: Conn["close"] = Effect.callback<void>((resume) => {
    if (socket.destroyed) {
      resume(Effect.void)
      return
    }
    // Let written data (a NOTIFICATION) go out, then make sure the socket is gone.
    const timer = setTimeout(() => socket.destroy(), 2000)
    socket.once("close", () => {
      clearTimeout(timer)
      resume(Effect.void)
    })
    socket.end()
  })
  return {
    local: endpointOf(socket.localAddress, socket.localPort),
    remote: endpointOf(socket.remoteAddress, socket.remotePort),
    read,
    write,
    close,
    abort: Effect.sync(() => void socket.destroy())
  }
}

export const tcpTransport: Transport = {
  connect: (o) =>
    Effect.callback<Conn, TransportError>((resume) => {
      const socket = net.connect({
        host: o.remote.address,
        port: o.remote.port,
        ...(o.localAddress === undefined ? {} : { localAddress: o.localAddress }),
        ...(o.localPort === undefined ? {} : { localPort: o.localPort })
      })
      const timer = setTimeout(() => {
        socket.destroy()
        resume(Effect.fail(new TransportError({ op: "connect", detail: "timed out" })))
      }, o.timeoutMs)
      socket.once("connect", () => {
        clearTimeout(timer)
        socket.removeAllListeners("error")
        resume(Effect.succeed(wrapSocket(socket)))
      })
      socket.once("error", (e) => {
        clearTimeout(timer)
        socket.destroy()
        resume(Effect.fail(new TransportError({ op: "connect", detail: e.message })))
      })
      return Effect.sync(() => {
        clearTimeout(timer)
        socket.destroy()
      })
    }),
  listen: (o, onConnection) =>
    Effect.gen(function*() {
      const scope = yield* Effect.scope
      const services = yield* Effect.context<never>()
      const sockets = new Set<net.Socket>()
      const server = net.createServer({ noDelay: true }, (socket) => {
        sockets.add(socket)
        socket.once("close", () => sockets.delete(socket))
        Effect.runForkWith(services)(onConnection(wrapSocket(socket)))
      })
      const local = yield* Effect.callback<Endpoint, TransportError>((resume) => {
        server.once("error", (e) => resume(Effect.fail(new TransportError({ op: "listen", detail: e.message }))))
        server.listen({ host: o.address, port: o.port }, () => {
          const a = server.address()
          resume(Effect.succeed(typeof a === "object" && a !== null ? endpointOf(a.address, a.port) : endpointOf(o.address, o.port)))
        })
      })
      // Stop accepting. Not waiting for `close`'s callback: it fires only once every accepted socket has
      // ended, and those belong to the peers (which close them when their own scopes close).
      yield* Scope.addFinalizer(scope, Effect.sync(() => void server.close()))
      return { local }
    })
}

// -------------------------------------------------------------------------------------------------
// In memory

/** A pipe end: chunks from the other side, `undefined` for end of stream. */
const pipe = () => Queue.unbounded<Uint8Array | undefined>()

export interface MemoryNetwork extends Transport {
  /** Breaks every connection touching `address` (a crash, a cable pulled). */
  readonly sever: (address: string) => Effect.Effect<void>
}

export interface MemoryNetworkOptions {
  /**
   * Octets in flight per direction (written, not yet read) before `write` waits, as a TCP window does; a
   * peer that stops reading then stalls its sender. Default: unbounded (writes complete at once).
   */
  readonly window?: number
}

/**
 * An in-memory network: `listen` registers an address:port, `connect` makes a pair of queues. No real I/O
 * and no real time, so it runs under TestClock. Without `window`, writes complete at once (no backpressure).
 */
export const makeMemoryNetworkWith = (options: MemoryNetworkOptions = {}): Effect.Effect<MemoryNetwork> => Effect.gen(function*() {
  const services = yield* Effect.context<never>()
  const window = options.window
  /** Credit for one direction: octets the writer may still put in flight. */
  const credit = () => (window === undefined ? Effect.succeed(undefined) : Semaphore.make(window))
  const cost = (c: Uint8Array) => Math.min(c.length, window ?? 0)
  const listeners = new Map<string, (conn: Conn) => Effect.Effect<void>>()
  const open = new Set<{ a: Endpoint; b: Endpoint; close: Effect.Effect<void> }>()
  let ephemeral = 40000
  const key = (e: Endpoint) => `${e.address}|${e.port}`

  const makeEnd = (
    local: Endpoint,
    remote: Endpoint,
    inbox: Queue.Queue<Uint8Array | undefined>,
    outbox: Queue.Queue<Uint8Array | undefined>,
    closed: Deferred.Deferred<void>,
    inCredit: Semaphore.Semaphore | undefined,
    outCredit: Semaphore.Semaphore | undefined
  ): Conn => ({
    local,
    remote,
    read: Effect.raceFirst(Queue.take(inbox), Deferred.await(closed).pipe(Effect.as(undefined))).pipe(
      Effect.tap((c) => (c === undefined || inCredit === undefined ? Effect.void : Semaphore.release(inCredit, cost(c))))
    ),
    write: (chunks) =>
      Effect.gen(function*() {
        if (yield* Deferred.isDone(closed)) return yield* new TransportError({ op: "write", detail: "connection closed" })
        for (const c of chunks) {
          if (outCredit !== undefined) {
            // Wait for the reader to make room (or for this end to be closed).
            const room = yield* Effect.raceFirst(
              Semaphore.take(outCredit, cost(c)).pipe(Effect.as(true)),
              Deferred.await(closed).pipe(Effect.as(false))
            )
            if (!room) return yield* new TransportError({ op: "write", detail: "connection closed" })
          }
          // Copy: the writer may reuse its buffers.
          Queue.offerUnsafe(outbox, c.slice())
        }
      }),
    close: Effect.gen(function*() {
      Queue.offerUnsafe(outbox, undefined)
      yield* Deferred.succeed(closed, undefined)
    }),
    abort: Effect.gen(function*() {
      Queue.offerUnsafe(outbox, undefined)
      yield* Deferred.succeed(closed, undefined)
    })
  })

  const network: MemoryNetwork = {
    connect: (o) =>
      Effect.gen(function*() {
        const accept = listeners.get(key(o.remote)) ?? listeners.get(key({ address: "0.0.0.0", port: o.remote.port }))
        if (accept === undefined) return yield* new TransportError({ op: "connect", detail: `connection refused: ${key(o.remote)}` })
        const local = { address: o.localAddress ?? "127.0.0.1", port: o.localPort ?? ephemeral++ }
        const aToB = yield* pipe()
        const bToA = yield* pipe()
        const aClosed = yield* Deferred.make<void>()
        const bClosed = yield* Deferred.make<void>()
        const aToBCredit = yield* credit()
        const bToACredit = yield* credit()
        const client = makeEnd(local, o.remote, bToA, aToB, aClosed, bToACredit, aToBCredit)
        const server = makeEnd(o.remote, local, aToB, bToA, bClosed, aToBCredit, bToACredit)
        const entry = {
          a: local,
          b: o.remote,
          close: Effect.all([client.close, server.close], { discard: true })
        }
        open.add(entry)
        Effect.runForkWith(services)(accept(server))
        return client
      }),
    listen: (o, onConnection) =>
      Effect.gen(function*() {
        const local = { address: o.address, port: o.port === 0 ? ephemeral++ : o.port }
        if (listeners.has(key(local))) return yield* new TransportError({ op: "listen", detail: `address in use: ${key(local)}` })
        listeners.set(key(local), onConnection)
        yield* Effect.addFinalizer(() => Effect.sync(() => listeners.delete(key(local))))
        return { local }
      }),
    sever: (address) =>
      Effect.gen(function*() {
        for (const e of [...open]) {
          if (e.a.address === address || e.b.address === address) {
            open.delete(e)
            yield* e.close
          }
        }
      })
  }
  return network
})

export const makeMemoryNetwork: Effect.Effect<MemoryNetwork> = makeMemoryNetworkWith()
