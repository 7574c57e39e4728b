/**
 * The decision process: RFC 4271 §9.1.2.2 with the route-reflection tie-breaks of RFC 4456 §9. Every
 * comparison names the step that decided it, so every losing path knows why it lost.
 *
 * MED (step d) is not a total order when it is compared only between paths from the same neighbor AS,
 * so the result could depend on the order paths arrived in. We avoid that in both modes:
 * - default: the pairwise pass walks the paths in a canonical order (source address, then path id),
 *   never in arrival order;
 * - deterministic MED (BIRD, Cisco `bgp deterministic-med`): paths are grouped by neighbor AS, the best of
 *   each group is chosen with MED, then the group winners are compared without MED.
 * `alwaysCompareMed` makes MED a total order across all paths.
 */
import type { AttrSet } from "./attrset.ts"

/** Where a path came from. One per peer (and one for locally originated routes). */
export interface Source {
  /** Small integer, unique per source while it lives. */
  readonly id: number
  /** Peer address as text (display) and as bytes (the last tie-break, §9.1.2.2 g). */
  readonly address: string
  readonly addressBytes: Uint8Array
  /** The peer's AS and BGP Identifier. */
  readonly asn: number
  readonly bgpId: number
  /** Learned over iBGP (same AS). */
  readonly internal: boolean
  /** Locally originated (API, kernel): no peer. */
  readonly local?: boolean
}

export interface Path {
  readonly source: Source
  /** RFC 7911 path identifier as received (0 without ADD-PATH). */
  readonly pathId: number
  readonly attrs: AttrSet
  /** RFC 4724: kept from a restarting peer until it re-sends or the timer sweeps it. */
  stale: boolean
}

/** The steps of the decision process, in order; a losing path records the one that decided. */
export type Step =
  | "Ineligible"
  | "LocalPref"
  | "AsPathLength"
  | "Origin"
  | "Med"
  | "ExternalOverInternal"
  | "IgpCost"
  | "RouterId"
  | "ClusterListLength"
  | "PeerAddress"
  | "PathId"

export interface DecisionOptions {
  /** Compare MED between paths from different neighbor ASes too. */
  readonly alwaysCompareMed?: boolean
  /** Group by neighbor AS before comparing MED (order-independent, as BIRD). */
  readonly deterministicMed?: boolean
  /** Maximum paths in the multipath (ECMP) set; 1 disables multipath. */
  readonly maxPaths?: number
  /**
   * IGP cost to a path's next hop (§9.1.2.2 e); `undefined` means unreachable (the path is ineligible,
   * §9.1.2.1). Default: every next hop reachable at cost 0.
   */
  readonly igpCost?: (path: Path) => number | undefined
}

const cmpBytes = (a: Uint8Array, b: Uint8Array): number => {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!
  return a.length - b.length
}

/** RFC 4456 §9: ORIGINATOR_ID stands in for the BGP Identifier when present. */
const routerId = (p: Path): number => p.attrs.attrs.originatorId ?? p.source.bgpId

const clusterLength = (p: Path): number => p.attrs.attrs.clusterList?.length ?? 0

export interface Comparison {
  /** < 0: a is better; > 0: b is better; 0: equal through every step. */
  readonly order: number
  readonly step: Step
}

const EQUAL: Comparison = { order: 0, step: "PathId" }

/**
 * Compares two eligible paths step by step. `withMed` false skips step d (used between the winners of
 * different neighbor-AS groups under deterministic MED). `cost` gives the IGP cost of each path.
 */
export const compare = (a: Path, b: Path, options: DecisionOptions, withMed = true, costA = 0, costB = 0): Comparison => {
  const x = a.attrs
  const y = b.attrs
  // a) highest degree of preference (LOCAL_PREF)
  if (x.localPref !== y.localPref) return { order: y.localPref - x.localPref, step: "LocalPref" }
  // (§9.1.2.2 a) shortest AS_PATH; sets count one, confederation segments zero
  if (x.asPathLength !== y.asPathLength) return { order: x.asPathLength - y.asPathLength, step: "AsPathLength" }
  // b) lowest ORIGIN
  if (x.origin !== y.origin) return { order: x.origin - y.origin, step: "Origin" }
  // c) lowest MED, between paths from the same neighbor AS unless always-compare-med
  if (withMed && x.med !== y.med && (options.alwaysCompareMed === true || x.neighborAs === y.neighborAs)) {
    return { order: x.med < y.med ? -1 : 1, step: "Med" }
  }
  // d) eBGP over iBGP (locally originated counts as external here, as BIRD and GoBGP prefer it)
  const ea = a.source.internal && a.source.local !== true ? 1 : 0
  const eb = b.source.internal && b.source.local !== true ? 1 : 0
  if (ea !== eb) return { order: ea - eb, step: "ExternalOverInternal" }
  // e) lowest IGP cost to the next hop
  if (costA !== costB) return { order: costA - costB, step: "IgpCost" }
  // f) lowest BGP Identifier (ORIGINATOR_ID when reflected, RFC 4456 §9)
  const ra = routerId(a) >>> 0
  const rb = routerId(b) >>> 0
  if (ra !== rb) return { order: ra < rb ? -1 : 1, step: "RouterId" }
  // RFC 4456 §9: shortest CLUSTER_LIST
  const ca = clusterLength(a)
  const cb = clusterLength(b)
  if (ca !== cb) return { order: ca - cb, step: "ClusterListLength" }
  // g) lowest peer address
  const pa = cmpBytes(a.source.addressBytes, b.source.addressBytes)
  if (pa !== 0) return { order: pa, step: "PeerAddress" }
  // Same peer, several paths (ADD-PATH): lowest path id keeps it deterministic.
  if (a.pathId !== b.pathId) return { order: a.pathId - b.pathId, step: "PathId" }
  return EQUAL
}

