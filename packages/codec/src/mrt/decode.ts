/**
 * Decoding one MRT record body (RFC 6396, RFC 8050) into a `MrtRecord`. Pure and synchronous: the
 * framer hands in the common header and the body; BGP messages and path attributes go through the codec
 * (`decodeMessage`, `decodeAttribute` / `finishAttributes`, `decodePrefixes`). Decoding never throws: a
 * body that does not parse becomes a `Raw` record with an error, and the stream goes on.
 */
import { Result } from "effect"
import { Afi, AttrFlag, AttrType, familyKey, MessageType, Safi } from "../constants.ts"
import type { CodecContext } from "../context.ts"
import { makeContext } from "../context.ts"
import { bgpError } from "../errors.ts"
import type { BgpError } from "../errors.ts"
import type { AttributeSink } from "../attributes.ts"
import { decodeAttribute, finishAttributes } from "../attributes.ts"
import type { Prefix } from "../prefix.ts"
import { formatIpv4, formatIpv6 } from "../prefix.ts"
import { decodePrefixes } from "../nlri.ts"
import type { MpReach, MpUnreach, Update } from "../update.ts"
import { decodeMessage } from "../message.ts"
import type { Message } from "../message.ts"
import { Bgp4mpSubtype, BgpSubtype, MrtType, PeerTypeBit, TableDumpSubtype, TableDumpV2Subtype } from "./constants.ts"
import { MrtError } from "./errors.ts"
import type {
  Bgp4mpMessage,
  Bgp4mpStateChange,
  DecodedAttributes,
  MrtHeader,
  MrtPeer,
  MrtRecord,
  PeerIndexTable,
  RawRecord,
  RibEntry,
  RibNextHop,
  RibRecord,
  TableDumpRecord
} from "./records.ts"

/** What decoding carries from one record to the next: the peer table that RIB entries index into. */
export interface DecodeState {
  peerIndexTable?: PeerIndexTable
  /**
   * Per session (peer and local address), the families whose NLRI the peer's last OPEN offered to send
   * with path identifiers (RFC 7911 §4). Used to read dumps that wrote ADD-PATH NLRI under the plain
   * MESSAGE subtypes (BIRD did, before RFC 8050 gave them their own).
   */
  addPathOffers?: Map<string, ReadonlySet<number>>
}

// ---------------------------------------------------------------------------------------------------
// Contexts. MRT messages may be up to 65535 octets (RFC 8654 sessions get dumped too), so the extended
// limit always applies. ADD-PATH subtypes carry path identifiers in every NLRI (RFC 8050 §3).

const ADDPATH_FAMILIES: ReadonlySet<number> = new Set([
  familyKey(Afi.IPV4, Safi.UNICAST),
  familyKey(Afi.IPV4, Safi.MULTICAST),
  familyKey(Afi.IPV4, 3),
  familyKey(Afi.IPV6, Safi.UNICAST),
  familyKey(Afi.IPV6, Safi.MULTICAST),
  familyKey(Afi.IPV6, 3)
])

const CTX_AS2 = makeContext({ as4: false, extendedMessage: true })
const CTX_AS4 = makeContext({ as4: true, extendedMessage: true })
const CTX_AS2_ADDPATH = makeContext({ as4: false, extendedMessage: true, addPath: ADDPATH_FAMILIES })
const CTX_AS4_ADDPATH = makeContext({ as4: true, extendedMessage: true, addPath: ADDPATH_FAMILIES })

export const mrtContext = (as4: boolean, addPath: boolean): CodecContext =>
  as4 ? (addPath ? CTX_AS4_ADDPATH : CTX_AS4) : (addPath ? CTX_AS2_ADDPATH : CTX_AS2)

const offerContexts = new Map<string, CodecContext>()
const offerContext = (as4: boolean, families: ReadonlySet<number>): CodecContext => {
  const key = `${as4}:${[...families].sort().join(",")}`
  let ctx = offerContexts.get(key)
  if (ctx === undefined) {
    ctx = makeContext({ as4, extendedMessage: true, addPath: families })
    offerContexts.set(key, ctx)
  }
  return ctx
}

// ---------------------------------------------------------------------------------------------------
// A bounds-checked cursor over the body. Running past the end throws `Short`, caught per record.

