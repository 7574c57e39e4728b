/**
 * S3 cluster plans and the speakers that run them: M Starling node speakers (Calico nodes, each
 * originating k pod blocks) in a full iBGP mesh, or as clients of one or of two route reflectors. The same
 * plan runs over TCP on loopback (bench/dut/mesh-node.ts, one process per host) and in one process over
 * the in-memory network in virtual time (bench/lab/mesh-sim.ts).
 *
 * Equivalent timers everywhere: hold 90 s, connect retry 1 s, idle hold 1 s doubling to 10 s, no
 * advertisement interval. In the mesh the lower-numbered node of each pair waits (passive) and the other
 * connects; clients connect to their reflectors; the second reflector connects to the first (non-clients
 * of each other, distinct cluster ids).
 */
import type { Prefix } from "@starling/codec"
import { formatPrefix } from "@starling/codec"
import { makeReflector } from "@starling/reflector"
import type { NeighborConfig, SpeakerApi, SpeakerConfig } from "@starling/speaker"
import { makeSpeaker } from "@starling/speaker"
import type { Conn, Transport } from "@starling/session"
import { Effect, Scope, Stream } from "effect"

export type Topology = "mesh" | "rr1" | "rr2"
export const TOPOLOGIES: ReadonlyArray<Topology> = ["mesh", "rr1", "rr2"]

export const CLUSTER_AS = 64512

export interface ClusterSpec {
  readonly topology: Topology
  readonly nodes: number
  readonly perNode: number
  /** Address of node i (0-based) and of reflector r. */
  readonly nodeAddress: (i: number) => string
  readonly rrAddress: (r: number) => string
  readonly port: number
}

export interface SpeakerPlan {
  readonly id: string
  readonly kind: "node" | "rr"
  readonly config: SpeakerConfig
  /** Prefixes to originate ("10.128.0.0/26") with their next hop (u32). */
  readonly originate: ReadonlyArray<{ readonly prefix: string; readonly nextHop: number }>
}

/** The /16 for S3 over TCP: 127.82.0.0/16, or the one after STARLING_BENCH_NET (see lab/rr-run.ts). */
const MESH_NET = Number(process.env["STARLING_BENCH_NET"] ?? 81) + 1

/** Real loopback addresses for S3 over TCP: nodes from 127.<net>.1.1, reflectors 127.<net>.0.1 and .2. */
export const loopbackAddresses = {
  nodeAddress: (i: number) => `127.${MESH_NET}.${1 + Math.floor(i / 250)}.${1 + (i % 250)}`,
  rrAddress: (r: number) => `127.${MESH_NET}.0.${r + 1}`
}

const ip = (n: number) => `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`
const BLOCKS = (10 << 24 | 128 << 16) >>> 0
const NODE_NH = (100 << 24 | 64 << 16) >>> 0

export const reflectors = (t: Topology): number => (t === "mesh" ? 0 : t === "rr1" ? 1 : 2)

/** BGP sessions the topology needs. */
export const sessionCount = (t: Topology, m: number): number =>
  t === "mesh" ? (m * (m - 1)) / 2 : t === "rr1" ? m : 2 * m + 1

/** Routes every speaker holds once converged. */
export const expectedRoutes = (c: ClusterSpec): number => c.nodes * c.perNode

export const planCluster = (c: ClusterSpec): SpeakerPlan[] => {
  const nb = (address: string, local: string, passive: boolean, extra: Partial<NeighborConfig> = {}): NeighborConfig => ({
    address,
    port: c.port,
    peerAs: CLUSTER_AS,
    localAddress: local,
    passive,
    holdTime: 90,
    connectRetryTime: 1,
    idleHoldTime: { initial: 1, max: 10 },
    families: [{ afi: 1, safi: 1 }],
    enabled: false,
    ...extra
  })
  const plans: SpeakerPlan[] = []
  const rrs = reflectors(c.topology)
  for (let i = 0; i < c.nodes; i++) {
    const me = c.nodeAddress(i)
    const neighbors: NeighborConfig[] = []
    if (c.topology === "mesh") {
      for (let j = 0; j < c.nodes; j++) if (j !== i) neighbors.push(nb(c.nodeAddress(j), me, i < j))
    } else for (let r = 0; r < rrs; r++) neighbors.push(nb(c.rrAddress(r), me, false))
    const originate = Array.from({ length: c.perNode }, (_, k) => ({
      prefix: `${ip((BLOCKS + (i * c.perNode + k) * 64) >>> 0)}/26`,
      nextHop: (NODE_NH + i + 1) >>> 0
    }))
    plans.push({
      id: `node${i}`,
      kind: "node",
      config: {
        localAs: CLUSTER_AS,
        routerId: `10.${1 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`,
        listen: [{ address: me, port: c.port }],
        neighbors
      },
      originate
    })
  }
  for (let r = 0; r < rrs; r++) {
    const me = c.rrAddress(r)
    const neighbors: NeighborConfig[] = []
    for (let i = 0; i < c.nodes; i++) neighbors.push(nb(c.nodeAddress(i), me, true, { routeReflectorClient: true }))
    if (rrs === 2) neighbors.push(nb(c.rrAddress(1 - r), me, r === 0))
    plans.push({
      id: `rr${r}`,
      kind: "rr",
      config: {
        localAs: CLUSTER_AS,
        routerId: `10.254.0.${r + 1}`,
        clusterId: `10.254.0.${r + 1}`,
        listen: [{ address: me, port: c.port }],
        neighbors
      },
      originate: []
    })
  }
  return plans
}

