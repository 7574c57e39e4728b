/**
 * Export fan-out: 100 k routes to 100 peers, all in one update group versus 100 separate groups.
 *
 *   node --expose-gc bench/export.ts              100 k routes, 100 peers, shared and realistic tables
 *   node --expose-gc bench/export.ts --quick      20 k routes, 20 peers (CI smoke)
 *   options: --routes N, --peers N, --shape shared|realistic, --mode one|n, --json
 *
 * A Starling speaker (AS 65000) listens on TCP loopback. One eBGP injector (AS 65001, accept-all import
 * policy) and N iBGP sinks run in a worker thread over plain node:net (they count NLRI from the UPDATE
 * framing, without decoding attributes), so the main thread's CPU time is the speaker's alone. Once every
 * session is up, the injector writes its pre-encoded table; the run ends when every sink holds every
 * route.
 *
 * Modes:
 * - one group: the sinks share one update group (same settings, no export policy): each change is run
 *   through export rules once and encoded once, and every sink is handed the same buffers;
 * - N groups: each sink has its own export policy function (each accepts everything), so each is its own
 *   group: export rules, policy, Adj-RIB-Out and encoding N times over.
 *
 * Reported: wall time from the first injected byte until the last sink is complete; CPU seconds of the
 * main thread (the speaker) and of the process (speaker + worker); UPDATE messages encoded (distinct
 * buffers the speaker wrote, End-of-RIB excluded) and written; V8 heap growth per route (full GC before
 * and after, with --expose-gc).
 */
import { Effect } from "effect"
import type { Conn, Transport } from "@starling/session"
import { tcpTransport } from "@starling/session"
import type { Shape } from "./rib.ts"
import { cpuNow, cpuSince, encodeTable, heapUsed, inChild, machineLine, makeTable, pack, quietLogger, startLoad } from "./rib.ts"
import { makeSpeaker } from "../packages/speaker/src/index.ts"
import type { NeighborConfig } from "../packages/speaker/src/index.ts"

const LOCAL_AS = 65000

/** Counts UPDATE buffers written (and distinct ones, without keeping them alive). */
const counting = (inner: Transport) => {
  const seen = new WeakSet<Uint8Array>()
  const counts = { written: 0, distinct: 0, armed: false }
  const wrap = (conn: Conn): Conn => ({
    ...conn,
    write: (chunks) =>
      Effect.suspend(() => {
        if (counts.armed) {
          for (const c of chunks) {
            // UPDATE with NLRI or withdrawals (not End-of-RIB: 23 octets)
            if (c[18] !== 2 || c.length <= 23) continue
            counts.written++
            if (!seen.has(c)) {
              seen.add(c)
              counts.distinct++
            }
          }
        }
        return conn.write(chunks)
      })
  })
  const transport: Transport = {
    connect: (o) => Effect.map(inner.connect(o), wrap),
    listen: (o, onConnection) => inner.listen(o, (c) => onConnection(wrap(c)))
  }
  return { transport, counts }
}

export interface ExportResult {
  readonly mode: "one group" | "N groups"
  readonly shape: Shape
  readonly routes: number
  readonly peers: number
  readonly groups: number
  readonly seconds: number
  readonly speakerCpu: number
  readonly processCpu: number
  readonly encoded: number
  readonly written: number
  readonly bytesPerRoute: number | undefined
  readonly rssMiB: number
}

