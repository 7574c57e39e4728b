/**
 * OpenDaylight bgpcep test data (EPL-1.0; fixtures/bgpcep): raw UPDATE/OPEN files (`.bin`), hex dumps
 * of messages a peer received ("Received BGP Update message. Length:N" + hex), and an MRT file of real
 * route-server traffic, also with one marker corrupted. The MRT decode is compared line by line with
 * `bgpdump -m` (bgpdump 1.6.2, output kept in fixtures/bgpcep/util_BgpMessages.bgpdump-m.txt).
 */
import { Result } from "effect"
import { assert, describe, expect, it } from "@effect/vitest"
import type { CodecContext, Message, Update } from "../src/index.ts"
import {
  decodeMessage,
  defaultContext,
  encodeMessage,
  familyKey,
  formatIpv4,
  formatIpv6,
  formatPrefix,
  makeContext,
  makeFramer
} from "../src/index.ts"
import { fromHex, toHex } from "./support/hex.ts"
import { readBgp4mp } from "./support/mrt.ts"
import { fixturePath, readBytes, readText } from "./support/paths.ts"
import { summarizeResult } from "./support/summary.ts"

const bin = (name: string) => readBytes(fixturePath("bgpcep", name))

const roundTrip = (m: Message, ctx: CodecContext, where: string): void => {
  const enc = encodeMessage(m, ctx)
  if (Result.isFailure(enc)) assert.fail(`${where}: re-encode: ${enc.failure.message}`)
  expect(decodeMessage(enc.success, ctx), `${where}: round trip`).toEqual(Result.succeed(m))
}

