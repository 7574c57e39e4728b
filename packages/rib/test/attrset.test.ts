/**
 * Interned attribute sets: equal sets are one object, reference-counted, freed with their last route.
 */
import { describe, expect, it } from "vitest"
import type { PathAttributes } from "@starling/codec"
import { AttrTable, Rib } from "../src/index.ts"
import type { RouteAttributes } from "../src/index.ts"
import { confedSeq, ip, prefix, seq, set, source } from "./helpers.ts"

/** Built afresh on every call: no shared arrays or objects between two results. */
const full = (): PathAttributes => ({
  origin: 1,
  asPath: [seq(65001, 4200000000), set(1, 2)],
  nextHop: ip("192.0.2.1"),
  med: 7,
  localPref: 300,
  atomicAggregate: true,
  aggregator: { asn: 65001, address: ip("192.0.2.9") },
  communities: [0xfde80001, 0xffffff01],
  originatorId: ip("10.1.1.1"),
  clusterList: [ip("10.2.2.2")],
  extendedCommunities: [{ hi: 0x00020000, lo: 0xfde80001 }],
  largeCommunities: [{ global: 65001, local1: 1, local2: 2 }],
  otc: 65001,
  unknown: [{ flags: 0xc0, type: 99, value: new Uint8Array([1, 2, 3]) }]
})

describe("AttrTable", () => {
  it("equal attribute sets built separately share one AttrSet", () => {
    const t = new AttrTable()
    const a = t.intern(full())
    const b = t.intern(full())
    expect(b).toBe(a)
    expect(a.refs).toBe(2)
    expect(t.size).toBe(1)
  })

  it("decision inputs are pulled out once, with the RFC defaults", () => {
    const t = new AttrTable()
    const s = t.intern(full())
    expect(s).toMatchObject({ localPref: 300, asPathLength: 3, neighborAs: 65001, origin: 1, med: 7 })
    // LOCAL_PREF absent: 100; ORIGIN absent: INCOMPLETE; MED absent: 0 (§9.1.2.2 c); empty path: local.
    expect(t.intern({})).toMatchObject({ localPref: 100, asPathLength: 0, neighborAs: 0, origin: 2, med: 0 })
    // Confederation segments are skipped for the neighbor AS and count zero; a leading AS_SET gives no AS.
    expect(t.intern({ asPath: [confedSeq(64512, 64513), seq(65010, 65020)] })).toMatchObject({ neighborAs: 65010, asPathLength: 2 })
    expect(t.intern({ asPath: [set(65010, 65020), seq(65030)] })).toMatchObject({ neighborAs: 0, asPathLength: 2 })
  })

  it("every attribute takes part in equality", () => {
    const t = new AttrTable()
    const base = t.intern(full())
    const variants: Array<Partial<Record<keyof PathAttributes, unknown>>> = [
      { origin: 0 },
      { asPath: [seq(65001, 4200000000), set(1, 3)] },
      { nextHop: ip("192.0.2.2") },
      { med: 8 },
      { localPref: 301 },
      { atomicAggregate: undefined },
      { aggregator: { asn: 65001, address: ip("192.0.2.8") } },
      { communities: [0xfde80001] },
      { originatorId: ip("10.1.1.2") },
      { clusterList: [ip("10.2.2.2"), 1] },
      { extendedCommunities: [{ hi: 0x00020000, lo: 0xfde80002 }] },
      { largeCommunities: [{ global: 65001, local1: 1, local2: 3 }] },
      { otc: 65002 },
      { unknown: [{ flags: 0xc0, type: 99, value: new Uint8Array([1, 2, 4]) }] }
    ]
    const seen = new Set([base])
    for (const v of variants) {
      const s = t.intern({ ...full(), ...v } as PathAttributes)
      expect(seen.has(s), JSON.stringify(Object.keys(v))).toBe(false)
      seen.add(s)
    }
    expect(t.size).toBe(variants.length + 1)
  })

  it("different mpNextHop: different sets; equal bytes: one set", () => {
    const t = new AttrTable()
    const nh1 = new Uint8Array(16).fill(1)
    const nh2 = new Uint8Array(16).fill(2)
    const a = t.intern({ ...full(), mpNextHop: nh1 } as RouteAttributes)
    const b = t.intern({ ...full(), mpNextHop: nh2 } as RouteAttributes)
    const c = t.intern({ ...full(), mpNextHop: new Uint8Array(16).fill(1) } as RouteAttributes)
    const none = t.intern(full())
    // A 32-octet next hop (global + link-local) is not a 16-octet one with the same start.
    const long = t.intern({ ...full(), mpNextHop: new Uint8Array(32).fill(1) } as RouteAttributes)
    expect(a).not.toBe(b)
    expect(c).toBe(a)
    expect(none).not.toBe(a)
    expect(long).not.toBe(a)
    expect(t.size).toBe(4)
  })

  it("release frees a set at refcount zero; a later intern makes a fresh one", () => {
    const t = new AttrTable()
    const a = t.intern(full())
    t.intern(full())
    t.release(a)
    expect(t.size).toBe(1)
    expect(a.refs).toBe(1)
    t.release(a)
    expect(t.size).toBe(0)
    expect(a.refs).toBe(0)
    const b = t.intern(full())
    expect(b).not.toBe(a)
    expect(b.refs).toBe(1)
  })

  it("releasing a set freed earlier and used again does not evict the live equal set", () => {
    const rib = new Rib()
    const s = source({ address: "10.0.0.1" })
    const old = rib.attrs.intern(full())
    rib.attrs.release(old) // freed
    const live = rib.attrs.intern(full())
    rib.announce(s, prefix("10.0.0.0/8"), old) // a caller holding on to the freed set
    rib.withdraw(s, prefix("10.0.0.0/8"))
    expect(rib.attrs.size).toBe(1)
    expect(rib.attrs.intern(full())).toBe(live)
  })
})

