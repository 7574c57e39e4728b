/**
 * MRT reading: every MRT file of ../shared/data/MANIFEST.md decodes to the record counts the MANIFEST
 * gives (and to what a naive 12-octet header walk counts), damaged streams end in a typed error after
 * everything readable, the reader streams, and bgpdump text helpers follow libbgpdump.
 */
import { assert, describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import { readFileSync, statSync } from "node:fs"
import { join } from "node:path"
import { Readable } from "node:stream"
import { fileURLToPath } from "node:url"
import { gunzipSync, gzipSync } from "node:zlib"
import { Result } from "effect"
import { formatPrefix, ipv4Prefix, SegmentType } from "../src/index.ts"
import {
  bgpdumpAsPath,
  bgpdumpCommunities,
  bgpdumpIpv6,
  Bunzip2,
  detectCompression,
  encodeRib,
  jsonLines,
  makeMrtParser,
  MrtError,
  parseMrt,
  readMrt
} from "../src/mrt/index.ts"
import type { Bgp4mpMessage, MrtRecord, RibRecord } from "../src/mrt/index.ts"

const ROOT = fileURLToPath(new URL("../../../", import.meta.url))
const DATA = join(ROOT, "../shared/data")
const data = (rel: string): string => join(DATA, rel)

interface Read {
  readonly records: MrtRecord[]
  readonly error?: unknown
}

const collect = async (input: string | Readable, options?: Parameters<typeof readMrt>[1]): Promise<Read> => {
  const records: MrtRecord[] = []
  try {
    for await (const r of readMrt(input, options)) records.push(r)
    return { records }
  } catch (error) {
    return { records, error }
  }
}

/** Decompresses with Node's zlib, or our bzip2 stream (bz2 files are also checked against bgpdump by the CLI tests). */
const decompress = async (bytes: Uint8Array): Promise<Uint8Array> => {
  const kind = detectCompression(bytes)
  if (kind === "gzip") return gunzipSync(bytes)
  if (kind === "none") return bytes
  const chunks: Buffer[] = []
  for await (const c of Readable.from([Buffer.from(bytes)]).pipe(new Bunzip2())) chunks.push(c as Buffer)
  return Buffer.concat(chunks)
}

/** The MANIFEST's verification: walk 12-octet headers; returns the count and whether it ends on the last octet. */
const walk = (b: Uint8Array): { count: number; exact: boolean } => {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength)
  let i = 0
  let count = 0
  while (i + 12 <= b.length) {
    i += 12 + dv.getUint32(i + 8)
    if (i > b.length) break
    count++
  }
  return { count, exact: i === b.length }
}

const tags = (rs: ReadonlyArray<MrtRecord>): Record<string, number> => {
  const out: Record<string, number> = {}
  for (const r of rs) out[r._tag] = (out[r._tag] ?? 0) + 1
  return out
}
const messages = (rs: ReadonlyArray<MrtRecord>): Bgp4mpMessage[] => rs.filter((r): r is Bgp4mpMessage => r._tag === "Bgp4mpMessage")
const ribs = (rs: ReadonlyArray<MrtRecord>): RibRecord[] => rs.filter((r): r is RibRecord => r._tag === "Rib")
const entryCount = (rs: ReadonlyArray<MrtRecord>): number => ribs(rs).reduce((n, r) => n + r.entries.length, 0)
const messageTypes = (rs: ReadonlyArray<MrtRecord>): Record<string, number> => {
  const out: Record<string, number> = {}
  for (const m of messages(rs)) {
    const k = m.message?._tag ?? "error"
    out[k] = (out[k] ?? 0) + 1
  }
  return out
}

