/**
 * The synchronous core of the MRT reader: feed it the decompressed stream chunk by chunk, get back the
 * records each chunk completes. Records wholly inside a chunk are decoded from views of that chunk; a
 * record split across chunks is assembled once, when its last octet arrives (pieces are only queued
 * until then, so a 100 MiB record spread over 1 000 chunks is copied once, not 1 000 times).
 */
import { DEFAULT_MAX_RECORD_LENGTH, isExtendedTimestampType, MRT_HEADER_LENGTH } from "./constants.ts"
import { MrtError } from "./errors.ts"
import type { DecodeState } from "./decode.ts"
import { decodeRecord } from "./decode.ts"
import type { MrtHeader, MrtRecord } from "./records.ts"

export interface MrtParserOptions {
  /** Records declaring more than this many octets are taken as corruption (default 16 MiB). */
  readonly maxRecordLength?: number
}

export interface MrtPushResult {
  readonly records: ReadonlyArray<MrtRecord>
  /** Set when the stream is broken; `records` still holds what came before the damage. */
  readonly error?: MrtError
}

export interface MrtParser {
  push(chunk: Uint8Array): MrtPushResult
  /** The stream is over: an error when it stopped inside a record. */
  end(): MrtError | undefined
  /** Records handed out so far. */
  readonly recordCount: number
  /** Octets consumed by complete records. */
  readonly offset: number
}

const u32 = (b: Uint8Array, i: number): number => ((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0

export const makeMrtParser = (options: MrtParserOptions = {}): MrtParser => {
  const maxLength = options.maxRecordLength ?? DEFAULT_MAX_RECORD_LENGTH
  const state: DecodeState = {}
  let parts: Uint8Array[] = []
  let partsLength = 0
  /** Octets needed before the pending parts are worth joining (a header, then the whole record). */
  let need = MRT_HEADER_LENGTH
  let offset = 0
  let count = 0
  let failed: MrtError | undefined

  const fail = (reason: MrtError["reason"], detail: string): MrtError => {
    failed = new MrtError({ reason, detail, offset, recordIndex: count })
    parts = []
    partsLength = 0
    return failed
  }

  /** Frames and decodes every complete record of `buf`; returns the octets used. */
  const frame = (buf: Uint8Array, out: MrtRecord[]): number => {
    let i = 0
    while (buf.length - i >= MRT_HEADER_LENGTH) {
      const length = u32(buf, i + 8)
      if (length > maxLength) {
        fail("RecordTooLong", `record declares ${length} octets (limit ${maxLength})`)
        return i
      }
      const total = MRT_HEADER_LENGTH + length
      if (buf.length - i < total) {
        need = total
        return i
      }
      const type = (buf[i + 4]! << 8) | buf[i + 5]!
      const et = isExtendedTimestampType(type) && length >= 4
      const header: MrtHeader = {
        timestamp: u32(buf, i),
        microseconds: et ? u32(buf, i + 12) : 0,
        type,
        subtype: (buf[i + 6]! << 8) | buf[i + 7]!,
        length,
        offset
      }
      const body = buf.subarray(i + MRT_HEADER_LENGTH + (et ? 4 : 0), i + total)
      out.push(decodeRecord(header, body, state, count))
      count++
      offset += total
      i += total
    }
    need = MRT_HEADER_LENGTH
    return i
  }

  return {
    get recordCount() {
      return count
    },
    get offset() {
      return offset
    },
    push(chunk) {
      if (failed !== undefined) return { records: [], error: failed }
      const records: MrtRecord[] = []
      let buf = chunk
      if (partsLength > 0) {
        if (partsLength + chunk.length < need) {
          parts.push(chunk)
          partsLength += chunk.length
          return { records }
        }
        buf = new Uint8Array(partsLength + chunk.length)
        let o = 0
        for (const p of parts) {
          buf.set(p, o)
          o += p.length
        }
        buf.set(chunk, o)
        parts = []
        partsLength = 0
      }
      const used = frame(buf, records)
      if (failed !== undefined) return { records, error: failed }
      if (used < buf.length) {
        // Keep the tail; copy it only if it is a small piece of a big chunk we would otherwise pin.
        const tail = buf.subarray(used)
        parts = [tail.length * 4 < buf.length ? tail.slice() : tail]
        partsLength = tail.length
      }
      return { records }
    },
    end() {
      if (failed !== undefined) return failed
      if (partsLength === 0) return undefined
      const detail = partsLength < MRT_HEADER_LENGTH
        ? `stream ends ${partsLength} octets into a record header`
        : `stream ends ${partsLength} octets into a record of ${need} octets`
      return fail("Truncated", detail)
    }
  }
}

/** Decodes a whole in-memory MRT image (tests, small files). */
export const parseMrt = (bytes: Uint8Array, options?: MrtParserOptions): MrtPushResult => {
  const p = makeMrtParser(options)
  const r = p.push(bytes)
  if (r.error !== undefined) return r
  const error = p.end()
  return error === undefined ? r : { records: r.records, error }
}
