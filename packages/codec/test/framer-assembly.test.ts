/**
 * The framer assembles a split message in place (no re-copying per chunk), and RFC 8654 §4 keeps OPEN
 * within 4096 octets even when extended messages are negotiated.
 */
import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import { decodeMessage, makeContext, makeFramer } from "@starling/codec"

const message = (type: number, length: number): Uint8Array => {
  const b = new Uint8Array(length)
  b.fill(0xff, 0, 16)
  b[16] = length >> 8
  b[17] = length & 0xff
  b[18] = type
  return b
}

/** A NOTIFICATION (any length ≥ 21 is legal) of `length` octets with a recognisable data pattern. */
const notification = (length: number): Uint8Array => {
  const b = message(3, length)
  b[19] = 6
  b[20] = 2
  for (let i = 21; i < length; i++) b[i] = i & 0xff
  return b
}

describe("framer assembly", () => {
  it("a 65535-octet message fed one octet at a time comes out whole, followed by the next", () => {
    const f = makeFramer({ extendedMessages: true })
    const big = notification(65535)
    const next = message(4, 19)
    const stream = new Uint8Array(big.length + next.length)
    stream.set(big)
    stream.set(next, big.length)
    const out: Uint8Array[] = []
    for (let i = 0; i < stream.length; i++) {
      const r = f.push(stream.subarray(i, i + 1))
      assert.isUndefined(r.error)
      out.push(...r.messages)
      if (i < big.length - 1) assert.strictEqual(f.buffered, i + 1)
    }
    assert.strictEqual(out.length, 2)
    assert.deepStrictEqual(out[0], big)
    assert.deepStrictEqual(out[1], next)
    assert.strictEqual(f.buffered, 0)
  })

  it("splits at every position of a three-message stream give the same messages", () => {
    const msgs = [notification(100), message(4, 19), notification(5000)]
    const stream = new Uint8Array(msgs.reduce((n, m) => n + m.length, 0))
    let o = 0
    for (const m of msgs) {
      stream.set(m, o)
      o += m.length
    }
    for (let cut = 1; cut < stream.length; cut += 37) {
      const f = makeFramer({ extendedMessages: true })
      const got = [...f.push(stream.subarray(0, cut)).messages, ...f.push(stream.subarray(cut)).messages]
      assert.deepStrictEqual(got, msgs)
    }
  })
})

describe("RFC 8654 §4: OPEN stays within 4096 octets", () => {
  it("an OPEN of 4097 octets is Bad Message Length even with extended messages, data = the Length field", () => {
    const open = message(1, 4097)
    const r = decodeMessage(open, makeContext({ extendedMessage: true }))
    assert.isTrue(Result.isFailure(r))
    if (Result.isFailure(r)) {
      assert.strictEqual(r.failure.code, 1)
      assert.strictEqual(r.failure.subcode, 2)
      assert.deepStrictEqual([...r.failure.data], [0x10, 0x01])
    }
    const f = makeFramer({ extendedMessages: true })
    assert.strictEqual(f.push(open).error?.subcode, 2)
  })
})
