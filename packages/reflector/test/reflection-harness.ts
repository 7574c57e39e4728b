/**
 * Test harness for the reflection tests: Starling reflectors and plain speakers on the in-memory network
 * (virtual time), and "raw" BGP peers — a bare @starling/session peer that sends exactly the UPDATEs a test
 * builds and keeps exactly what it received, so the tests see the reflector's output on the wire (ORIGINATOR_ID,
 * CLUSTER_LIST, next hop, every other attribute) rather than through another speaker's import.
 */
import type { PathAttributes } from "@starling/codec"
import { Afi, buildAnnouncements, buildWithdrawals, formatIpv4, formatIpv6, formatPrefix, ipv6ToBytes, parseIpv4, parsePrefix, type Prefix, type Update } from "@starling/codec"
import type { MemoryNetwork, Negotiated, Peer } from "@starling/session"
import { makePeer } from "@starling/session"
import type { SpeakerApi } from "@starling/speaker"
import { Effect, Result, type Scope } from "effect"
import { TestClock } from "effect/testing"

export const AS = 65000

export const ip = (dotted: string): number => {
  const v = parseIpv4(dotted)
  if (v === undefined) throw new Error(`not an IPv4 address: ${dotted}`)
  return v
}

/** What a raw peer holds for one received route. */
export interface Received {
  /** Next hop as text (IPv4 NEXT_HOP, or the MP_REACH next hop: one or two IPv6 addresses joined by " "). */
  readonly nextHop: string
  /** Every attribute as decoded, without NEXT_HOP. */
  readonly attrs: PathAttributes
}

/** A route a raw peer announces. */
export interface RawRoute {
  readonly prefix: string
  readonly nextHop: string
  readonly attrs?: PathAttributes
  /** ADD-PATH path id (when the peer sends path ids). */
  readonly pathId?: number
}

export interface RawPeer {
  readonly name: string
  readonly address: string
  readonly routerId: string
  readonly peer: Peer
  /** Received routes by "prefix" (or "prefix#pathId" under ADD-PATH). Cleared when a new session starts. */
  readonly received: Map<string, Received>
  /** Every UPDATE received so far (all sessions). */
  readonly updates: Update[]
  /** Sessions established so far. */
  readonly sessions: () => number
  readonly negotiated: () => Negotiated | undefined
  /** Announces (and keeps announcing on every new session). */
  readonly announce: (...routes: ReadonlyArray<RawRoute>) => Effect.Effect<void>
  readonly withdraw: (...prefixes: ReadonlyArray<string>) => Effect.Effect<void>
}

const key = (p: Prefix) => (p.pathId === 0 ? formatPrefix(p) : `${formatPrefix(p)}#${p.pathId}`)

const mpNextHopText = (nh: Uint8Array): string =>
  nh.length === 4
    ? formatIpv4(((nh[0]! << 24) | (nh[1]! << 16) | (nh[2]! << 8) | nh[3]!) >>> 0)
    : nh.length === 32
    ? `${formatIpv6(nh, 0)} ${formatIpv6(nh, 16)}`
    : formatIpv6(nh, 0)

export const applyUpdate = (rib: Map<string, Received>, u: Update): void => {
  for (const p of u.withdrawn) rib.delete(key(p))
  for (const p of u.mpUnreach?.withdrawn ?? []) rib.delete(key(p))
  const { nextHop, ...rest } = u.attributes
  for (const p of u.nlri) rib.set(key(p), { nextHop: nextHop === undefined ? "?" : formatIpv4(nextHop), attrs: rest })
  const mp = u.mpReach
  if (mp !== undefined) for (const p of mp.nlri) rib.set(key(p), { nextHop: mpNextHopText(mp.nextHop), attrs: rest })
}

/** One IPv6 next hop, or "global link-local" (32 octets, RFC 2545 §3). */
const v6NextHop = (text: string): Uint8Array => {
  const parts = text.split(" ").map((a) => ipv6ToBytes(a))
  if (parts.some((b) => b === undefined)) throw new Error(`bad IPv6 next hop ${text}`)
  const out = new Uint8Array(16 * parts.length)
  parts.forEach((b, i) => out.set(b!, 16 * i))
  return out
}

const encodeRoute = (r: RawRoute, n: Negotiated): Uint8Array[] => {
  const prefix = parsePrefix(r.prefix, r.pathId ?? 0)
  if (prefix === undefined) throw new Error(`bad prefix ${r.prefix}`)
  const attrs: PathAttributes = { origin: 0, asPath: [], ...r.attrs }
  const res = prefix.afi === Afi.IPV4
    ? buildAnnouncements({ afi: 1, attributes: { ...attrs, nextHop: ip(r.nextHop) }, prefixes: [prefix] }, n.tx)
    : buildAnnouncements({ afi: 2, attributes: attrs, nextHop: v6NextHop(r.nextHop), prefixes: [prefix] }, n.tx)
  if (Result.isFailure(res)) throw new Error(`encode ${r.prefix}: ${res.failure.message}`)
  return res.success
}

