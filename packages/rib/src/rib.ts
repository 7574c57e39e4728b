/**
 * The routing information bases: one Adj-RIB-In per source (post-policy, optionally pre-policy too), the
 * Loc-RIB of destinations with their best path and multipath set. Plain mutable maps owned by one
 * caller (the speaker's RIB fiber) — no locks, no Effect. Changes are batched: announcements and
 * withdrawals mark destinations dirty; `commit` runs the decision process once per dirty destination and
 * returns what changed.
 */
import type { Prefix } from "@starling/codec"
import { formatPrefix } from "@starling/codec"
import type { AttrSet, RouteAttributes } from "./attrset.ts"
import { AttrTable } from "./attrset.ts"
import type { Decision, DecisionOptions, Loss, Path, Source, Step } from "./decision.ts"
import { canonicalPathOrder, compare, decide } from "./decision.ts"
import type { PrefixKey } from "./keys.ts"
import { prefixKey } from "./keys.ts"

export interface Destination {
  readonly key: PrefixKey
  readonly prefix: Prefix
  readonly paths: RibPath[]
  best: Path | undefined
  multipath: ReadonlyArray<Path>
}

export interface RouteChange {
  readonly key: PrefixKey
  readonly prefix: Prefix
  /** The new best path; undefined when the destination has no usable path any more. */
  readonly best: Path | undefined
  readonly previous: Path | undefined
  readonly multipath: ReadonlyArray<Path>
  /**
   * With `allPaths`: every eligible path, best first, in decision order (for ADD-PATH send, RFC 7911).
   * Otherwise empty.
   */
  readonly paths: ReadonlyArray<RibPath>
}

export interface RibOptions extends DecisionOptions {
  /** Keep what each source sent before import policy (soft reconfiguration inbound). */
  readonly retainPrePolicy?: boolean
  /**
   * Report a change whenever any path of a destination changes, with all paths in decision order
   * (needed to send several paths per prefix with ADD-PATH).
   */
  readonly allPaths?: boolean
}

/** One path's place in an explanation. */
export interface ExplainedPath {
  readonly source: string
  readonly pathId: number
  readonly best: boolean
  readonly multipath: boolean
  readonly stale: boolean
  /** Why it is not the best: the step, and who beat it there. */
  readonly lostAt?: Step
  readonly lostTo?: string
  readonly attributes: RouteAttributes
}

export interface Explanation {
  readonly prefix: string
  readonly paths: ReadonlyArray<ExplainedPath>
}

/** A destination as the RIB keeps it: `queued` while it waits in the dirty list for `commit`. */
interface Dest extends Destination {
  queued: boolean
}

const NO_PATHS: ReadonlyArray<Path> = []

/** Adj-RIB-In key: the prefix key, with the path id appended under ADD-PATH. */
const adjKey = (k: PrefixKey, pathId: number): PrefixKey => (pathId === 0 ? k : `${typeof k}:${String(k)}#${pathId}`)

/**
 * A path as the RIB stores it: with the key of its destination, and a path identifier of our own that
 * stays the same while the path lives (what we send as the ADD-PATH path id, RFC 7911 §3).
 */
export interface RibPath extends Path {
  readonly key: PrefixKey
  readonly localId: number
}

/**
 * Same source, path id and attributes. The attributes are compared by interning key as well as identity:
 * a set freed and interned again within one batch (replaced, then restored) is a new object.
 */
const samePath = (a: Path | undefined, b: Path | undefined): boolean =>
  a === b ||
  (a !== undefined && b !== undefined && a.source === b.source && a.pathId === b.pathId &&
    (a.attrs === b.attrs || a.attrs.key === b.attrs.key))

const samePaths = (a: ReadonlyArray<Path>, b: ReadonlyArray<Path>): boolean => {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (!samePath(a[i], b[i])) return false
  return true
}

export class Rib {
  readonly attrs = new AttrTable()
  readonly options: RibOptions
  private readonly loc = new Map<PrefixKey, Dest>()
  private readonly adjIn = new Map<number, Map<PrefixKey, RibPath>>()
  private readonly preIn = new Map<number, Map<PrefixKey, { readonly prefix: Prefix; readonly set: AttrSet }>>()
  // Destinations touched since the last commit, in order, each once (its `queued` flag): a list, not a
  // Set — with a million routes in one batch the hashing showed in profiles.
  private dirty: Dest[] = []

