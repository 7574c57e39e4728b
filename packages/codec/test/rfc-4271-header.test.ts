/**
 * RFC 4271 §4.1 message header, §6.1 Message Header Error handling, §4.4 KEEPALIVE and §4.5 NOTIFICATION,
 * with the RFC 8654 extended length. Messages are hand-built: marker, Length, Type, body.
 */
import { describe, expect, it } from "vitest"
import { Result } from "effect"
import {
  decodeMessage,
  encodeMessage,
  fromHex,
  makeContext,
  makeFramer,
  toNotification
} from "../src/index.ts"
import type { BgpError, CodecContext } from "../src/index.ts"

const hex = (...parts: ReadonlyArray<string>): Uint8Array => fromHex(parts.join(" "))
const MARKER = "ffffffffffffffffffffffffffffffff" // 16 octets of ones (§4.1)
const CTX = makeContext()

const failure = (bytes: Uint8Array, ctx: CodecContext = CTX): BgpError => {
  const r = decodeMessage(bytes, ctx)
  if (Result.isSuccess(r)) throw new Error(`expected a failure, got ${r.success._tag}`)
  return r.failure
}

const KEEPALIVE = hex(MARKER, "0013", "04") // Length 19, Type 4 KEEPALIVE

/** An UPDATE of exactly `length` octets: no withdrawals, one unknown optional attribute as padding. */
const updateOfLength = (length: number): Uint8Array => {
  const pad = length - 19 - 2 - 2 - 4
  return hex(
    MARKER,
    length.toString(16).padStart(4, "0"), // Length
    "02", //                                 Type 2 UPDATE
    "0000", //                               Withdrawn Routes Length 0
    (pad + 4).toString(16).padStart(4, "0"), // Total Path Attribute Length
    "90 63", //                              flags optional + extended length, type 99 (unassigned)
    pad.toString(16).padStart(4, "0"), //    Attribute Length (2 octets)
    "00".repeat(pad)
  )
}

describe("RFC 4271 §6.1: Message Header Error", () => {
  it("a KEEPALIVE is the header alone (§4.4)", () => {
    expect(Result.getOrThrow(decodeMessage(KEEPALIVE, CTX))).toEqual({ _tag: "Keepalive" })
    expect(Result.getOrThrow(encodeMessage({ _tag: "Keepalive" }, CTX))).toStrictEqual(KEEPALIVE)
  })

  it("a marker that is not all ones: Connection Not Synchronized (1/1), no data", () => {
    const e = failure(hex("ffffffffffffffffffffffffffffff fe", "0013", "04"))
    expect([e.code, e.subcode, e.data.length, e.action]).toEqual([1, 1, 0, "SessionReset"])
  })

  it.each([
    ["a Length below 19", hex(MARKER, "0012", "04", "00"), "0012"],
    ["a Length above 4096 without RFC 8654", updateOfLength(4097), "1001"],
    ["a KEEPALIVE of 20 octets (§4.4: exactly 19)", hex(MARKER, "0014", "04", "00"), "0014"],
    ["an OPEN of 28 octets (minimum 29)", hex(MARKER, "001c", "01", "04 fde9 00b4 c0000201"), "001c"],
    ["an UPDATE of 22 octets (minimum 23)", hex(MARKER, "0016", "02", "0000 00"), "0016"],
    ["a NOTIFICATION of 20 octets (minimum 21)", hex(MARKER, "0014", "03", "06"), "0014"],
    ["a Length that disagrees with the octets received", hex(MARKER, "0017", "02", "0000 0000 00"), "0017"]
  ])("%s: Bad Message Length (1/2) with the Length field as data", (_, bytes, lengthField) => {
    const e = failure(bytes)
    expect([e.code, e.subcode, e.action]).toEqual([1, 2, "SessionReset"])
    expect(e.data).toStrictEqual(hex(lengthField))
  })

  it.each([["00"], ["06"], ["ff"]])("Type %s: Bad Message Type (1/3) with the Type field as data", (type) => {
    const e = failure(hex(MARKER, "0013", type))
    expect([e.code, e.subcode, e.action]).toEqual([1, 3, "SessionReset"])
    expect(e.data).toStrictEqual(hex(type))
  })

  it("RFC 8654 §4: up to 65535 octets once extended messages are negotiated", () => {
    const big = updateOfLength(4097)
    const u = Result.getOrThrow(decodeMessage(big, makeContext({ extendedMessage: true })))
    expect(u._tag).toBe("Update")
    const max = updateOfLength(65535)
    expect(Result.isSuccess(decodeMessage(max, makeContext({ extendedMessage: true })))).toBe(true)
  })

  it("the NOTIFICATION for an error repeats its code, subcode and data (§4.5)", () => {
    const n = toNotification(failure(hex(MARKER, "0012", "04", "00")))
    expect(Result.getOrThrow(encodeMessage(n, CTX))).toStrictEqual(hex(
      MARKER,
      "0017", // Length 23
      "03", //   Type 3 NOTIFICATION
      "01", //   Error Code 1 Message Header Error
      "02", //   Error Subcode 2 Bad Message Length
      "0012" //  Data: the bad Length field
    ))
  })

  it("a NOTIFICATION decodes to its code, subcode and data", () => {
    const n = Result.getOrThrow(decodeMessage(hex(MARKER, "0017", "03", "06 02", "0000"), CTX))
    expect(n).toEqual({ _tag: "Notification", code: 6, subcode: 2, data: hex("0000") })
  })
})

describe("RFC 4271 §6.1 in the framer", () => {
  it("hands out what came before the damage, then refuses the connection", () => {
    const framer = makeFramer()
    const bad = hex("00".repeat(16), "0013", "04") // marker of zeros
    const r = framer.push(hex(MARKER, "0013", "04", MARKER, "0013", "04")) // two KEEPALIVEs
    expect(r.messages).toEqual([KEEPALIVE, KEEPALIVE])
    const r2 = framer.push(bad)
    expect(r2.messages).toEqual([])
    expect([r2.error?.code, r2.error?.subcode]).toEqual([1, 1])
    // §6.1: the connection is closed; the framer takes nothing more.
    expect(framer.push(KEEPALIVE)).toEqual({ messages: [], error: r2.error })
  })

  it("checks the header as soon as 19 octets are there, before the body arrives", () => {
    const framer = makeFramer()
    const r = framer.push(hex(MARKER, "1001", "02")) // Length 4097 without extended messages
    expect([r.error?.code, r.error?.subcode]).toEqual([1, 2])
    expect(r.error?.data).toStrictEqual(hex("1001"))
  })

  it("takes 4097 octets only after RFC 8654 is switched on", () => {
    const big = updateOfLength(4097)
    expect(makeFramer().push(big).error?.subcode).toBe(2)
    const framer = makeFramer()
    framer.setExtendedMessages(true)
    expect(framer.push(big)).toEqual({ messages: [big] })
  })
})
