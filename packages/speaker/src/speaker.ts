/**
 * The BGP instance: neighbors (each a session from @starling/session), one RIB owned by one fiber, and
 * export through update groups. Everything that touches the RIB runs in the RIB fiber: inbound batches
 * from sessions, API calls (as closures), timers. It takes whatever is queued, applies it, runs the
 * decision process once, and exports the changes — so work is batched per input burst, not per route.
 *
 * A slow neighbor never blocks the RIB fiber: each neighbor has its own outbound queue and sender fiber
 * (the session's writer applies TCP backpressure there). The queue is bounded by a batch count; a
 * neighbor that falls that far behind is reset with Cease/Out of Resources (RFC 4486) rather than
 * growing memory without bound.
 */
import type { Prefix, RouteRefresh, Update } from "@starling/codec"
import { Afi, buildWithdrawals, CeaseSubcode, endOfRib, ErrorCode, familyKey, formatIpv4, formatIpv6, formatPrefix, HARD_RESET_CEASES, ipv6ToBytes, parseIpv4, parsePrefix, RouteRefreshSubtype, Safi } from "@starling/codec"
import type { DecisionOptions, Explanation, Path, Policy, PrefixKey, RouteAttributes, RouteChange, Source } from "@starling/rib"
import { asPathContains, keyPrefix, Rib } from "@starling/rib"
import type { DownReason, Inbound, Negotiated, Peer, PeerListener, SessionEvent, SessionState, Transport } from "@starling/session"
import { makePeer, makePeerListener, tcpTransport } from "@starling/session"
import { Clock, Context, Data, Deferred, Effect, Fiber, Layer, PubSub, Queue, Result, Scope, Stream } from "effect"
import type { NeighborConfig, SpeakerConfig } from "./config.ts"
import type { Delivery, GroupSpec, Member, ReflectionSpec } from "./export.ts"
import { UpdateGroup } from "./export.ts"

export class ConfigError extends Data.TaggedError("ConfigError")<{ readonly path: string; readonly detail: string }> {
  override get message(): string {
    return `${this.path}: ${this.detail}`
  }
}

/** One path as the API shows it. */
export interface RouteInfo {
  readonly source: string
  readonly pathId: number
  readonly local: boolean
  readonly nextHop: string | undefined
  readonly attributes: RouteAttributes
}

/** A change of the Loc-RIB, as route-change subscribers see it. */
export type RouteEvent =
  | { readonly _tag: "Route"; readonly prefix: Prefix; readonly best: RouteInfo | undefined; readonly multipath: ReadonlyArray<RouteInfo> }
  /** Sent once, after the full table a new subscriber starts with. */
  | { readonly _tag: "EndOfTable" }

export interface NeighborStatus {
  readonly address: string
  readonly name: string
  readonly peerAs: number
  readonly state: SessionState
  readonly establishedAt?: number
  readonly routesReceived: number
  readonly routesAdvertised: number
  readonly negotiated?: Negotiated
  readonly lastDown?: DownReason
  /** UPDATE messages received and sent (End-of-RIB included) since the neighbor was added. */
  readonly updatesReceived: number
  readonly updatesSent: number
  /** The dynamic-neighbor range (prefix) this neighbor was accepted through, if any. */
  readonly dynamicRange?: string
  /**
   * The families (AFI/SAFI) whose End-of-RIB marker the neighbor has sent in this session (RFC 4724 §2): it
   * has sent its whole table for them. Empty while not Established.
   */
  readonly endOfRib: ReadonlyArray<{ readonly afi: number; readonly safi: number }>
}

/** What `reconfigureNeighbor` did for the import and the export side. */
export interface Reconfigured {
  /**
   * "soft-reconfiguration": import policy re-run over the retained pre-policy routes; "route-refresh":
   * the neighbor was asked to re-send (RFC 2918); "reset": neither was possible, the session was reset;
   * "idle": the session is not up, the change applies when it comes up.
   */
  readonly import: "unchanged" | "soft-reconfiguration" | "route-refresh" | "reset" | "idle"
  /** "re-export": the neighbor moved to the update group of its new settings, with the difference sent. */
  readonly export: "unchanged" | "re-export" | "idle"
}

/** A range of addresses whose connections are accepted without configuring each neighbor first. */
export interface DynamicNeighbors {
  /** e.g. "10.0.0.0/16" */
  readonly prefix: string
  /** The neighbor for a new remote address in the range (passive is forced); undefined refuses it. */
  readonly neighbor: (remote: { readonly address: string; readonly port: number }) => NeighborConfig | undefined
  /** At most this many neighbors from the range at once (default unlimited); read at each new connection. */
  readonly limit?: number | undefined
}

/** Hooks the route reflector plugs in (RFC 4456 loop checks and reflection rules). */
export interface ReflectionHooks {
  /** Reject a path on import (ORIGINATOR_ID/CLUSTER_LIST loops). */
  readonly rejectImport?: (nb: NeighborConfig, attrs: RouteAttributes) => boolean
  /** The group's reflection settings for a neighbor. */
  readonly groupReflection?: (nb: NeighborConfig, routerId: number, clients: (sourceId: number) => boolean) => ReflectionSpec | undefined
}

