/**
 * What one direction of a session has negotiated, as far as the bytes are concerned (the session package
 * derives it from the two OPENs). Decoding and encoding take it explicitly: the codec has no state.
 */
import { MAX_EXTENDED_MESSAGE_LENGTH, MAX_MESSAGE_LENGTH } from "./constants.ts"

export interface CodecContext {
  /** RFC 6793: both speakers advertised the 4-octet AS capability, so AS numbers are 4 octets. */
  readonly as4: boolean
  /** RFC 8654: both speakers advertised extended messages, so a message may be up to 65535 octets. */
  readonly extendedMessage: boolean
  /**
   * RFC 7911: families (`familyKey(afi, safi)`) whose NLRI carry path identifiers in this direction
   * (for decoding: we advertised receive and the peer send; for encoding: the reverse).
   */
  readonly addPath: ReadonlySet<number>
  /** The peer is internal (same AS): LOCAL_PREF is then mandatory (RFC 4271 §5.1.5). */
  readonly internal?: boolean
}

const NO_FAMILIES: ReadonlySet<number> = new Set()

/** A modern peer: 4-octet AS, classic message size, no ADD-PATH. */
export const defaultContext: CodecContext = { as4: true, extendedMessage: false, addPath: NO_FAMILIES }

export const makeContext = (options: Partial<CodecContext> = {}): CodecContext => ({ ...defaultContext, ...options })

export const maxMessageLength = (ctx: CodecContext): number =>
  ctx.extendedMessage ? MAX_EXTENDED_MESSAGE_LENGTH : MAX_MESSAGE_LENGTH
