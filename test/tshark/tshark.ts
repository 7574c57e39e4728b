/**
 * Runs tshark over a pcap file and returns the BGP layer of every message, in stream order. tshark only
 * reads the file: no capture, no interface. `--no-duplicate-keys` makes repeated fields JSON arrays (a
 * plain `-T json` repeats keys, which `JSON.parse` would silently collapse to the last one).
 */
import { execFileSync } from "node:child_process"
import { existsSync } from "node:fs"

export const TSHARK = process.env["TSHARK"] ?? "/usr/bin/tshark"

/** A node of tshark's JSON tree: field name → string value, subtree, or array of either. */
export type Json = string | JsonObject | ReadonlyArray<Json>
export interface JsonObject {
  readonly [key: string]: Json
}

export const tsharkAvailable = (): boolean => existsSync(TSHARK)

/** `tshark -v` first line, for reports and exclusion comments. */
let version: string | undefined
export const tsharkVersion = (): string =>
  (version ??= execFileSync(TSHARK, ["-v"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).split("\n")[0] ?? "")

/**
 * Dissects `file` with the AS number length fixed (`bgp.asn_len` is "Auto-detect" by default, which
 * guesses per message) and checksum validation off (our pcap writer leaves checksums zero).
 */
export const dissect = (file: string, asnLen: 2 | 4): JsonObject[] => {
  const out = execFileSync(
    TSHARK,
    [
      "-n", // no name resolution
      "-r",
      file,
      "-o",
      "tcp.check_checksum:FALSE",
      "-o",
      "ip.check_checksum:FALSE",
      "-o",
      "tcp.analyze_sequence_numbers:FALSE",
      "-o",
      `bgp.asn_len:${asnLen}`,
      "-T",
      "json",
      "--no-duplicate-keys",
      "-x", // adds `<field>_raw`: [hex, offset, length, bitmask, type] for every field
      "-J",
      "bgp"
    ],
    { encoding: "utf8", maxBuffer: 256 * 1024 * 1024, stdio: ["ignore", "pipe", "pipe"] }
  )
  const packets = JSON.parse(out) as ReadonlyArray<{ _source: { layers: JsonObject } }>
  const messages: JsonObject[] = []
  for (const pkt of packets) {
    const bgp = pkt._source.layers["bgp"]
    if (bgp === undefined) continue
    // Several messages in one segment: one `bgp` layer each, merged into an array.
    for (const m of list(bgp)) if (typeof m === "object") messages.push(m as JsonObject)
  }
  return messages
}

/** A field's values as a list, whether tshark printed it once (a value) or several times (an array). */
export const list = (v: Json | undefined): ReadonlyArray<Json> =>
  v === undefined ? [] : Array.isArray(v) ? (v as ReadonlyArray<Json>) : [v as Json]

/** The single string value of `key`, or undefined (also when it is repeated or a subtree). */
export const str = (o: JsonObject | undefined, key: string): string | undefined => {
  const v = o?.[key]
  return typeof v === "string" ? v : undefined
}

/** Every object value of `key` (a subtree printed once or several times). */
export const objects = (o: JsonObject | undefined, key: string): JsonObject[] =>
  list(o?.[key]).filter((x): x is JsonObject => typeof x === "object" && !Array.isArray(x))

/** Every string value of `key`. */
export const strings = (o: JsonObject | undefined, key: string): string[] =>
  list(o?.[key]).filter((x): x is string => typeof x === "string")

/**
 * The raw bytes (hex, no separators) of every occurrence of `key`, from the `<key>_raw` entries `-x`
 * adds: `[hex, offset, length, bitmask, type]` once, or an array of those when repeated.
 */
export const raws = (o: JsonObject | undefined, key: string): string[] => rawEntries(o, key).map(([h]) => h)

/** Like `raws`, with each occurrence's offset in the frame. */
export const rawEntries = (o: JsonObject | undefined, key: string): Array<[string, number]> => {
  const v = o?.[`${key}_raw`]
  if (!Array.isArray(v)) return []
  const one = (x: Json): Array<[string, number]> =>
    Array.isArray(x) && typeof x[0] === "string" ? [[x[0] as string, Number(x[1])]] : []
  if (typeof v[0] === "string") return one(v)
  return (v as ReadonlyArray<Json>).flatMap(one)
}

/** `tshark -T fields` rows (tab-separated values of `fields`, one row per frame). */
export const frameFields = (file: string, fields: ReadonlyArray<string>): string[][] => {
  const out = execFileSync(
    TSHARK,
    ["-n", "-r", file, "-o", "tcp.check_checksum:FALSE", "-T", "fields", ...fields.flatMap((f) => ["-e", f])],
    { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }
  )
  return out.split("\n").filter((l) => l !== "").map((l) => l.split("\t"))
}
