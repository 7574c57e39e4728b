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
  /** Fewer than 19 octets of a message whose header is not complete yet. */
  let pending: Uint8Array = EMPTY
  /** A split message whose header was checked: filled in place as chunks arrive (no re-copying). */
  let assembly: Uint8Array | undefined
  let filled = 0
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

  /** Starts assembling a message from `head` (its header complete and checked) of declared `length`. */
  const assemble = (head: Uint8Array, length: number): void => {
    assembly = new Uint8Array(length)
    assembly.set(head)
    filled = head.length
  }

  return {
    get buffered() {
      return assembly !== undefined ? filled : pending.length
    },
    setExtendedMessages(enabled) {
      maxLength = enabled ? MAX_EXTENDED_MESSAGE_LENGTH : MAX_MESSAGE_LENGTH
    },
    push(chunk) {
      if (failed !== undefined) return { messages: [], error: failed }
      const messages: Uint8Array[] = []
      try {
        let start = 0
        if (assembly === undefined && pending.length > 0) {
          if (pending.length + chunk.length < HEADER_LENGTH) {
            const joined = new Uint8Array(pending.length + chunk.length)
            joined.set(pending)
            joined.set(chunk, pending.length)
            pending = joined
            return { messages }
          }
          const head = new Uint8Array(HEADER_LENGTH)
          head.set(pending)
          head.set(chunk.subarray(0, HEADER_LENGTH - pending.length), pending.length)
          const length = checkHeader(head, 0, maxLength)
          start = HEADER_LENGTH - pending.length
          pending = EMPTY
          assemble(head, length)
        }
        if (assembly !== undefined) {
          // Finish the split message first: it alone is copied; the messages after it stay views of `chunk`.
          const take = Math.min(assembly.length - filled, chunk.length - start)
          assembly.set(chunk.subarray(start, start + take), filled)
          filled += take
          start += take
          if (filled < assembly.length) return { messages }
          messages.push(assembly)
          assembly = undefined
        }
        const used = frame(chunk, start, messages)
        const rest = chunk.length - used
        if (rest === 0) pending = EMPTY
        else if (rest < HEADER_LENGTH) pending = chunk.slice(used)
        // `frame` stopped at a message whose header it checked but whose body is not all here.
        else assemble(chunk.subarray(used), (chunk[used + 16]! << 8) | chunk[used + 17]!)
        return { messages }
      } catch (e) {
        if (!(e instanceof DecodeAbort)) throw e
        failed = e.error
        pending = EMPTY
        assembly = undefined
        return { messages, error: failed }
      }
    }
  }
}
