/**
 * `starling mrt`, run as a process: `--format bgpdump` prints, line for line, the test_expect files of
 * bgpdump (its own `bgpdump -vm` output) for every file in bgpdump/test_data, streamed and compared as it
 * comes; on other dumps it matches the installed `bgpdump -m`, except for four files whose differences are
 * asserted one by one below (each is a bgpdump bug or garbage read from a malformed file).
 */
import { assert, describe, it } from "@effect/vitest"
import { execFileSync, spawn } from "node:child_process"
import { createReadStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { createInterface } from "node:readline"
import type { Readable } from "node:stream"
import { fileURLToPath } from "node:url"
import { createGunzip, gunzipSync } from "node:zlib"
import { Result } from "effect"
import { encodeBgp4mpMessage } from "@starling/codec/mrt/index"
import { run } from "../src/commands/mrt.ts"

const ROOT = fileURLToPath(new URL("../../../", import.meta.url))
const DATA = join(ROOT, "../shared/data")
const BIN = join(ROOT, "packages/cli/src/bin.ts")
const data = (rel: string): string => join(DATA, rel)

interface Done {
  readonly code: number | null
  readonly stderr: string
}

/** Starts `starling mrt ...`; the caller consumes stdout. */
const start = (args: ReadonlyArray<string>): { stdout: Readable; done: Promise<Done> } => {
  const child = spawn(process.execPath, [BIN, "mrt", ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] })
  let stderr = ""
  child.stderr.setEncoding("utf8")
  child.stderr.on("data", (s: string) => (stderr += s))
  const done = new Promise<Done>((resolve, reject) => {
    child.on("error", reject)
    child.on("close", (code) => resolve({ code, stderr }))
  })
  return { stdout: child.stdout, done }
}

const runText = async (args: ReadonlyArray<string>): Promise<Done & { stdout: string }> => {
  const { stdout, done } = start(args)
  let out = ""
  stdout.setEncoding("utf8")
  for await (const s of stdout) out += s
  return { ...(await done), stdout: out }
}

/**
 * Runs the command in this process with stdout and stderr captured: the same code as `starling mrt`
 * minus a Node start-up, which on this 2-core machine costs more than most of the files take.
 */
const runHere = async (args: ReadonlyArray<string>): Promise<Done & { stdout: string }> => {
  const out: string[] = []
  const err: string[] = []
  const capture = (into: string[]) =>
    ((chunk: string | Uint8Array) => {
      into.push(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8"))
      return true
    }) as typeof process.stdout.write
  const stdoutWrite = process.stdout.write
  const stderrWrite = process.stderr.write
  process.stdout.write = capture(out)
  process.stderr.write = capture(err)
  try {
    const code = await run(args)
    return { code, stdout: out.join(""), stderr: err.join("") }
  } finally {
    process.stdout.write = stdoutWrite
    process.stderr.write = stderrWrite
  }
}

const lines = (s: string): string[] => (s.length === 0 ? [] : s.replace(/\n$/, "").split("\n"))

/** Walks two line streams in lockstep; fails at the first difference, naming the line. */
const compareLines = async (actual: Readable, expected: Readable): Promise<number> => {
  const a = createInterface({ input: actual, crlfDelay: Infinity })[Symbol.asyncIterator]()
  const e = createInterface({ input: expected, crlfDelay: Infinity })[Symbol.asyncIterator]()
  let n = 0
  for (;;) {
    const [x, y] = await Promise.all([a.next(), e.next()])
    if (x.done === true && y.done === true) return n
    n++
    assert.strictEqual(x.done === true ? "<end of output>" : x.value, y.done === true ? "<end of expected>" : y.value, `line ${n}`)
  }
}

const bgpdump = (file: string): string =>
  execFileSync("bgpdump", ["-m", file], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], maxBuffer: 1 << 28 })

