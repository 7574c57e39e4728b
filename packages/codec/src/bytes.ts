/**
 * Byte plumbing for the codec: a growable writer with length back-patching (one shared instance is
 * reused across encodes) and hex helpers. Decoders read through `DataView`s and check bounds themselves,
 * because the right NOTIFICATION for a short field depends on where the field is.
 */
import { EncodeError } from "./errors.ts"

export class Writer {
  private buf: Uint8Array
  private view: DataView
  pos = 0

  constructor(initial = 4096) {
    this.buf = new Uint8Array(initial)
    this.view = new DataView(this.buf.buffer)
  }

  reset(): this {
    this.pos = 0
    return this
  }

  private grow(n: number): void {
    if (this.pos + n <= this.buf.length) return
    let size = this.buf.length * 2
    while (size < this.pos + n) size *= 2
    const next = new Uint8Array(size)
    next.set(this.buf.subarray(0, this.pos))
    this.buf = next
    this.view = new DataView(next.buffer)
  }

  u8(v: number): void {
    this.grow(1)
    this.buf[this.pos++] = v
  }

  u16(v: number): void {
    this.grow(2)
    this.view.setUint16(this.pos, v)
    this.pos += 2
  }

  u32(v: number): void {
    this.grow(4)
    this.view.setUint32(this.pos, v >>> 0)
    this.pos += 4
  }

  bytes(b: Uint8Array): void {
    this.grow(b.length)
    this.buf.set(b, this.pos)
    this.pos += b.length
  }

  fill(v: number, n: number): void {
    this.grow(n)
    this.buf.fill(v, this.pos, this.pos + n)
    this.pos += n
  }

  patchU8(at: number, v: number): void {
    this.buf[at] = v
  }

  patchU16(at: number, v: number): void {
    this.view.setUint16(at, v)
  }

  /** Moves bytes [from, pos) right by `by` (to widen a length field after the fact). */
  shiftRight(from: number, by: number): void {
    this.grow(by)
    this.buf.copyWithin(from + by, from, this.pos)
    this.pos += by
  }

  /** A fresh copy of bytes [from, pos). */
  copy(from = 0): Uint8Array {
    return this.buf.slice(from, this.pos)
  }

  /** A view of bytes [from, to) valid until the next write. */
  peek(from: number, to = this.pos): Uint8Array {
    return this.buf.subarray(from, to)
  }
}

/** One writer reused by every encoder: encoders are synchronous and never nest across calls. */
export const sharedWriter = new Writer(1 << 16)

export const toHex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex")

export const fromHex = (s: string): Uint8Array => {
  const clean = s.replace(/[\s:]/g, "").replace(/^0x/i, "")
  if (clean.length % 2 !== 0 || /[^0-9a-fA-F]/.test(clean)) throw new EncodeError({ detail: "invalid hex string" })
  return new Uint8Array(Buffer.from(clean, "hex"))
}

export const dataView = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength)

export const bytesEqual = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

export const checkU8 = (v: number, what: string): void => {
  if (!Number.isInteger(v) || v < 0 || v > 0xff) throw new EncodeError({ detail: `${what} out of range: ${v}` })
}
export const checkU16 = (v: number, what: string): void => {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new EncodeError({ detail: `${what} out of range: ${v}` })
}
export const checkU32 = (v: number, what: string): void => {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new EncodeError({ detail: `${what} out of range: ${v}` })
}