describe("bgpcep raw messages (.bin)", () => {
  const cases: ReadonlyArray<readonly [string, string]> = [
    // BGPParserTest: AS_PATH 65002, NEXT_HOP, MED 0, ATOMIC_AGGREGATE, four well-known communities
    // (NO_EXPORT, NO_ADVERTISE, NO_EXPORT_SUBCONFED, 0xFFFFFF10), three IPv4 /24s.
    ["parser-impl_up1.bin", "UPDATE origin IGP; path seq(65002); nh 10.0.0.2; med 0; atomic; comm 65535:65281 65535:65282 65535:65283 65535:65296; nlri 172.17.2.0/24 172.17.1.0/24 172.17.0.0/24"],
    // IPv6 via MP_REACH with a global + link-local next hop (RFC 2545 §3), ORIGINATOR_ID, CLUSTER_LIST.
    ["parser-impl_up2.bin", "UPDATE origin IGP; path seq(65001); med 0; originator 127.0.0.1; cluster 1.2.3.4 5.6.7.8; mp-reach 2/1 nh 20010db8000000000000000000000001fe80000000000000c0010bfffe7e0000 2001:db8:1:2::/64 2001:db8:1:1::/64 2001:db8:1::/64"],
    ["inet_up2.bin", "UPDATE origin IGP; path seq(65001); med 0; originator 127.0.0.1; cluster 1.2.3.4 5.6.7.8; mp-reach 2/1 nh 20010db8000000000000000000000001fe80000000000000c0010bfffe7e0000 2001:db8:1:2::/64 2001:db8:1:1::/64 2001:db8:1::/64"],
    // AS_SEQUENCE then AS_SET, 4-octet AGGREGATOR.
    ["parser-impl_up3.bin", "UPDATE origin INCOMPLETE; path seq(30) set(10 20); nh 10.0.0.9; med 0; aggregator 30:10.0.0.9; nlri 172.16.0.0/21"],
    // Route target 192.168.1.0:4660 (type 0x01 subtype 0x02).
    ["parser-impl_up4.bin", "UPDATE origin EGP; path empty; nh 3.3.3.3; med 0; lp 100; ext 0102c0a801001234; nlri 10.30.3.0/24 10.30.2.0/24 10.30.1.0/24"],
    ["parser-impl_up5.bin", "UPDATE withdraw 172.16.0.4/30"],
    // End-of-RIB: IPv4 unicast (empty UPDATE), IPv6 unicast and BGP-LS (empty MP_UNREACH_NLRI).
    ["parser-impl_up6.bin", "UPDATE empty (End-of-RIB)"],
    ["parser-impl_up7.bin", "UPDATE mp-unreach 2/1 EoR"],
    ["linkstate_up1.bin", "UPDATE mp-unreach 16388/71 raw 0B"],
    // BGP-LS (16388/71): NLRI kept raw, BGP-LS attribute (29) kept as unknown.
    ["linkstate_up2.bin", "UPDATE origin IGP; path empty; lp 100; unknown 29; mp-reach 16388/71 nh 19191901 raw 291B"],
    ["linkstate_up3.bin", "UPDATE origin IGP; path empty; lp 100; mp-reach 16388/71 nh 19191901 raw 151B"],
    ["linkstate_up4.bin", "OPEN v4 AS 100 hold 180 id 0.0.0.0 [MP 1/1; MP 2/1; MP 16388/71; AS4 100]"],
    // ORIGIN of length 2 (3/5), then MED sent with flags 0x03 — Optional bit clear (3/4), then an
    // attribute whose length runs past the list (3/5): RFC 7606 §7.1, §3 c and §4 all say
    // treat-as-withdraw, so the NLRI 10.0.2.0/24 becomes a withdrawal.
    ["parser-impl_up8.bin", "UPDATE withdraw 10.0.2.0/24; rfc7606 3/5 TreatAsWithdraw, 3/5 TreatAsWithdraw, 3/4 TreatAsWithdraw"],
    // MP_REACH_NLRI sent with flags 0x40 (well-known transitive; RFC 4760 §3 makes it optional
    // non-transitive). RFC 7606 §3 c: a flags conflict is treat-as-withdraw "unless the specification
    // for the attribute mandates different handling"; with the NLRI in doubt, §5.3 leaves session reset.
    ["inet_up1.bin", "ERROR 3/4 AttributeFlagsError data 400e0d00010104ffffffff00180a0001"]
  ]
  for (const [name, want] of cases) {
    it(name, () => {
      const framer = makeFramer()
      const r = framer.push(bin(name))
      expect({ messages: r.messages.length, buffered: framer.buffered, error: r.error }).toEqual({ messages: 1, buffered: 0, error: undefined })
      const d = decodeMessage(r.messages[0]!, defaultContext)
      expect(summarizeResult(d)).toBe(want)
      if (Result.isSuccess(d) && !(d.success._tag === "Update" && d.success.errors !== undefined)) roundTrip(d.success, defaultContext, name)
    })
  }

  it("util_BgpMessage_Hex_InvalidLength.bin: Length 0 is a Bad Message Length (RFC 4271 §6.1)", () => {
    const r = makeFramer().push(fromHex(readText(fixturePath("bgpcep", "util_BgpMessage_Hex_InvalidLength.bin"))))
    assert(r.error !== undefined)
    expect({ code: r.error.code, subcode: r.error.subcode, data: toHex(r.error.data) }).toEqual({ code: 1, subcode: 2, data: "0000" })
  })
})

/** Blocks of "Received BGP <Type> message. Length:N" followed by hex (spaced or not). */
const hexDump = (name: string) =>
  readText(fixturePath("bgpcep", name))
    .split("Received BGP ")
    .slice(1)
    .map((block) => {
      const head = /^(\w+) message\. Length:\s*(\d+)/.exec(block)
      assert(head !== null, `${name}: bad block ${block.slice(0, 40)}`)
      return { kind: head[1]!, stated: Number(head[2]), bytes: fromHex(block.slice(block.indexOf("\n")).replace(/[^0-9a-fA-F]/g, "")) }
    })

