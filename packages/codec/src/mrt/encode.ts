/**
 * Writing MRT records: TABLE_DUMP_V2 PEER_INDEX_TABLE and RIB_IPV4/IPV6_UNICAST/MULTICAST (+ADDPATH),
 * BGP4MP(_ET) MESSAGE_AS4 (+LOCAL, +ADDPATH) and STATE_CHANGE_AS4 (RFC 6396 §4.3-4.4, RFC 8050). We write
 * only the 4-octet-AS forms: every reader since 2007 understands them and nothing is lost.
 * Encoders return `Result`, failing with the codec's `EncodeError` when a value does not fit the wire.
 */
import { Result } from "effect"
import { Afi, AttrFlag, AttrType, Safi } from "../constants.ts"
import { Writer } from "../bytes.ts"
import { checkU16, checkU32 } from "../bytes.ts"
import { EncodeError } from "../errors.ts"
import type { PathAttributes } from "../attributes.ts"
import { encodeAttributes } from "../attributes.ts"
import type { Message } from "../message.ts"
import { encodeMessage } from "../message.ts"
import type { Prefix } from "../prefix.ts"
import { ipv6ToBytes, parseIpv4 } from "../prefix.ts"
import { encodePrefix } from "../nlri.ts"
import { Bgp4mpSubtype, MrtType, PeerTypeBit, TableDumpV2Subtype } from "./constants.ts"
import { mrtContext } from "./decode.ts"
import type { MrtRecord, MrtPeer } from "./records.ts"

export interface MrtTime {
  /** Seconds since the epoch. */
  readonly timestamp: number
  /** Microseconds: when given, a BGP4MP record is written as BGP4MP_ET (RFC 6396 §3). */
  readonly microseconds?: number
}

export interface PeerIndexTableInput {
  readonly timestamp: number
  readonly collectorId: string
  readonly viewName?: string
  readonly peers: ReadonlyArray<Pick<MrtPeer, "bgpId" | "address" | "asn">>
}

export interface RibEntryInput {
  readonly peerIndex: number
  readonly originatedTime: number
  /** Written (and required) when the record is an ADD-PATH one. */
  readonly pathId?: number
  readonly attributes: PathAttributes
  /** The MP_REACH_NLRI next hop (IPv6 routes: 16 or 32 octets), written in RFC 6396 §4.3.4's short form. */
  readonly nextHop?: Uint8Array
}

export interface RibInput {
  readonly timestamp: number
  readonly sequence: number
  readonly prefix: Prefix
  readonly safi?: 1 | 2
  readonly addPath?: boolean
  readonly entries: ReadonlyArray<RibEntryInput>
}

interface PeeringInput extends MrtTime {
  readonly peerAs: number
  readonly localAs: number
  readonly interfaceIndex?: number
  readonly peerAddress: string
  readonly localAddress: string
}

export interface Bgp4mpMessageInput extends PeeringInput {
  /** We sent the message (MESSAGE_AS4_LOCAL). */
  readonly local?: boolean
  /** NLRI carry path identifiers (the *_ADDPATH subtypes of RFC 8050). */
  readonly addPath?: boolean
  /** A message to encode, or one already encoded (header included). */
  readonly message: Message | Uint8Array
}

export interface Bgp4mpStateChangeInput extends PeeringInput {
  readonly oldState: number
  readonly newState: number
}

// ---------------------------------------------------------------------------------------------------

const fail = (detail: string): never => {
  throw new EncodeError({ detail })
}

const addressBytes = (s: string): Uint8Array => {
  const v4 = parseIpv4(s)
  if (v4 !== undefined) return Uint8Array.of(v4 >>> 24, (v4 >>> 16) & 255, (v4 >>> 8) & 255, v4 & 255)
  return ipv6ToBytes(s) ?? fail(`not an IP address: ${s}`)
}

/** Writes the common header (and the microsecond field for ET) before `body`. */
const record = (time: MrtTime, type: number, subtype: number, body: Uint8Array): Uint8Array => {
  checkU32(time.timestamp, "timestamp")
  const et = type === MrtType.BGP4MP_ET
  const out = new Uint8Array(12 + (et ? 4 : 0) + body.length)
  const dv = new DataView(out.buffer)
  dv.setUint32(0, time.timestamp)
  dv.setUint16(4, type)
  dv.setUint16(6, subtype)
  dv.setUint32(8, body.length + (et ? 4 : 0))
  if (et) {
    const us = time.microseconds ?? 0
    if (!Number.isInteger(us) || us < 0 || us > 999999) fail(`microseconds out of range: ${us}`)
    dv.setUint32(12, us)
  }
  out.set(body, et ? 16 : 12)
  return out
}

