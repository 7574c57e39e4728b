/**
 * Support for the daemon tests: an in-process daemon and in-process Starling speakers as its peers, each
 * in its own Effect scope and driven from async test code, plus a daemon run as a child process
 * (`starling run`) with its logs captured.
 */
import { spawn } from "node:child_process"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { formatPrefix, parseIpv4 } from "@starling/codec"
import type { NeighborStatus, SpeakerApi, SpeakerConfig } from "@starling/speaker"
import { makeSpeaker } from "@starling/speaker"
import { Effect, Exit, Logger, Result, Scope } from "effect"
import type { Daemon, DaemonOptions } from "../src/daemon/daemon.ts"
import { makeDaemon } from "../src/daemon/daemon.ts"
import { parseConfig } from "../src/daemon/config.ts"

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "../../..")
export const bin = join(repoRoot, "packages/cli/src/bin.ts")

/** Logs are off in tests unless STARLING_TEST_LOGS is set. */
const logs = process.env.STARLING_TEST_LOGS === undefined ? Logger.layer([]) : Logger.layer([Logger.consolePretty()])

const scoped = async <A, E>(make: Effect.Effect<A, E, Scope.Scope>) => {
  const scope = Effect.runSync(Scope.make())
  const value = await Effect.runPromise(make.pipe(Scope.provide(scope), Effect.provide(logs), Effect.tapCause(() => Scope.close(scope, Exit.void))))
  const run = <B, F>(eff: Effect.Effect<B, F>): Promise<B> => Effect.runPromise(eff.pipe(Effect.provide(logs)))
  return { value, run, close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
}

export const waitFor = async <A>(what: string, check: () => Promise<A | undefined> | A | undefined, timeoutMs = 15_000, everyMs = 50): Promise<A> => {
  const until = Date.now() + timeoutMs
  let last: unknown
  while (Date.now() < until) {
    try {
      const v = await check()
      if (v !== undefined) return v
    } catch (e) {
      last = e
    }
    await new Promise((r) => setTimeout(r, everyMs))
  }
  throw new Error(`timed out waiting for ${what}${last === undefined ? "" : `: ${String(last)}`}`)
}

export interface TestDaemon {
  readonly daemon: Daemon
  readonly run: <A, E>(eff: Effect.Effect<A, E>) => Promise<A>
  readonly neighbors: () => Promise<ReadonlyArray<NeighborStatus>>
  readonly neighbor: (address: string) => Promise<NeighborStatus | undefined>
  readonly established: (address: string) => Promise<NeighborStatus>
  readonly close: () => Promise<void>
}

export const startDaemon = async (yaml: string, options: DaemonOptions = {}): Promise<TestDaemon> => {
  const loaded = Result.getOrThrow(parseConfig(yaml, "test.yaml"))
  const s = await scoped(makeDaemon(loaded, options))
  const neighbors = () => s.run(s.value.speaker().neighbors)
  const neighbor = async (address: string) => (await neighbors()).find((n) => n.address === address)
  return {
    daemon: s.value,
    run: s.run,
    neighbors,
    neighbor,
    established: (address) => waitFor(`${address} Established on the daemon`, async () => {
      const n = await neighbor(address)
      // The session's state leads; the speaker records the session (uptime, capabilities) a moment later.
      return n?.state === "Established" && n.establishedAt !== undefined ? n : undefined
    }),
    close: s.close
  }
}

export interface TestPeer {
  readonly speaker: SpeakerApi
  readonly run: <A, E>(eff: Effect.Effect<A, E>) => Promise<A>
  /** Prefixes in the peer's Loc-RIB, sorted. */
  readonly prefixes: () => Promise<string[]>
  readonly neighbor: () => Promise<NeighborStatus>
  readonly close: () => Promise<void>
}

/**
 * A Starling speaker peering with the daemon at `daemon` (iBGP, AS `as`), from `address`, announcing
 * `originate` (next hop 192.0.2.x). Quick timers: connect retry 1 s, idle hold 1 s.
 */
export const startPeer = async (o: {
  readonly address: string
  readonly daemon: string
  readonly as?: number
  readonly peerAs?: number
  readonly port?: number
  readonly routerId?: string
  readonly originate?: ReadonlyArray<string>
  readonly extra?: Partial<SpeakerConfig>
}): Promise<TestPeer> => {
  const as = o.as ?? 64512
  const s = await scoped(Effect.gen(function*() {
    const sp = yield* makeSpeaker({
      localAs: as,
      routerId: o.routerId ?? o.address.replace(/^127\./, "10."),
      ebgpRequiresPolicy: false,
      neighbors: [{
        address: o.daemon,
        port: o.port ?? 179,
        peerAs: o.peerAs ?? as,
        localAddress: o.address,
        connectRetryTime: 1,
        idleHoldTime: { initial: 1, max: 1 },
        holdTime: 9
      }],
      ...o.extra
    })
    for (const [i, p] of (o.originate ?? []).entries()) yield* sp.originate(p, { nextHop: parseIpv4(`192.0.2.${i + 1}`)! })
    return sp
  }))
  const sp = s.value
  return {
    speaker: sp,
    run: s.run,
    prefixes: async () => (await s.run(sp.routes)).map((r) => formatPrefix(r.prefix)).sort(),
    neighbor: async () => (await s.run(sp.neighbors))[0]!,
    close: s.close
  }
}

export const tempDir = (prefix: string): string => mkdtempSync(join(tmpdir(), `starling-${prefix}-`))

export const writeConfig = (dir: string, name: string, text: string): string => {
  const p = join(dir, name)
  writeFileSync(p, text)
  return p
}

export interface Child {
  readonly pid: number
  readonly output: () => string
  readonly exited: Promise<number | null>
  readonly signal: (s: NodeJS.Signals) => void
  readonly stop: () => Promise<number | null>
}

const children = new Set<Child>()

/** `starling <args>` as a child process; its stdout and stderr are captured. */
export const startCli = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv = {}): Child => {
  const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] })
  let out = ""
  child.stdout.on("data", (b: Buffer) => (out += b.toString()))
  child.stderr.on("data", (b: Buffer) => (out += b.toString()))
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
  const c: Child = {
    pid: child.pid!,
    output: () => out,
    exited,
    signal: (s) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(s)
    },
    stop: async () => {
      children.delete(c)
      c.signal("SIGTERM")
      const t = setTimeout(() => c.signal("SIGKILL"), 5000)
      const code = await exited
      clearTimeout(t)
      return code
    }
  }
  children.add(c)
  void exited.then(() => children.delete(c))
  return c
}

