/**
 * The Rib: Adj-RIB-In per source, Loc-RIB with batched commits. Every test checks the exact RouteChange
 * list commit() returns.
 */
import { describe, expect, it } from "vitest"
import fc from "fast-check"
import type { PathAttributes, Prefix } from "@starling/codec"
import { ipv4Prefix, ipv6Prefix } from "@starling/codec"
import type { RouteChange, Source } from "../src/index.ts"
import { keyPrefix, prefixKey, Rib } from "../src/index.ts"
import { ip, prefix, seq, source } from "./helpers.ts"

const P1 = prefix("203.0.113.0/24")
const P2 = prefix("198.51.100.0/24")
const P6 = prefix("2001:db8::/32")

const attrs = (over: PathAttributes = {}): PathAttributes => ({ origin: 0, asPath: [seq(65001)], nextHop: ip("192.0.2.1"), ...over })

/** A change as plain data: prefix key, best and previous as "address#pathId/med", multipath. */
const show = (changes: ReadonlyArray<RouteChange>) =>
  changes.map((c) => {
    const n = (p: RouteChange["best"]) => (p === undefined ? undefined : `${p.source.address}#${p.pathId}/${p.attrs.med}`)
    return { key: c.key, best: n(c.best), previous: n(c.previous), multipath: c.multipath.map(n) }
  })

describe("Rib: announce, withdraw, replace", () => {
  const a = source({ address: "10.0.0.1", bgpId: 1 })
  const b = source({ address: "10.0.0.2", bgpId: 2 })

  it("a new destination is one change; committing again is none", () => {
    const rib = new Rib()
    rib.announce(a, P1, attrs({ med: 1 }))
    const ch = rib.commit()
    expect(show(ch)).toEqual([{ key: prefixKey(P1), best: "10.0.0.1#0/1", previous: undefined, multipath: ["10.0.0.1#0/1"] }])
    expect(ch[0]!.prefix).toEqual(P1)
    expect(rib.commit()).toEqual([])
    expect(rib.size).toBe(1)
  })

  it("re-announcing identical attributes (built afresh) changes nothing", () => {
    const rib = new Rib()
    rib.announce(a, P1, attrs({ med: 1 }))
    rib.announce(b, P1, attrs({ med: 1 }))
    rib.commit()
    rib.announce(a, P1, attrs({ med: 1 }))
    rib.announce(b, P1, attrs({ med: 1 }))
    expect(rib.commit()).toEqual([])
  })

  it("replacing and restoring attributes inside one batch changes nothing", () => {
    const rib = new Rib()
    rib.announce(a, P1, attrs({ med: 1 }))
    rib.commit()
    rib.announce(a, P1, attrs({ med: 2 }))
    rib.announce(a, P1, attrs({ med: 1 }))
    expect(rib.commit()).toEqual([])
    // Announce and withdraw of a new destination in one batch: nothing either.
    rib.announce(b, P2, attrs())
    rib.withdraw(b, P2)
    expect(rib.commit()).toEqual([])
    expect(rib.get(P2)).toBeUndefined()
  })

  it("replacing the best path's attributes is a change from the old path to the new", () => {
    const rib = new Rib()
    rib.announce(a, P1, attrs({ med: 1 }))
    rib.commit()
    rib.announce(a, P1, attrs({ med: 2 }))
    expect(show(rib.commit())).toEqual([{ key: prefixKey(P1), best: "10.0.0.1#0/2", previous: "10.0.0.1#0/1", multipath: ["10.0.0.1#0/2"] }])
  })

  it("a worse second path changes nothing; a better one, or the best leaving, does", () => {
    const rib = new Rib()
    rib.announce(a, P1, attrs({ med: 5 }))
    rib.commit()
    rib.announce(b, P1, attrs({ med: 9 }))
    expect(rib.commit()).toEqual([])
    // Changing the loser's attributes without making it win: nothing.
    rib.announce(b, P1, attrs({ med: 8 }))
    expect(rib.commit()).toEqual([])
    rib.announce(b, P1, attrs({ med: 1 }))
    expect(show(rib.commit())).toEqual([{ key: prefixKey(P1), best: "10.0.0.2#0/1", previous: "10.0.0.1#0/5", multipath: ["10.0.0.2#0/1"] }])
    rib.withdraw(b, P1)
    expect(show(rib.commit())).toEqual([{ key: prefixKey(P1), best: "10.0.0.1#0/5", previous: "10.0.0.2#0/1", multipath: ["10.0.0.1#0/5"] }])
    // The loser leaving: nothing.
    rib.announce(b, P1, attrs({ med: 9 }))
    rib.commit()
    rib.withdraw(b, P1)
    expect(rib.commit()).toEqual([])
  })

  it("the last path leaving removes the destination", () => {
    const rib = new Rib()
    rib.announce(a, P1, attrs({ med: 5 }))
    rib.commit()
    rib.withdraw(a, P1)
    expect(show(rib.commit())).toEqual([{ key: prefixKey(P1), best: undefined, previous: "10.0.0.1#0/5", multipath: [] }])
    expect(rib.get(P1)).toBeUndefined()
    expect(rib.size).toBe(0)
    expect(rib.explain(P1)).toBeUndefined()
    expect(rib.pathCount(a)).toBe(0)
  })

  it("withdrawing what was never announced is harmless", () => {
    const rib = new Rib()
    rib.withdraw(a, P1)
    rib.announce(a, P1, attrs())
    rib.commit()
    rib.withdraw(b, P1)
    rib.withdraw(a, P2)
    rib.withdraw(a, prefix("203.0.113.0/24", 7))
    expect(rib.commit()).toEqual([])
    expect(rib.pathCount(a)).toBe(1)
  })

  it("changes cover exactly the destinations whose best changed, in one commit", () => {
    const rib = new Rib()
    rib.announce(a, P1, attrs({ med: 1 }))
    rib.announce(a, P2, attrs({ med: 1 }))
    rib.announce(a, P6, attrs({ med: 1 }))
    expect(rib.commit().map((c) => c.key).sort()).toEqual([prefixKey(P1), prefixKey(P2), prefixKey(P6)].sort())
    rib.announce(b, P1, attrs({ med: 9 })) // loses
    rib.announce(b, P2, attrs({ med: 0 })) // wins
    rib.withdraw(a, P6)
    expect(show(rib.commit())).toEqual([
      { key: prefixKey(P2), best: "10.0.0.2#0/0", previous: "10.0.0.1#0/1", multipath: ["10.0.0.2#0/0"] },
      { key: prefixKey(P6), best: undefined, previous: "10.0.0.1#0/1", multipath: [] }
    ])
  })

  it("IPv4 and IPv6 destinations with the same address bits are apart", () => {
    const rib = new Rib()
    const v4 = ipv4Prefix(0x0a000000, 8)
    const v6 = ipv6Prefix([0x0a000000, 0, 0, 0], 8)
    rib.announce(a, v4, attrs({ med: 4 }))
    rib.announce(a, v6, attrs({ med: 6 }))
    rib.commit()
    expect(rib.size).toBe(2)
    expect(rib.get(v4)!.best!.attrs.med).toBe(4)
    expect(rib.get(v6)!.best!.attrs.med).toBe(6)
  })
})

