/**
 * The messages we ask tshark to judge: every message type, every capability the codec models and every
 * path attribute it encodes, in both AS-number contexts. Each case is the message as we mean it (the
 * `Message` value) plus the context it is encoded under; `expected.ts` turns the same value into the
 * fields tshark should show, without going through our encoder.
 */
import {
  Afi,
  AttrFlag,
  CeaseSubcode,
  ErrorCode,
  encodeMessageUnsafe,
  ipv4Prefix,
  ipv6ToBytes,
  makeContext,
  parsePrefix,
  Role,
  RouteRefreshSubtype,
  Safi,
  SegmentType,
  shutdownNotification,
  familyKey
} from "@starling/codec"
import type { CodecContext, EncodeOptions, Message, PathAttributes, Prefix } from "@starling/codec"

export interface Case {
  readonly name: string
  readonly message: Message
  /** The context the message is encoded under (4-octet AS, ADD-PATH families, RFC 8654). */
  readonly ctx: CodecContext
  readonly options?: EncodeOptions
  /** Send in a TCP segment of its own. */
  readonly alone?: boolean
}

const p = (s: string, pathId = 0): Prefix => {
  const x = parsePrefix(s, pathId)
  if (x === undefined) throw new Error(`bad prefix ${s}`)
  return x
}
const ip = (s: string): number => {
  const parts = s.split(".").map(Number)
  return (((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0)
}
const v6 = (s: string): Uint8Array => {
  const b = ipv6ToBytes(s)
  if (b === undefined) throw new Error(`bad IPv6 address ${s}`)
  return b
}
const concat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, x) => n + x.length, 0))
  let o = 0
  for (const x of parts) {
    out.set(x, o)
    o += x.length
  }
  return out
}

const AS4 = makeContext({ as4: true })
const AS2 = makeContext({ as4: false })
const ADD_PATH = makeContext({
  as4: true,
  addPath: new Set([familyKey(Afi.IPV4, Safi.UNICAST), familyKey(Afi.IPV6, Safi.UNICAST)])
})
const EXTENDED = makeContext({ as4: true, extendedMessage: true })

const update = (
  attributes: PathAttributes,
  rest: { withdrawn?: Prefix[]; nlri?: Prefix[]; mpReach?: Extract<Message, { _tag: "Update" }>["mpReach"]; mpUnreach?: Extract<Message, { _tag: "Update" }>["mpUnreach"] } = {}
): Message => ({
  _tag: "Update",
  withdrawn: rest.withdrawn ?? [],
  nlri: rest.nlri ?? [],
  attributes,
  ...(rest.mpReach === undefined ? {} : { mpReach: rest.mpReach }),
  ...(rest.mpUnreach === undefined ? {} : { mpUnreach: rest.mpUnreach })
})

/** Every capability the codec models, with non-trivial values (per-AFI flags differ, stale times too). */
const allCapabilities: Extract<Message, { _tag: "Open" }>["capabilities"] = [
  { _tag: "Multiprotocol", afi: Afi.IPV4, safi: Safi.UNICAST },
  { _tag: "Multiprotocol", afi: Afi.IPV6, safi: Safi.UNICAST },
  { _tag: "RouteRefresh" },
  { _tag: "EnhancedRouteRefresh" },
  { _tag: "ExtendedNextHop", entries: [{ afi: Afi.IPV4, safi: Safi.UNICAST, nextHopAfi: Afi.IPV6 }, { afi: Afi.IPV4, safi: Safi.MPLS_VPN, nextHopAfi: Afi.IPV6 }] },
  { _tag: "ExtendedMessage" },
  { _tag: "Role", role: Role.CUSTOMER },
  {
    _tag: "GracefulRestart",
    restarting: true,
    notification: false,
    restartTime: 1234,
    families: [{ afi: Afi.IPV4, safi: Safi.UNICAST, forwarding: true }, { afi: Afi.IPV6, safi: Safi.UNICAST, forwarding: false }]
  },
  { _tag: "FourOctetAs", asn: 4_200_000_001 },
  { _tag: "AddPath", families: [{ afi: Afi.IPV4, safi: Safi.UNICAST, mode: 3 }, { afi: Afi.IPV6, safi: Safi.UNICAST, mode: 1 }] },
  {
    _tag: "LongLivedGracefulRestart",
    families: [
      { afi: Afi.IPV4, safi: Safi.UNICAST, forwarding: true, staleTime: 86_400 },
      { afi: Afi.IPV6, safi: Safi.UNICAST, forwarding: false, staleTime: 0xfffffe }
    ]
  },
  { _tag: "Fqdn", hostname: "rr1", domain: "pop.example.net" },
  // 131 is Cisco's multisession capability, which tshark dissects; 200 is private use and unknown to it.
  { _tag: "Unknown", code: 200, value: Uint8Array.of(0xde, 0xad, 0xbe, 0xef) }
]