describe("interning in the Rib", () => {
  const P = (i: number) => prefix(`10.${i >> 8}.${i & 255}.0/24`)

  it("routes with equal attributes share a set; it is freed when the last route goes", () => {
    const rib = new Rib()
    const a = source({ address: "10.0.0.1" })
    const b = source({ address: "10.0.0.2" })
    for (let i = 0; i < 10; i++) {
      rib.announce(a, P(i), full())
      rib.announce(b, P(i), full())
    }
    rib.commit()
    expect(rib.attrs.size).toBe(1)
    const s = rib.get(P(0))!.best!.attrs
    expect(s.refs).toBe(20)
    for (let i = 0; i < 10; i++) rib.withdraw(a, P(i))
    rib.commit()
    expect(s.refs).toBe(10)
    rib.dropSource(b)
    rib.commit()
    expect(s.refs).toBe(0)
    expect(rib.attrs.size).toBe(0)
    expect(rib.size).toBe(0)
  })

  it("replacing a route's attributes releases the old set; re-announcing the same ones keeps the count", () => {
    const rib = new Rib()
    const a = source({ address: "10.0.0.1" })
    rib.announce(a, P(1), full())
    rib.announce(a, P(1), full())
    rib.announce(a, P(1), full())
    expect(rib.attrs.size).toBe(1)
    expect(rib.get(P(1))!.paths[0]!.attrs.refs).toBe(1)
    rib.announce(a, P(1), { ...full(), med: 1 })
    expect(rib.attrs.size).toBe(1)
    expect(rib.get(P(1))!.paths[0]!.attrs.med).toBe(1)
    rib.withdraw(a, P(1))
    expect(rib.attrs.size).toBe(0)
  })

  it("announcing an AttrSet directly takes a reference of its own", () => {
    const rib = new Rib()
    const a = source({ address: "10.0.0.1" })
    const s = rib.attrs.intern(full())
    rib.announce(a, P(1), s)
    rib.announce(a, P(2), s)
    expect(s.refs).toBe(3)
    rib.announce(a, P(2), s) // unchanged: no new reference
    expect(s.refs).toBe(3)
    rib.attrs.release(s)
    rib.dropSource(a)
    expect(s.refs).toBe(0)
    expect(rib.attrs.size).toBe(0)
  })

  it("pre-policy copies share sets with post-policy ones and are freed by dropSource", () => {
    const rib = new Rib({ retainPrePolicy: true })
    const a = source({ address: "10.0.0.1" })
    for (let i = 0; i < 5; i++) {
      rib.prePolicy(a, P(i), full())
      rib.announce(a, P(i), full())
    }
    expect(rib.attrs.size).toBe(1)
    expect(rib.get(P(0))!.paths[0]!.attrs.refs).toBe(10)
    rib.dropSource(a)
    expect(rib.attrs.size).toBe(0)
  })

  it("100 000 routes over 100 distinct attribute sets hold exactly 100 sets, and none after", () => {
    const rib = new Rib()
    const peers = [source({ address: "10.0.0.1" }), source({ address: "10.0.0.2" })]
    const N = 100_000
    for (let i = 0; i < N; i++) {
      const k = i % 100
      // Built afresh per route, as a decoder would.
      rib.announce(peers[Math.floor(i / 100) & 1]!, prefix(`${10 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}.0/24`), {
        origin: 0,
        asPath: [seq(65001, 65100 + k)],
        nextHop: ip("192.0.2.1"),
        communities: [k]
      })
    }
    rib.commit()
    expect(rib.size).toBe(N)
    expect(rib.attrs.size).toBe(100)
    let refs = 0
    for (const d of rib.best()) if (d.best!.attrs.refs > refs) refs = d.best!.attrs.refs
    expect(refs).toBe(N / 100)
    rib.dropSource(peers[0]!)
    expect(rib.attrs.size).toBe(100)
    rib.dropSource(peers[1]!)
    rib.commit()
    expect(rib.attrs.size).toBe(0)
    expect(rib.size).toBe(0)
  })
})
