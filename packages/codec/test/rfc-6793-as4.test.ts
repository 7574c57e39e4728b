/**
 * RFC 6793 (4-octet AS numbers): how a NEW speaker rebuilds the path from an OLD one (§4.2.3), what it
 * discards (§6), and what it sends toward an OLD speaker (§4.2.2). UPDATEs are hand-built field by field.
 */
import { describe, expect, it } from "vitest"
import { Result } from "effect"
import {
  AS_TRANS,
  decodeMessage,
  encodeMessage,
  fromHex,
  makeContext,
  myAsField,
  openAs
} from "../src/index.ts"
import type { CodecContext, PathAttributes, Update } from "../src/index.ts"
import { frameMessage } from "./arbitraries.ts"

const hex = (...parts: ReadonlyArray<string>): Uint8Array => fromHex(parts.join(" "))
const u16hex = (n: number): string => n.toString(16).padStart(4, "0")

/** An UPDATE without withdrawals or NLRI: Withdrawn Routes Length 0, Total Path Attribute Length, attributes. */
const update = (...attributes: ReadonlyArray<string>): Uint8Array =>
  frameMessage(2, hex("0000", u16hex(hex(...attributes).length), ...attributes))

const NEW = makeContext({ as4: true })
const OLD = makeContext({ as4: false })

const decode = (bytes: Uint8Array, ctx: CodecContext): Update => {
  const m = Result.getOrThrow(decodeMessage(bytes, ctx))
  if (m._tag !== "Update") throw new Error(m._tag)
  return m
}

// AS numbers used below: 65001 = fde9, 65002 = fdea, 65010 = fdf2, AS_TRANS 23456 = 5ba0,
// 70000 = 0x00011170, 70001 = 0x00011171.
const ORIGIN = "40 01 01 00" // ORIGIN IGP

describe("RFC 6793 §4.2.3: rebuilding the path received from an OLD speaker", () => {
  it("AS_PATH longer than AS4_PATH: its leading ASes, then AS4_PATH", () => {
    const u = decode(update(
      ORIGIN,
      "40 02 08 02 03 fde9 5ba0 5ba0", //        AS_PATH: AS_SEQUENCE of 3: 65001 AS_TRANS AS_TRANS
      "c0 11 0a 02 02 00011170 00011171" //     AS4_PATH: AS_SEQUENCE of 2: 70000 70001
    ), OLD)
    expect(u.errors).toBeUndefined()
    expect(u.attributes.asPath).toEqual([{ type: 2, asns: [65001, 70000, 70001] }])
  })

  it("AS_PATH shorter than AS4_PATH: AS4_PATH is ignored", () => {
    const u = decode(update(
      ORIGIN,
      "40 02 04 02 01 5ba0", //                  AS_PATH: AS_SEQUENCE of 1: AS_TRANS
      "c0 11 0a 02 02 00011170 00011171" //     AS4_PATH: AS_SEQUENCE of 2
    ), OLD)
    expect(u.attributes.asPath).toEqual([{ type: 2, asns: [AS_TRANS] }])
  })

  it("an AS_SET counts as one AS on both sides", () => {
    const u = decode(update(
      ORIGIN,
      "40 02 0c 02 02 fde9 5ba0 01 02 5ba0 fdea", //            AS_PATH: SEQ 65001 AS_TRANS, SET {AS_TRANS 65002}: 3
      "c0 11 10 02 01 00011170 01 02 00011171 0000fdea" //     AS4_PATH: SEQ 70000, SET {70001 65002}: 2
    ), OLD)
    expect(u.attributes.asPath).toEqual([
      { type: 2, asns: [65001, 70000] },
      { type: 1, asns: [70001, 65002] }
    ])
  })

  it("confederation segments of AS_PATH are kept in front", () => {
    const u = decode(update(
      ORIGIN,
      "40 02 08 03 01 fdf2 02 01 5ba0", //       AS_PATH: AS_CONFED_SEQUENCE 65010, AS_SEQUENCE AS_TRANS
      "c0 11 06 02 01 00011170" //              AS4_PATH: AS_SEQUENCE 70000
    ), OLD)
    expect(u.attributes.asPath).toEqual([{ type: 3, asns: [65010] }, { type: 2, asns: [70000] }])
  })

  it("§6: confederation segments inside AS4_PATH are discarded", () => {
    const u = decode(update(
      ORIGIN,
      "40 02 04 02 01 5ba0", //                          AS_PATH: AS_SEQUENCE AS_TRANS
      "c0 11 0c 03 01 00000001 02 01 00011170" //       AS4_PATH: AS_CONFED_SEQUENCE 1, AS_SEQUENCE 70000
    ), OLD)
    expect(u.attributes.asPath).toEqual([{ type: 2, asns: [70000] }])
  })

  it("an AGGREGATOR that is not AS_TRANS makes AS4_PATH and AS4_AGGREGATOR stale", () => {
    const u = decode(update(
      ORIGIN,
      "40 02 04 02 01 5ba0", //                  AS_PATH: AS_SEQUENCE AS_TRANS
      "c0 07 06 fde9 c0000201", //               AGGREGATOR (6 octets from OLD): AS 65001, 192.0.2.1
      "c0 11 06 02 01 00011170", //              AS4_PATH: 70000
      "c0 12 08 00011170 c0000202" //           AS4_AGGREGATOR: AS 70000, 192.0.2.2
    ), OLD)
    expect(u.attributes.asPath).toEqual([{ type: 2, asns: [AS_TRANS] }])
    expect(u.attributes.aggregator).toEqual({ asn: 65001, address: 0xc0000201 })
  })

  it("an AGGREGATOR of AS_TRANS takes AS4_AGGREGATOR's AS and address", () => {
    const u = decode(update(
      ORIGIN,
      "40 02 04 02 01 5ba0", //                  AS_PATH: AS_SEQUENCE AS_TRANS
      "c0 07 06 5ba0 c0000201", //               AGGREGATOR: AS_TRANS, 192.0.2.1
      "c0 11 06 02 01 00011170", //              AS4_PATH: 70000
      "c0 12 08 00011170 c0000201" //           AS4_AGGREGATOR: AS 70000, 192.0.2.1
    ), OLD)
    expect(u.attributes.asPath).toEqual([{ type: 2, asns: [70000] }])
    expect(u.attributes.aggregator).toEqual({ asn: 70000, address: 0xc0000201 })
  })

  it("§6: a malformed AS4_PATH is discarded and AS_PATH stands", () => {
    const u = decode(update(
      ORIGIN,
      "40 02 04 02 01 5ba0", //                  AS_PATH: AS_SEQUENCE AS_TRANS
      "c0 11 05 02 01 000111" //                AS4_PATH: one 4-octet AS announced, 3 octets there
    ), OLD)
    expect(u.errors?.map((e) => [e.attributeType, e.action])).toEqual([[17, "AttributeDiscard"]])
    expect(u.attributes.asPath).toEqual([{ type: 2, asns: [AS_TRANS] }])
  })

  it("§6: AS4_PATH and AS4_AGGREGATOR from a NEW speaker are discarded", () => {
    const u = decode(update(
      ORIGIN,
      "40 02 06 02 01 0000fde9", //              AS_PATH (4-octet): 65001
      "c0 11 06 02 01 00011170", //              AS4_PATH: 70000
      "c0 12 08 00011170 c0000201" //           AS4_AGGREGATOR
    ), NEW)
    expect(u.errors).toBeUndefined()
    expect(u.attributes).toEqual({ origin: 0, asPath: [{ type: 2, asns: [65001] }] })
  })
})

