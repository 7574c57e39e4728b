/**
 * Robustness properties: arbitrary and damaged bytes through `decodeMessage`, `decodeUpdate`, `splitUpdate`,
 * `decodeAttributes` and the framer never throw, never hang, and fail only with a `BgpError` whose
 * code/subcode exists (RFC 4271 §4.5/§6, RFC 5492 §5, RFC 9234 §4.2, RFC 7313 §5), whose action is one
 * RFC 7606 §2 defines, and whose NOTIFICATION data is what the RFC prescribes. Whatever decodes re-encodes
 * to a fixpoint, and the framer's output does not depend on how TCP chunked the stream.
 */
import { describe, expect, it } from "vitest"
import fc from "fast-check"
import { Result } from "effect"
import {
  AS_TRANS,
  AttrFlag,
  BgpError,
  decodeAttributes,
  decodeMessage,
  decodeUpdate,
  EncodeError,
  encodeMessage,
  familyKey,
  HEADER_LENGTH,
  makeFramer,
  maxMessageLength,
  MessageType,
  reasonCode,
  SegmentType,
  splitUpdate
} from "../src/index.ts"
import type { AsPath, AsPathSegment, CodecContext, Message, Prefix, Update } from "../src/index.ts"
import {
  as4Segments,
  bytesArb,
  capShrink,
  chunk,
  chunkingArb,
  contextArb,
  ctxMessageArb,
  frameMessage,
  messageArb,
  messageWireLength,
  mutate,
  mutationArb,
  params,
  pathNeedsAs4,
  rawUpdateBodyArb,
  same,
  u32,
  u8
} from "./arbitraries.ts"

// ---------------------------------------------------------------------------------------------------
// What a decode failure may look like

/**
 * Code/subcode pairs the codec may put in a NOTIFICATION: RFC 4271 §4.5 and §6.1–6.3 (without the
 * deprecated 2/5 and 3/7), 2/7 Unsupported Capability (RFC 5492 §5), 2/11 Role Mismatch (RFC 9234 §4.2)
 * and 7/1 ROUTE-REFRESH Invalid Message Length (RFC 7313 §5).
 */
const ALLOWED_PAIRS = new Set([
  "1/1", "1/2", "1/3",
  "2/0", "2/1", "2/2", "2/3", "2/4", "2/6", "2/7", "2/11",
  "3/1", "3/2", "3/3", "3/4", "3/5", "3/6", "3/8", "3/9", "3/10", "3/11",
  "7/1"
])
const ACTIONS = new Set(["SessionReset", "AfiSafiDisable", "TreatAsWithdraw", "AttributeDiscard"])

const u16 = (b: Uint8Array, i: number): number => (b[i]! << 8) | b[i + 1]!

/** True when `data` is one complete attribute: flags, type, a length field and exactly that many octets. */
const isWholeAttribute = (data: Uint8Array): boolean => {
  if (data.length < 3) return false
  const ext = (data[0]! & AttrFlag.EXTENDED_LENGTH) !== 0
  if (ext && data.length < 4) return false
  return (ext ? 4 + u16(data, 2) : 3 + data[2]!) === data.length
}

/**
 * Checks one error against RFC 4271 §6 / RFC 7606. `header` is the message's first octets when known (the
 * data of header errors must repeat its fields), `whole` the whole message (ROUTE-REFRESH errors carry it).
 */
