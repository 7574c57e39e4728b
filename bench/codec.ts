/**
 * Codec throughput benchmark (see bench/README.md for the method and recorded results).
 *
 *   node bench/codec.ts            full run (~2 min), table on stdout, JSON in bench/results/
 *   node bench/codec.ts --quick    smoke run (< 20 s): same checks, fewer and shorter repetitions
 *   options: --no-pin (do not re-run under `taskset -c 1`), --out <file.json>, --no-json,
 *            --only <regex> (just the matching "corpus operation" cells, e.g. for `node --cpu-prof`),
 *            --prefixes <n> (prefixes per pass over each synthetic corpus; default 240 000, quick 20 000),
 *            --codec <path/to/src/index.ts> (benchmark another copy of the codec, for before/after)
 *
 * The process re-executes itself once as `taskset -c 1 node --expose-gc bench/codec.ts ...` so the timed
 * work runs on one pinned core with a full GC between repetitions.
 */
import { spawnSync } from "node:child_process"
import { existsSync, mkdirSync, writeFileSync } from "node:fs"
import os from "node:os"
import path from "node:path"
import { fileURLToPath } from "node:url"
import { isDeepStrictEqual } from "node:util"
import type { Update, UpdateSplit } from "@starling/codec"
import { cpuTimes, machine, measure, processCpuSeconds } from "./lib/harness.ts"
import type { Measurement, MeasureOptions } from "./lib/harness.ts"
import { syntheticCorpus } from "./lib/synthetic.ts"
import { readMrtUpdates } from "./lib/mrt-messages.ts"
import type { MrtMessages } from "./lib/mrt-messages.ts"

const here = path.dirname(fileURLToPath(import.meta.url))
const repoRoot = path.resolve(here, "..")
const args = process.argv.slice(2)
const quick = args.includes("--quick")
const noJson = args.includes("--no-json")
const outArg = args.indexOf("--out")
const onlyArg = args.indexOf("--only")
/** `--only <regex>`: run just the measurements whose "group operation" matches (for profiling). */
const only = onlyArg >= 0 && args[onlyArg + 1] !== undefined ? new RegExp(args[onlyArg + 1]!, "i") : undefined
const codecArg = args.indexOf("--codec")
/**
 * `--codec <path to src/index.ts>`: time another copy of the codec (an older checkout, say) with the same
 * corpora and method, for before/after comparisons. Default: this workspace's `@starling/codec`.
 */
const codecPath = codecArg >= 0 && args[codecArg + 1] !== undefined ? path.resolve(args[codecArg + 1]!) : undefined
type Codec = typeof import("@starling/codec")
const codec: Codec = codecPath === undefined ? await import("@starling/codec") : await import(codecPath)
const { Afi, buildAnnouncements, bytesEqual, decodeMessage, encodeUpdate, makeContext, makeFramer, splitUpdate } = codec

// ---------------------------------------------------------------------------------------------------
// Pin to one core and expose gc by re-running ourselves once.

if (process.env["STARLING_BENCH_CHILD"] === undefined) {
  const canPin = !args.includes("--no-pin") && os.cpus().length > 1 && spawnSync("taskset", ["-V"]).status === 0
  const node = [process.execPath, ...process.execArgv, "--expose-gc", fileURLToPath(import.meta.url), ...args]
  const [cmd, ...rest] = canPin ? ["taskset", "-c", "1", ...node] : node
  const r = spawnSync(cmd!, rest, { stdio: "inherit", env: { ...process.env, STARLING_BENCH_CHILD: "1" } })
  process.exit(r.status ?? 1)
}

// ---------------------------------------------------------------------------------------------------

const opts: MeasureOptions = quick
  ? { warmupSeconds: 0.05, repetitions: 3, targetRepSeconds: 0.04 }
  : { warmupSeconds: 1, repetitions: 9, targetRepSeconds: 0.4 }
const prefixesArg = args.indexOf("--prefixes")
/** Prefixes per pass over each synthetic corpus (`--prefixes N` to study cache effects). */
const SYNTH_PREFIXES = prefixesArg >= 0 ? Number(args[prefixesArg + 1]) : quick ? 20_000 : 240_000
const SIZES = [1, 10, 100, 500]
const CHUNK = 65_536

const v4 = makeContext({ as4: true })
const results: Measurement[] = []
const notes: string[] = []

const prefixCount = (u: Update | UpdateSplit): number =>
  u.withdrawn.length + u.nlri.length + (u.mpReach?.nlri.length ?? 0) + (u.mpUnreach?.withdrawn.length ?? 0)

const log = (s: string) => process.stderr.write(`${s}\n`)