describe("starling mrt --format bgpdump equals bgpdump's test_expect output", () => {
  it.each([
    ["bview.ipv4_unicast_add_path.gz", 62],
    ["bview.ipv6_unicast_add_path.gz", 62],
    ["updates.20020722.2238.gz", 3337],
    ["updates.20070211.0141.gz", 53657],
    ["updates.20071015.1505.gz", 10496],
    ["updates.20100722.2015.gz", 5654],
    ["updates.long_withdrawal.gz", 4096],
    // bgpdump 1.6.1+ clears prefix bits past the length (11.13.0.0/13 -> 11.8.0.0/13); so do we
    ["updates.nlri_mask_trailing_bits.gz", 1]
  ] as const)("%s (%i lines)", async (name, count) => {
    const r = await runHere([data(`bgpdump/test_data/${name}`), "--format", "bgpdump"])
    const expected = gunzipSync(readFileSync(data(`bgpdump/test_expect/${name}.bgp.gz`))).toString("utf8")
    assert.strictEqual(r.code, 0)
    assert.strictEqual(r.stderr, "")
    assert.strictEqual(lines(r.stdout).length, count)
    const ours = lines(r.stdout)
    lines(expected).forEach((l, i) => assert.strictEqual(ours[i], l, `line ${i + 1}`))
    assert.strictEqual(r.stdout, expected)
  })

  // The two big ones as real processes, compared line by line as the output streams.
  it.each([
    ["bview.20020722.2337.gz", 115521],
    ["updates.et-header.2015.gz", 577744]
  ] as const)("%s (%i lines), streamed from `node bin.ts mrt`", async (name, count) => {
    const { stdout, done } = start([data(`bgpdump/test_data/${name}`), "--format", "bgpdump"])
    const expected = createReadStream(data(`bgpdump/test_expect/${name}.bgp.gz`)).pipe(createGunzip())
    const n = await compareLines(stdout, expected)
    assert.strictEqual(n, count)
    const { code, stderr } = await done
    assert.strictEqual(stderr, "")
    assert.strictEqual(code, 0)
  })
})