// -------------------------------------------------------------------------------------------------
// Running a set of planned speakers

export interface Wire {
  bytesOut: number
  writes: number
}

/** Counts the octets every connection of the transport writes. */
export const countingTransport = (inner: Transport, wire: Wire): Transport => {
  const wrap = (c: Conn): Conn => ({
    ...c,
    write: (chunks) => {
      for (const x of chunks) wire.bytesOut += x.length
      wire.writes++
      return c.write(chunks)
    }
  })
  return {
    connect: (o) => Effect.map(inner.connect(o), wrap),
    listen: (o, on) => inner.listen(o, (c) => on(wrap(c)))
  }
}

export interface Tracked {
  readonly plan: SpeakerPlan
  readonly api: SpeakerApi
  /** Destinations in the Loc-RIB, kept current from the change stream. */
  count: number
  readonly watchers: Set<(count: number) => void>
}

/** Starts the speakers (neighbors still disabled) and tracks their Loc-RIB sizes. */
export const startSpeakers = (plans: ReadonlyArray<SpeakerPlan>, transport: Transport): Effect.Effect<Tracked[], unknown, Scope.Scope> =>
  Effect.gen(function*() {
    const out: Tracked[] = []
    // The trackers live as long as the speakers (the caller's scope), not as long as this effect.
    const scope = yield* Effect.scope
    for (const plan of plans) {
      const config: SpeakerConfig = { ...plan.config, transport }
      const api = yield* (plan.kind === "rr" ? makeReflector(config) : makeSpeaker(config))
      for (const o of plan.originate) yield* api.originate(o.prefix, { nextHop: o.nextHop })
      const t: Tracked = { plan, api, count: 0, watchers: new Set() }
      const present = new Set<string>()
      const key = (p: Prefix) => formatPrefix(p)
      yield* Effect.forkIn(Stream.runForEach(api.changes, (e) =>
        Effect.sync(() => {
          if (e._tag !== "Route") return
          const k = key(e.prefix)
          if (e.best === undefined) present.delete(k)
          else present.add(k)
          if (present.size !== t.count) {
            t.count = present.size
            for (const w of t.watchers) w(t.count)
          }
        })), scope)
      out.push(t)
    }
    return out
  })

const neighborAddresses = (t: Tracked): string[] => (t.plan.config.neighbors ?? []).map((n) => n.address)

export const enableAll = (ts: ReadonlyArray<Tracked>): Effect.Effect<void> =>
  Effect.forEach(ts, (t) => Effect.forEach(neighborAddresses(t), (a) => Effect.ignore(t.api.enableNeighbor(a)), { discard: true }), { discard: true })

/** One speaker's sessions go down (Cease, administrative shutdown) or come back. */
export const setEnabled = (t: Tracked, on: boolean): Effect.Effect<void> =>
  Effect.forEach(neighborAddresses(t), (a) => Effect.ignore(on ? t.api.enableNeighbor(a) : t.api.disableNeighbor(a, "benchmark flap")), { discard: true })

export interface SpeakerStats {
  readonly id: string
  readonly established: number
  readonly updatesSent: number
  readonly updatesReceived: number
  readonly count: number
}

export const speakerStats = (t: Tracked): Effect.Effect<SpeakerStats> =>
  Effect.map(t.api.neighbors, (ns) => ({
    id: t.plan.id,
    established: ns.filter((n) => n.state === "Established").length,
    updatesSent: ns.reduce((x, n) => x + n.updatesSent, 0),
    updatesReceived: ns.reduce((x, n) => x + n.updatesReceived, 0),
    count: t.count
  }))
