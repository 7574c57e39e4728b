/**
 * Multipath (ECMP): paths equal through the IGP-cost step (§9.1.2.2 a–e) join the best in the multipath
 * set, up to `maxPaths`; a difference on any of those steps keeps a path out.
 */
import { describe, expect, it } from "vitest"
import type { PathAttributes } from "@starling/codec"
import type { DecisionOptions, Source } from "../src/index.ts"
import { Rib } from "../src/index.ts"
import { ip, prefix, seq, source } from "./helpers.ts"

const P = prefix("198.51.100.0/24")
const base: PathAttributes = { origin: 0, asPath: [seq(65001, 65002)], nextHop: ip("192.0.2.1"), localPref: 100, med: 5 }

const ribWith = (options: DecisionOptions, entries: ReadonlyArray<readonly [Source, PathAttributes, number?]>) => {
  const rib = new Rib(options)
  for (const [s, a, pathId] of entries) rib.announce(s, prefix("198.51.100.0/24", pathId ?? 0), a)
  const changes = rib.commit()
  return { rib, changes, dest: rib.get(P)! }
}

const names = (paths: ReadonlyArray<{ source: Source; pathId: number }>) => paths.map((p) => `${p.source.address}#${p.pathId}`)

describe("multipath", () => {
  it("maxPaths limits the set; the best comes first, then the canonical (peer address) order", () => {
    const peers = [5, 4, 3, 2, 1].map((i) => source({ address: `10.0.0.${i}`, bgpId: 100 - i }))
    for (const maxPaths of [1, 2, 3, 5, 8]) {
      const { dest } = ribWith({ maxPaths }, peers.map((s) => [s, base] as const))
      // Lowest BGP Identifier: 10.0.0.5 (95).
      expect(dest.best!.source.address).toBe("10.0.0.5")
      const expected = ["10.0.0.5#0", "10.0.0.1#0", "10.0.0.2#0", "10.0.0.3#0", "10.0.0.4#0"].slice(0, Math.min(maxPaths, 5))
      expect(names(dest.multipath)).toEqual(expected)
    }
  })

  it("paths differing only in BGP Identifier, ORIGINATOR_ID, CLUSTER_LIST, peer address or path id are in the set", () => {
    const a = source({ address: "10.0.0.1", bgpId: 1 })
    const b = source({ address: "10.0.0.2", bgpId: 2 })
    const c = source({ address: "10.0.0.3", bgpId: 1 })
    const d = source({ address: "10.0.0.4", bgpId: 1 })
    const { dest } = ribWith({ maxPaths: 10 }, [
      [a, base],
      [b, base], // BGP Identifier
      [c, { ...base, clusterList: [1, 2] }], // CLUSTER_LIST
      [d, { ...base, originatorId: 9 }], // ORIGINATOR_ID (in place of the identifier)
      [a, { ...base, nextHop: ip("192.0.2.7") }, 5] // ADD-PATH: another path from a, another next hop
    ])
    expect(names(dest.multipath)).toEqual(["10.0.0.1#0", "10.0.0.1#5", "10.0.0.2#0", "10.0.0.3#0", "10.0.0.4#0"])
  })

  it("paths differing on an earlier step are not in the set", () => {
    const best = source({ address: "10.0.0.9", bgpId: 9 })
    const other = (i: number, internal = false) => source({ address: `10.0.0.${i}`, bgpId: i, internal })
    const costs = new Map([[ip("192.0.2.1"), 10], [ip("192.0.2.66"), 11]])
    const { dest, rib } = ribWith({ maxPaths: 10, igpCost: (p) => costs.get(p.attrs.attrs.nextHop!) }, [
      [best, base],
      [other(1), { ...base, localPref: 90 }],
      [other(2), { ...base, asPath: [seq(65001, 65002, 65003)] }],
      [other(3), { ...base, origin: 1 }],
      [other(4), { ...base, med: 6 }],
      [other(5, true), base],
      [other(6), { ...base, nextHop: ip("192.0.2.66") }],
      [other(7), { ...base, nextHop: ip("192.0.2.99") }] // unreachable
    ])
    expect(names(dest.multipath)).toEqual(["10.0.0.9#0"])
    const ex = rib.explain(P)!
    expect(ex.paths.map((p) => [p.source, p.multipath, p.lostAt ?? "best"])).toEqual([
      ["10.0.0.9", true, "best"],
      ["10.0.0.1", false, "LocalPref"],
      ["10.0.0.2", false, "AsPathLength"],
      ["10.0.0.3", false, "Origin"],
      ["10.0.0.4", false, "Med"],
      ["10.0.0.5", false, "ExternalOverInternal"],
      ["10.0.0.6", false, "IgpCost"],
      ["10.0.0.7", false, "Ineligible"]
    ])
  })

  it("a change in the multipath set is reported even when the best stays", () => {
    const a = source({ address: "10.0.0.1", bgpId: 1 })
    const b = source({ address: "10.0.0.2", bgpId: 2 })
    const c = source({ address: "10.0.0.3", bgpId: 3 })
    const rib = new Rib({ maxPaths: 2 })
    rib.announce(a, P, base)
    expect(rib.commit()).toHaveLength(1)
    rib.announce(b, P, base)
    const [ch] = rib.commit()
    expect(ch!.best!.source).toBe(a)
    expect(ch!.previous!.source).toBe(a)
    expect(names(ch!.multipath)).toEqual(["10.0.0.1#0", "10.0.0.2#0"])
    // A third equal path does not fit (maxPaths 2): nothing changes.
    rib.announce(c, P, base)
    expect(rib.commit()).toEqual([])
    // b leaves: c takes its place in the set.
    rib.withdraw(b, P)
    expect(names(rib.commit()[0]!.multipath)).toEqual(["10.0.0.1#0", "10.0.0.3#0"])
    // c becomes worse: leaves the set, best unchanged.
    rib.announce(c, P, { ...base, localPref: 50 })
    const [ch2] = rib.commit()
    expect(ch2!.best!.source).toBe(a)
    expect(names(ch2!.multipath)).toEqual(["10.0.0.1#0"])
  })
})