const record = (m: Measurement) => {
  results.push(m)
  log(`  ${m.group.padEnd(22)} ${m.name.padEnd(22)} ${fmt(m.messagesPerSecond.median).padStart(8)} msg/s ${fmt(m.prefixesPerSecond.median).padStart(8)} pfx/s ±${(m.spread * 100).toFixed(1)}%`)
}

const run = (
  group: string,
  name: string,
  work: { messages: number; prefixes: number },
  pass: () => number,
  o: MeasureOptions,
  expect?: number,
  detail?: string
) => {
  if (only !== undefined && !only.test(`${group} ${name}`)) return
  record(measure(group, name, work, pass, o, expect, detail))
}

const fmt = (x: number): string =>
  x >= 1e9 ? `${(x / 1e9).toFixed(2)} G` : x >= 1e6 ? `${(x / 1e6).toFixed(2)} M` : x >= 1e3 ? `${(x / 1e3).toFixed(1)} k` : x.toFixed(0)

// ---------------------------------------------------------------------------------------------------
// Synthetic packed IPv4 UPDATEs

const SYNTH_OPS = ["decodeMessage", "splitUpdate", "framer.push 64KiB", "frame+decodeMessage", "encodeUpdate", "buildAnnouncements"]

const REAL_OPS = ["decodeMessage", "splitUpdate", "frame+decodeMessage"]

const runSynthetic = (n: number) => {
  if (only !== undefined && !SYNTH_OPS.some((op) => only.test(`synthetic ${n}/UPDATE ${op}`))) return
  const c = syntheticCorpus(n, SYNTH_PREFIXES)
  const msgs = c.messages
  const group = `synthetic ${n}/UPDATE`
  const work = { messages: msgs.length, prefixes: c.prefixes }

  // Correctness first: every message decodes cleanly to exactly the value it was built from. Nothing
  // decoded is kept (see lib/synthetic.ts on pretenuring).
  for (let i = 0; i < msgs.length; i++) {
    const r = decodeMessage(msgs[i]!, v4)
    if (r._tag === "Failure" || r.success._tag !== "Update" || r.success.errors !== undefined) {
      throw new Error(`${group}: synthetic UPDATE ${i} failed to decode cleanly`)
    }
    if (i < 50 || i === msgs.length - 1) {
      const { _tag, ...got } = r.success
      if (!isDeepStrictEqual(got, c.value(i))) throw new Error(`${group}: UPDATE ${i} decodes to the wrong value`)
    }
  }

  run(group, "decodeMessage", work, () => {
    let p = 0
    for (let i = 0; i < msgs.length; i++) {
      const r = decodeMessage(msgs[i]!, v4)
      if (r._tag === "Success" && r.success._tag === "Update") p += prefixCount(r.success)
    }
    return p
  }, opts, c.prefixes)

  run(group, "splitUpdate", work, () => {
    let p = 0
    for (let i = 0; i < msgs.length; i++) {
      const r = splitUpdate(msgs[i]!.subarray(19), v4)
      if (r._tag === "Success") p += prefixCount(r.success) + (r.success.attributes.length > 0 ? 0 : 1e9)
    }
    return p
  }, opts, c.prefixes)

  const stream = c.stream
  run(group, "framer.push 64KiB", work, () => {
    const f = makeFramer()
    let k = 0
    for (let o = 0; o < stream.length; o += CHUNK) {
      const r = f.push(stream.subarray(o, Math.min(o + CHUNK, stream.length)))
      if (r.error !== undefined) return -1
      k += r.messages.length
    }
    return k
  }, opts, msgs.length, `stream of ${(stream.length / 1e6).toFixed(1)} MB pushed in ${CHUNK}-octet chunks`)

  run(group, "frame+decodeMessage", work, () => {
    const f = makeFramer()
    let p = 0
    for (let o = 0; o < stream.length; o += CHUNK) {
      const r = f.push(stream.subarray(o, Math.min(o + CHUNK, stream.length)))
      for (const m of r.messages) {
        const d = decodeMessage(m, v4)
        if (d._tag === "Success" && d.success._tag === "Update") p += prefixCount(d.success)
      }
    }
    return p
  }, opts, c.prefixes)

  // Encoders must reproduce the corpus byte for byte (checked once, before timing).
  const decoded = msgs.map((_, i) => c.value(i))
  for (let i = 0; i < msgs.length; i++) {
    const e = encodeUpdate(decoded[i]!, v4)
    if (e._tag === "Failure" || !bytesEqual(e.success, msgs[i]!)) throw new Error(`${group}: encodeUpdate does not round-trip message ${i}`)
    const b = buildAnnouncements({ afi: Afi.IPV4, attributes: decoded[i]!.attributes, prefixes: decoded[i]!.nlri }, v4)
    if (b._tag === "Failure" || b.success.length !== 1 || !bytesEqual(b.success[0]!, msgs[i]!)) {
      throw new Error(`${group}: buildAnnouncements does not reproduce message ${i}`)
    }
  }

  run(group, "encodeUpdate", work, () => {
    let bytes = 0
    for (let i = 0; i < decoded.length; i++) {
      const r = encodeUpdate(decoded[i]!, v4)
      if (r._tag === "Success") bytes += r.success.length
    }
    return bytes
  }, opts, stream.length)

  const batches = decoded.map((u) => ({ afi: Afi.IPV4, attributes: u.attributes, prefixes: u.nlri }) as const)
  run(group, "buildAnnouncements", work, () => {
    let bytes = 0
    for (let i = 0; i < batches.length; i++) {
      const r = buildAnnouncements(batches[i]!, v4)
      if (r._tag === "Success") for (const m of r.success) bytes += m.length
    }
    return bytes
  }, opts, stream.length)
}

