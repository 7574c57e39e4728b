/**
 * `starling mrt <file> [--format json|bgpdump] [--progress]`: the routes (RIB dumps) and the announced
 * or withdrawn prefixes and state changes (update dumps) of an MRT file, one line each, streaming.
 *
 * `--format bgpdump` prints what `bgpdump -m` prints; `--format json` (the default) one JSON object per
 * line. Output is batched into large writes that wait for stdout to drain, so multi-million-line files
 * neither flood memory nor crawl. A record that cannot be decoded is reported on stderr and skipped (exit
 * status 1 if it was corrupt, not if it was merely of an unknown kind); a damaged stream (truncated,
 * corrupt compression) ends the output after everything readable, with exit status 1.
 */
import { stat } from "node:fs/promises"
import { bgpdumpLines, jsonLines, MrtError, readMrt } from "@starling/codec/mrt/index"
import type { MrtRecord } from "@starling/codec/mrt/index"

const USAGE = `usage: starling mrt <file> [--format json|bgpdump] [--progress]

  Prints the routes of an MRT RIB dump, or the announced and withdrawn prefixes and the
  state changes of an MRT update dump, one line each. gzip and bzip2 files are read as is.

  --format json     one JSON object per line (default)
  --format bgpdump  the lines of \`bgpdump -m\`
  --progress        progress on stderr (default: only when stderr is a terminal)
`

type Format = "json" | "bgpdump"

interface Options {
  readonly file: string
  readonly format: Format
  readonly progress: boolean
}

const parseArgs = (args: ReadonlyArray<string>): Options | string => {
  let file: string | undefined
  let format: Format = "json"
  let progress = process.stderr.isTTY === true
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!
    if (a === "--format" || a.startsWith("--format=")) {
      const v = a === "--format" ? args[++i] : a.slice("--format=".length)
      if (v !== "json" && v !== "bgpdump") return `unknown format ${JSON.stringify(v ?? "")} (json or bgpdump)`
      format = v
    } else if (a === "--progress") progress = true
    else if (a === "--no-progress") progress = false
    else if (a.startsWith("-") && a !== "-") return `unknown option ${a}`
    else if (file === undefined) file = a
    else return "one file at a time"
  }
  if (file === undefined) return "no file given"
  return { file, format, progress }
}

/** Writes to stdout in batches of about 256 KiB, waiting for "drain" when the pipe is full. */
class Output {
  private buf = ""
  private closed = false
  // A reader that goes away (`| head`) is not an error: stop quietly.
  private readonly onError = (): void => {
    this.closed = true
  }
  constructor() {
    process.stdout.on("error", this.onError)
  }
  /** Flushes and lets go of stdout. */
  async close(): Promise<void> {
    await this.flush()
    process.stdout.off("error", this.onError)
  }
  get isClosed(): boolean {
    return this.closed
  }
  add(s: string): Promise<void> | undefined {
    this.buf += s
    return this.buf.length >= 256 * 1024 ? this.flush() : undefined
  }
  async flush(): Promise<void> {
    if (this.buf.length === 0 || this.closed) return
    const s = this.buf
    this.buf = ""
    if (!process.stdout.write(s)) await drained()
  }
}

/** Resolves on "drain" (or on "error", which the constructor's listener records), leaving no listener behind. */
const drained = (): Promise<void> =>
  new Promise((resolve) => {
    const done = (): void => {
      process.stdout.off("drain", done)
      process.stdout.off("error", done)
      resolve()
    }
    process.stdout.on("drain", done)
    process.stdout.on("error", done)
  })

/**
 * A record we could not read: `damage` when it is corrupt (a malformed MRT body, a BGP message with a bad
 * marker or length), not when it merely holds something the codec does not know (an unknown message type).
 */
const recordProblem = (r: MrtRecord): { readonly text: string; readonly damage: boolean } | undefined => {
  if (r._tag === "Raw" && r.error !== undefined) return { text: r.error.message, damage: true }
  if (r._tag === "Bgp4mpMessage" && r.message === undefined && r.error !== undefined) {
    return {
      text: `record at offset ${r.header.offset}: BGP message not decodable: ${r.error.message}`,
      damage: r.error.reason !== "BadMessageType"
    }
  }
  return undefined
}

const MAX_WARNINGS = 20

export const run = async (args: ReadonlyArray<string>): Promise<number> => {
  if (args.includes("--help") || args.includes("-h")) {
    process.stdout.write(USAGE)
    return 0
  }
  const opts = parseArgs(args)
  if (typeof opts === "string") {
    process.stderr.write(`starling mrt: ${opts}\n${USAGE}`)
    return 2
  }
  const out = new Output()
  try {
    return await convert(opts, out)
  } finally {
    await out.close()
  }
}

const convert = async (opts: Options, out: Output): Promise<number> => {
  const format = opts.format === "bgpdump" ? bgpdumpLines : jsonLines
  let size = 0
  let read = 0
  let lastProgress = 0
  let count = 0
  let problems = 0
  let damaged = 0
  if (opts.progress) size = await stat(opts.file).then((s) => s.size, () => 0)
  const progress = (final: boolean): void => {
    const pct = size > 0 ? ` ${((100 * read) / size).toFixed(1)}%` : ""
    process.stderr.write(`\r${count} records${pct}${final ? "\n" : ""}`)
  }
  const onInput = opts.progress
    ? (n: number) => {
      read += n
      const now = Date.now()
      if (now - lastProgress >= 250) {
        lastProgress = now
        progress(false)
      }
    }
    : undefined
  try {
    for await (const r of readMrt(opts.file, onInput === undefined ? {} : { onInput })) {
      count++
      const problem = recordProblem(r)
      if (problem !== undefined) {
        problems++
        if (problem.damage) damaged++
        if (problems <= MAX_WARNINGS) process.stderr.write(`starling mrt: ${opts.file}: skipped ${problem.text}\n`)
      }
      const lines = format(r)
      if (lines.length > 0) {
        const p = out.add(lines)
        if (p !== undefined) await p
        if (out.isClosed) return 0
      }
    }
  } catch (e) {
    await out.flush()
    if (opts.progress) progress(true)
    const detail = e instanceof MrtError
      ? e.reason === "Io" ? e.detail : `damaged after ${e.recordIndex} records: ${e.message}`
      : String(e)
    process.stderr.write(`starling mrt: ${opts.file}: ${detail}\n`)
    return 1
  }
  await out.flush()
  if (opts.progress) progress(true)
  if (problems > MAX_WARNINGS) process.stderr.write(`starling mrt: ${opts.file}: ${problems} records skipped in all\n`)
  return damaged > 0 ? 1 : 0
}
