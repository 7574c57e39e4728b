/**
 * The benchmark harness (bench/): its wire pieces checked against @starling/codec, and the quick variants
 * of `bench/rr.ts` and `bench/mesh.ts` run end to end as CI's smoke check. No timing assertions: what is
 * checked is that every run completed with exactly the prefixes it should have delivered.
 */
import { spawnSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { Result } from "effect"
import { assert, describe, it } from "vitest"
import { decodeMessage, defaultContext, formatPrefix } from "@starling/codec"
import { expectedRoutes, loopbackAddresses, planCluster, sessionCount } from "../bench/lab/cluster.ts"
import { encodeTable } from "../bench/lab/tables.ts"
import { buildAnnouncements, buildWithdrawals, encodeAttrs, Framer, MAX_MESSAGE, parseIpv4, PrefixCounter, PrefixSpace } from "../bench/lab/wire.ts"

const root = fileURLToPath(new URL("..", import.meta.url))

describe("bench harness wire code", () => {
  const attrs = encodeAttrs({
    origin: 0,
    asPath: [{ type: 2, asns: [64496, 4200000000] }, { type: 1, asns: [1, 2] }],
    nextHop: parseIpv4("192.0.2.1"),
    med: 7,
    localPref: 100,
    atomicAggregate: true,
    aggregator: { asn: 65001, address: parseIpv4("10.0.0.1") },
    communities: [65000 * 65536 + 1],
    largeCommunities: [[65000, 1, 2]]
  })
  const space = new PrefixSpace(parseIpv4("1.0.0.0"), 24, 3000)
  const addrs = Array.from({ length: 3000 }, (_, i) => space.addr(i))

  it("builds UPDATEs the codec decodes to the same prefixes and attributes", () => {
    const u = buildAnnouncements(attrs, addrs, 24)
    const seen: string[] = []
    let messages = 0
    new Framer((b, s, l) => {
      assert.isAtMost(l, MAX_MESSAGE)
      const m = decodeMessage(b.slice(s, s + l), defaultContext)
      assert.isTrue(Result.isSuccess(m))
      const msg = (m as Result.Success<any, any>).success
      assert.strictEqual(msg._tag, "Update")
      assert.strictEqual(msg.attributes.localPref, 100)
      assert.strictEqual(msg.attributes.med, 7)
      assert.deepStrictEqual(msg.attributes.largeCommunities, [{ global: 65000, local1: 1, local2: 2 }])
      assert.deepStrictEqual(msg.attributes.communities, [65000 * 65536 + 1])
      assert.strictEqual(msg.attributes.atomicAggregate, true)
      assert.strictEqual(msg.attributes.nextHop, parseIpv4("192.0.2.1"))
      assert.deepStrictEqual(msg.attributes.asPath, [{ type: 2, asns: [64496, 4200000000] }, { type: 1, asns: [1, 2] }])
      assert.strictEqual(msg.attributes.aggregator.asn, 65001)
      for (const p of msg.nlri) seen.push(formatPrefix(p))
      messages++
    }).push(u.bytes)
    assert.strictEqual(messages, u.messages)
    assert.strictEqual(seen.length, 3000)
    assert.strictEqual(seen[0], "1.0.0.0/24")
    assert.strictEqual(seen[2999], `${addrs[2999]! >>> 24}.${(addrs[2999]! >>> 16) & 255}.${(addrs[2999]! >>> 8) & 255}.0/24`)
    const w = buildWithdrawals(addrs.slice(0, 10), 24)
    const m = decodeMessage(w.bytes, defaultContext)
    assert.isTrue(Result.isSuccess(m))
    assert.strictEqual((m as Result.Success<any, any>).success.withdrawn.length, 10)
  })

  it("frames a stream cut at every possible chunk size and counts each prefix once", () => {
    const bytes = buildAnnouncements(attrs, addrs, 24).bytes
    for (const chunk of [1, 2, 7, 19, 100, 4095, 4096, 65536]) {
      const c = new PrefixCounter(space)
      const f = new Framer((b, s, l) => c.update(b, s, l))
      for (let o = 0; o < bytes.length; o += chunk) f.push(bytes.subarray(o, o + chunk))
      assert.strictEqual(c.present, 3000, `chunk ${chunk}`)
      assert.strictEqual(c.duplicates, 0)
      assert.strictEqual(c.foreign, 0)
    }
  })

  it("counts duplicates, withdrawals, foreign prefixes, own prefixes and End-of-RIB", () => {
    const c = new PrefixCounter(space)
    c.ownFrom = 100
    c.ownCount = 10
    const f = new Framer((b, s, l) => c.update(b, s, l))
    f.push(buildAnnouncements(attrs, addrs.slice(0, 200), 24).bytes)
    f.push(buildAnnouncements(attrs, addrs.slice(0, 5), 24).bytes)
    f.push(buildWithdrawals(addrs.slice(0, 3), 24).bytes)
    f.push(buildWithdrawals([parseIpv4("1.0.0.0") - 256], 24).bytes)
    f.push(buildAnnouncements(attrs, [parseIpv4("9.0.0.0")], 16).bytes)
    f.push(Uint8Array.from([...new Array(16).fill(0xff), 0, 23, 2, 0, 0, 0, 0]))
    assert.strictEqual(c.present, 200 - 10 - 3)
    assert.strictEqual(c.own, 10)
    assert.strictEqual(c.duplicates, 5)
    assert.strictEqual(c.withdrawals, 3)
    assert.strictEqual(c.foreign, 2)
    assert.strictEqual(c.endOfRib, 1)
  })

  it("encodes the shared table packed near the 4 KiB limit", async () => {
    const t = await encodeTable("shared", 10_000)
    assert.strictEqual(t.attributeSets, 1)
    // ~1 000 /24s per classic UPDATE: 10 messages for 10 000 routes.
    assert.isAtMost(t.messages, 11)
    const c = new PrefixCounter(t.space)
    new Framer((b, s, l) => c.update(b, s, l)).push(t.bytes)
    assert.strictEqual(c.present, 10_000)
  })

  it("plans clusters with the session counts of their topology", () => {
    for (const topology of ["mesh", "rr1", "rr2"] as const) {
      const spec = { topology, nodes: 7, perNode: 2, ...loopbackAddresses, port: 1790 }
      const plans = planCluster(spec)
      const ends = plans.reduce((n, p) => n + (p.config.neighbors?.length ?? 0), 0)
      assert.strictEqual(ends, 2 * sessionCount(topology, 7), topology)
      assert.strictEqual(plans.reduce((n, p) => n + p.originate.length, 0), expectedRoutes(spec))
    }
  })
})

const runJson = (script: string, extra: ReadonlyArray<string>, timeoutMs: number) => {
  const dir = mkdtempSync(join(tmpdir(), "starling-bench-smoke-"))
  const out = join(dir, "out.json")
  try {
    // Addresses of their own (127.N.x.x and 127.N+1.x.x, N even in 100..198): a benchmark or another test run on
    // the same machine must not meet these runs (the harness also refuses an address already in use).
    const env = { ...process.env, STARLING_BENCH_NET: String(100 + 2 * Math.floor(Math.random() * 50)) }
    const r = spawnSync(process.execPath, [join(root, "bench", script), "--quick", ...extra, "--out", out], { cwd: root, encoding: "utf8", timeout: timeoutMs, env })
    assert.strictEqual(r.status, 0, `${script} failed (${r.status} ${r.signal ?? ""}):\n${(r.stderr ?? "").slice(-4000)}`)
    return JSON.parse(readFileSync(out, "utf8")) as any
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

describe("bench quick variants (CI smoke)", () => {
  it("bench/rr.ts --quick: every run of every router delivers exactly the expected prefixes", () => {
    const d = runJson("rr.ts", [], 150_000)
    assert.isAtLeast(d.runs.length, 2 * d.cells.length)
    const duts = new Set<string>(d.runs.map((r: any) => r.dut))
    assert.isTrue(duts.has("null") && duts.has("starling"))
    for (const r of d.runs) {
      const where = `${r.scenario} ${JSON.stringify(r.cell)} ${r.dut}: ${r.invalid ?? ""}`
      assert.isTrue(r.valid, where)
      assert.strictEqual(r.minPresent, r.expectedPerSink, where)
      assert.strictEqual(r.maxPresent, r.expectedPerSink, where)
      assert.strictEqual(r.foreign, 0, where)
      assert.strictEqual(r.withdrawals, 0, where)
      assert.isAbove(r.updatesReceived, 0, where)
      assert.isAbove(r.convergeSeconds, 0, where)
      assert.isAbove(r.dutPeakRss, 0, where)
    }
    const churned = d.runs.filter((r: any) => r.churn !== undefined)
    assert.isAtLeast(churned.length, 2)
    for (const r of churned) {
      assert.isTrue(r.churn.withdraw.valid && r.churn.reannounce.valid && r.churn.clientReset.valid, `${r.dut} churn`)
      assert.isAbove(r.churn.latency.samples, 0)
    }
    const s2 = d.runs.filter((r: any) => r.scenario === "s2")
    assert.isAtLeast(s2.length, 2)
    for (const r of s2) assert.isAbove(r.establishSeconds, 0)
    assert.isAtLeast(d.runs.filter((r: any) => r.idle !== undefined).length, 2)
  }, 180_000)

  it("bench/mesh.ts --quick: mesh and reflectors converge with the sessions their topology needs", () => {
    const d = runJson("mesh.ts", [], 150_000)
    assert.strictEqual(d.real.length, 3)
    for (const r of [...d.real, ...d.sim]) {
      const where = `${r.topology} ${r.nodes}: ${r.invalid ?? ""}`
      assert.isTrue(r.valid, where)
      assert.strictEqual(r.established, r.sessions, where)
      assert.strictEqual(r.sessions, sessionCount(r.topology, r.nodes), where)
      assert.isAbove(r.updatesSent, 0, where)
      assert.isAbove(r.bytesSent, 0, where)
      assert.isAbove(r.flapUpdates, 0, where)
    }
    assert.strictEqual(d.sim.length, 6)
  }, 180_000)
})