const checkError = (e: unknown, where: { header?: Uint8Array; whole?: Uint8Array } = {}): void => {
  expect(e).toBeInstanceOf(BgpError)
  const err = e as BgpError
  expect(err.detail).not.toMatch(/internal decoder fault/)
  expect(ALLOWED_PAIRS.has(`${err.code}/${err.subcode}`), `${err.code}/${err.subcode} (${err.message})`).toBe(true)
  expect(reasonCode(err.reason)).toEqual([err.code, err.subcode])
  expect(ACTIONS.has(err.action)).toBe(true)
  // RFC 7606 §2: only UPDATE errors may be softened; everything else resets the session.
  if (err.code !== 3) expect(err.action).toBe("SessionReset")
  if (err.action === "AfiSafiDisable") {
    expect(err.afi).toBeTypeOf("number")
    expect(err.safi).toBeTypeOf("number")
  } else {
    expect(err.afi).toBeUndefined()
  }
  const { data } = err
  switch (`${err.code}/${err.subcode}`) {
    case "1/1":
      expect(data.length).toBe(0)
      break
    case "1/2":
      // §6.1: "the Data field MUST contain the erroneous Length field" (input shorter than a header has none).
      if (where.header !== undefined && where.header.length >= HEADER_LENGTH) {
        expect([...data]).toEqual([...where.header.subarray(16, 18)])
      }
      else if (where.header !== undefined) expect(data.length).toBe(0)
      else expect(data.length).toBe(2)
      break
    case "1/3":
      // §6.1: "the Data field MUST contain the erroneous Type field".
      expect(data.length).toBe(1)
      if (where.header !== undefined) expect(data[0]).toBe(where.header[18])
      break
    case "3/1":
    case "3/10":
    case "3/11":
      expect(data.length).toBe(0)
      break
    case "3/3":
      // §6.3: "the Data field MUST contain the Attribute Type Code of the missing, well-known attribute".
      expect(data.length).toBe(1)
      expect(data[0]).toBe(err.attributeType)
      break
    case "3/2":
    case "3/4":
    case "3/5":
    case "3/6":
    case "3/8":
    case "3/9":
      // §6.3: the Data field holds the erroneous attribute (type, length and value).
      expect(data.length).toBeGreaterThanOrEqual(3)
      expect(data[1]).toBe(err.attributeType)
      // An attribute overrunning the list is cut at the list end (RFC 7606 §4, treat-as-withdraw);
      // whatever resets the session carries the whole attribute.
      if (err.action !== "TreatAsWithdraw") expect(isWholeAttribute(data), err.message).toBe(true)
      break
    case "7/1":
      // RFC 7313 §5: "the Data field ... MUST contain the complete ROUTE-REFRESH message".
      if (where.whole !== undefined) expect([...data]).toEqual([...where.whole])
      expect(data[18]).toBe(MessageType.ROUTE_REFRESH)
      break
  }
}

const mask = (bits: number): number => (bits <= 0 ? 0 : bits >= 32 ? 0xffffffff : (0xffffffff << (32 - bits)) >>> 0)

/**
 * Decoded prefixes are normalised (prefix.ts): the family's AFI and width, bits past the length zero
 * (RFC 4271 §4.3: irrelevant, so cleared), IPv4 in the first word only, path identifier 0 without ADD-PATH.
 */
const checkPrefixes = (ps: ReadonlyArray<Prefix>, afi: number, safi: number, ctx: CodecContext): void => {
  const addPath = ctx.addPath.has(familyKey(afi, safi))
  for (const p of ps) {
    const ok = p.afi === afi && p.length >= 0 && p.length <= (afi === 1 ? 32 : 128) &&
      ((p.w0 & ~mask(p.length)) >>> 0) === 0 && ((p.w1 & ~mask(p.length - 32)) >>> 0) === 0 &&
      ((p.w2 & ~mask(p.length - 64)) >>> 0) === 0 && ((p.w3 & ~mask(p.length - 96)) >>> 0) === 0 &&
      (afi === 2 || (p.w1 === 0 && p.w2 === 0 && p.w3 === 0)) && (addPath || p.pathId === 0)
    if (!ok) throw new Error(`prefix not normalised for ${afi}/${safi}: ${JSON.stringify(p)}`)
  }
}

/** Checks a successful decode: normalised prefixes; RFC 7606 repairs recorded, leaving a consistent UPDATE. */
const checkDecoded = (m: Message, ctx: CodecContext): void => {
  if (m._tag !== "Update") return
  checkPrefixes(m.withdrawn, 1, 1, ctx)
  checkPrefixes(m.nlri, 1, 1, ctx)
  if (m.mpReach !== undefined && m.mpReach.rawNlri === undefined) checkPrefixes(m.mpReach.nlri, m.mpReach.afi, m.mpReach.safi, ctx)
  if (m.mpUnreach !== undefined && m.mpUnreach.rawWithdrawn === undefined) {
    checkPrefixes(m.mpUnreach.withdrawn, m.mpUnreach.afi, m.mpUnreach.safi, ctx)
  }
  if (m.errors === undefined) return
  expect(m.errors.length).toBeGreaterThan(0)
  for (const e of m.errors) {
    checkError(e)
    expect(e.code).toBe(3)
    expect(["TreatAsWithdraw", "AttributeDiscard"]).toContain(e.action)
  }
  if (m.errors.some((e) => e.action === "TreatAsWithdraw")) {
    // RFC 7606 §2 treat-as-withdraw: nothing stays reachable, no attributes remain.
    expect(m.attributes).toEqual({})
    expect(m.nlri).toEqual([])
    expect(m.mpReach).toBeUndefined()
  }
}