/** Every attribute the codec encodes, for a 4-octet-AS session. */
const fullAttributes: PathAttributes = {
  origin: 1,
  asPath: [
    { type: SegmentType.AS_CONFED_SEQUENCE, asns: [64512, 64513] },
    { type: SegmentType.AS_CONFED_SET, asns: [64520, 64521] },
    { type: SegmentType.AS_SEQUENCE, asns: [65001, 4_200_000_001, 3356] },
    { type: SegmentType.AS_SET, asns: [174, 4_200_000_002] }
  ],
  nextHop: ip("192.0.2.1"),
  med: 4_000_000_000,
  localPref: 150,
  atomicAggregate: true,
  aggregator: { asn: 4_200_000_003, address: ip("198.51.100.7") },
  communities: [(65001 << 16 >>> 0) + 100, 0xffffff01, 0xffff029a],
  originatorId: ip("10.255.0.1"),
  clusterList: [ip("10.255.0.2"), ip("10.255.0.3")],
  extendedCommunities: [
    { hi: 0x0002fde9, lo: 0x00000064 }, // 2-octet AS route target 65001:100
    { hi: 0x01020a00, lo: 0x00010007 }, // IPv4-address route target 10.0.0.1:7 (type 0x01, subtype 0x02)
    { hi: 0x00030000, lo: 0x00000001 } // route origin (2-octet AS 0:1)
  ],
  largeCommunities: [
    { global: 4_200_000_001, local1: 1, local2: 2 },
    { global: 65001, local1: 0xffffffff, local2: 0 }
  ],
  otc: 4_200_000_004,
  unknown: [
    // An optional transitive attribute someone passed on without understanding it: Partial set.
    { flags: AttrFlag.OPTIONAL | AttrFlag.TRANSITIVE | AttrFlag.PARTIAL, type: 250, value: Uint8Array.of(1, 2, 3, 4, 5) }
  ]
}

const manyCommunities = Array.from({ length: 80 }, (_, i) => ((64496 << 16) >>> 0) + i) // 320 octets
const longValue = Uint8Array.from({ length: 300 }, (_, i) => i & 0xff)