describe("Rib: ADD-PATH", () => {
  const a = source({ address: "10.0.0.1" })
  const b = source({ address: "10.0.0.2" })

  it("paths with different path ids from one source are kept apart", () => {
    const rib = new Rib()
    rib.announce(a, prefix("203.0.113.0/24", 1), attrs({ med: 10 }))
    rib.announce(a, prefix("203.0.113.0/24", 2), attrs({ med: 5 }))
    rib.announce(b, prefix("203.0.113.0/24", 1), attrs({ med: 7 }))
    const ch = rib.commit()
    expect(show(ch)).toEqual([{ key: prefixKey(P1), best: "10.0.0.1#2/5", previous: undefined, multipath: ["10.0.0.1#2/5"] }])
    // The destination's prefix has path id 0 whatever the first path's was.
    expect(ch[0]!.prefix.pathId).toBe(0)
    expect(rib.pathCount(a)).toBe(2)
    expect(rib.get(P1)!.paths).toHaveLength(3)
    // Replacing path 1 leaves path 2 alone.
    rib.announce(a, prefix("203.0.113.0/24", 1), attrs({ med: 1 }))
    expect(show(rib.commit())).toEqual([{ key: prefixKey(P1), best: "10.0.0.1#1/1", previous: "10.0.0.1#2/5", multipath: ["10.0.0.1#1/1"] }])
    expect(rib.get(P1)!.paths).toHaveLength(3)
    // Withdrawing path 1 only removes path 1.
    rib.withdraw(a, prefix("203.0.113.0/24", 1))
    expect(show(rib.commit())).toEqual([{ key: prefixKey(P1), best: "10.0.0.1#2/5", previous: "10.0.0.1#1/1", multipath: ["10.0.0.1#2/5"] }])
    expect(rib.pathCount(a)).toBe(1)
    const ex = rib.explain(P1)!
    expect(ex.paths.map((p) => [p.source, p.pathId, p.best, p.lostTo])).toEqual([
      ["10.0.0.1", 2, true, undefined],
      ["10.0.0.2", 1, false, "10.0.0.1#2"]
    ])
  })

  it("path id 0 and path id n of the same prefix are different paths", () => {
    const rib = new Rib()
    rib.announce(a, P1, attrs({ med: 3 }))
    rib.announce(a, prefix("203.0.113.0/24", 3), attrs({ med: 3 }))
    rib.commit()
    expect(rib.pathCount(a)).toBe(2)
    rib.withdraw(a, P1)
    rib.commit()
    expect(rib.get(P1)!.paths.map((p) => p.pathId)).toEqual([3])
  })
})