  /** See `RibOptions.allPaths`; may be switched on later (a neighbor with ADD-PATH send appears). */
  allPaths: boolean

  constructor(options: RibOptions = {}) {
    this.options = options
    this.allPaths = options.allPaths === true
  }

  /** Destinations with at least one path. */
  get size(): number {
    return this.loc.size
  }

  /** Paths held from one source (its post-policy Adj-RIB-In). */
  pathCount(source: Source): number {
    return this.adjIn.get(source.id)?.size ?? 0
  }

  private adj(source: Source): Map<PrefixKey, RibPath> {
    let m = this.adjIn.get(source.id)
    if (m === undefined) {
      m = new Map()
      this.adjIn.set(source.id, m)
    }
    return m
  }

  private touch(d: Dest): void {
    if (d.queued) return
    d.queued = true
    this.dirty.push(d)
  }

  private removePath(d: Dest, p: RibPath): void {
    const i = d.paths.indexOf(p)
    if (i >= 0) {
      d.paths[i] = d.paths[d.paths.length - 1]!
      d.paths.pop()
    }
    this.attrs.release(p.attrs)
    this.touch(d)
  }

  /** Records what a source sent before policy (only with `retainPrePolicy`). */
  prePolicy(source: Source, prefix: Prefix, attrs: RouteAttributes | undefined): void {
    if (this.options.retainPrePolicy !== true) return
    let m = this.preIn.get(source.id)
    if (m === undefined) {
      m = new Map()
      this.preIn.set(source.id, m)
    }
    const k = adjKey(prefixKey(prefix), prefix.pathId)
    const old = m.get(k)
    if (old !== undefined) this.attrs.release(old.set)
    if (attrs === undefined) m.delete(k)
    else m.set(k, { prefix, set: this.attrs.intern(attrs) })
  }

  /** The pre-policy routes of a source, for re-running import policy (soft reconfiguration). */
  *prePolicyRoutes(source: Source): Generator<{ prefix: Prefix; attrs: RouteAttributes }> {
    for (const e of this.preIn.get(source.id)?.values() ?? []) yield { prefix: e.prefix, attrs: e.set.attrs }
  }

  /** Adds or replaces the path from `source` for `prefix` (post-policy attributes). */
  announce(source: Source, prefix: Prefix, attrs: RouteAttributes | AttrSet): void {
    const k = prefixKey(prefix)
    const set = "localPref" in attrs && "key" in attrs ? attrs : this.attrs.intern(attrs)
    if ("key" in attrs && set === attrs) set.refs++
    const a = this.adj(source)
    const ak = adjKey(k, prefix.pathId)
    const old = a.get(ak)
    let d = this.loc.get(k)
    let localId: number
    if (old !== undefined) {
      if (old.attrs === set && !old.stale) {
        this.attrs.release(set)
        return
      }
      localId = old.localId
      this.removePath(d!, old)
    } else {
      localId = 1
      if (d !== undefined) for (const x of d.paths) if (x.localId >= localId) localId = x.localId + 1
    }
    const p: RibPath = { source, pathId: prefix.pathId, attrs: set, stale: false, key: k, localId }
    a.set(ak, p)
    if (d === undefined) {
      // A new destination starts with exactly its one path (an empty array grows to 16 slots on push).
      d = { key: k, prefix: prefix.pathId === 0 ? prefix : { ...prefix, pathId: 0 }, paths: [p], best: undefined, multipath: NO_PATHS, queued: false }
      this.loc.set(k, d)
    } else d.paths.push(p)
    this.touch(d)
  }

  withdraw(source: Source, prefix: Prefix): void {
    const k = prefixKey(prefix)
    const a = this.adjIn.get(source.id)
    const ak = adjKey(k, prefix.pathId)
    const old = a?.get(ak)
    if (old === undefined) return
    a!.delete(ak)
    this.removePath(this.loc.get(k)!, old)
  }

  /** Session loss without graceful restart: everything from the source goes (RFC 4271 §9.1.3... §8). */
  dropSource(source: Source): void {
    const a = this.adjIn.get(source.id)
    if (a !== undefined) {
      for (const p of a.values()) {
        const d = this.loc.get(p.key)
        if (d !== undefined) this.removePath(d, p)
      }
      this.adjIn.delete(source.id)
    }
    const pre = this.preIn.get(source.id)
    if (pre !== undefined) {
      for (const e of pre.values()) this.attrs.release(e.set)
      this.preIn.delete(source.id)
    }
  }

