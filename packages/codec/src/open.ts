/**
 * OPEN (RFC 4271 §4.2) with capabilities in optional parameters (RFC 5492) and the extended optional
 * parameters length of RFC 9072. Semantic checks (version, peer AS, hold time, identifier) belong to
 * the session; this module only parses and builds the bytes.
 */
import { AS_TRANS, MessageType, OptParamType } from "./constants.ts"
import { abort } from "./errors.ts"
import type { Capability } from "./capabilities.ts"
import { decodeCapability, encodeCapability } from "./capabilities.ts"
import { checkU16, checkU32, checkU8, sharedWriter, Writer } from "./bytes.ts"
import { EncodeError } from "./errors.ts"

export interface Open {
  readonly _tag: "Open"
  readonly version: number
  /** The 2-octet My Autonomous System field (AS_TRANS when the real AS needs 4 octets). */
  readonly myAs: number
  readonly holdTime: number
  /** BGP Identifier as an unsigned 32-bit number. */
  readonly bgpId: number
  readonly capabilities: ReadonlyArray<Capability>
}

/** The speaker's AS: from the 4-octet AS capability when present (RFC 6793 §3), else the OPEN field. */
export const openAs = (o: Open): number => {
  for (const c of o.capabilities) if (c._tag === "FourOctetAs") return c.asn
  return o.myAs
}

/** Decodes an OPEN body (after the header). Malformed parameters are OPEN Message Errors. */
export const decodeOpenBody = (b: Uint8Array, s: number, e: number): Open => {
  if (e - s < 10) abort("BadMessageLength", "OPEN shorter than 29 octets", { data: Uint8Array.of((e - s + 19) >> 8, (e - s + 19) & 0xff) })
  const version = b[s]!
  const myAs = (b[s + 1]! << 8) | b[s + 2]!
  const holdTime = (b[s + 3]! << 8) | b[s + 4]!
  const bgpId = ((b[s + 5]! << 24) | (b[s + 6]! << 16) | (b[s + 7]! << 8) | b[s + 8]!) >>> 0
  let optLen = b[s + 9]!
  let i = s + 10
  // RFC 9072 §2: Non-Ext OP Len 255 and a first parameter type of 255 announce 2-octet lengths.
  let extended = false
  if (optLen > 0 && i < e && b[i] === OptParamType.EXTENDED_LENGTH) {
    if (i + 3 > e) abort("MalformedOpen", "extended optional parameters length truncated")
    extended = true
    optLen = (b[i + 1]! << 8) | b[i + 2]!
    i += 3
  }
  const pEnd = i + optLen
  if (pEnd !== e) abort("MalformedOpen", `optional parameters length ${optLen} does not match the message`)
  const capabilities: Capability[] = []
  const hdr = extended ? 3 : 2
  while (i < pEnd) {
    if (i + hdr > pEnd) abort("MalformedOpen", "optional parameter header truncated")
    const type = b[i]!
    const len = extended ? (b[i + 1]! << 8) | b[i + 2]! : b[i + 1]!
    const vs = i + hdr
    const ve = vs + len
    if (ve > pEnd) abort("MalformedOpen", `optional parameter ${type} overruns the parameters`)
    if (type !== OptParamType.CAPABILITIES) {
      // RFC 4271 §6.2: Unsupported Optional Parameter (Authentication, type 1, is deprecated).
      abort("UnsupportedOptionalParameter", `optional parameter type ${type}`, { data: b.subarray(i, ve) })
    }
    let k = vs
    while (k < ve) {
      if (k + 2 > ve) abort("MalformedOpen", "capability header truncated")
      const code = b[k]!
      const clen = b[k + 1]!
      if (k + 2 + clen > ve) abort("MalformedOpen", `capability ${code} overruns its parameter`)
      const c = decodeCapability(code, b, k + 2, k + 2 + clen)
      if (typeof c === "string") abort("MalformedOpen", c, { data: b.subarray(k, k + 2 + clen) })
      capabilities.push(c as Capability)
      k += 2 + clen
    }
    i = ve
  }
  return { _tag: "Open", version, myAs, holdTime, bgpId, capabilities }
}

export interface OpenEncodeOptions {
  /** Use RFC 9072 extended parameter lengths even when the parameters would fit in 255 octets. */
  readonly extendedParameters?: boolean
}

export const encodeOpenInto = (w: Writer, o: Omit<Open, "_tag">, options: OpenEncodeOptions = {}): void => {
  const at = w.pos
  w.fill(0xff, 16)
  w.u16(0)
  w.u8(MessageType.OPEN)
  checkU8(o.version, "version")
  checkU16(o.myAs, "My Autonomous System")
  checkU16(o.holdTime, "hold time")
  checkU32(o.bgpId, "BGP Identifier")
  w.u8(o.version)
  w.u16(o.myAs)
  w.u16(o.holdTime)
  w.u32(o.bgpId)
  // Capabilities as one optional parameter (as BIRD and FRR send them).
  const capsW = new Writer(256)
  for (const c of o.capabilities) encodeCapability(capsW, c)
  const caps = capsW.copy()
  const extended = options.extendedParameters === true || caps.length + 2 > 255
  if (caps.length === 0) w.u8(0)
  else if (!extended) {
    w.u8(caps.length + 2)
    w.u8(OptParamType.CAPABILITIES)
    w.u8(caps.length)
    w.bytes(caps)
  } else {
    if (caps.length + 3 > 0xffff) throw new EncodeError({ detail: "capabilities too long" })
    w.u8(255)
    w.u8(OptParamType.EXTENDED_LENGTH)
    w.u16(caps.length + 3)
    w.u8(OptParamType.CAPABILITIES)
    w.u16(caps.length)
    w.bytes(caps)
  }
  w.patchU16(at + 16, w.pos - at)
}

/** The My Autonomous System field for a local AS (RFC 6793 §4.1: AS_TRANS when it needs 4 octets). */
export const myAsField = (asn: number): number => (asn > 0xffff ? AS_TRANS : asn)

export const encodeOpen = (o: Omit<Open, "_tag">, options?: OpenEncodeOptions): Uint8Array => {
  encodeOpenInto(sharedWriter.reset(), o, options)
  return sharedWriter.copy()
}
