/**
 * A shared listener per local address: accepts TCP connections and hands each to the configured peer
 * whose address matches, or to a dynamic-neighbor range (a prefix plus a way to make a peer), as
 * Kubernetes nodes appear. Anything else is closed at once.
 */
import { Effect, Scope } from "effect"
import { parsePrefix, parseIpv4, parseIpv6Words } from "@starling/codec"
import type { Peer } from "./driver.ts"
import type { Conn, Endpoint, Listener, ListenOptions, Transport, TransportError } from "./transport.ts"

export interface DynamicRange {
  /** e.g. "10.0.0.0/16" or "fd00::/64" */
  readonly prefix: string
  /** Makes (and starts) a peer for a new remote address in the range; undefined refuses it. */
  readonly create: (remote: Endpoint) => Effect.Effect<Peer | undefined>
}

export interface PeerListener {
  readonly local: Endpoint
  readonly register: (peer: Peer) => Effect.Effect<void>
  readonly unregister: (peer: Peer) => Effect.Effect<void>
  readonly addRange: (range: DynamicRange) => Effect.Effect<void>
}

const words = (address: string): [number, number, number, number] | undefined => {
  const v4 = parseIpv4(address)
  if (v4 !== undefined) return [v4, 0, 0, 0]
  return parseIpv6Words(address)
}

/** Does `address` fall inside `prefix`? (Same family only.) */
export const inPrefix = (address: string, prefix: string): boolean => {
  const p = parsePrefix(prefix)
  const w = words(address)
  if (p === undefined || w === undefined) return false
  const isV4 = parseIpv4(address) !== undefined
  if ((p.afi === 1) !== isV4) return false
  const pw = [p.w0, p.w1, p.w2, p.w3]
  for (let i = 0; i < 4; i++) {
    const bits = Math.max(0, Math.min(32, p.length - i * 32))
    const mask = bits === 0 ? 0 : bits === 32 ? 0xffffffff : (0xffffffff << (32 - bits)) >>> 0
    if (((w[i]! & mask) >>> 0) !== pw[i]) return false
  }
  return true
}

export const makePeerListener = (
  transport: Transport,
  options: ListenOptions
): Effect.Effect<PeerListener, TransportError, Scope.Scope> =>
  Effect.gen(function*() {
    const peers = new Map<string, Peer>()
    const ranges: DynamicRange[] = []
    const onConnection = (conn: Conn): Effect.Effect<void> =>
      Effect.gen(function*() {
        const known = peers.get(conn.remote.address)
        if (known !== undefined) return yield* known.accept(conn)
        const range = ranges.find((r) => inPrefix(conn.remote.address, r.prefix))
        if (range !== undefined) {
          const peer = yield* range.create(conn.remote)
          if (peer !== undefined) {
            peers.set(conn.remote.address, peer)
            return yield* peer.accept(conn)
          }
        }
        yield* Effect.logDebug(`refusing connection from unknown ${conn.remote.address}`)
        yield* conn.close
      })
    const l: Listener = yield* transport.listen(options, onConnection)
    return {
      local: l.local,
      register: (peer) => Effect.sync(() => void peers.set(peer.remote.address, peer)),
      unregister: (peer) => Effect.sync(() => void peers.delete(peer.remote.address)),
      addRange: (range) => Effect.sync(() => void ranges.push(range))
    }
  })
