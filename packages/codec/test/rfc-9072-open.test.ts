/**
 * OPEN (RFC 4271 §4.2, §6.2) with capabilities (RFC 5492) and the RFC 9072 extended optional parameters
 * length. OPENs are hand-built field by field.
 */
import { describe, expect, it } from "vitest"
import { Result } from "effect"
import { decodeMessage, encodeMessage, fromHex, makeContext } from "../src/index.ts"
import type { BgpError, Capability, Open } from "../src/index.ts"

const hex = (...parts: ReadonlyArray<string>): Uint8Array => fromHex(parts.join(" "))
const MARKER = "ffffffffffffffffffffffffffffffff"
const CTX = makeContext()

const FIXED = [
  "04", //       Version 4
  "fde9", //     My Autonomous System 65001
  "00b4", //     Hold Time 180
  "c0000201" //  BGP Identifier 192.0.2.1
]
const CAPS = [
  "01 04 0001 00 01", // Multiprotocol (1), length 4: AFI 1, reserved, SAFI 1
  "41 04 0000fde9" //    4-octet AS (65), length 4: 65001
]
const OPEN: Open = {
  _tag: "Open",
  version: 4,
  myAs: 65001,
  holdTime: 180,
  bgpId: 0xc0000201,
  capabilities: [{ _tag: "Multiprotocol", afi: 1, safi: 1 }, { _tag: "FourOctetAs", asn: 65001 }]
}

const CLASSIC = hex(
  MARKER,
  "002b", // Length 43
  "01", //   Type OPEN
  ...FIXED,
  "0e", //   Optional Parameters Length 14
  "02 0c", // Parameter Type 2 (Capabilities), Parameter Length 12
  ...CAPS
)

const EXTENDED = hex(
  MARKER,
  "002f", //  Length 47
  "01",
  ...FIXED,
  "ff", //    Non-Ext OP Len: 255
  "ff", //    Non-Ext OP Type: 255, the extended format is in use
  "000f", //  Extended Opt. Parm. Length 15
  "02 000c", // Parameter Type 2, Parameter Length 12 (2 octets in this format)
  ...CAPS
)

const open = (...params: ReadonlyArray<string>): Uint8Array => {
  const body = hex(...FIXED, ...params)
  const len = 19 + body.length
  return hex(MARKER, len.toString(16).padStart(4, "0"), "01", ...FIXED, ...params)
}

const failure = (bytes: Uint8Array): BgpError => {
  const r = decodeMessage(bytes, CTX)
  if (Result.isSuccess(r)) throw new Error("expected a failure")
  return r.failure
}

describe("RFC 9072: extended optional parameters length", () => {
  it("§2: decodes the extended format, even when the parameters would fit in 255 octets", () => {
    expect(Result.getOrThrow(decodeMessage(EXTENDED, CTX))).toEqual(OPEN)
    expect(Result.getOrThrow(decodeMessage(CLASSIC, CTX))).toEqual(OPEN)
  })

  it("§2: sends the RFC 4271 format when it fits, the extended one when forced", () => {
    expect(Result.getOrThrow(encodeMessage(OPEN, CTX))).toStrictEqual(CLASSIC)
    expect(Result.getOrThrow(encodeMessage(OPEN, CTX, { extendedParameters: true }))).toStrictEqual(EXTENDED)
  })

  it("§2: switches to the extended format when the parameters exceed 255 octets", () => {
    const capabilities: Capability[] = Array.from({ length: 60 }, (_, i) => ({ _tag: "Multiprotocol", afi: i, safi: 1 }))
    const bytes = Result.getOrThrow(encodeMessage({ ...OPEN, capabilities }, CTX))
    const caps = 60 * 6
    expect([...bytes.subarray(28, 35)]).toEqual([
      0xff, //                      Non-Ext OP Len
      0xff, //                      Non-Ext OP Type
      (caps + 3) >> 8, (caps + 3) & 0xff, // Extended Opt. Parm. Length
      2, //                         Parameter Type: Capabilities
      caps >> 8, caps & 0xff //     Parameter Length (2 octets)
    ])
    expect(bytes.length).toBe(19 + 10 + 3 + 3 + caps)
    expect(Result.getOrThrow(decodeMessage(bytes, CTX))).toEqual({ ...OPEN, capabilities })
  })

  it.each([
    [251, "RFC 4271 format: Optional Parameters Length 255 = 2 + 253", [255, 2]],
    [252, "extended format: 2 + 254 would not fit in one octet", [255, 255]]
  ])("§2: %i octets of capability value: the %s", (valueLength, _, octets28and29) => {
    // One unknown capability (code 200): 2 header octets + the value.
    const capabilities: Capability[] = [{ _tag: "Unknown", code: 200, value: new Uint8Array(valueLength) }]
    const bytes = Result.getOrThrow(encodeMessage({ ...OPEN, capabilities }, CTX))
    expect([bytes[28], bytes[29]]).toEqual(octets28and29) // Non-Ext OP Len, then Parameter Type or Non-Ext OP Type
    expect(Result.getOrThrow(decodeMessage(bytes, CTX))).toEqual({ ...OPEN, capabilities })
  })

  it("a Non-Ext OP Len of 0 means no parameters (§2: it is never 0 in the extended format)", () => {
    expect(Result.getOrThrow(decodeMessage(open("00"), CTX))).toEqual({ ...OPEN, capabilities: [] })
  })
})

