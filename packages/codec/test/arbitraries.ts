/**
 * fast-check arbitraries for every message shape the codec models, plus the helpers property tests share
 * (seeded parameters, an independent wire-length oracle, byte mutations, structured garbage). Benchmarks
 * and other packages may reuse them: the package exports only `src`, so import this file by relative path
 * (e.g. `../../codec/test/arbitraries.ts`).
 *
 * Every generated value is *normalised*: it is exactly what `decode(encode(value))` gives back, so round-trip
 * properties can compare with deep equality. Each normalisation is written next to the arbitrary that
 * applies it, with the reason (the wire cannot express the difference, or the RFC defines the loss). Some
 * values are deliberately too long for the negotiated message size; `messageWireLength` says which.
 */
import fc from "fast-check"
import { inspect, isDeepStrictEqual } from "node:util"
import {
  Afi,
  AS_TRANS,
  AttrType,
  CapabilityCode,
  familyKey,
  HEADER_LENGTH,
  MAX_MESSAGE_LENGTH,
  maxMessageLength,
  Safi,
  SegmentType
} from "../src/index.ts"
import type {
  Aggregator,
  AnnounceBatch,
  AsPath,
  AsPathSegment,
  Capability,
  CodecContext,
  ExtendedCommunity,
  Keepalive,
  LargeCommunity,
  Message,
  MpReach,
  MpUnreach,
  Notification,
  Open,
  Origin,
  PathAttributes,
  Prefix,
  RouteRefresh,
  UnknownAttribute,
  Update
} from "../src/index.ts"

// ---------------------------------------------------------------------------------------------------
// Reproducibility

/**
 * Every property runs from one fixed seed, so a CI failure replays locally; set FC_SEED to explore other
 * seeds (fast-check prints the seed and shrink path of any counterexample) and FC_RUNS_FACTOR to run each
 * property that many times longer (a soak: `FC_SEED=7 FC_RUNS_FACTOR=20 npx vitest run packages/codec`).
 */
export const SEED: number = process.env["FC_SEED"] === undefined ? 0x5b6c : Number(process.env["FC_SEED"])
const RUNS_FACTOR = process.env["FC_RUNS_FACTOR"] === undefined ? 1 : Number(process.env["FC_RUNS_FACTOR"])

/**
 * Deep strict equality (prototypes, typed array contents, absent vs undefined keys) as a cheap check. A
 * failing property is re-run many times while fast-check shrinks it, and building an assertion diff of a
 * large UPDATE at every attempt would take minutes; this only formats the (shrunk) final failure briefly.
 */
export const same = (actual: unknown, expected: unknown, what: string): void => {
  if (isDeepStrictEqual(actual, expected)) return
  const show = (v: unknown): string => inspect(v, { depth: 8, maxArrayLength: 24, breakLength: Infinity })
  throw new Error(`${what} differs\n  actual:   ${show(actual)}\n  expected: ${show(expected)}`)
}

export const params = (numRuns: number): { readonly numRuns: number; readonly seed: number } => ({
  numRuns: Math.max(1, Math.round(numRuns * RUNS_FACTOR)),
  seed: SEED
})

// ---------------------------------------------------------------------------------------------------
// Numbers

export const u8: fc.Arbitrary<number> = fc.integer({ min: 0, max: 0xff })
export const u16: fc.Arbitrary<number> = fc.integer({ min: 0, max: 0xffff })
export const u32: fc.Arbitrary<number> = fc.integer({ min: 0, max: 0xffffffff })

/** AS numbers biased toward the interesting ones: 2-octet, 4-octet, and the RFC 6793 boundary values. */
export const asnArb: fc.Arbitrary<number> = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 1, max: 0xffff }) },
  { weight: 3, arbitrary: fc.integer({ min: 0x10000, max: 0xffffffff }) },
  { weight: 1, arbitrary: fc.constantFrom(0, AS_TRANS, 0xffff, 0x10000, 0xffffffff) }
)
const asn16Arb: fc.Arbitrary<number> = fc.oneof(fc.integer({ min: 1, max: 0xffff }), fc.constantFrom(0, AS_TRANS, 0xffff))

/** Mostly short lists, now and then one as long as `max` (to reach the message size limits). */
export const listOf = <T>(arb: fc.Arbitrary<T>, max: number, min = 0, bigWeight = 1): fc.Arbitrary<T[]> =>
  fc.oneof(
    { weight: 5, arbitrary: fc.array(arb, { minLength: min, maxLength: Math.min(max, 12) }) },
    { weight: bigWeight, arbitrary: fc.array(arb, { minLength: min, maxLength: max, size: "max" }) }
  )

/**
 * Opaque byte strings (payloads the codec carries but does not interpret). Drawn as a length and a seed
 * that fills them, so a failing case shrinks by length in a few steps instead of octet by octet (a few
 * thousand octets shrunk one value at a time took minutes). Lengths are spread over the whole range.
 */
export const bytesArb = (maxLength: number, minLength = 0): fc.Arbitrary<Uint8Array> =>
  fc
    .tuple(fc.integer({ min: minLength, max: maxLength }), u32)
    .map(([n, seed]) => {
      const out = new Uint8Array(n)
      let x = seed | 1
      for (let i = 0; i < n; i++) {
        // xorshift32: any fill will do, it only has to be deterministic
        x ^= x << 13
        x ^= x >>> 17
        x ^= x << 5
        out[i] = x & 0xff
      }
      return out
    })

/**
 * Caps how many shrunk candidates fast-check tries after a failure: the values here can be large UPDATEs,
 * and an unbounded shrink of one would make a broken codec cost minutes per property.
 */