describe("starling mrt --format bgpdump against the installed bgpdump -m", () => {
  it.each([
    "mrtparse/bird-mrtdump_bgp",
    "mrtparse/bird-mrtdump_rib",
    "mrtparse/bird6-mrtdump_bgp",
    "mrtparse/bird6-mrtdump_rib",
    "mrtparse/openbgpd_bgp",
    "mrtparse/openbgpd_rib_table-mp",
    "mrtparse/openbgpd_rib_table-v2",
    "mrtparse/quagga_bgp",
    "mrtparse/quagga_rib",
    "bgpkit-parser/examples/updates.bz2",
    "bgpkit-parser/ripe/rrc01/2000.11/updates.20001104.0124.gz",
    "bgpkit-parser/ripe/rrc03/2010.02/updates.20100227.1600.first-796-records.gz",
    "bgpkit-parser/ripe/rrc15/2010.02/updates.20100227.1610.gz",
    "libbgpstream/ris.rrc06.updates.1427846400.gz",
    "libbgpstream/routeviews.route-views.jinx.updates.1427846400.bz2",
    "morrowc-mrtparser/updates.20260222.1530.bz2",
    "ryu/mrt/rib.20161101.0000_pick.bz2",
    "ryu/mrt/updates.20161101.0000.bz2",
    "bgp-rs/mrt/updates.20190101.0000.gz",
    "bgpcep/util_BgpMessages.bin"
  ])("%s: identical", async (rel) => {
    const ours = await runHere([data(rel), "--format", "bgpdump"])
    assert.strictEqual(ours.code, 0)
    assert.strictEqual(ours.stdout, bgpdump(data(rel)))
  })

  it("bgpcep wrong_header (one BGP marker corrupted): same lines, the bad message reported, exit 1", async () => {
    const rel = "bgpcep/util_BgpMessages_wrong_header.bin"
    const ours = await runHere([data(rel), "--format", "bgpdump"])
    assert.strictEqual(ours.stdout, bgpdump(data(rel)))
    assert.strictEqual(ours.code, 1)
    assert.match(ours.stderr, /skipped .*ConnectionNotSynchronized.*marker/)
  })

  it("rrc00 1999 (deprecated BGP records): same, except 25 withdrawals where bgpdump prints the peer as prefix", async () => {
    // libbgpdump formats peer and prefix with two inet_ntoa() calls in one printf: the static buffer
    // makes the prefix come out as the peer address. We print the prefix.
    const rel = "bgpkit-parser/ripe/rrc00/1999.09/updates.19990903.1041.gz"
    const ours = lines((await runHere([data(rel), "--format", "bgpdump"])).stdout)
    const theirs = lines(bgpdump(data(rel)))
    assert.strictEqual(ours.length, 65315)
    assert.strictEqual(theirs.length, ours.length)
    let differing = 0
    for (let i = 0; i < ours.length; i++) {
      if (ours[i] === theirs[i]) continue
      differing++
      const a = ours[i]!.split("|")
      const b = theirs[i]!.split("|")
      assert.strictEqual(a[2], "W")
      assert.deepStrictEqual(a.slice(0, 5), b.slice(0, 5))
      assert.strictEqual(b[5], `${b[3]}/${a[5]!.split("/")[1]}`)
    }
    assert.strictEqual(differing, 25)
  })

  it("openbgpd_rib_table: same, except the one AGGREGATOR OpenBGPD wrote with a 4-octet AS into a 2-octet TABLE_DUMP", async () => {
    // bgpdump reads its first six octets and prints "0 253.232.192.168"; the codec rejects the length
    // (RFC 6793: 6 octets between 2-octet speakers) and we print no aggregator.
    const rel = "mrtparse/openbgpd_rib_table"
    const ours = lines((await runHere([data(rel), "--format", "bgpdump"])).stdout)
    const theirs = lines(bgpdump(data(rel)))
    assert.strictEqual(ours.length, 31)
    const diff = ours.flatMap((l, i) => (l === theirs[i] ? [] : [[l, theirs[i]]]))
    assert.deepStrictEqual(diff, [[
      "TABLE_DUMP|1444843994|B|192.168.1.10|65000|192.168.0.0/16|65015|IGP|192.168.0.15|100|0||NAG||",
      "TABLE_DUMP|1444843994|B|192.168.1.10|65000|192.168.0.0/16|65015|IGP|192.168.0.15|100|0||NAG|0 253.232.192.168|"
    ]])
  })

  it.each(["mrtparse/bird_bgp", "mrtparse/bird6_bgp"])(
    "%s: BIRD's ADD-PATH NLRI under MESSAGE_AS4 are read with their path ids (bgpdump misreads them)",
    async (rel) => {
      const ours = lines((await runHere([data(rel), "--format", "bgpdump"])).stdout)
      const theirs = lines(bgpdump(data(rel)))
      // STATE lines agree; the announcements are ours as BGP4MP_AP lines with real prefixes.
      assert.deepStrictEqual(ours.filter((l) => l.includes("|STATE|")), theirs.filter((l) => l.includes("|STATE|")))
      const announced = ours.filter((l) => l.includes("|A|"))
      assert.strictEqual(announced.length, 14)
      assert.isTrue(announced.every((l) => l.startsWith("BGP4MP_AP|")))
      const prefixes = new Set(announced.map((l) => l.split("|")[5]))
      if (rel.endsWith("bird_bgp")) assert.deepStrictEqual([...prefixes].sort(), ["172.17.0.0/24", "172.17.1.0/24", "172.17.2.0/24", "192.168.16.0/24"])
      else assert.isTrue([...prefixes].every((x) => x!.startsWith("fd01:") || x!.startsWith("fd02:")))
      // bgpdump's reading: path ids taken for prefix lengths, so /0, /1, /2 prefixes
      assert.isTrue(theirs.filter((l) => l.includes("|A|")).every((l) => /\/[0-2]\|/.test(l)))
    }
  )

  it("bgpkit 2000.01 bview (records 4 octets short): bgpdump's one line, then the damage on stderr and exit 1", async () => {
    const rel = "bgpkit-parser/ripe/rrc00/2000.01/bview.20000111.0032.gz"
    const ours = await runHere([data(rel), "--format", "bgpdump"])
    assert.strictEqual(ours.stdout, bgpdump(data(rel)))
    assert.strictEqual(lines(ours.stdout).length, 1)
    assert.strictEqual(ours.code, 1)
    assert.match(ours.stderr, /damaged after \d+ records: RecordTooLong/)
  })
})

