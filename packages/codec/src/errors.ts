/**
 * Every way a BGP message can be malformed, as one typed error that carries what the RFCs prescribe:
 * the NOTIFICATION code, subcode and data (RFC 4271 §6) and the RFC 7606 action. The mapping from a
 * failure to code/subcode/action lives here and nowhere else.
 */
import { Data } from "effect"
import { AttrType, ErrorCode, HeaderSubcode, OpenSubcode, RouteRefreshErrorSubcode, UpdateSubcode } from "./constants.ts"

/**
 * RFC 7606 §2: what the receiver does with a malformed UPDATE. Errors outside UPDATE attribute
 * handling (header, OPEN, NLRI framing) are always `SessionReset`.
 */
export type ErrorAction = "SessionReset" | "AfiSafiDisable" | "TreatAsWithdraw" | "AttributeDiscard"

/** The failure kinds, each mapped to exactly one NOTIFICATION code and subcode by `reasons` below. */
export type Reason = keyof typeof reasons

const reasons = {
  // RFC 4271 §6.1 Message Header Error
  ConnectionNotSynchronized: [ErrorCode.MESSAGE_HEADER, HeaderSubcode.CONNECTION_NOT_SYNCHRONIZED],
  BadMessageLength: [ErrorCode.MESSAGE_HEADER, HeaderSubcode.BAD_MESSAGE_LENGTH],
  BadMessageType: [ErrorCode.MESSAGE_HEADER, HeaderSubcode.BAD_MESSAGE_TYPE],
  // RFC 4271 §6.2 OPEN Message Error
  MalformedOpen: [ErrorCode.OPEN_MESSAGE, OpenSubcode.UNSPECIFIC],
  UnsupportedVersion: [ErrorCode.OPEN_MESSAGE, OpenSubcode.UNSUPPORTED_VERSION],
  BadPeerAs: [ErrorCode.OPEN_MESSAGE, OpenSubcode.BAD_PEER_AS],
  BadBgpIdentifier: [ErrorCode.OPEN_MESSAGE, OpenSubcode.BAD_BGP_IDENTIFIER],
  UnsupportedOptionalParameter: [ErrorCode.OPEN_MESSAGE, OpenSubcode.UNSUPPORTED_OPTIONAL_PARAMETER],
  UnacceptableHoldTime: [ErrorCode.OPEN_MESSAGE, OpenSubcode.UNACCEPTABLE_HOLD_TIME],
  UnsupportedCapability: [ErrorCode.OPEN_MESSAGE, OpenSubcode.UNSUPPORTED_CAPABILITY],
  RoleMismatch: [ErrorCode.OPEN_MESSAGE, OpenSubcode.ROLE_MISMATCH],
  // RFC 4271 §6.3 UPDATE Message Error
  MalformedAttributeList: [ErrorCode.UPDATE_MESSAGE, UpdateSubcode.MALFORMED_ATTRIBUTE_LIST],
  UnrecognizedWellKnownAttribute: [ErrorCode.UPDATE_MESSAGE, UpdateSubcode.UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE],
  MissingWellKnownAttribute: [ErrorCode.UPDATE_MESSAGE, UpdateSubcode.MISSING_WELL_KNOWN_ATTRIBUTE],
  AttributeFlagsError: [ErrorCode.UPDATE_MESSAGE, UpdateSubcode.ATTRIBUTE_FLAGS_ERROR],
  AttributeLengthError: [ErrorCode.UPDATE_MESSAGE, UpdateSubcode.ATTRIBUTE_LENGTH_ERROR],
  InvalidOrigin: [ErrorCode.UPDATE_MESSAGE, UpdateSubcode.INVALID_ORIGIN_ATTRIBUTE],
  InvalidNextHop: [ErrorCode.UPDATE_MESSAGE, UpdateSubcode.INVALID_NEXT_HOP_ATTRIBUTE],
  OptionalAttributeError: [ErrorCode.UPDATE_MESSAGE, UpdateSubcode.OPTIONAL_ATTRIBUTE_ERROR],
  InvalidNetworkField: [ErrorCode.UPDATE_MESSAGE, UpdateSubcode.INVALID_NETWORK_FIELD],
  MalformedAsPath: [ErrorCode.UPDATE_MESSAGE, UpdateSubcode.MALFORMED_AS_PATH],
  // RFC 7313 §5 ROUTE-REFRESH Message Error
  InvalidRouteRefreshLength: [ErrorCode.ROUTE_REFRESH, RouteRefreshErrorSubcode.INVALID_MESSAGE_LENGTH]
} as const satisfies Record<string, readonly [number, number]>

