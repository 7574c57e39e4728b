/**
 * UPDATE messages (RFC 4271 §4.3) with multiprotocol reachability (RFC 4760 §3, §4), ADD-PATH
 * (RFC 7911), End-of-RIB (RFC 4724 §2) and the revised error handling of RFC 7606.
 *
 * Two layers: `splitUpdate` frames the message, finds the NLRI (including those inside MP_REACH /
 * MP_UNREACH) and hands back the remaining attributes as raw bytes, which a reflector can intern and
 * pass through; `decodeUpdate` also decodes and validates every attribute and applies RFC 7606.
 */
import { Result } from "effect"
import { Afi, AttrFlag, AttrType, familyKey, MessageType, Safi } from "./constants.ts"
import type { CodecContext } from "./context.ts"
import { maxMessageLength } from "./context.ts"
import { bgpError, BgpError, EncodeError } from "./errors.ts"
import type { PathAttributes, AttributeSink } from "./attributes.ts"
import { checkFlags, decodeAttributeAt, encodeAttributes, finishAttributes, flagsFit, needsFinishing } from "./attributes.ts"
import type { Prefix } from "./prefix.ts"
import { decodePrefixes, encodePrefix, encodePrefixes, prefixWireLength } from "./nlri.ts"
import { sharedWriter, Writer } from "./bytes.ts"

/** MP_REACH_NLRI (RFC 4760 §3). For families this codec does not decode, `rawNlri` holds the bytes. */
export interface MpReach {
  readonly afi: number
  readonly safi: number
  /** Next hop as on the wire: 4 or 16 octets, 32 with an IPv6 link-local, or per RFC 8950 for IPv4 NLRI. */
  readonly nextHop: Uint8Array
  readonly nlri: ReadonlyArray<Prefix>
  readonly rawNlri?: Uint8Array
}

/** MP_UNREACH_NLRI (RFC 4760 §4). An empty one is the End-of-RIB marker for its family (RFC 4724 §2). */
export interface MpUnreach {
  readonly afi: number
  readonly safi: number
  readonly withdrawn: ReadonlyArray<Prefix>
  readonly rawWithdrawn?: Uint8Array
}

export interface Update {
  readonly _tag: "Update"
  /** IPv4 unicast withdrawals from the Withdrawn Routes field. */
  readonly withdrawn: ReadonlyArray<Prefix>
  readonly attributes: PathAttributes
  readonly mpReach?: MpReach
  readonly mpUnreach?: MpUnreach
  /** IPv4 unicast NLRI from the NLRI field. */
  readonly nlri: ReadonlyArray<Prefix>
  /**
   * Present only on decoded UPDATEs that RFC 7606 repaired: attributes discarded, or the whole UPDATE
   * turned into withdrawals (then `withdrawn`/`mpUnreach` hold every NLRI and `attributes` is empty).
   */
  readonly errors?: ReadonlyArray<BgpError>
}

/** An UPDATE framed but with its path attributes still as bytes (MP_REACH/MP_UNREACH taken out). */
export interface UpdateSplit {
  readonly withdrawn: ReadonlyArray<Prefix>
  readonly nlri: ReadonlyArray<Prefix>
  readonly mpReach?: MpReach
  readonly mpUnreach?: MpUnreach
  /** The other attributes, byte for byte in received order: the key for interning an attribute set. */
  readonly attributes: Uint8Array
}

/** The families whose NLRI this codec decodes into `Prefix`es; others stay raw (not an error). */
const decodedFamily = (afi: number, safi: number): afi is 1 | 2 =>
  (afi === Afi.IPV4 || afi === Afi.IPV6) && (safi === Safi.UNICAST || safi === Safi.MULTICAST)

class UpdateAbort {
  readonly error: BgpError
  constructor(error: BgpError) {
    this.error = error
  }
}

interface Parsed {
  withdrawn: Prefix[]
  nlri: Prefix[]
  mpReach?: MpReach
  mpUnreach?: MpUnreach
  /**
   * For each non-MP attribute, five entries: flags, type, value start, value end, attribute start (in
   * `body`). This is the shared `attrScratch`, valid until the next parse; `attrCount` entries are used.
   */
  attrs: Int32Array
  attrCount: number
  /** RFC 7606 errors found while walking the attribute list (framing, flags, duplicates, MP_*). */
  errors: BgpError[]
}

const mpAction = (afi: number, safi: number, detail: string, attr: Uint8Array): BgpError =>
  // RFC 7606 §5.3/§7.11: the NLRI cannot be trusted; the family goes (AFI/SAFI disable, RFC 4760 §7).
  bgpError("OptionalAttributeError", detail, { data: attr, action: "AfiSafiDisable", attributeType: attr[1]!, afi, safi })