describe("RFC 6793 §4.2.2: sending", () => {
  const attributes: PathAttributes = {
    origin: 0,
    asPath: [{ type: 2, asns: [65001, 70000] }],
    aggregator: { asn: 70000, address: 0xc0000201 }
  }
  const encode = (a: PathAttributes, ctx: CodecContext): Uint8Array =>
    Result.getOrThrow(encodeMessage({ _tag: "Update", withdrawn: [], nlri: [], attributes: a }, ctx))

  it("toward an OLD speaker: AS_TRANS in AS_PATH and AGGREGATOR, the real ASes in AS4_PATH and AS4_AGGREGATOR", () => {
    expect(encode(attributes, OLD)).toStrictEqual(update(
      ORIGIN,
      "40 02 06 02 02 fde9 5ba0", //             AS_PATH: AS_SEQUENCE 65001 AS_TRANS
      "c0 07 06 5ba0 c0000201", //               AGGREGATOR: AS_TRANS, 192.0.2.1
      "c0 11 0a 02 02 0000fde9 00011170", //     AS4_PATH: AS_SEQUENCE 65001 70000
      "c0 12 08 00011170 c0000201" //           AS4_AGGREGATOR: 70000, 192.0.2.1
    ))
  })

  it("toward a NEW speaker: 4-octet AS_PATH and AGGREGATOR, no AS4_* attributes", () => {
    expect(encode(attributes, NEW)).toStrictEqual(update(
      ORIGIN,
      "40 02 0a 02 02 0000fde9 00011170", //     AS_PATH: AS_SEQUENCE 65001 70000
      "c0 07 08 00011170 c0000201" //           AGGREGATOR: 70000, 192.0.2.1
    ))
  })

  it("no AS4_PATH when only confederation segments hold 4-octet ASes (it would be empty, §6 malformed)", () => {
    const a: PathAttributes = { origin: 0, asPath: [{ type: 3, asns: [70000] }, { type: 2, asns: [65001] }] }
    expect(encode(a, OLD)).toStrictEqual(update(
      ORIGIN,
      "40 02 08 03 01 5ba0 02 01 fde9" //       AS_PATH: AS_CONFED_SEQUENCE AS_TRANS, AS_SEQUENCE 65001
    ))
  })

  it("a 2-octet AGGREGATOR with a 4-octet path loses the path at an OLD receiver, as §4.2.3 prescribes", () => {
    const a: PathAttributes = { origin: 0, asPath: [{ type: 2, asns: [70000] }], aggregator: { asn: 65001, address: 1 } }
    expect(decode(encode(a, OLD), OLD).attributes.asPath).toEqual([{ type: 2, asns: [AS_TRANS] }])
    expect(decode(encode(a, NEW), NEW).attributes.asPath).toEqual([{ type: 2, asns: [70000] }])
  })

  it("§4.1: the OPEN My Autonomous System field carries AS_TRANS for a 4-octet AS; the capability the real one", () => {
    expect(myAsField(70000)).toBe(AS_TRANS)
    expect(myAsField(65001)).toBe(65001)
    const open = { _tag: "Open", version: 4, myAs: AS_TRANS, holdTime: 90, bgpId: 1 } as const
    expect(openAs({ ...open, capabilities: [{ _tag: "FourOctetAs", asn: 70000 }] })).toBe(70000)
    expect(openAs({ ...open, capabilities: [] })).toBe(AS_TRANS)
  })
})
