/**
 * RFC 7606 (revised UPDATE error handling) and RFC 4271 §6.3, table-driven over hand-built UPDATEs.
 * Every attribute is written field by field; `update()` only adds the 19-octet header and the two length
 * fields, which each test states in a comment where they matter.
 */
import { describe, expect, it } from "vitest"
import { Result } from "effect"
import {
  decodeMessage,
  encodeMessage,
  fromHex,
  makeContext,
  parsePrefix
} from "../src/index.ts"
import type { BgpError, CodecContext, ErrorAction, Update } from "../src/index.ts"
import { frameMessage } from "./arbitraries.ts"

const hex = (...parts: ReadonlyArray<string>): Uint8Array => fromHex(parts.join(" "))
const u16hex = (n: number): string => n.toString(16).padStart(4, "0")

/** An UPDATE: Withdrawn Routes Length, Withdrawn Routes, Total Path Attribute Length, attributes, NLRI. */
const update = (parts: { withdrawn?: string; attributes: ReadonlyArray<string>; nlri?: string }): Uint8Array => {
  const w = hex(parts.withdrawn ?? "")
  const a = hex(...parts.attributes)
  return frameMessage(2, hex(u16hex(w.length), parts.withdrawn ?? "", u16hex(a.length), ...parts.attributes, parts.nlri ?? ""))
}

const NEW = makeContext({ as4: true })
const OLD = makeContext({ as4: false })

// The well-formed attributes the tables start from.
const ORIGIN = "40 01 01 00" //                  flags 0x40 (well-known transitive), type 1 ORIGIN, length 1, IGP
const AS_PATH_4 = "40 02 06 02 01 0000fde9" //   AS_PATH, length 6: AS_SEQUENCE (2) of 1 AS: 65001 (4 octets)
const AS_PATH_2 = "40 02 04 02 01 fde9" //       AS_PATH, length 4: AS_SEQUENCE of 1 AS: 65001 (2 octets)
const NEXT_HOP = "40 03 04 c0000201" //          NEXT_HOP, length 4: 192.0.2.1
const NLRI = "08 0a" //                          10.0.0.0/8: length 8 bits, 1 octet
const P10 = parsePrefix("10.0.0.0/8")!

const decodeUpdate = (bytes: Uint8Array, ctx: CodecContext): Update => {
  const m = Result.getOrThrow(decodeMessage(bytes, ctx))
  if (m._tag !== "Update") throw new Error(m._tag)
  return m
}

const decodeFailure = (bytes: Uint8Array, ctx: CodecContext): BgpError => {
  const r = decodeMessage(bytes, ctx)
  if (Result.isSuccess(r)) throw new Error(`expected a failure, got ${JSON.stringify(r.success)}`)
  return r.failure
}

interface Row {
  readonly name: string
  /** The malformed attribute, field by field. */
  readonly attr: string
  /** Which well-formed base attribute it stands in for, if any. */
  readonly replaces?: "origin" | "asPath" | "nextHop"
  readonly ctx?: CodecContext
  readonly type: number
  readonly subcode: number
  readonly action: ErrorAction
  /** NOTIFICATION data: the attribute itself (RFC 4271 §6.3), or nothing (3/11). */
  readonly data: "attribute" | "none"
  /** For attribute discard: the PathAttributes key that must be absent afterwards. */
  readonly key?: string
}