const validNextHopLength = (afi: number, safi: number, len: number): boolean => {
  if (safi !== Safi.UNICAST && safi !== Safi.MULTICAST) return true
  if (afi === Afi.IPV6) return len === 16 || len === 32
  // RFC 8950 §3: IPv4 NLRI may carry an IPv6 next hop (16 or 32 octets).
  if (afi === Afi.IPV4) return len === 4 || len === 16 || len === 32
  return true
}

const parseMpReach = (b: Uint8Array, s: number, e: number, attr: Uint8Array, ctx: CodecContext): MpReach | BgpError => {
  if (e - s < 5) return bgpError("AttributeLengthError", "MP_REACH_NLRI too short", { data: attr, attributeType: AttrType.MP_REACH_NLRI })
  const afi = (b[s]! << 8) | b[s + 1]!
  const safi = b[s + 2]!
  const nhLen = b[s + 3]!
  if (s + 4 + nhLen + 1 > e) return mpAction(afi, safi, "MP_REACH_NLRI next hop overruns the attribute", attr)
  if (!validNextHopLength(afi, safi, nhLen)) return mpAction(afi, safi, `MP_REACH_NLRI next hop length ${nhLen}`, attr)
  const nextHop = b.slice(s + 4, s + 4 + nhLen)
  // one reserved octet (RFC 4760 §3: formerly the SNPA count, ignored on receipt)
  const ns = s + 4 + nhLen + 1
  if (!decodedFamily(afi, safi)) return { afi, safi, nextHop, nlri: [], rawNlri: b.slice(ns, e) }
  const nlri = decodePrefixes(b, ns, e, afi, ctx.addPath.has(familyKey(afi, safi)))
  if (nlri === undefined) return mpAction(afi, safi, "MP_REACH_NLRI holds a malformed prefix", attr)
  return { afi, safi, nextHop, nlri }
}

const parseMpUnreach = (b: Uint8Array, s: number, e: number, attr: Uint8Array, ctx: CodecContext): MpUnreach | BgpError => {
  if (e - s < 3) return bgpError("AttributeLengthError", "MP_UNREACH_NLRI too short", { data: attr, attributeType: AttrType.MP_UNREACH_NLRI })
  const afi = (b[s]! << 8) | b[s + 1]!
  const safi = b[s + 2]!
  if (!decodedFamily(afi, safi)) return { afi, safi, withdrawn: [], rawWithdrawn: b.slice(s + 3, e) }
  const withdrawn = decodePrefixes(b, s + 3, e, afi, ctx.addPath.has(familyKey(afi, safi)))
  if (withdrawn === undefined) return mpAction(afi, safi, "MP_UNREACH_NLRI holds a malformed prefix", attr)
  return { afi, safi, withdrawn }
}

/**
 * Attribute positions found by `parse`, reused by every parse: decoding is synchronous and never nests,
 * and both users (`decodeBody`, `splitBody`) are done with it before they return.
 */
let attrScratch = new Int32Array(5 * 32)

const reset = (reason: "MalformedAttributeList" | "InvalidNetworkField", detail: string): never => {
  throw new UpdateAbort(bgpError(reason, detail))
}