/** [file, records (MANIFEST count where it gives one), extra checks] */
const FILES: ReadonlyArray<readonly [string, number, ((rs: MrtRecord[]) => void)?]> = [
  ["bgpdump/test_data/bview.20020722.2337.gz", 115521, (rs) => assert.deepStrictEqual(tags(rs), { TableDump: 115521 })],
  ["bgpdump/test_data/bview.ipv4_unicast_add_path.gz", 32, (rs) => {
    // MANIFEST: 31 prefixes, 62 paths, every one with its path identifier and peer
    assert.strictEqual(rs[0]!._tag, "PeerIndexTable")
    assert.strictEqual(ribs(rs).length, 31)
    assert.strictEqual(entryCount(rs), 62)
    for (const r of ribs(rs)) {
      assert.isTrue(r.addPath)
      assert.strictEqual(r.prefix?.afi, 1)
      for (const e of r.entries) {
        assert.isDefined(e.pathId)
        assert.isDefined(e.peer)
      }
    }
  }],
  ["bgpdump/test_data/bview.ipv6_unicast_add_path.gz", 32, (rs) => {
    assert.strictEqual(entryCount(rs), 62)
    assert.isTrue(ribs(rs).every((r) => r.prefix?.afi === 2 && r.header.subtype === 10))
  }],
  ["bgpdump/test_data/updates.20020722.2238.gz", 1121, (rs) => {
    // MANIFEST: OPEN 13, NOTIFICATION 7, KEEPALIVE 615, UPDATE 393
    assert.deepStrictEqual(messageTypes(rs), { Open: 13, Notification: 7, Keepalive: 615, Update: 393 })
    assert.strictEqual(tags(rs)["Bgp4mpStateChange"], 93)
  }],
  ["bgpdump/test_data/updates.20070211.0141.gz", 23394],
  ["bgpdump/test_data/updates.20071015.1505.gz", 4297],
  ["bgpdump/test_data/updates.20100722.2015.gz", 2193],
  ["bgpdump/test_data/updates.et-header.2015.gz", 89686, (rs) => {
    assert.isTrue(rs.every((r) => r.header.type === 17))
    assert.isTrue(rs.some((r) => r.header.microseconds > 0))
  }],
  ["bgpdump/test_data/updates.long_withdrawal.gz", 1, (rs) => {
    const m = messages(rs)[0]!
    assert.isAbove(m.data.length, 4096)
    assert.strictEqual(m.message?._tag, "Update")
    if (m.message?._tag === "Update") {
      assert.strictEqual(m.message.mpUnreach?.withdrawn.length, 4096)
      assert.strictEqual(formatPrefix(m.message.mpUnreach!.withdrawn[1]!), "2001:db8:0:1::/64")
    }
  }],
  ["bgpdump/test_data/updates.nlri_mask_trailing_bits.gz", 1, (rs) => {
    const u = messages(rs)[0]!.message
    assert.strictEqual(u?._tag, "Update")
    // The prefix is read with its trailing bits cleared; the truncated second prefix is reported.
    if (u?._tag === "Update") {
      assert.deepStrictEqual(u.nlri.map(formatPrefix), ["11.8.0.0/13"])
      assert.isTrue(u.errors?.some((e) => e.reason === "InvalidNetworkField"))
    }
  }],
  ["mrtparse/bird-mrtdump_bgp", 27],
  ["mrtparse/bird-mrtdump_rib", 14, (rs) => assert.strictEqual(entryCount(rs), 18)],
  ["mrtparse/bird6-mrtdump_bgp", 27],
  ["mrtparse/bird6-mrtdump_rib", 9, (rs) => assert.strictEqual(entryCount(rs), 10)],
  ["mrtparse/bird6_bgp", 29],
  ["mrtparse/bird_bgp", 29, (rs) => {
    // BIRD wrote ADD-PATH NLRI under MESSAGE_AS4; the peer's OPEN offered ADD-PATH, so we read path ids.
    const updates = messages(rs).filter((m) => m.message?._tag === "Update")
    assert.strictEqual(updates.length, 8)
    assert.isTrue(updates.every((m) => m.header.subtype === 4 && m.message?._tag === "Update" && m.message.errors === undefined))
    const first = updates.find((m) => m.message?._tag === "Update" && m.message.nlri.length > 0)!
    assert.isTrue(first.addPath)
    if (first.message?._tag === "Update") {
      assert.deepStrictEqual(first.message.nlri.map((p) => `${formatPrefix(p)}#${p.pathId}`), ["172.17.0.0/24#2", "172.17.1.0/24#2", "172.17.2.0/24#2"])
    }
  }],
  ["mrtparse/openbgpd_bgp", 87],
  ["mrtparse/openbgpd_rib_table", 31, (rs) => {
    assert.deepStrictEqual(tags(rs), { TableDump: 31 })
    assert.strictEqual(rs.filter((r) => r.header.subtype === 2).length, 20)
  }],
  ["mrtparse/openbgpd_rib_table-mp", 31, (rs) => {
    // BGP4MP_ENTRY (subtype 2) is deprecated and not interpreted: raw records, not errors.
    assert.isTrue(rs.every((r) => r._tag === "Raw" && r.header.type === 16 && r.header.subtype === 2 && r.error === undefined))
  }],
  ["mrtparse/openbgpd_rib_table-v2", 24, (rs) => {
    assert.strictEqual(entryCount(rs), 33)
    const generic = ribs(rs).filter((r) => r.header.subtype === 6)
    assert.strictEqual(generic.length, 2)
    assert.isTrue(generic.every((r) => r.prefix === undefined && r.safi === 128 && r.nlri.length > 0))
  }],
  ["mrtparse/quagga_bgp", 67],
  ["mrtparse/quagga_rib", 7, (rs) => assert.strictEqual(entryCount(rs), 9)],
  ["bgpkit-parser/examples/updates.bz2", 85, (rs) => assert.isTrue(rs.every((r) => r.header.type === 17))],
  ["bgpkit-parser/ripe/rrc00/1999.09/updates.19990903.1041.gz", 24242, (rs) => {
    // deprecated BGP (5) records: UPDATEs, KEEPALIVEs, 4 state changes, one OPEN left raw
    assert.isTrue(rs.every((r) => r.header.type === 5))
    assert.deepStrictEqual(tags(rs), { Bgp4mpStateChange: 4, Raw: 1, Bgp4mpMessage: 24237 })
  }],
  ["bgpkit-parser/ripe/rrc01/2000.11/updates.20001104.0124.gz", 1286, (rs) => {
    // Zebra's 8-octet state changes (no addresses) and OPENs without addresses are read as bgpdump does.
    const short = rs.filter((r) => r._tag === "Bgp4mpStateChange" && r.header.length === 8)
    // bgpdump -m prints these 42 as STATE lines for 0.0.0.0
    assert.strictEqual(short.length, 42)
    assert.isTrue(short.every((r) => r._tag === "Bgp4mpStateChange" && r.peerAddress === "0.0.0.0"))
    assert.isTrue(rs.every((r) => r._tag !== "Raw" && !(r._tag === "Bgp4mpMessage" && r.message === undefined)))
  }],
  ["bgpkit-parser/ripe/rrc03/2010.02/updates.20100227.1600.first-796-records.gz", 796, (rs) => {
    assert.isTrue(rs.some((r) => r._tag === "Bgp4mpStateChange" && (r.newState === 7 || r.newState === 8)))
  }],
  ["bgpkit-parser/ripe/rrc15/2010.02/updates.20100227.1610.gz", 1953],
  ["libbgpstream/ris.rrc06.updates.1427846400.gz", 795],
  ["libbgpstream/routeviews.route-views.jinx.updates.1427846400.bz2", 1756],
  ["morrowc-mrtparser/updates.20260222.1530.bz2", 49220, (rs) => {
    // MANIFEST: LARGE_COMMUNITY in 4402 updates; ONLY_TO_CUSTOMER present
    const us = messages(rs).flatMap((m) => (m.message?._tag === "Update" ? [m.message] : []))
    assert.strictEqual(us.filter((u) => u.attributes.largeCommunities !== undefined).length, 4402)
    assert.isTrue(us.some((u) => u.attributes.otc !== undefined))
  }],
  ["ryu/mrt/rib.20161101.0000_pick.bz2", 3, (rs) => assert.deepStrictEqual(tags(rs), { PeerIndexTable: 1, Rib: 2 })],
  ["ryu/mrt/updates.20161101.0000.bz2", 2623],
  ["bgp-rs/mrt/updates.20190101.0000.gz", 54514, (rs) => {
    const us = messages(rs).flatMap((m) => (m.message?._tag === "Update" ? [m.message] : []))
    assert.strictEqual(us.filter((u) => u.attributes.largeCommunities !== undefined).length, 7546)
  }],
  ["bgpcep/util_BgpMessages.bin", 45, (rs) => assert.strictEqual(messageTypes(rs)["Keepalive"], 9)],
  ["bgpcep/util_BgpMessages_wrong_header.bin", 45, (rs) => {
    // one BGP marker corrupted: that message is reported, the stream goes on
    const bad = messages(rs).filter((m) => m.error !== undefined)
    assert.strictEqual(bad.length, 1)
    assert.strictEqual(bad[0]!.error!.reason, "ConnectionNotSynchronized")
    assert.strictEqual(bad[0]!.message, undefined)
  }]
]