export const capShrink = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T> => fc.limitShrink(arb, 400)

// ---------------------------------------------------------------------------------------------------
// Context

/** The families ADD-PATH may be negotiated for in generated contexts (decoded families only: raw ones ignore it). */
export const ADD_PATH_FAMILIES: ReadonlyArray<number> = [
  familyKey(Afi.IPV4, Safi.UNICAST),
  familyKey(Afi.IPV6, Safi.UNICAST),
  familyKey(Afi.IPV4, Safi.MULTICAST),
  familyKey(Afi.IPV6, Safi.MULTICAST)
]

/** Any negotiated state: 2- or 4-octet AS, classic or extended messages, ADD-PATH per family, iBGP or not. */
export const contextArb: fc.Arbitrary<CodecContext> = fc
  .record(
    {
      as4: fc.boolean(),
      extendedMessage: fc.boolean(),
      addPath: fc.subarray([...ADD_PATH_FAMILIES]),
      internal: fc.boolean()
    },
    { requiredKeys: ["as4", "extendedMessage", "addPath"], noNullPrototype: true }
  )
  .map((c) => ({ ...c, addPath: new Set(c.addPath) }))

const addPathFor = (ctx: CodecContext, afi: number, safi: number): boolean => ctx.addPath.has(familyKey(afi, safi))

// ---------------------------------------------------------------------------------------------------
// Prefixes

const mask = (bits: number): number => (bits <= 0 ? 0 : bits >= 32 ? 0xffffffff : (0xffffffff << (32 - bits)) >>> 0)

/**
 * A prefix of family `afi`. Normalised: bits past the length are zero (RFC 4271 §4.3 says they are
 * irrelevant; decode clears them), IPv4 uses `w0` only, and `pathId` is 0 unless ADD-PATH is on for the
 * family (RFC 7911 §3: without it there is no path identifier on the wire).
 */
export const prefixArb = (afi: 1 | 2, addPath: boolean): fc.Arbitrary<Prefix> =>
  fc
    .record(
      {
        length: fc.integer({ min: 0, max: afi === Afi.IPV4 ? 32 : 128 }),
        w0: u32,
        w1: u32,
        w2: u32,
        w3: u32,
        pathId: addPath ? u32 : fc.constant(0)
      },
      { noNullPrototype: true }
    )
    .map(({ length, w0, w1, w2, w3, pathId }): Prefix =>
      afi === Afi.IPV4
        ? { afi, length, w0: (w0 & mask(length)) >>> 0, w1: 0, w2: 0, w3: 0, pathId }
        : {
          afi,
          length,
          w0: (w0 & mask(length)) >>> 0,
          w1: (w1 & mask(length - 32)) >>> 0,
          w2: (w2 & mask(length - 64)) >>> 0,
          w3: (w3 & mask(length - 96)) >>> 0,
          pathId
        }
    )

// ---------------------------------------------------------------------------------------------------
// Path attributes

const needs4 = (asn: number): boolean => asn > 0xffff
const isConfed = (s: AsPathSegment): boolean =>
  s.type === SegmentType.AS_CONFED_SEQUENCE || s.type === SegmentType.AS_CONFED_SET
/** The segments RFC 6793 §4.2.2 carries in AS4_PATH (confederation segments are not). */
export const as4Segments = (path: AsPath): AsPath => path.filter((s) => !isConfed(s))
/** Whether an encoder toward an OLD speaker must add AS4_PATH: a carried segment holds a 4-octet AS. */
export const pathNeedsAs4 = (path: AsPath): boolean => as4Segments(path).some((s) => s.asns.some(needs4))

const segmentArb = (types: ReadonlyArray<AsPathSegment["type"]>, asn: fc.Arbitrary<number>): fc.Arbitrary<AsPathSegment> =>
  fc.record(
    { type: fc.constantFrom(...types), asns: listOf(asn, 255, 1) },
    { noNullPrototype: true }
  )

/**
 * AS_PATH as `PathAttributes.asPath` holds it (the true path). Segments hold 1..255 ASes (the wire count
 * is one octet and zero is malformed, RFC 7606 §7.2). Adjacent AS_SEQUENCEs and AS_TRANS values are kept:
 * they survive a round trip.
 *
 * Between NEW speakers (as4) any segment order is allowed. Toward an OLD speaker the path travels as
 * AS_PATH (2-octet, AS_TRANS for big ASes) plus AS4_PATH without confederation segments (RFC 6793 §4.2.2),
 * and the receiver rebuilds it by keeping only the *leading* confederation segments of AS_PATH (§4.2.3).
 * So, normalised when as4 is off: confederation segments come first (RFC 5065 §5: members prepend them;
 * they never follow a non-confederation segment) and hold 2-octet ASes only (a confederation containing an
 * OLD speaker cannot use 4-octet member ASes: nothing could carry them).
 */
export const asPathArb = (as4: boolean): fc.Arbitrary<AsPath> =>
  as4
    ? fc.array(
      segmentArb([SegmentType.AS_SET, SegmentType.AS_SEQUENCE, SegmentType.AS_CONFED_SEQUENCE, SegmentType.AS_CONFED_SET], asnArb),
      { maxLength: 6 }
    )
    : fc
      .tuple(
        fc.array(segmentArb([SegmentType.AS_CONFED_SEQUENCE, SegmentType.AS_CONFED_SET], asn16Arb), { maxLength: 2 }),
        fc.array(segmentArb([SegmentType.AS_SET, SegmentType.AS_SEQUENCE], asnArb), { maxLength: 5 })
      )
      .map(([confed, rest]) => [...confed, ...rest])