/** Walks the UPDATE body (after the 19-octet header). Throws `UpdateAbort` for session-reset errors. */
const parse = (b: Uint8Array, start: number, end: number, ctx: CodecContext): Parsed => {
  // RFC 4271 §6.3: lengths that do not add up are a Malformed Attribute List.
  if (end - start < 4) reset("MalformedAttributeList", "UPDATE shorter than its fixed fields")
  const wLen = (b[start]! << 8) | b[start + 1]!
  const wEnd = start + 2 + wLen
  if (wEnd + 2 > end) reset("MalformedAttributeList", "Withdrawn Routes Length overruns the message")
  const aLen = (b[wEnd]! << 8) | b[wEnd + 1]!
  const aStart = wEnd + 2
  const aEnd = aStart + aLen
  if (aEnd > end) reset("MalformedAttributeList", "Total Path Attribute Length overruns the message")
  const v4AddPath = ctx.addPath.has(familyKey(Afi.IPV4, Safi.UNICAST))
  // RFC 7606 §5.3: a malformed NLRI or Withdrawn Routes field leaves nothing to withdraw: session reset.
  const withdrawn = decodePrefixes(b, start + 2, wEnd, Afi.IPV4, v4AddPath)
  if (withdrawn === undefined) reset("InvalidNetworkField", "malformed prefix in Withdrawn Routes")
  const nlri = decodePrefixes(b, aEnd, end, Afi.IPV4, v4AddPath)
  if (nlri === undefined) reset("InvalidNetworkField", "malformed prefix in NLRI")
  let scratch = attrScratch // a local: the module variable is reloaded at every use
  const out: Parsed = { withdrawn: withdrawn!, nlri: nlri!, attrs: scratch, attrCount: 0, errors: [] }
  let n = 0
  let seen0 = 0 // bitmaps of attribute types seen (RFC 7606 §3 g duplicates)
  let seenHigh: Set<number> | undefined // types >= 32, rare: only allocated when one shows up
  let i = aStart
  while (i < aEnd) {
    // RFC 7606 §4: an attribute header or value that overruns the Total Path Attribute Length.
    if (aEnd - i < 3) {
      out.errors.push(bgpError("MalformedAttributeList", "attribute header overruns the attribute list", { action: "TreatAsWithdraw" }))
      break
    }
    const flags = b[i]!
    const type = b[i + 1]!
    const ext = (flags & AttrFlag.EXTENDED_LENGTH) !== 0
    if (ext && aEnd - i < 4) {
      out.errors.push(bgpError("MalformedAttributeList", "attribute header overruns the attribute list", { action: "TreatAsWithdraw" }))
      break
    }
    const len = ext ? (b[i + 2]! << 8) | b[i + 3]! : b[i + 2]!
    const vs = i + (ext ? 4 : 3)
    const ve = vs + len
    if (ve > aEnd) {
      out.errors.push(
        bgpError("AttributeLengthError", `attribute ${type} length ${len} overruns the attribute list`, {
          data: b.subarray(i, aEnd),
          action: "TreatAsWithdraw",
          attributeType: type
        })
      )
      break
    }
    const attrStart = i
    i = ve
    let dup: boolean
    if (type < 32) {
      dup = (seen0 & (1 << type)) !== 0
      seen0 |= 1 << type
    } else {
      seenHigh ??= new Set<number>()
      dup = seenHigh.has(type)
      seenHigh.add(type)
    }
    if (type === AttrType.MP_REACH_NLRI || type === AttrType.MP_UNREACH_NLRI) {
      const attr = b.subarray(attrStart, ve)
      // RFC 7606 §3 g: a repeated MP attribute is a Malformed Attribute List, session reset.
      if (dup) reset("MalformedAttributeList", `repeated ${type === AttrType.MP_REACH_NLRI ? "MP_REACH_NLRI" : "MP_UNREACH_NLRI"}`)
      const flagErr = checkFlags(type, flags, attr)
      if (flagErr !== undefined) throw new UpdateAbort(flagErr)
      const r = type === AttrType.MP_REACH_NLRI ? parseMpReach(b, vs, ve, attr, ctx) : parseMpUnreach(b, vs, ve, attr, ctx)
      if (r instanceof BgpError) {
        if (r.action === "SessionReset") throw new UpdateAbort(r)
        out.errors.push(r)
      } else if (type === AttrType.MP_REACH_NLRI) out.mpReach = r as MpReach
      else out.mpUnreach = r as MpUnreach
      continue
    }
    // RFC 7606 §3 g: later copies of any other attribute are discarded.
    if (dup) continue
    if (n + 5 > scratch.length) {
      const grown = new Int32Array(scratch.length * 2)
      grown.set(scratch)
      attrScratch = scratch = out.attrs = grown
    }
    scratch[n] = flags
    scratch[n + 1] = type
    scratch[n + 2] = vs
    scratch[n + 3] = ve
    scratch[n + 4] = attrStart
    n += 5
  }
  out.attrCount = n
  return out
}

// The public decoders below call their body in a plain try/catch (no closure per message).
const abortResult = (e: unknown): Result.Result<never, BgpError> => {
  if (e instanceof UpdateAbort) return Result.fail(e.error)
  // Decoders index typed arrays (undefined past the end, never an exception) and build plain data,
  // so anything else is a bug in this package; report it as a typed error, never let it escape.
  return Result.fail(bgpError("MalformedAttributeList", `internal decoder fault: ${String(e)}`))
}