// ---------------------------------------------------------------------------------------------------
// Real MRT update streams

interface Source {
  readonly label: string
  /** Relative to the repo root (GPL data is read in place from ../shared/data, never copied). */
  readonly file: string
  readonly quick: boolean
}

const sources: Source[] = [
  { label: "RIS rrc00 2019-01-01", file: "../shared/data/bgp-rs/mrt/updates.20190101.0000.gz", quick: true },
  { label: "bgpdump et-header 2015", file: "../shared/data/bgpdump/test_data/updates.et-header.2015.gz", quick: false },
  { label: "RouteViews 2026-02-22", file: "../shared/data/morrowc-mrtparser/updates.20260222.1530.bz2", quick: false }
]

const runReal = async (s: Source) => {
  if (only !== undefined && !REAL_OPS.some((op) => only.test(`real ${s.label} ${op}`))) return
  const file = path.resolve(repoRoot, s.file)
  if (!existsSync(file)) {
    notes.push(`${s.label}: ${s.file} not found, skipped`)
    log(`  ${s.label}: not found, skipped`)
    return
  }
  let x: MrtMessages
  try {
    x = await readMrtUpdates(file)
  } catch (e) {
    notes.push(`${s.label}: could not read ${s.file}: ${String(e)}`)
    return
  }
  const msgs = x.updates
  const ctxs = x.contexts
  let prefixes = 0
  let failures = 0
  let repaired = 0
  let bytes = 0
  for (let i = 0; i < msgs.length; i++) {
    bytes += msgs[i]!.length
    const r = decodeMessage(msgs[i]!, ctxs[i]!)
    if (r._tag === "Failure") failures++
    else if (r.success._tag === "Update") {
      prefixes += prefixCount(r.success)
      if (r.success.errors !== undefined) repaired++
    }
  }
  const group = `real ${s.label}`
  const work = { messages: msgs.length, prefixes }
  const detail = `${x.records} MRT records, ${msgs.length} UPDATEs (${(bytes / 1e6).toFixed(1)} MB), ${x.otherMessages} other ` +
    `messages, ${x.otherRecords} other records; ${failures} UPDATEs fail to decode, ${repaired} carry RFC 7606 errors`
  log(`  ${s.label}: ${detail}`)
  run(group, "decodeMessage", work, () => {
    let p = 0
    for (let i = 0; i < msgs.length; i++) {
      const r = decodeMessage(msgs[i]!, ctxs[i]!)
      if (r._tag === "Success" && r.success._tag === "Update") p += prefixCount(r.success)
    }
    return p
  }, opts, prefixes, detail)

  let splitPrefixes = 0
  for (let i = 0; i < msgs.length; i++) {
    const r = splitUpdate(msgs[i]!.subarray(19), ctxs[i]!)
    if (r._tag === "Success") splitPrefixes += prefixCount(r.success)
  }
  run(group, "splitUpdate", work, () => {
    let p = 0
    for (let i = 0; i < msgs.length; i++) {
      const r = splitUpdate(msgs[i]!.subarray(19), ctxs[i]!)
      if (r._tag === "Success") p += prefixCount(r.success)
    }
    return p
  }, opts, splitPrefixes, detail)

  // The whole dump as one TCP stream: framing, then decoding each message with its record's context.
  const stream = x.stream
  run(group, "frame+decodeMessage", work, () => {
    const f = makeFramer({ extendedMessages: true })
    let p = 0
    let k = 0
    for (let o = 0; o < stream.length; o += CHUNK) {
      const r = f.push(stream.subarray(o, Math.min(o + CHUNK, stream.length)))
      for (const m of r.messages) {
        const d = decodeMessage(m, ctxs[k++]!)
        if (d._tag === "Success" && d.success._tag === "Update") p += prefixCount(d.success)
      }
    }
    return p
  }, opts, prefixes, detail)
}