const rows: ReadonlyArray<Row> = [
  // RFC 7606 §7.1: ORIGIN of length other than 1, or an undefined value: treat-as-withdraw.
  { name: "§7.1 ORIGIN length 2", attr: "40 01 02 0000", replaces: "origin", type: 1, subcode: 5, action: "TreatAsWithdraw", data: "attribute" },
  { name: "§7.1 ORIGIN value 3", attr: "40 01 01 03", replaces: "origin", type: 1, subcode: 6, action: "TreatAsWithdraw", data: "attribute" },
  // §7.2: a segment overrunning the attribute, a zero segment length, an unknown segment type.
  { name: "§7.2 AS_PATH segment overruns", attr: "40 02 06 02 02 0000fde9", replaces: "asPath", type: 2, subcode: 11, action: "TreatAsWithdraw", data: "none" },
  { name: "§7.2 AS_PATH segment of 0 ASes", attr: "40 02 02 02 00", replaces: "asPath", type: 2, subcode: 11, action: "TreatAsWithdraw", data: "none" },
  { name: "§7.2 AS_PATH segment type 5", attr: "40 02 06 05 01 0000fde9", replaces: "asPath", type: 2, subcode: 11, action: "TreatAsWithdraw", data: "none" },
  // §7.3: NEXT_HOP length other than 4.
  { name: "§7.3 NEXT_HOP length 5", attr: "40 03 05 c000020100", replaces: "nextHop", type: 3, subcode: 5, action: "TreatAsWithdraw", data: "attribute" },
  // §7.4: MULTI_EXIT_DISC (flags 0x80 optional non-transitive) length other than 4.
  { name: "§7.4 MED length 3", attr: "80 04 03 000064", type: 4, subcode: 5, action: "TreatAsWithdraw", data: "attribute" },
  // §7.5: LOCAL_PREF length other than 4, from an internal peer.
  { name: "§7.5 LOCAL_PREF length 2 (internal)", attr: "40 05 02 0064", ctx: makeContext({ internal: true }), type: 5, subcode: 5, action: "TreatAsWithdraw", data: "attribute" },
  // §7.5: from an external peer LOCAL_PREF is discarded anyway: attribute discard.
  { name: "§7.5 LOCAL_PREF length 2 (external)", attr: "40 05 02 0064", ctx: makeContext({ internal: false }), type: 5, subcode: 5, action: "AttributeDiscard", data: "attribute", key: "localPref" },
  // §7.6: ATOMIC_AGGREGATE length other than 0: attribute discard.
  { name: "§7.6 ATOMIC_AGGREGATE length 1", attr: "40 06 01 00", type: 6, subcode: 5, action: "AttributeDiscard", data: "attribute", key: "atomicAggregate" },
  // §7.7: AGGREGATOR (flags 0xc0 optional transitive) length other than 8 (4-octet AS) or 6 (2-octet).
  { name: "§7.7 AGGREGATOR length 7 (NEW)", attr: "c0 07 07 0000fde9 c00002", type: 7, subcode: 5, action: "AttributeDiscard", data: "attribute", key: "aggregator" },
  { name: "§7.7 AGGREGATOR length 8 (OLD)", attr: "c0 07 08 0000fde9 c0000201", ctx: OLD, type: 7, subcode: 5, action: "AttributeDiscard", data: "attribute", key: "aggregator" },
  // §7.8: COMMUNITIES length not a non-zero multiple of 4.
  { name: "§7.8 COMMUNITIES length 5", attr: "c0 08 05 fde90064 00", type: 8, subcode: 5, action: "TreatAsWithdraw", data: "attribute" },
  { name: "§7.8 COMMUNITIES length 0", attr: "c0 08 00", type: 8, subcode: 5, action: "TreatAsWithdraw", data: "attribute" },
  // §7.9: ORIGINATOR_ID length other than 4.
  { name: "§7.9 ORIGINATOR_ID length 3", attr: "80 09 03 0a0000", type: 9, subcode: 5, action: "TreatAsWithdraw", data: "attribute" },
  // §7.10: CLUSTER_LIST length not a non-zero multiple of 4.
  { name: "§7.10 CLUSTER_LIST length 6", attr: "80 0a 06 0a000001 0000", type: 10, subcode: 5, action: "TreatAsWithdraw", data: "attribute" },
  { name: "§7.10 CLUSTER_LIST length 0", attr: "80 0a 00", type: 10, subcode: 5, action: "TreatAsWithdraw", data: "attribute" },
  // §7.14: EXTENDED_COMMUNITIES length not a non-zero multiple of 8.
  { name: "§7.14 EXTENDED_COMMUNITIES length 7", attr: "c0 10 07 0002fde9000000", type: 16, subcode: 5, action: "TreatAsWithdraw", data: "attribute" },
  // RFC 8092 §6: LARGE_COMMUNITY length not a non-zero multiple of 12.
  { name: "RFC 8092 §6 LARGE_COMMUNITY length 13", attr: "c0 20 0d 0000fde9 00000001 00000002 00", type: 32, subcode: 5, action: "TreatAsWithdraw", data: "attribute" },
  // RFC 9234 §5: OTC length other than 4.
  { name: "RFC 9234 §5 OTC length 3", attr: "c0 23 03 00fde9", type: 35, subcode: 5, action: "TreatAsWithdraw", data: "attribute" },
  // RFC 6793 §6: malformed AS4_PATH and AS4_AGGREGATOR (from an OLD speaker): attribute discard.
  { name: "RFC 6793 §6 AS4_PATH segment overruns", attr: "c0 11 06 02 02 00011170", ctx: OLD, type: 17, subcode: 11, action: "AttributeDiscard", data: "none" },
  { name: "RFC 6793 §6 AS4_PATH empty (shorter than 6)", attr: "c0 11 00", ctx: OLD, type: 17, subcode: 11, action: "AttributeDiscard", data: "none" },
  { name: "RFC 6793 §6 AS4_AGGREGATOR length 7", attr: "c0 12 07 00011170 c00002", ctx: OLD, type: 18, subcode: 5, action: "AttributeDiscard", data: "attribute" },
  // RFC 7606 §3 c: Optional/Transitive bits that conflict with the type make the attribute malformed.
  { name: "§3 ORIGIN flagged optional", attr: "c0 01 01 00", replaces: "origin", type: 1, subcode: 4, action: "TreatAsWithdraw", data: "attribute" },
  { name: "§3 MED flagged well-known", attr: "40 04 04 00000064", type: 4, subcode: 4, action: "TreatAsWithdraw", data: "attribute" },
  { name: "§3 COMMUNITIES flagged non-transitive", attr: "80 08 04 fde90064", type: 8, subcode: 4, action: "TreatAsWithdraw", data: "attribute" },
  { name: "§3 ATOMIC_AGGREGATE flagged optional", attr: "c0 06 00", type: 6, subcode: 4, action: "AttributeDiscard", data: "attribute", key: "atomicAggregate" },
  // RFC 4271 §4.3: the Partial bit is 0 on well-known attributes.
  { name: "RFC 4271 §4.3 NEXT_HOP with the Partial bit", attr: "60 03 04 c0000201", replaces: "nextHop", type: 3, subcode: 4, action: "TreatAsWithdraw", data: "attribute" }
]