/** Why one path is not the best. */
export interface Loss {
  readonly path: Path
  readonly step: Step
  /** The path it lost to at that step. */
  readonly to: Path | undefined
}

export interface Decision {
  readonly best: Path | undefined
  /** The equal-cost set (best first), at most `maxPaths` long. */
  readonly multipath: ReadonlyArray<Path>
  readonly losses: ReadonlyArray<Loss>
}

/**
 * The canonical order the pairwise pass walks: source address, then path id (never arrival order); the
 * source id last, for sources without a distinct address (several local ones).
 */
export const canonicalPathOrder = (a: Path, b: Path): number =>
  cmpBytes(a.source.addressBytes, b.source.addressBytes) || a.pathId - b.pathId || a.source.id - b.source.id

const MULTIPATH_STEPS: ReadonlySet<Step> = new Set(["RouterId", "ClusterListLength", "PeerAddress", "PathId"])

/** Runs the decision process over the paths of one destination. */
export const decide = (paths: ReadonlyArray<Path>, options: DecisionOptions = {}): Decision => {
  const losses: Loss[] = []
  const cost = new Map<Path, number>()
  const eligible: Path[] = []
  for (const p of paths) {
    const c = options.igpCost === undefined ? 0 : options.igpCost(p)
    if (c === undefined) losses.push({ path: p, step: "Ineligible", to: undefined })
    else {
      cost.set(p, c)
      eligible.push(p)
    }
  }
  if (eligible.length === 0) return { best: undefined, multipath: [], losses }
  eligible.sort(canonicalPathOrder)
  const cmp = (a: Path, b: Path, withMed = true) => compare(a, b, options, withMed, cost.get(a)!, cost.get(b)!)
  let best: Path
  if (options.deterministicMed === true && options.alwaysCompareMed !== true) {
    const groups = new Map<number, Path>()
    for (const p of eligible) {
      const g = groups.get(p.attrs.neighborAs)
      if (g === undefined || cmp(p, g).order < 0) groups.set(p.attrs.neighborAs, p)
    }
    const winners = [...groups.values()]
    best = winners[0]!
    for (let i = 1; i < winners.length; i++) if (cmp(winners[i]!, best, false).order < 0) best = winners[i]!
    // Both passes are total orders, so each loser can name the final best when the best beats it
    // directly, and its group's winner when it lost there on MED (which the best may not beat).
    for (const p of eligible) {
      if (p === best) continue
      const c = cmp(p, best)
      const g = groups.get(p.attrs.neighborAs)!
      if (c.order > 0 || g === p) losses.push({ path: p, step: c.step, to: best })
      else losses.push({ path: p, step: cmp(p, g).step, to: g })
    }
  } else {
    best = eligible[0]!
    for (let i = 1; i < eligible.length; i++) {
      const p = eligible[i]!
      const c = cmp(p, best)
      if (c.order < 0) {
        losses.push({ path: best, step: c.step, to: p })
        best = p
      } else losses.push({ path: p, step: c.step, to: best })
    }
    // Re-judge every loser against the final best, so each reason names the winner (a path beaten by an
    // intermediate winner may compare differently to the best when MED is involved; keep the first reason
    // only if the final best does not beat it on an earlier step).
    for (let i = 0; i < losses.length; i++) {
      const l = losses[i]!
      if (l.step === "Ineligible" || l.to === best) continue
      const c = cmp(l.path, best)
      if (c.order > 0) losses[i] = { path: l.path, step: c.step, to: best }
    }
  }
  const maxPaths = options.maxPaths ?? 1
  const multipath: Path[] = [best]
  if (maxPaths > 1) {
    for (const p of eligible) {
      if (p === best || multipath.length >= maxPaths) continue
      const c = cmp(p, best)
      if (c.order === 0 || MULTIPATH_STEPS.has(c.step)) multipath.push(p)
    }
  }
  return { best, multipath, losses }
}
