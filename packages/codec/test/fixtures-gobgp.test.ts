/**
 * GoBGP's fuzz corpus for message lengths (Apache-2.0; fixtures/gobgp/bad-len). GoBGP's own test skips
 * the marker check because the fuzzer wrote 0x30 bytes there, so each file is fed twice through
 * `makeFramer` + `decodeMessage`, as a peer's byte stream would arrive:
 *
 * - as is: the marker is not all ones, so RFC 4271 §6.1 Connection Not Synchronized (1/1, no data)
 *   before anything else is looked at;
 * - with the marker set to 0xff×16: every header is then well formed (length within 19..4096 and at
 *   least the type's minimum, known type), so the error comes from the body. The framer hands out the
 *   first `Length` octets; octets past them stay buffered (the start of a next message).
 *
 * Body errors, decided per RFC:
 * - OPENs whose Optional Parameters Length disagrees with the message length: RFC 4271 defines no subcode
 *   for it and §4.5 says to use 0 (Unspecific) then → 2/0, no data. (RFC 9072 §2 applies only when the
 *   first parameter type is 255; none is.) The versions are bogus too (0x30, 0xff), but the codec parses
 *   the structure first and leaves version checks to the session.
 * - UPDATEs whose NLRI field (after the Total Path Attribute Length) holds a prefix longer than 32 bits
 *   or one running past the message: RFC 4271 §6.3 Invalid Network Field (3/10, no data), and RFC 7606
 *   §5.3 makes it a session reset (the NLRI cannot be trusted, so treat-as-withdraw is impossible). In
 *   each the attribute list is broken too (an attribute overrunning Total Path Attribute Length, which
 *   alone would be treat-as-withdraw per RFC 7606 §4); the NLRI error is the more severe and wins.
 */
import { Result } from "effect"
import { assert, describe, expect, it } from "@effect/vitest"
import { readdirSync } from "node:fs"
import { decodeMessage, defaultContext, makeFramer } from "../src/index.ts"
import { toHex } from "./support/hex.ts"
import { fixturePath, readBytes } from "./support/paths.ts"

interface Expected {
  /** Header type octet of the framed message. */
  readonly type: number
  readonly length: number
  /** Octets left in the framer after the first message. */
  readonly buffered: number
  readonly reason: string
  readonly code: number
  readonly subcode: number
}

const OPEN_PARAMS = { type: 1, reason: "MalformedOpen", code: 2, subcode: 0 } as const
const BAD_NLRI = { type: 2, reason: "InvalidNetworkField", code: 3, subcode: 10 } as const

const expected: Readonly<Record<string, Expected>> = {
  // OPEN, version 0x30, Optional Parameters Length 31 but 35 octets follow.
  "000852858287eb2ece5cd12aabef453f87b77adb": { ...OPEN_PARAMS, length: 64, buffered: 0 },
  // OPEN, version 0xff, Optional Parameters Length 31 but 35 octets follow.
  "0b229debaa2fc1e8b997c9894ad3184cce8c7bb4": { ...OPEN_PARAMS, length: 64, buffered: 0 },
  // UPDATE: attribute 0x80/15 claims 5 octets of a 3-octet list; NLRI /0 then a /25 cut short.
  "147a924d9a4a4d9960f8bb49e3ec782ee93f82a7": { ...BAD_NLRI, length: 31, buffered: 2 },
  // OPEN, Optional Parameters Length 32 but 35 octets follow.
  "1d1fb484828b4f23af3ff0ab71b67682d5876fd6": { ...OPEN_PARAMS, length: 64, buffered: 0 },
  // UPDATE: a 3-octet attribute list too short for an extended-length header; NLRI starts with /48.
  "27f19d6959e9cbecfcd09b28c3aec493a4b6f18d": { ...BAD_NLRI, length: 64, buffered: 0 },
  // UPDATE of 48 octets: same shape; NLRI starts with /48; 16 octets of the next message buffered.
  "3765bb2392d48ca8edaf0b5e39209eb2d1b87c53": { ...BAD_NLRI, length: 48, buffered: 16 },
  // UPDATE: MP_UNREACH header overruns the list; NLRI /0 then a /25 cut short.
  "3dce7e046d709b142092e15b78e9ad20ee5144fa": { ...BAD_NLRI, length: 31, buffered: 6 },
  // UPDATE: attribute 0x80/26 overruns the list; NLRI starts with /48.
  "4d4dc736bc89bf41363774d282b8a7641c3e7a98": { ...BAD_NLRI, length: 31, buffered: 0 },
  // UPDATE: MP_UNREACH header overruns the list; NLRI /0 then a /25 cut short.
  "66e6aab4f34c9c5783c18f90b2d987e5dad241e0": { ...BAD_NLRI, length: 31, buffered: 0 },
  "a8ecedce17e2e28a466cf9fb3bfaf2d8554fef42": { ...BAD_NLRI, length: 31, buffered: 0 },
  // UPDATE: NLRI /0, 128.0.0.0/1, then a /48.
  "b7ed0646a97127bf424da480a53a84a0cb9c9565": { ...BAD_NLRI, length: 31, buffered: 4 }
}

const files = readdirSync(fixturePath("gobgp", "bad-len")).sort()

describe("GoBGP bad-len corpus", () => {
  it("has the 11 files this test knows", () => {
    expect(files).toEqual(Object.keys(expected).sort())
  })

  for (const name of files) {
    const raw = readBytes(fixturePath("gobgp", "bad-len", name))

    it(`${name.slice(0, 12)} as is: Connection Not Synchronized`, () => {
      const framer = makeFramer()
      const r = framer.push(raw)
      expect(r.messages).toHaveLength(0)
      assert(r.error !== undefined)
      expect({ code: r.error.code, subcode: r.error.subcode, data: toHex(r.error.data), action: r.error.action })
        .toEqual({ code: 1, subcode: 1, data: "", action: "SessionReset" })
      // The stream is dead after a header error (RFC 4271 §6.1): later input is refused.
      expect(framer.push(raw).messages).toHaveLength(0)
    })

    it(`${name.slice(0, 12)} with an all-ones marker`, () => {
      const e = expected[name]!
      const fixed = raw.slice()
      fixed.fill(0xff, 0, 16)
      const framer = makeFramer()
      const r = framer.push(fixed)
      expect(r.error).toBeUndefined()
      expect(r.messages).toHaveLength(1)
      const m = r.messages[0]!
      expect({ type: m[18], length: m.length, buffered: framer.buffered }).toEqual({ type: e.type, length: e.length, buffered: e.buffered })
      const d = decodeMessage(m, defaultContext)
      assert(Result.isFailure(d), "must be rejected")
      expect({
        reason: d.failure.reason,
        code: d.failure.code,
        subcode: d.failure.subcode,
        data: toHex(d.failure.data),
        action: d.failure.action
      }).toEqual({ reason: e.reason, code: e.code, subcode: e.subcode, data: "", action: "SessionReset" })
    })
  }
})
