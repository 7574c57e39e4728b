/**
 * Declarative policy: compilePolicy's matches (prefix sets with ge/le, communities, large communities,
 * AS-path expressions, neighbors), actions, default, and errors that name the offending field.
 */
import { assert, describe, expect, it } from "vitest"
import { ipv6ToBytes, parseIpv4, parsePrefix } from "@starling/codec"
import type { PathAttributes } from "@starling/codec"
import type { PolicyDefinition, PolicyRoute, Statement } from "../src/index.ts"
import { acceptAll, asPathContains, compilePolicy, formatAsPath, PolicyError, prependAs, rejectAll } from "../src/index.ts"
import { confedSeq, ip, prefix, seq, set } from "./helpers.ts"

/** A community as the codec holds it: an unsigned 32-bit number. */
const c = (asn: number, value: number) => ((asn << 16) | value) >>> 0

const route = (p: string, attrs: PathAttributes = {}, neighbor = "192.0.2.7"): PolicyRoute => ({
  prefix: prefix(p),
  attrs: { origin: 0, asPath: [seq(65001, 65002)], nextHop: ip("192.0.2.7"), ...attrs },
  neighbor: { address: neighbor, asn: 65001 },
  localAs: 65000,
  localAddress: ip("192.0.2.1")
})

/** Does a one-statement accept policy with this match accept the route? */
const matches = (match: Statement["match"], r: PolicyRoute): boolean =>
  compilePolicy({ statements: [{ ...(match === undefined ? {} : { match }), action: "accept" }] })(r) !== undefined

const accepts = (match: Statement["match"], prefixes: ReadonlyArray<string>) => prefixes.filter((p) => matches(match, route(p)))

describe("prefix sets", () => {
  const all4 = ["0.0.0.0/0", "10.0.0.0/7", "10.0.0.0/8", "11.0.0.0/8", "10.0.0.0/15", "10.1.0.0/16", "10.1.2.0/24", "10.1.2.128/25", "10.1.2.3/32"]

  it("exact length by default", () => {
    expect(accepts({ prefixes: [{ prefix: "10.0.0.0/8" }] }, all4)).toEqual(["10.0.0.0/8"])
  })

  it("ge alone: up to the family's maximum", () => {
    expect(accepts({ prefixes: [{ prefix: "10.0.0.0/8", ge: 16 }] }, all4)).toEqual(["10.1.0.0/16", "10.1.2.0/24", "10.1.2.128/25", "10.1.2.3/32"])
  })

  it("le alone: from the prefix's own length", () => {
    expect(accepts({ prefixes: [{ prefix: "10.0.0.0/8", le: 24 }] }, all4)).toEqual(["10.0.0.0/8", "10.0.0.0/15", "10.1.0.0/16", "10.1.2.0/24"])
  })

  it("ge and le together, and ge = le", () => {
    expect(accepts({ prefixes: [{ prefix: "10.0.0.0/8", ge: 15, le: 24 }] }, all4)).toEqual(["10.0.0.0/15", "10.1.0.0/16", "10.1.2.0/24"])
    expect(accepts({ prefixes: [{ prefix: "10.0.0.0/8", ge: 25, le: 25 }] }, all4)).toEqual(["10.1.2.128/25"])
  })

  it("0.0.0.0/0: the default route only, or with le 32 every IPv4 prefix (and no IPv6)", () => {
    expect(accepts({ prefixes: [{ prefix: "0.0.0.0/0" }] }, all4)).toEqual(["0.0.0.0/0"])
    expect(accepts({ prefixes: [{ prefix: "0.0.0.0/0", le: 32 }] }, all4)).toEqual(all4)
    expect(accepts({ prefixes: [{ prefix: "0.0.0.0/0", le: 32 }] }, ["::/0", "2001:db8::/32"])).toEqual([])
  })

  it("host routes and the last bit", () => {
    expect(accepts({ prefixes: [{ prefix: "10.1.2.3/32" }] }, ["10.1.2.3/32", "10.1.2.2/32"])).toEqual(["10.1.2.3/32"])
    expect(accepts({ prefixes: [{ prefix: "255.255.255.254/31", le: 32 }] }, ["255.255.255.255/32", "255.255.255.254/32", "255.255.255.252/32"])).toEqual([
      "255.255.255.255/32",
      "255.255.255.254/32"
    ])
  })

  it("any of several prefixes", () => {
    expect(accepts({ prefixes: [{ prefix: "11.0.0.0/8" }, { prefix: "10.1.0.0/16", le: 24 }] }, all4)).toEqual(["11.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24"])
  })

  it("IPv6: ge/le, word boundaries (/32, /33, /64, /96, /127, /128), ::/0", () => {
    const all6 = [
      "::/0",
      "2001:db8::/32",
      "2001:db8::/33",
      "2001:db8:8000::/33",
      "2001:db8:1::/48",
      "2001:db8:8000::/48",
      "2001:db8:1:2::/64",
      "2001:db8:1:2::/96",
      "2001:db8:1:2::1:0/112",
      "2001:db8::/127",
      "2001:db8::1/128",
      "2001:db8::2/128",
      "2001:db9::/32"
    ]
    expect(accepts({ prefixes: [{ prefix: "2001:db8::/32", ge: 48, le: 64 }] }, all6)).toEqual(["2001:db8:1::/48", "2001:db8:8000::/48", "2001:db8:1:2::/64"])
    // Bit 33 set: only the upper half of 2001:db8::/32.
    expect(accepts({ prefixes: [{ prefix: "2001:db8:8000::/33", le: 128 }] }, all6)).toEqual(["2001:db8:8000::/33", "2001:db8:8000::/48"])
    expect(accepts({ prefixes: [{ prefix: "2001:db8:1:2::/64", le: 128 }] }, all6)).toEqual(["2001:db8:1:2::/64", "2001:db8:1:2::/96", "2001:db8:1:2::1:0/112"])
    expect(accepts({ prefixes: [{ prefix: "2001:db8:1:2::/96", ge: 97 }] }, all6)).toEqual(["2001:db8:1:2::1:0/112"])
    expect(accepts({ prefixes: [{ prefix: "2001:db8::/127", le: 128 }] }, all6)).toEqual(["2001:db8::/127", "2001:db8::1/128"])
    expect(accepts({ prefixes: [{ prefix: "2001:db8::1/128" }] }, all6)).toEqual(["2001:db8::1/128"])
    expect(accepts({ prefixes: [{ prefix: "::/0" }] }, all6)).toEqual(["::/0"])
    expect(accepts({ prefixes: [{ prefix: "::/0", le: 128 }] }, [...all6, "10.0.0.0/8", "0.0.0.0/0"])).toEqual(all6)
    // An IPv4 prefix set never matches IPv6 routes with the same leading bits.
    expect(accepts({ prefixes: [{ prefix: "32.0.0.0/8", le: 32 }] }, ["2001:db8::/32"])).toEqual([])
  })

  it("an empty prefix list matches nothing", () => {
    expect(accepts({ prefixes: [] }, all4)).toEqual([])
  })
})