/** Attribute type codes the codec interprets (MP_REACH/MP_UNREACH included): never generated as unknown. */
export const KNOWN_ATTRIBUTE_TYPES: ReadonlySet<number> = new Set(Object.values(AttrType))

/**
 * Unrecognized optional attributes. Normalised: the Optional bit is set (an unrecognized *well-known*
 * attribute is an error, RFC 4271 §6.3), flags are ones RFC 4271 §4.3 allows (Partial only with
 * Transitive) and never carry the Extended Length bit (decode drops it; encode chooses it from the value
 * length), at most one per type (RFC 7606 §3 keeps only the first) and sorted by type (decode sorts them).
 */
export const unknownAttributesArb: fc.Arbitrary<UnknownAttribute[]> = fc
  .uniqueArray(
    fc.record(
      {
        flags: fc.constantFrom(0x80, 0xc0, 0xe0),
        type: u8.filter((t) => !KNOWN_ATTRIBUTE_TYPES.has(t)),
        value: fc.oneof(
          { weight: 4, arbitrary: bytesArb(16) },
          { weight: 1, arbitrary: bytesArb(300) },
          // Around the 1-octet Attribute Length limit, where the Extended Length bit starts.
          { weight: 1, arbitrary: fc.constantFrom(254, 255, 256).chain((n) => bytesArb(n, n)) }
        )
      },
      { noNullPrototype: true }
    ),
    { minLength: 1, maxLength: 4, selector: (a) => a.type }
  )
  .map((xs) => xs.sort((a, b) => a.type - b.type))

const extCommunityArb: fc.Arbitrary<ExtendedCommunity> = fc.record({ hi: u32, lo: u32 }, { noNullPrototype: true })
const largeCommunityArb: fc.Arbitrary<LargeCommunity> = fc.record(
  { global: u32, local1: u32, local2: u32 },
  { noNullPrototype: true }
)
const aggregatorArb: fc.Arbitrary<Aggregator> = fc.record({ asn: asnArb, address: u32 }, { noNullPrototype: true })
const originArb: fc.Arbitrary<Origin> = fc.constantFrom<Origin>(0, 1, 2)

/** Which well-known attributes must be present (RFC 4271 §5.1, RFC 4760 §3, RFC 7606 §3 d). */
export interface Mandatory {
  /** ORIGIN and AS_PATH: the UPDATE carries reachable NLRI. */
  readonly reachable: boolean
  /** NEXT_HOP: IPv4 NLRI in the classic NLRI field. */
  readonly nextHop: boolean
  /** LOCAL_PREF: reachable NLRI from an internal peer. */
  readonly localPref: boolean
}

/**
 * A `PathAttributes` value. Normalised: attributes are absent rather than `undefined`; lists are never
 * empty (an empty COMMUNITIES, CLUSTER_LIST, EXTENDED or LARGE community attribute is malformed, RFC 7606
 * §7.8/§7.10/§7.14 and RFC 8092 §6, so the encoder omits them); `atomicAggregate` is `true` or absent. When
 * as4 is off, a path that needs AS4_PATH comes with an AGGREGATOR that is either absent, AS_TRANS or a
 * 4-octet AS: RFC 6793 §4.2.3 makes a receiver ignore AS4_PATH when AGGREGATOR holds a real 2-octet AS
 * (the aggregating speaker was OLD), so that combination decodes to the AS_TRANS path by design.
 */
export const attributesArb = (ctx: CodecContext, mandatory: Mandatory): fc.Arbitrary<PathAttributes> =>
  fc
    .tuple(
      fc.record(
        {
          origin: originArb,
          asPath: asPathArb(ctx.as4),
          nextHop: u32,
          med: u32,
          localPref: u32,
          atomicAggregate: fc.constant(true as const),
          aggregator: aggregatorArb,
          communities: listOf(u32, 1100, 1),
          originatorId: u32,
          clusterList: listOf(u32, 20, 1),
          extendedCommunities: listOf(extCommunityArb, 40, 1),
          largeCommunities: listOf(largeCommunityArb, 40, 1),
          otc: u32,
          unknown: unknownAttributesArb
        },
        { requiredKeys: [], noNullPrototype: true }
      ),
      originArb,
      asPathArb(ctx.as4),
      u32,
      u32
    )
    .map(([a, origin, asPath, nextHop, localPref]) => {
      const out: { -readonly [K in keyof PathAttributes]: PathAttributes[K] } = { ...a }
      if (mandatory.reachable) {
        out.origin ??= origin
        out.asPath ??= asPath
      }
      if (mandatory.nextHop) out.nextHop ??= nextHop
      if (mandatory.localPref) out.localPref ??= localPref
      const agg = out.aggregator
      if (
        !ctx.as4 && agg !== undefined && out.asPath !== undefined && pathNeedsAs4(out.asPath) && !needs4(agg.asn) &&
        agg.asn !== AS_TRANS
      ) {
        out.aggregator = { asn: agg.asn + 0x10000, address: agg.address }
      }
      return out as PathAttributes
    })

// ---------------------------------------------------------------------------------------------------
// MP_REACH / MP_UNREACH

/** The families decoded into `Prefix`es (RFC 4760 with IPv4/IPv6 unicast and multicast). */
const DECODED_FAMILIES: ReadonlyArray<readonly [1 | 2, number]> = [
  [Afi.IPV4, Safi.UNICAST],
  [Afi.IPV6, Safi.UNICAST],
  [Afi.IPV4, Safi.MULTICAST],
  [Afi.IPV6, Safi.MULTICAST]
]

