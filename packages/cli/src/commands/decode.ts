/**
 * `starling decode <hex>`: one BGP message (marker included) as pretty JSON.
 *
 * Exit codes: 0 decoded (also when RFC 7606 repaired an UPDATE: the JSON then says so under `rfc7606`
 * and a note goes to stderr); 1 the message is malformed (the JSON is the NOTIFICATION it would cause);
 * 2 usage error (bad option, no or invalid hex).
 */
import { Afi, decodeMessage, encodeMessage, familyKey, makeContext, Safi, toNotification } from "@starling/codec"
import type { BgpError, CodecContext } from "@starling/codec"
import type { Json } from "../render.ts"
import { renderError, renderMessage } from "../render.ts"

export const usage = `usage: starling decode [options] <hex>...

Decodes one BGP message, marker included, and prints it as JSON. The hex may contain spaces and
colons and may be split over several arguments; a leading 0x is ignored.

options:
  --no-as4               the session did not negotiate 4-octet AS numbers (RFC 6793): AS_PATH and
                         AGGREGATOR carry 2-octet AS numbers, AS4_PATH / AS4_AGGREGATOR are merged in
  --add-path <families>  comma-separated families whose NLRI carry ADD-PATH path identifiers
                         (RFC 7911): ipv4, ipv6, ipv4-multicast, ipv6-multicast
  --extended             RFC 8654 extended messages: accept up to 65535 octets instead of 4096
  -h, --help             this text

exit status: 0 decoded (RFC 7606 repairs included, reported under "rfc7606"), 1 malformed message
(the NOTIFICATION it calls for is printed), 2 usage error
`

const ADD_PATH_FAMILIES: Readonly<Record<string, number>> = {
  ipv4: familyKey(Afi.IPV4, Safi.UNICAST),
  "ipv4-unicast": familyKey(Afi.IPV4, Safi.UNICAST),
  ipv6: familyKey(Afi.IPV6, Safi.UNICAST),
  "ipv6-unicast": familyKey(Afi.IPV6, Safi.UNICAST),
  "ipv4-multicast": familyKey(Afi.IPV4, Safi.MULTICAST),
  "ipv6-multicast": familyKey(Afi.IPV6, Safi.MULTICAST)
}

export interface Outcome {
  readonly exitCode: number
  readonly stdout: string
  readonly stderr: string
}

const usageError = (message: string): Outcome => ({ exitCode: 2, stdout: "", stderr: `starling decode: ${message}\n\n${usage}` })

interface Parsed {
  readonly ctx: CodecContext
  readonly hex: string
}

const parseArgs = (args: ReadonlyArray<string>): Parsed | Outcome => {
  let as4 = true
  let extendedMessage = false
  const addPath = new Set<number>()
  const hex: string[] = []
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    if (arg === "--") {
      hex.push(...args.slice(i + 1))
      break
    }
    if (arg === "-h" || arg === "--help") return { exitCode: 0, stdout: usage, stderr: "" }
    if (arg === "--no-as4") as4 = false
    else if (arg === "--extended") extendedMessage = true
    else if (arg === "--add-path" || arg.startsWith("--add-path=")) {
      const value = arg === "--add-path" ? args[++i] : arg.slice("--add-path=".length)
      if (value === undefined || value === "") return usageError("--add-path needs a list of families")
      for (const name of value.split(",")) {
        const key = ADD_PATH_FAMILIES[name.trim().toLowerCase()]
        if (key === undefined) return usageError(`unknown ADD-PATH family "${name}" (use ${Object.keys(ADD_PATH_FAMILIES).join(", ")})`)
        addPath.add(key)
      }
    } else if (arg.startsWith("-")) return usageError(`unknown option ${arg}`)
    else hex.push(arg)
  }
  if (hex.length === 0) return usageError("no message given")
  return { ctx: makeContext({ as4, extendedMessage, addPath }), hex: hex.join("") }
}

/** Hex text to bytes: whitespace and colons ignored, one optional leading 0x. Undefined when not hex. */
export const parseHex = (text: string): Uint8Array | undefined => {
  const clean = text.replace(/[\s:]/g, "").replace(/^0x/i, "")
  if (clean.length === 0 || clean.length % 2 !== 0 || /[^0-9a-fA-F]/.test(clean)) return undefined
  return new Uint8Array(Buffer.from(clean, "hex"))
}

const json = (v: Json): string => `${JSON.stringify(v, null, 2)}\n`

/** The NOTIFICATION a malformed message calls for, with the full message bytes when they can be built. */
const failure = (e: BgpError, ctx: CodecContext): Outcome => {
  const bytes = encodeMessage(toNotification(e), ctx)
  const body: { [key: string]: Json } = {
    error: "malformed message",
    notification: renderError(e),
    ...(bytes._tag === "Success" ? { notificationMessage: Buffer.from(bytes.success).toString("hex") } : {})
  }
  const what = e.action === "AfiSafiDisable" ? "the family would be disabled (RFC 7606 §5.3, RFC 4760 §7)" : "the session would be reset"
  return { exitCode: 1, stdout: json(body), stderr: `starling decode: ${e.detail}: ${what}\n` }
}

/** The whole command as a pure function of its arguments (tests call it directly). */
export const decode = (args: ReadonlyArray<string>): Outcome => {
  const parsed = parseArgs(args)
  if ("exitCode" in parsed) return parsed
  const bytes = parseHex(parsed.hex)
  if (bytes === undefined) return usageError("the message is not valid hex (an even number of 0-9a-f digits)")
  const r = decodeMessage(bytes, parsed.ctx)
  if (r._tag === "Failure") return failure(r.failure, parsed.ctx)
  const m = r.success
  const out = renderMessage(m, { addPath: parsed.ctx.addPath })
  if (m._tag !== "Update" || m.errors === undefined || m.errors.length === 0) return { exitCode: 0, stdout: json(out), stderr: "" }
  // RFC 7606 repaired the UPDATE: say how, on stdout (in the JSON) and on stderr.
  const withdraw = m.errors.some((e) => e.action === "TreatAsWithdraw")
  const outcome = withdraw ? "treat-as-withdraw" : "attribute-discard"
  const note = withdraw
    ? "RFC 7606 §2 treat-as-withdraw: every prefix of this UPDATE is withdrawn and its attributes ignored"
    : "RFC 7606 §2 attribute discard: the malformed attributes are dropped, the routes are kept"
  const { errors: _errors, ...message } = out
  return {
    exitCode: 0,
    stdout: json({ ...message, rfc7606: { outcome, note, errors: m.errors.map(renderError) } }),
    stderr: `starling decode: ${note} (${m.errors.map((e) => e.detail).join("; ")})\n`
  }
}

export const run = async (args: ReadonlyArray<string>): Promise<number> => {
  const o = decode(args)
  if (o.stdout !== "") process.stdout.write(o.stdout)
  if (o.stderr !== "") process.stderr.write(o.stderr)
  return o.exitCode
}
