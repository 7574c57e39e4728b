/**
 * Order independence of the decision process (RFC 4271 §9.1.2.2 c makes MED a partial order, so a naive
 * pairwise pass depends on arrival order). Random path sets are announced in shuffled orders, with
 * commits at random points and short-lived decoys: the best path, the multipath set and the explanation
 * must be the same every time, in all three MED modes. With a total order (alwaysCompareMed, and
 * deterministic MED's two passes) the best is also checked against an independent minimum.
 */
import { describe, expect, it } from "vitest"
import fc from "fast-check"
import type { PathAttributes } from "@starling/codec"
import type { DecisionOptions, Path, Source } from "../src/index.ts"
import { compare, Rib } from "../src/index.ts"
import { ip, prefix, seq, source } from "./helpers.ts"

const PFX = prefix("203.0.113.0/24")

interface PeerSpec {
  readonly internal: boolean
  readonly bgpId: number
}

interface PathSpec {
  readonly peer: number
  readonly pathId: number
  readonly attrs: PathAttributes
}

const peerArb: fc.Arbitrary<PeerSpec> = fc.record({ internal: fc.constantFrom(false, false, true), bgpId: fc.constantFrom(1, 2, 3) })

/** Skewed toward ties on the early steps, so MED decides often and non-transitive triples occur. */
const attrsArb: fc.Arbitrary<PathAttributes> = fc
  .record({
    localPref: fc.constantFrom(100, 100, 100, 100, 200),
    neighborAs: fc.constantFrom(65001, 65002, 65003),
    extra: fc.oneof({ weight: 4, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: fc.array(fc.integer({ min: 1, max: 9 }), { maxLength: 2 }) }),
    origin: fc.constantFrom(0 as const, 0 as const, 0 as const, 0 as const, 1 as const, 2 as const),
    med: fc.constantFrom(undefined, 0, 10, 20, 30),
    originatorId: fc.constantFrom(undefined, undefined, undefined, 1, 2, 3),
    clusterList: fc.oneof({ weight: 3, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: fc.array(fc.constantFrom(7, 8), { maxLength: 2 }) }),
    nextHop: fc.integer({ min: 1, max: 4 })
  })
  .map((r) => ({
    origin: r.origin,
    asPath: [seq(r.neighborAs, ...r.extra)],
    nextHop: ip(`192.0.2.${r.nextHop}`),
    localPref: r.localPref,
    ...(r.med === undefined ? {} : { med: r.med }),
    ...(r.originatorId === undefined ? {} : { originatorId: r.originatorId }),
    ...(r.clusterList.length === 0 ? {} : { clusterList: r.clusterList })
  }))

const scenarioArb = fc
  .record({
    peers: fc.array(peerArb, { minLength: 6, maxLength: 6 }),
    paths: fc.uniqueArray(
      fc.record({ peer: fc.integer({ min: 0, max: 5 }), pathId: fc.constantFrom(0, 0, 1, 2), attrs: attrsArb }),
      { minLength: 1, maxLength: 10, selector: (p) => `${p.peer}#${p.pathId}` }
    ),
    decoys: fc.array(fc.record({ pathId: fc.integer({ min: 3, max: 5 }), peer: fc.integer({ min: 0, max: 5 }), attrs: attrsArb }), {
      maxLength: 3
    }),
    /** IGP cost per next hop (index 1..4); undefined is unreachable. */
    costs: fc.option(fc.array(fc.constantFrom(0, 0, 0, 10, 20, undefined), { minLength: 4, maxLength: 4 }), { nil: undefined }),
    maxPaths: fc.constantFrom(1, 3)
  })
  .chain((s) => {
    const n = s.paths.length + s.decoys.length
    const idx = Array.from({ length: n }, (_, i) => i)
    const order = fc.shuffledSubarray(idx, { minLength: n, maxLength: n })
    const commits = fc.array(fc.boolean(), { minLength: n, maxLength: n })
    return fc.record({ s: fc.constant(s), orders: fc.array(fc.record({ order, commits }), { minLength: 3, maxLength: 3 }) })
  })

type Mode = "default" | "deterministicMed" | "alwaysCompareMed"
const MODES: ReadonlyArray<Mode> = ["default", "deterministicMed", "alwaysCompareMed"]

