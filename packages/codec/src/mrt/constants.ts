/**
 * MRT numbers (RFC 6396 §4, RFC 8050 §3, IANA "Multi-Threaded Routing Toolkit (MRT)"). Plain `as const`
 * objects: the project runs `.ts` with type stripping, so no `enum`.
 */

/** MRT record types. 5 (BGP) and 12 (TABLE_DUMP) are the deprecated ones of RFC 6396 Appendix B / §4.2. */
export const MrtType = {
  BGP: 5,
  TABLE_DUMP: 12,
  TABLE_DUMP_V2: 13,
  BGP4MP: 16,
  BGP4MP_ET: 17,
  ISIS: 32,
  ISIS_ET: 33,
  OSPFV3: 48,
  OSPFV3_ET: 49
} as const

/** RFC 6396 §3: the Extended Timestamp types carry a microsecond field counted in the record length. */
export const isExtendedTimestampType = (type: number): boolean =>
  type === MrtType.BGP4MP_ET || type === MrtType.ISIS_ET || type === MrtType.OSPFV3_ET

/** RFC 6396 §4.2: TABLE_DUMP subtypes are the AFI of the entry. */
export const TableDumpSubtype = { AFI_IPV4: 1, AFI_IPV6: 2 } as const

/** RFC 6396 §4.3 and RFC 8050 §3 (the *_ADDPATH variants, 8-12). */
export const TableDumpV2Subtype = {
  PEER_INDEX_TABLE: 1,
  RIB_IPV4_UNICAST: 2,
  RIB_IPV4_MULTICAST: 3,
  RIB_IPV6_UNICAST: 4,
  RIB_IPV6_MULTICAST: 5,
  RIB_GENERIC: 6,
  GEO_PEER_TABLE: 7,
  RIB_IPV4_UNICAST_ADDPATH: 8,
  RIB_IPV4_MULTICAST_ADDPATH: 9,
  RIB_IPV6_UNICAST_ADDPATH: 10,
  RIB_IPV6_MULTICAST_ADDPATH: 11,
  RIB_GENERIC_ADDPATH: 12
} as const

/** RFC 6396 §4.4 and RFC 8050 §3 (the *_ADDPATH variants, 8-11). */
export const Bgp4mpSubtype = {
  STATE_CHANGE: 0,
  MESSAGE: 1,
  ENTRY: 2,
  SNAPSHOT: 3,
  MESSAGE_AS4: 4,
  STATE_CHANGE_AS4: 5,
  MESSAGE_LOCAL: 6,
  MESSAGE_AS4_LOCAL: 7,
  MESSAGE_ADDPATH: 8,
  MESSAGE_AS4_ADDPATH: 9,
  MESSAGE_LOCAL_ADDPATH: 10,
  MESSAGE_AS4_LOCAL_ADDPATH: 11
} as const

/** RFC 6396 Appendix B.2.1: subtypes of the deprecated BGP (5) type. */
export const BgpSubtype = { NULL: 0, UPDATE: 1, PREF_UPDATE: 2, STATE_CHANGE: 3, SYNC: 4, OPEN: 5, NOTIFY: 6, KEEPALIVE: 7 } as const

/** RFC 6396 §4.3.1: Peer Type bits of a PEER_INDEX_TABLE entry. */
export const PeerTypeBit = { IPV6: 0x01, AS4: 0x02 } as const

/** RFC 6396 §4.4.1: BGP FSM states as numbered in STATE_CHANGE records (7/8 are Quagga's Clearing/Deleted). */
export const BgpState = {
  IDLE: 1,
  CONNECT: 2,
  ACTIVE: 3,
  OPEN_SENT: 4,
  OPEN_CONFIRM: 5,
  ESTABLISHED: 6
} as const

export const bgpStateName = (state: number): string =>
  ["Unknown", "Idle", "Connect", "Active", "OpenSent", "OpenConfirm", "Established", "Clearing", "Deleted"][state] ??
    `State${state}`

/** Common header length (RFC 6396 §2); ET records add four octets of microseconds inside the body. */
export const MRT_HEADER_LENGTH = 12

/** A sane default ceiling for one record, so a corrupt length field cannot make us buffer the whole file. */
export const DEFAULT_MAX_RECORD_LENGTH = 16 * 1024 * 1024
