/**
 * The judge: encodes corpus cases with our codec, wraps them in a pcap, has tshark dissect it and
 * compares field by field. Also the list of places where tshark 4.0's BGP dissector cannot judge.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { Case } from "./corpus.ts"
import { encodeCase } from "./corpus.ts"
import type { Exclusion, Fields, Mismatch } from "./fields.ts"
import { compareFields, expectedFields, tsharkFields } from "./fields.ts"
import { packSegments, writePcap } from "./pcap.ts"
import type { JsonObject } from "./tshark.ts"
import { dissect, frameFields } from "./tshark.ts"

/**
 * Fields tshark 4.0.17 (Debian 12) cannot judge. Each is demonstrated in tshark.test.ts, which also
 * fails if tshark starts agreeing on an excluded key (then the exclusion must go).
 */
export const exclusions: ReadonlyArray<Exclusion> = [
  {
    caseName: "OPEN with RFC 9072 extended optional parameters",
    keys: /^open\.(ext\.len|params|param\.|caps|cap\.)/,
    reason:
      "tshark 4.0.17 does not implement RFC 9072: after Non-Ext OP Type 255 it reads the 2-octet Extended Opt. Parm. " +
      "Length and the 3-octet parameter headers as 2-octet ones, so parameters and capabilities come out as garbage " +
      "(header fields, Opt Parm Len 255 and the type 255 marker are still compared)"
  },
  {
    caseName: "UPDATE of an RFC 8654 extended message",
    keys: /^(type|update\.|attr\.)/,
    reason:
      "tshark 4.0.17 does not implement RFC 8654: a BGP length above 4096 is 'Length is invalid' (malformed) and " +
      "nothing after the length field is dissected (marker and length are still compared)"
  }
]

export const exclusionFor = (c: Case): Exclusion | undefined => exclusions.find((e) => e.caseName === c.name)

export interface Judged {
  readonly case: Case
  readonly bytes: Uint8Array
  readonly expected: Fields
  readonly tshark: Fields
  readonly json: JsonObject | undefined
  /** Disagreements outside this case's exclusion. */
  readonly mismatches: ReadonlyArray<Mismatch>
}

export interface JudgeOptions {
  /** AS number size tshark is told to assume (`bgp.asn_len`). */
  readonly asnLen: 2 | 4
  /** How many messages share a TCP segment (cases marked `alone` always get their own). */
  readonly perSegment: number
  /** Replace the bytes of a case before they go into the pcap (for the corruption self-check). */
  readonly mutate?: (c: Case, bytes: Uint8Array) => Uint8Array
}

/** Judges `cases` in one tshark run. Throws if tshark does not find one BGP message per case. */
export const judge = (cases: ReadonlyArray<Case>, options: JudgeOptions): Judged[] => {
  const encoded = cases.map((c) => (options.mutate === undefined ? encodeCase(c) : options.mutate(c, encodeCase(c))))
  // Consecutive non-`alone` cases share segments; an `alone` case gets a segment of its own.
  const segments: Uint8Array[] = []
  let run: Uint8Array[] = []
  cases.forEach((c, i) => {
    if (c.alone === true) {
      segments.push(...packSegments(run, options.perSegment), encoded[i]!)
      run = []
    } else run.push(encoded[i]!)
  })
  segments.push(...packSegments(run, options.perSegment))
  const dir = mkdtempSync(join(tmpdir(), "starling-tshark-"))
  try {
    const file = join(dir, "corpus.pcap")
    writeFileSync(file, writePcap(segments))
    const messages = dissect(file, options.asnLen)
    if (messages.length !== cases.length) {
      throw new Error(`tshark found ${messages.length} BGP messages, the corpus has ${cases.length}`)
    }
    return cases.map((c, i) => {
      const expected = expectedFields(c)
      const tshark = tsharkFields(messages[i]!, options.asnLen)
      return {
        case: c,
        bytes: encoded[i]!,
        expected,
        tshark,
        json: messages[i],
        mismatches: compareFields(expected, tshark, exclusionFor(c)?.keys)
      }
    })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Writes `segments` to a temporary pcap and returns tshark's BGP messages. */
export const dissectSegments = (segments: ReadonlyArray<Uint8Array>, asnLen: 2 | 4): JsonObject[] => {
  const dir = mkdtempSync(join(tmpdir(), "starling-tshark-"))
  try {
    const file = join(dir, "segments.pcap")
    writeFileSync(file, writePcap(segments))
    return dissect(file, asnLen)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Writes `segments` to a temporary pcap and returns tshark's per-frame `fields`. */
export const frameSummary = (segments: ReadonlyArray<Uint8Array>, fields: ReadonlyArray<string>): string[][] => {
  const dir = mkdtempSync(join(tmpdir(), "starling-tshark-"))
  try {
    const file = join(dir, "frames.pcap")
    writeFileSync(file, writePcap(segments))
    return frameFields(file, fields)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