export interface SpeakerApi {
  readonly routerId: number
  readonly localAs: number
  readonly listeners: ReadonlyArray<PeerListener>
  readonly addNeighbor: (n: NeighborConfig) => Effect.Effect<void, ConfigError>
  /**
   * Ends the neighbor's session with Cease/Administrative Shutdown and the message (RFC 9003), or with
   * Administrative Reset when `end` is "restart" (it comes back with new settings): with the RFC 8538 N bit
   * exchanged the first goes as a Hard Reset (the peer drops our routes), the second stays graceful.
   */
  readonly removeNeighbor: (address: string, message?: string, end?: NeighborEnd) => Effect.Effect<void>
  readonly enableNeighbor: (address: string) => Effect.Effect<void, ConfigError>
  /** Stops the session until `enableNeighbor`; `end` as for `removeNeighbor`. */
  readonly disableNeighbor: (address: string, message?: string, end?: NeighborEnd) => Effect.Effect<void, ConfigError>
  /**
   * Changes the settings of a neighbor that do not need a new session: import and export policy,
   * allowAsIn, next hop settings, addPathSendMax, maxPrefix, name. Import changes are applied by soft
   * reconfiguration (with `retainPrePolicy`) or a ROUTE-REFRESH request; export changes by moving the
   * neighbor to its new update group and sending the difference. Other fields are ignored here.
   */
  readonly reconfigureNeighbor: (n: NeighborConfig) => Effect.Effect<Reconfigured, ConfigError>
  /**
   * Accepts connections from a range on every listener, each making a passive neighbor; such a
   * neighbor is removed again when its session ends (Kubernetes nodes that come and go).
   */
  readonly addDynamicNeighbors: (range: DynamicNeighbors) => Effect.Effect<void, ConfigError>
  /** Destinations in the Loc-RIB. */
  readonly locRibSize: Effect.Effect<number>
  /** Originate a local route (IPv4 next hop as `attributes.nextHop`, IPv6 as `mpNextHop`). */
  readonly originate: (prefix: Prefix | string, attributes?: RouteAttributes) => Effect.Effect<void, ConfigError>
  readonly withdraw: (prefix: Prefix | string) => Effect.Effect<void, ConfigError>
  /** The Loc-RIB: every destination with its best path and multipath set. */
  readonly routes: Effect.Effect<ReadonlyArray<{ readonly prefix: Prefix; readonly best: RouteInfo; readonly multipath: ReadonlyArray<RouteInfo> }>>
  readonly explain: (prefix: string) => Effect.Effect<Explanation | undefined, ConfigError>
  readonly neighbors: Effect.Effect<ReadonlyArray<NeighborStatus>>
  /** Full table, `EndOfTable`, then every change. */
  readonly changes: Stream.Stream<RouteEvent>
  readonly sessionEvents: Stream.Stream<SessionEvent>
  /** Ask a neighbor to re-send its routes (RFC 2918). */
  readonly requestRefresh: (address: string, afi?: number, safi?: number) => Effect.Effect<void, ConfigError>
  /** Waits until everything queued so far has been processed by the RIB fiber. */
  readonly settled: Effect.Effect<void>
  /** Update groups and their members (for tests and the API). */
  readonly groups: Effect.Effect<ReadonlyArray<{ readonly key: string; readonly members: number; readonly routes: number }>>
}

/** Why a neighbor's session is ended by configuration: for good ("stop") or to come back ("restart"). */
export type NeighborEnd = "stop" | "restart"

export class Speaker extends Context.Service<Speaker, SpeakerApi>()("@starling/speaker/Speaker") {
  static readonly layer = (config: SpeakerConfig, hooks: ReflectionHooks = {}): Layer.Layer<Speaker, ConfigError> =>
    Layer.effect(Speaker, makeSpeaker(config, hooks))
}

type Input =
  | { readonly _tag: "Inbound"; readonly nb: Nb; readonly item: Inbound }
  | { readonly _tag: "Call"; readonly run: () => Effect.Effect<void> }

interface Nb {
  cfg: NeighborConfig
  name: string
  readonly peer: Peer
  readonly scope: Scope.Closeable
  source: Source
  importPolicy: Policy | undefined
  exportPolicy: Policy | undefined
  exportPolicyName: string
  negotiated: Negotiated | undefined
  establishedAt: number | undefined
  lastDown: DownReason | undefined
  group: UpdateGroup | undefined
  member: Member | undefined
  /** Batches for the session on connection `conn` (the one they were encoded for). */
  readonly outbound: Queue.Queue<{ readonly conn: number; readonly messages: ReadonlyArray<Uint8Array> }>
  queued: number
  /** The connection of the session the RIB fiber has taken up (its `Established` item), while it lasts. */
  conn: number | undefined
  /** The sender fiber holds batches it took from `outbound` and has not handed to the session yet. */
  sending: boolean
  staleTimer: Fiber.Fiber<void> | undefined
  /** Families whose stale routes wait for End-of-RIB. */
  staleFamilies: Set<number>
  /** End-of-RIB markers received in this session, in order. */
  endOfRib: Array<{ readonly afi: number; readonly safi: number }>
  removed: boolean
  updatesIn: number
  updatesOut: number
  readonly dynamicRange: string | undefined
}

const addressBytes = (a: string): Uint8Array => {
  const v4 = parseIpv4(a)
  if (v4 !== undefined) return Uint8Array.of(v4 >>> 24, (v4 >>> 16) & 255, (v4 >>> 8) & 255, v4 & 255)
  return ipv6ToBytes(a) ?? new Uint8Array(0)
}

const routeInfo = (p: Path): RouteInfo => {
  const a = p.attrs.attrs
  const nh = a.mpNextHop !== undefined && a.mpNextHop.length >= 16
    ? formatIpv6(a.mpNextHop)
    : a.mpNextHop !== undefined && a.mpNextHop.length === 4
    ? formatIpv4(((a.mpNextHop[0]! << 24) | (a.mpNextHop[1]! << 16) | (a.mpNextHop[2]! << 8) | a.mpNextHop[3]!) >>> 0)
    : a.nextHop === undefined
    ? undefined
    : formatIpv4(a.nextHop)
  return { source: p.source.address, pathId: p.pathId, local: p.source.local === true, nextHop: nh, attributes: a }
}

/** RFC 4724 §4.2 / RFC 8538 §5: does this end of a session keep the routes (graceful restart)? */
const keepsRoutes = (n: Negotiated | undefined, reason: DownReason): boolean => {
  const gr = n?.gracefulRestart
  if (gr === undefined) return false
  switch (reason._tag) {
    case "ConnectionLost":
    case "HoldTimerExpired":
    case "SendHoldTimerExpired":
    case "PeerRestarted":
      return true
    case "NotificationReceived":
    case "NotificationSent": {
      // RFC 8538: with the N bit on both sides, NOTIFICATIONs other than Hard Reset are graceful too.
      const hard = reason.notification.code === ErrorCode.CEASE && reason.notification.subcode === CeaseSubcode.HARD_RESET
      return gr.notification && !hard
    }
    case "AutomaticStop":
      // Our own Cease (RFC 8538 §4): graceful unless it is one that went out as a Hard Reset.
      return gr.notification && !HARD_RESET_CEASES.has(reason.subcode)
    default:
      return false
  }
}