const run = (mode: ExportResult["mode"], shape: Shape, routes: number, peers: number): Promise<ExportResult> =>
  Effect.runPromise(Effect.gen(function*() {
    const msgs = encodeTable(withAs(makeTable(shape, routes, false)))
    const { bytes, ends } = pack(msgs)
    const host = "127.78.0.1"
    const port = 20000 + Math.floor(Math.random() * 20000)
    const { transport, counts } = counting(tcpTransport)
    const sinks = Array.from({ length: peers }, (_, k) => `127.78.${1 + (k >> 8)}.${1 + (k & 255)}`)
    const neighbors: NeighborConfig[] = [
      { address: "127.78.100.1", peerAs: 65001, passive: true, importPolicy: (r) => r.attrs, exportPolicy: () => undefined },
      ...sinks.map((address): NeighborConfig => ({
        address,
        peerAs: LOCAL_AS,
        passive: true,
        // A policy function of its own per sink: a group of its own.
        ...(mode === "N groups" ? { exportPolicy: (r: { readonly attrs: object }) => r.attrs } : {})
      }))
    ]
    const h0 = heapUsed()
    const s = yield* makeSpeaker({ localAs: LOCAL_AS, routerId: "10.0.0.1", listen: [{ address: host, port }], transport, neighbors })
    const load = yield* Effect.promise(() =>
      startLoad({
        starling: { host, port },
        localAs: LOCAL_AS,
        injector: { local: "127.78.100.1", as: 65001, bytes, ends },
        sinks: sinks.map((local) => ({ local, as: LOCAL_AS })),
        expect: routes
      })
    )
    // Every session is up on the speaker's side too (the RIB fiber has seen them all).
    while ((yield* s.groups).reduce((n, g) => n + g.members, 0) < peers + 1) yield* Effect.sleep(5)
    // The injector's own group does not count.
    const groups = (yield* s.groups).length - 1
    counts.armed = true
    const t0 = performance.now()
    const c0 = cpuNow()
    const done = yield* Effect.promise(() => load.go())
    const seconds = (performance.now() - t0) / 1000
    const cpu = cpuSince(c0)
    counts.armed = false
    const h1 = heapUsed()
    const rss = process.memoryUsage().rss / 2 ** 20
    yield* Effect.promise(() => load.stop())
    const short = done.sinkPrefixes.filter((n) => n !== routes)
    if (short.length > 0) throw new Error(`${short.length} sinks hold the wrong number of routes: ${short.slice(0, 5).join(", ")}`)
    return {
      mode,
      shape,
      routes,
      peers,
      groups,
      seconds,
      speakerCpu: cpu.thread,
      processCpu: cpu.process,
      encoded: counts.distinct,
      written: counts.written,
      bytesPerRoute: h0 === undefined || h1 === undefined ? undefined : (h1 - h0) / routes,
      rssMiB: rss
    } satisfies ExportResult
  }).pipe(Effect.scoped, Effect.provide(quietLogger)))

/** eBGP from AS 65001: the path starts with the injector's AS. */
const withAs = (t: ReturnType<typeof makeTable>): ReturnType<typeof makeTable> => ({
  ...t,
  groups: t.groups.map((g) => ({ ...g, attrs: { ...g.attrs, asPath: [{ type: 2, asns: [65001, ...(g.attrs.asPath?.[0]?.asns ?? [])] }] } }))
})

const fmt = (n: number, d = 0) => n.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d }).replace(/,/g, " ")

const main = async () => {
  const args = process.argv.slice(2)
  const opt = (name: string) => {
    const i = args.indexOf(`--${name}`)
    return i >= 0 ? args[i + 1] : undefined
  }
  const quick = args.includes("--quick")
  const routes = Number(opt("routes") ?? (quick ? 20_000 : 100_000))
  const peers = Number(opt("peers") ?? (quick ? 20 : 100))
  const shapes: Shape[] = opt("shape") !== undefined ? [opt("shape") as Shape] : ["shared", "realistic"]
  const json = args.includes("--json")
  const child = args.includes("--child")
  const modes = opt("mode") !== undefined ? [opt("mode") === "one" ? "one group" as const : "N groups" as const] : (["one group", "N groups"] as const)
  if (!json) {
    console.log(`# bench/export.ts — ${machineLine()}`)
    console.log("| shape | mode | groups | routes × peers | time s | speaker CPU s | process CPU s | UPDATEs encoded | UPDATEs written | heap B/route | RSS MiB |")
    console.log("|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|")
  }
  for (const shape of shapes) {
    for (const mode of modes) {
      // Each case in a fresh process (see inChild).
      const r: ExportResult = child
        ? await run(mode, shape, routes, peers)
        : inChild(import.meta.filename, ["--routes", String(routes), "--peers", String(peers), "--shape", shape, "--mode", mode === "one group" ? "one" : "n"]) as ExportResult
      if (json) console.log(JSON.stringify({ ...r, machine: machineLine() }))
      else {
        console.log(
          `| ${r.shape} | ${r.mode} | ${r.groups} | ${fmt(r.routes)} × ${r.peers} | ${r.seconds.toFixed(2)} | ${r.speakerCpu.toFixed(2)} | ${r.processCpu.toFixed(2)} | ${fmt(r.encoded)} | ${fmt(r.written)} | ${
            r.bytesPerRoute === undefined ? "-" : fmt(r.bytesPerRoute)
          } | ${fmt(r.rssMiB)} |`
        )
      }
    }
  }
}

if (import.meta.main) {
  main().then(() => process.exit(0), (e) => {
    console.error(e)
    process.exit(1)
  })
}