/** Families kept as raw NLRI bytes: labeled unicast, VPN, EVPN, BGP-LS, FlowSpec, and arbitrary AFIs. */
export const rawFamilyArb: fc.Arbitrary<readonly [number, number]> = fc.oneof(
  fc.constantFrom<readonly [number, number]>(
    [Afi.IPV4, Safi.MPLS_LABEL],
    [Afi.IPV4, Safi.MPLS_VPN],
    [Afi.IPV6, Safi.MPLS_VPN],
    [Afi.L2VPN, Safi.EVPN],
    [Afi.BGP_LS, Safi.BGP_LS],
    [Afi.IPV4, Safi.FLOWSPEC],
    [Afi.IPV6, Safi.FLOWSPEC]
  ),
  fc.tuple(fc.integer({ min: 3, max: 0xffff }), u8)
)

/**
 * Next hop lengths a decoded family accepts: IPv6 16 or 32 (global + link-local, RFC 2545 §3), IPv4 4 or,
 * with RFC 8950, 16/32. Raw families: any length (the codec does not interpret them).
 */
const nextHopArb = (afi: number, decoded: boolean): fc.Arbitrary<Uint8Array> =>
  !decoded
    ? bytesArb(40)
    : (afi === Afi.IPV4 ? fc.constantFrom(4, 16, 32) : fc.constantFrom(16, 32)).chain((n) => bytesArb(n, n))

/**
 * MP_REACH_NLRI. Normalised: decoded families carry `nlri` and no `rawNlri` key; raw families carry
 * `nlri: []` and `rawNlri` (possibly empty). Prefixes have the family's AFI and ADD-PATH setting.
 */
export const mpReachArb = (ctx: CodecContext): fc.Arbitrary<MpReach> =>
  fc.oneof(
    {
      weight: 3,
      arbitrary: fc.constantFrom(...DECODED_FAMILIES).chain(([afi, safi]) =>
        fc.record(
          {
            afi: fc.constant(afi),
            safi: fc.constant(safi),
            nextHop: nextHopArb(afi, true),
            nlri: listOf(prefixArb(afi, addPathFor(ctx, afi, safi)), afi === Afi.IPV4 ? 1200 : 500)
          },
          { noNullPrototype: true }
        )
      )
    },
    {
      weight: 2,
      arbitrary: rawFamilyArb.chain(([afi, safi]) =>
        fc.record(
          {
            afi: fc.constant(afi),
            safi: fc.constant(safi),
            nextHop: nextHopArb(afi, false),
            nlri: fc.constant([]),
            rawNlri: fc.oneof({ weight: 4, arbitrary: bytesArb(40) }, { weight: 1, arbitrary: bytesArb(2000) })
          },
          { noNullPrototype: true }
        )
      )
    }
  )

/** MP_UNREACH_NLRI, normalised like `mpReachArb` (`withdrawn: []` plus `rawWithdrawn` for raw families). */
export const mpUnreachArb = (ctx: CodecContext): fc.Arbitrary<MpUnreach> =>
  fc.oneof(
    fc.constantFrom(...DECODED_FAMILIES).chain(([afi, safi]) =>
      fc.record(
        {
          afi: fc.constant(afi),
          safi: fc.constant(safi),
          withdrawn: listOf(prefixArb(afi, addPathFor(ctx, afi, safi)), afi === Afi.IPV4 ? 1200 : 500)
        },
        { noNullPrototype: true }
      )
    ),
    rawFamilyArb.chain(([afi, safi]) =>
      fc.record(
        {
          afi: fc.constant(afi),
          safi: fc.constant(safi),
          withdrawn: fc.constant([]),
          rawWithdrawn: fc.oneof({ weight: 4, arbitrary: bytesArb(40) }, { weight: 1, arbitrary: bytesArb(2000) })
        },
        { noNullPrototype: true }
      )
    )
  )

// ---------------------------------------------------------------------------------------------------
// Messages

const hasReachable = (nlri: ReadonlyArray<Prefix>, mpReach: MpReach | undefined): boolean =>
  nlri.length > 0 || (mpReach !== undefined && (mpReach.nlri.length > 0 || (mpReach.rawNlri?.length ?? 0) > 0))

/**
 * An UPDATE valid under `ctx`. Normalised: when it carries reachable NLRI it has the mandatory attributes
 * (otherwise decode reports them missing and treats the UPDATE as withdraw, RFC 7606 §3 d); no `errors`.
 */
export const updateArb = (ctx: CodecContext): fc.Arbitrary<Update> => {
  const v4 = prefixArb(Afi.IPV4, addPathFor(ctx, Afi.IPV4, Safi.UNICAST))
  return fc
    .record(
      {
        withdrawn: listOf(v4, 1200),
        nlri: listOf(v4, 1200),
        mpReach: mpReachArb(ctx),
        mpUnreach: mpUnreachArb(ctx)
      },
      { requiredKeys: ["withdrawn", "nlri"], noNullPrototype: true }
    )
    .chain((parts) => {
      const reachable = hasReachable(parts.nlri, parts.mpReach)
      return attributesArb(ctx, {
        reachable,
        nextHop: parts.nlri.length > 0,
        localPref: reachable && ctx.internal === true
      }).map((attributes): Update => ({ _tag: "Update", ...parts, attributes }))
    })
}

const KNOWN_CAPABILITY_CODES: ReadonlySet<number> = new Set(Object.values(CapabilityCode))

/** Text that survives UTF-8 both ways (well-formed code points; decode would turn lone surrogates into U+FFFD). */
const textArb = (maxLength: number): fc.Arbitrary<string> =>
  fc.oneof(fc.string({ unit: "grapheme-ascii", maxLength }), fc.string({ unit: "binary", maxLength }))

