/**
 * Properties of the UPDATE packers: `buildAnnouncements` and `buildWithdrawals` split any prefix list into
 * messages that respect the negotiated size (RFC 4271 §4, RFC 8654), decode cleanly, carry every prefix
 * once in the original order, and pack greedily (no message could have taken the next prefix).
 */
import { describe, expect, it } from "vitest"
import fc from "fast-check"
import { Result } from "effect"
import {
  Afi,
  buildAnnouncements,
  buildWithdrawals,
  decodeAttributes,
  decodeMessage,
  EncodeError,
  familyKey,
  HEADER_LENGTH,
  maxMessageLength,
  Safi,
  splitUpdate
} from "../src/index.ts"
import type { CodecContext, Prefix, Update } from "../src/index.ts"
import { attributesWireLength, ctxAnnounceBatchArb, ctxWithdrawBatchArb, params, same } from "./arbitraries.ts"

const prefixWire = (p: Prefix, addPath: boolean): number => (addPath ? 5 : 1) + ((p.length + 7) >> 3)

const decodeUpdateMessage = (bytes: Uint8Array, ctx: CodecContext): Update => {
  const m = Result.getOrThrow(decodeMessage(bytes, ctx))
  if (m._tag !== "Update") throw new Error(`expected an UPDATE, got ${m._tag}`)
  expect(m.errors).toBeUndefined()
  return m
}

/** Each message within the limit, with a truthful Length field, and none able to take the next prefix. */
const checkPacking = (
  messages: ReadonlyArray<Uint8Array>,
  firsts: ReadonlyArray<Prefix>,
  addPath: boolean,
  ctx: CodecContext
): void => {
  const max = maxMessageLength(ctx)
  messages.forEach((m, i) => {
    expect(m.length).toBeLessThanOrEqual(max)
    expect((m[16]! << 8) | m[17]!).toBe(m.length)
    const next = firsts[i + 1]
    if (next !== undefined) expect(m.length + prefixWire(next, addPath)).toBeGreaterThan(max)
  })
}

describe("buildAnnouncements (property)", () => {
  it("packs every prefix, in order, into decodable messages within the limit", () => {
    fc.assert(
      fc.property(ctxAnnounceBatchArb, ({ ctx, batch }) => {
        const safi = batch.safi ?? Safi.UNICAST
        const classic = batch.afi === Afi.IPV4 && safi === Safi.UNICAST && batch.nextHop === undefined
        const addPath = ctx.addPath.has(familyKey(batch.afi, safi))
        const built = buildAnnouncements(batch, ctx)
        if (!classic && batch.nextHop === undefined) {
          // RFC 4760 §3: MP_REACH_NLRI without a next hop is malformed (RFC 7606 §7.11): refuse to build it.
          expect(Result.isFailure(built)).toBe(true)
          return
        }
        // RFC 4760 §3: with NLRI only in MP_REACH_NLRI the packer leaves the classic NEXT_HOP out.
        const { nextHop: _, ...mpAttributes } = batch.attributes
        const attributes = classic ? batch.attributes : mpAttributes
        const first = batch.prefixes[0]
        // The fixed part: header, two length fields, the shared attributes and (for MP) the MP_REACH
        // header, which the packer always writes with a 2-octet length: flags, type, length, AFI, SAFI,
        // next hop length, next hop, reserved.
        const fixed = HEADER_LENGTH + 2 + 2 + attributesWireLength(attributes, ctx) +
          (classic ? 0 : 4 + 2 + 1 + 1 + (batch.nextHop?.length ?? 0) + 1)
        if (first !== undefined && fixed + prefixWire(first, addPath) > maxMessageLength(ctx)) {
          expect(Result.isFailure(built)).toBe(true)
          if (Result.isFailure(built)) expect(built.failure).toBeInstanceOf(EncodeError)
          return
        }
        const messages = Result.getOrThrow(built)
        if (batch.prefixes.length === 0) {
          expect(messages).toEqual([])
          return
        }
        const all: Prefix[] = []
        const firsts: Prefix[] = []
        let attributeBytes: Uint8Array | undefined
        for (const bytes of messages) {
          const u = decodeUpdateMessage(bytes, ctx)
          expect(u.withdrawn).toEqual([])
          expect(u.mpUnreach).toBeUndefined()
          same(u.attributes, attributes, "decoded attributes")
          const nlri = classic ? u.nlri : u.mpReach!.nlri
          if (classic) expect(u.mpReach).toBeUndefined()
          else {
            expect(u.nlri).toEqual([])
            expect(u.mpReach!.afi).toBe(batch.afi)
            expect(u.mpReach!.safi).toBe(safi)
            same(u.mpReach!.nextHop, batch.nextHop, "MP_REACH next hop")
          }
          expect(nlri.length).toBeGreaterThan(0)
          firsts.push(nlri[0]!)
          all.push(...nlri)
          // The attribute block is encoded once and copied: byte-identical in every message, and what
          // decodeAttributes accepts on its own.
          const split = Result.getOrThrow(splitUpdate(bytes.subarray(HEADER_LENGTH), ctx))
          if (attributeBytes === undefined) {
            attributeBytes = split.attributes
            same(Result.getOrThrow(decodeAttributes(split.attributes, ctx)), attributes, "decodeAttributes(split attributes)")
          } else same(split.attributes, attributeBytes, "attribute bytes of each message")
        }
        same(all, batch.prefixes, "announced prefixes")
        checkPacking(messages, firsts, addPath, ctx)
      }),
      params(400)
    )
  })
})

describe("buildWithdrawals (property)", () => {
  it("packs every withdrawal, in order, into decodable messages within the limit", () => {
    fc.assert(
      fc.property(ctxWithdrawBatchArb, ({ ctx, batch }) => {
        const { afi, safi, prefixes } = batch
        const classic = afi === Afi.IPV4 && safi === Safi.UNICAST
        const addPath = ctx.addPath.has(familyKey(afi, safi))
        const messages = Result.getOrThrow(buildWithdrawals(afi, prefixes, ctx, safi))
        if (prefixes.length === 0) {
          expect(messages).toEqual([])
          return
        }
        const all: Prefix[] = []
        const firsts: Prefix[] = []
        for (const bytes of messages) {
          const u = decodeUpdateMessage(bytes, ctx)
          expect(u.attributes).toEqual({})
          expect(u.nlri).toEqual([])
          expect(u.mpReach).toBeUndefined()
          const withdrawn = classic ? u.withdrawn : u.mpUnreach!.withdrawn
          if (classic) expect(u.mpUnreach).toBeUndefined()
          else {
            expect(u.withdrawn).toEqual([])
            expect([u.mpUnreach!.afi, u.mpUnreach!.safi]).toEqual([afi, safi])
          }
          // A message with nothing in it would be an End-of-RIB marker (RFC 4724 §2), not a withdrawal.
          expect(withdrawn.length).toBeGreaterThan(0)
          firsts.push(withdrawn[0]!)
          all.push(...withdrawn)
        }
        same(all, prefixes, "withdrawn prefixes")
        checkPacking(messages, firsts, addPath, ctx)
      }),
      params(400)
    )
  })
})