  /** RFC 4724 §4.2: keep the routes of a restarting peer, marked stale. */
  markStale(source: Source): number {
    let n = 0
    for (const p of this.adjIn.get(source.id)?.values() ?? []) {
      p.stale = true
      n++
    }
    return n
  }

  /**
   * Removes the routes of `source` still stale (End-of-RIB received, or the restart timer fired); only
   * those of family `afi` when given.
   */
  sweepStale(source: Source, afi?: 1 | 2): number {
    const a = this.adjIn.get(source.id)
    if (a === undefined) return 0
    let n = 0
    for (const [ak, p] of a) {
      if (!p.stale) continue
      if (afi !== undefined && (typeof p.key === "number") !== (afi === 1)) continue
      a.delete(ak)
      const d = this.loc.get(p.key)
      if (d !== undefined) this.removePath(d, p)
      n++
    }
    return n
  }

  /** Runs the decision process for every destination touched since the last commit. */
  commit(): RouteChange[] {
    const changes: RouteChange[] = []
    const dirty = this.dirty
    this.dirty = []
    for (const d of dirty) {
      d.queued = false
      const previous = d.best
      const prevMulti = d.multipath
      let decision: Decision | undefined
      if (d.paths.length === 0) {
        d.best = undefined
        d.multipath = []
        this.loc.delete(d.key)
      } else if (d.paths.length === 1 && this.options.igpCost === undefined) {
        d.best = d.paths[0]
        d.multipath = d.paths.slice()
      } else {
        decision = decide(d.paths, this.options)
        d.best = decision.best
        d.multipath = decision.multipath
      }
      const multiChanged = !samePaths(d.multipath, prevMulti)
      if (this.allPaths) {
        changes.push({ key: d.key, prefix: d.prefix, best: d.best, previous, multipath: d.multipath, paths: this.ordered(d) })
      } else if (!samePath(previous, d.best) || multiChanged) {
        changes.push({ key: d.key, prefix: d.prefix, best: d.best, previous, multipath: d.multipath, paths: [] })
      }
    }
    return changes
  }

  /** Every eligible path of a destination, best first, then in decision order. */
  ordered(d: Destination): RibPath[] {
    if (d.best === undefined) return []
    const cost = this.options.igpCost
    const eligible = cost === undefined ? d.paths.slice() : d.paths.filter((p) => cost(p) !== undefined)
    const best = d.best
    // MED makes compare() non-transitive, so sorting by it alone depends on the input order: start
    // from the canonical order, never the arrival order.
    return eligible.sort(canonicalPathOrder).sort((a, b) =>
      a === best ? -1 : b === best ? 1 : compare(a, b, this.options, true, cost?.(a) ?? 0, cost?.(b) ?? 0).order
    )
  }

  /** The destination for a prefix (its path id is ignored). */
  get(prefix: Prefix): Destination | undefined {
    return this.loc.get(prefixKey(prefix))
  }

  /** Best paths of the Loc-RIB. */
  *best(): Generator<Destination> {
    for (const d of this.loc.values()) if (d.best !== undefined) yield d
  }

  /** Why the best path is the best and why each other path lost. */
  explain(prefix: Prefix): Explanation | undefined {
    const d = this.get(prefix)
    if (d === undefined) return undefined
    const decision = decide(d.paths, this.options)
    const lossOf = new Map<Path, Loss>(decision.losses.map((l) => [l.path, l]))
    const name = (p: Path) => `${p.source.address}${p.pathId === 0 ? "" : `#${p.pathId}`}`
    // Best first, then the rest of the multipath set, then the others by peer address: never the order
    // the paths arrived in.
    const rank = (p: Path) => (p === decision.best ? 0 : decision.multipath.includes(p) ? 1 : 2)
    const ordered = d.paths.slice().sort((a, b) => rank(a) - rank(b) || canonicalPathOrder(a, b))
    return {
      prefix: formatPrefix(d.prefix),
      paths: ordered.map((p) => {
        const l = lossOf.get(p)
        return {
          source: p.source.address,
          pathId: p.pathId,
          best: p === decision.best,
          multipath: decision.multipath.includes(p),
          stale: p.stale,
          ...(l === undefined ? {} : { lostAt: l.step }),
          ...(l?.to === undefined ? {} : { lostTo: name(l.to) }),
          attributes: p.attrs.attrs
        }
      })
    }
  }
}