/** Copies the non-MP attributes into one contiguous block (they may be interleaved with MP_* on the wire). */
const joinAttributes = (b: Uint8Array, attrs: Int32Array, count: number): Uint8Array => {
  let total = 0
  let contiguous = true
  for (let k = 0; k < count; k += 5) {
    total += attrs[k + 3]! - attrs[k + 4]!
    if (k > 0 && attrs[k + 4] !== attrs[k - 2]) contiguous = false
  }
  // Usually one run (MP_* first or last, or absent): a single copy, no view per attribute.
  if (contiguous) return count === 0 ? new Uint8Array(0) : b.slice(attrs[4]!, attrs[count - 2]!)
  const out = new Uint8Array(total)
  let o = 0
  for (let k = 0; k < count; k += 5) {
    for (let i = attrs[k + 4]!, to = attrs[k + 3]!; i < to; i++) out[o++] = b[i]!
  }
  return out
}

/**
 * Frames an UPDATE body without decoding its attributes. Only structural problems are reported
 * (lengths, NLRI, MP_* attributes); call `decodeUpdate` to validate the attributes too.
 */
export const splitUpdate = (body: Uint8Array, ctx: CodecContext): Result.Result<UpdateSplit, BgpError> => {
  try {
    return Result.succeed(splitBody(body, ctx))
  } catch (e) {
    return abortResult(e)
  }
}

const splitBody = (body: Uint8Array, ctx: CodecContext): UpdateSplit => {
  const p = parse(body, 0, body.length, ctx)
  if (p.errors.length > 0) {
    const fatal = p.errors.find((e) => e.action === "SessionReset" || e.action === "AfiSafiDisable")
    if (fatal !== undefined) throw new UpdateAbort(fatal)
  }
  const { withdrawn, nlri, mpReach, mpUnreach } = p
  const attributes = joinAttributes(body, p.attrs, p.attrCount)
  // One literal per case rather than conditional spreads (which build the object slowly); same keys, same order.
  if (mpReach === undefined) {
    return mpUnreach === undefined ? { withdrawn, nlri, attributes } : { withdrawn, nlri, mpUnreach, attributes }
  }
  return mpUnreach === undefined ? { withdrawn, nlri, mpReach, attributes } : { withdrawn, nlri, mpReach, mpUnreach, attributes }
}

const hasReachable = (p: { nlri: ReadonlyArray<Prefix>; mpReach?: MpReach | undefined }): boolean =>
  p.nlri.length > 0 || (p.mpReach !== undefined && (p.mpReach.nlri.length > 0 || (p.mpReach.rawNlri?.length ?? 0) > 0))

const joinBytes = (a: Uint8Array | undefined, b: Uint8Array | undefined): Uint8Array => {
  const out = new Uint8Array((a?.length ?? 0) + (b?.length ?? 0))
  if (a !== undefined) out.set(a)
  if (b !== undefined) out.set(b, a?.length ?? 0)
  return out
}

/** RFC 7606 §2 treat-as-withdraw: every NLRI of the UPDATE becomes a withdrawal, attributes are dropped. */
const asWithdraw = (p: Parsed, errors: BgpError[]): Update => {
  let mpUnreach = p.mpUnreach
  if (p.mpReach !== undefined) {
    const r = p.mpReach
    if (mpUnreach !== undefined && mpUnreach.afi === r.afi && mpUnreach.safi === r.safi) {
      // A family kept raw has its NLRI in rawWithdrawn/rawNlri: join those, or they would be lost.
      mpUnreach = r.rawNlri === undefined && mpUnreach.rawWithdrawn === undefined
        ? { afi: r.afi, safi: r.safi, withdrawn: [...mpUnreach.withdrawn, ...r.nlri] }
        : { afi: r.afi, safi: r.safi, withdrawn: [], rawWithdrawn: joinBytes(mpUnreach.rawWithdrawn, r.rawNlri) }
    } else if (mpUnreach === undefined) {
      mpUnreach = r.rawNlri === undefined
        ? { afi: r.afi, safi: r.safi, withdrawn: r.nlri }
        : { afi: r.afi, safi: r.safi, withdrawn: [], rawWithdrawn: r.rawNlri }
    } else {
      // Two different families in one UPDATE cannot both be expressed as MP_UNREACH: RFC 7606 §5.3 fallback.
      throw new UpdateAbort(bgpError("MalformedAttributeList", "treat-as-withdraw across two MP families", { action: "SessionReset" }))
    }
  }
  return {
    _tag: "Update",
    withdrawn: [...p.withdrawn, ...p.nlri],
    attributes: {},
    ...(mpUnreach === undefined ? {} : { mpUnreach }),
    nlri: [],
    errors
  }
}

/**
 * Decodes and validates an UPDATE body (the bytes after the header). A failure is an error whose action
 * is `SessionReset` or `AfiSafiDisable`; RFC 7606 repairs (attribute discard, treat-as-withdraw) succeed
 * with `errors` set on the result.
 */