describe("bgpcep hex dumps", () => {
  const decodeAll = (name: string, ctx: CodecContext) => {
    const blocks = hexDump(name)
    return blocks.map((b, i) => {
      const r = decodeMessage(b.bytes, ctx)
      if (Result.isFailure(r)) assert.fail(`${name} #${i}: ${r.failure.message}`)
      expect(r.success._tag, `${name} #${i}`).toBe(b.kind)
      const m = r.success
      assert(!(m._tag === "Update" && m.errors !== undefined), `${name} #${i}: ${summarizeResult(r)}`)
      roundTrip(m, ctx, `${name} #${i}`)
      return { ...b, m, summary: summarizeResult(r) }
    })
  }

  it("util_bgp_hex.txt: a route reflector session, OPEN + 24 UPDATEs", () => {
    const out = decodeAll("util_bgp_hex.txt", defaultContext)
    expect(out.map((b) => b.kind).reduce<Record<string, number>>((n, k) => ({ ...n, [k]: (n[k] ?? 0) + 1 }), {})).toEqual({ Open: 1, Update: 24 })
    expect(out.every((b) => b.stated === b.bytes.length)).toBe(true)
    expect(out[0]!.summary).toBe("OPEN v4 AS 72 hold 180 id 40.40.40.40 [MP 1/1; MP 16388/71; cap 128; RouteRefresh; AS4 72]")
    const v4 = out.filter((b) => b.m._tag === "Update" && b.m.nlri.length > 0).map((b) => b.summary)
    expect(v4).toContain(
      "UPDATE origin IGP; path empty; nh 10.25.2.27; med 0; lp 100; nlri 203.20.160.40/32 201.20.160.40/32 199.20.160.40/32 197.20.160.40/32 195.20.160.40/32 40.40.40.40/32"
    )
    expect(v4).toContain(
      "UPDATE origin IGP; path empty; nh 197.20.160.42; med 0; lp 100; originator 42.42.42.42; cluster 40.40.40.40; nlri 42.42.42.42/32 197.20.160.42/32 198.20.160.42/32 202.20.160.42/32"
    )
    // The BGP-LS UPDATEs: NLRI raw, and this (pre-IANA) BGP-LS attribute code 99 kept as unknown.
    const ls = out.filter((b) => b.m._tag === "Update" && b.m.mpReach !== undefined)
    expect(ls).toHaveLength(19)
    for (const b of ls) {
      const u = b.m as Update
      expect([u.mpReach!.afi, u.mpReach!.safi, formatIpv4(((u.mpReach!.nextHop[0]! << 24) | (u.mpReach!.nextHop[1]! << 16) | (u.mpReach!.nextHop[2]! << 8) | u.mpReach!.nextHop[3]!) >>> 0)]).toEqual([16388, 71, "10.25.2.27"])
      expect(u.attributes.unknown?.map((x) => x.type)).toEqual([99])
    }
  })

  it("rib-impl_bgp_hex.txt: OPEN + 30 UPDATEs (one block's stated Length is wrong; the header is right)", () => {
    const out = decodeAll("rib-impl_bgp_hex.txt", defaultContext)
    expect(out.map((b) => b.kind).reduce<Record<string, number>>((n, k) => ({ ...n, [k]: (n[k] ?? 0) + 1 }), {})).toEqual({ Open: 1, Update: 30 })
    // One block says "Length:165" over 321 octets whose header Length is 321: ODL's label, not the data.
    expect(out.filter((b) => b.stated !== b.bytes.length).map((b) => [b.stated, b.bytes.length])).toEqual([[165, 321]])
    expect(out.filter((b) => b.m._tag === "Update" && b.m.mpReach !== undefined).every((b) => (b.m as Update).attributes.unknown?.[0]?.type === 29)).toBe(true)
  })

  it("parser-impl_bgp-update-multipath.txt: ADD-PATH (RFC 7911) UPDATEs, path identifiers 1 and 2", () => {
    const ctx = makeContext({ addPath: new Set([familyKey(1, 1)]) })
    const out = decodeAll("parser-impl_bgp-update-multipath.txt", ctx)
    const u0 = out[0]!.m as Update
    const u1 = out[1]!.m as Update
    // The dump says "Length:93"; the header (0x60) and the octets say 96.
    expect([out[0]!.stated, out[0]!.bytes.length]).toEqual([93, 96])
    expect(u0.nlri.map((p) => `${formatPrefix(p)}#${p.pathId}`)).toEqual(["172.17.1.0/24#1", "172.17.1.0/24#2", "172.17.0.0/24#1"])
    expect(u1.withdrawn.map((p) => `${formatPrefix(p)}#${p.pathId}`)).toEqual(["172.16.0.4/30#1", "172.16.0.4/30#2"])
    // Without ADD-PATH the same bytes do not parse: path identifiers read as prefix lengths.
    expect(summarizeResult(decodeMessage(out[0]!.bytes, defaultContext))).toBe("ERROR 3/10 InvalidNetworkField data ")
  })

  it("parser-impl_bgp-update-nodes.txt: a BGP-LS node UPDATE of 0x1f2 octets", () => {
    const raw = fromHex(readText(fixturePath("bgpcep", "parser-impl_bgp-update-nodes.txt")))
    expect(raw.length).toBe(0x1f2)
    const r = decodeMessage(raw, defaultContext)
    if (Result.isFailure(r)) assert.fail(r.failure.message)
    const u = r.success
    assert(u._tag === "Update" && u.mpReach !== undefined && u.errors === undefined)
    // An old ODL encoding (AFI 27): not a family we decode, so the NLRI stays raw and round-trips.
    expect([u.mpReach.afi, u.mpReach.safi, u.mpReach.nlri.length, u.mpReach.rawNlri?.length]).toEqual([27, 1, 0, 0x1bb - 4 - 4 - 1])
    roundTrip(u, defaultContext, "nodes")
  })
})