const attempt = (f: () => Uint8Array): Result.Result<Uint8Array, EncodeError> => {
  try {
    return Result.succeed(f())
  } catch (e) {
    return Result.fail(e instanceof EncodeError ? e : new EncodeError({ detail: String(e) }))
  }
}

const AS4_CTX = mrtContext(true, false)

/** RFC 6396 §4.3.1 */
export const encodePeerIndexTable = (t: PeerIndexTableInput): Result.Result<Uint8Array, EncodeError> =>
  attempt(() => {
    const w = new Writer(64 + t.peers.length * 30)
    w.bytes(addressBytes(t.collectorId))
    const name = new TextEncoder().encode(t.viewName ?? "")
    checkU16(name.length, "view name length")
    w.u16(name.length)
    w.bytes(name)
    checkU16(t.peers.length, "peer count")
    w.u16(t.peers.length)
    for (const p of t.peers) {
      const addr = addressBytes(p.address)
      checkU32(p.asn, "peer AS")
      const as4 = p.asn > 0xffff
      w.u8((addr.length === 16 ? PeerTypeBit.IPV6 : 0) | (as4 ? PeerTypeBit.AS4 : 0))
      w.bytes(addressBytes(p.bgpId))
      w.bytes(addr)
      if (as4) w.u32(p.asn)
      else w.u16(p.asn)
    }
    return record({ timestamp: t.timestamp }, MrtType.TABLE_DUMP_V2, TableDumpV2Subtype.PEER_INDEX_TABLE, w.copy())
  })

const ribSubtype = (afi: number, safi: number, addPath: boolean): number => {
  const S = TableDumpV2Subtype
  if (afi === Afi.IPV4) {
    return safi === Safi.UNICAST ? (addPath ? S.RIB_IPV4_UNICAST_ADDPATH : S.RIB_IPV4_UNICAST) : (addPath ? S.RIB_IPV4_MULTICAST_ADDPATH : S.RIB_IPV4_MULTICAST)
  }
  return safi === Safi.UNICAST ? (addPath ? S.RIB_IPV6_UNICAST_ADDPATH : S.RIB_IPV6_UNICAST) : (addPath ? S.RIB_IPV6_MULTICAST_ADDPATH : S.RIB_IPV6_MULTICAST)
}

/** RFC 6396 §4.3.2 (RFC 8050 §4 for ADD-PATH): one prefix and its paths, attributes with 4-octet AS. */
export const encodeRib = (r: RibInput): Result.Result<Uint8Array, EncodeError> =>
  attempt(() => {
    const addPath = r.addPath === true
    const safi = r.safi ?? Safi.UNICAST
    const w = new Writer(256)
    checkU32(r.sequence, "sequence number")
    w.u32(r.sequence)
    encodePrefix(w, r.prefix, false)
    checkU16(r.entries.length, "entry count")
    w.u16(r.entries.length)
    for (const e of r.entries) {
      checkU16(e.peerIndex, "peer index")
      w.u16(e.peerIndex)
      checkU32(e.originatedTime, "originated time")
      w.u32(e.originatedTime)
      if (addPath) {
        checkU32(e.pathId ?? fail("ADD-PATH RIB entry without a path identifier"), "path identifier")
        w.u32(e.pathId!)
      }
      const lenAt = w.pos
      w.u16(0)
      if (e.nextHop !== undefined) {
        // §4.3.4: MP_REACH_NLRI reduced to next-hop length and next hop.
        if (e.nextHop.length === 0 || e.nextHop.length > 255) fail(`next hop of ${e.nextHop.length} octets`)
        w.u8(AttrFlag.OPTIONAL)
        w.u8(AttrType.MP_REACH_NLRI)
        w.u8(1 + e.nextHop.length)
        w.u8(e.nextHop.length)
        w.bytes(e.nextHop)
      }
      encodeAttributes(w, e.attributes, AS4_CTX)
      const len = w.pos - lenAt - 2
      checkU16(len, "attribute length")
      w.patchU16(lenAt, len)
    }
    return record({ timestamp: r.timestamp }, MrtType.TABLE_DUMP_V2, ribSubtype(r.prefix.afi, safi, addPath), w.copy())
  })

const peering = (w: Writer, p: PeeringInput): void => {
  checkU32(p.peerAs, "peer AS")
  checkU32(p.localAs, "local AS")
  w.u32(p.peerAs)
  w.u32(p.localAs)
  const interfaceIndex = p.interfaceIndex ?? 0
  checkU16(interfaceIndex, "interface index")
  w.u16(interfaceIndex)
  const peer = addressBytes(p.peerAddress)
  const local = addressBytes(p.localAddress)
  if (peer.length !== local.length) fail("peer and local addresses of different families")
  w.u16(peer.length === 16 ? Afi.IPV6 : Afi.IPV4)
  w.bytes(peer)
  w.bytes(local)
}