describe("RFC 4271 §4.2 / RFC 5492: optional parameters and capabilities", () => {
  it("capabilities may come in several parameters", () => {
    const bytes = open(
      "10", //               Optional Parameters Length 16
      "02 06", CAPS[0]!, //  one Capabilities parameter per capability
      "02 06", CAPS[1]!
    )
    expect(Result.getOrThrow(decodeMessage(bytes, CTX))).toEqual(OPEN)
  })

  it("keeps capabilities it does not know, byte for byte", () => {
    const bytes = open("06", "02 04", "80 02 abcd") // capability 128, length 2
    expect((Result.getOrThrow(decodeMessage(bytes, CTX)) as Open).capabilities).toEqual([
      { _tag: "Unknown", code: 128, value: hex("abcd") }
    ])
  })

  it("RFC 4724 §3: Graceful Restart flags, time and per-family forwarding bit", () => {
    const bytes = open("0a", "02 08", "40 06 8078 0001 01 80") // R bit, 120 s; AFI 1 SAFI 1 with F bit
    expect((Result.getOrThrow(decodeMessage(bytes, CTX)) as Open).capabilities).toEqual([
      { _tag: "GracefulRestart", restarting: true, notification: false, restartTime: 120, families: [{ afi: 1, safi: 1, forwarding: true }] }
    ])
  })

  it("§6.2: an optional parameter other than Capabilities: Unsupported Optional Parameter (2/4)", () => {
    const e = failure(open("04", "01 02 abcd")) // type 1 (Authentication, deprecated)
    expect([e.code, e.subcode, e.action]).toEqual([2, 4, "SessionReset"])
    expect(e.data).toStrictEqual(hex("01 02 abcd"))
  })

  it("§6.2: an Optional Parameters Length that disagrees with the message is an OPEN Message Error", () => {
    const e = failure(open("10", "02 0c", ...CAPS)) // says 16, 14 follow
    expect([e.code, e.action]).toEqual([2, "SessionReset"])
  })

  it("RFC 5492 / RFC 6793 §3: a capability of the wrong length is an OPEN Message Error with it as data", () => {
    const e = failure(open("06", "02 04", "41 02 fde9")) // 4-octet AS capability of 2 octets
    expect([e.code, e.subcode]).toEqual([2, 0])
    expect(e.data).toStrictEqual(hex("41 02 fde9"))
  })

  it("a capability overrunning its parameter is an OPEN Message Error", () => {
    const e = failure(open("06", "02 04", "41 04 fde9")) // claims 4 octets, 2 left
    expect(e.code).toBe(2)
  })
})
