/**
 * 1 M routes from one peer into the Loc-RIB: time, CPU and bytes per route.
 *
 *   node --expose-gc bench/rib.ts                   1 M IPv4 /24s, both table shapes, every path (below)
 *   node --expose-gc bench/rib.ts --quick           100 k routes (CI smoke)
 *   options: --routes N, --shape shared|realistic, --path api|memory|tcp, --json
 *
 * Paths:
 * - api: `Rib.announce` + `Rib.commit` directly, one attribute set interned per UPDATE's worth of
 *   prefixes (what the speaker's import fast path does), no Effect, no sessions;
 * - memory: a Starling speaker end to end: an iBGP injector sends pre-encoded UPDATEs over the in-memory
 *   network (same thread), the speaker frames, decodes, imports and runs the decision process;
 * - tcp: the same over TCP on loopback, the injector in a worker thread (plain node:net), so the main
 *   thread's CPU time is the speaker's alone.
 * Shapes: shared (every prefix one attribute set: ~1000 /24s per 4096-octet UPDATE) and realistic (one
 * attribute set per 2.5 prefixes on average: 400 k distinct sets, one UPDATE each).
 *
 * Reported: wall time from the first UPDATE byte to the last route committed; CPU seconds (process, and
 * the main thread alone); bytes per route = V8 heap used after the load minus before it (full GC both
 * times, input buffers alive in both), divided by routes; RSS. Without --expose-gc the heap figures are
 * left out.
 *
 * This module also holds the load generator that bench/export.ts runs in a worker thread.
 */
import { execFileSync } from "node:child_process"
import * as net from "node:net"
import os from "node:os"
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads"
import { Effect, Logger, Result } from "effect"
import type { PathAttributes, Prefix } from "@starling/codec"
import { buildAnnouncements, defaultContext, encodeMessage, makeFramer, parseIpv4 } from "@starling/codec"
import type { Transport } from "@starling/session"
import { localOpen, makeMemoryNetwork, tcpTransport } from "@starling/session"
import { Rib } from "../packages/rib/src/index.ts"
import type { Source } from "../packages/rib/src/index.ts"
import type { SpeakerApi } from "../packages/speaker/src/index.ts"
import { makeSpeaker } from "../packages/speaker/src/index.ts"

// -------------------------------------------------------------------------------------------------
// Synthetic tables

export type Shape = "shared" | "realistic"

export interface Table {
  readonly shape: Shape
  readonly routes: number
  /** Groups of prefixes sharing one attribute set, in order. */
  readonly groups: ReadonlyArray<{ readonly attrs: PathAttributes; readonly prefixes: ReadonlyArray<Prefix> }>
}

/** IPv4 /24s from 16.0.0.0 upward (1 M of them reach 31.255.255.0). */
export const prefixAt = (i: number): Prefix => ({ afi: 1, length: 24, w0: ((16 << 24) + i * 256) >>> 0, w1: 0, w2: 0, w3: 0, pathId: 0 })

/** Attribute set `j`: a 4-AS path, a next hop, MED and one community; distinct per `j` (MED). */
export const attrsAt = (j: number, internal: boolean): PathAttributes => ({
  origin: 0,
  asPath: [{ type: 2, asns: [64500 + (j % 300), 3356, 174, 4200000000 + (j % 1000)] }],
  nextHop: 0xc0000201,
  med: j,
  ...(internal ? { localPref: 100 } : {}),
  communities: [((64500 << 16) | 100) >>> 0]
})

export const makeTable = (shape: Shape, routes: number, internal = true): Table => {
  const groups: Array<{ attrs: PathAttributes; prefixes: Prefix[] }> = []
  if (shape === "shared") {
    const prefixes: Prefix[] = []
    for (let i = 0; i < routes; i++) prefixes.push(prefixAt(i))
    groups.push({ attrs: attrsAt(0, internal), prefixes })
  } else {
    // 2 and 3 prefixes per set, alternating: 2.5 on average (real tables: ~2.5-3, see notes).
    let i = 0
    for (let j = 0; i < routes; j++) {
      const n = Math.min(routes - i, j % 2 === 0 ? 2 : 3)
      const prefixes: Prefix[] = []
      for (let k = 0; k < n; k++) prefixes.push(prefixAt(i++))
      groups.push({ attrs: attrsAt(j, internal), prefixes })
    }
  }
  return { shape, routes, groups }
}

