/**
 * Reading MRT from a Node stream or a file: an async iterator of records. Compression is recognised by
 * its magic bytes (gzip 1f 8b, bzip2 "BZh"), not by the file name. Records are decoded chunk by chunk as
 * the data arrives, so a full table never sits in memory: the iterator pulls (and backpressure pauses
 * the file) only as fast as the consumer takes records.
 *
 * Errors: everything readable before the damage is yielded, then the iterator throws one `MrtError`
 * (truncated stream, corrupt compression, absurd record length, unreadable file).
 */
import { createReadStream } from "node:fs"
import { Readable } from "node:stream"
import { createGunzip } from "node:zlib"
import { Bzip2Decoder, isBzip2 } from "./bzip2.ts"
import { MrtError } from "./errors.ts"
import type { MrtParserOptions } from "./parser.ts"
import { makeMrtParser } from "./parser.ts"
import type { MrtRecord } from "./records.ts"

export type Compression = "none" | "gzip" | "bzip2"

export const detectCompression = (head: Uint8Array): Compression =>
  head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b ? "gzip" : isBzip2(head) ? "bzip2" : "none"

export interface ReadMrtOptions extends MrtParserOptions {
  /** Called with the size of every chunk read from the input (before decompression): for progress. */
  readonly onInput?: (bytes: number) => void
  /** Read size when opening a file (default 1 MiB). */
  readonly highWaterMark?: number
}

const toBytes = (chunk: unknown): Uint8Array =>
  chunk instanceof Uint8Array ? chunk : Buffer.from(String(chunk))

/** bzip2 through the synchronous decoder, one block at a time, pulled as the consumer asks. */
async function* bunzip2(input: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const decoder = new Bzip2Decoder()
  const out: Uint8Array[] = []
  for await (const chunk of input) {
    decoder.push(chunk)
    while (decoder.pull(out)) {
      yield* out
      out.length = 0
    }
  }
  while (decoder.pull(out, true)) {
    yield* out
    out.length = 0
  }
}

/**
 * The records of an MRT stream (a path, or a Readable of bytes), in order. Stopping early (break out
 * of `for await`) closes the input.
 */
export async function* readMrt(input: string | Readable, options: ReadMrtOptions = {}): AsyncGenerator<MrtRecord, void, undefined> {
  const source = typeof input === "string" ? createReadStream(input, { highWaterMark: options.highWaterMark ?? 1 << 20 }) : input
  const parser = makeMrtParser(options)
  const fail = (reason: MrtError["reason"], detail: string): MrtError =>
    new MrtError({ reason, detail, offset: parser.offset, recordIndex: parser.recordCount })
  const it = source[Symbol.asyncIterator]() as AsyncIterator<unknown>
  let decompressor: Readable | undefined
  let stage = "read"
  try {
    // Sniff the compression from the first four octets.
    const head: Uint8Array[] = []
    let headLength = 0
    let ended = false
    while (headLength < 4) {
      const n = await it.next()
      if (n.done === true) {
        ended = true
        break
      }
      const b = toBytes(n.value)
      options.onInput?.(b.length)
      head.push(b)
      headLength += b.length
    }
    const first = head.length === 1 ? head[0]! : Buffer.concat(head)
    const compression = detectCompression(first)
    async function* raw(): AsyncGenerator<Uint8Array> {
      if (first.length > 0) yield first
      if (ended) return
      for (;;) {
        const n = await it.next()
        if (n.done === true) return
        const b = toBytes(n.value)
        options.onInput?.(b.length)
        yield b
      }
    }
    let chunks: AsyncIterable<Uint8Array>
    if (compression === "gzip") {
      const compressed = Readable.from(raw(), { objectMode: false })
      const d = compressed.pipe(createGunzip())
      compressed.on("error", (e) => d.destroy(e))
      decompressor = d
      chunks = d
      stage = "gzip"
    } else if (compression === "bzip2") {
      chunks = bunzip2(raw())
      stage = "bzip2"
    } else chunks = raw()
    for await (const chunk of chunks) {
      const r = parser.push(toBytes(chunk))
      for (const record of r.records) yield record
      if (r.error !== undefined) throw r.error
    }
  } catch (e) {
    if (e instanceof MrtError) throw e
    const detail = e instanceof Error ? e.message : String(e)
    if (stage === "read") throw fail("Io", detail)
    throw fail("Decompression", `${stage}: ${detail}`)
  } finally {
    decompressor?.destroy()
    if (typeof input === "string") source.destroy()
    else await it.return?.()
  }
  const error = parser.end()
  if (error !== undefined) throw error
}