describe("MRT files of the MANIFEST", () => {
  for (const [rel, count, check] of FILES) it(`${rel} decodes to ${count} records`, async () => {
    const path = data(rel)
    const { records, error } = await collect(path)
    assert.strictEqual(error, undefined)
    assert.strictEqual(records.length, count)
    const w = walk(await decompress(readFileSync(path)))
    assert.isTrue(w.exact)
    assert.strictEqual(w.count, count)
    // Framing intact everywhere: no record is malformed.
    assert.isTrue(records.every((r) => r._tag !== "Raw" || r.error === undefined))
    // Offsets follow the records.
    assert.strictEqual(records[0]!.header.offset, 0)
    check?.(records)
  })

  it("bgpkit 2000.01 bview (records declared 4 octets short): first route, then a typed error", async () => {
    const { records, error } = await collect(data("bgpkit-parser/ripe/rrc00/2000.01/bview.20000111.0032.gz"))
    // bgpdump prints the first route and gives up on the next header; so do we, with a typed error.
    const first = records[0]!
    assert.strictEqual(first._tag, "TableDump")
    if (first._tag === "TableDump") {
      assert.strictEqual(formatPrefix(first.prefix), "3.0.0.0/8")
      assert.strictEqual(first.peerAddress, "204.152.166.29")
      assert.strictEqual(first.peerAs, 3549)
      assert.strictEqual(bgpdumpAsPath(first.attributes.asPath!), "3549 701 80")
    }
    assert.isAtMost(records.length, 2)
    assert.instanceOf(error, MrtError)
    const e = error as MrtError
    assert.strictEqual(e._tag, "MrtError")
    assert.strictEqual(e.reason, "RecordTooLong")
    assert.strictEqual(e.recordIndex, records.length)
  })
})