export const makeSpeaker = (config: SpeakerConfig, hooks: ReflectionHooks = {}): Effect.Effect<SpeakerApi, ConfigError, Scope.Scope> =>
  Effect.gen(function*() {
    const routerId = parseIpv4(config.routerId)
    if (routerId === undefined || routerId === 0) return yield* new ConfigError({ path: "routerId", detail: `not a non-zero IPv4 address: ${config.routerId}` })
    if (!Number.isInteger(config.localAs) || config.localAs < 1 || config.localAs > 0xffffffff) {
      return yield* new ConfigError({ path: "localAs", detail: `not an AS number: ${config.localAs}` })
    }
    const transport = config.transport ?? tcpTransport
    const decision: DecisionOptions = config.decision ?? {}
    const rib = new Rib({ ...decision, ...(config.retainPrePolicy === undefined ? {} : { retainPrePolicy: config.retainPrePolicy }) })
    const scope = yield* Effect.scope
    const inputs = yield* Queue.bounded<Input>(1024)
    const routeEvents = yield* PubSub.unbounded<RouteEvent>()
    let routeSubscribers = 0
    const sessionEvents = yield* PubSub.unbounded<SessionEvent>()
    const neighbors = new Map<string, Nb>()
    const groups = new Map<string, UpdateGroup>()
    const maxQueued = config.maxQueuedBatches ?? 100_000
    let nextSourceId = 1
    const localSource: Source = {
      id: 0,
      address: "local",
      addressBytes: new Uint8Array(0),
      asn: config.localAs,
      bgpId: routerId,
      internal: true,
      local: true
    }

    // -------------------------------------------------------------------------------------------------
    // Listeners

    const listeners: PeerListener[] = []
    for (const [i, l] of (config.listen ?? []).entries()) {
      const listener = yield* makePeerListener(transport, { address: l.address, port: l.port ?? 179 }).pipe(
        Effect.mapError((e) => new ConfigError({ path: `listen[${i}]`, detail: e.message }))
      )
      listeners.push(listener)
    }

    const call = <A>(f: () => A | Effect.Effect<A>): Effect.Effect<A> =>
      Effect.gen(function*() {
        const d = yield* Deferred.make<A>()
        yield* Queue.offer(inputs, {
          _tag: "Call",
          run: () =>
            Effect.suspend(() => {
              const r = f()
              return Effect.isEffect(r) ? Effect.flatMap(r as Effect.Effect<A>, (a) => Deferred.succeed(d, a)) : Deferred.succeed(d, r as A)
            }).pipe(Effect.asVoid)
        })
        return yield* Deferred.await(d)
      })

    // -------------------------------------------------------------------------------------------------
    // Export

    const policyId = new Map<Policy, number>()
    const policyName = (p: Policy | undefined, name: string | undefined): string => {
      if (p === undefined) return "-"
      if (name !== undefined) return `name:${name}`
      let id = policyId.get(p)
      if (id === undefined) policyId.set(p, (id = policyId.size + 1))
      return `fn:${id}`
    }

    const groupSpec = (nb: Nb, n: Negotiated): GroupSpec => {
      const internal = n.peerAs === config.localAs
      const local = nb.peer.localAddress()
      const localV4 = nb.cfg.localAddress !== undefined ? parseIpv4(nb.cfg.localAddress) : local === undefined ? undefined : parseIpv4(local)
      const v6 = nb.cfg.nextHopV6 !== undefined ? ipv6ToBytes(nb.cfg.nextHopV6) : local !== undefined && local.includes(":") ? ipv6ToBytes(local) : undefined
      const reflection = hooks.groupReflection?.(nb.cfg, routerId, (id) => {
        for (const x of neighbors.values()) if (x.source.id === id) return x.cfg.routeReflectorClient === true
        return false
      })
      const key = JSON.stringify([
        nb.exportPolicyName,
        internal,
        internal ? 0 : n.peerAs,
        nb.cfg.nextHopSelf ?? false,
        localV4 ?? null,
        v6 === undefined ? null : [...v6],
        n.tx.as4,
        n.tx.extendedMessage,
        [...n.tx.addPath].sort(),
        n.families.map((f) => familyKey(f.afi, f.safi)).sort(),
        reflection === undefined ? null : [reflection.client, reflection.clusterId],
        addPathMax(nb)
      ])
      return {
        key,
        internal,
        localAs: config.localAs,
        peerAs: n.peerAs,
        nextHopSelf: nb.cfg.nextHopSelf ?? false,
        ...(localV4 === undefined ? {} : { localAddressV4: localV4 }),
        ...(v6 === undefined ? {} : { nextHopV6: v6 }),
        ...(nb.exportPolicy === undefined ? {} : { exportPolicy: nb.exportPolicy }),
        requirePolicy: config.ebgpRequiresPolicy ?? true,
        tx: n.tx,
        families: n.families,
        ...(reflection === undefined ? {} : { reflection }),
        neighbor: { address: nb.cfg.address, asn: n.peerAs },
        addPathMax: n.tx.addPath.size > 0 ? addPathMax(nb) : 1
      }
    }

    const addPathMax = (nb: Nb): number => nb.cfg.addPathSendMax ?? Infinity

    const enqueue = (nb: Nb, messages: ReadonlyArray<Uint8Array>): Effect.Effect<void> =>
      Effect.gen(function*() {
        if (messages.length === 0 || nb.member === undefined) return
        if (nb.queued >= maxQueued) {
          yield* Effect.logWarning(`${nb.name} is too slow: ${nb.queued} UPDATE batches queued; resetting the session`)
          nb.queued = 0
          yield* Queue.clear(nb.outbound)
          yield* nb.peer.reset(CeaseSubcode.OUT_OF_RESOURCES)
          return
        }
        // Nothing waiting ahead of these (only this fiber fills `outbound`): hand them to the session
        // directly when its writer has room, which saves the sender fiber's hand-off per batch. With
        // 1000 clients that is a million hand-offs for a Calico cluster to converge (bench/REPORT.md, S2).
        const conn = nb.conn
        if (conn === undefined) return
        if (nb.queued === 0 && !nb.sending && (yield* nb.peer.trySend(messages, conn))) {
          nb.updatesOut += messages.length
          return
        }
        nb.queued++
        yield* Queue.offer(nb.outbound, { conn, messages })
      })

    const sender = (nb: Nb) =>
      Effect.forever(Effect.gen(function*() {
        const batches = yield* Queue.takeAll(nb.outbound)
        nb.queued = Math.max(0, nb.queued - batches.length)
        nb.sending = true
        // One send per run of batches for the same connection (normally all of them).
        const runs: Array<{ conn: number; all: Uint8Array[] }> = []
        for (const b of batches) {
          const last = runs[runs.length - 1]
          if (last !== undefined && last.conn === b.conn) last.all.push(...b.messages)
          else runs.push({ conn: b.conn, all: [...b.messages] })
        }
        yield* Effect.forEach(runs, (r) =>
          nb.peer.send(r.all, r.conn).pipe(
            Effect.tap(() => Effect.sync(() => void (nb.updatesOut += r.all.length))),
            Effect.ignore
          ), { discard: true }).pipe(Effect.ensuring(Effect.sync(() => void (nb.sending = false))))
      }))

    /** Hands a group's encoded deltas to its members' outbound queues. */
    const deliver = (g: UpdateGroup, deliveries: ReadonlyArray<Delivery>): Effect.Effect<void> =>
      Effect.gen(function*() {
        if (deliveries.length === 0) return
        for (const nb of neighbors.values()) {
          if (nb.group !== g || nb.member === undefined || !nb.member.ready) continue
          const msgs: Uint8Array[] = []
          for (const d of deliveries) {
            if (d.only !== undefined && d.only !== nb.source.id) continue
            if (d.except !== undefined && d.except === nb.source.id) continue
            for (const m of d.messages) msgs.push(m)
          }
          yield* enqueue(nb, msgs)
        }
      })

    // MinRouteAdvertisementInterval (RFC 4271 §9.2.1.1), per update group: the first change after a quiet
    // interval goes out at once; later ones are coalesced (by destination) and flushed when the interval
    // is over, from the Loc-RIB as it is then — a destination that flapped is sent once, in its last state.
    const interval = config.advertisementIntervalMs ?? 0
    const pacing = new WeakMap<UpdateGroup, { pending: Map<PrefixKey, Prefix>; last: number; timer: boolean; due: boolean }>()
    const pace = (g: UpdateGroup, changes: ReadonlyArray<RouteChange>): Effect.Effect<void> =>
      Effect.gen(function*() {
        let p = pacing.get(g)
        if (p === undefined) pacing.set(g, p = { pending: new Map(), last: -Infinity, timer: false, due: false })
        const now = yield* Clock.currentTimeMillis
        if (!p.timer && !p.due && now - p.last >= interval) {
          p.last = now
          return yield* deliver(g, g.apply(changes))
        }
        for (const c of changes) p.pending.set(c.key, c.prefix)
        if (p.timer || p.due) return
        p.timer = true
        const state = p
        yield* Effect.forkIn(
          Effect.sleep(Math.max(0, p.last + interval - now)).pipe(
            Effect.andThen(Queue.offer(inputs, { _tag: "Call", run: () => Effect.sync(() => void ((state.timer = false), (state.due = true))) })),
            Effect.asVoid
          ),
          scope
        )
      })
    /** Sends what waited for the interval (after the batch's changes are committed). */
    const flushDue = (): Effect.Effect<void> =>
      Effect.gen(function*() {
        if (interval <= 0) return
        for (const g of groups.values()) {
          const p = pacing.get(g)
          if (p === undefined || !p.due) continue
          p.due = false
          p.last = yield* Clock.currentTimeMillis
          const changes: RouteChange[] = []
          for (const [key, prefix] of p.pending) {
            const d = rib.get(prefix)
            const best = d?.best
            changes.push({ key, prefix, best, previous: undefined, multipath: d?.multipath ?? [], paths: d === undefined || best === undefined || !rib.allPaths ? [] : rib.ordered(d) })
          }
          p.pending.clear()
          yield* deliver(g, g.apply(changes))
        }
      })

    const exportChanges = (changes: ReadonlyArray<RouteChange>): Effect.Effect<void> =>
      Effect.gen(function*() {
        if (changes.length === 0) return
        for (const g of groups.values()) {
          if (interval > 0) yield* pace(g, changes)
          else yield* deliver(g, g.apply(changes))
        }
        // Route events only for someone listening: building them (next hops as text) for a million
        // changes nobody reads showed in profiles.
        if (routeSubscribers > 0) {
          const events: RouteEvent[] = []
          for (const c of changes) {
            events.push({ _tag: "Route", prefix: c.prefix, best: c.best === undefined ? undefined : routeInfo(c.best), multipath: c.multipath.map(routeInfo) })
          }
          yield* PubSub.publishAll(routeEvents, events)
        }
      })

    const joinGroup = (nb: Nb, n: Negotiated, endOfRib = true): Effect.Effect<void> =>
      Effect.gen(function*() {
        const spec = groupSpec(nb, n)
        let g = groups.get(spec.key)
        if (g === undefined) {
          g = new UpdateGroup(spec, rib)
          g.populate()
          groups.set(spec.key, g)
        }
        nb.group = g
        nb.member = { sourceId: nb.source.id, ready: true }
        g.members.add(nb.member)
        // The initial table, then End-of-RIB for each family (RFC 4724 §2).
        yield* enqueue(nb, g.fullTable(nb.member, endOfRib))
      })

    const leaveGroup = (nb: Nb): void => {
      const g = nb.group
      if (g !== undefined && nb.member !== undefined) {
        g.members.delete(nb.member)
        if (g.members.size === 0) {
          g.dispose()
          groups.delete(g.spec.key)
        }
      }
      nb.group = undefined
      nb.member = undefined
    }

    // -------------------------------------------------------------------------------------------------
    // Import

    const importRoute = (nb: Nb, prefix: Prefix, attrs: RouteAttributes): void => {
      const r = nb.importPolicy === undefined ? attrs : nb.importPolicy({ prefix, attrs, neighbor: { address: nb.cfg.address, asn: nb.source.asn }, localAs: config.localAs })
      if (r === undefined) rib.withdraw(nb.source, prefix)
      else rib.announce(nb.source, prefix, r)
    }

    const importUpdate = (nb: Nb, u: Update): void => {
      for (const p of u.withdrawn) {
        rib.prePolicy(nb.source, p, undefined)
        rib.withdraw(nb.source, p)
      }
      if (u.mpUnreach !== undefined) {
        for (const p of u.mpUnreach.withdrawn) {
          rib.prePolicy(nb.source, p, undefined)
          rib.withdraw(nb.source, p)
        }
      }
      const eor = endOfRib(u)
      if (eor !== undefined) {
        if (!nb.endOfRib.some((x) => x.afi === eor.afi && x.safi === eor.safi)) nb.endOfRib.push({ afi: eor.afi, safi: eor.safi })
        const f = familyKey(eor.afi, eor.safi)
        if (nb.staleFamilies.delete(f) && (eor.afi === Afi.IPV4 || eor.afi === Afi.IPV6) && eor.safi === Safi.UNICAST) {
          rib.sweepStale(nb.source, eor.afi)
        }
        return
      }
      const mp = u.mpReach
      if (u.nlri.length === 0 && (mp === undefined || mp.nlri.length === 0)) return
      let base: RouteAttributes = u.attributes
      const external = !nb.source.internal
      // RFC 4456 §8: our own route reflected back to us (ORIGINATOR_ID is our BGP Identifier) is ignored.
      const loop = asPathContains(base, config.localAs, nb.cfg.allowAsIn ?? 0) || base.originatorId === routerId || hooks.rejectImport?.(nb.cfg, base) === true
      if (external && base.localPref !== undefined) {
        // RFC 4271 §5.1.5: LOCAL_PREF from an external peer is ignored.
        const { localPref: _, ...rest } = base
        base = rest
      }
      const eBgpNoPolicy = external && (config.ebgpRequiresPolicy ?? true) && nb.importPolicy === undefined
      const handle = (prefix: Prefix, attrs: RouteAttributes) => {
        rib.prePolicy(nb.source, prefix, attrs)
        // RFC 4271 §9.1.2: a path holding our AS is a loop (treated as a withdrawal); RFC 8212: no policy, nothing.
        if (loop || eBgpNoPolicy) rib.withdraw(nb.source, prefix)
        else importRoute(nb, prefix, attrs)
      }
      if (u.nlri.length > 0) {
        if (nb.importPolicy === undefined && !loop && !eBgpNoPolicy && config.retainPrePolicy !== true) {
          // Fast path: one interned set for the whole UPDATE.
          const set = rib.attrs.intern(base)
          for (const p of u.nlri) rib.announce(nb.source, p, set)
          rib.attrs.release(set)
        } else for (const p of u.nlri) handle(p, base)
      }
      if (mp !== undefined && mp.nlri.length > 0) {
        const { nextHop: _, ...rest } = base
        const attrs: RouteAttributes = { ...rest, mpNextHop: mp.nextHop }
        if (nb.importPolicy === undefined && !loop && !eBgpNoPolicy && config.retainPrePolicy !== true) {
          const set = rib.attrs.intern(attrs)
          for (const p of mp.nlri) rib.announce(nb.source, p, set)
          rib.attrs.release(set)
        } else for (const p of mp.nlri) handle(p, attrs)
      }
    }

    const checkMaxPrefix = (nb: Nb): Effect.Effect<void> =>
      Effect.gen(function*() {
        const mp = nb.cfg.maxPrefix
        if (mp === undefined) return
        const n = rib.pathCount(nb.source)
        if (n <= mp.limit) return
        if (mp.action === "warn") {
          yield* Effect.logWarning(`${nb.name}: ${n} routes exceed the limit of ${mp.limit}`)
          return
        }
        yield* Effect.logWarning(`${nb.name}: ${n} routes exceed the limit of ${mp.limit}; ${mp.action === "reset" ? "resetting" : "stopping"} the session`)
        // RFC 4486: Cease/Maximum Number of Prefixes Reached either way; "stop" then disables the neighbor
        // (ManualStop once Idle sends nothing more) until it is enabled again.
        yield* nb.peer.reset(CeaseSubcode.MAXIMUM_PREFIXES_REACHED)
        if (mp.action === "stop") yield* nb.peer.stop()
      })

    const onEstablished = (nb: Nb, n: Negotiated, conn: number): Effect.Effect<void> =>
      Effect.gen(function*() {
        nb.negotiated = n
        nb.conn = conn
        nb.endOfRib = []
        nb.establishedAt = Date.now()
        nb.source = {
          id: nb.source.id,
          address: nb.cfg.address,
          addressBytes: addressBytes(nb.cfg.address),
          asn: n.peerAs,
          bgpId: n.peerId,
          internal: n.peerAs === config.localAs
        }
        // RFC 4724 §4.2: stale routes of a family the restarted peer kept no forwarding state for (F bit
        // clear, family missing, or no capability at all) are removed now, not at End-of-RIB.
        for (const afi of [Afi.IPV4, Afi.IPV6] as const) {
          const f = familyKey(afi, Safi.UNICAST)
          if (!nb.staleFamilies.has(f)) continue
          if (n.gracefulRestart?.families.some((x) => x.afi === afi && x.safi === Safi.UNICAST && x.forwarding) === true) continue
          nb.staleFamilies.delete(f)
          rib.sweepStale(nb.source, afi)
        }
        if (nb.staleTimer !== undefined) {
          yield* Fiber.interrupt(nb.staleTimer)
          nb.staleTimer = undefined
        }
        if (nb.staleFamilies.size > 0) {
          // RFC 4724 §4.2: a peer that never sends End-of-RIB does not keep stale routes forever (FRR's
          // stalepath-time, 360 s by default).
          const families = nb.staleFamilies
          nb.staleTimer = yield* Effect.forkIn(
            Effect.sleep(`${nb.cfg.gracefulRestart?.staleTime ?? 360} seconds`).pipe(
              Effect.andThen(Queue.offer(inputs, {
                _tag: "Call",
                run: () =>
                  Effect.sync(() => {
                    if (nb.staleFamilies !== families) return
                    for (const f of families) if ((f & 0xff) === Safi.UNICAST) rib.sweepStale(nb.source, (f >> 8) === Afi.IPV4 ? Afi.IPV4 : Afi.IPV6)
                    families.clear()
                  })
              })),
              Effect.asVoid
            ),
            scope
          )
        }
        yield* joinGroup(nb, n)
      })

    const onDown = (nb: Nb, reason: DownReason): Effect.Effect<void> =>
      Effect.gen(function*() {
        const n = nb.negotiated
        nb.negotiated = undefined
        nb.conn = undefined
        nb.endOfRib = []
        nb.establishedAt = undefined
        nb.lastDown = reason
        leaveGroup(nb)
        nb.queued = 0
        yield* Queue.clear(nb.outbound)
        if (keepsRoutes(n, reason) && !nb.removed) {
          // RFC 4724 §4.2: keep the routes as stale until End-of-RIB or the restart time passes.
          rib.markStale(nb.source)
          nb.staleFamilies = new Set(n!.gracefulRestart!.families.map((f) => familyKey(f.afi, f.safi)))
          if (nb.staleFamilies.size === 0) nb.staleFamilies = new Set(n!.families.map((f) => familyKey(f.afi, f.safi)))
          if (nb.staleTimer !== undefined) yield* Fiber.interrupt(nb.staleTimer)
          const seconds = Math.max(1, n!.gracefulRestart!.restartTime)
          nb.staleTimer = yield* Effect.forkIn(
            Effect.sleep(`${seconds} seconds`).pipe(
              Effect.andThen(Queue.offer(inputs, {
                _tag: "Call",
                run: () =>
                  Effect.sync(() => {
                    // Restart time over and the peer is not back: sweep everything still stale.
                    if (nb.negotiated === undefined) {
                      rib.dropSource(nb.source)
                      nb.staleFamilies.clear()
                    }
                  })
              })),
              Effect.asVoid
            ),
            scope
          )
        } else rib.dropSource(nb.source)
      })

    const processInbound = (nb: Nb, item: Inbound): Effect.Effect<void> =>
      Effect.gen(function*() {
        if (nb.removed) return
        switch (item._tag) {
          case "Established":
            return yield* onEstablished(nb, item.negotiated, item.conn)
          case "Down":
            return yield* onDown(nb, item.reason)
          case "Messages": {
            for (const m of item.messages) {
              if (m._tag === "Update") {
                nb.updatesIn++
                importUpdate(nb, m)
              } else yield* onRefreshRequest(nb, m)
            }
            return yield* checkMaxPrefix(nb)
          }
        }
      })

    /** RFC 2918 / RFC 7313: the neighbor asks for our routes again: re-send the Adj-RIB-Out. */
    const onRefreshRequest = (nb: Nb, m: RouteRefresh): Effect.Effect<void> =>
      Effect.gen(function*() {
        if (m.subtype !== RouteRefreshSubtype.NORMAL || nb.group === undefined || nb.member === undefined) return
        // RFC 2918 §4: a family not negotiated is ignored; only unicast is kept in the Adj-RIB-Out.
        if (m.safi !== Safi.UNICAST || nb.negotiated?.families.some((f) => f.afi === m.afi && f.safi === m.safi) !== true) return
        const enhanced = nb.negotiated?.enhancedRouteRefresh === true
        if (enhanced) yield* nb.peer.refresh(m.afi, m.safi, RouteRefreshSubtype.BORR).pipe(Effect.ignore)
        yield* enqueue(nb, nb.group.fullTable(nb.member, false, m.afi))
        if (enhanced) {
          // EoRR after the routes: queued behind them (the BoRR above went out as a control message).
          yield* enqueue(nb, [encodeRefreshMarker(m.afi, m.safi)])
        }
      })

    // -------------------------------------------------------------------------------------------------
    // The RIB fiber

    // One input's defect (a bug) is logged and skipped: the RIB fiber must outlive it.
    const guard = (what: string, eff: Effect.Effect<void>) =>
      eff.pipe(Effect.catchCause((cause) => Effect.logError(`RIB fiber: ${what} failed`, cause)))
    yield* Effect.forkIn(
      Effect.forever(Effect.gen(function*() {
        const batch = yield* Queue.takeAll(inputs)
        for (const input of batch) {
          if (input._tag === "Call") yield* guard("API call", input.run())
          else yield* guard(`input from ${input.nb.name}`, processInbound(input.nb, input.item))
        }
        yield* guard("export", Effect.suspend(() => exportChanges(rib.commit())))
        yield* guard("paced export", Effect.suspend(flushDue))
      })),
      scope
    )

    // -------------------------------------------------------------------------------------------------
    // Neighbors

    const resolvePolicy = (p: string | Policy | undefined, path: string): Effect.Effect<{ policy: Policy | undefined; name: string }, ConfigError> => {
      if (p === undefined) return Effect.succeed({ policy: undefined, name: "-" })
      if (typeof p === "function") return Effect.succeed({ policy: p, name: policyName(p, undefined) })
      const found = config.policies?.[p]
      if (found === undefined) return Effect.fail(new ConfigError({ path, detail: `no policy named "${p}"` }))
      return Effect.succeed({ policy: found, name: policyName(found, p) })
    }

    const addNeighbor = (cfg: NeighborConfig, path = "neighbors", dynamicRange?: string): Effect.Effect<Peer, ConfigError> =>
      Effect.gen(function*() {
        const p = `${path}[${cfg.address}]`
        if (parseIpv4(cfg.address) === undefined && ipv6ToBytes(cfg.address) === undefined) {
          return yield* new ConfigError({ path: `${p}.address`, detail: `not an IP address: ${cfg.address}` })
        }
        if (neighbors.has(cfg.address)) return yield* new ConfigError({ path: `${p}.address`, detail: "duplicate neighbor" })
        if (!Number.isInteger(cfg.peerAs) || cfg.peerAs < 1 || cfg.peerAs > 0xffffffff) {
          return yield* new ConfigError({ path: `${p}.peerAs`, detail: `not an AS number: ${cfg.peerAs}` })
        }
        if (cfg.holdTime !== undefined && cfg.holdTime !== 0 && (cfg.holdTime < 3 || cfg.holdTime > 65535)) {
          return yield* new ConfigError({ path: `${p}.holdTime`, detail: "must be 0 or 3..65535 (RFC 4271 §4.2)" })
        }
        const imp = yield* resolvePolicy(cfg.importPolicy, `${p}.importPolicy`)
        const exp = yield* resolvePolicy(cfg.exportPolicy, `${p}.exportPolicy`)
        const nbScope = yield* Scope.fork(scope)
        const peer = yield* makePeer({
          config: {
            localAs: config.localAs,
            peerAs: cfg.peerAs,
            localId: routerId,
            ...(cfg.holdTime === undefined ? {} : { holdTime: cfg.holdTime }),
            ...(cfg.keepaliveTime === undefined ? {} : { keepaliveTime: cfg.keepaliveTime }),
            ...(cfg.connectRetryTime === undefined ? {} : { connectRetryTime: cfg.connectRetryTime }),
            ...(cfg.delayOpenTime === undefined ? {} : { delayOpenTime: cfg.delayOpenTime }),
            ...(cfg.idleHoldTime === undefined ? {} : { idleHoldTime: cfg.idleHoldTime }),
            ...(cfg.passive === undefined ? {} : { passive: cfg.passive }),
            ...(cfg.families === undefined ? {} : { families: cfg.families }),
            ...(cfg.addPath === undefined ? {} : { addPath: cfg.addPath }),
            ...(cfg.gracefulRestart === undefined
              ? {}
              : { gracefulRestart: { restartTime: cfg.gracefulRestart.restartTime, ...(cfg.gracefulRestart.notification === undefined ? {} : { notification: cfg.gracefulRestart.notification }) } }),
            ...(cfg.role === undefined ? {} : { role: cfg.role })
          },
          remote: { address: cfg.address, port: cfg.port ?? 179 },
          ...(cfg.localAddress === undefined ? {} : { localAddress: cfg.localAddress }),
          ...(cfg.localPort === undefined ? {} : { localPort: cfg.localPort }),
          name: cfg.name ?? cfg.address
        }, transport).pipe(Scope.provide(nbScope))
        const nb: Nb = {
          cfg,
          name: cfg.name ?? cfg.address,
          peer,
          scope: nbScope,
          source: {
            id: nextSourceId++,
            address: cfg.address,
            addressBytes: addressBytes(cfg.address),
            asn: cfg.peerAs,
            bgpId: 0,
            internal: cfg.peerAs === config.localAs
          },
          importPolicy: imp.policy,
          exportPolicy: exp.policy,
          exportPolicyName: exp.name,
          negotiated: undefined,
          establishedAt: undefined,
          lastDown: undefined,
          group: undefined,
          member: undefined,
          outbound: yield* Queue.unbounded<{ readonly conn: number; readonly messages: ReadonlyArray<Uint8Array> }>(),
          queued: 0,
          conn: undefined,
          sending: false,
          staleTimer: undefined,
          staleFamilies: new Set(),
          endOfRib: [],
          removed: false,
          updatesIn: 0,
          updatesOut: 0,
          dynamicRange
        }
        neighbors.set(cfg.address, nb)
        // ADD-PATH send needs every path of a destination from the RIB, not just the best.
        if (cfg.addPath?.some((a) => a.send) === true) rib.allPaths = true
        for (const l of listeners) yield* l.register(peer)
        yield* Effect.forkIn(Effect.forever(Effect.flatMap(peer.inbound, (item) => Queue.offer(inputs, { _tag: "Inbound", nb, item }))), nbScope)
        yield* Effect.forkIn(sender(nb), nbScope)
        yield* Effect.forkIn(
          Effect.flatMap(peer.events, (sub) =>
            Effect.forever(Effect.flatMap(PubSub.take(sub), (e) =>
              Effect.andThen(
                PubSub.publish(sessionEvents, e),
                // A dynamic neighbor lives as long as its session: back to Idle, it goes.
                dynamicRange !== undefined && e._tag === "StateChanged" && e.to === "Idle" && !nb.removed
                  ? Effect.forkIn(removeNeighbor(cfg.address, "dynamic neighbor gone"), scope)
                  : Effect.void
              )))).pipe(
            Scope.provide(nbScope)
          ),
          nbScope
        )
        if (cfg.enabled ?? true) yield* peer.start
        return peer
      })

    /** Administrative Reset to come back, then ManualStop (in Idle by then: nothing more on the wire). */
    const endSession = (peer: Peer, message: string | undefined, end: NeighborEnd): Effect.Effect<void> =>
      end === "restart"
        ? Effect.andThen(peer.reset(CeaseSubcode.ADMINISTRATIVE_RESET, message ?? "neighbor restarted"), peer.stop())
        : peer.stop(message)

    function removeNeighbor(address: string, message?: string, end: NeighborEnd = "stop"): Effect.Effect<void> {
      return Effect.gen(function*() {
        const nb = neighbors.get(address)
        if (nb === undefined || nb.removed) return
        yield* endSession(nb.peer, message ?? "neighbor removed", end)
        yield* Effect.sleep("50 millis")
        for (const l of listeners) yield* l.unregister(nb.peer)
        yield* call(() =>
          Effect.gen(function*() {
            nb.removed = true
            leaveGroup(nb)
            rib.dropSource(nb.source)
            if (neighbors.get(address) === nb) neighbors.delete(address)
          })
        )
        yield* Scope.close(nb.scope, { _tag: "Success", value: undefined } as never)
      })
    }

    /** Soft reconfiguration inbound: import policy and loop checks again over the pre-policy routes. */
    const reimport = (nb: Nb): void => {
      const eBgpNoPolicy = !nb.source.internal && (config.ebgpRequiresPolicy ?? true) && nb.importPolicy === undefined
      for (const { prefix, attrs } of [...rib.prePolicyRoutes(nb.source)]) {
        const loop = asPathContains(attrs, config.localAs, nb.cfg.allowAsIn ?? 0) || attrs.originatorId === routerId || hooks.rejectImport?.(nb.cfg, attrs) === true
        if (loop || eBgpNoPolicy) rib.withdraw(nb.source, prefix)
        else importRoute(nb, prefix, attrs)
      }
    }

    /** What the neighbor's group has advertised to it, by prefix key (path id included under ADD-PATH). */
    const advertised = (nb: Nb): Map<string, Prefix> => {
      const out = new Map<string, Prefix>()
      const g = nb.group
      const m = nb.member
      if (g === undefined || m === undefined) return out
      for (const [k, o] of g.adjOut) if (o.from !== m.sourceId) out.set(String(k), keyPrefix(k))
      for (const [k, paths] of g.adjOutPaths) {
        for (const [id, o] of paths) if (o.from !== m.sourceId) out.set(`${String(k)}#${id}`, { ...keyPrefix(k), pathId: id })
      }
      return out
    }

    /** Re-export: the neighbor joins the group of its new settings; what it no longer gets is withdrawn. */
    const regroup = (nb: Nb, n: Negotiated): Effect.Effect<void> =>
      Effect.gen(function*() {
        const before = advertised(nb)
        leaveGroup(nb)
        yield* joinGroup(nb, n, false)
        const after = advertised(nb)
        const gone: Prefix[][] = [[], []]
        for (const [k, p] of before) if (!after.has(k)) gone[p.afi === Afi.IPV4 ? 0 : 1]!.push(p)
        const msgs: Uint8Array[] = []
        for (const [i, ps] of gone.entries()) {
          if (ps.length === 0) continue
          const r = buildWithdrawals(i === 0 ? Afi.IPV4 : Afi.IPV6, ps, n.tx)
          if (Result.isSuccess(r)) msgs.push(...r.success)
        }
        yield* enqueue(nb, msgs)
      })

    const reconfigureNeighbor = (cfg: NeighborConfig): Effect.Effect<Reconfigured, ConfigError> =>
      Effect.gen(function*() {
        const nb = yield* find(cfg.address)
        const p = `neighbors[${cfg.address}]`
        const imp = yield* resolvePolicy(cfg.importPolicy, `${p}.importPolicy`)
        const exp = yield* resolvePolicy(cfg.exportPolicy, `${p}.exportPolicy`)
        return yield* call(() =>
          Effect.gen(function*() {
            const old = nb.cfg
            const importChanged = imp.policy !== nb.importPolicy || (old.allowAsIn ?? 0) !== (cfg.allowAsIn ?? 0)
            const exportChanged = exp.name !== nb.exportPolicyName || (old.nextHopSelf ?? false) !== (cfg.nextHopSelf ?? false) ||
              old.nextHopV6 !== cfg.nextHopV6 || old.addPathSendMax !== cfg.addPathSendMax
            nb.cfg = inPlace(old, cfg)
            nb.name = nb.cfg.name ?? nb.cfg.address
            nb.importPolicy = imp.policy
            nb.exportPolicy = exp.policy
            nb.exportPolicyName = exp.name
            const n = nb.negotiated
            let importDone: Reconfigured["import"] = "unchanged"
            if (importChanged) {
              if (n === undefined) importDone = "idle"
              else if (config.retainPrePolicy === true) {
                reimport(nb)
                importDone = "soft-reconfiguration"
              } else if (n.routeRefresh) {
                for (const f of n.families) yield* nb.peer.refresh(f.afi, f.safi).pipe(Effect.ignore)
                importDone = "route-refresh"
              } else {
                yield* nb.peer.reset(CeaseSubcode.OTHER_CONFIGURATION_CHANGE, "import policy changed")
                importDone = "reset"
              }
            }
            let exportDone: Reconfigured["export"] = "unchanged"
            if (exportChanged) {
              if (n === undefined || nb.group === undefined || importDone === "reset") exportDone = "idle"
              else {
                yield* regroup(nb, n)
                exportDone = "re-export"
              }
            }
            return { import: importDone, export: exportDone }
          })
        )
      })

    for (const n of config.neighbors ?? []) yield* addNeighbor(n)

    const find = (address: string): Effect.Effect<Nb, ConfigError> => {
      const nb = neighbors.get(address)
      return nb === undefined ? Effect.fail(new ConfigError({ path: "neighbor", detail: `no neighbor ${address}` })) : Effect.succeed(nb)
    }

    const toPrefix = (p: Prefix | string): Effect.Effect<Prefix, ConfigError> => {
      if (typeof p !== "string") return Effect.succeed(p)
      const parsed = parsePrefix(p)
      return parsed === undefined ? Effect.fail(new ConfigError({ path: "prefix", detail: `not a prefix: ${p}` })) : Effect.succeed(parsed)
    }

    const api: SpeakerApi = {
      routerId,
      localAs: config.localAs,
      listeners,
      addNeighbor: (n) => Effect.asVoid(addNeighbor(n)),
      removeNeighbor,
      reconfigureNeighbor,
      addDynamicNeighbors: (range) =>
        Effect.gen(function*() {
          if (parsePrefix(range.prefix) === undefined) return yield* new ConfigError({ path: "dynamicNeighbors.prefix", detail: `not a prefix: ${range.prefix}` })
          if (listeners.length === 0) return yield* new ConfigError({ path: "listen", detail: "dynamic neighbors need a listen address" })
          const create = (remote: { readonly address: string; readonly port: number }): Effect.Effect<Peer | undefined> =>
            Effect.gen(function*() {
              const cfg = range.neighbor(remote)
              if (cfg === undefined || neighbors.has(remote.address)) return undefined
              let count = 0
              for (const x of neighbors.values()) if (x.dynamicRange === range.prefix && !x.removed) count++
              if (range.limit !== undefined && count >= range.limit) {
                yield* Effect.logWarning(`refusing ${remote.address}: ${count} dynamic neighbors from ${range.prefix} already (limit)`)
                return undefined
              }
              const r = yield* Effect.result(addNeighbor({ ...cfg, address: remote.address, passive: true }, "dynamicNeighbors", range.prefix))
              if (Result.isFailure(r)) {
                yield* Effect.logWarning(`refusing ${remote.address}: ${r.failure.message}`)
                return undefined
              }
              yield* Effect.logInfo(`dynamic neighbor ${remote.address} accepted from ${range.prefix}`).pipe(Effect.annotateLogs({ peer: remote.address }))
              return r.success
            })
          for (const l of listeners) yield* l.addRange({ prefix: range.prefix, create })
        }),
      locRibSize: call(() => rib.size),
      enableNeighbor: (address) => Effect.flatMap(find(address), (nb) => nb.peer.start),
      disableNeighbor: (address, message, end = "stop") => Effect.flatMap(find(address), (nb) => endSession(nb.peer, message, end)),
      originate: (prefix, attributes = {}) =>
        Effect.gen(function*() {
          const p = yield* toPrefix(prefix)
          const a: RouteAttributes = { origin: 0, asPath: [], ...attributes }
          // Check the attributes encode (ranges, lengths) before they reach the RIB.
          yield* Effect.try({
            try: () => rib.attrs.keyOf(a),
            catch: (e) => new ConfigError({ path: "attributes", detail: e instanceof Error ? e.message : String(e) })
          })
          yield* call(() => rib.announce(localSource, p, a))
        }),
      withdraw: (prefix) => Effect.flatMap(toPrefix(prefix), (p) => call(() => rib.withdraw(localSource, p))),
      routes: call(() => [...rib.best()].map((d) => ({ prefix: d.prefix, best: routeInfo(d.best!), multipath: d.multipath.map(routeInfo) }))),
      explain: (prefix) => Effect.flatMap(toPrefix(prefix), (p) => call(() => rib.explain(p))),
      neighbors: call(() =>
        Effect.forEach([...neighbors.values()], (nb) =>
          Effect.map(nb.peer.state, (state): NeighborStatus => ({
            address: nb.cfg.address,
            name: nb.name,
            peerAs: nb.cfg.peerAs,
            state,
            ...(nb.establishedAt === undefined ? {} : { establishedAt: nb.establishedAt }),
            routesReceived: rib.pathCount(nb.source),
            routesAdvertised: nb.group === undefined || nb.member === undefined ? 0 : nb.group.advertisedTo(nb.member),
            ...(nb.negotiated === undefined ? {} : { negotiated: nb.negotiated }),
            ...(nb.lastDown === undefined ? {} : { lastDown: nb.lastDown }),
            updatesReceived: nb.updatesIn,
            updatesSent: nb.updatesOut,
            ...(nb.dynamicRange === undefined ? {} : { dynamicRange: nb.dynamicRange }),
            endOfRib: [...nb.endOfRib]
          })))
      ),
      changes: Stream.unwrap(Effect.gen(function*() {
        const sub = yield* Deferred.make<{ snapshot: RouteEvent[]; subscription: PubSub.Subscription<RouteEvent> }>()
        const outer = yield* Effect.scope
        yield* Queue.offer(inputs, {
          _tag: "Call",
          run: () =>
            Effect.gen(function*() {
              // Subscribe and snapshot in the same RIB step: no change can fall between the two.
              const subscription = yield* PubSub.subscribe(routeEvents).pipe(Scope.provide(outer))
              routeSubscribers++
              yield* Scope.addFinalizer(outer, Effect.sync(() => void routeSubscribers--))
              const snapshot: RouteEvent[] = [...rib.best()].map((d) => ({ _tag: "Route", prefix: d.prefix, best: routeInfo(d.best!), multipath: d.multipath.map(routeInfo) }))
              yield* Deferred.succeed(sub, { snapshot, subscription })
            })
        })
        const { snapshot, subscription } = yield* Deferred.await(sub)
        return Stream.concat(Stream.fromArray([...snapshot, { _tag: "EndOfTable" } as const]), Stream.fromSubscription(subscription))
      })),
      sessionEvents: Stream.fromPubSub(sessionEvents),
      requestRefresh: (address, afi = Afi.IPV4, safi = Safi.UNICAST) =>
        Effect.flatMap(find(address), (nb) => nb.peer.refresh(afi, safi).pipe(Effect.mapError((e) => new ConfigError({ path: "neighbor", detail: e.message })))),
      settled: call(() => undefined),
      groups: call(() => [...groups.values()].map((g) => ({ key: g.spec.key, members: g.members.size, routes: g.adjOut.size })))
    }
    return api
  })

/** `old` with the fields `reconfigureNeighbor` may change in place taken from `next` (absent ones removed). */
const inPlace = (old: NeighborConfig, next: NeighborConfig): NeighborConfig => {
  const out: Record<string, unknown> = { ...old }
  for (const k of ["name", "importPolicy", "exportPolicy", "allowAsIn", "nextHopSelf", "nextHopV6", "addPathSendMax", "maxPrefix"] as const) {
    if (next[k] === undefined) delete out[k]
    else out[k] = next[k]
  }
  return out as unknown as NeighborConfig
}

const encodeRefreshMarker = (afi: number, safi: number): Uint8Array => {
  const b = new Uint8Array(23)
  b.fill(0xff, 0, 16)
  b[17] = 23
  b[18] = 5
  b[19] = afi >> 8
  b[20] = afi & 0xff
  b[21] = RouteRefreshSubtype.EORR
  b[22] = safi
  return b
}

export { formatPrefix }