/** Cases encoded and judged with 4-octet AS numbers (tshark `bgp.asn_len: 4`). */
export const corpusAs4: ReadonlyArray<Case> = [
  {
    name: "OPEN with every capability",
    ctx: AS4,
    message: { _tag: "Open", version: 4, myAs: 23456, holdTime: 90, bgpId: ip("10.0.0.1"), capabilities: allCapabilities }
  },
  {
    name: "OPEN without optional parameters",
    ctx: AS4,
    message: { _tag: "Open", version: 4, myAs: 65001, holdTime: 0, bgpId: ip("192.0.2.255"), capabilities: [] }
  },
  {
    name: "OPEN with RFC 9072 extended optional parameters",
    ctx: AS4,
    options: { extendedParameters: true },
    message: {
      _tag: "Open",
      version: 4,
      myAs: 64512,
      holdTime: 180,
      bgpId: ip("10.0.0.2"),
      capabilities: [{ _tag: "Multiprotocol", afi: Afi.IPV4, safi: Safi.UNICAST }, { _tag: "FourOctetAs", asn: 64512 }]
    }
  },
  {
    name: "UPDATE IPv4 with every attribute",
    ctx: AS4,
    message: update(fullAttributes, { withdrawn: [p("10.9.0.0/16"), p("172.16.0.0/12")], nlri: [p("203.0.113.0/24"), p("10.128.0.0/9"), p("192.0.2.1/32")] })
  },
  {
    name: "UPDATE IPv4 withdrawals only",
    ctx: AS4,
    message: update({}, { withdrawn: [p("198.18.0.0/15"), p("172.16.5.128/25")] })
  },
  { name: "UPDATE withdrawing the IPv4 default route", ctx: AS4, message: update({}, { withdrawn: [p("0.0.0.0/0")] }) },
  {
    name: "UPDATE IPv4 NLRI in MP_REACH_NLRI with an IPv6 next hop (RFC 8950)",
    ctx: AS4,
    message: update(
      { origin: 0, asPath: [{ type: SegmentType.AS_SEQUENCE, asns: [65001] }] },
      { mpReach: { afi: Afi.IPV4, safi: Safi.UNICAST, nextHop: v6("2001:db8::5"), nlri: [p("198.51.100.0/24"), p("10.0.0.0/8")] } }
    )
  },
  {
    name: "UPDATE with extended-length attributes",
    ctx: AS4,
    message: update(
      {
        origin: 0,
        asPath: [{ type: SegmentType.AS_SEQUENCE, asns: Array.from({ length: 70 }, (_, i) => 4_200_000_000 + i) }], // 282 octets
        nextHop: ip("192.0.2.2"),
        communities: manyCommunities,
        unknown: [{ flags: AttrFlag.OPTIONAL | AttrFlag.TRANSITIVE, type: 251, value: longValue }]
      },
      { nlri: [p("100.64.0.0/10")] }
    )
  },
  {
    name: "UPDATE IPv6 MP_REACH_NLRI and MP_UNREACH_NLRI",
    ctx: AS4,
    message: update(
      { origin: 0, asPath: [{ type: SegmentType.AS_SEQUENCE, asns: [65001] }], med: 0, largeCommunities: [{ global: 65001, local1: 2, local2: 3 }] },
      {
        mpReach: { afi: Afi.IPV6, safi: Safi.UNICAST, nextHop: v6("2001:db8::1"), nlri: [p("2001:db8:1::/48"), p("::/0"), p("2001:db8:ffff:1::1/128"), p("2001:db8:8000::/33")] },
        mpUnreach: { afi: Afi.IPV6, safi: Safi.UNICAST, withdrawn: [p("2001:db8:2::/48"), p("fd00::/8")] }
      }
    )
  },
  {
    name: "UPDATE IPv6 with an extended-length MP_REACH_NLRI",
    ctx: AS4,
    message: update(
      { origin: 0, asPath: [{ type: SegmentType.AS_SEQUENCE, asns: [65001] }] },
      {
        mpReach: {
          afi: Afi.IPV6,
          safi: Safi.UNICAST,
          nextHop: v6("2001:db8::7"),
          // 40 /64s of 9 octets: the attribute is 381 octets long.
          nlri: Array.from({ length: 40 }, (_, i) => p(`2001:db8:${(0x100 + i).toString(16)}::/64`))
        }
      }
    )
  },
  {
    name: "UPDATE IPv6 with global and link-local next hop",
    ctx: AS4,
    message: update(
      { origin: 2, asPath: [] },
      { mpReach: { afi: Afi.IPV6, safi: Safi.UNICAST, nextHop: concat(v6("2001:db8::2"), v6("fe80::1")), nlri: [p("2001:db8:10::/44")] } }
    )
  },
  {
    name: "UPDATE IPv6 MP_UNREACH_NLRI only",
    ctx: AS4,
    message: update({}, { mpUnreach: { afi: Afi.IPV6, safi: Safi.UNICAST, withdrawn: [p("2001:db8:3::/64")] } })
  },
  { name: "End-of-RIB IPv4 unicast", ctx: AS4, message: update({}) },
  {
    name: "End-of-RIB IPv6 unicast",
    ctx: AS4,
    message: update({}, { mpUnreach: { afi: Afi.IPV6, safi: Safi.UNICAST, withdrawn: [] } })
  },
  {
    name: "UPDATE with ADD-PATH IPv4 NLRI and withdrawals",
    ctx: ADD_PATH,
    message: update(
      { origin: 0, asPath: [{ type: SegmentType.AS_SEQUENCE, asns: [65010] }], nextHop: ip("192.0.2.9") },
      { withdrawn: [p("10.1.0.0/16", 7)], nlri: [p("10.2.0.0/16", 1), p("10.2.0.0/16", 2), p("10.3.3.0/24", 0xfffffff0)] }
    )
  },
  {
    name: "UPDATE with ADD-PATH IPv6 MP_REACH_NLRI",
    ctx: ADD_PATH,
    message: update(
      { origin: 0, asPath: [{ type: SegmentType.AS_SEQUENCE, asns: [65010] }] },
      { mpReach: { afi: Afi.IPV6, safi: Safi.UNICAST, nextHop: v6("2001:db8::9"), nlri: [p("2001:db8:a::/48", 1), p("2001:db8:a::/48", 2)] } }
    )
  },
  {
    name: "UPDATE with ADD-PATH IPv6 MP_UNREACH_NLRI",
    ctx: ADD_PATH,
    message: update({}, { mpUnreach: { afi: Afi.IPV6, safi: Safi.UNICAST, withdrawn: [p("2001:db8:b::/48", 9), p("2001:db8:c::/64", 10)] } })
  },
  {
    name: "NOTIFICATION Administrative Shutdown with RFC 9003 text",
    ctx: AS4,
    message: shutdownNotification(CeaseSubcode.ADMINISTRATIVE_SHUTDOWN, "maintenance window ☃ ticket #42")
  },
  {
    name: "NOTIFICATION Administrative Reset with RFC 9003 text",
    ctx: AS4,
    message: shutdownNotification(CeaseSubcode.ADMINISTRATIVE_RESET, "reset")
  },
  {
    name: "NOTIFICATION UPDATE error with data",
    ctx: AS4,
    message: { _tag: "Notification", code: ErrorCode.UPDATE_MESSAGE, subcode: 11, data: Uint8Array.of(0x40, 0x02, 0x01, 0x00) }
  },
  { name: "NOTIFICATION Hold Timer Expired", ctx: AS4, message: { _tag: "Notification", code: ErrorCode.HOLD_TIMER_EXPIRED, subcode: 0, data: new Uint8Array(0) } },
  { name: "NOTIFICATION Cease / Maximum Prefixes", ctx: AS4, message: { _tag: "Notification", code: ErrorCode.CEASE, subcode: CeaseSubcode.MAXIMUM_PREFIXES_REACHED, data: Uint8Array.of(0, 1, 1, 0, 0, 0, 100) } },
  {
    name: "NOTIFICATION OPEN error / Unsupported Capability",
    ctx: AS4,
    message: { _tag: "Notification", code: ErrorCode.OPEN_MESSAGE, subcode: 7, data: Uint8Array.of(0x49, 0x00) }
  },
  { name: "NOTIFICATION ROUTE-REFRESH error (RFC 7313)", ctx: AS4, message: { _tag: "Notification", code: ErrorCode.ROUTE_REFRESH, subcode: 1, data: Uint8Array.of(1, 2, 3) } },
  { name: "KEEPALIVE", ctx: AS4, message: { _tag: "Keepalive" } },
  { name: "ROUTE-REFRESH IPv4 unicast", ctx: AS4, message: { _tag: "RouteRefresh", afi: Afi.IPV4, safi: Safi.UNICAST, subtype: RouteRefreshSubtype.NORMAL } },
  { name: "ROUTE-REFRESH BoRR IPv6 unicast", ctx: AS4, message: { _tag: "RouteRefresh", afi: Afi.IPV6, safi: Safi.UNICAST, subtype: RouteRefreshSubtype.BORR } },
  { name: "ROUTE-REFRESH EoRR IPv4 multicast", ctx: AS4, message: { _tag: "RouteRefresh", afi: Afi.IPV4, safi: Safi.MULTICAST, subtype: RouteRefreshSubtype.EORR } },
  {
    name: "UPDATE of an RFC 8654 extended message",
    ctx: EXTENDED,
    // tshark drops the rest of a segment after a message it calls malformed (test/tshark/README.md).
    alone: true,
    message: update(
      { origin: 0, asPath: [{ type: SegmentType.AS_SEQUENCE, asns: [65020] }], nextHop: ip("192.0.2.20") },
      // 1500 /24s: 6000 octets of NLRI, beyond the 4096-octet classic limit.
      { nlri: Array.from({ length: 1500 }, (_, i) => ipv4Prefix((0x0b000000 + (i << 8)) >>> 0, 24)) }
    )
  }
]

