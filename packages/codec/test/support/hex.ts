/** Hex helpers for fixtures written as text (ExaBGP vectors, PcapPlusPlus frames, ODL dumps). */

/** Parses hex, ignoring whitespace, `:` separators and a `0x` prefix; throws on anything else. */
export const fromHex = (text: string): Uint8Array => {
  const clean = text.replace(/^0x/i, "").replace(/[\s:]/g, "")
  if (clean.length % 2 !== 0 || /[^0-9a-fA-F]/.test(clean)) throw new Error(`not hex: ${text.slice(0, 60)}`)
  const out = new Uint8Array(clean.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16)
  return out
}

export const toHex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex")

export const bytesEqual = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