/** The table as classic (4096-octet) UPDATEs, packed per attribute set. */
export const encodeTable = (t: Table): Uint8Array[] => {
  const out: Uint8Array[] = []
  for (const g of t.groups) {
    const r = buildAnnouncements({ afi: 1, attributes: g.attrs, prefixes: g.prefixes }, defaultContext)
    if (Result.isFailure(r)) throw r.failure
    for (const m of r.success) out.push(m)
  }
  return out
}

/** Messages concatenated into chunks of about `size` octets (what a TCP reader hands over). */
export const chunked = (msgs: ReadonlyArray<Uint8Array>, size = 64 * 1024): Uint8Array[] => {
  const out: Uint8Array[] = []
  for (let i = 0; i < msgs.length;) {
    let n = 0
    let j = i
    while (j < msgs.length && (j === i || n + msgs[j]!.length <= size)) n += msgs[j++]!.length
    const c = new Uint8Array(n)
    let o = 0
    for (let k = i; k < j; k++) {
      c.set(msgs[k]!, o)
      o += msgs[k]!.length
    }
    out.push(c)
    i = j
  }
  return out
}

/** All messages in one buffer (to hand to a worker) with their end offsets. */
export const pack = (msgs: ReadonlyArray<Uint8Array>): { readonly bytes: Uint8Array; readonly ends: Uint32Array } => {
  let total = 0
  for (const m of msgs) total += m.length
  const bytes = new Uint8Array(new SharedArrayBuffer(total))
  const ends = new Uint32Array(new SharedArrayBuffer(msgs.length * 4))
  let o = 0
  for (const [i, m] of msgs.entries()) {
    bytes.set(m, o)
    o += m.length
    ends[i] = o
  }
  return { bytes, ends }
}

// -------------------------------------------------------------------------------------------------
// Measurement helpers

const gc: (() => void) | undefined = (globalThis as { gc?: () => void }).gc

export const heapUsed = (): number | undefined => {
  if (gc === undefined) return undefined
  gc()
  gc()
  return process.memoryUsage().heapUsed
}

export interface Cpu {
  readonly process: number
  readonly thread: number
}

export const cpuNow = (): Cpu => {
  const p = process.cpuUsage()
  const t = process.threadCpuUsage()
  return { process: (p.user + p.system) / 1e6, thread: (t.user + t.system) / 1e6 }
}

export const cpuSince = (a: Cpu): Cpu => {
  const b = cpuNow()
  return { process: b.process - a.process, thread: b.thread - a.thread }
}

export const machineLine = (): string =>
  `${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${os.cpus()[0]?.model ?? "?"} × ${os.cpus().length}, ${os.platform()} ${os.release()}, load ${os.loadavg()[0]!.toFixed(2)}`

export const quietLogger = Logger.layer([])

/** Resolves when `done()` holds, checking every `ms` (real time). */
export const until = (done: () => boolean | Promise<boolean>, ms = 2): Promise<void> =>
  new Promise((resolve, reject) => {
    const tick = async () => {
      try {
        if (await done()) resolve()
        else setTimeout(tick, ms)
      } catch (e) {
        reject(e)
      }
    }
    void tick()
  })

// -------------------------------------------------------------------------------------------------
// Load generator: an injector and counting sinks over plain node:net (run in a worker thread)

export interface LoadSpec {
  readonly kind: "load"
  readonly starling: { readonly host: string; readonly port: number }
  readonly localAs: number
  readonly injector?: { readonly local: string; readonly as: number; readonly bytes: Uint8Array; readonly ends: Uint32Array }
  readonly sinks: ReadonlyArray<{ readonly local: string; readonly as: number }>
  /** Prefixes each sink must hold before it counts as done. */
  readonly expect: number
}

export type LoadMessage =
  | { readonly type: "ready" }
  | { readonly type: "done"; readonly sinkPrefixes: ReadonlyArray<number>; readonly sinkMessages: ReadonlyArray<number>; readonly injectedAt: number }
  | { readonly type: "error"; readonly detail: string }

/** IPv4 prefixes in the NLRI field (and withdrawn) of one UPDATE, counted from the length octets. */
const countNlri = (m: Uint8Array): { announced: number; withdrawn: number } => {
  const wl = (m[19]! << 8) | m[20]!
  let withdrawn = 0
  for (let o = 21; o < 21 + wl;) {
    o += 1 + ((m[o]! + 7) >> 3)
    withdrawn++
  }
  const al = (m[21 + wl]! << 8) | m[22 + wl]!
  let announced = 0
  for (let o = 23 + wl + al; o < m.length;) {
    o += 1 + ((m[o]! + 7) >> 3)
    announced++
  }
  return { announced, withdrawn }
}

const encodeOrThrow = (m: Parameters<typeof encodeMessage>[0]): Uint8Array => {
  const r = encodeMessage(m, defaultContext)
  if (Result.isFailure(r)) throw r.failure
  return r.success
}