describe("communities, large communities, AS path, neighbors", () => {
  it("communities: numbers and well-known names (any case), any of the list", () => {
    const r = route("10.0.0.0/8", { communities: [c(65000, 100), 0xffffff01] })
    expect(matches({ communities: ["65000:100"] }, r)).toBe(true)
    expect(matches({ communities: ["65000:101"] }, r)).toBe(false)
    expect(matches({ communities: ["65000:101", "no-export"] }, r)).toBe(true)
    expect(matches({ communities: ["NO-EXPORT"] }, r)).toBe(true)
    expect(matches({ communities: ["65535:65281"] }, r)).toBe(true)
    expect(matches({ communities: ["no-advertise"] }, r)).toBe(false)
    expect(matches({ communities: ["65000:100"] }, route("10.0.0.0/8"))).toBe(false)
    const names: Record<string, number> = {
      "no-advertise": 0xffffff02,
      "no-export-subconfed": 0xffffff03,
      "no-peer": 0xffffff04,
      "blackhole": 0xffff029a,
      "graceful-shutdown": 0xffff0000,
      "accept-own": 0xffff0001,
      "llgr-stale": 0xffff0006,
      "no-llgr": 0xffff0007
    }
    for (const [n, v] of Object.entries(names)) expect(matches({ communities: [n] }, route("10.0.0.0/8", { communities: [v] })), n).toBe(true)
    expect(matches({ communities: ["0:0", "65535:65535"] }, route("10.0.0.0/8", { communities: [0xffffffff] }))).toBe(true)
  })

  it("large communities", () => {
    const r = route("10.0.0.0/8", { largeCommunities: [{ global: 4200000000, local1: 1, local2: 2 }] })
    expect(matches({ largeCommunities: ["4200000000:1:2"] }, r)).toBe(true)
    expect(matches({ largeCommunities: ["4200000000:2:1"] }, r)).toBe(false)
    expect(matches({ largeCommunities: ["1:1:1", "4200000000:1:2"] }, r)).toBe(true)
    expect(matches({ largeCommunities: ["4294967295:4294967295:4294967295"] }, route("10.0.0.0/8", { largeCommunities: [{ global: 0xffffffff, local1: 0xffffffff, local2: 0xffffffff }] }))).toBe(true)
    expect(matches({ largeCommunities: ["4200000000:1:2"] }, route("10.0.0.0/8"))).toBe(false)
  })

  it("AS path regular expressions over the text form", () => {
    const attrs: PathAttributes = { asPath: [confedSeq(64512, 64513), seq(65001, 65002), set(65003, 65004)] }
    expect(formatAsPath(attrs)).toBe("(64512 64513) 65001 65002 {65003,65004}")
    expect(formatAsPath({})).toBe("")
    const r = route("10.0.0.0/8", { asPath: [seq(65001, 65002, 65003)] })
    expect(matches({ asPath: "^65001 " }, r)).toBe(true)
    expect(matches({ asPath: "^65002 " }, r)).toBe(false)
    expect(matches({ asPath: "(^| )65003$" }, r)).toBe(true)
    expect(matches({ asPath: "\\b6500[12]\\b" }, r)).toBe(true)
    expect(matches({ asPath: "^$" }, r)).toBe(false)
    expect(matches({ asPath: "^$" }, route("10.0.0.0/8", { asPath: [] }))).toBe(true)
    expect(matches({ asPath: "\\{65003,65004\\}$" }, route("10.0.0.0/8", attrs))).toBe(true)
  })

  it("neighbors, by address as written or in canonical form", () => {
    expect(matches({ neighbors: ["192.0.2.7"] }, route("10.0.0.0/8"))).toBe(true)
    expect(matches({ neighbors: ["192.0.2.8", "192.0.2.9"] }, route("10.0.0.0/8"))).toBe(false)
    expect(matches({ neighbors: ["2001:DB8:0::1"] }, route("10.0.0.0/8", {}, "2001:db8::1"))).toBe(true)
    expect(matches({ neighbors: ["2001:db8::1"] }, route("10.0.0.0/8", {}, "2001:db8::2"))).toBe(false)
  })

  it("every condition of a match must hold", () => {
    const r = route("10.1.0.0/16", { communities: [c(65000, 1)] })
    const m = { prefixes: [{ prefix: "10.0.0.0/8", le: 16 }], communities: ["65000:1"], asPath: "^65001 ", neighbors: ["192.0.2.7"] }
    expect(matches(m, r)).toBe(true)
    expect(matches({ ...m, communities: ["65000:2"] }, r)).toBe(false)
    expect(matches({ ...m, asPath: "^65002" }, r)).toBe(false)
    expect(matches({ ...m, neighbors: ["192.0.2.1"] }, r)).toBe(false)
    expect(matches({ ...m, prefixes: [{ prefix: "10.0.0.0/8" }] }, r)).toBe(false)
    // No match at all: matches everything.
    expect(matches(undefined, r)).toBe(true)
    expect(matches({}, r)).toBe(true)
  })
})