describe("starling mrt", () => {
  it("the README command prints the routes of the BIRD fixture", async () => {
    const r = await runText(["fixtures/mrt/bird_bgp", "--format", "bgpdump"])
    assert.strictEqual(r.code, 0)
    assert.strictEqual(r.stderr, "")
    const out = lines(r.stdout)
    assert.strictEqual(out.length, 26)
    assert.strictEqual(out[0], "BGP4MP|1486805561|STATE|0.0.0.0|65000|1|3")
    assert.include(
      out,
      "BGP4MP_AP|1486805565|A|192.168.0.10|65000|172.17.0.0/24|2|4200000000 4200000000 4200000000 64512 64512 64512|IGP|192.168.0.10|100|10|65000:100 65000:200 65000:300|NAG||"
    )
    assert.include(out, "BGP4MP_AP|1486805565|A|192.168.0.10|65000|192.168.16.0/24|1||IGP|192.168.0.10|100|0||NAG||")
    // the fixture is the MANIFEST's file, byte for byte
    assert.deepStrictEqual(readFileSync(join(ROOT, "fixtures/mrt/bird_bgp")), readFileSync(data("mrtparse/bird_bgp")))
  })

  it("--format json: one object per route, update prefix and state change, addresses as strings", async () => {
    const r = await runHere([data("bgpdump/test_data/updates.20100722.2015.gz")])
    assert.strictEqual(r.code, 0)
    const objs = lines(r.stdout).map((l) => JSON.parse(l) as Record<string, unknown>)
    // as many lines as bgpdump's: one per announced / withdrawn prefix and per state change
    assert.strictEqual(objs.length, 5654)
    const counts: Record<string, number> = {}
    for (const o of objs) counts[String(o["type"])] = (counts[String(o["type"])] ?? 0) + 1
    const expected = lines(gunzipSync(readFileSync(data("bgpdump/test_expect/updates.20100722.2015.gz.bgp.gz"))).toString("utf8"))
    const kinds = (k: string) => expected.filter((l) => l.split("|")[2] === k).length
    assert.deepStrictEqual(counts, { announce: kinds("A"), withdraw: kinds("W"), state: kinds("STATE") })
    const first = objs[0]!
    assert.deepStrictEqual(first, {
      mrt: "BGP4MP",
      time: 1279829701,
      type: "announce",
      peer: "193.203.0.97",
      peer_as: 286,
      prefix: "62.140.65.0/24",
      origin: "IGP",
      as_path: "286 6453 36992",
      next_hop: "193.203.0.97",
      communities: ["286:80", "286:800", "286:3031", "286:4002"]
    })
    const v6 = objs.find((o) => String(o["prefix"]).includes(":"))!
    assert.match(String(v6["next_hop"]), /^[0-9a-f:]+(,[0-9a-f:]+)?$/)
  })

  it("--format json on a RIB: one object per entry, with path ids", async () => {
    const r = await runHere([data("bgpdump/test_data/bview.ipv6_unicast_add_path.gz"), "--format", "json"])
    const objs = lines(r.stdout).map((l) => JSON.parse(l) as Record<string, unknown>)
    assert.strictEqual(objs.length, 62)
    assert.deepStrictEqual(objs[0], {
      mrt: "TABLE_DUMP_V2",
      time: 1452169448,
      type: "rib",
      peer: "2001:db8:16::2",
      peer_as: 65017,
      prefix: "2001:db8:28::/48",
      path_id: 59,
      originated: 1452169333,
      origin: "IGP",
      as_path: "65017 65018 65019 65020 65021 65022 65023 65024 65025 65026 65027 65028",
      local_pref: 100
    })
  })

  it("a truncated file: everything readable, then a clear error and exit 1", async () => {
    const raw = gunzipSync(readFileSync(data("bgpdump/test_data/updates.20100722.2015.gz")))
    const dir = mkdtempSync(join(tmpdir(), "starling-mrt-cli-"))
    try {
      const file = join(dir, "cut.mrt")
      writeFileSync(file, raw.subarray(0, raw.length - 50))
      const r = await runHere([file, "--format", "bgpdump"])
      assert.strictEqual(r.code, 1)
      assert.match(r.stderr, /cut\.mrt: damaged after 2192 records: Truncated/)
      // every line of the complete records: bgpdump's file minus the last record's lines
      const expected = lines(gunzipSync(readFileSync(data("bgpdump/test_expect/updates.20100722.2015.gz.bgp.gz"))).toString("utf8"))
      const out = lines(r.stdout)
      assert.isAbove(out.length, 5600)
      assert.deepStrictEqual(out, expected.slice(0, out.length))
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it("an unknown BGP message type is reported but is no damage (exit 0); a bad marker is (exit 1)", async () => {
    const message = (type: number, marker = 0xff): Uint8Array => {
      const m = new Uint8Array(19).fill(marker, 0, 16)
      m[17] = 19
      m[18] = type
      return m
    }
    const record = (m: Uint8Array): Uint8Array => {
      const r = encodeBgp4mpMessage({ timestamp: 1, peerAs: 65001, localAs: 65002, peerAddress: "192.0.2.1", localAddress: "192.0.2.2", message: m })
      assert.isTrue(Result.isSuccess(r))
      return Result.getOrThrow(r)
    }
    const dir = mkdtempSync(join(tmpdir(), "starling-mrt-cli-"))
    try {
      const unknown = join(dir, "unknown.mrt")
      writeFileSync(unknown, Buffer.concat([record(message(4)), record(message(9)), record(message(4))]))
      const a = await runHere([unknown])
      assert.strictEqual(a.code, 0)
      assert.match(a.stderr, /skipped record at offset 51: .*BadMessageType/)
      const marker = join(dir, "marker.mrt")
      writeFileSync(marker, Buffer.concat([record(message(4)), record(message(4, 0))]))
      const b = await runHere([marker, "--format", "bgpdump"])
      assert.strictEqual(b.code, 1)
      assert.match(b.stderr, /ConnectionNotSynchronized/)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it("usage errors exit 2, a missing file exits 1", async () => {
    const none = await runHere([])
    assert.strictEqual(none.code, 2)
    assert.match(none.stderr, /no file given/)
    const bad = await runHere([data("mrtparse/bird_bgp"), "--format", "xml"])
    assert.strictEqual(bad.code, 2)
    assert.match(bad.stderr, /unknown format "xml"/)
    const missing = await runText([join(ROOT, "no-such.mrt")])
    assert.strictEqual(missing.code, 1)
    assert.match(missing.stderr, /no-such\.mrt: .*ENOENT/)
    const help = await runHere(["--help"])
    assert.strictEqual(help.code, 0)
    assert.match(help.stdout, /--format bgpdump/)
  })

  it("progress goes to stderr only when asked (stderr is not a terminal here)", async () => {
    const quiet = await runText([data("mrtparse/quagga_bgp")])
    // (a real process: the default depends on stderr being a terminal)
    assert.strictEqual(quiet.stderr, "")
    const loud = await runText([data("mrtparse/quagga_bgp"), "--progress"])
    assert.strictEqual(loud.code, 0)
    assert.match(loud.stderr, /67 records 100\.0%\n$/)
    assert.strictEqual(loud.stdout, quiet.stdout)
  })

  it("a reader that goes away early (| head) ends the command quietly", async () => {
    const { stdout, done } = start([data("bgpdump/test_data/updates.et-header.2015.gz"), "--format", "bgpdump"])
    await new Promise<void>((resolve) => stdout.once("data", () => resolve()))
    stdout.destroy()
    const { code, stderr } = await done
    assert.strictEqual(code, 0)
    assert.strictEqual(stderr, "")
  })
})