/** A plain-socket BGP speaker: OPEN (hold time 0, no extended messages), KEEPALIVE, then counting. */
const plainSession = (spec: LoadSpec, local: string, as: number, onUpdate?: (m: Uint8Array) => void): Promise<net.Socket> =>
  new Promise((resolve, reject) => {
    const open = encodeOrThrow({
      ...localOpen({ localAs: as, peerAs: spec.localAs, localId: parseIpv4(local)!, holdTime: 0, families: [{ afi: 1, safi: 1 }], extendedMessage: false }),
      _tag: "Open"
    })
    const keepalive = encodeOrThrow({ _tag: "Keepalive" })
    const socket = net.connect({ host: spec.starling.host, port: spec.starling.port, localAddress: local, noDelay: true })
    const framer = makeFramer()
    let up = false
    socket.on("connect", () => socket.write(open))
    socket.on("error", (e) => reject(e))
    socket.on("close", () => {
      if (!up) reject(new Error(`${local}: closed before Established`))
    })
    socket.on("data", (chunk: Buffer) => {
      const f = framer.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength))
      for (const m of f.messages) {
        const type = m[18]
        if (type === 1) socket.write(keepalive)
        else if (type === 4 && !up) {
          up = true
          resolve(socket)
        } else if (type === 2) onUpdate?.(m)
        else if (type === 3) reject(new Error(`${local}: NOTIFICATION ${m[19]}/${m[20]}`))
      }
    })
  })

const runLoad = async (spec: LoadSpec): Promise<void> => {
  const port = parentPort!
  const prefixes = spec.sinks.map(() => 0)
  const messages = spec.sinks.map(() => 0)
  let done = 0
  let injectedAt = 0
  const finished = () => {
    port.postMessage({ type: "done", sinkPrefixes: prefixes, sinkMessages: messages, injectedAt } satisfies LoadMessage)
  }
  await Promise.all(spec.sinks.map((s, k) =>
    plainSession(spec, s.local, s.as, (m) => {
      const c = countNlri(m)
      messages[k]!++
      const before = prefixes[k]!
      prefixes[k] = before + c.announced - c.withdrawn
      if (before < spec.expect && prefixes[k]! >= spec.expect && ++done === spec.sinks.length && spec.injector !== undefined) finished()
    })
  ))
  const inj = spec.injector === undefined ? undefined : await plainSession(spec, spec.injector.local, spec.injector.as)
  port.postMessage({ type: "ready" } satisfies LoadMessage)
  port.once("message", () => {
    injectedAt = Date.now()
    if (inj !== undefined) {
      const { bytes, ends } = spec.injector!
      // One write per ~1 MB: what a fast real peer does.
      let start = 0
      for (let i = 0; i < ends.length;) {
        let j = i
        while (j < ends.length && ends[j]! - start < 1 << 20) j++
        if (j === i) j++
        inj.write(bytes.subarray(start, ends[j - 1]!))
        start = ends[j - 1]!
        i = j
      }
    }
    if (spec.sinks.length === 0 || spec.expect === 0) finished()
  })
}

if (!isMainThread && (workerData as { kind?: string } | undefined)?.kind === "load") {
  runLoad(workerData as LoadSpec).catch((e) => parentPort!.postMessage({ type: "error", detail: String(e) } satisfies LoadMessage))
}

/** Starts the load generator in a worker; resolves once every session is Established. */
export const startLoad = (spec: Omit<LoadSpec, "kind">): Promise<{ readonly go: () => Promise<Extract<LoadMessage, { type: "done" }>>; readonly stop: () => Promise<number> }> =>
  new Promise((resolve, reject) => {
    const w = new Worker(new URL(import.meta.url), { workerData: { kind: "load", ...spec } })
    let onDone: ((m: Extract<LoadMessage, { type: "done" }>) => void) | undefined
    w.on("error", reject)
    w.on("message", (m: LoadMessage) => {
      if (m.type === "error") reject(new Error(m.detail))
      else if (m.type === "ready") {
        resolve({
          go: () =>
            new Promise((r) => {
              onDone = r
              w.postMessage("go")
            }),
          stop: () => w.terminate()
        })
      } else onDone?.(m)
    })
  })

// -------------------------------------------------------------------------------------------------
// In-process injector over a Transport (the memory network)

