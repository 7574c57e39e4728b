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

export const makeFramer = (options: { readonly extendedMessages?: boolean } = {}): Framer => {
  let maxLength = options.extendedMessages === true ? MAX_EXTENDED_MESSAGE_LENGTH : MAX_MESSAGE_LENGTH
  let pending = new Uint8Array(0)
  let failed: BgpError | undefined

  const frame = (buf: Uint8Array, out: Uint8Array[], copy: boolean): number => {
    let i = 0
    while (buf.length - i >= HEADER_LENGTH) {
      const length = checkHeader(buf, i, maxLength)
      if (buf.length - i < length) break
      out.push(copy ? buf.slice(i, i + length) : buf.subarray(i, i + length))
      i += length
    }
    return i
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
        let buf = chunk
        let copy = false
        if (pending.length > 0) {
          // Finish the split message first; copy so the result does not alias our pending buffer.
          const joined = new Uint8Array(pending.length + chunk.length)
          joined.set(pending)
          joined.set(chunk, pending.length)
          buf = joined
          copy = false
        }
        const used = frame(buf, messages, copy)
        pending = used === buf.length ? new Uint8Array(0) : buf.slice(used)
        return { messages }
      } catch (e) {
        if (!(e instanceof DecodeAbort)) throw e
        failed = e.error
        pending = new Uint8Array(0)
        return { messages, error: failed }
      }
    }
  }
}
