/**
 * `starling decode` in-process (the pure `decode(args)` behind `run`) and the JSON rendering of every
 * message, capability and attribute kind. decode.test.ts covers the real process and exit codes.
 */
import { describe, expect, it } from "vitest"
import {
  Afi,
  encodeMessageUnsafe,
  familyKey,
  hardReset,
  ipv6ToBytes,
  makeContext,
  parsePrefix,
  Safi,
  shutdownNotification,
  toHex
} from "@starling/codec"
import type { Message } from "@starling/codec"
import { decode, parseHex } from "../src/commands/decode.ts"
import { errorSubcodeName, familyName, renderExtendedCommunity, renderMessage, renderNextHop } from "../src/render.ts"

const frame = (type: number, body: string): string => {
  const b = body.replace(/\s/g, "")
  return `${"ff".repeat(16)}${(19 + b.length / 2).toString(16).padStart(4, "0")}${type.toString(16).padStart(2, "0")}${b}`
}
const update = (attrs: string, nlri: string): string => {
  const a = attrs.replace(/\s/g, "")
  return frame(2, `0000${(a.length / 2).toString(16).padStart(4, "0")}${a}${nlri}`)
}
const p = (s: string, pathId = 0) => parsePrefix(s, pathId)!
const hexOf = (m: Message, ctx = makeContext()): string => toHex(encodeMessageUnsafe(m, ctx))
const ok = (...args: string[]) => {
  const o = decode(args)
  expect(o.exitCode, o.stderr).toBe(0)
  return JSON.parse(o.stdout)
}

describe("decode(): arguments", () => {
  it("parses hex with spaces, colons, newlines and one leading 0x; rejects the rest", () => {
    expect(parseHex("0xFF:ff 0a\n01")).toEqual(Uint8Array.of(255, 255, 10, 1))
    for (const bad of ["", "0x", "abc", "gg", "ff-ff", "0x0xff"]) expect(parseHex(bad), bad).toBeUndefined()
  })

  it.each([
    ["odd number of digits", ["fff"]],
    ["non-hex characters", ["ffzz"]],
    ["no message", []],
    ["only options", ["--no-as4"]],
    ["an unknown option", ["--frobnicate", "ff"]],
    ["an unknown ADD-PATH family", ["--add-path", "ipv5", "ff"]],
    ["--add-path without a value", ["--add-path"]],
    ["--add-path= with an empty value", ["--add-path=", "ff"]]
  ])("usage error (exit 2, usage on stderr, nothing on stdout): %s", (_what, args) => {
    const o = decode(args)
    expect(o.exitCode).toBe(2)
    expect(o.stdout).toBe("")
    expect(o.stderr).toMatch(/^starling decode: .*\n\nusage: starling decode/)
  })

  it("takes the hex after -- even if it looked like an option", () => {
    expect(decode(["--", frame(4, "")]).exitCode).toBe(0)
  })

  it("accepts ADD-PATH family names in any case and the long forms", () => {
    const ctx = makeContext({ addPath: new Set([familyKey(Afi.IPV4, Safi.UNICAST)]) })
    const hex = hexOf({ _tag: "Update", withdrawn: [p("10.0.0.0/8", 3)], nlri: [], attributes: {} }, ctx)
    expect(ok("--add-path", "IPv4-Unicast", hex).withdrawn).toEqual([{ prefix: "10.0.0.0/8", pathId: 3 }])
  })
})