describe("Rib: dropSource", () => {
  it("removes everything from the source, and only from it", () => {
    const a = source({ address: "10.0.0.1", bgpId: 1 })
    const b = source({ address: "10.0.0.2", bgpId: 2 })
    const rib = new Rib()
    rib.announce(a, P1, attrs({ med: 1 }))
    rib.announce(a, prefix("203.0.113.0/24", 4), attrs({ med: 1 }))
    rib.announce(a, P2, attrs({ med: 1 }))
    rib.announce(a, P6, attrs({ med: 1 }))
    rib.announce(b, P1, attrs({ med: 2 }))
    rib.commit()
    rib.dropSource(a)
    expect(rib.pathCount(a)).toBe(0)
    const ch = show(rib.commit())
    expect(ch).toHaveLength(3)
    expect(ch).toContainEqual({ key: prefixKey(P1), best: "10.0.0.2#0/2", previous: "10.0.0.1#0/1", multipath: ["10.0.0.2#0/2"] })
    expect(ch).toContainEqual({ key: prefixKey(P2), best: undefined, previous: "10.0.0.1#0/1", multipath: [] })
    expect(ch).toContainEqual({ key: prefixKey(P6), best: undefined, previous: "10.0.0.1#0/1", multipath: [] })
    expect(rib.size).toBe(1)
    expect(rib.get(P1)!.paths.map((p) => p.source)).toEqual([b])
    // Dropping again, or a source that sent nothing: no-ops.
    rib.dropSource(a)
    rib.dropSource(source({ address: "10.0.0.3" }))
    expect(rib.commit()).toEqual([])
  })
})

describe("Rib: graceful restart (RFC 4724)", () => {
  it("stale routes stay until re-sent or swept, per family", () => {
    const a = source({ address: "10.0.0.1", bgpId: 1 })
    const b = source({ address: "10.0.0.2", bgpId: 2 })
    const rib = new Rib()
    rib.announce(a, P1, attrs({ med: 1 }))
    rib.announce(a, P2, attrs({ med: 1 }))
    rib.announce(a, P6, attrs({ med: 1 }))
    rib.announce(a, prefix("2001:db8:1::/48"), attrs({ med: 1 }))
    rib.announce(b, P2, attrs({ med: 5 }))
    rib.commit()
    expect(rib.markStale(a)).toBe(4)
    expect(rib.markStale(source({ address: "10.0.0.9" }))).toBe(0)
    // Marking stale changes no best path.
    expect(rib.commit()).toEqual([])
    expect(rib.explain(P1)!.paths[0]!.stale).toBe(true)

    // The peer comes back and re-sends P1 unchanged and P6 changed: no longer stale.
    rib.announce(a, P1, attrs({ med: 1 }))
    rib.announce(a, P6, attrs({ med: 2 }))
    expect(show(rib.commit())).toEqual([{ key: prefixKey(P6), best: "10.0.0.1#0/2", previous: "10.0.0.1#0/1", multipath: ["10.0.0.1#0/2"] }])
    expect(rib.explain(P1)!.paths[0]!.stale).toBe(false)
    expect(rib.explain(P6)!.paths[0]!.stale).toBe(false)

    // End-of-RIB for IPv4: P2 (stale) goes, b takes over; the stale IPv6 route stays.
    expect(rib.sweepStale(a, 1)).toBe(1)
    expect(show(rib.commit())).toEqual([{ key: prefixKey(P2), best: "10.0.0.2#0/5", previous: "10.0.0.1#0/1", multipath: ["10.0.0.2#0/5"] }])
    expect(rib.get(prefix("2001:db8:1::/48"))!.paths[0]!.stale).toBe(true)
    expect(rib.pathCount(a)).toBe(3)

    // End-of-RIB for IPv6.
    expect(rib.sweepStale(a, 2)).toBe(1)
    expect(show(rib.commit())).toEqual([{ key: prefixKey(prefix("2001:db8:1::/48")), best: undefined, previous: "10.0.0.1#0/1", multipath: [] }])
    expect(rib.sweepStale(a)).toBe(0)
    expect(rib.pathCount(a)).toBe(2)
  })

  it("sweepStale without a family sweeps both; the restart timer case", () => {
    const a = source({ address: "10.0.0.1" })
    const rib = new Rib()
    rib.announce(a, P1, attrs())
    rib.announce(a, P6, attrs())
    rib.commit()
    rib.markStale(a)
    expect(rib.sweepStale(a)).toBe(2)
    expect(rib.commit()).toHaveLength(2)
    expect(rib.size).toBe(0)
    expect(rib.attrs.size).toBe(0)
    expect(rib.sweepStale(source({ address: "10.0.0.9" }))).toBe(0)
  })
})

