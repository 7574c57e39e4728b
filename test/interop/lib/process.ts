/**
 * Starting and stopping real router processes for interop tests. Every process is tracked by the pid we
 * started; `stop` signals only that pid (and checks /proc that it is still the program we started).
 */
import { spawn, type ChildProcess } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

export interface Started {
  readonly name: string
  readonly pid: number
  readonly child: ChildProcess
  readonly log: () => string
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
  readonly stop: (graceMs?: number) => Promise<void>
  readonly signal: (sig: NodeJS.Signals) => void
  readonly exited: Promise<number | null>
}

const live = new Set<Started>()

/** A fresh run directory under the system temp dir, removed by `cleanupAll`. */
export const runDir = (prefix: string): string => {
  const base = join(tmpdir(), "starling-interop")
  mkdirSync(base, { recursive: true })
  return mkdtempSync(join(base, `${prefix}-`))
}

const comm = (pid: number): string | undefined => {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim()
  } catch {
    return undefined
  }
}

/**
 * `opts.comm`: the program name the process ends up as when `cmd` is a wrapper that execs it (e.g. `unshare
 * ... sh -c 'exec "$@"' bgpd`); signals go to the pid while its /proc comm is the wrapper's or this one.
 */
export const start = (name: string, cmd: string, args: ReadonlyArray<string>, opts: { cwd?: string; env?: NodeJS.ProcessEnv; comm?: string } = {}): Started => {
  let out = ""
  const child = spawn(cmd, [...args], {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  child.stdout?.on("data", (b: Buffer) => (out += b.toString()))
  child.stderr?.on("data", (b: Buffer) => (out += b.toString()))
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
  if (child.pid === undefined) throw new Error(`${name}: could not start ${cmd}`)
  const pid = child.pid
  const expected = new Set([comm(pid), opts.comm])
  const s: Started = {
    name,
    pid,
    child,
    log: () => out,
    exited,
    signal: (sig) => {
      if (child.exitCode === null && expected.has(comm(pid))) process.kill(pid, sig)
    },
    stop: async (graceMs = 3000) => {
      live.delete(s)
      if (child.exitCode !== null || child.signalCode !== null) return
      s.signal("SIGCONT")
      s.signal("SIGTERM")
      const timer = setTimeout(() => s.signal("SIGKILL"), graceMs)
      await exited
      clearTimeout(timer)
    }
  }
  live.add(s)
  return s
}

/** Stops everything this test file started (use in afterAll). */
export const stopAll = async (): Promise<void> => {
  await Promise.all([...live].map((s) => s.stop()))
}

/** Runs a command to completion; rejects on a non-zero exit unless `allowFail`. */
export const run = (cmd: string, args: ReadonlyArray<string>, opts: { allowFail?: boolean; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> =>
  new Promise((resolve, reject) => {
    const child = spawn(cmd, [...args], { env: { ...process.env, ...opts.env }, stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (b: Buffer) => (stdout += b.toString()))
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString()))
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 20_000)
    child.once("error", (e) => {
      clearTimeout(timer)
      reject(e)
    })
    // "close", not "exit": the process can exit before its stdout is drained (birdc and bgpctl answers
    // were seen empty under load with exit code 0).
    child.once("close", (code) => {
      clearTimeout(timer)
      if (code !== 0 && opts.allowFail !== true) reject(new Error(`${cmd} ${args.join(" ")} exited ${code}: ${stderr || stdout}`))
      else resolve({ code, stdout, stderr })
    })
  })

/** Polls `check` until it returns a value (not undefined) or `timeoutMs` passes. */
export const waitFor = async <A>(what: string, check: () => Promise<A | undefined> | A | undefined, timeoutMs = 20_000, everyMs = 200): Promise<A> => {
  const until = Date.now() + timeoutMs
  let lastError: unknown
  while (Date.now() < until) {
    try {
      const v = await check()
      if (v !== undefined) return v
    } catch (e) {
      lastError = e
    }
    await new Promise((r) => setTimeout(r, everyMs))
  }
  throw new Error(`timed out waiting for ${what}${lastError === undefined ? "" : `: ${String(lastError)}`}`)
}

export const removeDir = (dir: string): void => {
  if (existsSync(dir)) rmSync(dir, { recursive: true, force: true })
}

export const which = (bin: string): boolean =>
  ["/usr/sbin", "/usr/bin", "/usr/lib/frr", "/sbin", "/bin"].some((d) => existsSync(join(d, bin)))
