/**
 * The BGP messages of an MRT update dump, extracted once before any timing, with the codec context each
 * needs (from the record subtype: 2- or 4-octet AS numbers, ADD-PATH; RFC 6396 §4.4, RFC 8050 §3), read
 * with the codec's own MRT reader (`@starling/codec/mrt/index`, gzip and bzip2 handled there).
 */
import type { CodecContext } from "@starling/codec"
import { mrtContext, readMrt } from "@starling/codec/mrt/index"

export interface MrtMessages {
  /** Every UPDATE back to back, as a TCP stream would carry them. */
  readonly stream: Uint8Array
  /** BGP UPDATE messages, header included: views into `stream`. */
  readonly updates: Uint8Array[]
  /** Parallel to `updates`: the context to decode each with. */
  readonly contexts: CodecContext[]
  readonly records: number
  /** BGP4MP messages that are not UPDATEs (OPEN, KEEPALIVE, NOTIFICATION...). */
  readonly otherMessages: number
  /** Records that are not BGP4MP messages (state changes, RIB entries...). */
  readonly otherRecords: number
}

export const readMrtUpdates = async (file: string): Promise<MrtMessages> => {
  const copies: Uint8Array[] = []
  const contexts: CodecContext[] = []
  let records = 0
  let otherMessages = 0
  let otherRecords = 0
  for await (const r of readMrt(file)) {
    records++
    // Type 5 (legacy BGP) records carry an UPDATE body without the BGP header: not a message to decode.
    if (r._tag !== "Bgp4mpMessage" || (r.header.type !== 16 && r.header.type !== 17)) {
      otherRecords++
      continue
    }
    if (r.data.length < 19 || r.data[18] !== 2) {
      otherMessages++
      continue
    }
    // Copy: keep only the bytes, not the record (nor the reader's chunk, nor its decoded message).
    copies.push(r.data.slice())
    contexts.push(mrtContext(r.as4, r.addPath))
  }
  const stream = new Uint8Array(copies.reduce((n, m) => n + m.length, 0))
  const updates: Uint8Array[] = []
  let o = 0
  for (const m of copies) {
    stream.set(m, o)
    updates.push(stream.subarray(o, o + m.length))
    o += m.length
  }
  return { stream, updates, contexts, records, otherMessages, otherRecords }
}