describe("Rib: pre-policy retention (soft reconfiguration inbound)", () => {
  const a = source({ address: "10.0.0.1" })
  const b = source({ address: "10.0.0.2" })
  const routes = (rib: Rib, s: Source) =>
    [...rib.prePolicyRoutes(s)].map((r) => ({ p: `${prefixKey(r.prefix)}#${r.prefix.pathId}`, med: r.attrs.med })).sort((x, y) => x.p.localeCompare(y.p))

  it("round trip: what was recorded comes back, replaced and removed per prefix and path id", () => {
    const rib = new Rib({ retainPrePolicy: true })
    rib.prePolicy(a, P1, attrs({ med: 1 }))
    rib.prePolicy(a, prefix("203.0.113.0/24", 2), attrs({ med: 2 }))
    rib.prePolicy(a, P6, attrs({ med: 6 }))
    rib.prePolicy(b, P2, attrs({ med: 9 }))
    const got = [...rib.prePolicyRoutes(a)]
    expect(got).toHaveLength(3)
    expect(got.find((r) => r.prefix.pathId === 2)!.prefix).toEqual(prefix("203.0.113.0/24", 2))
    expect(got.find((r) => r.prefix.afi === 2)!.attrs).toEqual(attrs({ med: 6 }))
    rib.prePolicy(a, P1, attrs({ med: 11 }))
    rib.prePolicy(a, P6, undefined)
    expect(routes(rib, a)).toEqual([
      { p: `${prefixKey(P1)}#0`, med: 11 },
      { p: `${prefixKey(P1)}#2`, med: 2 }
    ])
    expect(routes(rib, b)).toHaveLength(1)
    // Pre-policy routes are not in the Loc-RIB.
    expect(rib.size).toBe(0)
    expect(rib.attrs.size).toBe(3)
    rib.dropSource(a)
    expect(routes(rib, a)).toEqual([])
    expect(routes(rib, b)).toHaveLength(1)
    rib.prePolicy(b, P2, undefined)
    expect(rib.attrs.size).toBe(0)
  })

  it("nothing is kept without retainPrePolicy", () => {
    const rib = new Rib()
    rib.prePolicy(a, P1, attrs())
    expect([...rib.prePolicyRoutes(a)]).toEqual([])
    expect(rib.attrs.size).toBe(0)
  })
})

describe("prefix keys (property)", () => {
  const v4 = fc.tuple(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 32 })).map(([a, l]) => ipv4Prefix(a, l))
  const v6 = fc
    .tuple(fc.array(fc.integer({ min: 0, max: 0xffffffff }), { minLength: 4, maxLength: 4 }), fc.integer({ min: 0, max: 128 }))
    .map(([w, l]) => ipv6Prefix([w[0]!, w[1]!, w[2]!, w[3]!], l))
  const any: fc.Arbitrary<Prefix> = fc.oneof(v4, v6)

  it("keyPrefix(prefixKey(p)) is p (path id 0), for IPv4 and IPv6", () => {
    fc.assert(
      fc.property(any, (p) => {
        expect(keyPrefix(prefixKey(p))).toEqual(p)
      }),
      { numRuns: 2000 }
    )
  })

  it("the path id is not part of the key", () => {
    fc.assert(fc.property(any, fc.integer({ min: 1, max: 0xffffffff }), (p, id) => prefixKey({ ...p, pathId: id }) === prefixKey(p)))
  })

  it("different prefixes have different keys", () => {
    fc.assert(
      fc.property(any, any, (p, q) => {
        const same = p.afi === q.afi && p.length === q.length && p.w0 === q.w0 && p.w1 === q.w1 && p.w2 === q.w2 && p.w3 === q.w3
        return (prefixKey(p) === prefixKey(q)) === same
      }),
      { numRuns: 2000 }
    )
  })

  it("edges: 0.0.0.0/0, 255.255.255.255/32, ::/0, all-ones/128, surrogate-range IPv6 groups", () => {
    for (const p of [
      ipv4Prefix(0, 0),
      ipv4Prefix(0xffffffff, 32),
      ipv6Prefix([0, 0, 0, 0], 0),
      ipv6Prefix([0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], 128),
      ipv6Prefix([0xd800dc00, 0xdfffd800, 0, 0], 64),
      prefix("2001:db8::/32"),
      prefix("10.1.2.0/24")
    ]) {
      expect(keyPrefix(prefixKey(p))).toEqual(p)
    }
    expect(typeof prefixKey(ipv4Prefix(0, 0))).toBe("number")
    expect(typeof prefixKey(ipv6Prefix([0, 0, 0, 0], 0))).toBe("string")
  })
})