class Short {
  readonly detail: string
  constructor(detail: string) {
    this.detail = detail
  }
}

class Cursor {
  readonly b: Uint8Array
  i: number
  readonly end: number
  constructor(b: Uint8Array, i = 0, end = b.length) {
    this.b = b
    this.i = i
    this.end = end
  }
  need(n: number, what: string): void {
    if (this.i + n > this.end) throw new Short(`${what}: needs ${n} octets at ${this.i}, record has ${this.end}`)
  }
  u8(what: string): number {
    this.need(1, what)
    return this.b[this.i++]!
  }
  u16(what: string): number {
    this.need(2, what)
    const v = (this.b[this.i]! << 8) | this.b[this.i + 1]!
    this.i += 2
    return v
  }
  u32(what: string): number {
    this.need(4, what)
    const b = this.b
    const i = this.i
    this.i += 4
    return ((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0
  }
  asn(as4: boolean, what: string): number {
    return as4 ? this.u32(what) : this.u16(what)
  }
  /** A view (no copy) of the next `n` octets. */
  view(n: number, what: string): Uint8Array {
    this.need(n, what)
    const v = this.b.subarray(this.i, this.i + n)
    this.i += n
    return v
  }
  ipv4(what: string): string {
    return formatIpv4(this.u32(what))
  }
  ipv6(what: string): string {
    this.need(16, what)
    const s = formatIpv6(this.b, this.i)
    this.i += 16
    return s
  }
  address(afi: number, what: string): string {
    return afi === Afi.IPV6 ? this.ipv6(what) : this.ipv4(what)
  }
}

const malformed = (header: MrtHeader, body: Uint8Array, detail: string, recordIndex: number): RawRecord => ({
  _tag: "Raw",
  header,
  body,
  error: new MrtError({ reason: "MalformedRecord", detail, offset: header.offset, recordIndex })
})

// ---------------------------------------------------------------------------------------------------
// Path attributes of RIB entries (TABLE_DUMP, TABLE_DUMP_V2)

/**
 * Decodes an attribute block as stored in a RIB entry. Each attribute goes through the codec's
 * `decodeAttribute`; MP_REACH_NLRI is the abbreviated form of RFC 6396 §4.3.4 (next-hop length and next
 * hop only) unless its first octet is zero, which only the full form (an AFI's high octet) can have.
 * Malformed attributes are dropped and listed in `errors`; the rest of the entry stays usable.
 */
export const decodeRibAttributes = (b: Uint8Array, start: number, end: number, ctx: CodecContext): DecodedAttributes => {
  const sink: AttributeSink = {}
  let errors: BgpError[] | undefined
  let mpReach: RibNextHop | undefined
  let i = start
  while (i < end) {
    if (end - i < 3) {
      ;(errors ??= []).push(bgpError("MalformedAttributeList", "attribute header overruns the attribute block"))
      break
    }
    const flags = b[i]!
    const type = b[i + 1]!
    const ext = (flags & AttrFlag.EXTENDED_LENGTH) !== 0
    if (ext && end - i < 4) {
      ;(errors ??= []).push(bgpError("MalformedAttributeList", "attribute header overruns the attribute block"))
      break
    }
    const len = ext ? (b[i + 2]! << 8) | b[i + 3]! : b[i + 2]!
    const vs = i + (ext ? 4 : 3)
    const ve = vs + len
    if (ve > end) {
      ;(errors ??= []).push(
        bgpError("AttributeLengthError", `attribute ${type} length ${len} overruns the attribute block`, { attributeType: type })
      )
      break
    }
    const attr = b.subarray(i, ve)
    i = ve
    if (type === AttrType.MP_REACH_NLRI) {
      if (len === 0) continue
      if (b[vs] !== 0) {
        const nhLen = b[vs]!
        mpReach = { nextHop: b.slice(vs + 1, Math.min(ve, vs + 1 + nhLen)) }
      } else if (len >= 4) {
        const nhLen = b[vs + 3]!
        mpReach = { afi: (b[vs]! << 8) | b[vs + 1]!, safi: b[vs + 2]!, nextHop: b.slice(vs + 4, Math.min(ve, vs + 4 + nhLen)) }
      }
      continue
    }
    // RFC 6396 §4.3.4 has no place for withdrawals in a RIB; a writer that put one there is ignored.
    if (type === AttrType.MP_UNREACH_NLRI) continue
    const err = decodeAttribute(type, flags, b, vs, ve, attr, sink, ctx)
    if (err !== undefined) {
      ;(errors ??= []).push(err)
      // A dump reports what was there: keep an unrecognized well-known attribute as unknown.
      if (err.reason === "UnrecognizedWellKnownAttribute") {
        ;(sink.unknownList ??= []).push({ flags: flags & ~AttrFlag.EXTENDED_LENGTH, type, value: b.slice(vs, ve) })
      }
    }
  }
  const attributes = finishAttributes(sink, ctx)
  return {
    attributes,
    ...(mpReach === undefined ? {} : { mpReach }),
    ...(errors === undefined ? {} : { errors })
  }
}

// ---------------------------------------------------------------------------------------------------
// UPDATE as on the wire

const decodedIpFamily = (afi: number, safi: number): afi is 1 | 2 =>
  (afi === Afi.IPV4 || afi === Afi.IPV6) && (safi === Safi.UNICAST || safi === Safi.MULTICAST || safi === 3)

/**
 * Decodes an UPDATE body reporting what is on the wire: no RFC 7606 repair (an announcement whose
 * attributes are malformed stays an announcement) and everything decodable before a damaged field is
 * kept. Problems are listed in `errors`. Used when the codec's strict `decodeMessage` fails or repairs.
 */
export const decodeUpdateAsIs = (body: Uint8Array, ctx: CodecContext, prior: ReadonlyArray<BgpError> = []): Update => {
  const errors: BgpError[] = [...prior]
  const withdrawn: Prefix[] = []
  const nlri: Prefix[] = []
  const sink: AttributeSink = {}
  let mpReach: MpReach | undefined
  let mpUnreach: MpUnreach | undefined
  const end = body.length
  const addPath = (afi: number, safi: number): boolean => ctx.addPath.has(familyKey(afi, safi))
  const prefixes = (s: number, e: number, afi: 1 | 2, safi: number, out: Prefix[], what: string): void => {
    if (decodePrefixes(body, s, e, afi, addPath(afi, safi), out) === undefined) {
      const detail = `malformed prefix in ${what}`
      // The codec's own verdict may already say so.
      if (!errors.some((x) => x.reason === "InvalidNetworkField" && x.detail === detail)) {
        errors.push(bgpError("InvalidNetworkField", detail))
      }
    }
  }
  const done = (): Update => ({
    _tag: "Update",
    withdrawn,
    attributes: finishAttributes(sink, ctx),
    ...(mpReach === undefined ? {} : { mpReach }),
    ...(mpUnreach === undefined ? {} : { mpUnreach }),
    nlri,
    ...(errors.length > 0 ? { errors } : {})
  })
  if (end < 2) {
    errors.push(bgpError("MalformedAttributeList", "UPDATE shorter than its fixed fields"))
    return done()
  }
  const wEnd = 2 + ((body[0]! << 8) | body[1]!)
  prefixes(2, Math.min(wEnd, end), Afi.IPV4, Safi.UNICAST, withdrawn, "Withdrawn Routes")
  if (wEnd + 2 > end) {
    errors.push(bgpError("MalformedAttributeList", "Withdrawn Routes Length overruns the message"))
    return done()
  }
  const aStart = wEnd + 2
  let aEnd = aStart + ((body[wEnd]! << 8) | body[wEnd + 1]!)
  if (aEnd > end) {
    errors.push(bgpError("MalformedAttributeList", "Total Path Attribute Length overruns the message"))
    aEnd = end
  }
  let i = aStart
  while (i < aEnd) {
    if (aEnd - i < 3 || ((body[i]! & AttrFlag.EXTENDED_LENGTH) !== 0 && aEnd - i < 4)) {
      errors.push(bgpError("MalformedAttributeList", "attribute header overruns the attribute list"))
      break
    }
    const flags = body[i]!
    const type = body[i + 1]!
    const ext = (flags & AttrFlag.EXTENDED_LENGTH) !== 0
    const len = ext ? (body[i + 2]! << 8) | body[i + 3]! : body[i + 2]!
    const vs = i + (ext ? 4 : 3)
    const ve = vs + len
    if (ve > aEnd) {
      errors.push(bgpError("AttributeLengthError", `attribute ${type} length ${len} overruns the attribute list`, { attributeType: type }))
      break
    }
    const attr = body.subarray(i, ve)
    i = ve
    if (type === AttrType.MP_REACH_NLRI) {
      if (len < 5 || vs + 4 + body[vs + 3]! + 1 > ve) {
        errors.push(bgpError("AttributeLengthError", "MP_REACH_NLRI too short", { attributeType: type }))
        continue
      }
      const afi = (body[vs]! << 8) | body[vs + 1]!
      const safi = body[vs + 2]!
      const nhEnd = vs + 4 + body[vs + 3]!
      const nextHop = body.slice(vs + 4, nhEnd)
      if (decodedIpFamily(afi, safi)) {
        const out: Prefix[] = []
        prefixes(nhEnd + 1, ve, afi, safi, out, "MP_REACH_NLRI")
        mpReach = { afi, safi, nextHop, nlri: out }
      } else mpReach = { afi, safi, nextHop, nlri: [], rawNlri: body.slice(nhEnd + 1, ve) }
      continue
    }
    if (type === AttrType.MP_UNREACH_NLRI) {
      if (len < 3) {
        errors.push(bgpError("AttributeLengthError", "MP_UNREACH_NLRI too short", { attributeType: type }))
        continue
      }
      const afi = (body[vs]! << 8) | body[vs + 1]!
      const safi = body[vs + 2]!
      if (decodedIpFamily(afi, safi)) {
        const out: Prefix[] = []
        prefixes(vs + 3, ve, afi, safi, out, "MP_UNREACH_NLRI")
        mpUnreach = { afi, safi, withdrawn: out }
      } else mpUnreach = { afi, safi, withdrawn: [], rawWithdrawn: body.slice(vs + 3, ve) }
      continue
    }
    const err = decodeAttribute(type, flags, body, vs, ve, attr, sink, ctx)
    if (err !== undefined) {
      errors.push(err)
      if (err.reason === "UnrecognizedWellKnownAttribute") {
        ;(sink.unknownList ??= []).push({ flags: flags & ~AttrFlag.EXTENDED_LENGTH, type, value: body.slice(vs, ve) })
      }
    }
  }
  prefixes(aEnd, end, Afi.IPV4, Safi.UNICAST, nlri, "NLRI")
  return done()
}

/**
 * Decodes the BGP message of an MRT record. The codec decides first; when it rejects an UPDATE or would
 * repair it under RFC 7606, the UPDATE is decoded as on the wire instead, with the codec's verdict in
 * `errors`. Other messages the codec rejects come back as `error`.
 */
export const decodeMrtMessage = (data: Uint8Array, ctx: CodecContext): { message?: Message; error?: BgpError } => {
  const r = decodeMessage(data, ctx)
  if (Result.isSuccess(r)) {
    const m = r.success
    if (m._tag !== "Update" || m.errors === undefined) return { message: m }
    return { message: decodeUpdateAsIs(data.subarray(19), ctx, m.errors) }
  }
  // Only a well-framed UPDATE (marker, type) is worth reading on: anything else is not a BGP message.
  const e = r.failure
  if (data.length >= 23 && data[18] === MessageType.UPDATE && e.reason !== "ConnectionNotSynchronized") {
    let markerOk = true
    for (let k = 0; k < 16; k++) if (data[k] !== 0xff) markerOk = false
    const length = (data[16]! << 8) | data[17]!
    if (markerOk && length >= 23) {
      return { message: decodeUpdateAsIs(data.subarray(19, Math.min(length, data.length)), ctx, [e]) }
    }
  }
  return { error: e }
}

// ---------------------------------------------------------------------------------------------------
// TABLE_DUMP_V2

const decodePeerIndexTable = (header: MrtHeader, c: Cursor): PeerIndexTable => {
  const collectorId = c.ipv4("collector BGP ID")
  const nameLen = c.u16("view name length")
  const viewName = new TextDecoder().decode(c.view(nameLen, "view name"))
  const count = c.u16("peer count")
  const peers: MrtPeer[] = new Array(count)
  for (let k = 0; k < count; k++) {
    const type = c.u8("peer type")
    const afi = (type & PeerTypeBit.IPV6) !== 0 ? Afi.IPV6 : Afi.IPV4
    const as4 = (type & PeerTypeBit.AS4) !== 0
    const bgpId = c.ipv4("peer BGP ID")
    const address = c.address(afi, "peer address")
    peers[k] = { bgpId, address, afi, asn: c.asn(as4, "peer AS"), as4 }
  }
  return { _tag: "PeerIndexTable", header, collectorId, viewName, peers }
}

/** Octets taken by one NLRI of a RIB_GENERIC record (RFC 6396 §4.3.3: "a single NLRI entry"). */
const nlriLength = (c: Cursor, afi: number, safi: number): number => {
  const b = c.b
  const i = c.i
  c.need(1, "NLRI")
  if (safi === 70) {
    // RFC 7432 §7: route type, length, value.
    c.need(2, "EVPN NLRI")
    return 2 + b[i + 1]!
  }
  if (safi === 133 || safi === 134) {
    // RFC 8955 §4: one octet of length, or two when the first is 0xfX.
    const first = b[i]!
    if (first >= 0xf0) {
      c.need(2, "FlowSpec NLRI")
      return 2 + (((first & 0x0f) << 8) | b[i + 1]!)
    }
    return 1 + first
  }
  if (afi === 16388) {
    // RFC 7752 §3.2: type and length of two octets each.
    c.need(4, "BGP-LS NLRI")
    return 4 + ((b[i + 2]! << 8) | b[i + 3]!)
  }
  // Everything else (IP, labeled, VPN) leads with its length in bits.
  return 1 + ((b[i]! + 7) >> 3)
}

const ribFamily = (subtype: number): { afi: number; safi: number; addPath: boolean } | undefined => {
  const S = TableDumpV2Subtype
  switch (subtype) {
    case S.RIB_IPV4_UNICAST:
      return { afi: Afi.IPV4, safi: Safi.UNICAST, addPath: false }
    case S.RIB_IPV4_MULTICAST:
      return { afi: Afi.IPV4, safi: Safi.MULTICAST, addPath: false }
    case S.RIB_IPV6_UNICAST:
      return { afi: Afi.IPV6, safi: Safi.UNICAST, addPath: false }
    case S.RIB_IPV6_MULTICAST:
      return { afi: Afi.IPV6, safi: Safi.MULTICAST, addPath: false }
    case S.RIB_IPV4_UNICAST_ADDPATH:
      return { afi: Afi.IPV4, safi: Safi.UNICAST, addPath: true }
    case S.RIB_IPV4_MULTICAST_ADDPATH:
      return { afi: Afi.IPV4, safi: Safi.MULTICAST, addPath: true }
    case S.RIB_IPV6_UNICAST_ADDPATH:
      return { afi: Afi.IPV6, safi: Safi.UNICAST, addPath: true }
    case S.RIB_IPV6_MULTICAST_ADDPATH:
      return { afi: Afi.IPV6, safi: Safi.MULTICAST, addPath: true }
    default:
      return undefined
  }
}

const decodeRib = (header: MrtHeader, c: Cursor, state: DecodeState): RibRecord => {
  const sequence = c.u32("sequence number")
  const generic = header.subtype === TableDumpV2Subtype.RIB_GENERIC || header.subtype === TableDumpV2Subtype.RIB_GENERIC_ADDPATH
  let afi: number
  let safi: number
  let addPath: boolean
  if (generic) {
    afi = c.u16("AFI")
    safi = c.u8("SAFI")
    addPath = header.subtype === TableDumpV2Subtype.RIB_GENERIC_ADDPATH
  } else {
    const f = ribFamily(header.subtype)!
    afi = f.afi
    safi = f.safi
    addPath = f.addPath
  }
  const nlriStart = c.i
  const nlri = c.view(nlriLength(c, afi, safi), "NLRI")
  let prefix: Prefix | undefined
  if (decodedIpFamily(afi, safi)) {
    const out: Prefix[] = []
    // The path identifier of an ADD-PATH RIB lives in each entry (RFC 8050 §4), not in the NLRI.
    if (decodePrefixes(c.b, nlriStart, c.i, afi, false, out) === undefined || out.length !== 1) {
      throw new Short(`malformed prefix (length ${c.b[nlriStart]})`)
    }
    prefix = out[0]!
  }
  const count = c.u16("entry count")
  const peers = state.peerIndexTable?.peers
  const entries: RibEntry[] = new Array(count)
  for (let k = 0; k < count; k++) {
    const peerIndex = c.u16("peer index")
    const originatedTime = c.u32("originated time")
    const pathId = addPath ? c.u32("path identifier") : undefined
    const attrLen = c.u16("attribute length")
    const at = c.i
    const rawAttributes = c.view(attrLen, "attributes")
    // RFC 6396 §4.3.4: RIB entries always carry 4-octet AS numbers.
    const decoded = decodeRibAttributes(c.b, at, at + attrLen, CTX_AS4)
    const peer = peers?.[peerIndex]
    entries[k] = {
      peerIndex,
      ...(peer === undefined ? {} : { peer }),
      originatedTime,
      ...(pathId === undefined ? {} : { pathId }),
      rawAttributes,
      ...decoded
    }
  }
  return {
    _tag: "Rib",
    header,
    sequence,
    afi,
    safi,
    addPath,
    ...(prefix === undefined ? {} : { prefix }),
    nlri,
    entries
  }
}

// ---------------------------------------------------------------------------------------------------
// TABLE_DUMP (RFC 6396 §4.2)

const decodeTableDump = (header: MrtHeader, c: Cursor): TableDumpRecord => {
  const afi = header.subtype === TableDumpSubtype.AFI_IPV6 ? Afi.IPV6 : Afi.IPV4
  const viewNumber = c.u16("view number")
  const sequence = c.u16("sequence number")
  const prefixAt = c.i
  c.need(afi === Afi.IPV6 ? 16 : 4, "prefix")
  c.i += afi === Afi.IPV6 ? 16 : 4
  const length = c.u8("prefix length")
  if (length > (afi === Afi.IPV6 ? 128 : 32)) throw new Short(`prefix length ${length}`)
  // Reuse the NLRI decoder for masking: build "length + address octets" in a scratch buffer.
  const n = (length + 7) >> 3
  const scratch = new Uint8Array(1 + n)
  scratch[0] = length
  scratch.set(c.b.subarray(prefixAt, prefixAt + n), 1)
  const prefix = decodePrefixes(scratch, 0, scratch.length, afi, false)![0]!
  const status = c.u8("status")
  const originatedTime = c.u32("originated time")
  const peerAddress = c.address(afi, "peer address")
  const peerAs = c.u16("peer AS")
  const attrLen = c.u16("attribute length")
  const at = c.i
  const rawAttributes = c.view(attrLen, "attributes")
  // §4.2: TABLE_DUMP predates 4-octet AS numbers.
  const decoded = decodeRibAttributes(c.b, at, at + attrLen, CTX_AS2)
  return {
    _tag: "TableDump",
    header,
    viewNumber,
    sequence,
    prefix,
    status,
    originatedTime,
    peerAddress,
    peerAs,
    rawAttributes,
    ...decoded
  }
}

// ---------------------------------------------------------------------------------------------------
// BGP4MP (RFC 6396 §4.4, RFC 8050 §3)

const messageFlags = (subtype: number): { as4: boolean; local: boolean; addPath: boolean } | undefined => {
  const S = Bgp4mpSubtype
  switch (subtype) {
    case S.MESSAGE:
      return { as4: false, local: false, addPath: false }
    case S.MESSAGE_AS4:
      return { as4: true, local: false, addPath: false }
    case S.MESSAGE_LOCAL:
      return { as4: false, local: true, addPath: false }
    case S.MESSAGE_AS4_LOCAL:
      return { as4: true, local: true, addPath: false }
    case S.MESSAGE_ADDPATH:
      return { as4: false, local: false, addPath: true }
    case S.MESSAGE_AS4_ADDPATH:
      return { as4: true, local: false, addPath: true }
    case S.MESSAGE_LOCAL_ADDPATH:
      return { as4: false, local: true, addPath: true }
    case S.MESSAGE_AS4_LOCAL_ADDPATH:
      return { as4: true, local: true, addPath: true }
    default:
      return undefined
  }
}

const decodeStateChange = (header: MrtHeader, c: Cursor, as4: boolean): Bgp4mpStateChange => {
  const peerAs = c.asn(as4, "peer AS")
  const localAs = c.asn(as4, "local AS")
  // Old Zebra wrote 2-octet-AS state changes without interface, AFI and addresses (8 octets in all);
  // bgpdump reads them as such, and so do we.
  if (!as4 && c.end === 8) {
    return {
      _tag: "Bgp4mpStateChange",
      header,
      peerAs,
      localAs,
      interfaceIndex: 0,
      afi: Afi.IPV4,
      peerAddress: "0.0.0.0",
      localAddress: "0.0.0.0",
      as4,
      oldState: c.u16("old state"),
      newState: c.u16("new state")
    }
  }
  const interfaceIndex = c.u16("interface index")
  const afi = c.u16("address family")
  if (afi !== Afi.IPV4 && afi !== Afi.IPV6) throw new Short(`address family ${afi}`)
  const peerAddress = c.address(afi, "peer address")
  const localAddress = c.address(afi, "local address")
  return {
    _tag: "Bgp4mpStateChange",
    header,
    peerAs,
    localAs,
    interfaceIndex,
    afi,
    peerAddress,
    localAddress,
    as4,
    oldState: c.u16("old state"),
    newState: c.u16("new state")
  }
}

const decodeBgp4mpMessage = (
  header: MrtHeader,
  c: Cursor,
  flags: { as4: boolean; local: boolean; addPath: boolean },
  state: DecodeState
): Bgp4mpMessage => {
  const { as4, local } = flags
  let addPath = flags.addPath
  // RFC 6396 §4.4.6: the _LOCAL subtypes keep the field order (peer first); only the sender differs.
  const peerAs = c.asn(as4, "peer AS")
  const localAs = c.asn(as4, "local AS")
  let interfaceIndex = c.u16("interface index")
  let afi = c.u16("address family")
  let peerAddress: string
  let localAddress: string
  if (interfaceIndex === 0xffff && afi === 0xffff) {
    // Old Zebra dumped some OPENs without interface, AFI and addresses: these four 0xff octets are the
    // start of the BGP marker. Read them as bgpdump does.
    c.i -= 4
    interfaceIndex = 0
    afi = Afi.IPV4
    peerAddress = "0.0.0.0"
    localAddress = "0.0.0.0"
  } else {
    if (afi !== Afi.IPV4 && afi !== Afi.IPV6) throw new Short(`address family ${afi}`)
    peerAddress = c.address(afi, "peer address")
    localAddress = c.address(afi, "local address")
  }
  const data = c.b.subarray(c.i, c.end)
  c.i = c.end
  let decoded = decodeMrtMessage(data, mrtContext(as4, addPath))
  const m = decoded.message
  if (!local && !addPath) {
    const session = `${peerAddress}|${localAddress}`
    if (m?._tag === "Open") {
      const offered = new Set<number>()
      for (const cap of m.capabilities) {
        if (cap._tag !== "AddPath") continue
        for (const f of cap.families) if ((f.mode & 2) !== 0) offered.add(familyKey(f.afi, f.safi))
      }
      const offers = (state.addPathOffers ??= new Map())
      if (offered.size > 0) offers.set(session, offered)
      else offers.delete(session)
    } else if (m?._tag === "Update" && m.errors !== undefined) {
      // The UPDATE does not parse as plain NLRI, and the peer offered ADD-PATH: if it parses cleanly
      // with path identifiers, that is what the speaker sent.
      const offered = state.addPathOffers?.get(session)
      if (offered !== undefined) {
        const r = decodeMessage(data, offerContext(as4, offered))
        if (Result.isSuccess(r) && r.success._tag === "Update" && r.success.errors === undefined) {
          decoded = { message: r.success }
          addPath = true
        }
      }
    }
  }
  return {
    _tag: "Bgp4mpMessage",
    header,
    peerAs,
    localAs,
    interfaceIndex,
    afi,
    peerAddress,
    localAddress,
    as4,
    local,
    addPath,
    data,
    ...decoded
  }
}

// ---------------------------------------------------------------------------------------------------
// BGP (5), deprecated (RFC 6396 Appendix B.2.1): read because 1999-2001 RIS archives are made of it.

const legacyMessage = (type: number, body: Uint8Array): Uint8Array => {
  const data = new Uint8Array(19 + body.length)
  data.fill(0xff, 0, 16)
  data[16] = data.length >> 8
  data[17] = data.length & 0xff
  data[18] = type
  data.set(body, 19)
  return data
}

const decodeLegacyBgp = (header: MrtHeader, c: Cursor, body: Uint8Array, recordIndex: number): MrtRecord => {
  if (header.subtype === BgpSubtype.STATE_CHANGE) {
    const peerAs = c.u16("peer AS")
    const peerAddress = c.ipv4("peer address")
    return {
      _tag: "Bgp4mpStateChange",
      header,
      peerAs,
      localAs: 0,
      interfaceIndex: 0,
      afi: Afi.IPV4,
      peerAddress,
      localAddress: "0.0.0.0",
      as4: false,
      oldState: c.u16("old state"),
      newState: c.u16("new state")
    }
  }
  if (header.subtype !== BgpSubtype.UPDATE && header.subtype !== BgpSubtype.KEEPALIVE) return { _tag: "Raw", header, body }
  const peerAs = c.u16("peer AS")
  const peerAddress = c.ipv4("peer address")
  const localAs = c.u16("local AS")
  const localAddress = c.ipv4("local address")
  const rest = c.b.subarray(c.i, c.end)
  if (header.subtype === BgpSubtype.UPDATE && 19 + rest.length > 0xffff) {
    return malformed(header, body, "UPDATE body longer than a BGP message can be", recordIndex)
  }
  const data = header.subtype === BgpSubtype.UPDATE ? legacyMessage(MessageType.UPDATE, rest) : legacyMessage(MessageType.KEEPALIVE, new Uint8Array(0))
  return {
    _tag: "Bgp4mpMessage",
    header,
    peerAs,
    localAs,
    interfaceIndex: 0,
    afi: Afi.IPV4,
    peerAddress,
    localAddress,
    as4: false,
    local: false,
    addPath: false,
    data,
    ...decodeMrtMessage(data, CTX_AS2)
  }
}

// ---------------------------------------------------------------------------------------------------

/**
 * Decodes one record. `body` is what follows the common header (and the microsecond field of ET types).
 * Unknown types and subtypes become `Raw` records; so does a body that does not parse, with `error` set.
 */
export const decodeRecord = (header: MrtHeader, body: Uint8Array, state: DecodeState, recordIndex = 0): MrtRecord => {
  const c = new Cursor(body)
  try {
    switch (header.type) {
      case MrtType.TABLE_DUMP_V2: {
        if (header.subtype === TableDumpV2Subtype.PEER_INDEX_TABLE) {
          const t = decodePeerIndexTable(header, c)
          state.peerIndexTable = t
          return t
        }
        if (header.subtype === TableDumpV2Subtype.GEO_PEER_TABLE || header.subtype > TableDumpV2Subtype.RIB_GENERIC_ADDPATH || header.subtype === 0) break
        return decodeRib(header, c, state)
      }
      case MrtType.TABLE_DUMP:
        if (header.subtype !== TableDumpSubtype.AFI_IPV4 && header.subtype !== TableDumpSubtype.AFI_IPV6) break
        return decodeTableDump(header, c)
      case MrtType.BGP4MP:
      case MrtType.BGP4MP_ET: {
        if (header.subtype === Bgp4mpSubtype.STATE_CHANGE) return decodeStateChange(header, c, false)
        if (header.subtype === Bgp4mpSubtype.STATE_CHANGE_AS4) return decodeStateChange(header, c, true)
        const flags = messageFlags(header.subtype)
        if (flags === undefined) break
        return decodeBgp4mpMessage(header, c, flags, state)
      }
      case MrtType.BGP:
        return decodeLegacyBgp(header, c, body, recordIndex)
    }
    return { _tag: "Raw", header, body }
  } catch (e) {
    if (e instanceof Short) return malformed(header, body, e.detail, recordIndex)
    // Decoders only index typed arrays and build plain data; anything else is a bug, reported not thrown.
    return malformed(header, body, `internal decoder fault: ${String(e)}`, recordIndex)
  }
}