/**
 * Every capability the codec models. Normalised: reserved bits are zero (the Multiprotocol reserved octet,
 * the GR flag bits other than R and N, LLGR flags other than F), GR restart time fits 12 bits, LLGR stale
 * time 24 bits; Unknown uses a code the codec does not interpret. Some values are too long for the
 * 1-octet capability length on purpose: encoding them must fail.
 */
export const capabilityArb: fc.Arbitrary<Capability> = fc.oneof(
  fc.record({ _tag: fc.constant("Multiprotocol" as const), afi: u16, safi: u8 }, { noNullPrototype: true }),
  fc.constant({ _tag: "RouteRefresh" as const }),
  fc.record(
    {
      _tag: fc.constant("ExtendedNextHop" as const),
      entries: listOf(fc.record({ afi: u16, safi: u16, nextHopAfi: u16 }, { noNullPrototype: true }), 50)
    },
    { noNullPrototype: true }
  ),
  fc.constant({ _tag: "ExtendedMessage" as const }),
  fc.record({ _tag: fc.constant("Role" as const), role: u8 }, { noNullPrototype: true }),
  fc.record(
    {
      _tag: fc.constant("GracefulRestart" as const),
      restarting: fc.boolean(),
      notification: fc.boolean(),
      restartTime: fc.integer({ min: 0, max: 0xfff }),
      families: listOf(fc.record({ afi: u16, safi: u8, forwarding: fc.boolean() }, { noNullPrototype: true }), 70)
    },
    { noNullPrototype: true }
  ),
  fc.record({ _tag: fc.constant("FourOctetAs" as const), asn: u32 }, { noNullPrototype: true }),
  fc.record(
    {
      _tag: fc.constant("AddPath" as const),
      families: listOf(fc.record({ afi: u16, safi: u8, mode: u8 }, { noNullPrototype: true }), 70)
    },
    { noNullPrototype: true }
  ),
  fc.constant({ _tag: "EnhancedRouteRefresh" as const }),
  fc.record(
    {
      _tag: fc.constant("LongLivedGracefulRestart" as const),
      families: listOf(
        fc.record(
          { afi: u16, safi: u8, forwarding: fc.boolean(), staleTime: fc.integer({ min: 0, max: 0xffffff }) },
          { noNullPrototype: true }
        ),
        40
      )
    },
    { noNullPrototype: true }
  ),
  fc.record({ _tag: fc.constant("Fqdn" as const), hostname: textArb(70), domain: textArb(70) }, { noNullPrototype: true }),
  fc.record(
    {
      _tag: fc.constant("Unknown" as const),
      code: u8.filter((c) => !KNOWN_CAPABILITY_CODES.has(c)),
      value: fc.oneof({ weight: 5, arbitrary: bytesArb(20) }, { weight: 1, arbitrary: bytesArb(260) })
    },
    { noNullPrototype: true }
  )
)

/** OPEN: any field values (the codec does not judge version, AS, hold time or identifier; the session does). */
export const openArb: fc.Arbitrary<Open> = fc
  .record(
    { version: u8, myAs: u16, holdTime: u16, bgpId: u32, capabilities: listOf(capabilityArb, 80) },
    { noNullPrototype: true }
  )
  .map((o): Open => ({ _tag: "Open", ...o }))

/** NOTIFICATION with any code, subcode and data; sometimes longer than the message limit allows. */
export const notificationArb: fc.Arbitrary<Notification> = fc
  .record(
    { code: u8, subcode: u8, data: fc.oneof({ weight: 5, arbitrary: bytesArb(64) }, { weight: 1, arbitrary: bytesArb(5000) }) },
    { noNullPrototype: true }
  )
  .map((n): Notification => ({ _tag: "Notification", ...n }))

export const keepaliveArb: fc.Arbitrary<Keepalive> = fc.constant({ _tag: "Keepalive" })

/** ROUTE-REFRESH (RFC 2918) with any RFC 7313 subtype. */
export const routeRefreshArb: fc.Arbitrary<RouteRefresh> = fc
  .record({ afi: u16, safi: u8, subtype: u8 }, { noNullPrototype: true })
  .map((r): RouteRefresh => ({ _tag: "RouteRefresh", ...r }))

export const messageArb = (ctx: CodecContext): fc.Arbitrary<Message> =>
  fc.oneof(
    { weight: 2, arbitrary: openArb },
    { weight: 5, arbitrary: updateArb(ctx) },
    { weight: 1, arbitrary: notificationArb },
    { weight: 1, arbitrary: keepaliveArb },
    { weight: 1, arbitrary: routeRefreshArb }
  )

/**
 * An `AnnounceBatch` for `buildAnnouncements`: IPv4 unicast in the classic NLRI field (NEXT_HOP attribute
 * mandatory), or IPv4/IPv6 unicast/multicast in MP_REACH_NLRI with a valid next hop (RFC 4760 §3). The
 * attributes hold what a receiver requires for reachable NLRI. Prefix lists go up to a few thousand so
 * that batches span several messages.
 */
