/**
 * Round-trip properties: decode(encode(m)) is m for every message shape and every negotiated context, the
 * encoder's output length matches an independent oracle (so too-long messages fail with EncodeError instead
 * of going out), and splitUpdate / decodeAttributes agree with decodeUpdate.
 */
import { describe, expect, it } from "vitest"
import fc from "fast-check"
import { Result } from "effect"
import {
  decodeAttributes,
  decodeMessage,
  decodeUpdate,
  EncodeError,
  encodeMessage,
  encodeUpdate,
  HEADER_LENGTH,
  maxMessageLength,
  splitUpdate
} from "../src/index.ts"
import {
  contextArb,
  ctxMessageArb,
  ctxUpdateArb,
  messageWireLength,
  openArb,
  params,
  same,
  u8,
  updateWireLength
} from "./arbitraries.ts"

const lengthField = (b: Uint8Array): number => (b[16]! << 8) | b[17]!

describe("round trip (property)", () => {
  it("decode(encode(m, ctx), ctx) equals m, or encoding fails because m exceeds the limit", () => {
    fc.assert(
      fc.property(ctxMessageArb, ({ ctx, message }) => {
        const expected = messageWireLength(message, ctx)
        const encoded = encodeMessage(message, ctx)
        if (expected.length > expected.limit) {
          // Too long for the negotiated size (RFC 4271 §4, RFC 8654 §4): never a long message on the wire.
          expect(Result.isFailure(encoded)).toBe(true)
          if (Result.isFailure(encoded)) expect(encoded.failure).toBeInstanceOf(EncodeError)
          return
        }
        if (Result.isFailure(encoded)) throw new Error(`unexpected encode failure: ${encoded.failure.detail}`)
        const bytes = encoded.success
        expect(bytes.length).toBe(expected.length)
        expect(lengthField(bytes)).toBe(bytes.length)
        const decoded = decodeMessage(bytes, ctx)
        if (Result.isFailure(decoded)) throw new Error(`decode failed: ${decoded.failure.message}`)
        same(decoded.success, message, "decode(encode(m))")
      }),
      params(2000)
    )
  })

  it("OPEN round-trips with RFC 9072 extended optional parameters forced on", () => {
    fc.assert(
      fc.property(openArb, contextArb, (open, ctx) => {
        const expected = messageWireLength(open, ctx, true)
        const encoded = encodeMessage(open, ctx, { extendedParameters: true })
        if (expected.length > expected.limit) {
          expect(Result.isFailure(encoded)).toBe(true)
          return
        }
        if (Result.isFailure(encoded)) throw new Error(encoded.failure.detail)
        expect(encoded.success.length).toBe(expected.length)
        if (open.capabilities.length > 0) {
          // §2: Non-Ext OP Len 255, Non-Ext OP Type 255, then a 2-octet Extended Opt. Parm. Length.
          expect(encoded.success[28]).toBe(255)
          expect(encoded.success[29]).toBe(255)
        }
        const decoded = decodeMessage(encoded.success, ctx)
        same(Result.getOrThrow(decoded), open, "decode(encode(open))")
      }),
      params(500)
    )
  })

  it("an UPDATE exactly at the size limit encodes; one octet more fails (RFC 4271 §4, RFC 8654 §4)", () => {
    fc.assert(
      fc.property(
        ctxUpdateArb,
        fc.boolean(),
        ({ ctx, update }, over) => {
          const limit = maxMessageLength(ctx)
          const target = limit + (over ? 1 : 0)
          // Pad with one unknown optional attribute: 3 header octets up to 255 octets of value, then 4.
          const d = target - updateWireLength(update, ctx)
          fc.pre(d >= 3 && d !== 259) // 259 octets: 3 + 256 needs a 4-octet header, 4 + 255 a 3-octet one
          const value = new Uint8Array(d - 3 <= 255 ? d - 3 : d - 4)
          const used = new Set((update.attributes.unknown ?? []).map((u) => u.type))
          const type = [250, 251, 252, 253, 254, 255].find((t) => !used.has(t))!
          const unknown = [...(update.attributes.unknown ?? []), { flags: 0xc0, type, value }].sort((a, b) => a.type - b.type)
          const padded = { ...update, attributes: { ...update.attributes, unknown } }
          expect(updateWireLength(padded, ctx)).toBe(target)
          const encoded = encodeMessage(padded, ctx)
          if (over) {
            expect(Result.isFailure(encoded) && encoded.failure instanceof EncodeError).toBe(true)
            return
          }
          const bytes = Result.getOrThrow(encoded)
          expect(bytes.length).toBe(limit)
          same(Result.getOrThrow(decodeMessage(bytes, ctx)), padded, "decode(encode(m)) at the limit")
        }
      ),
      params(400)
    )
  })

  it("a NOTIFICATION exactly at the size limit encodes; one octet more fails", () => {
    fc.assert(
      fc.property(contextArb, fc.boolean(), u8, (ctx, over, code) => {
        const data = new Uint8Array(maxMessageLength(ctx) - HEADER_LENGTH - 2 + (over ? 1 : 0))
        const r = encodeMessage({ _tag: "Notification", code, subcode: 0, data }, ctx)
        if (over) expect(Result.isFailure(r)).toBe(true)
        else expect(Result.getOrThrow(r).length).toBe(maxMessageLength(ctx))
      }),
      params(50)
    )
  })

  it("splitUpdate finds the NLRI and decodeAttributes accepts its attribute bytes", () => {
    fc.assert(
      fc.property(
        ctxUpdateArb,
        ({ ctx, update }) => {
          const encoded = encodeUpdate(update, ctx)
          if (Result.isFailure(encoded)) return // size failures are covered above
          const body = encoded.success.subarray(HEADER_LENGTH)
          const split = Result.getOrThrow(splitUpdate(body, ctx))
          same(split.withdrawn, update.withdrawn, "split.withdrawn")
          same(split.nlri, update.nlri, "split.nlri")
          same(split.mpReach, update.mpReach, "split.mpReach")
          same(split.mpUnreach, update.mpUnreach, "split.mpUnreach")
          same(Result.getOrThrow(decodeAttributes(split.attributes, ctx)), update.attributes, "decodeAttributes(split attributes)")
          same(Result.getOrThrow(decodeUpdate(body, ctx)).attributes, update.attributes, "decodeUpdate attributes")
        }
      ),
      params(800)
    )
  })
})
