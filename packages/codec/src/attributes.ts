/**
 * Path attributes (RFC 4271 §4.3, §5) other than MP_REACH_NLRI / MP_UNREACH_NLRI, which belong to the
 * UPDATE because they carry NLRI. One descriptor per type code holds the flags the RFC fixes, the
 * decoder (which validates) and the encoder, in the manner of BIRD's `bgp_attr_table`.
 *
 * `PathAttributes.asPath` is always the true AS path: from a 2-octet speaker it is the RFC 6793 §4.2.3
 * merge of AS_PATH and AS4_PATH, and toward one it is split again into AS_TRANS plus AS4_PATH.
 */
import { AS_TRANS, AttrFlag, AttrType, SegmentType } from "./constants.ts"
import type { Origin } from "./constants.ts"
import type { CodecContext } from "./context.ts"
import { bgpError, attributeErrorAction, EncodeError } from "./errors.ts"
import type { BgpError, Reason } from "./errors.ts"
import type { Writer } from "./bytes.ts"
import { checkU32 } from "./bytes.ts"

export interface AsPathSegment {
  readonly type: SegmentType
  readonly asns: ReadonlyArray<number>
}
export type AsPath = ReadonlyArray<AsPathSegment>

export interface Aggregator {
  readonly asn: number
  /** IPv4 address as an unsigned 32-bit number. */
  readonly address: number
}

/** RFC 4360: eight octets, held as two unsigned 32-bit halves (the type octets lead `hi`). */
export interface ExtendedCommunity {
  readonly hi: number
  readonly lo: number
}

/** RFC 8092: three unsigned 32-bit numbers. */
export interface LargeCommunity {
  readonly global: number
  readonly local1: number
  readonly local2: number
}

/** An attribute this codec does not interpret, kept byte for byte (flags without the extended-length bit). */
export interface UnknownAttribute {
  readonly flags: number
  readonly type: number
  readonly value: Uint8Array
}

