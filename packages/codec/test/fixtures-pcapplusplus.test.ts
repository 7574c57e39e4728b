/**
 * PcapPlusPlus BGP test packets (Unlicense; fixtures/pcapplusplus): `.dat` files are one Ethernet frame
 * as hex, BgpPackets.pcap is a pcapng of eight frames from three sessions, Bgp_open_malformed.pcap holds
 * four broken OPENs. Expected values were read off `tshark -r <file> -V` (Wireshark 4.0).
 *
 * The malformed OPENs, per RFC 4271:
 * - Length 25 is shorter than an OPEN can be (29): §6.1 Bad Message Length, data = the Length field.
 * - Optional Parameters Length 5 with 1 octet left; a parameter of length 16 with 3 left; a second
 *   parameter of length 5 with 1 left: the header is sound, the OPEN body is not. §6.2 names no subcode
 *   for these, so §4.5's Unspecific (0) applies: 2/0. (RFC 9072 §2 does not apply: no parameter has type
 *   255. Bad Message Length is for the header Length field, §6.1, which matches the data here.)
 */
import { Result } from "effect"
import { assert, describe, expect, it } from "@effect/vitest"
import { decodeMessage, defaultContext, makeContext, familyKey, makeFramer } from "../src/index.ts"
import { decodeCapture, countTypes } from "./support/capture.ts"
import { fromHex } from "./support/hex.ts"
import { LinkType, readCapture, tcpSegment } from "./support/pcap.ts"
import { fixturePath, readBytes, readText } from "./support/paths.ts"
import { summarizeResult } from "./support/summary.ts"

/** The TCP payload of a `.dat` frame, framed and decoded (ADD-PATH only where the OPEN offered it). */
const decodeDat = (name: string, ctx = defaultContext): string[] => {
  const frame = { number: 1, linkType: LinkType.ETHERNET, data: fromHex(readText(fixturePath("pcapplusplus", name))) }
  const seg = tcpSegment(frame)
  assert(seg !== undefined, `${name}: no TCP segment`)
  expect(seg.srcPort === 179 || seg.dstPort === 179).toBe(true)
  const framer = makeFramer()
  const r = framer.push(seg.payload)
  expect(r.error).toBeUndefined()
  expect(framer.buffered).toBe(0)
  return r.messages.map((m) => summarizeResult(decodeMessage(m, ctx)))
}

const OPEN_AS1 = "OPEN v4 AS 1 hold 180 id 1.1.1.1 [MP 1/1; cap 128; RouteRefresh; EnhancedRouteRefresh; AS4 1]"
const OPEN_AS64512 =
  "OPEN v4 AS 64512 hold 180 id 10.0.0.6 [MP 1/1; cap 128; RouteRefresh; EnhancedRouteRefresh; ADD-PATH 1/1:3; AS4 64512]"
const UPDATES_4 = [
  "UPDATE origin INCOMPLETE; path seq(10 20 40); nh 30.3.30.3; nlri 104.104.40.0/24",
  "UPDATE origin IGP; path seq(10 20 40); nh 30.3.30.3; nlri 40.1.1.0/24 40.40.40.0/24 103.103.0.0/16 103.103.40.0/24",
  "UPDATE origin IGP; path seq(10 20); nh 30.3.30.3; nlri 20.100.100.20/32",
  "UPDATE empty (End-of-RIB)"
]
const UPDATES_2 = [
  "UPDATE withdraw 40.1.1.0/24 40.40.40.0/24 103.103.0.0/16 103.103.40.0/24",
  "UPDATE withdraw 104.104.40.0/24"
]
const NTT_SHUTDOWN =
  "NOTIFICATION 6/2 \"NTT will perform maintenance on this router. This is tracked in TICKET-1-24824294. Contact noc@ntt.net for more information.\""