const baseAttributes = (row: Row, ctx: CodecContext): string[] => [
  row.replaces === "origin" ? row.attr : ORIGIN,
  row.replaces === "asPath" ? row.attr : ctx.as4 ? AS_PATH_4 : AS_PATH_2,
  row.replaces === "nextHop" ? row.attr : NEXT_HOP,
  ...(row.replaces === undefined ? [row.attr] : [])
]

describe("RFC 7606 §7: the action for each malformed attribute", () => {
  it.each(rows)("$name → 3/$subcode $action", (row) => {
    const ctx = row.ctx ?? NEW
    const u = decodeUpdate(update({ attributes: baseAttributes(row, ctx), nlri: NLRI }), ctx)
    expect(u.errors?.length).toBe(1)
    const e = u.errors![0]!
    expect([e.code, e.subcode, e.action, e.attributeType]).toEqual([3, row.subcode, row.action, row.type])
    expect([...e.data]).toEqual(row.data === "attribute" ? [...hex(row.attr)] : [])
    if (row.action === "TreatAsWithdraw") {
      // §2 treat-as-withdraw: the NLRI are withdrawn, nothing is left reachable, attributes are dropped.
      expect(u.withdrawn).toEqual([P10])
      expect(u.nlri).toEqual([])
      expect(u.attributes).toEqual({})
    } else {
      // §2 attribute discard: the route stays, the rest of the attributes with it.
      expect(u.nlri).toEqual([P10])
      expect(u.withdrawn).toEqual([])
      expect(u.attributes).not.toHaveProperty(row.key ?? "none")
      expect(u.attributes.origin).toBe(0)
      expect(u.attributes.nextHop).toBe(0xc0000201)
      expect(u.attributes.asPath).toEqual([{ type: 2, asns: [65001] }])
    }
  })

  it("§2 treat-as-withdraw moves MP_REACH_NLRI prefixes into MP_UNREACH_NLRI", () => {
    const bytes = update({
      attributes: [
        "80 0e 1a" + //         MP_REACH_NLRI, optional non-transitive, length 26
          " 0002 01" + //       AFI 2 (IPv6), SAFI 1 (unicast)
          " 10 20010db8000000000000000000000001" + // next hop length 16: 2001:db8::1
          " 00" + //            reserved
          " 20 20010db8", //    NLRI: 2001:db8::/32
        "40 01 01 07", //       ORIGIN 7: undefined value, treat-as-withdraw
        AS_PATH_4
      ]
    })
    const u = decodeUpdate(bytes, NEW)
    expect(u.errors?.map((e) => e.subcode)).toEqual([6])
    expect(u.mpReach).toBeUndefined()
    expect(u.mpUnreach).toEqual({ afi: 2, safi: 1, withdrawn: [parsePrefix("2001:db8::/32")] })
  })

  it("§2 treat-as-withdraw joins the raw NLRI of a family the codec keeps as bytes", () => {
    const bytes = update({
      attributes: [
        "80 0f 08 0001 80 0102030405", //           MP_UNREACH_NLRI, length 8: AFI 1, SAFI 128 (VPN), 5 raw octets
        "80 0e 0b 0001 80 04 c0000201 00 aabb", //  MP_REACH_NLRI: AFI 1, SAFI 128, next hop length 4, reserved, 2 raw octets
        ORIGIN,
        "40 02 01 02" //                            AS_PATH of length 1: truncated segment header, malformed
      ]
    })
    const u = decodeUpdate(bytes, NEW)
    expect(u.errors?.map((e) => e.action)).toEqual(["TreatAsWithdraw"])
    expect(u.mpReach).toBeUndefined()
    expect(u.mpUnreach).toEqual({ afi: 1, safi: 128, withdrawn: [], rawWithdrawn: hex("0102030405 aabb") })
  })

  it("§4: an attribute overrunning the Total Path Attribute Length is treat-as-withdraw, NLRI found by that length", () => {
    const bytes = frameMessage(2, hex(
      "0000", //              Withdrawn Routes Length 0
      "000b", //              Total Path Attribute Length 11
      ORIGIN, //              4 octets
      "40 03 08 c0000201", // NEXT_HOP claiming 8 octets, only 4 left in the attribute list (7 octets)
      NLRI
    ))
    const u = decodeUpdate(bytes, NEW)
    expect(u.errors?.map((e) => [e.subcode, e.action])).toEqual([[5, "TreatAsWithdraw"]])
    expect(u.withdrawn).toEqual([P10])
  })
})