/** Our decode of an MRT file in `bgpdump -m` line format (BGP4MP records only). */
const bgpdumpLines = (file: Uint8Array): { lines: string[]; errors: string[] } => {
  const lines: string[] = []
  const errors: string[] = []
  const origins = ["IGP", "EGP", "INCOMPLETE"]
  for (const rec of readBgp4mp(file)) {
    const head = `BGP4MP|${rec.timestamp}`
    if (rec.kind === "state") {
      lines.push(`${head}|STATE|${rec.peerIp}|${rec.peerAs}|${rec.from}|${rec.to}`)
      continue
    }
    const r = decodeMessage(rec.bgp, makeContext({ as4: rec.as4 }))
    if (Result.isFailure(r)) {
      errors.push(`${rec.timestamp} ${rec.peerIp}: ${r.failure.code}/${r.failure.subcode} ${r.failure.reason}`)
      continue
    }
    const u = r.success
    if (u._tag !== "Update") continue
    const peer = `${rec.peerIp}|${rec.peerAs}`
    for (const p of [...u.withdrawn, ...(u.mpUnreach?.withdrawn ?? [])]) lines.push(`${head}|W|${peer}|${formatPrefix(p)}`)
    const a = u.attributes
    const path = (a.asPath ?? []).map((s) => (s.type === 1 ? `{${s.asns.join(",")}}` : s.asns.join(" "))).join(" ")
    const rest = [
      path,
      a.origin === undefined ? "" : origins[a.origin],
      "NH",
      String(a.localPref ?? 0),
      String(a.med ?? 0),
      (a.communities ?? []).map((c) => `${c >>> 16}:${c & 0xffff}`).join(" "),
      a.atomicAggregate === true ? "AG" : "NAG",
      a.aggregator === undefined ? "" : `${a.aggregator.asn} ${formatIpv4(a.aggregator.address)}`
    ]
    const line = (p: string, nh: string) => `${head}|A|${peer}|${p}|${rest.join("|").replace("NH", nh)}|`
    for (const p of u.nlri) lines.push(line(formatPrefix(p), formatIpv4(a.nextHop!)))
    if (u.mpReach !== undefined) for (const p of u.mpReach.nlri) lines.push(line(formatPrefix(p), formatIpv6(u.mpReach.nextHop)))
  }
  return { lines, errors }
}

describe("bgpcep MRT (BGP4MP) vs bgpdump -m", () => {
  const expected = readText(fixturePath("bgpcep", "util_BgpMessages.bgpdump-m.txt")).trim().split("\n")

  it("util_BgpMessages.bin: every announcement, withdrawal and state change as bgpdump prints it", () => {
    const { lines, errors } = bgpdumpLines(bin("util_BgpMessages.bin"))
    expect(errors).toEqual([])
    expect(lines).toEqual(expected)
    expect(lines).toHaveLength(122)
  })

  it("util_BgpMessages_wrong_header.bin: the corrupted marker is Connection Not Synchronized", () => {
    // bgpdump ignores the marker and prints the same 122 lines; RFC 4271 §6.1 says the message is
    // unusable. It is a KEEPALIVE (the first BGP message of the file), so no line goes missing.
    const { lines, errors } = bgpdumpLines(bin("util_BgpMessages_wrong_header.bin"))
    expect(errors).toEqual(["1331811907 198.32.124.155: 1/1 ConnectionNotSynchronized"])
    expect(lines).toEqual(expected)
  })
})