/** Runs `starling <args>` to completion. */
export const runCli = async (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (b: Buffer) => (stdout += b.toString()))
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString()))
    const t = setTimeout(() => child.kill("SIGKILL"), 30_000)
    child.once("error", reject)
    child.once("exit", (code) => {
      clearTimeout(t)
      resolve({ code, stdout, stderr })
    })
  })

export const stopChildren = async (): Promise<void> => {
  await Promise.all([...children].map((c) => c.stop()))
}

/** JSON log lines of a child's output (pino), parsed. */
export const logLines = (out: string): Array<Record<string, unknown>> =>
  out.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>)

/** Runs a CLI command in this process with its stdout and stderr captured (cheaper than a child). */
export const captureOutput = async (f: () => Promise<number>): Promise<{ code: number; stdout: string; stderr: string }> => {
  let stdout = ""
  let stderr = ""
  const out = process.stdout.write.bind(process.stdout)
  const err = process.stderr.write.bind(process.stderr)
  process.stdout.write = ((chunk: string | Uint8Array) => {
    stdout += String(chunk)
    return true
  }) as typeof process.stdout.write
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr += String(chunk)
    return true
  }) as typeof process.stderr.write
  try {
    const code = await f()
    return { code, stdout, stderr }
  } finally {
    process.stdout.write = out
    process.stderr.write = err
  }
}
