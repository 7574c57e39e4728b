/**
 * The decision process step by step (RFC 4271 §9.1.2.1–§9.1.2.2, RFC 4456 §9). Each row builds a winner W
 * and a loser L that tie on every earlier step, differ on the step under test in W's favour, and differ on
 * every later step in L's favour — so only that step can have made W win. Each row also checks the
 * converse: with the step tied too, L wins at a later step.
 */
import { describe, expect, it } from "vitest"
import type { AsPath, PathAttributes } from "@starling/codec"
import type { DecisionOptions, Path, Source, Step } from "../src/index.ts"
import { AttrTable, compare, decide, Rib } from "../src/index.ts"
import { confedSeq, confedSet, ip, prefix, seq, set, source } from "./helpers.ts"

interface Side {
  localPref: number
  asPath: AsPath
  origin: 0 | 1 | 2
  med: number | undefined
  internal: boolean
  local: boolean
  cost: number
  bgpId: number
  originatorId: number | undefined
  clusterList: number[]
  address: string
  pathId: number
}

type Mut = (s: Side) => void

interface StepSpec {
  readonly step: Exclude<Step, "Ineligible">
  readonly tie: Mut
  readonly good: Mut
  readonly bad: Mut
}

/** The steps in RFC order, each with a neutral setting and a better and a worse one. */
const STEPS: ReadonlyArray<StepSpec> = [
  { step: "LocalPref", tie: (s) => void (s.localPref = 100), good: (s) => void (s.localPref = 200), bad: (s) => void (s.localPref = 100) },
  {
    step: "AsPathLength",
    tie: (s) => void (s.asPath = [seq(65001)]),
    good: (s) => void (s.asPath = [seq(65001)]),
    bad: (s) => void (s.asPath = [seq(65001, 65010)])
  },
  { step: "Origin", tie: (s) => void (s.origin = 0), good: (s) => void (s.origin = 0), bad: (s) => void (s.origin = 2) },
  { step: "Med", tie: (s) => void (s.med = undefined), good: (s) => void (s.med = 10), bad: (s) => void (s.med = 20) },
  {
    step: "ExternalOverInternal",
    tie: (s) => void (s.internal = false),
    good: (s) => void (s.internal = false),
    bad: (s) => void (s.internal = true)
  },
  { step: "IgpCost", tie: (s) => void (s.cost = 0), good: (s) => void (s.cost = 1), bad: (s) => void (s.cost = 2) },
  { step: "RouterId", tie: (s) => void (s.bgpId = 5), good: (s) => void (s.bgpId = 1), bad: (s) => void (s.bgpId = 2) },
  {
    step: "ClusterListLength",
    tie: (s) => void (s.clusterList = []),
    good: (s) => void (s.clusterList = []),
    bad: (s) => void (s.clusterList = [ip("10.255.0.1")])
  },
  {
    step: "PeerAddress",
    tie: (s) => void (s.address = "10.0.0.9"),
    good: (s) => void (s.address = "10.0.0.1"),
    bad: (s) => void (s.address = "10.0.0.2")
  },
  { step: "PathId", tie: (s) => void (s.pathId = 0), good: (s) => void (s.pathId = 1), bad: (s) => void (s.pathId = 2) }
]

interface Row {
  readonly name: string
  readonly step: StepSpec["step"]
  /** Replace the generic good/bad settings of the step. */
  readonly good?: Mut
  readonly bad?: Mut
  readonly options?: DecisionOptions
}

