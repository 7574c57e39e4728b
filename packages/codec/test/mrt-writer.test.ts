/**
 * MRT writing: what we write reads back identically, re-encoding real dumps loses nothing, and the
 * installed `bgpdump -m` reads our files to the same lines as our bgpdump formatter (and, for re-encoded
 * test_data files, to bgpdump's own expected output).
 */
import { assert, describe, it } from "@effect/vitest"
import { execFileSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { gunzipSync } from "node:zlib"
import { Result } from "effect"
import { AttrFlag, ipv4Prefix, parsePrefix, SegmentType } from "../src/index.ts"
import type { Message, PathAttributes, Prefix } from "../src/index.ts"
import {
  bgpdumpLines,
  encodeBgp4mpMessage,
  encodeBgp4mpStateChange,
  encodePeerIndexTable,
  encodeRecord,
  encodeRib,
  jsonLines,
  parseMrt
} from "../src/mrt/index.ts"
import type { Bgp4mpMessageInput, Bgp4mpStateChangeInput, MrtRecord, RibInput } from "../src/mrt/index.ts"

const ROOT = fileURLToPath(new URL("../../../", import.meta.url))
const DATA = join(ROOT, "../shared/data")

const ok = (r: Result.Result<Uint8Array, unknown>): Uint8Array => {
  if (Result.isFailure(r)) throw new Error(`encode failed: ${String(r.failure)}`)
  return r.success
}
const concat = (parts: ReadonlyArray<Uint8Array>): Uint8Array => Buffer.concat(parts.map((p) => Buffer.from(p)))
const p = (s: string, pathId = 0): Prefix => parsePrefix(s, pathId)!
const v6 = (s: string): Uint8Array => {
  const x = parsePrefix(`${s}/128`)!
  const b = Buffer.alloc(16)
  ;[x.w0, x.w1, x.w2, x.w3].forEach((w, i) => b.writeUInt32BE(w, i * 4))
  return b
}

/** The installed bgpdump's -m lines for a file. */
const bgpdump = (file: string): string => execFileSync("bgpdump", ["-m", file], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], maxBuffer: 1 << 28 })

