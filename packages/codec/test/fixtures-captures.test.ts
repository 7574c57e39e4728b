/**
 * Every packet capture in the shared test data, decoded message by message: our pcap/pcapng reader,
 * TCP reassembly per direction, `makeFramer`, then `decodeMessage` under the context the capture's OPENs
 * negotiate. The message counts per type must equal tshark's for the same file:
 *
 *   tshark -r <file> -Y bgp -T fields -e bgp.type            (bgp-rs: add -d tcp.port==1179,bgp)
 *
 * (Wireshark 4.0.17; the numbers are written down here so the test does not need tshark.) Every message
 * must decode, and re-encode to an equal message. Captures from GPL projects (bgp-rs, pypacker, scapy)
 * are read from ../shared/data and never copied; the rest are in fixtures/ (see PROVENANCE.md).
 */
import { Result } from "effect"
import { assert, describe, expect, it } from "@effect/vitest"
import type { Open } from "../src/index.ts"
import { decodeMessage, encodeMessage } from "../src/index.ts"
import { countTypes, decodeCapture, negotiate } from "./support/capture.ts"
import type { TcpSegment } from "./support/pcap.ts"
import { reassemble } from "./support/tcp.ts"
import { fixturePath, readBytes, sharedPath } from "./support/paths.ts"
import { summarizeResult } from "./support/summary.ts"

interface Case {
  readonly path: string
  /** tshark's counts by message type. */
  readonly tshark: Readonly<Record<number, number>>
  /** Summaries of UPDATEs that RFC 7606 repaired (or other expected outcomes), by message index. */
  readonly repaired?: Readonly<Record<number, string>>
  /** Octets left at the end of a stream because the capture stops inside a message. */
  readonly trailing?: number
  /** The negotiated contexts per direction, `as4|as2`, `+ext`, `+ap<families>`. */
  readonly contexts?: ReadonlyArray<string>
}

const ryu = (name: string, tshark: Record<number, number>, repaired?: Record<number, string>): Case => ({
  path: fixturePath("ryu", "bgp4", name),
  tshark,
  ...(repaired === undefined ? {} : { repaired })
})

// Ryu's EVPN test packets carry MP_REACH_NLRI with no ORIGIN or AS_PATH: RFC 7606 §3 d says a missing
// well-known mandatory attribute means treat-as-withdraw (the NLRI become withdrawals, raw here).
const EVPN_NO_ORIGIN = {
  0: "UPDATE mp-unreach 25/70 raw *; rfc7606 3/3 TreatAsWithdraw, 3/3 TreatAsWithdraw"
}