const ROWS: ReadonlyArray<Row> = [
  { name: "higher LOCAL_PREF", step: "LocalPref" },
  { name: "shorter AS_PATH", step: "AsPathLength" },
  {
    name: "AS_SET counts as one",
    step: "AsPathLength",
    good: (s) => void (s.asPath = [seq(65001), set(1, 2, 3, 4, 5)]),
    bad: (s) => void (s.asPath = [seq(65001, 65010, 65011)])
  },
  {
    name: "AS_CONFED_SEQUENCE counts as zero (RFC 5065 §5.3)",
    step: "AsPathLength",
    good: (s) => void (s.asPath = [confedSeq(64512, 64513, 64514), seq(65001)]),
    bad: (s) => void (s.asPath = [seq(65001, 65010)])
  },
  {
    name: "AS_CONFED_SET counts as zero",
    step: "AsPathLength",
    good: (s) => void (s.asPath = [confedSet(64512, 64513), seq(65001)]),
    bad: (s) => void (s.asPath = [seq(65001, 65010)])
  },
  { name: "ORIGIN IGP over INCOMPLETE", step: "Origin" },
  { name: "ORIGIN IGP over EGP", step: "Origin", good: (s) => void (s.origin = 0), bad: (s) => void (s.origin = 1) },
  { name: "ORIGIN EGP over INCOMPLETE", step: "Origin", good: (s) => void (s.origin = 1), bad: (s) => void (s.origin = 2) },
  { name: "lower MED, same neighbor AS", step: "Med" },
  { name: "missing MED is 0 (lowest)", step: "Med", good: (s) => void (s.med = undefined), bad: (s) => void (s.med = 1) },
  { name: "MED 0 beats MED 2^32-1", step: "Med", good: (s) => void (s.med = 0), bad: (s) => void (s.med = 0xffffffff) },
  {
    name: "MED across neighbor ASes with alwaysCompareMed",
    step: "Med",
    good: (s) => {
      s.asPath = [seq(65002)]
      s.med = 10
    },
    bad: (s) => {
      s.asPath = [seq(65001)]
      s.med = 20
    },
    options: { alwaysCompareMed: true }
  },
  {
    name: "MED within the same neighbor AS behind confederation segments",
    step: "Med",
    good: (s) => {
      s.asPath = [confedSeq(64512), seq(65001)]
      s.med = 10
    },
    bad: (s) => {
      s.asPath = [confedSeq(64513), seq(65001)]
      s.med = 20
    }
  },
  { name: "eBGP over iBGP", step: "ExternalOverInternal" },
  {
    name: "locally originated over iBGP",
    step: "ExternalOverInternal",
    good: (s) => {
      s.internal = true
      s.local = true
    },
    bad: (s) => void (s.internal = true)
  },
  { name: "lower IGP cost to the next hop", step: "IgpCost" },
  { name: "lower BGP Identifier", step: "RouterId" },
  {
    name: "ORIGINATOR_ID stands in for the BGP Identifier (winner reflected)",
    step: "RouterId",
    good: (s) => {
      s.bgpId = 9
      s.originatorId = 1
    },
    bad: (s) => void (s.bgpId = 2)
  },
  {
    name: "ORIGINATOR_ID stands in for the BGP Identifier (loser reflected)",
    step: "RouterId",
    good: (s) => void (s.bgpId = 3),
    bad: (s) => {
      s.bgpId = 1
      s.originatorId = 4
    }
  },
  {
    name: "BGP Identifier compared unsigned",
    step: "RouterId",
    good: (s) => void (s.bgpId = 0x7fffffff),
    bad: (s) => void (s.bgpId = 0x80000000)
  },
  { name: "shorter CLUSTER_LIST (RFC 4456 §9)", step: "ClusterListLength" },
  {
    name: "shorter CLUSTER_LIST, both reflected",
    step: "ClusterListLength",
    good: (s) => void (s.clusterList = [1]),
    bad: (s) => void (s.clusterList = [1, 2])
  },
  { name: "lower peer address (IPv4)", step: "PeerAddress" },
  {
    name: "lower peer address (IPv6)",
    step: "PeerAddress",
    good: (s) => void (s.address = "2001:db8::1"),
    bad: (s) => void (s.address = "2001:db8::1:0")
  },
  { name: "lower path id (same peer, ADD-PATH)", step: "PathId" }
]