const optionsFor = (mode: Mode, maxPaths: number, costs: ReadonlyArray<number | undefined> | undefined): DecisionOptions => ({
  maxPaths,
  ...(mode === "default" ? {} : { [mode]: true }),
  ...(costs === undefined ? {} : { igpCost: (p: Path) => costs[(p.attrs.attrs.nextHop! & 0xff) - 1] })
})

const name = (p: Path | undefined) => (p === undefined ? "-" : `${p.source.address}#${p.pathId}`)

const run = (
  sources: ReadonlyArray<Source>,
  paths: ReadonlyArray<PathSpec>,
  decoys: ReadonlyArray<PathSpec>,
  order: ReadonlyArray<number>,
  commits: ReadonlyArray<boolean>,
  options: DecisionOptions
) => {
  const rib = new Rib(options)
  const all = [...paths, ...decoys]
  order.forEach((i, step) => {
    const p = all[i]!
    rib.announce(sources[p.peer]!, prefix("203.0.113.0/24", p.pathId), p.attrs)
    if (commits[step] === true) rib.commit()
  })
  for (const d of decoys) rib.withdraw(sources[d.peer]!, prefix("203.0.113.0/24", d.pathId))
  rib.commit()
  const dest = rib.get(PFX)!
  return {
    rib,
    dest,
    snapshot: {
      best: name(dest.best),
      multipath: dest.multipath.map(name),
      explain: rib.explain(PFX),
      // All eligible paths in decision order (what ADD-PATH send advertises).
      ordered: rib.ordered(dest).map(name)
    }
  }
}

/** The best under a total order: the path no other eligible path beats. */
const minimum = (paths: ReadonlyArray<Path>, options: DecisionOptions, withMed: boolean): Path | undefined => {
  const cost = (p: Path) => (options.igpCost === undefined ? 0 : options.igpCost(p))
  const eligible = paths.filter((p) => cost(p) !== undefined)
  return eligible.find((p) => eligible.every((q) => q === p || compare(p, q, options, withMed, cost(p)!, cost(q)!).order < 0))
}

describe("decision process: independent of arrival order (property)", () => {
  for (const mode of MODES) {
    it(`${mode}: best, multipath and explain are the same for every announcement order`, () => {
      fc.assert(
        fc.property(scenarioArb, ({ s, orders }) => {
          const sources = s.peers.map((p, i) =>
            source({ address: `10.0.0.${i + 1}`, bgpId: p.bgpId, internal: p.internal, asn: p.internal ? 65000 : 65100 + i })
          )
          const options = optionsFor(mode, s.maxPaths, s.costs)
          const runs = orders.map((o) => run(sources, s.paths, s.decoys, o.order, o.commits, options))
          const first = runs[0]!
          for (const r of runs.slice(1)) expect(r.snapshot).toEqual(first.snapshot)

          const ex = first.snapshot.explain!
          expect(ex.paths).toHaveLength(s.paths.length)
          const eligible = first.dest.paths.filter((p) => options.igpCost === undefined || options.igpCost(p) !== undefined)
          if (eligible.length === 0) {
            expect(first.dest.best).toBeUndefined()
            return
          }
          // Exactly one best; every other path says where it lost (and to whom, unless ineligible).
          expect(ex.paths.filter((p) => p.best)).toHaveLength(1)
          for (const p of ex.paths) {
            if (p.best) expect(p.lostAt).toBeUndefined()
            else if (p.lostAt === "Ineligible") expect(p.lostTo).toBeUndefined()
            else expect(p.lostTo).toBeDefined()
          }
          expect(first.dest.multipath.length).toBeLessThanOrEqual(s.maxPaths)
          expect(first.dest.multipath[0]).toBe(first.dest.best)

          // Independent oracles where the order is total.
          if (mode === "alwaysCompareMed") {
            expect(name(first.dest.best)).toBe(name(minimum(first.dest.paths, options, true)))
          }
          if (mode === "deterministicMed") {
            const groups = new Map<number, Path[]>()
            for (const p of first.dest.paths) groups.set(p.attrs.neighborAs, [...(groups.get(p.attrs.neighborAs) ?? []), p])
            const winners = [...groups.values()].map((g) => minimum(g, options, true)).filter((p) => p !== undefined)
            expect(name(first.dest.best)).toBe(name(minimum(winners, options, false)))
          }
        }),
        { numRuns: 300 }
      )
    })
  }
})

