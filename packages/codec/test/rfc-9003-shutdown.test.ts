/**
 * RFC 9003 BGP Shutdown Communication: a Cease NOTIFICATION (subcode 2 Administrative Shutdown or 4
 * Administrative Reset) whose data is a length octet and up to 255 octets of UTF-8.
 */
import { describe, expect, it } from "vitest"
import fc from "fast-check"
import { Result } from "effect"
import {
  decodeMessage,
  encodeMessage,
  fromHex,
  makeContext,
  shutdownMessage,
  shutdownNotification
} from "../src/index.ts"
import type { Notification } from "../src/index.ts"
import { params } from "./arbitraries.ts"

const hex = (...parts: ReadonlyArray<string>): Uint8Array => fromHex(parts.join(" "))
const utf8 = (s: string): number => new TextEncoder().encode(s).length
const cease = (subcode: number, data: string): Notification => ({ _tag: "Notification", code: 6, subcode, data: hex(data) })

describe("RFC 9003 §2: sending a shutdown communication", () => {
  it("is a Cease NOTIFICATION with the length-prefixed UTF-8 text", () => {
    const n = shutdownNotification(2, "maint")
    expect(Result.getOrThrow(encodeMessage(n, makeContext()))).toStrictEqual(hex(
      "ffffffffffffffffffffffffffffffff",
      "001b", //         Length 27
      "03", //           NOTIFICATION
      "06 02", //        Cease / Administrative Shutdown
      "05", //           Shutdown Communication length 5
      "6d61696e74" //    "maint"
    ))
  })

  it("is cut to 255 octets", () => {
    const n = shutdownNotification(4, "x".repeat(300))
    expect(n.subcode).toBe(4)
    expect(n.data[0]).toBe(255)
    expect(n.data.length).toBe(256)
    expect(shutdownMessage(n)).toBe("x".repeat(255))
  })

  it.each([
    ["a 3-octet character straddling octet 255", "a" + "€".repeat(100), "a" + "€".repeat(84)],
    ["a 4-octet character straddling octet 255", "a".repeat(252) + "😀😀", "a".repeat(252)],
    ["a 4-octet character ending at octet 255", "a".repeat(251) + "😀😀", "a".repeat(251) + "😀"]
  ])("is cut at a character boundary: %s", (_, text, expected) => {
    const n = shutdownNotification(2, text)
    expect(shutdownMessage(n)).toBe(expected)
    expect(n.data[0]).toBe(utf8(expected))
  })

  it("cuts long text in linear time (a 10 MB reason does not stall the session)", () => {
    const n = shutdownNotification(2, "é".repeat(5_000_000))
    expect(shutdownMessage(n)).toBe("é".repeat(127))
  })

  it("for any text, sends the longest prefix of whole characters that fits in 255 octets", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: "binary", maxLength: 300 }), fc.string({ unit: "grapheme", maxLength: 120 })), (text) => {
        const got = shutdownMessage(shutdownNotification(2, text)) ?? ""
        expect(text.startsWith(got)).toBe(true)
        expect(utf8(got)).toBeLessThanOrEqual(255)
        // Longest: the next code point would not have fitted.
        const next = String.fromCodePoint(text.codePointAt(got.length) ?? 0)
        if (got.length < text.length) expect(utf8(got) + utf8(next)).toBeGreaterThan(255)
      }),
      params(1000)
    )
  })
})

describe("RFC 9003 §2-§4: receiving one", () => {
  it.each([
    ["Administrative Shutdown", cease(2, "02 6869"), "hi"],
    ["Administrative Reset", cease(4, "02 6869"), "hi"],
    ["UTF-8 beyond ASCII", cease(2, "03 e282ac"), "€"]
  ])("%s: the text", (_, n, text) => {
    expect(shutdownMessage(n)).toBe(text)
  })

  it.each([
    ["invalid UTF-8 (§4)", cease(2, "02 c328")],
    ["a truncated UTF-8 sequence", cease(2, "02 e282")],
    ["a Length past the data (§4)", cease(2, "05 6869")],
    ["a Length of 0 (no communication)", cease(2, "00")],
    ["no data at all", cease(2, "")],
    ["another Cease subcode (Peer De-configured)", cease(3, "02 6869")],
    ["another error code", { _tag: "Notification", code: 3, subcode: 2, data: hex("02 6869") } as Notification]
  ])("%s: no message", (_, n) => {
    expect(shutdownMessage(n)).toBeUndefined()
  })

  it("survives a NOTIFICATION round trip", () => {
    const bytes = Result.getOrThrow(encodeMessage(shutdownNotification(2, "planned maintenance"), makeContext()))
    const n = Result.getOrThrow(decodeMessage(bytes, makeContext()))
    expect(n._tag === "Notification" && shutdownMessage(n)).toBe("planned maintenance")
  })
})