export const announceBatchArb = (ctx: CodecContext): fc.Arbitrary<AnnounceBatch> =>
  fc.oneof(
    attributesArb(ctx, { reachable: true, nextHop: true, localPref: ctx.internal === true }).chain((attributes) =>
      listOf(prefixArb(Afi.IPV4, addPathFor(ctx, Afi.IPV4, Safi.UNICAST)), 3000, 0, 5).map((prefixes): AnnounceBatch => ({
        afi: Afi.IPV4,
        attributes,
        prefixes
      }))
    ),
    fc.tuple(fc.constantFrom(...DECODED_FAMILIES), fc.boolean()).chain(([[afi, safi], explicitSafi]) =>
      fc.record(
        {
          attributes: attributesArb(ctx, { reachable: true, nextHop: false, localPref: ctx.internal === true }),
          nextHop: nextHopArb(afi, true),
          prefixes: listOf(prefixArb(afi, addPathFor(ctx, afi, safi)), afi === Afi.IPV4 ? 3000 : 1500, 0, 5)
        },
        // The next hop is left out now and then: then the packer must refuse. (IPv4 unicast without one is
        // the classic batch above, which needs the NEXT_HOP attribute instead.)
        afi === Afi.IPV4 && safi === Safi.UNICAST
          ? { noNullPrototype: true }
          : { requiredKeys: ["attributes", "prefixes"], noNullPrototype: true }
      ).map((b): AnnounceBatch =>
        // SAFI defaults to unicast: leave it out sometimes to cover the default.
        safi === Safi.UNICAST && !explicitSafi ? { afi, ...b } : { afi, safi, ...b }
      )
    )
  )

/** A family and prefixes for `buildWithdrawals`. */
export const withdrawBatchArb = (ctx: CodecContext): fc.Arbitrary<{ afi: 1 | 2; safi: number; prefixes: Prefix[] }> =>
  fc.constantFrom(...DECODED_FAMILIES).chain(([afi, safi]) =>
    listOf(prefixArb(afi, addPathFor(ctx, afi, safi)), afi === Afi.IPV4 ? 3000 : 1500, 0, 5).map((prefixes) => ({
      afi,
      safi,
      prefixes
    }))
  )

/** A context and a message valid under it. */
export const ctxMessageArb: fc.Arbitrary<{ readonly ctx: CodecContext; readonly message: Message }> = capShrink(
  contextArb.chain((ctx) => messageArb(ctx).map((message) => ({ ctx, message })))
)

/** A context and an UPDATE valid under it. */
export const ctxUpdateArb: fc.Arbitrary<{ readonly ctx: CodecContext; readonly update: Update }> = capShrink(
  contextArb.chain((ctx) => updateArb(ctx).map((update) => ({ ctx, update })))
)

/** A context and a `buildAnnouncements` batch. */
export const ctxAnnounceBatchArb: fc.Arbitrary<{ readonly ctx: CodecContext; readonly batch: AnnounceBatch }> = capShrink(
  contextArb.chain((ctx) => announceBatchArb(ctx).map((batch) => ({ ctx, batch })))
)

/** A context and a `buildWithdrawals` batch. */
export const ctxWithdrawBatchArb: fc.Arbitrary<{
  readonly ctx: CodecContext
  readonly batch: { afi: 1 | 2; safi: number; prefixes: Prefix[] }
}> = capShrink(contextArb.chain((ctx) => withdrawBatchArb(ctx).map((batch) => ({ ctx, batch }))))

// ---------------------------------------------------------------------------------------------------
// Wire-length oracle, written from the RFC formats independently of the encoder

const attr = (valueLength: number): number => (valueLength > 255 ? 4 : 3) + valueLength
const prefixLength = (p: Prefix, addPath: boolean): number => (addPath ? 5 : 1) + ((p.length + 7) >> 3)
const prefixesLength = (ps: ReadonlyArray<Prefix>, addPath: boolean): number => {
  let n = 0
  for (const p of ps) n += prefixLength(p, addPath)
  return n
}
const pathValueLength = (path: AsPath, asSize: number): number => path.reduce((n, s) => n + 2 + s.asns.length * asSize, 0)

/** Octets `encodeAttributes` should write for `a` (without MP_REACH/MP_UNREACH). */
export const attributesWireLength = (a: PathAttributes, ctx: CodecContext): number => {
  let n = 0
  if (a.origin !== undefined) n += attr(1)
  if (a.asPath !== undefined) {
    n += attr(pathValueLength(a.asPath, ctx.as4 ? 4 : 2))
    // RFC 6793 §4.2.2: toward an OLD speaker the real path rides in AS4_PATH, confederation segments left out.
    if (!ctx.as4 && pathNeedsAs4(a.asPath)) n += attr(pathValueLength(as4Segments(a.asPath), 4))
  }
  if (a.nextHop !== undefined) n += attr(4)
  if (a.med !== undefined) n += attr(4)
  if (a.localPref !== undefined) n += attr(4)
  if (a.atomicAggregate === true) n += attr(0)
  if (a.aggregator !== undefined) {
    n += attr(ctx.as4 ? 8 : 6)
    if (!ctx.as4 && needs4(a.aggregator.asn)) n += attr(8) // AS4_AGGREGATOR
  }
  if (a.communities !== undefined && a.communities.length > 0) n += attr(4 * a.communities.length)
  if (a.originatorId !== undefined) n += attr(4)
  if (a.clusterList !== undefined && a.clusterList.length > 0) n += attr(4 * a.clusterList.length)
  if (a.extendedCommunities !== undefined && a.extendedCommunities.length > 0) n += attr(8 * a.extendedCommunities.length)
  if (a.largeCommunities !== undefined && a.largeCommunities.length > 0) n += attr(12 * a.largeCommunities.length)
  if (a.otc !== undefined) n += attr(4)
  for (const u of a.unknown ?? []) n += attr(u.value.length)
  return n
}