// ---------------------------------------------------------------------------------------------------

const mach = machine()
const cpu0 = cpuTimes()
const proc0 = processCpuSeconds()
const wall0 = performance.now()
log(`codec bench${quick ? " (quick)" : ""}: ${mach.cpuModel}, ${mach.cores} cores, cpus allowed ${mach.cpusAllowed}, Node ${mach.node}, gc ${mach.gcExposed ? "exposed" : "not exposed"}`)
log(`synthetic: ${SYNTH_PREFIXES} /24s per pass`)
for (const n of SIZES) runSynthetic(n)
for (const s of sources) if (!quick || s.quick) await runReal(s)
const cpu1 = cpuTimes()
const wall = (performance.now() - wall0) / 1000
const procCpu = processCpuSeconds() - proc0

let steal: number | undefined
let foreign: number | undefined
if (cpu0 !== undefined && cpu1 !== undefined) {
  const total = cpu1.total - cpu0.total
  steal = total > 0 ? (cpu1.steal - cpu0.steal) / total : 0
  // CPU busy on all cores beyond what this process used, as a fraction of one core.
  const hz = total / wall / mach.cores
  const busy = (total - (cpu1.idle - cpu0.idle) - (cpu1.steal - cpu0.steal)) / hz / wall
  foreign = busy - procCpu / wall
}

// Table
const rows = results.map((m) => [
  m.group,
  m.name,
  fmt(m.messagesPerSecond.median),
  fmt(m.prefixesPerSecond.median),
  m.nsPerMessage.toFixed(0),
  m.nsPerPrefix > 0 ? m.nsPerPrefix.toFixed(1) : "-",
  `${fmt(m.messagesPerSecond.min)}..${fmt(m.messagesPerSecond.max)}`,
  `${(m.spread * 100).toFixed(1)}%`,
  `${(m.cpuShare * 100).toFixed(0)}%`
])
const header = ["corpus", "operation", "msg/s", "prefix/s", "ns/msg", "ns/prefix", "msg/s min..max", "spread", "cpu/wall"]
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
const line = (r: string[]) => `| ${r.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(" | ")} |`
console.log(`\n${mach.cpuModel}, ${mach.cores} cores (pinned to ${mach.cpusAllowed}), Node ${mach.node}, ${mach.date.slice(0, 10)}${quick ? ", QUICK" : ""}`)
if (codecPath !== undefined) console.log(`codec under test: ${codecPath}`)
console.log(`medians of ${opts.repetitions} repetitions, rates per CPU-second of the pinned process; wall ${wall.toFixed(1)} s; steal ${steal === undefined ? "?" : (steal * 100).toFixed(2)}%; other load ${foreign === undefined ? "?" : foreign.toFixed(2)} cores\n`)
console.log(line(header))
console.log(`|${widths.map((w, i) => (i < 2 ? ":" : "") + "-".repeat(w + 1) + (i < 2 ? "" : ":")).join("|")}|`)
for (const r of rows) console.log(line(r))
for (const n of notes) console.log(`note: ${n}`)

// Targets from the issue: >= 30 M prefixes/s on packed UPDATEs, >= 1 M UPDATEs/s on the real RIS stream.
const packed = results.find((m) => m.group === "synthetic 500/UPDATE" && m.name === "decodeMessage")
const ris = results.find((m) => m.group === "real RIS rrc00 2019-01-01" && m.name === "decodeMessage")
const targets = {
  packedPrefixesPerSecond: { target: 30e6, measured: packed?.prefixesPerSecond.median ?? null },
  risUpdatesPerSecond: { target: 1e6, measured: ris?.messagesPerSecond.median ?? null }
}
console.log(
  `\ntargets: packed decode ${fmt(targets.packedPrefixesPerSecond.measured ?? 0)} prefixes/s (target 30 M), ` +
  `RIS decode ${fmt(targets.risUpdatesPerSecond.measured ?? 0)} UPDATEs/s (target 1 M)`
)

if (!noJson) {
  const out = outArg >= 0 && args[outArg + 1] !== undefined
    ? path.resolve(args[outArg + 1]!)
    : path.join(here, "results", `codec-${mach.date.slice(0, 10)}${quick ? "-quick" : ""}${codecPath === undefined ? "" : "-other"}.json`)
  mkdirSync(path.dirname(out), { recursive: true })
  writeFileSync(
    out,
    JSON.stringify({ machine: mach, codec: codecPath ?? "@starling/codec", quick, options: opts, syntheticPrefixesPerPass: SYNTH_PREFIXES, wallSeconds: wall, processCpuSeconds: procCpu, steal, foreignCores: foreign, targets, notes, results }, null, 2) + "\n"
  )
  log(`raw results: ${path.relative(process.cwd(), out)}`)
}