describe("damaged streams", () => {
  const raw = gunzipSync(readFileSync(data("bgpdump/test_data/bview.ipv4_unicast_add_path.gz")))
  const whole = parseMrt(raw).records

  it("a stream cut inside a record yields every complete record, then Truncated", async () => {
    // cut 10 octets into the body of the 6th record
    const cut = whole[5]!.header.offset + 22
    const { records, error } = await collect(Readable.from([Buffer.from(raw.subarray(0, cut))]))
    assert.strictEqual(records.length, 5)
    assert.deepStrictEqual(records.map(jsonLines), whole.slice(0, 5).map(jsonLines))
    assert.instanceOf(error, MrtError)
    assert.strictEqual((error as MrtError).reason, "Truncated")
    assert.strictEqual((error as MrtError).recordIndex, 5)
    assert.strictEqual((error as MrtError).offset, whole[5]!.header.offset)
  })

  it("a stream cut inside a header is Truncated too", () => {
    const cut = whole[3]!.header.offset + 5
    const r = parseMrt(raw.subarray(0, cut))
    assert.strictEqual(r.records.length, 3)
    assert.strictEqual(r.error?.reason, "Truncated")
    assert.match(r.error!.detail, /5 octets into a record header/)
  })

  it("a truncated gzip file yields what decompressed, then Decompression", async () => {
    const gz = readFileSync(data("bgpdump/test_data/updates.20100722.2015.gz"))
    const { records, error } = await collect(Readable.from([gz.subarray(0, gz.length >> 1)]))
    assert.isAbove(records.length, 100)
    assert.isBelow(records.length, 2193)
    assert.instanceOf(error, MrtError)
    assert.strictEqual((error as MrtError).reason, "Decompression")
  })

  it("corrupt bzip2 data (CRC) yields what decoded, then Decompression", async () => {
    const bz = Buffer.from(readFileSync(data("morrowc-mrtparser/updates.20260222.1530.bz2")))
    // damage the middle of the file: earlier blocks still decode
    for (let i = (bz.length >> 1); i < (bz.length >> 1) + 8; i++) bz[i] = bz[i]! ^ 0x55
    const { records, error } = await collect(Readable.from([bz]))
    assert.isAbove(records.length, 1000)
    assert.isBelow(records.length, 49220)
    assert.instanceOf(error, MrtError)
    assert.strictEqual((error as MrtError).reason, "Decompression")
  })

  it("a truncated bzip2 file is Decompression", async () => {
    const bz = readFileSync(data("ryu/mrt/updates.20161101.0000.bz2"))
    const { error } = await collect(Readable.from([bz.subarray(0, bz.length - 100)]))
    assert.strictEqual((error as MrtError).reason, "Decompression")
  })

  it("a missing file is Io", async () => {
    const { records, error } = await collect(join(DATA, "no-such-file.mrt"))
    assert.strictEqual(records.length, 0)
    assert.strictEqual((error as MrtError).reason, "Io")
  })

  it("a malformed body becomes a Raw record with an error; the stream goes on", () => {
    const rec = (type: number, subtype: number, body: number[]): number[] => {
      const len = body.length
      return [0, 0, 0, 1, type >> 8, type & 255, subtype >> 8, subtype & 255, len >>> 24, (len >> 16) & 255, (len >> 8) & 255, len & 255, ...body]
    }
    const bytes = Uint8Array.from([
      ...rec(16, 5, [0, 0, 1]), // STATE_CHANGE_AS4 cut short
      ...rec(99, 7, [1, 2, 3]), // unknown type
      ...rec(16, 3, [9]), // BGP4MP_SNAPSHOT: deprecated, not interpreted
      ...rec(13, 7, [4, 5]), // GEO_PEER_TABLE: not interpreted
      ...rec(16, 0, [0, 1, 0, 2, 0, 0, 0, 1, 10, 0, 0, 1, 10, 0, 0, 2, 0, 1, 0, 2]) // STATE_CHANGE
    ])
    const { records, error } = parseMrt(bytes)
    assert.strictEqual(error, undefined)
    assert.deepStrictEqual(records.map((r) => r._tag), ["Raw", "Raw", "Raw", "Raw", "Bgp4mpStateChange"])
    const bad = records[0]!
    assert.isTrue(bad._tag === "Raw" && bad.error?.reason === "MalformedRecord")
    for (const r of records.slice(1, 4)) assert.isTrue(r._tag === "Raw" && r.error === undefined)
    const unknown = records[1]!
    if (unknown._tag === "Raw") assert.deepStrictEqual([...unknown.body], [1, 2, 3])
    const sc = records[4]!
    if (sc._tag === "Bgp4mpStateChange") {
      assert.deepStrictEqual([sc.peerAs, sc.localAs, sc.peerAddress, sc.localAddress, sc.oldState, sc.newState], [1, 2, "10.0.0.1", "10.0.0.2", 1, 2])
    }
  })

  it("a length beyond the limit is RecordTooLong at once, without buffering", () => {
    const p = makeMrtParser({ maxRecordLength: 1000 })
    const r = p.push(Uint8Array.from([0, 0, 0, 1, 0, 13, 0, 2, 0, 0, 0x10, 0]))
    assert.strictEqual(r.error?.reason, "RecordTooLong")
    assert.strictEqual(p.push(new Uint8Array(10)).error?.reason, "RecordTooLong")
  })
})

