/**
 * Why an MRT stream could not be read further. Records before the damage have already been handed out;
 * this error comes last. Problems inside one record (whose framing is intact) do not stop the stream:
 * they travel on the record itself (`Raw.error`, `Bgp4mpMessage.error`).
 */
import { Data } from "effect"

export type MrtErrorReason =
  /** The stream ended inside a record header or body. */
  | "Truncated"
  /** A record declares a length beyond the configured ceiling (a corrupt length field, most likely). */
  | "RecordTooLong"
  /** gzip or bzip2 decompression failed (corrupt or truncated compressed data). */
  | "Decompression"
  /** A record body does not match its type (fields overrun the record). Carried on the record. */
  | "MalformedRecord"
  /** The input could not be read (file system error). */
  | "Io"

export class MrtError extends Data.TaggedError("MrtError")<{
  readonly reason: MrtErrorReason
  readonly detail: string
  /** Offset in the (decompressed) MRT stream where the damaged record starts. */
  readonly offset: number
  /** Number of records read before this one. */
  readonly recordIndex: number
}> {
  override get message(): string {
    return `${this.reason} at record ${this.recordIndex} (offset ${this.offset}): ${this.detail}`
  }
}