describe("RFC 7606 §3: duplicates", () => {
  it("a repeated MP_REACH_NLRI is a Malformed Attribute List (3/1), session reset", () => {
    // MP_REACH_NLRI, length 21: AFI 2, SAFI 1, next hop length 16, 2001:db8::1, reserved, no NLRI
    const mpReach = "80 0e 15 0002 01 10 20010db8000000000000000000000001 00"
    const bytes = update({ attributes: [mpReach, mpReach, ORIGIN, AS_PATH_4] })
    const e = decodeFailure(bytes, NEW)
    expect([e.code, e.subcode, e.action]).toEqual([3, 1, "SessionReset"])
  })

  it("a repeated MP_UNREACH_NLRI too", () => {
    const mpUnreach = "80 0f 03 0002 01" // AFI 2, SAFI 1, nothing withdrawn
    const e = decodeFailure(update({ attributes: [mpUnreach, mpUnreach] }), NEW)
    expect([e.code, e.subcode, e.action]).toEqual([3, 1, "SessionReset"])
  })

  it.each([
    ["ORIGIN", ["40 01 01 00", "40 01 01 02"], { origin: 0 }],
    ["COMMUNITIES", ["c0 08 04 fde90064", "c0 08 04 fde900c8"], { communities: [0xfde90064] }],
    ["an unknown optional attribute", ["c0 63 01 aa", "c0 63 02 bbbb"], { unknown: [{ flags: 0xc0, type: 99, value: hex("aa") }] }]
  ] as const)("every repeated %s after the first is discarded", (_, copies, expected) => {
    const u = decodeUpdate(update({ attributes: [...copies, ORIGIN, AS_PATH_4, NEXT_HOP], nlri: NLRI }), NEW)
    expect(u.errors).toBeUndefined()
    expect(u.nlri).toEqual([P10])
    expect(u.attributes).toMatchObject(expected)
  })
})