describe("framing and streaming", () => {
  it("any chunking of the input gives the same records", () => {
    const bytes = Buffer.concat([
      readFileSync(data("mrtparse/bird-mrtdump_rib")),
      readFileSync(data("mrtparse/quagga_bgp")),
      readFileSync(data("mrtparse/bird6_bgp"))
    ])
    const expected = parseMrt(bytes).records.map(jsonLines).join("")
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: bytes.length }), { maxLength: 40 }), (cuts) => {
        const points = [...new Set([0, ...cuts, bytes.length])].sort((a, b) => a - b)
        const p = makeMrtParser()
        let out = ""
        for (let i = 1; i < points.length; i++) {
          const r = p.push(bytes.subarray(points[i - 1], points[i]))
          assert.strictEqual(r.error, undefined)
          out += r.records.map(jsonLines).join("")
        }
        assert.strictEqual(p.end(), undefined)
        assert.strictEqual(out, expected)
      }),
      { numRuns: 200 }
    )
  })

  it("records over 64 KiB (32-bit MRT length) read back whole, across small chunks", async () => {
    const entries = Array.from({ length: 1500 }, (_, k) => ({
      peerIndex: k % 7,
      originatedTime: 1_600_000_000 + k,
      attributes: {
        origin: 0 as const,
        asPath: [{ type: SegmentType.AS_SEQUENCE, asns: [64512, 4_200_000_000 + k] }],
        nextHop: 0x0a000001,
        communities: Array.from({ length: 8 }, (_, c) => ((65000 << 16) | c) >>> 0)
      }
    }))
    const r = encodeRib({ timestamp: 1_700_000_000, sequence: 7, prefix: ipv4Prefix(0xc6336400, 24), entries })
    assert.isTrue(Result.isSuccess(r))
    const bytes = Result.getOrThrow(r)
    assert.isAbove(bytes.length, 65536)
    const chunks: Buffer[] = []
    for (let i = 0; i < bytes.length; i += 1000) chunks.push(Buffer.from(bytes.subarray(i, i + 1000)))
    const { records, error } = await collect(Readable.from(chunks))
    assert.strictEqual(error, undefined)
    assert.strictEqual(records.length, 1)
    const rib = records[0]!
    assert.strictEqual(rib._tag, "Rib")
    if (rib._tag === "Rib") {
      assert.strictEqual(rib.header.length, bytes.length - 12)
      assert.strictEqual(rib.entries.length, 1500)
      assert.strictEqual(formatPrefix(rib.prefix!), "198.51.100.0/24")
      assert.deepStrictEqual(rib.entries[1499]!.attributes.asPath, entries[1499]!.attributes.asPath)
      assert.deepStrictEqual(rib.entries[1499]!.attributes.communities, entries[1499]!.attributes.communities)
      assert.strictEqual(rib.entries[1499]!.originatedTime, 1_600_001_499)
    }
  })

  it("streams the 2002 bview: records come before the file is read, and reading waits for the consumer", async () => {
    const path = data("bgpdump/test_data/bview.20020722.2337.gz")
    const size = statSync(path).size
    let read = 0
    const it = readMrt(path, { highWaterMark: 16 * 1024, onInput: (n) => (read += n) })[Symbol.asyncIterator]()
    const first = await it.next()
    assert.strictEqual(first.value?._tag, "TableDump")
    assert.isBelow(read, size / 8)
    // Nobody pulls: the file must not be read on behind our back (backpressure all the way down).
    await new Promise((r) => setTimeout(r, 100))
    const afterPause = read
    assert.isBelow(afterPause, size / 4)
    let n = 1
    for (;;) {
      const x = await it.next()
      if (x.done === true) break
      n++
    }
    assert.strictEqual(n, 115521)
    assert.strictEqual(read, size)
  })

  it("stopping early closes the input", async () => {
    const path = data("bgpdump/test_data/updates.et-header.2015.gz")
    let read = 0
    let n = 0
    for await (const _ of readMrt(path, { highWaterMark: 16 * 1024, onInput: (k) => (read += k) })) if (++n === 10) break
    await new Promise((r) => setTimeout(r, 50))
    assert.isBelow(read, statSync(path).size / 10)
  })

  it("gzip, bzip2 and plain inputs are recognised by their magic bytes and read alike", async () => {
    const bz = readFileSync(data("ryu/mrt/rib.20161101.0000_pick.bz2"))
    assert.strictEqual(detectCompression(bz), "bzip2")
    const plain = await decompress(bz)
    assert.strictEqual(detectCompression(plain), "none")
    const gz = gzipSync(plain)
    assert.strictEqual(detectCompression(gz), "gzip")
    const a = (await collect(Readable.from([bz]))).records.map(jsonLines)
    const b = (await collect(Readable.from([Buffer.from(plain)]))).records.map(jsonLines)
    const c = (await collect(Readable.from([gz]))).records.map(jsonLines)
    assert.strictEqual(a.length, 3)
    assert.deepStrictEqual(a, b)
    assert.deepStrictEqual(a, c)
    // a multi-member gzip (concatenated files) is one stream
    const twice = Buffer.concat([gz, gz])
    assert.strictEqual((await collect(Readable.from([twice]))).records.length, 6)
  })
})

