/**
 * Whole BGP messages: the header (RFC 4271 §4.1), NOTIFICATION (§4.5, with the RFC 9003 shutdown
 * communication), KEEPALIVE (§4.4), ROUTE-REFRESH (RFC 2918, RFC 7313), and the dispatch to OPEN and
 * UPDATE. Public entry points return `Result`; nothing else escapes.
 */
import { Result } from "effect"
import {
  CeaseSubcode,
  ErrorCode,
  HEADER_LENGTH,
  MessageType,
  RouteRefreshSubtype
} from "./constants.ts"
import type { CodecContext } from "./context.ts"
import { maxMessageLength } from "./context.ts"
import { abort, bgpError, BgpError, DecodeAbort, EncodeError } from "./errors.ts"
import type { Open, OpenEncodeOptions } from "./open.ts"
import { decodeOpenBody, encodeOpenInto } from "./open.ts"
import type { Update } from "./update.ts"
import { decodeUpdateAt, encodeUpdate } from "./update.ts"
import { checkU16, checkU8, sharedWriter } from "./bytes.ts"

export interface Notification {
  readonly _tag: "Notification"
  readonly code: number
  readonly subcode: number
  readonly data: Uint8Array
}

export interface Keepalive {
  readonly _tag: "Keepalive"
}

export interface RouteRefresh {
  readonly _tag: "RouteRefresh"
  readonly afi: number
  readonly safi: number
  /** RFC 7313 §3: 0 normal request, 1 Beginning of Route Refresh, 2 End of Route Refresh. */
  readonly subtype: number
}

export type Message = Open | Update | Notification | Keepalive | RouteRefresh

// ---------------------------------------------------------------------------------------------------
// Header

/** RFC 4271 §6.1: the smallest legal length of each message type (ROUTE-REFRESH: RFC 2918 §3). */
const minLength: Readonly<Record<number, number>> = {
  [MessageType.OPEN]: 29,
  [MessageType.UPDATE]: 23,
  [MessageType.NOTIFICATION]: 21,
  [MessageType.KEEPALIVE]: 19,
  [MessageType.ROUTE_REFRESH]: 23
}

/**
 * Checks the 19-octet header at `b[s]`: marker all ones, length within bounds and fitting the type,
 * type known. Returns the message length. RFC 4271 §6.1 gives the subcodes and the data: the Length
 * field for a bad length, the Type field for a bad type.
 */
export const checkHeader = (b: Uint8Array, s: number, maxLength: number): number => {
  for (let k = 0; k < 16; k++) {
    if (b[s + k] !== 0xff) abort("ConnectionNotSynchronized", "marker is not all ones")
  }
  const length = (b[s + 16]! << 8) | b[s + 17]!
  const type = b[s + 18]!
  // (The Length field is cut out for the error data only on failure: a view per message is measurable.)
  if (length < HEADER_LENGTH || length > maxLength) {
    abort("BadMessageLength", `message length ${length} outside ${HEADER_LENGTH}..${maxLength}`, { data: b.subarray(s + 16, s + 18) })
  }
  const min = minLength[type]
  if (min === undefined) abort("BadMessageType", `unknown message type ${type}`, { data: Uint8Array.of(type) })
  // KEEPALIVE is exactly 19 octets; the others have a minimum. RFC 8654 §4: OPEN never exceeds 4096.
  if (length < min! || (type === MessageType.KEEPALIVE && length !== HEADER_LENGTH) || (type === MessageType.OPEN && length > 4096)) {
    abort("BadMessageLength", `length ${length} is wrong for message type ${type}`, { data: b.subarray(s + 16, s + 18) })
  }
  return length
}

// ---------------------------------------------------------------------------------------------------
// Decoding

const decodeNotificationBody = (b: Uint8Array, s: number, e: number): Notification => ({
  _tag: "Notification",
  code: b[s]!,
  subcode: b[s + 1]!,
  data: b.slice(s + 2, e)
})

const decodeRouteRefreshBody = (b: Uint8Array, s: number, e: number): RouteRefresh => {
  // RFC 7313 §5: a BoRR or EoRR (subtype 1, 2) whose length is not 23 is a ROUTE-REFRESH Message Error.
  // A longer normal request carries ORF entries (RFC 5291 §4), which we do not negotiate and ignore; other
  // subtypes are to be ignored whatever their length.
  const subtype = b[s + 2]!
  if (e - s !== 4 && (subtype === RouteRefreshSubtype.BORR || subtype === RouteRefreshSubtype.EORR)) {
    abort("InvalidRouteRefreshLength", `ROUTE-REFRESH of ${e - s + HEADER_LENGTH} octets`, { data: b.subarray(s - HEADER_LENGTH, e) })
  }
  return { _tag: "RouteRefresh", afi: (b[s]! << 8) | b[s + 1]!, subtype, safi: b[s + 3]! }
}