describe("actions and defaults", () => {
  const r = route("10.0.0.0/8", {
    med: 5,
    localPref: 100,
    communities: [c(65000, 1), c(65000, 2)],
    largeCommunities: [{ global: 65000, local1: 1, local2: 1 }]
  })

  it("accept returns the attributes unchanged; reject returns undefined; the first match decides", () => {
    expect(compilePolicy({ statements: [{ action: "accept" }] })(r)).toEqual(r.attrs)
    expect(compilePolicy({ statements: [{ action: "reject" }] })(r)).toBeUndefined()
    const p = compilePolicy({
      statements: [
        { match: { communities: ["65000:9"] }, action: "accept", set: { med: 9 } },
        { match: { communities: ["65000:2"] }, action: "reject" },
        { action: "accept", set: { med: 1 } }
      ]
    })
    expect(p(r)).toBeUndefined()
    expect(p(route("10.0.0.0/8", { communities: [c(65000, 9), c(65000, 2)] }))!.med).toBe(9)
    expect(p(route("10.0.0.0/8"))!.med).toBe(1)
    expect(acceptAll(r)).toBe(r.attrs)
    expect(rejectAll(r)).toBeUndefined()
  })

  it("default: reject unless configured to accept", () => {
    const none = { statements: [{ match: { communities: ["65000:9"] }, action: "accept" as const }] }
    expect(compilePolicy(none)(r)).toBeUndefined()
    expect(compilePolicy({ ...none, default: "reject" })(r)).toBeUndefined()
    expect(compilePolicy({ ...none, default: "accept" })(r)).toEqual(r.attrs)
    expect(compilePolicy({ statements: [], default: "accept" })(r)).toEqual(r.attrs)
    expect(compilePolicy({ statements: [] })(r)).toBeUndefined()
  })

  const apply = (set: Statement["set"], rt: PolicyRoute = r) => compilePolicy({ statements: [{ action: "accept", ...(set === undefined ? {} : { set }) }] })(rt)!

  it("set local-pref and MED, full range", () => {
    expect(apply({ localPref: 200 })).toMatchObject({ localPref: 200, med: 5 })
    expect(apply({ med: 0 })).toMatchObject({ localPref: 100, med: 0 })
    expect(apply({ med: 0xffffffff, localPref: 0 })).toMatchObject({ localPref: 0, med: 0xffffffff })
    expect(apply({ localPref: 300 }, route("10.0.0.0/8"))!.localPref).toBe(300)
  })

  it("add and remove communities: no duplicates, none left means no attribute", () => {
    expect(apply({ addCommunities: ["65000:3", "65000:1", "no-export"] }).communities).toEqual([
      c(65000, 1),
      c(65000, 2),
      c(65000, 3),
      0xffffff01
    ])
    expect(apply({ removeCommunities: ["65000:1"] }).communities).toEqual([c(65000, 2)])
    expect(apply({ removeCommunities: ["65000:1", "65000:2"] })).not.toHaveProperty("communities")
    // Remove and add the same one: it stays (remove first, then add).
    expect(apply({ removeCommunities: ["65000:1"], addCommunities: ["65000:1"] }).communities).toEqual([c(65000, 2), c(65000, 1)])
    expect(apply({ addCommunities: ["graceful-shutdown"] }, route("10.0.0.0/8")).communities).toEqual([0xffff0000])
  })

  it("add and remove large communities", () => {
    expect(apply({ addLargeCommunities: ["65000:2:2", "65000:1:1"] }).largeCommunities).toEqual([
      { global: 65000, local1: 1, local2: 1 },
      { global: 65000, local1: 2, local2: 2 }
    ])
    expect(apply({ removeLargeCommunities: ["65000:1:1"] })).not.toHaveProperty("largeCommunities")
    expect(apply({ removeLargeCommunities: ["65000:1:2"] }).largeCommunities).toEqual([{ global: 65000, local1: 1, local2: 1 }])
  })

  it("prepend our AS", () => {
    expect(apply({ prepend: 2 }).asPath).toEqual([seq(65000, 65000, 65001, 65002)])
    expect(apply({ prepend: 0 }).asPath).toEqual([seq(65001, 65002)])
    expect(apply({ prepend: 1 }, route("10.0.0.0/8", { asPath: [] })).asPath).toEqual([seq(65000)])
    expect(apply({ prepend: 1 }, route("10.0.0.0/8", { asPath: [set(1, 2)] })).asPath).toEqual([seq(65000), set(1, 2)])
    // A full leading segment (255 ASes) is not overfilled: a new segment goes in front.
    const full = seq(...new Array<number>(254).fill(65001))
    expect(prependAs([full], 65000, 1)).toEqual([seq(65000, ...full.asns)])
    expect(prependAs([full], 65000, 2)).toEqual([seq(65000, 65000), full])
  })

  it("next hop: self, peer, an address; self without a local address leaves it", () => {
    expect(apply({ nextHop: "self" }).nextHop).toBe(ip("192.0.2.1"))
    expect(apply({ nextHop: "peer" }).nextHop).toBe(ip("192.0.2.7"))
    expect(apply({ nextHop: "198.51.100.1" }).nextHop).toBe(ip("198.51.100.1"))
    const { localAddress: _, ...noLocal } = r
    expect(apply({ nextHop: "self" }, noLocal).nextHop).toBe(ip("192.0.2.7"))
  })

  it("the input attributes are never modified", () => {
    const before = structuredClone(r.attrs)
    apply({ localPref: 1, med: 2, addCommunities: ["1:1"], removeCommunities: ["65000:1"], addLargeCommunities: ["1:1:1"], prepend: 3, nextHop: "self" })
    expect(r.attrs).toEqual(before)
  })

  it("asPathContains counts occurrences across segments", () => {
    const a: PathAttributes = { asPath: [seq(1, 2, 1), set(1, 3)] }
    expect(asPathContains(a, 1)).toBe(true)
    expect(asPathContains(a, 1, 2)).toBe(true)
    expect(asPathContains(a, 1, 3)).toBe(false)
    expect(asPathContains(a, 4)).toBe(false)
    expect(asPathContains({}, 1)).toBe(false)
  })
})