export interface RawPeerOptions {
  readonly name: string
  /** Our address (the source of our connection). */
  readonly address: string
  readonly routerId: string
  readonly localAs?: number
  /** The speaker we connect to. */
  readonly remote: string
  readonly remoteAs?: number
  readonly addPath?: ReadonlyArray<{ readonly afi: number; readonly safi: number; readonly receive: boolean; readonly send: boolean }>
}

/** A raw peer that connects out (the speaker side is passive) and re-announces its routes on every session. */
export const rawPeer = (net: MemoryNetwork, o: RawPeerOptions): Effect.Effect<RawPeer, never, Scope.Scope> =>
  Effect.gen(function*() {
    const peer = yield* makePeer({
      config: {
        localAs: o.localAs ?? AS,
        peerAs: o.remoteAs ?? AS,
        localId: ip(o.routerId),
        holdTime: 30,
        connectRetryTime: 1,
        idleHoldTime: { initial: 1, max: 1 },
        ...(o.addPath === undefined ? {} : { addPath: o.addPath })
      },
      remote: { address: o.remote },
      localAddress: o.address,
      name: o.name
    }, net)
    const received = new Map<string, Received>()
    const updates: Update[] = []
    const routes = new Map<string, RawRoute>()
    let sessions = 0
    let negotiated: Negotiated | undefined
    const send = (rs: ReadonlyArray<RawRoute>) =>
      Effect.suspend(() => {
        const n = negotiated
        if (n === undefined || rs.length === 0) return Effect.void
        return peer.send(rs.flatMap((r) => encodeRoute(r, n))).pipe(Effect.ignore)
      })
    yield* Effect.forkScoped(Effect.forever(Effect.flatMap(peer.inbound, (item) => {
      switch (item._tag) {
        case "Established":
          sessions++
          negotiated = item.negotiated
          received.clear()
          return send([...routes.values()])
        case "Down":
          negotiated = undefined
          return Effect.void
        case "Messages":
          for (const m of item.messages) {
            if (m._tag !== "Update") continue
            updates.push(m)
            applyUpdate(received, m)
          }
          return Effect.void
      }
    })))
    yield* peer.start
    const rkey = (r: RawRoute) => `${r.prefix}#${r.pathId ?? 0}`
    return {
      name: o.name,
      address: o.address,
      routerId: o.routerId,
      peer,
      received,
      updates,
      sessions: () => sessions,
      negotiated: () => negotiated,
      announce: (...rs) =>
        Effect.suspend(() => {
          for (const r of rs) routes.set(rkey(r), r)
          return send(rs)
        }),
      withdraw: (...prefixes) =>
        Effect.suspend(() => {
          const ps: Prefix[] = []
          for (const s of prefixes) {
            for (const [k, r] of routes) if (r.prefix === s) routes.delete(k)
            const p = parsePrefix(s)
            if (p !== undefined) ps.push(p)
          }
          const n = negotiated
          if (n === undefined) return Effect.void
          const msgs: Uint8Array[] = []
          for (const afi of [1, 2] as const) {
            const mine = ps.filter((p) => p.afi === afi)
            if (mine.length === 0) continue
            const r = buildWithdrawals(afi, mine, n.tx)
            if (Result.isSuccess(r)) msgs.push(...r.success)
          }
          return peer.send(msgs).pipe(Effect.ignore)
        })
    }
  })

/** Advances virtual time in small steps until `check` holds (or fails the test after `maxMs`). */
export const until = (what: string, check: () => Effect.Effect<boolean> | boolean, maxMs = 30_000, stepMs = 100): Effect.Effect<void> =>
  Effect.gen(function*() {
    for (let t = 0; t <= maxMs; t += stepMs) {
      const r = check()
      if (typeof r === "boolean" ? r : yield* r) return
      yield* TestClock.adjust(`${stepMs} millis`)
    }
    return yield* Effect.die(new Error(`timed out (virtual ${maxMs} ms) waiting for ${what}`))
  })

/** Lets queued work run for a while of virtual time (to show that something does NOT arrive). */
export const idle = (ms: number, stepMs = 100): Effect.Effect<void> =>
  Effect.gen(function*() {
    for (let t = 0; t < ms; t += stepMs) yield* TestClock.adjust(`${stepMs} millis`)
  })

/** Every neighbor of the speaker is Established. */
export const allEstablished = (s: SpeakerApi): Effect.Effect<boolean> =>
  Effect.map(s.neighbors, (ns) => ns.length > 0 && ns.every((n) => n.state === "Established"))

/** Received keys, sorted. */
export const keys = (p: RawPeer): string[] => [...p.received.keys()].sort()

/** A dotted CLUSTER_LIST / ORIGINATOR_ID view of received attributes. */
export const reflection = (r: Received | undefined) =>
  r === undefined
    ? undefined
    : {
      originatorId: r.attrs.originatorId === undefined ? undefined : formatIpv4(r.attrs.originatorId),
      clusterList: r.attrs.clusterList?.map(formatIpv4)
    }