/**
 * Decodes exactly one message, header included (as the framer yields them). UPDATEs follow RFC 7606:
 * see `decodeUpdate` for what a success with `errors` means.
 */
export const decodeMessage = (bytes: Uint8Array, ctx: CodecContext): Result.Result<Message, BgpError> => {
  try {
    if (bytes.length < HEADER_LENGTH) abort("BadMessageLength", `message of ${bytes.length} octets is shorter than a header`)
    const length = checkHeader(bytes, 0, maxMessageLength(ctx))
    if (length !== bytes.length) {
      abort("BadMessageLength", `Length field ${length} but ${bytes.length} octets`, { data: bytes.subarray(16, 18) })
    }
    const type = bytes[18]!
    switch (type) {
      case MessageType.OPEN:
        return Result.succeed(decodeOpenBody(bytes, HEADER_LENGTH, length))
      case MessageType.UPDATE:
        return decodeUpdateAt(bytes, HEADER_LENGTH, length, ctx)
      case MessageType.NOTIFICATION:
        return Result.succeed(decodeNotificationBody(bytes, HEADER_LENGTH, length))
      case MessageType.KEEPALIVE:
        return Result.succeed(KEEPALIVE)
      default:
        return Result.succeed(decodeRouteRefreshBody(bytes, HEADER_LENGTH, length))
    }
  } catch (e) {
    if (e instanceof DecodeAbort) return Result.fail(e.error)
    return Result.fail(bgpError("MalformedOpen", `internal decoder fault: ${String(e)}`))
  }
}

const KEEPALIVE: Keepalive = { _tag: "Keepalive" }

// ---------------------------------------------------------------------------------------------------
// Encoding

export interface EncodeOptions extends OpenEncodeOptions {}

const headerOnly = (type: number, body: ReadonlyArray<number> | Uint8Array): Uint8Array => {
  const w = sharedWriter.reset()
  w.fill(0xff, 16)
  w.u16(HEADER_LENGTH + body.length)
  w.u8(type)
  for (const x of body) w.u8(x)
  return w.copy()
}

/** Encodes any message (header included) under the negotiated context. */
export const encodeMessage = (
  m: Message,
  ctx: CodecContext,
  options: EncodeOptions = {}
): Result.Result<Uint8Array, EncodeError> => {
  try {
    switch (m._tag) {
      case "Open": {
        const w = sharedWriter.reset()
        encodeOpenInto(w, m, options)
        // OPEN is never subject to RFC 8654 (§3: OPEN and KEEPALIVE stay within 4096).
        if (w.pos > 4096) throw new EncodeError({ detail: "OPEN longer than 4096 octets" })
        return Result.succeed(w.copy())
      }
      case "Update":
        return encodeUpdate(m, ctx)
      case "Notification": {
        checkU8(m.code, "error code")
        checkU8(m.subcode, "error subcode")
        if (HEADER_LENGTH + 2 + m.data.length > maxMessageLength(ctx)) throw new EncodeError({ detail: "NOTIFICATION data too long" })
        const w = sharedWriter.reset()
        w.fill(0xff, 16)
        w.u16(HEADER_LENGTH + 2 + m.data.length)
        w.u8(MessageType.NOTIFICATION)
        w.u8(m.code)
        w.u8(m.subcode)
        w.bytes(m.data)
        return Result.succeed(w.copy())
      }
      case "Keepalive":
        return Result.succeed(headerOnly(MessageType.KEEPALIVE, []))
      case "RouteRefresh":
        checkU16(m.afi, "AFI")
        checkU8(m.safi, "SAFI")
        checkU8(m.subtype, "ROUTE-REFRESH subtype")
        return Result.succeed(headerOnly(MessageType.ROUTE_REFRESH, [m.afi >> 8, m.afi & 0xff, m.subtype, m.safi]))
    }
  } catch (e) {
    return Result.fail(e instanceof EncodeError ? e : new EncodeError({ detail: String(e) }))
  }
}

/** Like `encodeMessage`, for callers that built the message themselves and treat failure as a bug. */
export const encodeMessageUnsafe = (m: Message, ctx: CodecContext, options?: EncodeOptions): Uint8Array => {
  const r = encodeMessage(m, ctx, options)
  if (Result.isFailure(r)) throw r.failure
  return r.success
}