/**
 * RFC 7606 §7 (and RFC 8092 §6, RFC 9234 §5, RFC 6793 §6): the action for a malformed attribute of
 * each recognized type. MP_REACH/MP_UNREACH are handled where their AFI/SAFI is known (§5.3, §7.11).
 */
const attributeActions: Readonly<Record<number, ErrorAction>> = {
  [AttrType.ORIGIN]: "TreatAsWithdraw", // §7.1
  [AttrType.AS_PATH]: "TreatAsWithdraw", // §7.2
  [AttrType.NEXT_HOP]: "TreatAsWithdraw", // §7.3
  [AttrType.MULTI_EXIT_DISC]: "TreatAsWithdraw", // §7.4
  [AttrType.LOCAL_PREF]: "TreatAsWithdraw", // §7.5
  [AttrType.ATOMIC_AGGREGATE]: "AttributeDiscard", // §7.6
  [AttrType.AGGREGATOR]: "AttributeDiscard", // §7.7
  [AttrType.COMMUNITIES]: "TreatAsWithdraw", // §7.8
  [AttrType.ORIGINATOR_ID]: "TreatAsWithdraw", // §7.9
  [AttrType.CLUSTER_LIST]: "TreatAsWithdraw", // §7.10
  [AttrType.EXTENDED_COMMUNITIES]: "TreatAsWithdraw", // §7.14
  [AttrType.AS4_PATH]: "AttributeDiscard", // RFC 6793 §6 as revised by RFC 7606 §7.?
  [AttrType.AS4_AGGREGATOR]: "AttributeDiscard", // RFC 6793 §6
  [AttrType.LARGE_COMMUNITY]: "TreatAsWithdraw", // RFC 8092 §6
  [AttrType.OTC]: "TreatAsWithdraw" // RFC 9234 §5
}

/** The action RFC 7606 prescribes for a malformed attribute of this type. */
export const attributeErrorAction = (type: number): ErrorAction => attributeActions[type] ?? "TreatAsWithdraw"

export interface BgpErrorFields {
  readonly reason: Reason
  readonly code: number
  readonly subcode: number
  /** The NOTIFICATION data RFC 4271 §6 prescribes (the offending field or attribute), possibly empty. */
  readonly data: Uint8Array
  readonly action: ErrorAction
  /** Human-readable detail for logs. */
  readonly detail: string
  /** The attribute type code, when the error is about one attribute. */
  readonly attributeType?: number
  /** The family, when the action is `AfiSafiDisable`. */
  readonly afi?: number
  readonly safi?: number
}

/** A malformed message. Decoders return it (never throw it, never throw anything else). */
export class BgpError extends Data.TaggedError("BgpError")<BgpErrorFields> {
  override get message(): string {
    return `${this.reason} (${this.code}/${this.subcode}, ${this.action}): ${this.detail}`
  }
}

const EMPTY = new Uint8Array(0)

export interface ErrorOptions {
  readonly data?: Uint8Array
  readonly action?: ErrorAction
  readonly attributeType?: number
  readonly afi?: number
  readonly safi?: number
}

/** Builds the error for `reason`; code and subcode come from the one table above. */
export const bgpError = (reason: Reason, detail: string, options: ErrorOptions = {}): BgpError => {
  const [code, subcode] = reasons[reason]
  return new BgpError({
    reason,
    code,
    subcode,
    // Copy: the data must not keep a socket buffer alive or change under us.
    data: options.data === undefined ? EMPTY : options.data.slice(),
    action: options.action ?? "SessionReset",
    detail,
    ...(options.attributeType === undefined ? {} : { attributeType: options.attributeType }),
    ...(options.afi === undefined ? {} : { afi: options.afi }),
    ...(options.safi === undefined ? {} : { safi: options.safi })
  })
}

/** The NOTIFICATION code and subcode for a reason (for callers that build a NOTIFICATION themselves). */
export const reasonCode = (reason: Reason): readonly [number, number] => reasons[reason]

/**
 * Thrown inside decoders and caught at each public entry point, which turns it into a `Result`
 * failure. This is the internal fast path; it never escapes the package.
 */
export class DecodeAbort {
  readonly error: BgpError
  constructor(error: BgpError) {
    this.error = error
  }
}

export const abort = (reason: Reason, detail: string, options?: ErrorOptions): never => {
  throw new DecodeAbort(bgpError(reason, detail, options))
}

/** Encoding failed: the value cannot be represented on the wire (too long, out of range). */
export class EncodeError extends Data.TaggedError("EncodeError")<{ readonly detail: string }> {
  override get message(): string {
    return this.detail
  }
}