/** Octets of the whole UPDATE (header included) `encodeMessage` should produce. */
export const updateWireLength = (u: Update, ctx: CodecContext): number => {
  const v4 = addPathFor(ctx, Afi.IPV4, Safi.UNICAST)
  let attrs = attributesWireLength(u.attributes, ctx)
  if (u.mpUnreach !== undefined) {
    const m = u.mpUnreach
    attrs += attr(3 + (m.rawWithdrawn?.length ?? prefixesLength(m.withdrawn, addPathFor(ctx, m.afi, m.safi))))
  }
  if (u.mpReach !== undefined) {
    const m = u.mpReach
    attrs += attr(5 + m.nextHop.length + (m.rawNlri?.length ?? prefixesLength(m.nlri, addPathFor(ctx, m.afi, m.safi))))
  }
  return HEADER_LENGTH + 2 + prefixesLength(u.withdrawn, v4) + 2 + attrs + prefixesLength(u.nlri, v4)
}

const utf8Length = (s: string): number => new TextEncoder().encode(s).length

/** Octets of one capability value (RFC 5492 §4 and each capability's RFC). */
export const capabilityValueLength = (c: Capability): number => {
  switch (c._tag) {
    case "Multiprotocol":
    case "FourOctetAs":
      return 4
    case "RouteRefresh":
    case "ExtendedMessage":
    case "EnhancedRouteRefresh":
      return 0
    case "ExtendedNextHop":
      return 6 * c.entries.length
    case "Role":
      return 1
    case "GracefulRestart":
      return 2 + 4 * c.families.length
    case "AddPath":
      return 4 * c.families.length
    case "LongLivedGracefulRestart":
      return 7 * c.families.length
    case "Fqdn": {
      const h = utf8Length(c.hostname)
      const d = utf8Length(c.domain)
      return h > 255 || d > 255 ? Infinity : 2 + h + d
    }
    case "Unknown":
      return c.value.length
  }
}

/**
 * Octets of the OPEN (header included), or Infinity when it cannot be encoded (a capability longer than
 * its 1-octet length allows). RFC 9072 §2 extended parameters are used when forced or when the single
 * Capabilities parameter exceeds 255 octets.
 */
export const openWireLength = (o: Open, extendedParameters = false): number => {
  let caps = 0
  for (const c of o.capabilities) {
    const v = capabilityValueLength(c)
    if (v > 255) return Infinity
    caps += 2 + v
  }
  if (caps === 0) return 29
  return 29 + (extendedParameters || caps + 2 > 255 ? 6 : 2) + caps
}

/** The wire length of any message, and the limit it must respect under `ctx`. */
export const messageWireLength = (m: Message, ctx: CodecContext, extendedParameters = false): { length: number; limit: number } => {
  switch (m._tag) {
    case "Open":
      // RFC 8654 §4: OPEN is never extended.
      return { length: openWireLength(m, extendedParameters), limit: MAX_MESSAGE_LENGTH }
    case "Update":
      return { length: updateWireLength(m, ctx), limit: maxMessageLength(ctx) }
    case "Notification":
      return { length: HEADER_LENGTH + 2 + m.data.length, limit: maxMessageLength(ctx) }
    case "Keepalive":
      return { length: HEADER_LENGTH, limit: MAX_MESSAGE_LENGTH }
    case "RouteRefresh":
      return { length: HEADER_LENGTH + 4, limit: maxMessageLength(ctx) }
  }
}

// ---------------------------------------------------------------------------------------------------
// Byte mutations (for robustness properties)

export type Mutation =
  | { readonly kind: "flip"; readonly at: number; readonly bit: number }
  | { readonly kind: "set"; readonly at: number; readonly value: number }
  | { readonly kind: "tweak16"; readonly at: number; readonly delta: number }
  | { readonly kind: "truncate"; readonly at: number }
  | { readonly kind: "insert"; readonly at: number; readonly bytes: Uint8Array }
  | { readonly kind: "delete"; readonly at: number; readonly count: number }

/** A mutation at a position chosen as a fraction of the message (so it applies to any length). */
export const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }, { noNullPrototype: true }),
  fc.record({ kind: fc.constant("set" as const), at: fc.nat(), value: u8 }, { noNullPrototype: true }),
  // Length fields are 1 or 2 octets: nudging a 16-bit word by a little hits "off by a few" cases.
  fc.record({ kind: fc.constant("tweak16" as const), at: fc.nat(), delta: fc.integer({ min: -9, max: 9 }) }, { noNullPrototype: true }),
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }, { noNullPrototype: true }),
  fc.record({ kind: fc.constant("insert" as const), at: fc.nat(), bytes: bytesArb(8, 1) }, { noNullPrototype: true }),
  fc.record({ kind: fc.constant("delete" as const), at: fc.nat(), count: fc.integer({ min: 1, max: 8 }) }, { noNullPrototype: true })
)

/**
 * Applies mutations to a copy of `bytes`. With `fixLength` the header Length field is rewritten to the
 * new size afterwards, so the damage reaches the body decoders instead of stopping at the header check.
 */
export const mutate = (bytes: Uint8Array, mutations: ReadonlyArray<Mutation>, fixLength: boolean): Uint8Array => {
  let b = bytes.slice()
  for (const m of mutations) {
    if (b.length === 0) break
    const at = m.at % b.length
    switch (m.kind) {
      case "flip":
        b[at] = b[at]! ^ (1 << m.bit)
        break
      case "set":
        b[at] = m.value
        break
      case "tweak16": {
        if (at + 1 >= b.length) break
        const v = (((b[at]! << 8) | b[at + 1]!) + m.delta) & 0xffff
        b[at] = v >> 8
        b[at + 1] = v & 0xff
        break
      }
      case "truncate":
        b = b.slice(0, at)
        break
      case "insert": {
        const out = new Uint8Array(b.length + m.bytes.length)
        out.set(b.subarray(0, at))
        out.set(m.bytes, at)
        out.set(b.subarray(at), at + m.bytes.length)
        b = out
        break
      }
      case "delete": {
        const count = Math.min(m.count, b.length - at)
        const out = new Uint8Array(b.length - count)
        out.set(b.subarray(0, at))
        out.set(b.subarray(at + count), at)
        b = out
        break
      }
    }
  }
  if (fixLength && b.length >= 18 && b.length <= 0xffff) {
    b[16] = b.length >> 8
    b[17] = b.length & 0xff
  }
  return b
}