export const decodeUpdate = (body: Uint8Array, ctx: CodecContext): Result.Result<Update, BgpError> => {
  try {
    return Result.succeed(decodeBody(body, 0, body.length, ctx))
  } catch (e) {
    return abortResult(e)
  }
}

/**
 * `decodeUpdate` of the body at `buf[start, end)`, for callers holding a whole message (no view to cut).
 * The result never aliases `buf` (every byte field is copied), so it equals `decodeUpdate(buf.subarray(start, end))`.
 */
export const decodeUpdateAt = (buf: Uint8Array, start: number, end: number, ctx: CodecContext): Result.Result<Update, BgpError> => {
  try {
    return Result.succeed(decodeBody(buf, start, end, ctx))
  } catch (e) {
    return abortResult(e)
  }
}

/**
 * RFC 7606 §7.5: LOCAL_PREF from an external peer is to be discarded anyway, so a malformed one is
 * "attribute discard"; from an internal peer (or when the context does not say) it stays treat-as-withdraw.
 */
const localPrefError = (err: BgpError, ctx: CodecContext): BgpError =>
  ctx.internal === false && err.action === "TreatAsWithdraw"
    ? bgpError(err.reason, err.detail, { data: err.data, action: "AttributeDiscard", attributeType: AttrType.LOCAL_PREF })
    : err

const missing = (errors: BgpError[], type: number, name: string): void => {
  errors.push(
    bgpError("MissingWellKnownAttribute", `missing ${name}`, {
      data: Uint8Array.of(type),
      action: "TreatAsWithdraw",
      attributeType: type
    })
  )
}

const decodeBody = (body: Uint8Array, start: number, end: number, ctx: CodecContext): Update => {
  const p = parse(body, start, end, ctx)
  const errors = p.errors
  const sink: AttributeSink = {}
  const a = p.attrs
  let finish = false // anything for finishAttributes to do (else the sink is the attribute set)
  for (let k = 0; k < p.attrCount; k += 5) {
    const flags = a[k]!
    const type = a[k + 1]!
    const vs = a[k + 2]!
    const ve = a[k + 3]!
    const as = a[k + 4]!
    if (needsFinishing(type)) finish = true
    // The attribute's bytes are cut out (for NOTIFICATION data) only when it is malformed.
    const err = (flagsFit(type, flags) ? undefined : checkFlags(type, flags, body.subarray(as, ve))) ??
      decodeAttributeAt(type, flags, body, as, vs, ve, sink, ctx)
    if (err !== undefined) {
      if (err.action === "SessionReset") throw new UpdateAbort(err)
      errors.push(type === AttrType.LOCAL_PREF ? localPrefError(err, ctx) : err)
    }
  }
  if (errors.length > 0) {
    const fatal = errors.find((e) => e.action === "AfiSafiDisable")
    if (fatal !== undefined) throw new UpdateAbort(fatal)
  }
  // RFC 4271 §6.3 / RFC 7606 §3 d: mandatory attributes, only when there is something reachable.
  if (hasReachable(p) && (errors.length === 0 || !errors.some((e) => e.action === "TreatAsWithdraw"))) {
    if (sink.origin === undefined) missing(errors, AttrType.ORIGIN, "ORIGIN")
    if (sink.asPath === undefined) missing(errors, AttrType.AS_PATH, "AS_PATH")
    // RFC 4760 §3: with NLRI only in MP_REACH, NEXT_HOP is not needed (and is ignored).
    if (p.nlri.length > 0 && sink.nextHop === undefined) missing(errors, AttrType.NEXT_HOP, "NEXT_HOP")
    if (ctx.internal === true && sink.localPref === undefined) missing(errors, AttrType.LOCAL_PREF, "LOCAL_PREF")
  }
  if (errors.length === 0) {
    // One literal per case rather than conditional spreads (which build the object slowly); same keys, same order.
    const { withdrawn, mpReach, mpUnreach, nlri } = p
    const attributes = finish ? finishAttributes(sink, ctx) : sink
    if (mpReach === undefined) {
      return mpUnreach === undefined
        ? { _tag: "Update", withdrawn, attributes, nlri }
        : { _tag: "Update", withdrawn, attributes, mpUnreach, nlri }
    }
    return mpUnreach === undefined
      ? { _tag: "Update", withdrawn, attributes, mpReach, nlri }
      : { _tag: "Update", withdrawn, attributes, mpReach, mpUnreach, nlri }
  }
  if (errors.some((e) => e.action === "TreatAsWithdraw")) return asWithdraw(p, errors)
  return {
    _tag: "Update",
    withdrawn: p.withdrawn,
    attributes: finishAttributes(sink, ctx),
    ...(p.mpReach === undefined ? {} : { mpReach: p.mpReach }),
    ...(p.mpUnreach === undefined ? {} : { mpUnreach: p.mpUnreach }),
    nlri: p.nlri,
    errors
  }
}

