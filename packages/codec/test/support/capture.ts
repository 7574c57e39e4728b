/**
 * Runs a capture through the codec the way a speaker would see it: reassemble each TCP direction, frame
 * it with `makeFramer`, and decode every message with `decodeMessage` under the context the two OPENs
 * negotiated (RFC 6793 4-octet AS, RFC 7911 ADD-PATH, RFC 8654 extended messages). With no OPEN in the
 * capture the codec defaults apply.
 */
import { Result } from "effect"
import type { BgpError, CodecContext, Message, Open } from "../../src/index.ts"
import { AddPathMode, decodeMessage, defaultContext, familyKey, HEADER_LENGTH, makeContext, makeFramer } from "../../src/index.ts"
import { readCapture, tcpSegment } from "./pcap.ts"
import type { Direction } from "./tcp.ts"
import { reassemble } from "./tcp.ts"

export interface CapturedMessage {
  readonly direction: string
  readonly bytes: Uint8Array
  /** The type octet of the header. */
  readonly type: number
  readonly result: Result.Result<Message, BgpError>
}

export interface CaptureDecode {
  readonly messages: ReadonlyArray<CapturedMessage>
  /** Framing failures (header errors), one per run at most, with the direction they happened on. */
  readonly framingErrors: ReadonlyArray<{ readonly direction: string; readonly error: BgpError }>
  /** Octets skipped to find the first header of a run that starts mid-stream. */
  readonly skipped: number
  /** Octets of an incomplete last message per run (the capture ended inside it). */
  readonly trailing: number
  readonly contexts: ReadonlyMap<string, CodecContext>
}

/** A 19-octet BGP header at `i`: all-ones marker, plausible length and a known type. */
const looksLikeHeader = (b: Uint8Array, i: number): boolean => {
  if (i + HEADER_LENGTH > b.length) return false
  for (let k = 0; k < 16; k++) if (b[i + k] !== 0xff) return false
  const len = (b[i + 16]! << 8) | b[i + 17]!
  const type = b[i + 18]!
  return len >= HEADER_LENGTH && type >= 1 && type <= 5
}

const firstHeader = (b: Uint8Array): number => {
  for (let i = 0; i + HEADER_LENGTH <= b.length; i++) if (looksLikeHeader(b, i)) return i
  return b.length
}

const frameRuns = (d: Direction, extended: boolean) => {
  const messages: Uint8Array[] = []
  const errors: BgpError[] = []
  let skipped = 0
  let trailing = 0
  for (const run of d.runs) {
    const start = run.resync ? firstHeader(run.bytes) : 0
    skipped += start
    const framer = makeFramer({ extendedMessages: extended })
    const r = framer.push(run.bytes.subarray(start))
    messages.push(...r.messages)
    if (r.error !== undefined) errors.push(r.error)
    trailing += framer.buffered
  }
  return { messages, errors, skipped, trailing }
}

const firstOpen = (messages: ReadonlyArray<Uint8Array>): Open | undefined => {
  for (const m of messages) {
    if (m[18] !== 1) continue
    const r = decodeMessage(m, defaultContext)
    if (Result.isSuccess(r) && r.success._tag === "Open") return r.success
  }
  return undefined
}

const caps = (o: Open | undefined) => o?.capabilities ?? []

/**
 * The context for decoding what `sender` sends to `receiver`. A missing OPEN (capture of one direction
 * only) is taken to mirror the one we have.
 */
export const negotiate = (sender: Open | undefined, receiver: Open | undefined): CodecContext => {
  if (sender === undefined && receiver === undefined) return defaultContext
  const has = (o: Open | undefined, tag: string) => o === undefined || caps(o).some((c) => c._tag === tag)
  const addPath = new Set<number>()
  const modes = (o: Open | undefined) => {
    const m = new Map<number, number>()
    for (const c of caps(o)) if (c._tag === "AddPath") for (const f of c.families) m.set(familyKey(f.afi, f.safi), f.mode)
    return m
  }
  const send = modes(sender)
  const recv = modes(receiver)
  for (const [fam, mode] of send) {
    if ((mode & AddPathMode.SEND) === 0) continue
    const r = receiver === undefined ? AddPathMode.RECEIVE : recv.get(fam) ?? 0
    if ((r & AddPathMode.RECEIVE) !== 0) addPath.add(fam)
  }
  if (sender === undefined) {
    for (const [fam, mode] of recv) if ((mode & AddPathMode.RECEIVE) !== 0) addPath.add(fam)
  }
  return makeContext({
    as4: has(sender, "FourOctetAs") && has(receiver, "FourOctetAs"),
    extendedMessage: has(sender, "ExtendedMessage") && has(receiver, "ExtendedMessage"),
    addPath
  })
}

/** Decodes every BGP message of a capture, TCP ports 179 and 1179 (bgp-rs tests use 1179). */
export const decodeCapture = (file: Uint8Array, ports: ReadonlyArray<number> = [179, 1179]): CaptureDecode => {
  const segments = readCapture(file)
    .map(tcpSegment)
    .filter((s) => s !== undefined)
    .filter((s) => ports.includes(s.srcPort) || ports.includes(s.dstPort))
  const directions = reassemble(segments)
  // Pass 1: find each direction's OPEN (framing limit generous; no message before OPEN is large).
  const opens = new Map<string, Open | undefined>()
  for (const d of directions) opens.set(d.key, firstOpen(frameRuns(d, true).messages))
  const reverse = (d: Direction) => `${d.dst}:${d.dstPort}>${d.src}:${d.srcPort}`
  const messages: CapturedMessage[] = []
  const framingErrors: Array<{ direction: string; error: BgpError }> = []
  const contexts = new Map<string, CodecContext>()
  let skipped = 0
  let trailing = 0
  for (const d of directions) {
    const ctx = negotiate(opens.get(d.key), opens.get(reverse(d)))
    contexts.set(d.key, ctx)
    const framed = frameRuns(d, ctx.extendedMessage)
    skipped += framed.skipped
    trailing += framed.trailing
    for (const error of framed.errors) framingErrors.push({ direction: d.key, error })
    for (const bytes of framed.messages) {
      messages.push({ direction: d.key, bytes, type: bytes[18]!, result: decodeMessage(bytes, ctx) })
    }
  }
  return { messages, framingErrors, skipped, trailing, contexts }
}

/** Message counts by type, as `tshark -T fields -e bgp.type` would tally them. */
export const countTypes = (messages: ReadonlyArray<{ readonly type: number }>): Record<number, number> => {
  const out: Record<number, number> = {}
  for (const m of messages) out[m.type] = (out[m.type] ?? 0) + 1
  return out
}