describe("bgpdump text", () => {
  const v6 = (s: string): string => {
    const b = Buffer.alloc(16)
    const groups = s.split(":").map((g) => parseInt(g, 16))
    groups.forEach((g, i) => b.writeUInt16BE(g, i * 2))
    return bgpdumpIpv6(b.readUInt32BE(0), b.readUInt32BE(4), b.readUInt32BE(8), b.readUInt32BE(12))
  }
  it("formats IPv6 as libbgpdump's fmt_ipv6", () => {
    expect(v6("2001:db8:0:0:0:0:0:1")).toBe("2001:db8::1")
    expect(v6("fe80:0:0:0:0:0:0:0")).toBe("fe80::")
    expect(v6("0:0:0:0:0:0:0:0")).toBe("::")
    expect(v6("0:0:0:0:0:0:0:1")).toBe("::1")
    // a single zero group is compressed too (RFC 5952 would not)
    expect(v6("2001:db8:0:1:2:3:4:5")).toBe("2001:db8::1:2:3:4:5")
    expect(v6("2001:7f8:30:0:2:1:0:8447")).toBe("2001:7f8:30::2:1:0:8447")
    expect(v6("2001:db8:0:1:0:0:0:0")).toBe("2001:db8:0:1::")
    expect(v6("0:0:0:0:0:ffff:c0a8:201")).toBe("::ffff:192.168.2.1")
    expect(v6("0:0:0:0:0:0:c0a8:102")).toBe("::192.168.1.2")
  })
  it("formats AS paths with sets and confederation segments", () => {
    const S = SegmentType
    expect(bgpdumpAsPath([{ type: S.AS_SEQUENCE, asns: [1, 2] }, { type: S.AS_SET, asns: [3, 4] }])).toBe("1 2 {3,4}")
    expect(bgpdumpAsPath([{ type: S.AS_SET, asns: [3, 4] }, { type: S.AS_SEQUENCE, asns: [5] }])).toBe("{3,4} 5")
    expect(bgpdumpAsPath([{ type: S.AS_CONFED_SEQUENCE, asns: [1, 2] }, { type: S.AS_SEQUENCE, asns: [3] }])).toBe("(1 2) 3")
    expect(bgpdumpAsPath([{ type: S.AS_SEQUENCE, asns: [3] }, { type: S.AS_CONFED_SET, asns: [1, 2] }])).toBe("3 [1,2]")
    expect(bgpdumpAsPath([])).toBe("")
    const seg = { type: S.AS_SEQUENCE, asns: Array.from({ length: 255 }, () => 4_200_000_000) }
    const long = bgpdumpAsPath([seg, seg, seg])
    assert.isTrue(long.endsWith("...") && long.length < 8000)
  })
  it("formats communities with the well-known names", () => {
    expect(bgpdumpCommunities([0xffffff01, 0xffffff02, 0xffffff03, (3257 << 16) | 3040])).toBe("no-export no-advertise local-AS 3257:3040")
  })
})