const withTemp = <A>(bytes: Uint8Array, f: (file: string) => A): A => {
  const dir = mkdtempSync(join(tmpdir(), "starling-mrt-"))
  try {
    const file = join(dir, "dump.mrt")
    writeFileSync(file, bytes)
    return f(file)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const rich: PathAttributes = {
  origin: 0,
  asPath: [
    { type: SegmentType.AS_SEQUENCE, asns: [64500, 4_200_000_000, 3356] },
    { type: SegmentType.AS_SET, asns: [65001, 65002] }
  ],
  nextHop: 0xc0000201,
  med: 50,
  localPref: 200,
  atomicAggregate: true,
  aggregator: { asn: 4_200_000_000, address: 0xc0000202 },
  communities: [0xffffff01, ((3356 << 16) | 100) >>> 0],
  originatorId: 0x0a000001,
  clusterList: [0x0a000002, 0x0a000003],
  extendedCommunities: [{ hi: 0x00020000 | 3356, lo: 42 }],
  largeCommunities: [{ global: 4_200_000_000, local1: 1, local2: 2 }],
  unknown: [{ flags: AttrFlag.OPTIONAL | AttrFlag.TRANSITIVE, type: 99, value: Uint8Array.of(1, 2, 3) }]
}
const plain: PathAttributes = { origin: 2, asPath: [{ type: SegmentType.AS_SEQUENCE, asns: [65001] }], nextHop: 0x0a000009 }
const v6Attrs: PathAttributes = { origin: 1, asPath: [{ type: SegmentType.AS_SEQUENCE, asns: [4_200_000_001, 6939] }], med: 7 }

const update = (u: Omit<Extract<Message, { _tag: "Update" }>, "_tag">): Message => ({ _tag: "Update", ...u })

/** A dump using every form the writer offers. */
const build = () => {
  const peers = [
    { bgpId: "192.0.2.1", address: "192.0.2.1", asn: 65001 },
    { bgpId: "192.0.2.2", address: "2001:db8::2", asn: 4_200_000_001 }
  ]
  const ribV4: RibInput = { timestamp: 1_700_000_000, sequence: 0, prefix: ipv4Prefix(0xc6336400, 24), entries: [
    { peerIndex: 0, originatedTime: 1_699_000_000, attributes: rich },
    { peerIndex: 1, originatedTime: 1_699_000_001, attributes: plain }
  ] }
  const ribV6: RibInput = { timestamp: 1_700_000_000, sequence: 1, prefix: p("2001:db8:1::/48"), entries: [
    { peerIndex: 1, originatedTime: 1_699_000_002, attributes: v6Attrs, nextHop: v6("2001:db8::2") },
    { peerIndex: 1, originatedTime: 1_699_000_003, attributes: v6Attrs, nextHop: concat([v6("2001:db8::2"), v6("fe80::2")]) }
  ] }
  const ribV4AddPath: RibInput = { timestamp: 1_700_000_000, sequence: 2, prefix: p("203.0.113.0/25"), addPath: true, entries: [
    { peerIndex: 0, originatedTime: 1_699_000_004, pathId: 1, attributes: plain },
    { peerIndex: 0, originatedTime: 1_699_000_005, pathId: 2, attributes: rich }
  ] }
  const ribV6AddPath: RibInput = { timestamp: 1_700_000_000, sequence: 3, prefix: p("2001:db8:2::/64"), addPath: true, entries: [
    { peerIndex: 1, originatedTime: 1_699_000_006, pathId: 7, attributes: v6Attrs, nextHop: v6("2001:db8::2") }
  ] }
  const peer4 = { peerAs: 65001, localAs: 4_200_000_000, interfaceIndex: 3, peerAddress: "192.0.2.1", localAddress: "192.0.2.254" }
  const peer6 = { peerAs: 4_200_000_001, localAs: 65000, peerAddress: "2001:db8::2", localAddress: "2001:db8::fe" }
  const messages: Bgp4mpMessageInput[] = [
    { timestamp: 1_700_000_100, ...peer4, message: update({ withdrawn: [p("10.1.0.0/16")], attributes: rich, nlri: [p("198.51.100.0/24"), p("198.51.101.0/24")] }) },
    {
      timestamp: 1_700_000_101,
      microseconds: 123456,
      ...peer6,
      message: update({
        withdrawn: [],
        attributes: v6Attrs,
        nlri: [],
        mpReach: { afi: 2, safi: 1, nextHop: concat([v6("2001:db8::2"), v6("fe80::2")]), nlri: [p("2001:db8:10::/48"), p("2001:db8:11::/48")] },
        mpUnreach: { afi: 2, safi: 1, withdrawn: [p("2001:db8:20::/48")] }
      })
    },
    { timestamp: 1_700_000_102, ...peer4, local: true, message: update({ withdrawn: [], attributes: plain, nlri: [p("198.51.102.0/24")] }) },
    {
      timestamp: 1_700_000_103,
      ...peer4,
      addPath: true,
      message: update({ withdrawn: [p("10.2.0.0/16", 9)], attributes: plain, nlri: [p("198.51.103.0/24", 1), p("198.51.103.0/24", 2)] })
    },
    { timestamp: 1_700_000_104, ...peer4, message: { _tag: "Keepalive" } as Message },
    { timestamp: 1_700_000_105, ...peer6, message: { _tag: "Notification", code: 6, subcode: 2, data: Uint8Array.of(0) } as Message }
  ]
  const states: Bgp4mpStateChangeInput[] = [
    { timestamp: 1_700_000_099, ...peer4, oldState: 5, newState: 6 },
    { timestamp: 1_700_000_106, microseconds: 7, ...peer6, oldState: 6, newState: 1 }
  ]
  const bytes = concat([
    ok(encodePeerIndexTable({ timestamp: 1_700_000_000, collectorId: "192.0.2.254", viewName: "starling", peers })),
    ok(encodeRib(ribV4)),
    ok(encodeRib(ribV6)),
    ok(encodeRib(ribV4AddPath)),
    ok(encodeRib(ribV6AddPath)),
    ok(encodeBgp4mpStateChange(states[0]!)),
    ...messages.map((m) => ok(encodeBgp4mpMessage(m))),
    ok(encodeBgp4mpStateChange(states[1]!))
  ])
  return { peers, ribs: [ribV4, ribV6, ribV4AddPath, ribV6AddPath], messages, states, bytes }
}

describe("MRT writer", () => {
  it("reads back what it wrote, field for field", () => {
    const w = build()
    const { records, error } = parseMrt(w.bytes)
    assert.strictEqual(error, undefined)
    assert.deepStrictEqual(records.map((r) => r._tag), [
      "PeerIndexTable", "Rib", "Rib", "Rib", "Rib", "Bgp4mpStateChange",
      "Bgp4mpMessage", "Bgp4mpMessage", "Bgp4mpMessage", "Bgp4mpMessage", "Bgp4mpMessage", "Bgp4mpMessage", "Bgp4mpStateChange"
    ])
    const pit = records[0]!
    if (pit._tag !== "PeerIndexTable") throw new Error("not a peer table")
    assert.strictEqual(pit.collectorId, "192.0.2.254")
    assert.strictEqual(pit.viewName, "starling")
    assert.deepStrictEqual(pit.peers.map((x) => [x.bgpId, x.address, x.asn, x.as4]), [
      ["192.0.2.1", "192.0.2.1", 65001, false],
      ["192.0.2.2", "2001:db8::2", 4_200_000_001, true]
    ])
    w.ribs.forEach((input, k) => {
      const r = records[1 + k]!
      if (r._tag !== "Rib") throw new Error("not a RIB record")
      assert.strictEqual(r.header.subtype, [2, 4, 8, 10][k])
      assert.strictEqual(r.sequence, input.sequence)
      assert.deepStrictEqual(r.prefix, input.prefix)
      assert.strictEqual(r.entries.length, input.entries.length)
      r.entries.forEach((e, i) => {
        const want = input.entries[i]!
        assert.strictEqual(e.peerIndex, want.peerIndex)
        assert.strictEqual(e.peer?.asn, w.peers[want.peerIndex]!.asn)
        assert.strictEqual(e.originatedTime, want.originatedTime)
        assert.strictEqual(e.pathId, want.pathId)
        assert.deepStrictEqual(e.attributes, want.attributes)
        assert.deepStrictEqual(e.mpReach?.nextHop === undefined ? undefined : [...e.mpReach.nextHop], want.nextHop === undefined ? undefined : [...want.nextHop])
        assert.strictEqual(e.errors, undefined)
      })
    })
    w.messages.forEach((input, k) => {
      const r = records[6 + k]!
      if (r._tag !== "Bgp4mpMessage") throw new Error("not a message")
      assert.strictEqual(r.header.type, input.microseconds === undefined ? 16 : 17)
      assert.strictEqual(r.header.microseconds, input.microseconds ?? 0)
      assert.strictEqual(r.header.subtype, input.local === true ? 7 : input.addPath === true ? 9 : 4)
      assert.deepStrictEqual([r.peerAs, r.localAs, r.peerAddress, r.localAddress, r.interfaceIndex], [
        input.peerAs, input.localAs, input.peerAddress, input.localAddress, input.interfaceIndex ?? 0
      ])
      assert.strictEqual(r.local, input.local === true)
      assert.strictEqual(r.addPath, input.addPath === true)
      assert.deepStrictEqual(r.message, input.message)
    })
    const states = [records[5]!, records[12]!]
    states.forEach((r, k) => {
      if (r._tag !== "Bgp4mpStateChange") throw new Error("not a state change")
      const want = w.states[k]!
      assert.deepStrictEqual([r.header.type, r.header.subtype, r.peerAs, r.localAs, r.peerAddress, r.localAddress, r.oldState, r.newState], [
        want.microseconds === undefined ? 16 : 17, 5, want.peerAs, want.localAs, want.peerAddress, want.localAddress, want.oldState, want.newState
      ])
    })
  })

  it("bgpdump -m reads our dump to the lines our bgpdump formatter prints", () => {
    const w = build()
    const ours = parseMrt(w.bytes).records.map(bgpdumpLines).join("")
    const theirs = withTemp(w.bytes, bgpdump)
    assert.strictEqual(ours.split("\n").length - 1, 19)
    assert.strictEqual(theirs, ours)
    // spot-check the text itself
    assert.include(
      theirs,
      "TABLE_DUMP2|1700000000|B|192.0.2.1|65001|198.51.100.0/24|64500 4200000000 3356 {65001,65002}|IGP|192.0.2.1|200|50|no-export 3356:100|AG|4200000000 192.0.2.2|\n"
    )
    assert.include(theirs, "BGP4MP_ET|1700000101.123456|A|2001:db8::2|4200000001|2001:db8:10::/48|4200000001 6939|EGP|2001:db8::2|0|7||NAG||\n")
    assert.include(theirs, "BGP4MP_AP|1700000103|A|192.0.2.1|65001|198.51.103.0/24|2|65001|INCOMPLETE|10.0.0.9|0|0||NAG||\n")
  })

  it("a record over 64 KiB is read by bgpdump too", () => {
    const entries = Array.from({ length: 1200 }, (_, k) => ({
      peerIndex: k % 2,
      originatedTime: 1_600_000_000 + k,
      attributes: { ...plain, communities: Array.from({ length: 10 }, (_, c) => ((64500 << 16) | c) >>> 0) }
    }))
    const w = build()
    const bytes = concat([w.bytes.subarray(0, parseMrt(w.bytes).records[1]!.header.offset), ok(encodeRib({
      timestamp: 1_700_000_000,
      sequence: 9,
      prefix: p("192.0.2.0/24"),
      entries
    }))])
    const records = parseMrt(bytes).records
    assert.isAbove(records[1]!.header.length, 65535)
    const theirs = withTemp(bytes, bgpdump)
    assert.strictEqual(theirs.split("\n").length - 1, 1200)
    assert.strictEqual(theirs, records.map(bgpdumpLines).join(""))
  })

  it("refuses what the wire cannot carry", () => {
    assert.isTrue(Result.isFailure(encodeRib({ timestamp: 1, sequence: 0, prefix: p("192.0.2.0/24"), addPath: true, entries: [{ peerIndex: 0, originatedTime: 0, attributes: plain }] })))
    assert.isTrue(Result.isFailure(encodeBgp4mpStateChange({ timestamp: 1, peerAs: 1, localAs: 2, peerAddress: "192.0.2.1", localAddress: "2001:db8::1", oldState: 1, newState: 2 })))
    assert.isTrue(Result.isFailure(encodeBgp4mpStateChange({ timestamp: 1, microseconds: 1_000_000, peerAs: 1, localAs: 2, peerAddress: "192.0.2.1", localAddress: "192.0.2.2", oldState: 1, newState: 2 })))
    assert.isTrue(Result.isFailure(encodePeerIndexTable({ timestamp: 1, collectorId: "not-an-ip", peers: [] })))
    const td = parseMrt(gunzipSync(readFileSync(join(DATA, "bgpdump/test_data/bview.20020722.2337.gz"))).subarray(0, 200)).records[0]!
    assert.strictEqual(td._tag, "TableDump")
    assert.isTrue(Result.isFailure(encodeRecord(td)))
  })
})

/** Decodes a dump, writes every record again, decodes that: the records must say the same. */
const reencode = (bytes: Uint8Array): { before: MrtRecord[]; after: MrtRecord[]; written: Uint8Array } => {
  const before = [...parseMrt(bytes).records]
  const written = concat(before.map((r) => ok(encodeRecord(r))))
  const back = parseMrt(written)
  assert.strictEqual(back.error, undefined)
  return { before, after: [...back.records], written }
}

describe("re-encoding real dumps", () => {
  const file = (rel: string): Uint8Array => {
    const b = readFileSync(join(DATA, rel))
    return b[0] === 0x1f ? gunzipSync(b) : b
  }

  it.each([
    "bgpdump/test_data/bview.ipv4_unicast_add_path.gz",
    "bgpdump/test_data/bview.ipv6_unicast_add_path.gz",
    "bgpdump/test_data/updates.20100722.2015.gz",
    "bgpdump/test_data/updates.20071015.1505.gz",
    "bgpdump/test_data/updates.long_withdrawal.gz"
  ])("%s: bgpdump prints the expected lines for our re-encoded file", (rel) => {
    const { before, after, written } = reencode(file(rel))
    assert.strictEqual(after.length, before.length)
    assert.deepStrictEqual(after.map(jsonLines), before.map(jsonLines))
    const expected = gunzipSync(readFileSync(join(DATA, rel.replace("test_data", "test_expect") + ".bgp.gz"))).toString("utf8")
    assert.strictEqual(withTemp(written, bgpdump), expected)
  })

  it.each([
    "mrtparse/bird-mrtdump_rib",
    "mrtparse/bird6-mrtdump_bgp",
    "mrtparse/quagga_bgp",
    "mrtparse/quagga_rib",
    "mrtparse/openbgpd_bgp",
    "libbgpstream/ris.rrc06.updates.1427846400.gz",
    "bgpkit-parser/ripe/rrc01/2000.11/updates.20001104.0124.gz"
  ])("%s reads back the same", (rel) => {
    const { before, after } = reencode(file(rel))
    assert.strictEqual(after.length, before.length)
    assert.deepStrictEqual(after.map(jsonLines), before.map(jsonLines))
    assert.deepStrictEqual(after.map(bgpdumpLines), before.map(bgpdumpLines))
  })
})