/** Decodes a raw attribute block (as from `splitUpdate`) on its own. */
export const decodeAttributes = (raw: Uint8Array, ctx: CodecContext): Result.Result<PathAttributes, BgpError> => {
  const body = new Uint8Array(4 + raw.length)
  body[2] = raw.length >> 8
  body[3] = raw.length & 0xff
  body.set(raw, 4)
  return Result.flatMap(decodeUpdate(body, ctx), (u) => {
    const bad = u.errors?.find((e) => e.action !== "AttributeDiscard")
    return bad === undefined ? Result.succeed(u.attributes) : Result.fail(bad)
  })
}

// ---------------------------------------------------------------------------------------------------
// Encoding

const writeHeaderStart = (w: Writer): number => {
  const at = w.pos
  w.fill(0xff, 16)
  w.u16(0)
  w.u8(MessageType.UPDATE)
  return at
}

const writeMpUnreach = (w: Writer, m: MpUnreach, ctx: CodecContext): void => {
  const at = w.pos
  w.u8(AttrFlag.OPTIONAL | AttrFlag.EXTENDED_LENGTH)
  w.u8(AttrType.MP_UNREACH_NLRI)
  w.u16(0)
  const vs = w.pos
  w.u16(m.afi)
  w.u8(m.safi)
  if (m.rawWithdrawn !== undefined) w.bytes(m.rawWithdrawn)
  else encodePrefixes(w, m.withdrawn, ctx.addPath.has(familyKey(m.afi, m.safi)))
  finishAttr(w, at, vs)
}

const writeMpReach = (w: Writer, m: MpReach, ctx: CodecContext): void => {
  const at = w.pos
  w.u8(AttrFlag.OPTIONAL | AttrFlag.EXTENDED_LENGTH)
  w.u8(AttrType.MP_REACH_NLRI)
  w.u16(0)
  const vs = w.pos
  w.u16(m.afi)
  w.u8(m.safi)
  if (m.nextHop.length > 255) throw new EncodeError({ detail: "MP_REACH_NLRI next hop too long" })
  if (!validNextHopLength(m.afi, m.safi, m.nextHop.length)) {
    throw new EncodeError({ detail: `MP_REACH_NLRI next hop of ${m.nextHop.length} octets for AFI ${m.afi} SAFI ${m.safi}` })
  }
  w.u8(m.nextHop.length)
  w.bytes(m.nextHop)
  w.u8(0)
  if (m.rawNlri !== undefined) w.bytes(m.rawNlri)
  else encodePrefixes(w, m.nlri, ctx.addPath.has(familyKey(m.afi, m.safi)))
  finishAttr(w, at, vs)
}

/** Back-patches an attribute written with a 2-octet length; shrinks it to 1 octet when it fits. */
const finishAttr = (w: Writer, at: number, vs: number): void => {
  const len = w.pos - vs
  if (len > 0xffff) throw new EncodeError({ detail: "attribute longer than 65535 octets" })
  if (len <= 255) {
    w.patchU8(at, AttrFlag.OPTIONAL)
    w.patchU8(at + 2, len)
    const body = w.copy(vs)
    w.pos = at + 3
    w.bytes(body)
  } else w.patchU16(at + 2, len)
}

const encodeUpdateInto = (w: Writer, u: Omit<Update, "_tag" | "errors">, ctx: CodecContext): void => {
  const at = writeHeaderStart(w)
  const v4AddPath = ctx.addPath.has(familyKey(Afi.IPV4, Safi.UNICAST))
  const wStart = w.pos
  w.u16(0)
  encodePrefixes(w, u.withdrawn, v4AddPath)
  w.patchU16(wStart, w.pos - wStart - 2)
  const aStart = w.pos
  w.u16(0)
  // RFC 7606 §5.1: MP_UNREACH_NLRI / MP_REACH_NLRI go first so a receiver can always find the NLRI.
  if (u.mpUnreach !== undefined) writeMpUnreach(w, u.mpUnreach, ctx)
  if (u.mpReach !== undefined) writeMpReach(w, u.mpReach, ctx)
  encodeAttributes(w, u.attributes, ctx)
  const aLen = w.pos - aStart - 2
  if (aLen > 0xffff) throw new EncodeError({ detail: "path attributes longer than 65535 octets" })
  w.patchU16(aStart, aLen)
  encodePrefixes(w, u.nlri, v4AddPath)
  const total = w.pos - at
  if (total > maxMessageLength(ctx)) {
    throw new EncodeError({ detail: `UPDATE of ${total} octets exceeds the ${maxMessageLength(ctx)}-octet limit` })
  }
  w.patchU16(at + 16, total)
}