/** Decodes `bytes` and checks whichever outcome against the RFCs. */
const decodeChecked = (bytes: Uint8Array, ctx: CodecContext): Result.Result<Message, BgpError> => {
  const r = decodeMessage(bytes, ctx)
  if (Result.isFailure(r)) {
    checkError(r.failure, { header: bytes.subarray(0, HEADER_LENGTH), whole: bytes })
    // decodeMessage fails only for what the receiver cannot repair (RFC 7606 §2).
    expect(["SessionReset", "AfiSafiDisable"]).toContain(r.failure.action)
  } else checkDecoded(r.success, ctx)
  return r
}

// ---------------------------------------------------------------------------------------------------
// Re-encoding what was decoded

const withoutErrors = (m: Message): Message => {
  if (m._tag !== "Update" || m.errors === undefined) return m
  const { errors: _, ...rest } = m
  return rest as Update
}

const isConfed = (s: AsPathSegment): boolean => s.type === SegmentType.AS_CONFED_SEQUENCE || s.type === SegmentType.AS_CONFED_SET

/**
 * What one more trip toward an OLD speaker keeps of a decoded message. A path that needs AS4_PATH is split
 * into AS_PATH + AS4_PATH (RFC 6793 §4.2.2) and merged again (§4.2.3), and the RFC itself loses two things:
 * with an AGGREGATOR holding a real 2-octet AS the receiver ignores AS4_PATH (so the path comes back with
 * AS_TRANS), and only *leading* confederation segments survive (RFC 5065 §5 never puts one after an
 * ordinary segment, but a damaged AS_PATH can).
 */
const afterAnotherTrip = (m: Message, ctx: CodecContext): Message => {
  const base = withoutErrors(m)
  if (ctx.as4 || base._tag !== "Update") return base
  const a = base.attributes
  const path = a.asPath
  if (path === undefined || !pathNeedsAs4(path)) return base
  const agg = a.aggregator
  const asPath: AsPath = agg !== undefined && agg.asn <= 0xffff && agg.asn !== AS_TRANS
    ? path.map((s) => ({ type: s.type, asns: s.asns.map((x) => (x > 0xffff ? AS_TRANS : x)) }))
    : [...path.slice(0, Math.max(0, path.findIndex((s) => !isConfed(s)))), ...as4Segments(path)]
  return { ...base, attributes: { ...a, asPath } }
}

/**
 * decode(encode(m1)) must give m1 back (minus the error list and the RFC 6793 losses above), and a second
 * trip must be exact. Encoding may fail only when the oracle says the message exceeds the limit (an
 * RFC 6793 AS4_PATH rebuilt from a short AS_PATH can make a re-encoded UPDATE longer than the one received).
 */
const checkStable = (m1: Message, ctx: CodecContext): void => {
  const e1 = encodeMessage(m1, ctx)
  if (Result.isFailure(e1)) {
    expect(e1.failure).toBeInstanceOf(EncodeError)
    const w = messageWireLength(m1, ctx)
    expect(w.length, e1.failure.detail).toBeGreaterThan(w.limit)
    return
  }
  const m2 = decodeMessage(e1.success, ctx)
  if (Result.isFailure(m2)) throw new Error(`re-encoded message does not decode: ${m2.failure.message}`)
  same(m2.success, afterAnotherTrip(m1, ctx), "decode(encode(decoded))")
  const m3 = decodeMessage(Result.getOrThrow(encodeMessage(m2.success, ctx)), ctx)
  same(Result.getOrThrow(m3), m2.success, "second trip")
}

// ---------------------------------------------------------------------------------------------------

const damagedArb = capShrink(fc.record(
  {
    source: ctxMessageArb,
    mutations: fc.array(mutationArb, { minLength: 1, maxLength: 4 }),
    fixLength: fc.boolean()
  },
  { noNullPrototype: true }
))

