/**
 * tshark as an independent judge of @starling/codec's encoder: Wireshark's BGP dissector reads the
 * messages we encode and must agree, field by field, with what we meant (test/tshark/fields.ts derives
 * both sides). tshark only reads pcap files written here; no interface is touched.
 */
import { assert, beforeAll, describe, expect, it } from "vitest"
import {
  buildAnnouncements,
  buildWithdrawals,
  decodeMessage,
  encodeEndOfRib,
  ipv4Prefix,
  ipv6ToBytes,
  makeContext,
  parsePrefix
} from "@starling/codec"
import type { Capability, PathAttributes, Prefix } from "@starling/codec"
import type { Case } from "./tshark/corpus.ts"
import { corpusAs2, corpusAs4, encodeCase } from "./tshark/corpus.ts"
import { compareFields, expectedFields, formatMismatches, rawFallbacks, tsharkFields } from "./tshark/fields.ts"
import type { Judged } from "./tshark/judge.ts"
import { dissectSegments, exclusionFor, exclusions, frameSummary, judge } from "./tshark/judge.ts"
import { packSegments } from "./tshark/pcap.ts"
import { TSHARK, tsharkAvailable, tsharkVersion } from "./tshark/tshark.ts"

const available = tsharkAvailable()

let as4: Judged[] = []
let as2: Judged[] = []

beforeAll(() => {
  // CI installs tshark with apt (test/tshark/README.md); without it the first test fails, the rest with it.
  if (!available) return
  as4 = judge(corpusAs4, { asnLen: 4, perSegment: 3 }) // several messages per TCP segment
  as2 = judge(corpusAs2, { asnLen: 2, perSegment: 1 }) // one message per segment
})

describe("tshark judges the encoder", () => {
  it("tshark is installed", () => {
    assert.isTrue(available, `tshark not found at ${TSHARK} (apt-get install tshark, or set TSHARK)`)
    expect(tsharkVersion()).toMatch(/TShark/)
  })

  describe("4-octet AS context (bgp.asn_len: 4)", () => {
    it.each(corpusAs4.map((c, i) => [c.name, i] as const))("%s", (_name, i) => {
      const j = as4[i]
      assert.isDefined(j)
      assert.strictEqual(j.mismatches.length, 0, `\n${formatMismatches(j.case.name, j.mismatches)}`)
    })
  })

  describe("2-octet AS context (bgp.asn_len: 2)", () => {
    it.each(corpusAs2.map((c, i) => [c.name, i] as const))("%s", (_name, i) => {
      const j = as2[i]
      assert.isDefined(j)
      assert.strictEqual(j.mismatches.length, 0, `\n${formatMismatches(j.case.name, j.mismatches)}`)
    })
  })
})

