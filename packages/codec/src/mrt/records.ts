/**
 * Decoded MRT records (RFC 6396, RFC 8050). One tagged interface per kind; every record carries its common
 * header. Addresses are kept as text (they are printed far more often than compared) except prefixes,
 * which are codec `Prefix`es so they can go straight into a RIB.
 */
import type { Message } from "../message.ts"
import type { Update } from "../update.ts"
import type { BgpError } from "../errors.ts"
import type { PathAttributes } from "../attributes.ts"
import type { Prefix } from "../prefix.ts"
import type { MrtError } from "./errors.ts"

export interface MrtHeader {
  /** Seconds since the epoch. */
  readonly timestamp: number
  /** Microseconds for the Extended Timestamp types (BGP4MP_ET...), else 0. */
  readonly microseconds: number
  readonly type: number
  readonly subtype: number
  /** The Length field as on the wire (for ET types it includes the microsecond field). */
  readonly length: number
  /** Offset of the record in the decompressed stream. */
  readonly offset: number
}

/** RFC 6396 §4.3.1: one peer of a PEER_INDEX_TABLE. */
export interface MrtPeer {
  readonly bgpId: string
  readonly address: string
  readonly afi: 1 | 2
  readonly asn: number
  /** The Peer Type AS4 bit: the peer's AS was written in four octets. */
  readonly as4: boolean
}

export interface PeerIndexTable {
  readonly _tag: "PeerIndexTable"
  readonly header: MrtHeader
  readonly collectorId: string
  readonly viewName: string
  readonly peers: ReadonlyArray<MrtPeer>
}

/**
 * The MP_REACH_NLRI of a RIB entry. RFC 6396 §4.3.4 abbreviates it to next-hop length and next hop (the
 * family is the record's); some writers still put the full attribute there, then `afi`/`safi` are set.
 */
export interface RibNextHop {
  readonly nextHop: Uint8Array
  readonly afi?: number
  readonly safi?: number
}

/** What the attributes of a RIB entry decode to. `errors` lists attributes that were malformed (and dropped). */
export interface DecodedAttributes {
  readonly attributes: PathAttributes
  readonly mpReach?: RibNextHop
  readonly errors?: ReadonlyArray<BgpError>
}

/** RFC 6396 §4.3.4: one RIB entry (one path of one peer). */
export interface RibEntry extends DecodedAttributes {
  readonly peerIndex: number
  /** The peer from the last PEER_INDEX_TABLE; undefined when there was none or the index is out of range. */
  readonly peer?: MrtPeer
  readonly originatedTime: number
  /** RFC 8050 §4: present in the *_ADDPATH subtypes. */
  readonly pathId?: number
  /** The attributes exactly as in the record. */
  readonly rawAttributes: Uint8Array
}

/** TABLE_DUMP_V2 RIB_IPV4_UNICAST ... RIB_GENERIC_ADDPATH (RFC 6396 §4.3.2-4.3.3, RFC 8050 §4). */
export interface RibRecord {
  readonly _tag: "Rib"
  readonly header: MrtHeader
  readonly sequence: number
  readonly afi: number
  readonly safi: number
  readonly addPath: boolean
  /** The prefix, for IPv4/IPv6 unicast and multicast; undefined for other RIB_GENERIC families. */
  readonly prefix?: Prefix
  /** The NLRI as on the wire (length octet included). */
  readonly nlri: Uint8Array
  readonly entries: ReadonlyArray<RibEntry>
}

/** TABLE_DUMP (RFC 6396 §4.2): one route, attributes with 2-octet AS numbers. */
export interface TableDumpRecord extends DecodedAttributes {
  readonly _tag: "TableDump"
  readonly header: MrtHeader
  readonly viewNumber: number
  readonly sequence: number
  readonly prefix: Prefix
  readonly status: number
  readonly originatedTime: number
  readonly peerAddress: string
  readonly peerAs: number
  readonly rawAttributes: Uint8Array
}

interface PeeringFields {
  readonly header: MrtHeader
  readonly peerAs: number
  readonly localAs: number
  readonly interfaceIndex: number
  /** Address family of the two addresses (1 or 2). */
  readonly afi: number
  readonly peerAddress: string
  readonly localAddress: string
  /** The AS numbers in this record (and in its message) are four octets. */
  readonly as4: boolean
}

/**
 * BGP4MP / BGP4MP_ET MESSAGE* (RFC 6396 §4.4.2-4.4.6, RFC 8050), and the deprecated BGP (5) UPDATE and
 * KEEPALIVE records, which carry an UPDATE body without the BGP header (`header.type` tells them apart).
 */
export interface Bgp4mpMessage extends PeeringFields {
  readonly _tag: "Bgp4mpMessage"
  /** *_LOCAL subtypes: the message was sent by the local speaker, not received from the peer. */
  readonly local: boolean
  /**
   * NLRI carry path identifiers: the *_ADDPATH subtypes (RFC 8050), or an UPDATE under a plain subtype
   * that only parses with path identifiers after the peer's OPEN offered ADD-PATH (BIRD wrote such dumps
   * before RFC 8050).
   */
  readonly addPath: boolean
  /** The BGP message, header included, as in the record. */
  readonly data: Uint8Array
  /**
   * The decoded message. UPDATEs are reported as on the wire: if the codec's RFC 7606 handling would
   * repair one (treat-as-withdraw, attribute discard), the update keeps its NLRI and `errors` says why.
   */
  readonly message?: Message
  /** Set when `data` is not a BGP message the codec can decode (bad marker, truncated...). */
  readonly error?: BgpError
}

/** BGP4MP STATE_CHANGE / STATE_CHANGE_AS4 (RFC 6396 §4.4.1) and the deprecated BGP (5) STATE_CHANGE. */
export interface Bgp4mpStateChange extends PeeringFields {
  readonly _tag: "Bgp4mpStateChange"
  readonly oldState: number
  readonly newState: number
}

/** A record of a type or subtype this reader does not interpret, or one whose body is malformed. */
export interface RawRecord {
  readonly _tag: "Raw"
  readonly header: MrtHeader
  /** The body after the common header (and after the microsecond field for ET types). */
  readonly body: Uint8Array
  /** Set when the record's type is known but its body does not parse. */
  readonly error?: MrtError
}

export type MrtRecord = PeerIndexTable | RibRecord | TableDumpRecord | Bgp4mpMessage | Bgp4mpStateChange | RawRecord

export type { Update }