describe("decoders never throw and fail only as the RFCs say (property)", () => {
  it("random bytes through decodeMessage", () => {
    fc.assert(
      fc.property(contextArb, bytesArb(64), (ctx, bytes) => {
        decodeChecked(bytes, ctx)
      }),
      params(1000)
    )
  })

  it("a valid header around random bodies of every type", () => {
    fc.assert(
      fc.property(contextArb, fc.integer({ min: 0, max: 7 }), bytesArb(300), (ctx, type, body) => {
        const r = decodeChecked(frameMessage(type, body), ctx)
        if (Result.isSuccess(r)) checkStable(r.success, ctx)
      }),
      params(1500)
    )
  })

  it("UPDATEs made of random attributes (wrong flags, lengths, values)", () => {
    fc.assert(
      fc.property(contextArb, rawUpdateBodyArb, (ctx, body) => {
        const r = decodeChecked(frameMessage(MessageType.UPDATE, body), ctx)
        if (Result.isSuccess(r)) checkStable(r.success, ctx)
        const u = decodeUpdate(body, ctx)
        const s = splitUpdate(body, ctx)
        if (Result.isFailure(s)) {
          checkError(s.failure)
          // splitUpdate reports only structural problems, which decodeUpdate must report too.
          expect(Result.isFailure(u)).toBe(true)
        } else if (Result.isSuccess(u) && !(u.success.errors ?? []).some((e) => e.action === "TreatAsWithdraw")) {
          // The raw attribute bytes decode on their own to the same attributes.
          const a = decodeAttributes(s.success.attributes, ctx)
          same(Result.getOrThrow(a), u.success.attributes, "decodeAttributes(split attributes)")
        }
      }),
      params(3000)
    )
  })

  it("valid messages damaged by bit flips, truncation, length tweaks, insertions and deletions", () => {
    fc.assert(
      fc.property(damagedArb, ({ source: { ctx, message }, mutations, fixLength }) => {
        const encoded = encodeMessage(message, ctx)
        if (Result.isFailure(encoded)) return
        const r = decodeChecked(mutate(encoded.success, mutations, fixLength), ctx)
        if (Result.isSuccess(r)) checkStable(r.success, ctx)
      }),
      params(2000)
    )
  })

  it("prefixes with stray bits past their length decode normalised (RFC 4271 §4.3: those bits are irrelevant)", () => {
    // A prefix field: (path identifier,) length in bits, then exactly ceil(length / 8) random octets.
    const field = (maxBits: number, addPath: boolean) =>
      fc.array(
        fc.tuple(u32, fc.integer({ min: 0, max: maxBits })).chain(([pathId, bits]) =>
          bytesArb((bits + 7) >> 3, (bits + 7) >> 3).map((octets) => [
            ...(addPath ? [pathId >>> 24, (pathId >>> 16) & 255, (pathId >>> 8) & 255, pathId & 255] : []),
            bits,
            ...octets
          ])
        ),
        { maxLength: 8 }
      ).map((ps) => ({ count: ps.length, bytes: ps.flat() }))
    const arb = contextArb.chain((ctx) =>
      fc.record({
        ctx: fc.constant(ctx),
        v4: field(32, ctx.addPath.has(familyKey(1, 1))),
        v6: field(128, ctx.addPath.has(familyKey(2, 1)))
      }, { noNullPrototype: true })
    )
    fc.assert(
      fc.property(arb, ({ ctx, v4, v6 }) => {
        // Withdrawn Routes = v4; one MP_UNREACH_NLRI (flags 0x90, 2-octet length) for IPv6 unicast = v6.
        const mp = [0x90, 15, (v6.bytes.length + 3) >> 8, (v6.bytes.length + 3) & 255, 0, 2, 1, ...v6.bytes]
        const body = Uint8Array.from([v4.bytes.length >> 8, v4.bytes.length & 255, ...v4.bytes, mp.length >> 8, mp.length & 255, ...mp])
        const m = Result.getOrThrow(decodeChecked(frameMessage(MessageType.UPDATE, body), ctx))
        if (m._tag !== "Update") throw new Error(m._tag)
        expect([m.withdrawn.length, m.mpUnreach?.withdrawn.length]).toEqual([v4.count, v6.count])
      }),
      params(500)
    )
  })

  it("random bytes through decodeAttributes", () => {
    fc.assert(
      fc.property(contextArb, rawUpdateBodyArb, (ctx, body) => {
        const r = decodeAttributes(body.subarray(4), ctx)
        if (Result.isFailure(r)) checkError(r.failure)
        else expect(r.success).toBeTypeOf("object")
      }),
      params(500)
    )
  })
})

describe("decode(encode(decode(bytes))) is stable (property)", () => {
  it("for every valid message and context", () => {
    fc.assert(
      fc.property(ctxMessageArb, ({ ctx, message }) => {
        const encoded = encodeMessage(message, ctx)
        if (Result.isFailure(encoded)) return
        checkStable(Result.getOrThrow(decodeMessage(encoded.success, ctx)), ctx)
      }),
      params(500)
    )
  })
})

// ---------------------------------------------------------------------------------------------------
// Framer

interface FrameOutcome {
  readonly messages: Uint8Array[]
  readonly error: BgpError | undefined
  readonly buffered: number
}