// ---------------------------------------------------------------------------------------------------
// NOTIFICATION helpers

/** The NOTIFICATION a decode error calls for (RFC 4271 §6): the one place errors become messages. */
export const toNotification = (e: BgpError): Notification => ({
  _tag: "Notification",
  code: e.code,
  subcode: e.subcode,
  data: e.data
})

const utf8 = new TextEncoder()
const utf8d = new TextDecoder("utf-8", { fatal: true })

/**
 * RFC 9003 §2: a Cease NOTIFICATION (Administrative Shutdown or Reset) with a UTF-8 message of at most
 * 255 octets, prefixed by its length. Longer text is cut at a character boundary.
 */
export const shutdownNotification = (
  subcode: typeof CeaseSubcode.ADMINISTRATIVE_SHUTDOWN | typeof CeaseSubcode.ADMINISTRATIVE_RESET,
  message: string
): Notification => {
  let bytes = utf8.encode(message)
  if (bytes.length > 255) {
    // Cut at 255 octets, backing off over UTF-8 continuation octets (10xxxxxx) to a character start.
    let cut = 255
    while (cut > 0 && (bytes[cut]! & 0xc0) === 0x80) cut--
    bytes = bytes.subarray(0, cut)
  }
  const data = new Uint8Array(1 + bytes.length)
  data[0] = bytes.length
  data.set(bytes, 1)
  return { _tag: "Notification", code: ErrorCode.CEASE, subcode, data }
}

/**
 * The RFC 9003 shutdown communication carried by a Cease 2/4 NOTIFICATION (also inside a Cease/Hard Reset,
 * RFC 8538 §3), or undefined when absent or malformed (§3: a bad length or invalid UTF-8 means no message,
 * not an error).
 */
export const shutdownMessage = (n: Notification): string | undefined => {
  // One level only: a peer could nest thousands of Hard Resets in one extended message.
  return shutdownText(hardResetInner(n) ?? n)
}

const shutdownText = (n: Notification): string | undefined => {
  if (n.code !== ErrorCode.CEASE) return undefined
  if (n.subcode !== CeaseSubcode.ADMINISTRATIVE_SHUTDOWN && n.subcode !== CeaseSubcode.ADMINISTRATIVE_RESET) return undefined
  if (n.data.length < 1) return undefined
  const len = n.data[0]!
  if (len === 0 || 1 + len > n.data.length) return undefined
  try {
    return utf8d.decode(n.data.subarray(1, 1 + len))
  } catch {
    return undefined
  }
}

/**
 * RFC 8538 §3: a Cease/Hard Reset carries the NOTIFICATION it stands for in its data (error code, subcode,
 * data). Sent instead of that NOTIFICATION when both sides set the N bit and the session must not be kept
 * gracefully.
 */
export const hardReset = (inner: Notification): Notification => {
  const data = new Uint8Array(2 + inner.data.length)
  data[0] = inner.code
  data[1] = inner.subcode
  data.set(inner.data, 2)
  return { _tag: "Notification", code: ErrorCode.CEASE, subcode: CeaseSubcode.HARD_RESET, data }
}

/**
 * RFC 8538 §5.1: the Cease subcodes that end a session for good (sent as a Hard Reset when the N bit was
 * exchanged): Maximum Number of Prefixes Reached, Administrative Shutdown, Peer De-configured, Hard Reset.
 * Administrative Reset (4) is left graceful: the RFC leaves it to the operator.
 */
export const HARD_RESET_CEASES: ReadonlySet<number> = new Set([
  CeaseSubcode.MAXIMUM_PREFIXES_REACHED,
  CeaseSubcode.ADMINISTRATIVE_SHUTDOWN,
  CeaseSubcode.PEER_DECONFIGURED,
  CeaseSubcode.HARD_RESET
])

/** The NOTIFICATION inside a Cease/Hard Reset (RFC 8538 §3), if `n` is one and carries it. */
export const hardResetInner = (n: Notification): Notification | undefined =>
  n.code === ErrorCode.CEASE && n.subcode === CeaseSubcode.HARD_RESET && n.data.length >= 2
    ? { _tag: "Notification", code: n.data[0]!, subcode: n.data[1]!, data: n.data.subarray(2) }
    : undefined

/** RFC 7313: is this a BoRR or EoRR marker rather than a refresh request? */
export const isRefreshMarker = (m: RouteRefresh): boolean =>
  m.subtype === RouteRefreshSubtype.BORR || m.subtype === RouteRefreshSubtype.EORR

export { BgpError }