const injectOver = (transport: Transport, target: { address: string; port: number }, local: string, as: number, localAs: number) =>
  Effect.gen(function*() {
    const conn = yield* transport.connect({ remote: target, localAddress: local, timeoutMs: 5000 })
    yield* conn.write([encodeOrThrow(localOpen({ localAs: as, peerAs: localAs, localId: parseIpv4(local)!, holdTime: 0, families: [{ afi: 1, safi: 1 }], extendedMessage: false }))])
    const framer = makeFramer()
    let up = false
    while (!up) {
      const chunk = yield* conn.read
      if (chunk === undefined) return yield* Effect.die(new Error("injector: closed before Established"))
      for (const m of framer.push(chunk).messages) {
        if (m[18] === 1) yield* conn.write([encodeOrThrow({ _tag: "Keepalive" })])
        if (m[18] === 4) up = true
        if (m[18] === 3) return yield* Effect.die(new Error(`injector: NOTIFICATION ${m[19]}/${m[20]}`))
      }
    }
    // Keep reading (and discarding) so the speaker is never held back by us.
    yield* Effect.forkScoped(Effect.forever(conn.read))
    return conn
  })

// -------------------------------------------------------------------------------------------------
// The benchmark

export interface RibResult {
  readonly path: "api" | "memory" | "tcp"
  readonly shape: Shape
  readonly routes: number
  readonly updates: number
  readonly seconds: number
  readonly cpu: Cpu
  readonly bytesPerRoute: number | undefined
  readonly rssMiB: number
}

const LOCAL_AS = 65000

const benchApi = (shape: Shape, routes: number): RibResult => {
  const h0 = heapUsed()
  const table = makeTable(shape, routes)
  const rib = new Rib()
  const src: Source = { id: 1, address: "192.0.2.2", addressBytes: Uint8Array.of(192, 0, 2, 2), asn: LOCAL_AS, bgpId: 0xc0000202, internal: true }
  const t0 = performance.now()
  const c0 = cpuNow()
  for (const g of table.groups) {
    const set = rib.attrs.intern(g.attrs)
    for (const p of g.prefixes) rib.announce(src, p, set)
    rib.attrs.release(set)
  }
  const changes = rib.commit().length
  const seconds = (performance.now() - t0) / 1000
  const cpu = cpuSince(c0)
  if (changes !== routes || rib.size !== routes) throw new Error(`api: ${changes} changes, ${rib.size} destinations, expected ${routes}`)
  const updates = table.groups.length
  // The RIB keeps the prefix and attribute objects it was given: they count; the table's arrays do not.
  ;(table as { groups: unknown }).groups = []
  const h1 = heapUsed()
  const rss = process.memoryUsage().rss / 2 ** 20
  if (rib.size !== routes) throw new Error("unreachable")
  return { path: "api", shape, routes, updates, seconds, cpu, bytesPerRoute: h0 === undefined || h1 === undefined ? undefined : (h1 - h0) / routes, rssMiB: rss }
}

const waitForRoutes = (s: SpeakerApi, address: string, routes: number) =>
  Effect.gen(function*() {
    while (true) {
      const n = (yield* s.neighbors).find((x) => x.address === address)?.routesReceived ?? 0
      if (n >= routes) break
      yield* Effect.promise(() => new Promise((r) => setTimeout(r, 2)))
    }
    yield* s.settled
  })

const benchMemory = (shape: Shape, routes: number): Promise<RibResult> =>
  Effect.runPromise(Effect.gen(function*() {
    const msgs = encodeTable(makeTable(shape, routes))
    // In 64 KiB chunks, as a socket would deliver them (one read per chunk).
    const chunks = chunked(msgs)
    const netw = yield* makeMemoryNetwork
    const h0 = heapUsed()
    const s = yield* makeSpeaker({
      localAs: LOCAL_AS,
      routerId: "10.0.0.1",
      listen: [{ address: "10.0.0.1", port: 179 }],
      transport: netw,
      neighbors: [{ address: "10.0.0.2", peerAs: LOCAL_AS, passive: true }]
    })
    const conn = yield* injectOver(netw, { address: "10.0.0.1", port: 179 }, "10.0.0.2", LOCAL_AS, LOCAL_AS)
    const t0 = performance.now()
    const c0 = cpuNow()
    yield* Effect.forkScoped(conn.write(chunks))
    yield* waitForRoutes(s, "10.0.0.2", routes)
    const seconds = (performance.now() - t0) / 1000
    const cpu = cpuSince(c0)
    const h1 = heapUsed()
    const size = (yield* s.routes).length
    if (size !== routes) throw new Error(`memory: Loc-RIB has ${size} routes, expected ${routes}`)
    return { path: "memory", shape, routes, updates: msgs.length, seconds, cpu, bytesPerRoute: h0 === undefined || h1 === undefined ? undefined : (h1 - h0) / routes, rssMiB: process.memoryUsage().rss / 2 ** 20 } satisfies RibResult
  }).pipe(Effect.scoped, Effect.provide(quietLogger)))