const neutral = (): Side => ({
  localPref: 100,
  asPath: [seq(65001)],
  origin: 0,
  med: undefined,
  internal: false,
  local: false,
  cost: 0,
  bgpId: 5,
  originatorId: undefined,
  clusterList: [],
  address: "10.0.0.9",
  pathId: 0
})

const toAttrs = (s: Side, nextHop: string): PathAttributes => ({
  origin: s.origin,
  asPath: s.asPath,
  nextHop: ip(nextHop),
  localPref: s.localPref,
  ...(s.med === undefined ? {} : { med: s.med }),
  ...(s.originatorId === undefined ? {} : { originatorId: s.originatorId }),
  ...(s.clusterList.length === 0 ? {} : { clusterList: s.clusterList })
})

const sourceOf = (s: Side): Source =>
  source({ address: s.address, asn: s.internal ? 65000 : 65001, bgpId: s.bgpId, internal: s.internal, ...(s.local ? { local: true } : {}) })

/**
 * Builds W and L for `row`: steps before the row's step tie, the step favours W (or ties when `tieAtStep`),
 * later steps favour L.
 */
const build = (row: Row, tieAtStep = false) => {
  const w = neutral()
  const l = neutral()
  const k = STEPS.findIndex((s) => s.step === row.step)
  STEPS.forEach((spec, i) => {
    if (i < k) {
      spec.tie(w)
      spec.tie(l)
    } else if (i === k) {
      if (tieAtStep) {
        ;(row.good ?? spec.good)(w)
        ;(row.good ?? spec.good)(l)
      } else {
        ;(row.good ?? spec.good)(w)
        ;(row.bad ?? spec.bad)(l)
      }
    } else {
      spec.bad(w)
      spec.good(l)
    }
  })
  const sw = sourceOf(w)
  // The same peer (only the path id differs) must be one source.
  const sameSource = w.address === l.address && w.internal === l.internal && w.bgpId === l.bgpId && w.local === l.local
  const sl = sameSource ? sw : sourceOf(l)
  const costs = new Map([[ip("192.0.2.1"), w.cost], [ip("192.0.2.2"), l.cost]])
  const options: DecisionOptions = { ...row.options, igpCost: (p: Path) => costs.get(p.attrs.attrs.nextHop!) }
  return { w, l, sw, sl, wAttrs: toAttrs(w, "192.0.2.1"), lAttrs: toAttrs(l, "192.0.2.2"), options }
}

const name = (s: Source, pathId: number) => `${s.address}${pathId === 0 ? "" : `#${pathId}`}`