/** Cases encoded and judged with 2-octet AS numbers (tshark `bgp.asn_len: 2`): RFC 6793 toward an OLD speaker. */
export const corpusAs2: ReadonlyArray<Case> = [
  {
    name: "OPEN from a 2-octet AS speaker",
    ctx: AS2,
    message: {
      _tag: "Open",
      version: 4,
      myAs: 65002,
      holdTime: 3,
      bgpId: ip("172.16.0.1"),
      capabilities: [{ _tag: "Multiprotocol", afi: Afi.IPV4, safi: Safi.UNICAST }, { _tag: "RouteRefresh" }]
    }
  },
  {
    name: "UPDATE with 2-octet AS numbers only",
    ctx: AS2,
    message: update(
      {
        origin: 0,
        asPath: [{ type: SegmentType.AS_SEQUENCE, asns: [65002, 3356, 174] }, { type: SegmentType.AS_SET, asns: [1, 2, 3] }],
        nextHop: ip("172.16.0.2"),
        aggregator: { asn: 65002, address: ip("172.16.0.3") },
        communities: [0x00010002]
      },
      { nlri: [p("192.168.0.0/16")] }
    )
  },
  {
    name: "UPDATE with 4-octet AS numbers toward a 2-octet speaker (AS_TRANS, AS4_PATH, AS4_AGGREGATOR)",
    ctx: AS2,
    message: update(
      {
        origin: 0,
        asPath: [
          { type: SegmentType.AS_CONFED_SEQUENCE, asns: [64512] },
          { type: SegmentType.AS_SEQUENCE, asns: [65002, 4_200_000_001, 3356] },
          { type: SegmentType.AS_SET, asns: [4_200_000_002, 174] }
        ],
        nextHop: ip("172.16.0.2"),
        med: 5,
        aggregator: { asn: 4_200_000_003, address: ip("172.16.0.4") }
      },
      { nlri: [p("192.168.4.0/22")] }
    )
  },
  {
    name: "UPDATE with a 4-octet AS path and a 2-octet aggregator toward a 2-octet speaker",
    ctx: AS2,
    message: update(
      {
        origin: 2,
        asPath: [{ type: SegmentType.AS_SEQUENCE, asns: [4_200_000_010] }],
        nextHop: ip("172.16.0.5"),
        atomicAggregate: true,
        aggregator: { asn: 65003, address: ip("172.16.0.6") }
      },
      { withdrawn: [p("192.168.8.0/21")], nlri: [p("192.168.16.0/20")] }
    )
  }
]

/** The bytes of a case, encoded by the codec under the case's context. */
export const encodeCase = (c: Case): Uint8Array => encodeMessageUnsafe(c.message, c.ctx, c.options)