describe("errors name the offending field", () => {
  const fails = (def: unknown, path: string) => {
    let err: unknown
    try {
      compilePolicy(def as PolicyDefinition)
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(PolicyError)
    const pe = err as PolicyError
    expect(pe.path).toBe(path)
    expect(pe._tag).toBe("PolicyError")
    expect(pe.message.startsWith(`${path}: `)).toBe(true)
  }
  const ok = { action: "accept" }

  it("set actions", () => {
    fails({ statements: [ok, { action: "accept", set: { med: -1 } }] }, "policy.statements[1].set.med")
    fails({ statements: [{ action: "accept", set: { med: 2 ** 32 } }] }, "policy.statements[0].set.med")
    fails({ statements: [{ action: "accept", set: { localPref: 1.5 } }] }, "policy.statements[0].set.localPref")
    fails({ statements: [{ action: "accept", set: { prepend: 33 } }] }, "policy.statements[0].set.prepend")
    fails({ statements: [{ action: "accept", set: { prepend: -1 } }] }, "policy.statements[0].set.prepend")
    fails({ statements: [{ action: "accept", set: { nextHop: "bogus" } }] }, "policy.statements[0].set.nextHop")
    fails({ statements: [{ action: "accept", set: { nextHop: 7 } }] }, "policy.statements[0].set.nextHop")
    fails({ statements: [{ action: "accept", set: { addCommunities: ["1:1", "65536:1"] } }] }, "policy.statements[0].set.addCommunities[1]")
    fails({ statements: [{ action: "accept", set: { removeCommunities: ["x"] } }] }, "policy.statements[0].set.removeCommunities[0]")
    fails({ statements: [{ action: "accept", set: { addLargeCommunities: ["1:2"] } }] }, "policy.statements[0].set.addLargeCommunities[0]")
    fails({ statements: [{ action: "accept", set: { removeLargeCommunities: ["1:1:4294967296"] } }] }, "policy.statements[0].set.removeLargeCommunities[0]")
  })

  it("matches", () => {
    const m = (match: unknown) => ({ statements: [ok, ok, { action: "reject", match }] })
    fails(m({ prefixes: [{ prefix: "10.0.0.0/33" }] }), "policy.statements[2].match.prefixes[0].prefix")
    fails(m({ prefixes: [{ prefix: "10.0.0.0/8" }, { prefix: "nonsense" }] }), "policy.statements[2].match.prefixes[1].prefix")
    fails(m({ prefixes: [{ prefix: 10 }] }), "policy.statements[2].match.prefixes[0].prefix")
    fails(m({ prefixes: [{ prefix: "10.0.0.0/8", ge: 7 }] }), "policy.statements[2].match.prefixes[0].ge")
    fails(m({ prefixes: [{ prefix: "10.0.0.0/8", ge: 33 }] }), "policy.statements[2].match.prefixes[0].ge")
    fails(m({ prefixes: [{ prefix: "10.0.0.0/8", ge: 16.5 }] }), "policy.statements[2].match.prefixes[0].ge")
    fails(m({ prefixes: [{ prefix: "10.0.0.0/8", le: 33 }] }), "policy.statements[2].match.prefixes[0].le")
    fails(m({ prefixes: [{ prefix: "10.0.0.0/8", le: 7 }] }), "policy.statements[2].match.prefixes[0].le")
    fails(m({ prefixes: [{ prefix: "10.0.0.0/8", ge: 24, le: 16 }] }), "policy.statements[2].match.prefixes[0].le")
    fails(m({ prefixes: [{ prefix: "2001:db8::/32", le: 129 }] }), "policy.statements[2].match.prefixes[0].le")
    fails(m({ prefixes: [{ prefix: "2001:db8::/32", ge: 16 }] }), "policy.statements[2].match.prefixes[0].ge")
    fails(m({ communities: ["65000:1", "1:65536"] }), "policy.statements[2].match.communities[1]")
    fails(m({ communities: ["no-such-name"] }), "policy.statements[2].match.communities[0]")
    fails(m({ communities: [65000] }), "policy.statements[2].match.communities[0]")
    fails(m({ largeCommunities: ["1:1:1:1"] }), "policy.statements[2].match.largeCommunities[0]")
    fails(m({ asPath: "(65001" }), "policy.statements[2].match.asPath")
    fails(m({ asPath: 65001 }), "policy.statements[2].match.asPath")
    fails(m({ neighbors: ["192.0.2.1", "192.0.2.300"] }), "policy.statements[2].match.neighbors[1]")
  })

  it("statements and default", () => {
    fails({ statements: [{ action: "permit" }] }, "policy.statements[0].action")
    fails({ statements: [ok, {}] }, "policy.statements[1].action")
    fails({ statements: [null] }, "policy.statements[0]")
    fails({}, "policy.statements")
    fails({ statements: [], default: "deny" }, "policy.default")
    let err: unknown
    try {
      compilePolicy({ statements: [{ action: "accept", set: { med: -1 } }] }, "neighbors[3].import")
    } catch (e) {
      err = e
    }
    expect((err as PolicyError).path).toBe("neighbors[3].import.statements[0].set.med")
  })

  it("IPv6 edges compile", () => {
    expect(() => compilePolicy({ statements: [{ action: "accept", match: { prefixes: [{ prefix: "::/0", ge: 0, le: 128 }, { prefix: "2001:db8::1/128" }] } }] })).not.toThrow()
  })
})

describe("next-hop actions and IPv6 routes", () => {
  it("an IPv4 next-hop action leaves an IPv6 route without a NEXT_HOP attribute (RFC 4760 §3)", () => {
    const p = compilePolicy({ statements: [{ action: "accept", set: { nextHop: "192.0.2.9" } }] })
    const v6 = parsePrefix("2001:db8::/32")!
    const out = p({ prefix: v6, attrs: { origin: 0 }, neighbor: { address: "2001:db8::1", asn: 65001 }, localAs: 65000 })
    assert.isUndefined(out?.nextHop)
    const v4 = parsePrefix("10.0.0.0/8")!
    const out4 = p({ prefix: v4, attrs: { origin: 0 }, neighbor: { address: "10.0.0.1", asn: 65001 }, localAs: 65000 })
    assert.strictEqual(out4?.nextHop, parseIpv4("192.0.2.9"))
  })

  it("an IPv6 next-hop action sets the MP_REACH_NLRI next hop of IPv6 routes and leaves IPv4 routes alone", () => {
    const p = compilePolicy({ statements: [{ action: "accept", set: { nextHop: "2001:db8::9" } }] })
    const v6 = parsePrefix("2001:db8:1::/48")!
    const out = p({ prefix: v6, attrs: { origin: 0, mpNextHop: ipv6ToBytes("2001:db8::1")! }, neighbor: { address: "2001:db8::1", asn: 65001 }, localAs: 65000 })
    assert.deepStrictEqual(out?.mpNextHop, ipv6ToBytes("2001:db8::9"))
    const v4 = parsePrefix("10.0.0.0/8")!
    const out4 = p({ prefix: v4, attrs: { origin: 0, nextHop: parseIpv4("192.0.2.7")! }, neighbor: { address: "10.0.0.1", asn: 65001 }, localAs: 65000 })
    assert.strictEqual(out4?.nextHop, parseIpv4("192.0.2.7"))
    assert.isUndefined(out4?.mpNextHop)
  })

  it("next hop \"peer\" on an IPv6 route is the neighbor's IPv6 address (an IPv4 neighbor leaves it alone)", () => {
    const p = compilePolicy({ statements: [{ action: "accept", set: { nextHop: "peer" } }] })
    const v6 = parsePrefix("2001:db8:1::/48")!
    const kept = ipv6ToBytes("2001:db8::1")!
    const viaV6 = p({ prefix: v6, attrs: { origin: 0, mpNextHop: kept }, neighbor: { address: "2001:db8::77", asn: 65001 }, localAs: 65000 })
    assert.deepStrictEqual(viaV6?.mpNextHop, ipv6ToBytes("2001:db8::77"))
    const viaV4 = p({ prefix: v6, attrs: { origin: 0, mpNextHop: kept }, neighbor: { address: "192.0.2.7", asn: 65001 }, localAs: 65000 })
    assert.strictEqual(viaV4?.mpNextHop, kept)
  })
})