describe("decode(): malformed messages (exit 1)", () => {
  it("an unrecognized well-known attribute: 3/2 with the attribute as data", () => {
    const o = decode([update("40630100", "")])
    expect(o.exitCode).toBe(1)
    expect(JSON.parse(o.stdout)).toMatchObject({
      error: "malformed message",
      notification: { reason: "UnrecognizedWellKnownAttribute", code: 3, codeName: "UPDATE Message Error", subcode: 2, subcodeName: "Unrecognized Well-known Attribute", data: "40630100", action: "SessionReset", attributeType: 99 }
    })
  })

  it("an unknown message type: 1/3 with the type as data", () => {
    const o = decode([frame(9, "")])
    expect(o.exitCode).toBe(1)
    const out = JSON.parse(o.stdout)
    expect(out.notification).toMatchObject({ code: 1, subcode: 3, subcodeName: "Bad Message Type", data: "09" })
    expect(out.notificationMessage).toBe(`${"ff".repeat(16)}0016030103` + "09")
  })

  it("a message shorter than a header", () => {
    const o = decode(["ffff"])
    expect(o.exitCode).toBe(1)
    expect(JSON.parse(o.stdout).notification).toMatchObject({ code: 1, subcode: 2 })
  })

  it("a malformed MP_REACH_NLRI disables the family (RFC 7606 §5.3) and says so", () => {
    // MP_REACH_NLRI IPv6 unicast, next hop length 16, then a prefix length of 129.
    const nh = "20010db8000000000000000000000001"
    const o = decode([update(`800e16 0002 01 10 ${nh} 00 81`, "")])
    expect(o.exitCode).toBe(1)
    expect(JSON.parse(o.stdout).notification).toMatchObject({ code: 3, subcode: 9, action: "AfiSafiDisable", family: "ipv6-unicast" })
    expect(o.stderr).toMatch(/family would be disabled/)
  })
})

describe("decode(): RFC 7606 attribute discard", () => {
  it("keeps the route, drops the attribute, reports it (exit 0)", () => {
    // AGGREGATOR of 7 octets (RFC 7606 §7.7).
    const o = decode([update("40010100 40020602010000fde9 4003040a000001 c00707 00000001 0a0000", "100a01")])
    expect(o.exitCode).toBe(0)
    const out = JSON.parse(o.stdout)
    expect(out.nlri).toEqual(["10.1.0.0/16"])
    expect(out.attributes).toEqual({ origin: "IGP", asPath: "65001", asPathSegments: [{ type: "AS_SEQUENCE", asns: [65001] }], nextHop: "10.0.0.1" })
    expect(out.errors).toBeUndefined() // moved under rfc7606
    expect(out.rfc7606).toMatchObject({
      outcome: "attribute-discard",
      errors: [{ code: 3, subcode: 5, subcodeName: "Attribute Length Error", action: "AttributeDiscard", attribute: "AGGREGATOR", data: "c0070700000001" + "0a0000" }]
    })
    expect(o.stderr).toMatch(/attribute discard/)
  })
})