describe("PcapPlusPlus .dat frames", () => {
  it("Bgp_keepalive.dat", () => expect(decodeDat("Bgp_keepalive.dat")).toEqual(["KEEPALIVE"]))
  it("Bgp_notification.dat: Cease/Administrative Shutdown with an RFC 9003 message", () =>
    expect(decodeDat("Bgp_notification.dat")).toEqual([NTT_SHUTDOWN]))
  it("Bgp_notification2.dat: Cease/Administrative Reset, no data", () =>
    expect(decodeDat("Bgp_notification2.dat")).toEqual(["NOTIFICATION 6/4"]))
  it("Bgp_open.dat", () => expect(decodeDat("Bgp_open.dat")).toEqual([OPEN_AS1]))
  it("Bgp_open2.dat (ADD-PATH IPv4 unicast, send/receive)", () => expect(decodeDat("Bgp_open2.dat")).toEqual([OPEN_AS64512]))
  it("Bgp_route-refresh.dat: RFC 7313 Beginning of Route Refresh", () =>
    expect(decodeDat("Bgp_route-refresh.dat")).toEqual(["ROUTE-REFRESH 1/1 subtype 1"]))
  it("Bgp_update1.dat: two UPDATEs in one segment", () => expect(decodeDat("Bgp_update1.dat")).toEqual(UPDATES_2))
  it("Bgp_update2.dat: four UPDATEs in one segment, 4-octet AS_PATH", () => expect(decodeDat("Bgp_update2.dat")).toEqual(UPDATES_4))
  it("Bgp_update2.dat under ADD-PATH would be misread: the context matters", () => {
    // With ADD-PATH the first NLRI octets are taken as a path identifier and the field no longer parses.
    const out = decodeDat("Bgp_update2.dat", makeContext({ addPath: new Set([familyKey(1, 1)]) }))
    expect(out[0]).toBe("ERROR 3/10 InvalidNetworkField data ")
  })

  const malformed: ReadonlyArray<readonly [string, string]> = [
    ["Bgp_open_too_short_header.dat", "ERROR 1/2 BadMessageLength data 0019"],
    ["Bgp_open_truncated_opt_param_hdr.dat", "ERROR 2/0 MalformedOpen data "],
    ["Bgp_open_malformed_opt_param_len.dat", "ERROR 2/0 MalformedOpen data "],
    ["Bgp_open_partial_valid_opt_params.dat", "ERROR 2/0 MalformedOpen data "]
  ]
  for (const [name, error] of malformed) {
    it(`${name}: ${error.trim()}`, () => {
      const frame = { number: 1, linkType: LinkType.ETHERNET, data: fromHex(readText(fixturePath("pcapplusplus", name))) }
      const payload = tcpSegment(frame)!.payload
      if (error.includes("BadMessageLength")) {
        // A header error: the framer itself refuses the stream (RFC 4271 §6.1).
        const r = makeFramer().push(payload)
        expect(r.messages).toHaveLength(0)
        assert(r.error !== undefined)
        expect(`ERROR ${r.error.code}/${r.error.subcode} ${r.error.reason} data ${Buffer.from(r.error.data).toString("hex")}`).toBe(error)
      }
      expect(summarizeResult(decodeMessage(payload, defaultContext))).toBe(error)
    })
  }
})

describe("PcapPlusPlus captures", () => {
  it("BgpPackets.pcap: every message, in order, as tshark shows them", () => {
    const d = decodeCapture(readBytes(fixturePath("pcapplusplus", "BgpPackets.pcap")))
    expect(d.messages.map((m) => summarizeResult(m.result))).toEqual([
      OPEN_AS64512,
      "ROUTE-REFRESH 1/1 subtype 1",
      ...UPDATES_4,
      ...UPDATES_2,
      OPEN_AS1,
      "KEEPALIVE",
      "NOTIFICATION 6/4",
      NTT_SHUTDOWN
    ])
    // tshark -Y bgp -T fields -e bgp.type: 2 OPEN, 6 UPDATE, 2 NOTIFICATION, 1 KEEPALIVE, 1 ROUTE-REFRESH
    expect(countTypes(d.messages)).toEqual({ 1: 2, 2: 6, 3: 2, 4: 1, 5: 1 })
    // The UPDATE session lost a segment between frames 3 and 4 ("previous segment not captured"): the
    // second run resynchronises on its first marker, which starts the segment, so nothing is skipped.
    expect({ skipped: d.skipped, trailing: d.trailing, framingErrors: d.framingErrors.length }).toEqual({ skipped: 0, trailing: 0, framingErrors: 0 })
  })

  it("Bgp_open_malformed.pcap: each frame's OPEN gets the NOTIFICATION RFC 4271 prescribes", () => {
    const frames = readCapture(readBytes(fixturePath("pcapplusplus", "Bgp_open_malformed.pcap")))
    const out = frames.map((f) => summarizeResult(decodeMessage(tcpSegment(f)!.payload, defaultContext)))
    expect(out).toEqual([
      // Optional Parameters Length 5, only 1 octet follows
      "ERROR 2/0 MalformedOpen data ",
      // a parameter of length 0, then one of length 5 with 1 octet left
      "ERROR 2/0 MalformedOpen data ",
      // a capabilities parameter of length 16 with 3 octets left
      "ERROR 2/0 MalformedOpen data ",
      // Length 25 < 29
      "ERROR 1/2 BadMessageLength data 0019"
    ])
  })

  it("Bgp_open_malformed.pcap as a TCP stream: the four frames reuse sequence number 1", () => {
    // tshark marks frames 2-4 as out-of-order retransmissions and dissects only frame 1 (1 OPEN); the
    // reassembler likewise keeps frame 1 and only the octets that extend past it.
    const d = decodeCapture(readBytes(fixturePath("pcapplusplus", "Bgp_open_malformed.pcap")))
    expect(countTypes(d.messages)).toEqual({ 1: 1 })
    expect(d.messages.map((m) => summarizeResult(m.result))).toEqual(["ERROR 2/0 MalformedOpen data "])
    expect(d.trailing).toBe(4)
  })

  it("the .dat frames are the frames of BgpPackets.pcap", () => {
    // Cross-check the two readers: the pcapng frames hold the same bytes as the hex files.
    const frames = readCapture(readBytes(fixturePath("pcapplusplus", "BgpPackets.pcap")))
    const dat = fromHex(readText(fixturePath("pcapplusplus", "Bgp_update2.dat")))
    expect(frames.some((f) => Buffer.compare(Buffer.from(f.data), Buffer.from(dat)) === 0)).toBe(true)
    expect(Result.isSuccess(decodeMessage(tcpSegment(frames[0]!)!.payload, defaultContext))).toBe(true)
  })
})
