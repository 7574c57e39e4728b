/**
 * ROUTE-REFRESH (RFC 2918 §3, with the RFC 7313 subtypes and §5 error handling) and the End-of-RIB marker
 * (RFC 4724 §2). Messages are hand-built field by field.
 */
import { describe, expect, it } from "vitest"
import { Result } from "effect"
import {
  decodeMessage,
  encodeEndOfRib,
  encodeMessage,
  endOfRib,
  fromHex,
  isRefreshMarker,
  makeContext
} from "../src/index.ts"
import type { Message, Update } from "../src/index.ts"

const hex = (...parts: ReadonlyArray<string>): Uint8Array => fromHex(parts.join(" "))
const MARKER = "ffffffffffffffffffffffffffffffff"
const CTX = makeContext()
const decode = (b: Uint8Array): Message => Result.getOrThrow(decodeMessage(b, CTX))

describe("RFC 2918 / RFC 7313: ROUTE-REFRESH", () => {
  it("§3: AFI, subtype (formerly Reserved), SAFI", () => {
    const bytes = hex(MARKER, "0017", "05", "0002", "00", "01") // Length 23, IPv6, normal request, unicast
    expect(decode(bytes)).toEqual({ _tag: "RouteRefresh", afi: 2, safi: 1, subtype: 0 })
    expect(Result.getOrThrow(encodeMessage({ _tag: "RouteRefresh", afi: 2, safi: 1, subtype: 0 }, CTX))).toStrictEqual(bytes)
  })

  it.each([
    ["BoRR", "01"],
    ["EoRR", "02"]
  ])("RFC 7313 §5: a %s longer than 23 octets is 7/1 with the whole message as data", (_, subtype) => {
    const bytes = hex(MARKER, "0018", "05", "0001", subtype, "01", "00") // Length 24
    const r = decodeMessage(bytes, CTX)
    if (Result.isSuccess(r)) throw new Error("expected a failure")
    expect([r.failure.code, r.failure.subcode, r.failure.action]).toEqual([7, 1, "SessionReset"])
    expect(r.failure.data).toStrictEqual(bytes)
  })

  it("RFC 5291 §4: a normal request may carry ORF entries after the fixed part (ignored: ORF is not negotiated)", () => {
    const bytes = hex(
      MARKER,
      "001f", //       Length 31
      "05",
      "0001 00 01", // IPv4, normal request, unicast
      "01", //         When-to-refresh: IMMEDIATE
      "40", //         ORF Type 64 (Address Prefix ORF)
      "0004", //       Length of ORFs 4
      "00000000" //    (entries)
    )
    expect(decode(bytes)).toEqual({ _tag: "RouteRefresh", afi: 1, safi: 1, subtype: 0 })
  })

  it("RFC 7313 §5: an unknown subtype is passed up to be ignored, whatever its length", () => {
    const m = decode(hex(MARKER, "0019", "05", "0001 03 01", "0000"))
    expect(m).toEqual({ _tag: "RouteRefresh", afi: 1, safi: 1, subtype: 3 })
    expect(isRefreshMarker(m as Extract<Message, { _tag: "RouteRefresh" }>)).toBe(false)
  })

  it("RFC 7313 §3: BoRR and EoRR are markers, subtype 0 is a request", () => {
    expect(isRefreshMarker({ _tag: "RouteRefresh", afi: 1, safi: 1, subtype: 0 })).toBe(false)
    expect(isRefreshMarker({ _tag: "RouteRefresh", afi: 1, safi: 1, subtype: 1 })).toBe(true)
    expect(isRefreshMarker({ _tag: "RouteRefresh", afi: 1, safi: 1, subtype: 2 })).toBe(true)
  })
})

describe("RFC 4724 §2: End-of-RIB", () => {
  const V4_EOR = hex(
    MARKER,
    "0017", // Length 23
    "02", //   UPDATE
    "0000", // Withdrawn Routes Length 0
    "0000" //  Total Path Attribute Length 0: nothing at all
  )
  const V6_EOR = hex(
    MARKER,
    "001d", //    Length 29
    "02",
    "0000", //    Withdrawn Routes Length 0
    "0006", //    Total Path Attribute Length 6
    "80 0f 03", // MP_UNREACH_NLRI, optional non-transitive, length 3
    "0002 01" //  AFI 2, SAFI 1, no withdrawn routes
  )

  it("for IPv4 unicast is an empty UPDATE", () => {
    expect(encodeEndOfRib(1, 1)).toStrictEqual(V4_EOR)
    expect(endOfRib(decode(V4_EOR) as Update)).toEqual({ afi: 1, safi: 1 })
  })

  it("for other families is an UPDATE holding only an empty MP_UNREACH_NLRI", () => {
    expect(encodeEndOfRib(2, 1)).toStrictEqual(V6_EOR)
    expect(endOfRib(decode(V6_EOR) as Update)).toEqual({ afi: 2, safi: 1 })
  })

  it("for a family the codec keeps raw (EVPN)", () => {
    const bytes = encodeEndOfRib(25, 70)
    expect(bytes).toStrictEqual(hex(MARKER, "001d", "02", "0000", "0006", "80 0f 03", "0019 46"))
    expect(endOfRib(decode(bytes) as Update)).toEqual({ afi: 25, safi: 70 })
  })

  it.each([
    ["a withdrawal", hex(MARKER, "0019", "02", "0002", "08 0a", "0000")],
    ["an MP_UNREACH_NLRI that withdraws something", hex(MARKER, "0020", "02", "0000", "0009", "80 0f 06 0002 01 10 2001")],
    ["an attribute", hex(MARKER, "001b", "02", "0000", "0004", "40 01 01 00")]
  ])("is not an UPDATE with %s", (_, bytes) => {
    expect(endOfRib(decode(bytes) as Update)).toBeUndefined()
  })
})