const cases: ReadonlyArray<Case> = [
  { path: fixturePath("pcapplusplus", "BgpPackets.pcap"), tshark: { 1: 2, 2: 6, 3: 2, 4: 1, 5: 1 }, contexts: ["as4+ap257", "as4+ap257", "as4", "as4", "as4", "as4", "as4"] },
  ryu("bgp4-keepalive.pcap", { 4: 1 }),
  ryu("bgp4-open.pcap", { 1: 1 }),
  ryu("bgp4-update.pcap", { 2: 1 }),
  ryu("bgp4-update_ipv6.pcap", { 2: 2 }),
  ryu("bgp4-update_vpnv6.pcap", { 2: 1 }),
  ryu("evpn_esi_arbitrary.pcap", { 2: 1 }, EVPN_NO_ORIGIN),
  ryu("evpn_esi_as_based.pcap", { 2: 1 }, EVPN_NO_ORIGIN),
  ryu("evpn_esi_l2_bridge.pcap", { 2: 1 }, EVPN_NO_ORIGIN),
  ryu("evpn_esi_lacp.pcap", { 2: 1 }, EVPN_NO_ORIGIN),
  ryu("evpn_esi_mac_base.pcap", { 2: 1 }, EVPN_NO_ORIGIN),
  ryu("evpn_esi_router_id.pcap", { 2: 1 }, EVPN_NO_ORIGIN),
  ryu("evpn_nlri_eth_a-d.pcap", { 2: 1 }, EVPN_NO_ORIGIN),
  ryu("evpn_nlri_eth_seg.pcap", { 2: 1 }, EVPN_NO_ORIGIN),
  ryu("evpn_nlri_inc_multi_eth_tag.pcap", { 2: 1 }, EVPN_NO_ORIGIN),
  ryu("evpn_nlri_ip_prefix.pcap", { 2: 1 }),
  ryu("evpn_nlri_mac_ip_ad.pcap", { 2: 1 }, EVPN_NO_ORIGIN),
  ryu("flowspec_action_redirect.pcap", { 2: 1 }),
  ryu("flowspec_action_traffic_action.pcap", { 2: 1 }),
  ryu("flowspec_action_traffic_marking.pcap", { 2: 1 }),
  ryu("flowspec_action_traffic_rate.pcap", { 2: 1 }),
  ryu("flowspec_nlri_ipv4.pcap", { 2: 1 }),
  ryu("flowspec_nlri_ipv6.pcap", { 2: 1 }),
  ryu("flowspec_nlri_l2vpn.pcap", { 2: 1 }),
  ryu("flowspec_nlri_vpn4.pcap", { 2: 1 }),
  ryu("flowspec_nlri_vpn6.pcap", { 2: 1 }),
  // pmacct's replays put the OPEN on the SYN (see support/tcp.ts); some end inside an UPDATE.
  { path: fixturePath("pmacct", "300-BGP-IPv6-CISCO-extNH_enc", "traffic-00.pcap"), tshark: { 1: 1, 2: 45, 4: 1 } },
  { path: fixturePath("pmacct", "301-BGP-CISCO-pretag", "traffic-00.pcap"), tshark: { 1: 1, 2: 20, 4: 1 }, trailing: 111 },
  { path: fixturePath("pmacct", "302-BGP-IPv6-multiple-sources", "traffic-00.pcap"), tshark: { 1: 1, 2: 24, 4: 1 }, trailing: 43 },
  { path: fixturePath("pmacct", "302-BGP-IPv6-multiple-sources", "traffic-01.pcap"), tshark: { 1: 1, 2: 26, 4: 1 }, trailing: 119 },
  { path: fixturePath("pmacct", "302-BGP-IPv6-multiple-sources", "traffic-02.pcap"), tshark: { 1: 1, 2: 8, 4: 1 } },
  { path: fixturePath("pmacct", "302-BGP-IPv6-multiple-sources", "traffic-03.pcap"), tshark: { 1: 1, 2: 8, 4: 1 } },
  { path: fixturePath("pmacct", "303-BGP-high-availability", "traffic-00.pcap"), tshark: { 1: 1, 2: 45, 4: 1 } },
  // IPFIX over UDP in the same capture is not TCP/179 and is left out, as tshark's bgp filter does.
  { path: fixturePath("pmacct", "501-IPFIXv10-BGP-IPv6-CISCO-MPLS", "traffic-00.pcap"), tshark: { 1: 1, 2: 28, 4: 1 } },
  // GPL: read from ../shared/data only.
  { path: sharedPath("pypacker", "packets_bgp.pcap"), tshark: { 1: 1, 2: 1, 4: 1 }, contexts: ["as2", "as2"] },
  { path: sharedPath("pypacker", "packets_bgp2.pcap"), tshark: { 1: 2, 2: 3, 4: 4 } },
  // One UPDATE split over two TCP segments (gzip-wrapped pcap).
  { path: sharedPath("scapy", "bgp_fragmented.pcap.gz"), tshark: { 2: 1 } },
  { path: sharedPath("bgp-rs", "pcap", "BGP_flowspec_dscp.cap"), tshark: { 2: 1 } },
  { path: sharedPath("bgp-rs", "pcap", "BGP_flowspec_redirect.cap"), tshark: { 1: 2, 2: 6, 4: 4 } },
  { path: sharedPath("bgp-rs", "pcap", "BGP_flowspec_v4.cap"), tshark: { 2: 1 } },
  { path: sharedPath("bgp-rs", "pcap", "BGP_flowspec_v6.cap"), tshark: { 1: 1, 2: 2, 4: 1 } },
  // Only one OPEN advertises extended messages (RFC 8654 §3 needs both), so the limit stays 4096.
  { path: sharedPath("bgp-rs", "pcap", "BGP_notification_msg.cap"), tshark: { 1: 2, 3: 1 }, contexts: ["as4", "as4"] },
  // Loopback capture that misses the 19 octets between its two segments: the second run resynchronises.
  { path: sharedPath("bgp-rs", "pcap", "bgp_withdraw.cap"), tshark: { 2: 2 } }
]

const describeContext = (c: { as4: boolean; extendedMessage: boolean; addPath: ReadonlySet<number> }): string =>
  `${c.as4 ? "as4" : "as2"}${c.extendedMessage ? "+ext" : ""}${c.addPath.size > 0 ? `+ap${[...c.addPath].join(",")}` : ""}`