/** Cut points for splitting a stream into chunks (sorted, distinct, inside the stream). */
export const chunkingArb: fc.Arbitrary<ReadonlyArray<number>> = fc.array(fc.nat(), { maxLength: 40 })

export const chunk = (stream: Uint8Array, cuts: ReadonlyArray<number>): Uint8Array[] => {
  if (stream.length === 0) return []
  const points = [...new Set(cuts.map((c) => c % stream.length))].filter((c) => c > 0).sort((a, b) => a - b)
  const out: Uint8Array[] = []
  let prev = 0
  for (const p of points) {
    out.push(stream.slice(prev, p))
    prev = p
  }
  out.push(stream.slice(prev))
  return out
}

// ---------------------------------------------------------------------------------------------------
// Structured garbage: UPDATE bodies built from random attributes (right or wrong flags and lengths)

/** One path attribute as raw fields; `lengthDelta` makes the Attribute Length lie by a few octets. */
export interface RawAttribute {
  readonly flags: number
  readonly type: number
  readonly value: Uint8Array
  readonly lengthDelta: number
}

const attributeTypeArb: fc.Arbitrary<number> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...KNOWN_ATTRIBUTE_TYPES) },
  { weight: 1, arbitrary: u8 }
)

/** Flags biased toward the ones each type expects, with the Partial and Extended Length bits random. */
const rawFlagsArb: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(0x40, 0x80, 0xc0, 0xe0, 0x50, 0x90, 0xd0),
  u8
)

export const rawAttributeArb: fc.Arbitrary<RawAttribute> = fc.record(
  {
    flags: rawFlagsArb,
    type: attributeTypeArb,
    value: fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom(0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 16).chain((n) => bytesArb(n, n)) },
      // AS_PATH-like values: a segment header followed by some ASes.
      {
        weight: 1,
        arbitrary: fc
          .tuple(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 6 }), bytesArb(30))
          .map(([t, n, rest]) => Uint8Array.of(t, n, ...rest))
      },
      // MP_REACH/MP_UNREACH-like values: a family, a next hop length, and prefixes.
      {
        weight: 1,
        arbitrary: fc
          .tuple(fc.constantFrom(1, 2, 25), fc.constantFrom(1, 2, 70, 128), fc.constantFrom(0, 4, 16, 32, 5), bytesArb(40))
          .map(([afi, safi, nh, rest]) => Uint8Array.of(0, afi, safi, nh, ...rest))
      },
      { weight: 1, arbitrary: bytesArb(300) }
    ),
    lengthDelta: fc.oneof({ weight: 8, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: -3, max: 3 }) })
  },
  { noNullPrototype: true }
)

/** Serialises raw attributes; a 2-octet length is used when the Extended Length flag says so. */
export const serializeAttributes = (attrs: ReadonlyArray<RawAttribute>): Uint8Array => {
  const out: number[] = []
  for (const a of attrs) {
    const len = Math.max(0, a.value.length + a.lengthDelta)
    out.push(a.flags, a.type)
    if ((a.flags & 0x10) !== 0) out.push((len >> 8) & 0xff, len & 0xff)
    else out.push(len & 0xff)
    out.push(...a.value)
  }
  return Uint8Array.from(out)
}

/** Raw NLRI octets: mostly well-formed IPv4 prefixes, sometimes garbage. */
const rawNlriArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.array(fc.integer({ min: 0, max: 32 }).chain((len) => bytesArb((len + 7) >> 3, (len + 7) >> 3).map((b) => [len, ...b])), {
    maxLength: 6
  }).map((ps) => Uint8Array.from(ps.flat())),
  bytesArb(12)
)

/** An UPDATE body (after the header) whose attributes are random but framed as the RFC lays them out. */
export const rawUpdateBodyArb: fc.Arbitrary<Uint8Array> = capShrink(fc
  .record(
    { withdrawn: rawNlriArb, attrs: fc.array(rawAttributeArb, { maxLength: 8 }), nlri: rawNlriArb },
    { noNullPrototype: true }
  )
  .map(({ withdrawn, attrs, nlri }) => {
    const a = serializeAttributes(attrs)
    const body = new Uint8Array(2 + withdrawn.length + 2 + a.length + nlri.length)
    body[0] = withdrawn.length >> 8
    body[1] = withdrawn.length & 0xff
    body.set(withdrawn, 2)
    const at = 2 + withdrawn.length
    body[at] = a.length >> 8
    body[at + 1] = a.length & 0xff
    body.set(a, at + 2)
    body.set(nlri, at + 2 + a.length)
    return body
  }))

/** A whole message (header included) around `body`, with a correct Length field. */
export const frameMessage = (type: number, body: Uint8Array): Uint8Array => {
  const out = new Uint8Array(HEADER_LENGTH + body.length)
  out.fill(0xff, 0, 16)
  out[16] = (out.length >> 8) & 0xff
  out[17] = out.length & 0xff
  out[18] = type
  out.set(body, HEADER_LENGTH)
  return out
}
