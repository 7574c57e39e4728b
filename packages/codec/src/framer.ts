/**
 * Incremental framing of a TCP byte stream into BGP messages (RFC 4271 §4.1), in the manner of BIRD's
 * `bgp_rx`: check the header as soon as 19 octets are there, wait for the whole message, hand it out.
 * Messages wholly inside a chunk are returned as views of that chunk (no copy); a message split across
 * chunks is assembled once. After a header error the framer refuses further input: the connection is
 * over (RFC 4271 §6.1).
 */
import { HEADER_LENGTH, MAX_EXTENDED_MESSAGE_LENGTH, MAX_MESSAGE_LENGTH } from "./constants.ts"
import { BgpError, DecodeAbort } from "./errors.ts"
import { checkHeader } from "./message.ts"

export interface FrameResult {
  /** Complete messages, header included, in stream order. */
  readonly messages: ReadonlyArray<Uint8Array>
  /** Set when the stream is broken; `messages` still holds what came before the damage. */
  readonly error?: BgpError
}

export interface Framer {
  push(chunk: Uint8Array): FrameResult
  /** Raise the limit to 65535 once RFC 8654 extended messages are negotiated (or back to 4096). */
  setExtendedMessages(enabled: boolean): void
  /** Octets held back waiting for the rest of a message. */
  readonly buffered: number
}

const EMPTY: Uint8Array = new Uint8Array(0)

export const makeFramer = (options: { readonly extendedMessages?: boolean } = {}): Framer => {
  let maxLength = options.extendedMessages === true ? MAX_EXTENDED_MESSAGE_LENGTH : MAX_MESSAGE_LENGTH
  let pending: Uint8Array = EMPTY
  let failed: BgpError | undefined

  /** Frames whole messages of `buf` from `i` on, as views; returns where the first incomplete one starts. */
  const frame = (buf: Uint8Array, i: number, out: Uint8Array[]): number => {
    while (buf.length - i >= HEADER_LENGTH) {
      const length = checkHeader(buf, i, maxLength)
      if (buf.length - i < length) break
      out.push(buf.subarray(i, i + length))
      i += length
    }
    return i
  }

  const join = (a: Uint8Array, b: Uint8Array): Uint8Array => {
    const joined = new Uint8Array(a.length + b.length)
    joined.set(a)
    joined.set(b, a.length)
    return joined
  }

  return {
    get buffered() {
      return pending.length
    },
    setExtendedMessages(enabled) {
      maxLength = enabled ? MAX_EXTENDED_MESSAGE_LENGTH : MAX_MESSAGE_LENGTH
    },
    push(chunk) {
      if (failed !== undefined) return { messages: [], error: failed }
      const messages: Uint8Array[] = []
      try {
        let start = 0
        if (pending.length > 0) {
          // Finish the split message first: it alone is assembled (copied); the messages after it stay
          // views of `chunk` (copying the whole chunk behind a split message cost a copy of every byte).
          const have = pending.length + chunk.length
          if (have < HEADER_LENGTH) {
            pending = join(pending, chunk)
            return { messages }
          }
          const head = pending.length >= HEADER_LENGTH ? pending : join(pending, chunk.subarray(0, HEADER_LENGTH - pending.length))
          const length = checkHeader(head, 0, maxLength)
          if (have < length) {
            pending = join(pending, chunk)
            return { messages }
          }
          start = length - pending.length
          messages.push(join(pending, chunk.subarray(0, start)))
        }
        const used = frame(chunk, start, messages)
        pending = used === chunk.length ? EMPTY : chunk.slice(used)
        return { messages }
      } catch (e) {
        if (!(e instanceof DecodeAbort)) throw e
        failed = e.error
        pending = EMPTY
        return { messages, error: failed }
      }
    }
  }
}