describe("every capture decodes message by message, with tshark's counts", () => {
  for (const c of cases) {
    const name = c.path.split(/[\\/]/).slice(-2).join("/")
    it(name, () => {
      const d = decodeCapture(readBytes(c.path))
      expect(countTypes(d.messages), "counts by type vs tshark").toEqual(c.tshark)
      expect(d.framingErrors).toEqual([])
      expect({ skipped: d.skipped, trailing: d.trailing }).toEqual({ skipped: 0, trailing: c.trailing ?? 0 })
      if (c.contexts !== undefined) expect([...d.contexts.values()].map(describeContext)).toEqual(c.contexts)
      d.messages.forEach((m, i) => {
        if (Result.isFailure(m.result)) assert.fail(`${name} message ${i}: ${m.result.failure.message}`)
        const msg = m.result.success
        const expected = c.repaired?.[i]
        if (msg._tag === "Update" && msg.errors !== undefined) {
          assert(expected !== undefined, `${name} message ${i}: unexpected RFC 7606 repair: ${summarizeResult(m.result)}`)
          expect(summarizeResult(m.result).replace(/raw \d+B/, "raw *")).toBe(expected)
          return
        }
        assert(expected === undefined, `${name} message ${i}: expected a repair`)
        // Round trip under the same context: encode must succeed and decode back to the same message.
        const ctx = d.contexts.get(m.direction)!
        const enc = encodeMessage(msg, ctx)
        if (Result.isFailure(enc)) assert.fail(`${name} message ${i}: re-encode: ${enc.failure.message}`)
        expect(decodeMessage(enc.success, ctx), `${name} message ${i} round trip`).toEqual(m.result)
      })
    })
  }
})

// ---------------------------------------------------------------------------------------------------
// The test scaffolding itself: reassembly and context negotiation on hand-made input, so a capture test
// cannot pass because the reader skipped what it could not handle.

const seg = (seq: number, payload: ReadonlyArray<number>, frame: number, syn = false): TcpSegment => ({
  frame,
  src: "10.0.0.1",
  dst: "10.0.0.2",
  srcPort: 50000,
  dstPort: 179,
  seq,
  syn,
  fin: false,
  rst: false,
  payload: Uint8Array.from(payload)
})

describe("capture scaffolding", () => {
  it("reassembles out-of-order and retransmitted segments, and splits at a hole", () => {
    const [d] = reassemble([
      seg(1000, [], 1, true),
      seg(1005, [5, 6, 7], 3), // arrives before the segment it follows
      seg(1001, [1, 2, 3, 4], 2),
      seg(1003, [3, 4, 5], 4), // retransmission overlapping both
      seg(1008, [8, 9], 5),
      seg(1020, [20, 21], 6) // hole 1010..1019
    ])
    expect(d!.runs.map((r) => ({ frame: r.firstFrame, bytes: [...r.bytes], resync: r.resync }))).toEqual([
      { frame: 2, bytes: [1, 2, 3, 4, 5, 6, 7, 8, 9], resync: false },
      { frame: 6, bytes: [20, 21], resync: true }
    ])
  })

  it("handles sequence numbers that wrap past 2^32", () => {
    const [d] = reassemble([seg(0xfffffffe, [1, 2], 1), seg(0, [3], 2)])
    expect(d!.runs.map((r) => [...r.bytes])).toEqual([[1, 2, 3]])
  })

  const open = (caps: Open["capabilities"]): Open => ({ _tag: "Open", version: 4, myAs: 1, holdTime: 90, bgpId: 1, capabilities: caps })

  it("negotiates 4-octet AS, extended messages and ADD-PATH direction from the two OPENs", () => {
    const a = open([{ _tag: "FourOctetAs", asn: 1 }, { _tag: "ExtendedMessage" }, { _tag: "AddPath", families: [{ afi: 1, safi: 1, mode: 2 }] }])
    const b = open([{ _tag: "FourOctetAs", asn: 2 }, { _tag: "ExtendedMessage" }, { _tag: "AddPath", families: [{ afi: 1, safi: 1, mode: 1 }] }])
    expect(describeContext(negotiate(a, b))).toBe("as4+ext+ap257") // a sends, b receives
    expect(describeContext(negotiate(b, a))).toBe("as4+ext") // b does not send path identifiers
    expect(describeContext(negotiate(a, open([])))).toBe("as2")
    expect(describeContext(negotiate(undefined, undefined))).toBe("as4")
  })
})