describe("MED is not transitive: the classic triple", () => {
  // A and B come from AS 100, C from AS 200. A beats B on MED; B beats C on BGP Identifier (no MED
  // between ASes); C beats A on BGP Identifier. Pairwise "better than" is a cycle.
  const attrsA: PathAttributes = { origin: 0, asPath: [seq(100)], med: 10, nextHop: ip("192.0.2.1") }
  const attrsB: PathAttributes = { origin: 0, asPath: [seq(100)], med: 20, nextHop: ip("192.0.2.2") }
  const attrsC: PathAttributes = { origin: 0, asPath: [seq(200)], med: 0, nextHop: ip("192.0.2.3") }
  // Peer addresses put B first, then C, then A in the canonical order.
  const A = source({ address: "10.0.0.3", bgpId: 3 })
  const B = source({ address: "10.0.0.1", bgpId: 1 })
  const C = source({ address: "10.0.0.2", bgpId: 2 })
  const entries = [
    [A, attrsA],
    [B, attrsB],
    [C, attrsC]
  ] as const
  const perms = [
    [0, 1, 2],
    [0, 2, 1],
    [1, 0, 2],
    [1, 2, 0],
    [2, 0, 1],
    [2, 1, 0]
  ]

  const outcome = (options: DecisionOptions) =>
    perms.map((perm) => {
      const rib = new Rib(options)
      for (const i of perm) rib.announce(entries[i]![0], PFX, entries[i]![1])
      rib.commit()
      const ex = rib.explain(PFX)!
      return {
        best: rib.get(PFX)!.best!.source.address,
        reasons: Object.fromEntries(ex.paths.map((p) => [p.source, p.best ? "best" : `${p.lostAt} to ${p.lostTo}`]))
      }
    })

  it("is a cycle pairwise", () => {
    const rib = new Rib()
    const path = (s: Source, a: PathAttributes): Path => ({ source: s, pathId: 0, attrs: rib.attrs.intern(a), stale: false })
    const [pa, pb, pc] = [path(A, attrsA), path(B, attrsB), path(C, attrsC)]
    expect(compare(pa, pb, {})).toEqual({ order: -1, step: "Med" })
    expect(compare(pb, pc, {})).toMatchObject({ step: "RouterId" })
    expect(compare(pb, pc, {}).order).toBeLessThan(0)
    expect(compare(pc, pa, {})).toMatchObject({ step: "RouterId" })
    expect(compare(pc, pa, {}).order).toBeLessThan(0)
  })

  it("default mode: the same answer in all six orders (the canonical walk B, C, A picks A)", () => {
    const results = outcome({})
    for (const r of results) expect(r).toEqual(results[0])
    expect(results[0]).toEqual({
      best: "10.0.0.3",
      // C lost to B (B was the running best then); A does not beat C directly, so C keeps that reason.
      reasons: { "10.0.0.3": "best", "10.0.0.1": "Med to 10.0.0.3", "10.0.0.2": "RouterId to 10.0.0.1" }
    })
  })

  it("deterministic MED: A beats B inside AS 100, then C beats A on BGP Identifier", () => {
    const results = outcome({ deterministicMed: true })
    for (const r of results) expect(r).toEqual(results[0])
    expect(results[0]).toEqual({
      best: "10.0.0.2",
      reasons: { "10.0.0.2": "best", "10.0.0.3": "RouterId to 10.0.0.2", "10.0.0.1": "Med to 10.0.0.3" }
    })
  })

  it("alwaysCompareMed: C has the lowest MED", () => {
    const results = outcome({ alwaysCompareMed: true })
    for (const r of results) expect(r).toEqual(results[0])
    expect(results[0]).toEqual({
      best: "10.0.0.2",
      reasons: { "10.0.0.2": "best", "10.0.0.3": "Med to 10.0.0.2", "10.0.0.1": "Med to 10.0.0.2" }
    })
  })
})