describe("decision process: each step decides when all earlier steps tie", () => {
  for (const row of ROWS) {
    it(`${row.step}: ${row.name}`, () => {
      const b = build(row)
      const table = new AttrTable()
      const W: Path = { source: b.sw, pathId: b.w.pathId, attrs: table.intern(b.wAttrs), stale: false }
      const L: Path = { source: b.sl, pathId: b.l.pathId, attrs: table.intern(b.lAttrs), stale: false }

      // compare() in both directions names the step.
      const cost = (p: Path) => b.options.igpCost!(p)!
      expect(compare(W, L, b.options, true, cost(W), cost(L))).toMatchObject({ step: row.step })
      expect(compare(W, L, b.options, true, cost(W), cost(L)).order).toBeLessThan(0)
      expect(compare(L, W, b.options, true, cost(L), cost(W)).order).toBeGreaterThan(0)
      expect(compare(L, W, b.options, true, cost(L), cost(W)).step).toBe(row.step)

      // decide() in both input orders.
      for (const paths of [[W, L], [L, W]]) {
        const d = decide(paths, b.options)
        expect(d.best).toBe(W)
        expect(d.multipath).toEqual([W])
        expect(d.losses).toEqual([{ path: L, step: row.step, to: W }])
      }

      // The Rib's explanation, in both announcement orders.
      for (const wFirst of [true, false]) {
        const rib = new Rib(b.options)
        const announceW = () => rib.announce(b.sw, prefix("203.0.113.0/24", b.w.pathId), b.wAttrs)
        const announceL = () => rib.announce(b.sl, prefix("203.0.113.0/24", b.l.pathId), b.lAttrs)
        if (wFirst) {
          announceW()
          announceL()
        } else {
          announceL()
          announceW()
        }
        rib.commit()
        const dest = rib.get(prefix("203.0.113.0/24"))!
        expect(dest.best?.source).toBe(b.sw)
        expect(dest.best?.pathId).toBe(b.w.pathId)
        const ex = rib.explain(prefix("203.0.113.0/24"))!
        const wx = ex.paths.find((p) => p.source === b.sw.address && p.pathId === b.w.pathId)!
        const lx = ex.paths.find((p) => p.source === b.sl.address && p.pathId === b.l.pathId)!
        expect(wx).toMatchObject({ best: true, multipath: true })
        expect(wx.lostAt).toBeUndefined()
        expect(lx).toMatchObject({ best: false, multipath: false, lostAt: row.step, lostTo: name(b.sw, b.w.pathId) })
      }
    })
  }

  // The converse: tie the step too and L wins at some later step, so the rows above are not won by
  // accident of construction.
  for (const row of ROWS.filter((r) => r.step !== "PathId")) {
    it(`${row.step}: ${row.name} — tied, a later step decides for the other path`, () => {
      const b = build(row, true)
      const table = new AttrTable()
      const W: Path = { source: b.sw, pathId: b.w.pathId, attrs: table.intern(b.wAttrs), stale: false }
      const L: Path = { source: b.sl, pathId: b.l.pathId, attrs: table.intern(b.lAttrs), stale: false }
      const d = decide([W, L], b.options)
      expect(d.best).toBe(L)
      const k = STEPS.findIndex((s) => s.step === row.step)
      const later = STEPS.slice(k + 1).map((s) => s.step)
      expect(later).toContain(d.losses[0]!.step)
    })
  }
})

describe("decision process: MED scope, eligibility", () => {
  const table = new AttrTable()
  const a = source({ address: "10.0.0.1", bgpId: 1 })
  const b = source({ address: "10.0.0.2", bgpId: 2 })
  const pa = (): Path => ({ source: a, pathId: 0, attrs: table.intern({ origin: 0, asPath: [seq(65001)], med: 50 }), stale: false })
  const pb = (): Path => ({ source: b, pathId: 0, attrs: table.intern({ origin: 0, asPath: [seq(65002)], med: 10 }), stale: false })

  it("MED is not compared between different neighbor ASes by default", () => {
    const A = pa()
    const B = pb()
    const d = decide([B, A])
    expect(d.best).toBe(A)
    expect(d.losses).toEqual([{ path: B, step: "RouterId", to: A }])
  })

  it("alwaysCompareMed compares it across neighbor ASes", () => {
    const A = pa()
    const B = pb()
    const d = decide([A, B], { alwaysCompareMed: true })
    expect(d.best).toBe(B)
    expect(d.losses).toEqual([{ path: A, step: "Med", to: B }])
  })

  it("MED of a path with an empty AS_PATH (local) is compared with other local paths only", () => {
    const l1: Path = { source: a, pathId: 0, attrs: table.intern({ origin: 0, asPath: [], med: 50 }), stale: false }
    const l2: Path = { source: b, pathId: 0, attrs: table.intern({ origin: 0, asPath: [], med: 10 }), stale: false }
    expect(decide([l1, l2]).losses).toEqual([{ path: l1, step: "Med", to: l2 }])
  })

  it("an unreachable next hop makes a path Ineligible, however good it is", () => {
    const good: Path = { source: a, pathId: 0, attrs: table.intern({ origin: 0, asPath: [], localPref: 1000, nextHop: ip("198.51.100.1") }), stale: false }
    const poor: Path = {
      source: b,
      pathId: 0,
      attrs: table.intern({ origin: 2, asPath: [seq(1, 2, 3, 4)], localPref: 10, nextHop: ip("198.51.100.2") }),
      stale: false
    }
    const igpCost = (p: Path) => (p.attrs.attrs.nextHop === ip("198.51.100.1") ? undefined : 7)
    const d = decide([good, poor], { igpCost })
    expect(d.best).toBe(poor)
    expect(d.losses).toEqual([{ path: good, step: "Ineligible", to: undefined }])

    const rib = new Rib({ igpCost })
    rib.announce(a, prefix("198.51.100.0/24"), good.attrs.attrs)
    rib.announce(b, prefix("198.51.100.0/24"), poor.attrs.attrs)
    rib.commit()
    const ex = rib.explain(prefix("198.51.100.0/24"))!
    const gx = ex.paths.find((p) => p.source === "10.0.0.1")!
    expect(gx.lostAt).toBe("Ineligible")
    expect(gx.lostTo).toBeUndefined()
    expect(gx.best).toBe(false)
  })

  it("every path ineligible: no best, and a withdrawal change for a destination that had one", () => {
    let reachable = true
    const igpCost = () => (reachable ? 1 : undefined)
    const rib = new Rib({ igpCost })
    rib.announce(a, prefix("198.51.100.0/24"), { origin: 0, asPath: [seq(65001)], nextHop: ip("198.51.100.1") })
    expect(rib.commit()).toHaveLength(1)
    reachable = false
    // A second path makes the destination dirty; both are now unreachable.
    rib.announce(b, prefix("198.51.100.0/24"), { origin: 0, asPath: [seq(65002)], nextHop: ip("198.51.100.2") })
    const changes = rib.commit()
    expect(changes).toHaveLength(1)
    expect(changes[0]!.best).toBeUndefined()
    expect(changes[0]!.previous?.source).toBe(a)
    expect(changes[0]!.multipath).toEqual([])
    expect([...rib.best()]).toEqual([])
    expect(decide([], {}).best).toBeUndefined()
  })
})