const benchTcp = (shape: Shape, routes: number): Promise<RibResult> =>
  Effect.runPromise(Effect.gen(function*() {
    const msgs = encodeTable(makeTable(shape, routes))
    const { bytes, ends } = pack(msgs)
    const host = "127.77.0.1"
    const port = 20000 + Math.floor(Math.random() * 20000)
    const h0 = heapUsed()
    const s = yield* makeSpeaker({
      localAs: LOCAL_AS,
      routerId: "10.0.0.1",
      listen: [{ address: host, port }],
      transport: tcpTransport,
      neighbors: [{ address: "127.77.0.2", peerAs: LOCAL_AS, passive: true }]
    })
    const load = yield* Effect.promise(() => startLoad({ starling: { host, port }, localAs: LOCAL_AS, injector: { local: "127.77.0.2", as: LOCAL_AS, bytes, ends }, sinks: [], expect: 0 }))
    const t0 = performance.now()
    const c0 = cpuNow()
    yield* Effect.promise(() => load.go())
    yield* waitForRoutes(s, "127.77.0.2", routes)
    const seconds = (performance.now() - t0) / 1000
    const cpu = cpuSince(c0)
    const h1 = heapUsed()
    const size = (yield* s.routes).length
    yield* Effect.promise(() => load.stop())
    if (size !== routes) throw new Error(`tcp: Loc-RIB has ${size} routes, expected ${routes}`)
    return { path: "tcp", shape, routes, updates: msgs.length, seconds, cpu, bytesPerRoute: h0 === undefined || h1 === undefined ? undefined : (h1 - h0) / routes, rssMiB: process.memoryUsage().rss / 2 ** 20 } satisfies RibResult
  }).pipe(Effect.scoped, Effect.provide(quietLogger)))

const fmt = (n: number, d = 0) => n.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d }).replace(/,/g, " ")

/**
 * Runs each case in a fresh process (same Node flags) so one case's heap and RSS do not carry into the
 * next; returns the JSON line it prints.
 */
export const inChild = (script: string, args: ReadonlyArray<string>): unknown => {
  const out = execFileSync(process.execPath, [...process.execArgv, script, ...args, "--json", "--child"], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] })
  return JSON.parse(out.trim().split("\n").pop()!)
}

const main = async () => {
  const args = process.argv.slice(2)
  const opt = (name: string) => {
    const i = args.indexOf(`--${name}`)
    return i >= 0 ? args[i + 1] : undefined
  }
  const quick = args.includes("--quick")
  const routes = Number(opt("routes") ?? (quick ? 100_000 : 1_000_000))
  const shapes: Shape[] = opt("shape") !== undefined ? [opt("shape") as Shape] : ["shared", "realistic"]
  const paths = opt("path") !== undefined ? [opt("path") as RibResult["path"]] : (["api", "memory", "tcp"] as const)
  const json = args.includes("--json")
  const child = args.includes("--child")
  if (!json) {
    console.log(`# bench/rib.ts — ${machineLine()}${gc === undefined ? " (no --expose-gc: heap figures omitted)" : ""}`)
    console.log("| path | shape | routes | UPDATEs | time s | routes/s | CPU s (process / main thread) | B/route (heap) | RSS MiB |")
    console.log("|---|---|---:|---:|---:|---:|---|---:|---:|")
  }
  for (const shape of shapes) {
    for (const path of paths) {
      const r: RibResult = child
        ? path === "api" ? benchApi(shape, routes) : path === "memory" ? await benchMemory(shape, routes) : await benchTcp(shape, routes)
        : inChild(import.meta.filename, ["--routes", String(routes), "--shape", shape, "--path", path]) as RibResult
      if (json) console.log(JSON.stringify({ ...r, machine: machineLine() }))
      else {
        console.log(
          `| ${r.path} | ${r.shape} | ${fmt(r.routes)} | ${fmt(r.updates)} | ${r.seconds.toFixed(2)} | ${fmt(r.routes / r.seconds)} | ${r.cpu.process.toFixed(2)} / ${r.cpu.thread.toFixed(2)} | ${
            r.bytesPerRoute === undefined ? "-" : fmt(r.bytesPerRoute)
          } | ${fmt(r.rssMiB)} |`
        )
      }
    }
  }
}

if (isMainThread && import.meta.main) {
  main().then(() => process.exit(0), (e) => {
    console.error(e)
    process.exit(1)
  })
}