/** Encodes one UPDATE (header included). Fails when it would exceed the negotiated message size. */
export const encodeUpdate = (u: Omit<Update, "_tag" | "errors"> & { readonly _tag?: "Update" }, ctx: CodecContext): Result.Result<Uint8Array, EncodeError> => {
  try {
    encodeUpdateInto(sharedWriter.reset(), u, ctx)
    return Result.succeed(sharedWriter.copy())
  } catch (e) {
    if (e instanceof EncodeError) return Result.fail(e)
    return Result.fail(new EncodeError({ detail: String(e) }))
  }
}

/** RFC 4724 §2: End-of-RIB for a family (an empty UPDATE for IPv4 unicast, an empty MP_UNREACH otherwise). */
export const encodeEndOfRib = (afi: number, safi: number): Uint8Array => {
  const u = afi === Afi.IPV4 && safi === Safi.UNICAST
    ? { withdrawn: [], attributes: {}, nlri: [] }
    : { withdrawn: [], attributes: {}, nlri: [], mpUnreach: { afi, safi, withdrawn: [] } }
  const r = encodeUpdate(u, { as4: true, extendedMessage: false, addPath: new Set() })
  if (Result.isFailure(r)) throw r.failure
  return r.success
}

/** The family an UPDATE marks End-of-RIB for, or undefined (RFC 4724 §2). */
export const endOfRib = (u: Update): { readonly afi: number; readonly safi: number } | undefined => {
  if (u.withdrawn.length > 0 || u.nlri.length > 0 || u.mpReach !== undefined || u.errors !== undefined) return undefined
  if (Object.keys(u.attributes).length > 0) return undefined
  if (u.mpUnreach === undefined) return { afi: Afi.IPV4, safi: Safi.UNICAST }
  if (u.mpUnreach.withdrawn.length === 0 && (u.mpUnreach.rawWithdrawn?.length ?? 0) === 0) {
    return { afi: u.mpUnreach.afi, safi: u.mpUnreach.safi }
  }
  return undefined
}

export interface AnnounceBatch {
  readonly afi: 1 | 2
  readonly safi?: number
  /** Attributes shared by every prefix, encoded once (NEXT_HOP is used for IPv4 unicast only). */
  readonly attributes: PathAttributes
  /** For MP families: the MP_REACH_NLRI next hop. */
  readonly nextHop?: Uint8Array
  readonly prefixes: ReadonlyArray<Prefix>
}

/** Scratch space for the attribute block `buildAnnouncements` copies into each message. */
const attributeWriter = new Writer(4096)

/** Encodes prefixes from `ps[i]` on while they fit in `room` octets; returns the index of the first left over. */
const packPrefixes = (w: Writer, ps: ReadonlyArray<Prefix>, i: number, addPath: boolean, room: number): number => {
  while (i < ps.length) {
    const p = ps[i]!
    const n = prefixWireLength(p, addPath)
    if (n > room) break
    room -= n
    encodePrefix(w, p, addPath)
    i++
  }
  return i
}

/**
 * Packs prefixes sharing one attribute set into as few UPDATEs as the message size allows (attributes
 * encoded once, copied per message). IPv4 unicast uses the NLRI field; other families MP_REACH_NLRI.
 */