describe("decision process: explanations with several paths", () => {
  it("each loser names the step and the final best it lost to", () => {
    const table = new AttrTable()
    const mk = (address: string, attrs: PathAttributes, internal = false): Path => ({
      source: source({ address, internal, asn: internal ? 65000 : 65001 }),
      pathId: 0,
      attrs: table.intern(attrs),
      stale: false
    })
    const best = mk("10.0.0.5", { origin: 0, asPath: [seq(65001)], localPref: 200, med: 5 })
    const lp = mk("10.0.0.1", { origin: 0, asPath: [seq(65001)], localPref: 100 })
    const len = mk("10.0.0.2", { origin: 0, asPath: [seq(65001, 65002)], localPref: 200 })
    const org = mk("10.0.0.3", { origin: 1, asPath: [seq(65001)], localPref: 200 })
    const med = mk("10.0.0.4", { origin: 0, asPath: [seq(65001)], localPref: 200, med: 6 })
    const ibgp = mk("10.0.0.6", { origin: 0, asPath: [seq(65001)], localPref: 200, med: 5 }, true)
    const rid = mk("10.0.0.7", { origin: 0, asPath: [seq(65001)], localPref: 200, med: 5 })
    const all = [lp, len, org, med, best, ibgp, rid]
    for (const options of [{}, { deterministicMed: true }, { alwaysCompareMed: true }]) {
      const d = decide(all, options)
      expect(d.best).toBe(best)
      const by = new Map(d.losses.map((l) => [l.path, l]))
      expect(by.size).toBe(6)
      expect(by.get(lp)).toEqual({ path: lp, step: "LocalPref", to: best })
      expect(by.get(len)).toEqual({ path: len, step: "AsPathLength", to: best })
      expect(by.get(org)).toEqual({ path: org, step: "Origin", to: best })
      expect(by.get(med)).toEqual({ path: med, step: "Med", to: best })
      expect(by.get(ibgp)).toEqual({ path: ibgp, step: "ExternalOverInternal", to: best })
      expect(by.get(rid)).toEqual({ path: rid, step: "RouterId", to: best })
    }
  })
})