const runFramer = (chunks: ReadonlyArray<Uint8Array>, extendedMessages: boolean): FrameOutcome => {
  const framer = makeFramer({ extendedMessages })
  const messages: Uint8Array[] = []
  let error: BgpError | undefined
  for (const c of chunks) {
    const r = framer.push(c)
    if (error !== undefined) {
      // RFC 4271 §6.1: after a header error the connection is over; the framer takes nothing more.
      expect(r.messages.length).toBe(0)
      expect(r.error).toBe(error)
      continue
    }
    // Copy: messages may be views of the chunk.
    for (const m of r.messages) messages.push(m.slice())
    error = r.error
  }
  return { messages, error, buffered: framer.buffered }
}

const encodeAll = (ms: ReadonlyArray<Message>, ctx: CodecContext): Uint8Array[] =>
  ms.flatMap((m) => {
    const r = encodeMessage(m, ctx)
    return Result.isSuccess(r) ? [r.success] : []
  })

const concat = (parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let o = 0
  for (const p of parts) {
    out.set(p, o)
    o += p.length
  }
  return out
}

const streamArb = capShrink(contextArb.chain((ctx) =>
  fc.record({ ctx: fc.constant(ctx), messages: fc.array(messageArb(ctx), { minLength: 1, maxLength: 6 }) }, {
    noNullPrototype: true
  })
))

describe("framer (property)", () => {
  it("any chunking of a valid stream yields the same messages", () => {
    fc.assert(
      fc.property(streamArb, chunkingArb, ({ ctx, messages }, cuts) => {
        const wire = encodeAll(messages, ctx)
        const stream = concat(wire)
        const out = runFramer(chunk(stream, cuts), ctx.extendedMessage)
        expect(out.error).toBeUndefined()
        expect(out.buffered).toBe(0)
        same(out.messages, wire, "framed messages")
      }),
      params(500)
    )
  })

  it("a damaged stream gives the same result however it is chunked, and stops at the damage", () => {
    fc.assert(
      fc.property(
        streamArb,
        fc.array(mutationArb, { minLength: 1, maxLength: 3 }),
        chunkingArb,
        fc.boolean(),
        ({ ctx, messages }, mutations, cuts, extended) => {
          const stream = mutate(concat(encodeAll(messages, ctx)), mutations, false)
          const whole = runFramer([stream], extended)
          const chunked = runFramer(chunk(stream, cuts), extended)
          same(chunked.messages, whole.messages, "messages, chunked vs whole")
          same(chunked.error, whole.error, "error, chunked vs whole")
          expect(chunked.buffered).toBe(whole.buffered)
          // What came out is a prefix of the stream, message by message, each with a sound header.
          let at = 0
          const limit = extended ? 65535 : 4096
          for (const m of whole.messages) {
            same(m, stream.subarray(at, at + m.length), "framed message vs stream")
            expect(m.subarray(0, 16).every((x) => x === 0xff)).toBe(true)
            expect(u16(m, 16)).toBe(m.length)
            expect(m.length).toBeGreaterThanOrEqual(HEADER_LENGTH)
            expect(m.length).toBeLessThanOrEqual(limit)
            at += m.length
          }
          if (whole.error !== undefined) {
            checkError(whole.error, { header: stream.subarray(at, at + HEADER_LENGTH) })
            expect(whole.error.code).toBe(1)
            expect(whole.buffered).toBe(0)
          } else {
            // Without damage found, everything not handed out is waiting for the rest of one message.
            expect(whole.buffered).toBe(stream.length - at)
          }
        }
      ),
      params(1000)
    )
  })

  it("random bytes after a valid header prefix", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(u8, bytesArb(40)), { maxLength: 5 }), chunkingArb, (parts, cuts) => {
        const stream = concat(parts.map(([type, body]) => frameMessage(type % 7, body)))
        const a = runFramer([stream], false)
        const b = runFramer(chunk(stream, cuts), false)
        same(b, a, "framer outcome, chunked vs whole")
        if (a.error !== undefined) checkError(a.error)
      }),
      params(500)
    )
  })

  it("decodes what it frames under any context without throwing", () => {
    fc.assert(
      fc.property(damagedArb, ({ source: { ctx, message }, mutations, fixLength }) => {
        const encoded = encodeMessage(message, ctx)
        if (Result.isFailure(encoded)) return
        const out = runFramer([mutate(encoded.success, mutations, fixLength)], ctx.extendedMessage)
        expect(out.messages.length + (out.error === undefined ? 0 : 1)).toBeLessThanOrEqual(1 + out.messages.length)
        for (const m of out.messages) {
          expect(m.length).toBeLessThanOrEqual(maxMessageLength(ctx))
          decodeChecked(m, ctx)
        }
      }),
      params(500)
    )
  })
})