describe("batch encoders judged by tshark", () => {
  // RFC 4271 §4: without RFC 8654 no message exceeds 4096 octets; each prefix is 1 + ceil(len / 8) octets.
  const MAX = 4096
  const wire = (p: Prefix) => 1 + Math.ceil(p.length / 8)
  const ctx = makeContext()
  const attributes: PathAttributes = { origin: 0, asPath: [{ type: 2, asns: [65001, 4_200_000_001] }], nextHop: 0xc0000201, med: 7, communities: [0xfde90001] }
  const v4 = Array.from({ length: 1200 }, (_, i) => ipv4Prefix((0x0a000000 + (i << 8)) >>> 0, 24))
  const v6 = Array.from({ length: 600 }, (_, i) => parsePrefix(`2001:db8:${i.toString(16)}::/48`)!)
  const nh6 = ipv6ToBytes("2001:db8::1")!
  const unwrap = <A>(r: { readonly _tag: "Success"; readonly success: A } | { readonly _tag: "Failure"; readonly failure: unknown }): A => {
    if (r._tag === "Failure") throw r.failure
    return r.success
  }

  type UpdateMessage = Extract<Case["message"], { _tag: "Update" }>
  const update = (rest: Partial<UpdateMessage>): UpdateMessage => ({ _tag: "Update", withdrawn: [], nlri: [], attributes: {}, ...rest })

  /**
   * Dissects a batch and checks each message against `meant(prefixes)` (the message we would have meant
   * had all prefixes fitted in one), then the union of the prefixes and the packing.
   */
  const check = (label: string, messages: ReadonlyArray<Uint8Array>, meant: (ps: ReadonlyArray<Prefix>) => UpdateMessage, prefixes: ReadonlyArray<Prefix>, listKey: string) => {
    const judged = dissectSegments(messages, 4).map((m) => tsharkFields(m, 4))
    expect(judged.length, label).toBe(messages.length)
    const expected = expectedFields({ name: label, ctx, message: meant([]) })
    // What depends on how many prefixes went into each message is checked over the whole batch below.
    const perMessage = new RegExp(`^(length|update\\.(withdrawn|attrs)\\.length|attr\\.1[45]\\.(length|flags)|${listKey.replaceAll(".", "\\.")})$`)
    const seen: string[] = []
    judged.forEach((f, i) => {
      const ms = compareFields(expected, f, perMessage)
      assert.strictEqual(ms.length, 0, `\n${formatMismatches(`${label} #${i}`, ms)}`)
      // MP attributes: Optional, non-transitive, not partial; Extended Length either way (RFC 4271 §4.3).
      for (const t of [14, 15]) if (f.has(`attr.${t}.flags`)) expect(["0x80", "0x90"], label).toContain(f.get(`attr.${t}.flags`))
      expect(Number(f.get("length")), label).toBe(messages[i]!.length)
      expect(messages[i]!.length, label).toBeLessThanOrEqual(MAX)
      const listed = f.get(listKey) ?? ""
      const here = listed === "" ? [] : listed.split(" ")
      // As few messages as the size allows: the next prefix would not have fitted in this one.
      if (i < judged.length - 1) expect(messages[i]!.length + wire(prefixes[seen.length + here.length]!), label).toBeGreaterThan(MAX)
      seen.push(...here)
    })
    expect(seen.sort().join(" "), label).toBe(expectedFields({ name: label, ctx, message: meant(prefixes) }).get(listKey))
  }

  it("buildAnnouncements, buildWithdrawals and encodeEndOfRib", () => {
    check("IPv4 announcements", unwrap(buildAnnouncements({ afi: 1, attributes, prefixes: v4 }, ctx)), (ps) => update({ attributes, nlri: [...ps] }), v4, "update.nlri")
    // MP families: NEXT_HOP is not sent (RFC 4760 §3 SHOULD NOT), the next hop is in MP_REACH_NLRI.
    const { nextHop: _, ...mpAttributes } = attributes
    check(
      "IPv6 announcements",
      unwrap(buildAnnouncements({ afi: 2, attributes, nextHop: nh6, prefixes: v6 }, ctx)),
      (ps) => update({ attributes: mpAttributes, mpReach: { afi: 2, safi: 1, nextHop: nh6, nlri: ps } }),
      v6,
      "attr.14.nlri"
    )
    check("IPv4 withdrawals", unwrap(buildWithdrawals(1, v4, ctx)), (ps) => update({ withdrawn: [...ps] }), v4, "update.withdrawn")
    check("IPv6 withdrawals", unwrap(buildWithdrawals(2, v6, ctx)), (ps) => update({ mpUnreach: { afi: 2, safi: 1, withdrawn: ps } }), v6, "attr.15.withdrawn")
    check("IPv4 End-of-RIB", [encodeEndOfRib(1, 1)], () => update({}), [], "update.withdrawn")
    check("IPv6 End-of-RIB", [encodeEndOfRib(2, 1)], (ps) => update({ mpUnreach: { afi: 2, safi: 1, withdrawn: ps } }), [], "attr.15.withdrawn")
  })
})

describe("the judgement has teeth", () => {
  /** Attribute `type` of an UPDATE: offsets of its flags octet and value, and the value length. */
  const findAttribute = (m: Uint8Array, type: number): { flagsAt: number; valueAt: number; length: number } => {
    const wLen = (m[19]! << 8) | m[20]!
    let i = 21 + wLen + 2
    const end = i + ((m[21 + wLen]! << 8) | m[22 + wLen]!)
    while (i < end) {
      const ext = (m[i]! & 0x10) !== 0
      const length = ext ? (m[i + 2]! << 8) | m[i + 3]! : m[i + 2]!
      const valueAt = i + (ext ? 4 : 3)
      if (m[i + 1] === type) return { flagsAt: i, valueAt, length }
      i = valueAt + length
    }
    throw new Error(`attribute ${type} not found`)
  }
  const indexOf = (m: Uint8Array, needle: ReadonlyArray<number>): number => {
    for (let i = 0; i + needle.length <= m.length; i++) if (needle.every((x, k) => m[i + k] === x)) return i
    throw new Error("pattern not found")
  }
  const byName = (name: string): Case => {
    const c = corpusAs4.find((x) => x.name === name)
    if (c === undefined) throw new Error(name)
    return c
  }
  const full = byName("UPDATE IPv4 with every attribute")
  const open = byName("OPEN with every capability")

  /** Deliberately wrong encodings, each with the one field the comparison must flag. */
  const corruptions: ReadonlyArray<{ label: string; base: Case; expect: string; mutate: (b: Uint8Array) => void }> = [
    { label: "MED off by one", base: full, expect: "attr.4.med", mutate: (b) => void (b[findAttribute(b, 4).valueAt + 3]! ^= 1) },
    { label: "COMMUNITIES without the Transitive bit", base: full, expect: "attr.8.flags", mutate: (b) => void (b[findAttribute(b, 8).flagsAt]! &= ~0x40) },
    { label: "an AS number in AS_PATH", base: full, expect: "attr.2.segments", mutate: (b) => void (b[findAttribute(b, 2).valueAt + 5]! ^= 0x80) },
    { label: "the last NLRI prefix", base: full, expect: "update.nlri", mutate: (b) => void (b[b.length - 1]! ^= 1) },
    {
      label: "the 4-octet AS capability",
      base: open,
      expect: `open.cap.${open.message._tag === "Open" ? open.message.capabilities.findIndex((c) => c._tag === "FourOctetAs") : -1}.asn`,
      // code 65, length 4, 4200000001 = 0xfa56ea01
      mutate: (b) => void (b[indexOf(b, [65, 4, 0xfa, 0x56, 0xea, 0x01]) + 5]! ^= 2)
    }
  ]

  it("flags each deliberately corrupted field, and only that field", () => {
    const cases = corruptions.map((x) => ({ ...x.base, name: `${x.base.name} [corrupt: ${x.label}]` }))
    const judged = judge(cases, {
      asnLen: 4,
      perSegment: 2,
      mutate: (c, bytes) => {
        const x = corruptions[cases.indexOf(c)]!
        const copy = bytes.slice()
        x.mutate(copy)
        return copy
      }
    })
    judged.forEach((j, i) => {
      expect(j.mismatches.map((m) => m.key), j.case.name).toEqual([corruptions[i]!.expect])
    })
  })

  it("every exclusion hides a real tshark 4.0 disagreement (shown here), never a field tshark gets right", () => {
    for (const ex of exclusions) {
      const j = [...as4, ...as2].find((x) => x.case.name === ex.caseName)
      assert.isDefined(j, `exclusion for unknown case ${ex.caseName}`)
      const hidden = compareFields(j.expected, j.tshark).filter((m) => ex.keys.test(m.key))
      const agreeing = [...j.expected.keys()].filter((k) => ex.keys.test(k) && j.expected.get(k) === j.tshark.get(k))
      console.info(
        `[${tsharkVersion()}] excluded for "${ex.caseName}": ${ex.reason}\n${formatMismatches(ex.caseName, hidden)}\n` +
          `tshark's dissection: ${JSON.stringify(j.json, (k, v) => (k.endsWith("_raw") ? undefined : v)).slice(0, 1500)}`
      )
      assert.isAbove(hidden.length, 0, `${ex.caseName}: tshark now agrees on every excluded key; drop the exclusion`)
      assert.deepEqual(agreeing, [], `${ex.caseName}: the exclusion hides keys tshark agrees on; narrow it`)
    }
  })

  it("reads the raw value bytes of what tshark 4.0 does not dissect (Role, LLGR, OTC)", () => {
    console.info(`[${tsharkVersion()}] judged from the value bytes tshark delimits: ${[...rawFallbacks].join("; ")}`)
    expect([...rawFallbacks].sort()).toEqual([
      "attribute 35 (OTC, RFC 9234 §5)",
      "capability 71 (Long-Lived Graceful Restart, RFC 9494 §3)",
      "capability 9 (Role, RFC 9234 §4.1)"
    ])
  })

  it("tshark 4.0's ADD-PATH heuristic misreads a default route sharing a field with other prefixes (why the corpus sends 0.0.0.0/0 alone)", () => {
    const c: Case = {
      name: "withdrawals 10.9.0.0/16 and 0.0.0.0/0 without ADD-PATH",
      ctx: makeContext(),
      message: { _tag: "Update", withdrawn: [parsePrefix("10.9.0.0/16")!, parsePrefix("0.0.0.0/0")!], nlri: [], attributes: {} }
    }
    const bytes = encodeCase(c)
    // Our bytes are right: 2 prefixes, 3 + 1 octets, read back as such by our decoder …
    expect(Buffer.from(bytes.subarray(19)).toString("hex")).toBe("0004100a09000000")
    const back = decodeMessage(bytes, c.ctx)
    assert.strictEqual(back._tag, "Success")
    if (back._tag === "Success" && back.success._tag === "Update") {
      expect(back.success.withdrawn).toEqual(c.message._tag === "Update" ? c.message.withdrawn : [])
    }
    // … but tshark takes the 4 octets for a path id plus /0 (detect_add_path_prefix4: a zero prefix length
    // in a field longer than one octet means ADD-PATH).
    const [m] = dissectSegments([bytes], 4)
    const seen = tsharkFields(m!, 4).get("update.withdrawn")
    console.info(`[${tsharkVersion()}] tshark reads withdrawals "10.9.0.0/16 0.0.0.0/0" as: ${seen}`)
    expect(seen).not.toBe("0.0.0.0/0 10.9.0.0/16")
    expect(seen).toMatch(/#/)
  })
})

describe("corpus and pcap", () => {
  it("covers every message type, capability and attribute the codec models", () => {
    const all = [...corpusAs4, ...corpusAs2]
    // Records keyed by the codec's own types: adding a capability or attribute to the codec without a
    // corpus entry is a type error here.
    const capabilityTags: Record<Capability["_tag"], true> = {
      Multiprotocol: true, RouteRefresh: true, ExtendedNextHop: true, ExtendedMessage: true, Role: true,
      GracefulRestart: true, FourOctetAs: true, AddPath: true, EnhancedRouteRefresh: true,
      LongLivedGracefulRestart: true, Fqdn: true, Unknown: true
    }
    const attributeKeys: Record<keyof PathAttributes, true> = {
      origin: true, asPath: true, nextHop: true, med: true, localPref: true, atomicAggregate: true, aggregator: true,
      communities: true, originatorId: true, clusterList: true, extendedCommunities: true, largeCommunities: true,
      otc: true, unknown: true
    }
    const caps = new Set(all.flatMap((c) => (c.message._tag === "Open" ? c.message.capabilities.map((x) => x._tag) : [])))
    expect([...caps].sort()).toEqual(Object.keys(capabilityTags).sort())
    const attrs = new Set(all.flatMap((c) => (c.message._tag === "Update" ? Object.keys(c.message.attributes) : [])))
    expect([...attrs].sort()).toEqual(Object.keys(attributeKeys).sort())
    expect(new Set(all.map((c) => c.message._tag))).toEqual(new Set(["Open", "Update", "Notification", "Keepalive", "RouteRefresh"]))

    // Wire-level features, read from what the judge expected (so they were compared, not just sent).
    const keys = new Map<string, string>()
    for (const j of [...as4, ...as2]) for (const [k, v] of j.expected) if (!exclusionFor(j.case)?.keys.test(k)) keys.set(`${j.case.name}|${k}`, v)
    const has = (pred: (k: string, v: string) => boolean) => [...keys].some(([k, v]) => pred(k.split("|")[1]!, v))
    for (const t of [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 14, 15, 16, 17, 18, 32, 35]) assert.isTrue(has((k) => k === `attr.${t}.flags`), `attribute ${t}`)
    assert.isTrue(has((k, v) => k.endsWith(".flags") && k.startsWith("attr.") && (Number(v) & 0x10) !== 0), "an extended-length attribute")
    assert.isTrue(has((k, v) => k === "attr.250.flags" && v === "0xe0"), "an unknown optional transitive attribute with Partial")
    assert.isTrue(has((k, v) => k === "attr.2.segments" && /\b3:.*\b4:/.test(v)), "confederation segments")
    assert.isTrue(has((k, v) => k === "attr.2.segments" && v.includes("23456")), "AS_TRANS toward a 2-octet speaker")
    assert.isTrue(has((k, v) => k === "update.nlri" && v.includes("#")), "ADD-PATH NLRI")
    assert.isTrue(has((k, v) => k === "attr.15.withdrawn" && v.includes("#")), "ADD-PATH MP_UNREACH_NLRI")
    assert.isTrue(has((k, v) => k === "notify.shutdown" && v.includes("☃")), "RFC 9003 shutdown text")
    for (const s of ["0", "1", "2"]) assert.isTrue(has((k, v) => k === "rr.subtype" && v === s), `ROUTE-REFRESH subtype ${s}`)
    // End-of-RIB for both families (RFC 4724 §2).
    assert.isTrue(as4.some((j) => j.expected.get("length") === "23" && j.expected.get("type") === "2"), "IPv4 End-of-RIB")
    assert.isTrue(as4.some((j) => j.expected.get("attr.15.family") === "2/1" && j.expected.get("attr.15.withdrawn") === "" && j.expected.get("update.attrs.types") === "15"), "IPv6 End-of-RIB")
  })

  it("the pcap frames are TCP 127.0.0.1:40179 → 127.0.0.1:179 with consistent lengths and sequence numbers", () => {
    const messages = corpusAs2.map(encodeCase)
    const segments = packSegments(messages, 2)
    const rows = frameSummary(segments, ["ip.src", "ip.dst", "tcp.srcport", "tcp.dstport", "ip.len", "tcp.len", "tcp.seq_raw", "_ws.malformed"])
    expect(rows.length).toBe(segments.length)
    let seq = 1
    rows.forEach((r, i) => {
      expect(r.slice(0, 4)).toEqual(["127.0.0.1", "127.0.0.1", "40179", "179"])
      expect(Number(r[4])).toBe(40 + segments[i]!.length)
      expect(Number(r[5])).toBe(segments[i]!.length)
      expect(Number(r[6])).toBe(seq)
      expect(r[7] ?? "").toBe("")
      seq += segments[i]!.length
    })
  })
})