describe("rendering", () => {
  it("OPEN: every capability with its name and fields", () => {
    const out = ok(hexOf({
      _tag: "Open",
      version: 4,
      myAs: 65001,
      holdTime: 180,
      bgpId: 0xc0000201,
      capabilities: [
        { _tag: "Multiprotocol", afi: 1, safi: 128 },
        { _tag: "RouteRefresh" },
        { _tag: "ExtendedNextHop", entries: [{ afi: 1, safi: 1, nextHopAfi: 2 }] },
        { _tag: "ExtendedMessage" },
        { _tag: "Role", role: 4 },
        { _tag: "GracefulRestart", restarting: false, notification: true, restartTime: 120, families: [{ afi: 2, safi: 1, forwarding: true }] },
        { _tag: "AddPath", families: [{ afi: 1, safi: 1, mode: 3 }, { afi: 2, safi: 1, mode: 1 }] },
        { _tag: "EnhancedRouteRefresh" },
        { _tag: "LongLivedGracefulRestart", families: [{ afi: 1, safi: 1, forwarding: false, staleTime: 3600 }] },
        { _tag: "Fqdn", hostname: "r1", domain: "example.net" },
        { _tag: "Unknown", code: 200, value: Uint8Array.of(0xab) }
      ]
    }))
    expect(out).toMatchObject({ type: "OPEN", version: 4, myAs: 65001, asn: 65001, holdTime: 180, bgpId: "192.0.2.1" })
    expect(out.capabilities).toEqual([
      { code: 1, name: "Multiprotocol Extensions", afi: 1, safi: 128, family: "ipv4-mpls-vpn" },
      { code: 2, name: "Route Refresh" },
      { code: 5, name: "Extended Next Hop Encoding", entries: [{ afi: 1, safi: 1, family: "ipv4-unicast", nextHopAfi: 2, nextHop: "ipv6" }] },
      { code: 6, name: "Extended Message" },
      { code: 9, name: "BGP Role", role: 4, roleName: "Peer" },
      { code: 64, name: "Graceful Restart", restarting: false, notification: true, restartTime: 120, families: [{ afi: 2, safi: 1, family: "ipv6-unicast", forwarding: true }] },
      { code: 69, name: "ADD-PATH", families: [{ afi: 1, safi: 1, family: "ipv4-unicast", mode: "send-receive" }, { afi: 2, safi: 1, family: "ipv6-unicast", mode: "receive" }] },
      { code: 70, name: "Enhanced Route Refresh" },
      { code: 71, name: "Long-Lived Graceful Restart", families: [{ afi: 1, safi: 1, family: "ipv4-unicast", forwarding: false, staleTime: 3600 }] },
      { code: 73, name: "FQDN", hostname: "r1", domain: "example.net" },
      { code: 200, name: "Unknown", value: "ab" }
    ])
  })

  it("UPDATE: every attribute, MP_REACH with a link-local next hop, MP_UNREACH", () => {
    const nh = new Uint8Array(32)
    nh.set(ipv6ToBytes("2001:db8::1")!, 0)
    nh.set(ipv6ToBytes("fe80::1")!, 16)
    const out = ok(hexOf({
      _tag: "Update",
      withdrawn: [],
      nlri: [],
      attributes: {
        origin: 2,
        asPath: [{ type: 3, asns: [64512] }, { type: 4, asns: [64513, 64514] }, { type: 2, asns: [65001] }, { type: 1, asns: [7, 8] }],
        med: 0,
        localPref: 100,
        atomicAggregate: true,
        aggregator: { asn: 4_200_000_000, address: 0x0a000001 },
        communities: [0xffffff01],
        originatorId: 0x01020304,
        clusterList: [0x05060708, 0x090a0b0c],
        extendedCommunities: [{ hi: 0x0102c000, lo: 0x02010007 }, { hi: 0x00030000, lo: 1 }, { hi: 0x0202fa56, lo: 0xea000009 }, { hi: 0x80060000, lo: 0 }],
        largeCommunities: [{ global: 4_200_000_000, local1: 0, local2: 4_294_967_295 }],
        otc: 65001,
        unknown: [{ flags: 0xe0, type: 250, value: Uint8Array.of(1, 2) }]
      },
      mpUnreach: { afi: 2, safi: 1, withdrawn: [p("2001:db8:2::/48")] },
      mpReach: { afi: 2, safi: 1, nextHop: nh, nlri: [p("2001:db8:1::/48"), p("::/0")] }
    }))
    expect(out.attributes).toEqual({
      origin: "INCOMPLETE",
      asPath: "(64512) [64513 64514] 65001 {7 8}",
      asPathSegments: [
        { type: "AS_CONFED_SEQUENCE", asns: [64512] },
        { type: "AS_CONFED_SET", asns: [64513, 64514] },
        { type: "AS_SEQUENCE", asns: [65001] },
        { type: "AS_SET", asns: [7, 8] }
      ],
      med: 0,
      localPref: 100,
      atomicAggregate: true,
      aggregator: { asn: 4_200_000_000, address: "10.0.0.1" },
      communities: ["65535:65281"],
      originatorId: "1.2.3.4",
      clusterList: ["5.6.7.8", "9.10.11.12"],
      extendedCommunities: ["rt:192.0.2.1:7", "soo:0:1", "rt:4200000000:9", "0x8006000000000000"],
      largeCommunities: ["4200000000:0:4294967295"],
      otc: 65001,
      unknown: [{ type: 250, name: "ATTR_250", flags: "0xe0", flagNames: ["optional", "transitive", "partial"], value: "0102" }]
    })
    expect(out.mpReach).toEqual({ afi: 2, safi: 1, family: "ipv6-unicast", nextHop: ["2001:db8::1", "fe80::1"], nlri: ["2001:db8:1::/48", "::/0"] })
    expect(out.mpUnreach).toEqual({ afi: 2, safi: 1, family: "ipv6-unicast", withdrawn: ["2001:db8:2::/48"] })
    expect(out.endOfRib).toBeUndefined()
  })

  it("End-of-RIB for IPv4 and IPv6 (RFC 4724 §2)", () => {
    expect(ok(hexOf({ _tag: "Update", withdrawn: [], nlri: [], attributes: {} })).endOfRib).toBe("ipv4-unicast")
    const v6 = ok(hexOf({ _tag: "Update", withdrawn: [], nlri: [], attributes: {}, mpUnreach: { afi: 2, safi: 1, withdrawn: [] } }))
    expect(v6).toMatchObject({ type: "UPDATE", endOfRib: "ipv6-unicast", mpUnreach: { family: "ipv6-unicast", withdrawn: [] } })
  })

  it("families the codec keeps raw show their NLRI as hex", () => {
    // MP_REACH_NLRI for IPv4 MPLS VPN (1/128) with a 12-octet next hop and one opaque NLRI octet string.
    const out = ok(update(`800e14 0001 80 0c ${"00".repeat(8)}c0000201 00 aabbcc 40010100 400200`, ""))
    expect(out.mpReach).toEqual({ afi: 1, safi: 128, family: "ipv4-mpls-vpn", nextHop: "0000000000000000c0000201", nlri: [], rawNlri: "aabbcc" })
  })

  it("NOTIFICATION: names, data, RFC 9003 text", () => {
    expect(ok(hexOf(shutdownNotification(4, "bye ☃")))).toEqual({
      type: "NOTIFICATION", code: 6, codeName: "Cease", subcode: 4, subcodeName: "Administrative Reset", data: `07${toHex(new TextEncoder().encode("bye ☃"))}`, shutdownMessage: "bye ☃"
    })
    expect(ok(hexOf({ _tag: "Notification", code: 2, subcode: 2, data: Uint8Array.of(0xfd, 0xe8) }))).toEqual({
      type: "NOTIFICATION", code: 2, codeName: "OPEN Message Error", subcode: 2, subcodeName: "Bad Peer AS", data: "fde8"
    })
    expect(ok(hexOf({ _tag: "Notification", code: 42, subcode: 9, data: new Uint8Array(0) }))).toMatchObject({ codeName: "Unknown error code 42", subcodeName: "Unknown subcode 9" })
  })

  it("NOTIFICATION: a Hard Reset shows the Cease it carries and that Cease's RFC 9003 text (RFC 8538 §3)", () => {
    expect(ok(hexOf(hardReset(shutdownNotification(2, "gone"))))).toMatchObject({
      code: 6, subcode: 9, subcodeName: "Hard Reset", shutdownMessage: "gone",
      hardResetOf: { code: 6, subcode: 2, subcodeName: "Administrative Shutdown" }
    })
  })

  it("ROUTE-REFRESH subtypes (RFC 7313)", () => {
    expect(ok(hexOf({ _tag: "RouteRefresh", afi: 2, safi: 1, subtype: 2 }))).toEqual({ type: "ROUTE-REFRESH", afi: 2, safi: 1, family: "ipv6-unicast", subtype: 2, subtypeName: "EoRR" })
    expect(ok(hexOf({ _tag: "RouteRefresh", afi: 1, safi: 1, subtype: 0 })).subtypeName).toBe("Route Refresh")
    expect(ok(hexOf({ _tag: "RouteRefresh", afi: 1, safi: 1, subtype: 1 })).subtypeName).toBe("BoRR")
  })

  it("helpers: family names, next hops, extended communities, subcode names", () => {
    expect(familyName(25, 70)).toBe("l2vpn-evpn")
    expect(familyName(3, 9)).toBe("afi-3-safi-9")
    expect(renderNextHop(Uint8Array.of(10, 0, 0, 1))).toBe("10.0.0.1")
    expect(renderNextHop(Uint8Array.of(1, 2, 3))).toBe("010203")
    expect(renderExtendedCommunity({ hi: 0x0002fde9, lo: 100 })).toBe("rt:65001:100")
    expect(errorSubcodeName(6, 9)).toBe("Hard Reset")
    expect(errorSubcodeName(4, 0)).toBe("Unspecific")
    expect(renderMessage({ _tag: "Keepalive" })).toEqual({ type: "KEEPALIVE" })
  })
})