/** RFC 6396 §4.4.3 BGP4MP_MESSAGE_AS4 (+ §4.4.6 LOCAL, RFC 8050 ADDPATH variants). */
export const encodeBgp4mpMessage = (m: Bgp4mpMessageInput): Result.Result<Uint8Array, EncodeError> =>
  attempt(() => {
    const addPath = m.addPath === true
    const local = m.local === true
    let data: Uint8Array
    if (m.message instanceof Uint8Array) data = m.message
    else {
      const r = encodeMessage(m.message, mrtContext(true, addPath))
      if (Result.isFailure(r)) throw r.failure
      data = r.success
    }
    const w = new Writer(64 + data.length)
    peering(w, m)
    w.bytes(data)
    const S = Bgp4mpSubtype
    const subtype = local ? (addPath ? S.MESSAGE_AS4_LOCAL_ADDPATH : S.MESSAGE_AS4_LOCAL) : (addPath ? S.MESSAGE_AS4_ADDPATH : S.MESSAGE_AS4)
    return record(m, m.microseconds === undefined ? MrtType.BGP4MP : MrtType.BGP4MP_ET, subtype, w.copy())
  })

/** RFC 6396 §4.4.4 BGP4MP_STATE_CHANGE_AS4. */
export const encodeBgp4mpStateChange = (s: Bgp4mpStateChangeInput): Result.Result<Uint8Array, EncodeError> =>
  attempt(() => {
    const w = new Writer(64)
    peering(w, s)
    checkU16(s.oldState, "old state")
    checkU16(s.newState, "new state")
    w.u16(s.oldState)
    w.u16(s.newState)
    return record(s, s.microseconds === undefined ? MrtType.BGP4MP : MrtType.BGP4MP_ET, Bgp4mpSubtype.STATE_CHANGE_AS4, w.copy())
  })

/**
 * Writes a decoded record back in the forms above: PEER_INDEX_TABLE, RIB unicast/multicast records,
 * BGP4MP messages (re-encoded from `message` when decoded, else copied) and state changes. 2-octet-AS
 * forms come out as their AS4 forms. Other records fail.
 */
export const encodeRecord = (r: MrtRecord): Result.Result<Uint8Array, EncodeError> => {
  const time = r.header.type === MrtType.BGP4MP_ET ? { timestamp: r.header.timestamp, microseconds: r.header.microseconds } : { timestamp: r.header.timestamp }
  switch (r._tag) {
    case "PeerIndexTable":
      return encodePeerIndexTable({ timestamp: r.header.timestamp, collectorId: r.collectorId, viewName: r.viewName, peers: r.peers })
    case "Rib": {
      if (r.prefix === undefined || (r.safi !== Safi.UNICAST && r.safi !== Safi.MULTICAST)) break
      return encodeRib({
        timestamp: r.header.timestamp,
        sequence: r.sequence,
        prefix: r.prefix,
        safi: r.safi,
        addPath: r.addPath,
        entries: r.entries.map((e) => ({
          peerIndex: e.peerIndex,
          originatedTime: e.originatedTime,
          ...(e.pathId === undefined ? {} : { pathId: e.pathId }),
          attributes: e.attributes,
          ...(e.mpReach === undefined ? {} : { nextHop: e.mpReach.nextHop })
        }))
      })
    }
    case "Bgp4mpMessage":
      if (r.header.type === MrtType.BGP) break
      return encodeBgp4mpMessage({
        ...time,
        peerAs: r.peerAs,
        localAs: r.localAs,
        interfaceIndex: r.interfaceIndex,
        peerAddress: r.peerAddress,
        localAddress: r.localAddress,
        local: r.local,
        addPath: r.addPath,
        message: r.message ?? r.data
      })
    case "Bgp4mpStateChange":
      if (r.header.type === MrtType.BGP) break
      return encodeBgp4mpStateChange({
        ...time,
        peerAs: r.peerAs,
        localAs: r.localAs,
        interfaceIndex: r.interfaceIndex,
        peerAddress: r.peerAddress,
        localAddress: r.localAddress,
        oldState: r.oldState,
        newState: r.newState
      })
  }
  return Result.fail(new EncodeError({ detail: `cannot write ${r._tag} record (type ${r.header.type}, subtype ${r.header.subtype})` }))
}