describe("RFC 4271 §6.3 / RFC 7606 §3 d: missing well-known attributes", () => {
  it.each([
    ["ORIGIN", [AS_PATH_4, NEXT_HOP], 1],
    ["AS_PATH", [ORIGIN, NEXT_HOP], 2],
    ["NEXT_HOP", [ORIGIN, AS_PATH_4], 3]
  ] as const)("no %s with NLRI: 3/3 with the type code as data, treat-as-withdraw", (_, attributes, type) => {
    const u = decodeUpdate(update({ attributes, nlri: NLRI }), NEW)
    expect(u.errors?.map((e) => [e.code, e.subcode, e.action, [...e.data]])).toEqual([[3, 3, "TreatAsWithdraw", [type]]])
    expect(u.withdrawn).toEqual([P10])
    expect(u.nlri).toEqual([])
  })

  it("RFC 4760 §3: NEXT_HOP is not required when only MP_REACH_NLRI carries NLRI", () => {
    const bytes = update({
      attributes: [
        "80 0e 1a 0002 01 10 20010db8000000000000000000000001 00 20 20010db8", // MP_REACH: 2001:db8::/32 via 2001:db8::1
        ORIGIN,
        AS_PATH_4
      ]
    })
    const u = decodeUpdate(bytes, NEW)
    expect(u.errors).toBeUndefined()
    expect(u.mpReach?.nlri).toEqual([parsePrefix("2001:db8::/32")])
  })

  it("RFC 4271 §5.1.5: LOCAL_PREF is required from an internal peer only", () => {
    const bytes = update({ attributes: [ORIGIN, AS_PATH_4, NEXT_HOP], nlri: NLRI })
    expect(decodeUpdate(bytes, makeContext({ internal: false })).errors).toBeUndefined()
    expect(decodeUpdate(bytes, NEW).errors).toBeUndefined()
    const u = decodeUpdate(bytes, makeContext({ internal: true }))
    expect(u.errors?.map((e) => [e.subcode, [...e.data]])).toEqual([[3, [5]]])
  })

  it("RFC 4271 §5: an UPDATE that only withdraws needs no attributes", () => {
    const u = decodeUpdate(update({ withdrawn: NLRI, attributes: [] }), makeContext({ internal: true }))
    expect(u.errors).toBeUndefined()
    expect(u.withdrawn).toEqual([P10])
  })
})