export interface PathAttributes {
  readonly origin?: Origin
  readonly asPath?: AsPath
  /** IPv4 NEXT_HOP (the classic attribute) as an unsigned 32-bit number. */
  readonly nextHop?: number
  readonly med?: number
  readonly localPref?: number
  readonly atomicAggregate?: true
  readonly aggregator?: Aggregator
  /** RFC 1997 communities, each an unsigned 32-bit number (AS << 16 | value). */
  readonly communities?: ReadonlyArray<number>
  readonly originatorId?: number
  readonly clusterList?: ReadonlyArray<number>
  readonly extendedCommunities?: ReadonlyArray<ExtendedCommunity>
  readonly largeCommunities?: ReadonlyArray<LargeCommunity>
  /** RFC 9234 Only to Customer. */
  readonly otc?: number
  /** Unrecognized optional attributes, in type order. */
  readonly unknown?: ReadonlyArray<UnknownAttribute>
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

/** Where one decode writes; the AS4 attributes wait here for the RFC 6793 merge. */
export interface AttributeSink extends Mutable<PathAttributes> {
  as4Path?: AsPath
  as4Aggregator?: Aggregator
  unknownList?: UnknownAttribute[]
}

/**
 * Decoding state of one attribute value: where the whole attribute starts (for NOTIFICATION data, cut
 * out only when there is an error: a `subarray` per attribute is measurable) and its value.
 */
interface Value {
  buf: Uint8Array
  start: number
  end: number
  attrStart: number
  attr: Uint8Array | undefined
}

const NO_BYTES: Uint8Array = new Uint8Array(0)

/**
 * The one `Value` every decode fills in (decoders are synchronous, never nest and never keep it), so no
 * object is allocated per attribute. Its buffer is dropped after each use so it pins nothing.
 */
const scratchValue: Value = { buf: NO_BYTES, start: 0, end: 0, attrStart: 0, attr: undefined }

const attrBytes = (v: Value): Uint8Array => v.attr ?? v.buf.subarray(v.attrStart, v.end)

const u32 = (b: Uint8Array, i: number): number => ((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0
const u16 = (b: Uint8Array, i: number): number => (b[i]! << 8) | b[i + 1]!

class AttrFailure {
  readonly error: BgpError
  constructor(error: BgpError) {
    this.error = error
  }
}

const fail = (reason: Reason, type: number, v: Value, detail: string, withData = true): never => {
  throw new AttrFailure(
    bgpError(reason, detail, {
      ...(withData ? { data: attrBytes(v) } : {}),
      action: attributeErrorAction(type),
      attributeType: type
    })
  )
}

const lengthError = (type: number, v: Value, expected: string): never =>
  fail("AttributeLengthError", type, v, `attribute ${type} length ${v.end - v.start}, expected ${expected}`)

const fixed = (type: number, v: Value, n: number): void => {
  if (v.end - v.start !== n) lengthError(type, v, String(n))
}

const multipleOf = (type: number, v: Value, n: number): void => {
  const len = v.end - v.start
  if (len === 0 || len % n !== 0) lengthError(type, v, `a non-zero multiple of ${n}`)
}

/** Parses AS_PATH / AS4_PATH segments; `undefined` when malformed (RFC 7606 §7.2). */
export const parseAsPath = (b: Uint8Array, start: number, end: number, asSize: 2 | 4): AsPathSegment[] | undefined => {
  const segments: AsPathSegment[] = []
  let i = start
  while (i < end) {
    if (i + 2 > end) return undefined
    const type = b[i]!
    const count = b[i + 1]!
    i += 2
    if (type < SegmentType.AS_SET || type > SegmentType.AS_CONFED_SET || count === 0) return undefined
    if (i + count * asSize > end) return undefined
    const asns = new Array<number>(count)
    for (let k = 0; k < count; k++, i += asSize) asns[k] = asSize === 4 ? u32(b, i) : u16(b, i)
    segments.push({ type: type as SegmentType, asns })
  }
  return segments
}

interface Descriptor {
  readonly name: string
  /** The Optional and Transitive bits the RFC fixes for this type. */
  readonly flags: number
  readonly decode: (v: Value, sink: AttributeSink, ctx: CodecContext) => void
}

const T = AttrType
const WELL_KNOWN = AttrFlag.TRANSITIVE
const OPT_TRANS = AttrFlag.OPTIONAL | AttrFlag.TRANSITIVE
const OPT_NON_TRANS = AttrFlag.OPTIONAL

const descriptors: Readonly<Record<number, Descriptor>> = {
  [T.ORIGIN]: {
    name: "ORIGIN",
    flags: WELL_KNOWN,
    decode: (v, s) => {
      fixed(T.ORIGIN, v, 1)
      const o = v.buf[v.start]!
      if (o > 2) fail("InvalidOrigin", T.ORIGIN, v, `undefined ORIGIN ${o}`)
      s.origin = o as Origin
    }
  },
  [T.AS_PATH]: {
    name: "AS_PATH",
    flags: WELL_KNOWN,
    decode: (v, s, ctx) => {
      const path = parseAsPath(v.buf, v.start, v.end, ctx.as4 ? 4 : 2)
      s.asPath = path ?? fail("MalformedAsPath", T.AS_PATH, v, "malformed AS_PATH", false)
    }
  },
  [T.NEXT_HOP]: {
    name: "NEXT_HOP",
    flags: WELL_KNOWN,
    decode: (v, s) => {
      fixed(T.NEXT_HOP, v, 4)
      s.nextHop = u32(v.buf, v.start)
    }
  },
  [T.MULTI_EXIT_DISC]: {
    name: "MULTI_EXIT_DISC",
    flags: OPT_NON_TRANS,
    decode: (v, s) => {
      fixed(T.MULTI_EXIT_DISC, v, 4)
      s.med = u32(v.buf, v.start)
    }
  },
  [T.LOCAL_PREF]: {
    name: "LOCAL_PREF",
    flags: WELL_KNOWN,
    decode: (v, s) => {
      fixed(T.LOCAL_PREF, v, 4)
      s.localPref = u32(v.buf, v.start)
    }
  },
  [T.ATOMIC_AGGREGATE]: {
    name: "ATOMIC_AGGREGATE",
    flags: WELL_KNOWN,
    decode: (v, s) => {
      fixed(T.ATOMIC_AGGREGATE, v, 0)
      s.atomicAggregate = true
    }
  },
  [T.AGGREGATOR]: {
    name: "AGGREGATOR",
    flags: OPT_TRANS,
    decode: (v, s, ctx) => {
      // RFC 6793 §3: 8 octets between NEW speakers, 6 toward or from an OLD one.
      fixed(T.AGGREGATOR, v, ctx.as4 ? 8 : 6)
      s.aggregator = ctx.as4
        ? { asn: u32(v.buf, v.start), address: u32(v.buf, v.start + 4) }
        : { asn: u16(v.buf, v.start), address: u32(v.buf, v.start + 2) }
    }
  },
  [T.COMMUNITIES]: {
    name: "COMMUNITIES",
    flags: OPT_TRANS,
    decode: (v, s) => {
      multipleOf(T.COMMUNITIES, v, 4)
      const out = new Array<number>((v.end - v.start) >> 2)
      for (let i = v.start, k = 0; i < v.end; i += 4, k++) out[k] = u32(v.buf, i)
      s.communities = out
    }
  },
  [T.ORIGINATOR_ID]: {
    name: "ORIGINATOR_ID",
    flags: OPT_NON_TRANS,
    decode: (v, s) => {
      fixed(T.ORIGINATOR_ID, v, 4)
      s.originatorId = u32(v.buf, v.start)
    }
  },
  [T.CLUSTER_LIST]: {
    name: "CLUSTER_LIST",
    flags: OPT_NON_TRANS,
    decode: (v, s) => {
      multipleOf(T.CLUSTER_LIST, v, 4)
      const out = new Array<number>((v.end - v.start) >> 2)
      for (let i = v.start, k = 0; i < v.end; i += 4, k++) out[k] = u32(v.buf, i)
      s.clusterList = out
    }
  },
  [T.EXTENDED_COMMUNITIES]: {
    name: "EXTENDED_COMMUNITIES",
    flags: OPT_TRANS,
    decode: (v, s) => {
      multipleOf(T.EXTENDED_COMMUNITIES, v, 8)
      const out = new Array<ExtendedCommunity>((v.end - v.start) >> 3)
      for (let i = v.start, k = 0; i < v.end; i += 8, k++) out[k] = { hi: u32(v.buf, i), lo: u32(v.buf, i + 4) }
      s.extendedCommunities = out
    }
  },
  [T.AS4_PATH]: {
    name: "AS4_PATH",
    flags: OPT_TRANS,
    decode: (v, s) => {
      const path = parseAsPath(v.buf, v.start, v.end, 4)
      // RFC 6793 §6: an AS4_PATH too short to hold one AS number (so also an empty one) is malformed.
      s.as4Path = path !== undefined && path.length > 0 ? path : fail("MalformedAsPath", T.AS4_PATH, v, "malformed AS4_PATH", false)
    }
  },
  [T.AS4_AGGREGATOR]: {
    name: "AS4_AGGREGATOR",
    flags: OPT_TRANS,
    decode: (v, s) => {
      fixed(T.AS4_AGGREGATOR, v, 8)
      s.as4Aggregator = { asn: u32(v.buf, v.start), address: u32(v.buf, v.start + 4) }
    }
  },
  [T.LARGE_COMMUNITY]: {
    name: "LARGE_COMMUNITY",
    flags: OPT_TRANS,
    decode: (v, s) => {
      multipleOf(T.LARGE_COMMUNITY, v, 12)
      const out = new Array<LargeCommunity>((v.end - v.start) / 12)
      for (let i = v.start, k = 0; i < v.end; i += 12, k++) {
        out[k] = { global: u32(v.buf, i), local1: u32(v.buf, i + 4), local2: u32(v.buf, i + 8) }
      }
      s.largeCommunities = out
    }
  },
  [T.OTC]: {
    name: "OTC",
    flags: OPT_TRANS,
    decode: (v, s) => {
      fixed(T.OTC, v, 4)
      s.otc = u32(v.buf, v.start)
    }
  }
}

/** `descriptors` as a dense array indexed by type code (0-255): a fast lookup on every attribute decoded. */
const descriptorTable: ReadonlyArray<Descriptor | undefined> = Array.from({ length: 256 }, (_, type) => descriptors[type])

export const attributeName = (type: number): string =>
  type === T.MP_REACH_NLRI ? "MP_REACH_NLRI" : type === T.MP_UNREACH_NLRI ? "MP_UNREACH_NLRI" : descriptors[type]?.name ?? `ATTR_${type}`

/** The Optional/Transitive bits RFC-fixed for a known type (MP_* included), or undefined when unknown. */
export const expectedFlags = (type: number): number | undefined =>
  type === T.MP_REACH_NLRI || type === T.MP_UNREACH_NLRI ? OPT_NON_TRANS : descriptorTable[type]?.flags

/**
 * Whether decoding an attribute of this type can leave work for `finishAttributes` (AS4_PATH and
 * AS4_AGGREGATOR to merge or drop, unknown attributes to sort): when none can, the sink is the result.
 */
export const needsFinishing = (type: number): boolean =>
  type === T.AS4_PATH || type === T.AS4_AGGREGATOR || descriptorTable[type] === undefined

/** True when `checkFlags` would accept these flags (lets hot loops skip building the attribute view). */
export const flagsFit = (type: number, flags: number): boolean => {
  const expected = expectedFlags(type)
  if (expected === undefined) return true
  const ot = flags & (AttrFlag.OPTIONAL | AttrFlag.TRANSITIVE)
  const partialOk = expected === OPT_TRANS || (flags & AttrFlag.PARTIAL) === 0
  return ot === expected && partialOk
}

/**
 * RFC 4271 §6.3 and RFC 7606 §3 c: the Optional and Transitive bits must match the type; the Partial bit
 * may be set only on optional transitive attributes. Returns the error, or undefined when the flags fit.
 */
export const checkFlags = (type: number, flags: number, attr: Uint8Array): BgpError | undefined => {
  if (flagsFit(type, flags)) return undefined
  return bgpError("AttributeFlagsError", `${attributeName(type)} has flags 0x${flags.toString(16)}`, {
    data: attr,
    action: type === T.MP_REACH_NLRI || type === T.MP_UNREACH_NLRI ? "SessionReset" : attributeErrorAction(type),
    attributeType: type
  })
}

/**
 * Decodes one recognized attribute value into `sink`, or records an unknown optional one. Returns the
 * RFC 7606 error when the value is malformed (the sink is then untouched for this attribute).
 */
export const decodeAttribute = (
  type: number,
  flags: number,
  buf: Uint8Array,
  start: number,
  end: number,
  attr: Uint8Array,
  sink: AttributeSink,
  ctx: CodecContext
): BgpError | undefined => decodeValue(type, flags, buf, start, end, start, attr, sink, ctx)

/**
 * `decodeAttribute` for an attribute that starts at `buf[attrStart]` (header included): the same result,
 * without cutting the attribute out of `buf` unless it is malformed.
 */
export const decodeAttributeAt = (
  type: number,
  flags: number,
  buf: Uint8Array,
  attrStart: number,
  start: number,
  end: number,
  sink: AttributeSink,
  ctx: CodecContext
): BgpError | undefined => decodeValue(type, flags, buf, start, end, attrStart, undefined, sink, ctx)

const decodeValue = (
  type: number,
  flags: number,
  buf: Uint8Array,
  start: number,
  end: number,
  attrStart: number,
  attr: Uint8Array | undefined,
  sink: AttributeSink,
  ctx: CodecContext
): BgpError | undefined => {
  const d = descriptorTable[type]
  if (d === undefined) {
    // Unknown: well-known ones are fatal (RFC 4271 §6.3, data = the attribute); optional ones are kept.
    if ((flags & AttrFlag.OPTIONAL) === 0) {
      return bgpError("UnrecognizedWellKnownAttribute", `unrecognized well-known attribute ${type}`, {
        data: attr ?? buf.subarray(attrStart, end),
        attributeType: type
      })
    }
    ;(sink.unknownList ??= []).push({ flags: flags & ~AttrFlag.EXTENDED_LENGTH, type, value: buf.slice(start, end) })
    return undefined
  }
  const v = scratchValue
  v.buf = buf
  v.start = start
  v.end = end
  v.attrStart = attrStart
  v.attr = attr
  try {
    d.decode(v, sink, ctx)
    return undefined
  } catch (e) {
    if (e instanceof AttrFailure) return e.error
    throw e
  } finally {
    v.buf = NO_BYTES
    v.attr = undefined
  }
}

const pathLength = (path: AsPath): number => {
  let n = 0
  for (const s of path) {
    if (s.type === SegmentType.AS_SEQUENCE) n += s.asns.length
    else if (s.type === SegmentType.AS_SET) n += 1
  }
  return n
}

/**
 * RFC 6793 §4.2.3: rebuild the true AS path from a 2-octet speaker's AS_PATH and AS4_PATH. Takes as many
 * leading AS numbers from AS_PATH as AS_PATH has beyond AS4_PATH (sets count one, confederation
 * segments zero and are kept when leading), then appends AS4_PATH.
 */
export const mergeAs4Path = (asPath: AsPath, as4Path: AsPath): AsPath => {
  // §6: confederation segments in AS4_PATH are discarded.
  const as4 = as4Path.filter((s) => s.type === SegmentType.AS_SEQUENCE || s.type === SegmentType.AS_SET)
  const need = pathLength(asPath) - pathLength(as4)
  if (need < 0) return asPath
  const lead: AsPathSegment[] = []
  let taken = 0
  for (let i = 0; i < asPath.length; i++) {
    const s = asPath[i]!
    const confed = s.type === SegmentType.AS_CONFED_SEQUENCE || s.type === SegmentType.AS_CONFED_SET
    if (taken >= need) {
      // A confederation segment stays when it leads or touches what was prepended.
      if (confed && lead.length === i) {
        lead.push(s)
        continue
      }
      break
    }
    if (s.type === SegmentType.AS_SEQUENCE) {
      const k = Math.min(s.asns.length, need - taken)
      lead.push(k === s.asns.length ? s : { type: s.type, asns: s.asns.slice(0, k) })
      taken += k
    } else {
      lead.push(s)
      if (s.type === SegmentType.AS_SET) taken += 1
    }
  }
  // The sender split one sequence between the two attributes: join it again at the seam.
  const last = lead[lead.length - 1]
  const first = as4[0]
  if (
    last !== undefined && first !== undefined && last.type === SegmentType.AS_SEQUENCE &&
    first.type === SegmentType.AS_SEQUENCE && last.asns.length + first.asns.length <= 255
  ) {
    return [...lead.slice(0, -1), { type: SegmentType.AS_SEQUENCE, asns: [...last.asns, ...first.asns] }, ...as4.slice(1)]
  }
  return [...lead, ...as4]
}

/**
 * Finishes a decode: applies RFC 6793 (merge from an OLD speaker, or discard AS4_* from a NEW one) and
 * returns the immutable attribute set.
 */
export const finishAttributes = (sink: AttributeSink, ctx: CodecContext): PathAttributes => {
  // Common case: nothing to merge, drop or sort, so the sink already is the attribute set. (Object rest
  // below copies through a slow generic path: it was the largest single cost of decoding real UPDATEs.)
  if (!("as4Path" in sink) && !("as4Aggregator" in sink) && !("unknownList" in sink)) return sink
  const { as4Path, as4Aggregator, unknownList, ...attrs } = sink
  if (!ctx.as4) {
    // RFC 6793 §4.2.3: when AGGREGATOR carries a real 2-octet AS, AS4_AGGREGATOR and AS4_PATH are stale.
    const aggregatorIsTrans = attrs.aggregator === undefined || attrs.aggregator.asn === AS_TRANS
    if (aggregatorIsTrans) {
      if (as4Aggregator !== undefined && attrs.aggregator !== undefined) attrs.aggregator = as4Aggregator
      if (as4Path !== undefined && attrs.asPath !== undefined) attrs.asPath = mergeAs4Path(attrs.asPath, as4Path)
    }
  }
  if (unknownList !== undefined) attrs.unknown = unknownList.sort((a, b) => a.type - b.type)
  return attrs
}

// ---------------------------------------------------------------------------------------------------
// Encoding

const header = (w: Writer, flags: number, type: number, len: number): void => {
  if (len > 0xffff) throw new EncodeError({ detail: `attribute ${type} too long: ${len}` })
  if (len > 255) {
    w.u8(flags | AttrFlag.EXTENDED_LENGTH)
    w.u8(type)
    w.u16(len)
  } else {
    w.u8(flags & ~AttrFlag.EXTENDED_LENGTH)
    w.u8(type)
    w.u8(len)
  }
}

const u32List = (w: Writer, flags: number, type: number, values: ReadonlyArray<number>): void => {
  header(w, flags, type, values.length * 4)
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!
    if (!(Number.isInteger(v) && v >= 0 && v <= 0xffffffff)) checkU32(v, attributeName(type)) // throws
    w.u32(v)
  }
}

/** `u32List` of one value, without the array. */
const u32Attr = (w: Writer, flags: number, type: number, v: number): void => {
  header(w, flags, type, 4)
  if (!(Number.isInteger(v) && v >= 0 && v <= 0xffffffff)) checkU32(v, attributeName(type)) // throws
  w.u32(v)
}

const NO_UNKNOWN: ReadonlyArray<UnknownAttribute> = []

/** Writes the unknown attributes from `unknown[u]` on whose type is below `type`; returns the next index. */
const unknownsBefore = (w: Writer, unknown: ReadonlyArray<UnknownAttribute>, u: number, type: number): number => {
  while (u < unknown.length && unknown[u]!.type < type) {
    const x = unknown[u++]!
    header(w, x.flags, x.type, x.value.length)
    w.bytes(x.value)
  }
  return u
}

const asPathWireLength = (path: AsPath, asSize: number): number => {
  let n = 0
  for (const s of path) n += 2 + s.asns.length * asSize
  return n
}

const writeAsPath = (w: Writer, flags: number, type: number, path: AsPath, asSize: 2 | 4, mapTrans: boolean): void => {
  header(w, flags, type, asPathWireLength(path, asSize))
  for (const s of path) {
    if (s.asns.length === 0 || s.asns.length > 255) throw new EncodeError({ detail: `AS path segment of ${s.asns.length} ASes` })
    w.u8(s.type)
    w.u8(s.asns.length)
    for (const asn of s.asns) {
      checkU32(asn, "AS number")
      if (asSize === 4) w.u32(asn)
      else w.u16(mapTrans && asn > 0xffff ? AS_TRANS : asn)
    }
  }
}

const needsAs4 = (path: AsPath): boolean => path.some((s) => s.asns.some((a) => a > 0xffff))

/**
 * Encodes every attribute except MP_REACH/MP_UNREACH, in ascending type order (RFC 4271 §5). Toward an
 * OLD speaker (`ctx.as4` false) AS numbers above 65535 become AS_TRANS and AS4_PATH / AS4_AGGREGATOR
 * carry the real ones (RFC 6793 §4.2.2).
 */
export const encodeAttributes = (w: Writer, a: PathAttributes, ctx: CodecContext): void => {
  const unknown = a.unknown ?? NO_UNKNOWN
  let u = 0
  u = unknownsBefore(w, unknown, u, T.ORIGIN)
  if (a.origin !== undefined) {
    header(w, WELL_KNOWN, T.ORIGIN, 1)
    w.u8(a.origin)
  }
  u = unknownsBefore(w, unknown, u, T.AS_PATH)
  if (a.asPath !== undefined) writeAsPath(w, WELL_KNOWN, T.AS_PATH, a.asPath, ctx.as4 ? 4 : 2, true)
  u = unknownsBefore(w, unknown, u, T.NEXT_HOP)
  if (a.nextHop !== undefined) {
    checkU32(a.nextHop, "NEXT_HOP")
    header(w, WELL_KNOWN, T.NEXT_HOP, 4)
    w.u32(a.nextHop)
  }
  u = unknownsBefore(w, unknown, u, T.MULTI_EXIT_DISC)
  if (a.med !== undefined) u32Attr(w, OPT_NON_TRANS, T.MULTI_EXIT_DISC, a.med)
  u = unknownsBefore(w, unknown, u, T.LOCAL_PREF)
  if (a.localPref !== undefined) u32Attr(w, WELL_KNOWN, T.LOCAL_PREF, a.localPref)
  u = unknownsBefore(w, unknown, u, T.ATOMIC_AGGREGATE)
  if (a.atomicAggregate === true) header(w, WELL_KNOWN, T.ATOMIC_AGGREGATE, 0)
  u = unknownsBefore(w, unknown, u, T.AGGREGATOR)
  if (a.aggregator !== undefined) {
    checkU32(a.aggregator.asn, "AGGREGATOR AS")
    checkU32(a.aggregator.address, "AGGREGATOR address")
    if (ctx.as4) {
      header(w, OPT_TRANS, T.AGGREGATOR, 8)
      w.u32(a.aggregator.asn)
    } else {
      header(w, OPT_TRANS, T.AGGREGATOR, 6)
      w.u16(a.aggregator.asn > 0xffff ? AS_TRANS : a.aggregator.asn)
    }
    w.u32(a.aggregator.address)
  }
  u = unknownsBefore(w, unknown, u, T.COMMUNITIES)
  if (a.communities !== undefined && a.communities.length > 0) u32List(w, OPT_TRANS, T.COMMUNITIES, a.communities)
  u = unknownsBefore(w, unknown, u, T.ORIGINATOR_ID)
  if (a.originatorId !== undefined) u32Attr(w, OPT_NON_TRANS, T.ORIGINATOR_ID, a.originatorId)
  u = unknownsBefore(w, unknown, u, T.CLUSTER_LIST)
  if (a.clusterList !== undefined && a.clusterList.length > 0) u32List(w, OPT_NON_TRANS, T.CLUSTER_LIST, a.clusterList)
  u = unknownsBefore(w, unknown, u, T.EXTENDED_COMMUNITIES)
  if (a.extendedCommunities !== undefined && a.extendedCommunities.length > 0) {
    header(w, OPT_TRANS, T.EXTENDED_COMMUNITIES, a.extendedCommunities.length * 8)
    for (const c of a.extendedCommunities) {
      checkU32(c.hi, "extended community")
      checkU32(c.lo, "extended community")
      w.u32(c.hi)
      w.u32(c.lo)
    }
  }
  u = unknownsBefore(w, unknown, u, T.AS4_PATH)
  if (!ctx.as4 && a.asPath !== undefined && needsAs4(a.asPath)) {
    // RFC 6793 §4.2.2: confederation segments are not carried in AS4_PATH. When only they hold 4-octet
    // ASes, what is left says nothing AS_PATH does not (and may be empty, which §6 calls malformed).
    const as4 = a.asPath.filter((s) => s.type === SegmentType.AS_SEQUENCE || s.type === SegmentType.AS_SET)
    if (needsAs4(as4)) writeAsPath(w, OPT_TRANS, T.AS4_PATH, as4, 4, false)
  }
  u = unknownsBefore(w, unknown, u, T.AS4_AGGREGATOR)
  if (!ctx.as4 && a.aggregator !== undefined && a.aggregator.asn > 0xffff) {
    header(w, OPT_TRANS, T.AS4_AGGREGATOR, 8)
    w.u32(a.aggregator.asn)
    w.u32(a.aggregator.address)
  }
  u = unknownsBefore(w, unknown, u, T.LARGE_COMMUNITY)
  if (a.largeCommunities !== undefined && a.largeCommunities.length > 0) {
    header(w, OPT_TRANS, T.LARGE_COMMUNITY, a.largeCommunities.length * 12)
    for (const c of a.largeCommunities) {
      checkU32(c.global, "large community")
      checkU32(c.local1, "large community")
      checkU32(c.local2, "large community")
      w.u32(c.global)
      w.u32(c.local1)
      w.u32(c.local2)
    }
  }
  u = unknownsBefore(w, unknown, u, T.OTC)
  if (a.otc !== undefined) u32Attr(w, OPT_TRANS, T.OTC, a.otc)
  unknownsBefore(w, unknown, u, 256)
}

/**
 * What a speaker does to attributes it passes on (RFC 4271 §5 and §9.1.3): unrecognized optional
 * transitive attributes are kept with the Partial bit set; unrecognized non-transitive ones are dropped.
 */
export const forwardUnknownAttributes = (a: PathAttributes): PathAttributes => {
  if (a.unknown === undefined) return a
  const kept = a.unknown
    .filter((x) => (x.flags & AttrFlag.TRANSITIVE) !== 0)
    .map((x) => ({ ...x, flags: x.flags | AttrFlag.PARTIAL }))
  const { unknown: _, ...rest } = a
  return kept.length > 0 ? { ...rest, unknown: kept } : rest
}

/** RFC 4271 §9.1.2.2 a): AS path length with AS_SET counting one and confederation segments zero (RFC 5065 §5.3). */
export const asPathLength = pathLength
