/**
 * Numbers from the IANA BGP registries, named as in the RFCs. Plain `as const` objects (no `enum`:
 * the project runs `.ts` files with Node's type stripping, which needs erasable syntax only).
 */

/** RFC 4271 §4.1: message types; RFC 2918 adds ROUTE-REFRESH. */
export const MessageType = {
  OPEN: 1,
  UPDATE: 2,
  NOTIFICATION: 3,
  KEEPALIVE: 4,
  ROUTE_REFRESH: 5
} as const

/** RFC 4271 §4.1 header: 16-octet marker, 2-octet length, 1-octet type. */
export const HEADER_LENGTH = 19
/** RFC 4271 §4: largest message before RFC 8654 is negotiated. */
export const MAX_MESSAGE_LENGTH = 4096
/** RFC 8654 §3: largest message once the extended message capability is negotiated. */
export const MAX_EXTENDED_MESSAGE_LENGTH = 65535

/** Address Family Identifiers (IANA). */
export const Afi = { IPV4: 1, IPV6: 2, L2VPN: 25, BGP_LS: 16388 } as const
/** Subsequent Address Family Identifiers (IANA). */
export const Safi = {
  UNICAST: 1,
  MULTICAST: 2,
  MPLS_LABEL: 4,
  EVPN: 70,
  BGP_LS: 71,
  MPLS_VPN: 128,
  FLOWSPEC: 133,
  FLOWSPEC_VPN: 134
} as const

/** Path attribute type codes (IANA "BGP Path Attributes"). */
export const AttrType = {
  ORIGIN: 1,
  AS_PATH: 2,
  NEXT_HOP: 3,
  MULTI_EXIT_DISC: 4,
  LOCAL_PREF: 5,
  ATOMIC_AGGREGATE: 6,
  AGGREGATOR: 7,
  COMMUNITIES: 8,
  ORIGINATOR_ID: 9,
  CLUSTER_LIST: 10,
  MP_REACH_NLRI: 14,
  MP_UNREACH_NLRI: 15,
  EXTENDED_COMMUNITIES: 16,
  AS4_PATH: 17,
  AS4_AGGREGATOR: 18,
  LARGE_COMMUNITY: 32,
  OTC: 35
} as const

/** RFC 4271 §4.3 attribute flag bits. */
export const AttrFlag = {
  OPTIONAL: 0x80,
  TRANSITIVE: 0x40,
  PARTIAL: 0x20,
  EXTENDED_LENGTH: 0x10
} as const

/** RFC 4271 §4.3 ORIGIN values. */
export const Origin = { IGP: 0, EGP: 1, INCOMPLETE: 2 } as const
export type Origin = 0 | 1 | 2

/** AS_PATH segment types: RFC 4271 §4.3 (SET, SEQUENCE) and RFC 5065 §3 (confederation segments). */
export const SegmentType = { AS_SET: 1, AS_SEQUENCE: 2, AS_CONFED_SEQUENCE: 3, AS_CONFED_SET: 4 } as const
export type SegmentType = 1 | 2 | 3 | 4

/** RFC 6793 §9: the 2-octet stand-in for a 4-octet AS number. */
export const AS_TRANS = 23456

/** Capability codes (IANA "Capability Codes"). */
export const CapabilityCode = {
  MULTIPROTOCOL: 1,
  ROUTE_REFRESH: 2,
  EXTENDED_NEXT_HOP: 5,
  EXTENDED_MESSAGE: 6,
  ROLE: 9,
  GRACEFUL_RESTART: 64,
  FOUR_OCTET_AS: 65,
  ADD_PATH: 69,
  ENHANCED_ROUTE_REFRESH: 70,
  LONG_LIVED_GRACEFUL_RESTART: 71,
  FQDN: 73
} as const

/** OPEN optional parameter types: RFC 5492 §4 (capabilities) and RFC 9072 §2 (extended length marker). */
export const OptParamType = { CAPABILITIES: 2, EXTENDED_LENGTH: 255 } as const

/** RFC 9234 §4.1 BGP roles. */
export const Role = { PROVIDER: 0, RS: 1, RS_CLIENT: 2, CUSTOMER: 3, PEER: 4 } as const

/** RFC 7313 §3: ROUTE-REFRESH message subtypes. */
export const RouteRefreshSubtype = { NORMAL: 0, BORR: 1, EORR: 2 } as const

/** RFC 7911 §4: ADD-PATH Send/Receive field. */
export const AddPathMode = { RECEIVE: 1, SEND: 2, BOTH: 3 } as const

/** RFC 4271 §4.5 NOTIFICATION error codes (plus RFC 7313's ROUTE-REFRESH error and RFC 4486 Cease). */
export const ErrorCode = {
  MESSAGE_HEADER: 1,
  OPEN_MESSAGE: 2,
  UPDATE_MESSAGE: 3,
  HOLD_TIMER_EXPIRED: 4,
  FSM: 5,
  CEASE: 6,
  ROUTE_REFRESH: 7,
  SEND_HOLD_TIMER_EXPIRED: 8
} as const

/** RFC 4271 §6.1. */
export const HeaderSubcode = { CONNECTION_NOT_SYNCHRONIZED: 1, BAD_MESSAGE_LENGTH: 2, BAD_MESSAGE_TYPE: 3 } as const

/** RFC 4271 §6.2, RFC 5492 §5 (7), RFC 9234 §4.2 (11). */
export const OpenSubcode = {
  UNSPECIFIC: 0,
  UNSUPPORTED_VERSION: 1,
  BAD_PEER_AS: 2,
  BAD_BGP_IDENTIFIER: 3,
  UNSUPPORTED_OPTIONAL_PARAMETER: 4,
  UNACCEPTABLE_HOLD_TIME: 6,
  UNSUPPORTED_CAPABILITY: 7,
  ROLE_MISMATCH: 11
} as const

/** RFC 4271 §6.3. */
export const UpdateSubcode = {
  MALFORMED_ATTRIBUTE_LIST: 1,
  UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE: 2,
  MISSING_WELL_KNOWN_ATTRIBUTE: 3,
  ATTRIBUTE_FLAGS_ERROR: 4,
  ATTRIBUTE_LENGTH_ERROR: 5,
  INVALID_ORIGIN_ATTRIBUTE: 6,
  INVALID_NEXT_HOP_ATTRIBUTE: 8,
  OPTIONAL_ATTRIBUTE_ERROR: 9,
  INVALID_NETWORK_FIELD: 10,
  MALFORMED_AS_PATH: 11
} as const

/** RFC 4486 §4 Cease subcodes (RFC 9003 shutdown communication rides on 2 and 4). */
export const CeaseSubcode = {
  MAXIMUM_PREFIXES_REACHED: 1,
  ADMINISTRATIVE_SHUTDOWN: 2,
  PEER_DECONFIGURED: 3,
  ADMINISTRATIVE_RESET: 4,
  CONNECTION_REJECTED: 5,
  OTHER_CONFIGURATION_CHANGE: 6,
  CONNECTION_COLLISION_RESOLUTION: 7,
  OUT_OF_RESOURCES: 8,
  HARD_RESET: 9,
  BFD_DOWN: 10
} as const

/** RFC 7313 §5. */
export const RouteRefreshErrorSubcode = { INVALID_MESSAGE_LENGTH: 1 } as const

/** A family as one number, for sets and maps: `afi << 8 | safi`. */
export const familyKey = (afi: number, safi: number): number => (afi << 8) | safi