describe("RFC 4271 §6.3: errors that reset the session", () => {
  it("an unrecognized well-known attribute: 3/2 with the attribute as data", () => {
    const attr = "40 63 02 abcd" // flags 0x40: well-known (Optional bit clear), type 99, length 2
    const e = decodeFailure(update({ attributes: [ORIGIN, AS_PATH_4, NEXT_HOP, attr], nlri: NLRI }), NEW)
    expect([e.code, e.subcode, e.action, e.attributeType]).toEqual([3, 2, "SessionReset", 99])
    expect([...e.data]).toEqual([...hex(attr)])
  })

  it.each([
    ["an NLRI prefix longer than 32 bits", { attributes: [ORIGIN, AS_PATH_4, NEXT_HOP], nlri: "21 0a000000 00" }],
    ["an NLRI prefix running past the message", { attributes: [ORIGIN, AS_PATH_4, NEXT_HOP], nlri: "18 0a00" }],
    ["a withdrawn prefix running past the Withdrawn Routes Length", { withdrawn: "18 0a00", attributes: [] }]
  ])("%s: Invalid Network Field (3/10), RFC 7606 §5.3", (_, parts) => {
    const e = decodeFailure(update(parts), NEW)
    expect([e.code, e.subcode, e.action, e.data.length]).toEqual([3, 10, "SessionReset", 0])
  })

  it("a Withdrawn Routes Length past the message: Malformed Attribute List (3/1)", () => {
    const e = decodeFailure(frameMessage(2, hex("0010", "0000")), NEW) // 16 octets of withdrawals claimed, none there
    expect([e.code, e.subcode, e.action]).toEqual([3, 1, "SessionReset"])
  })

  it("a Total Path Attribute Length past the message: Malformed Attribute List (3/1)", () => {
    const e = decodeFailure(frameMessage(2, hex("0000", "0010", ORIGIN)), NEW) // 16 octets claimed, 4 there
    expect([e.code, e.subcode, e.action]).toEqual([3, 1, "SessionReset"])
  })
})

describe("RFC 7606 §7.11 / RFC 4760 §7: MP_REACH_NLRI problems disable the family", () => {
  it.each([
    // next hop length 4 for IPv6 unicast: only 16 or 32 are valid (RFC 2545 §3)
    ["a next hop length invalid for the family", "80 0e 0a 0002 01 04 c0000201 00 00", 2, 1],
    // next hop length 32 but the attribute holds only 6 more octets
    ["a next hop overrunning the attribute", "80 0e 0a 0002 01 20 c0000201 00 00", 2, 1],
    // IPv4 unicast NLRI inside MP_REACH with prefix length 40
    ["a malformed prefix", "80 0e 0b 0001 01 04 c0000201 00 28 0a", 1, 1]
  ])("%s: AFI/SAFI disable with the family and the attribute as data", (_, attr, afi, safi) => {
    const e = decodeFailure(update({ attributes: [attr, ORIGIN, AS_PATH_4] }), NEW)
    expect([e.code, e.subcode, e.action, e.afi, e.safi, e.attributeType]).toEqual([3, 9, "AfiSafiDisable", afi, safi, 14])
    expect([...e.data]).toEqual([...hex(attr)])
  })

  it("a malformed prefix in MP_UNREACH_NLRI likewise", () => {
    const attr = "80 0f 05 0002 01 81 00" // AFI 2, SAFI 1, prefix length 129
    const e = decodeFailure(update({ attributes: [attr] }), NEW)
    expect([e.action, e.afi, e.safi, e.attributeType]).toEqual(["AfiSafiDisable", 2, 1, 15])
  })
})

describe("RFC 7606 §5.1: where the encoder puts MP_REACH_NLRI / MP_UNREACH_NLRI", () => {
  it("first in the attribute list, so a receiver finds the NLRI before anything malformed", () => {
    const bytes = Result.getOrThrow(encodeMessage({
      _tag: "Update",
      withdrawn: [],
      nlri: [],
      attributes: { origin: 0, asPath: [{ type: 2, asns: [65001] }], med: 5 },
      mpReach: { afi: 2, safi: 1, nextHop: hex("20010db8000000000000000000000001"), nlri: [parsePrefix("2001:db8::/32")!] },
      mpUnreach: { afi: 2, safi: 1, withdrawn: [parsePrefix("2001:db8:1::/48")!] }
    }, NEW))
    // Header (19), Withdrawn Routes Length 0 (2), Total Path Attribute Length (2), then the first attribute:
    expect([bytes[23], bytes[24]]).toEqual([0x80, 15]) // MP_UNREACH_NLRI
    const second = 23 + 3 + bytes[25]!
    expect([bytes[second], bytes[second + 1]]).toEqual([0x80, 14]) // MP_REACH_NLRI
  })
})