export const buildAnnouncements = (batch: AnnounceBatch, ctx: CodecContext): Result.Result<Uint8Array[], EncodeError> => {
  try {
    const safi = batch.safi ?? Safi.UNICAST
    const classic = batch.afi === Afi.IPV4 && safi === Safi.UNICAST && batch.nextHop === undefined
    const addPath = ctx.addPath.has(familyKey(batch.afi, safi))
    // A next hop the receiver must reject (none at all, say) would cost the peer the family (RFC 7606 §7.11).
    if (!classic && !validNextHopLength(batch.afi, safi, batch.nextHop?.length ?? 0)) {
      throw new EncodeError({ detail: `MP_REACH_NLRI next hop of ${batch.nextHop?.length ?? 0} octets for AFI ${batch.afi} SAFI ${safi}` })
    }
    const max = maxMessageLength(ctx)
    const attrW = attributeWriter.reset()
    if (classic) encodeAttributes(attrW, batch.attributes, ctx)
    else {
      // RFC 4760 §3: an UPDATE whose only NLRI are in MP_REACH_NLRI SHOULD NOT carry NEXT_HOP.
      const { nextHop: _classicNextHop, ...mpAttributes } = batch.attributes
      encodeAttributes(attrW, mpAttributes, ctx)
    }
    // A view, not a copy: nothing below writes to attributeWriter.
    const attrs = attrW.peek(0)
    const out: Uint8Array[] = []
    const w = sharedWriter
    let i = 0
    const ps = batch.prefixes
    while (i < ps.length) {
      w.reset()
      const at = writeHeaderStart(w)
      w.u16(0) // no withdrawals
      const aStart = w.pos
      w.u16(0)
      let mpAt = -1
      let mpVs = -1
      if (!classic) {
        mpAt = w.pos
        w.u8(AttrFlag.OPTIONAL | AttrFlag.EXTENDED_LENGTH)
        w.u8(AttrType.MP_REACH_NLRI)
        w.u16(0)
        mpVs = w.pos
        w.u16(batch.afi)
        w.u8(safi)
        const nh = batch.nextHop ?? new Uint8Array(0)
        w.u8(nh.length)
        w.bytes(nh)
        w.u8(0)
      }
      // Room left for NLRI once the attributes are in.
      const fixed = w.pos - at + attrs.length
      if (fixed + prefixWireLength(ps[i]!, addPath) > max) throw new EncodeError({ detail: "attributes leave no room for NLRI" })
      let room = max - fixed
      if (!classic) {
        // prefixes go inside MP_REACH before the other attributes
        i = packPrefixes(w, ps, i, addPath, room)
        w.patchU16(mpAt + 2, w.pos - mpVs)
        w.bytes(attrs)
        w.patchU16(aStart, w.pos - aStart - 2)
      } else {
        w.bytes(attrs)
        w.patchU16(aStart, w.pos - aStart - 2)
        i = packPrefixes(w, ps, i, addPath, room)
      }
      w.patchU16(at + 16, w.pos - at)
      out.push(w.copy(at))
    }
    return Result.succeed(out)
  } catch (e) {
    return Result.fail(e instanceof EncodeError ? e : new EncodeError({ detail: String(e) }))
  }
}

/** Packs withdrawals of one family into as few UPDATEs as the message size allows. */
export const buildWithdrawals = (
  afi: 1 | 2,
  prefixes: ReadonlyArray<Prefix>,
  ctx: CodecContext,
  safi: number = Safi.UNICAST
): Result.Result<Uint8Array[], EncodeError> => {
  try {
    const classic = afi === Afi.IPV4 && safi === Safi.UNICAST
    const addPath = ctx.addPath.has(familyKey(afi, safi))
    const max = maxMessageLength(ctx)
    const out: Uint8Array[] = []
    const w = sharedWriter
    let i = 0
    while (i < prefixes.length) {
      w.reset()
      const at = writeHeaderStart(w)
      if (classic) {
        const ws = w.pos
        w.u16(0)
        let room = max - (w.pos - at) - 2
        while (i < prefixes.length && prefixWireLength(prefixes[i]!, addPath) <= room) {
          room -= prefixWireLength(prefixes[i]!, addPath)
          encodePrefix(w, prefixes[i++]!, addPath)
        }
        w.patchU16(ws, w.pos - ws - 2)
        w.u16(0)
      } else {
        w.u16(0)
        const aStart = w.pos
        w.u16(0)
        const mpAt = w.pos
        w.u8(AttrFlag.OPTIONAL | AttrFlag.EXTENDED_LENGTH)
        w.u8(AttrType.MP_UNREACH_NLRI)
        w.u16(0)
        const vs = w.pos
        w.u16(afi)
        w.u8(safi)
        let room = max - (w.pos - at)
        while (i < prefixes.length && prefixWireLength(prefixes[i]!, addPath) <= room) {
          room -= prefixWireLength(prefixes[i]!, addPath)
          encodePrefix(w, prefixes[i++]!, addPath)
        }
        w.patchU16(mpAt + 2, w.pos - vs)
        w.patchU16(aStart, w.pos - aStart - 2)
      }
      w.patchU16(at + 16, w.pos - at)
      out.push(w.copy(at))
    }
    return Result.succeed(out)
  } catch (e) {
    return Result.fail(e instanceof EncodeError ? e : new EncodeError({ detail: String(e) }))
  }
}

