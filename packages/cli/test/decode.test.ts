/**
 * `starling decode` end to end: spawns `node packages/cli/src/bin.ts decode …` and checks stdout, stderr
 * and the exit status for each exit path and option. Messages are built with the codec's encoder or, for
 * malformed ones, by hand. The rendering details are covered in-process by decode-render.test.ts.
 */
import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { Afi, encodeMessageUnsafe, familyKey, makeContext, parsePrefix, Safi, toHex } from "@starling/codec"
import type { Message } from "@starling/codec"

const BIN = fileURLToPath(new URL("../src/bin.ts", import.meta.url))

interface Run {
  readonly status: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs the real command in a child process (each run loads the codec afresh: tests run concurrently). */
const starling = (...args: string[]): Promise<Run> =>
  new Promise((resolve) => {
    execFile(process.execPath, [BIN, "decode", ...args], { encoding: "utf8", timeout: 30_000, maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      const status = error === null ? 0 : typeof error.code === "number" ? error.code : null
      resolve({ status, stdout, stderr })
    })
  })

/** A whole message: marker, length, type, then `body` (hex, spaces allowed). */
const frame = (type: number, body: string): string => {
  const b = body.replace(/\s/g, "")
  const len = 19 + b.length / 2
  return `${"ff".repeat(16)}${len.toString(16).padStart(4, "0")}${type.toString(16).padStart(2, "0")}${b}`
}

/** An UPDATE without withdrawals: attributes and NLRI as hex, the lengths filled in. */
const update = (attrs: string, nlri: string): string => {
  const a = attrs.replace(/\s/g, "")
  return frame(2, `0000${(a.length / 2).toString(16).padStart(4, "0")}${a}${nlri}`)
}

const p = (s: string, pathId = 0) => parsePrefix(s, pathId)!

const hexOf = (m: Message, ctx = makeContext()): string => toHex(encodeMessageUnsafe(m, ctx))

describe.concurrent("starling decode (spawned)", () => {
  it("exit 0: a KEEPALIVE given as 0x-prefixed, colon-separated hex over several arguments", async () => {
    const spaced = frame(4, "").match(/../g)!.join(":")
    const r = await starling(`0x${spaced.slice(0, 23)}`, spaced.slice(23, 40), spaced.slice(40))
    expect(r.status).toBe(0)
    expect(JSON.parse(r.stdout)).toEqual({ type: "KEEPALIVE" })
    expect(r.stderr).toBe("")
  })

  it("exit 0: an UPDATE as pretty JSON with readable prefixes and attributes", async () => {
    const hex = hexOf({
      _tag: "Update",
      withdrawn: [p("10.9.0.0/16")],
      nlri: [p("10.1.0.0/16"), p("192.0.2.0/24")],
      attributes: {
        origin: 0,
        asPath: [{ type: 2, asns: [65001, 4_200_000_001] }, { type: 1, asns: [1, 2] }],
        nextHop: 0xc0000201,
        med: 5,
        communities: [65000 * 65536 + 1],
        extendedCommunities: [{ hi: 0x0002fde9, lo: 100 }],
        largeCommunities: [{ global: 65001, local1: 1, local2: 2 }]
      }
    })
    const r = await starling(hex)
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/^\{\n {2}"type": "UPDATE"/) // pretty-printed, type first
    expect(JSON.parse(r.stdout)).toMatchObject({
      type: "UPDATE",
      withdrawn: ["10.9.0.0/16"],
      nlri: ["10.1.0.0/16", "192.0.2.0/24"],
      attributes: {
        origin: "IGP",
        asPath: "65001 4200000001 {1 2}",
        nextHop: "192.0.2.1",
        med: 5,
        communities: ["65000:1"],
        extendedCommunities: ["rt:65001:100"],
        largeCommunities: ["65001:1:2"]
      }
    })
  })

  it("exit 0 with a note: an UPDATE repaired by RFC 7606 treat-as-withdraw", async () => {
    // ORIGIN 5 is undefined (RFC 7606 §7.1). AS_PATH 65001 (4-octet), NEXT_HOP 10.0.0.1, NLRI 10.1.0.0/16.
    const r = await starling(update("40010105 40020602010000fde9 4003040a000001", "100a01"))
    expect(r.status).toBe(0)
    const out = JSON.parse(r.stdout)
    expect(out).toMatchObject({ type: "UPDATE", withdrawn: ["10.1.0.0/16"], nlri: [], attributes: {} })
    expect(out.rfc7606).toMatchObject({ outcome: "treat-as-withdraw" })
    expect(out.rfc7606.errors).toEqual([
      expect.objectContaining({ code: 3, subcode: 6, subcodeName: "Invalid ORIGIN Attribute", action: "TreatAsWithdraw", attribute: "ORIGIN", data: "40010105" })
    ])
    expect(r.stderr).toMatch(/treat-as-withdraw/)
  })

  it("exit 1: a bad marker prints the NOTIFICATION it calls for", async () => {
    const r = await starling(`fe${frame(4, "").slice(2)}`)
    expect(r.status).toBe(1)
    const out = JSON.parse(r.stdout)
    expect(out.notification).toMatchObject({
      code: 1,
      codeName: "Message Header Error",
      subcode: 1,
      subcodeName: "Connection Not Synchronized",
      data: "",
      action: "SessionReset"
    })
    expect(out.notification.detail).toMatch(/marker/)
    // The NOTIFICATION message itself: header (21 octets), code 1, subcode 1.
    expect(out.notificationMessage).toBe(`${"ff".repeat(16)}0015030101`)
    expect(r.stderr).toMatch(/session would be reset/)
  })

  it("exit 2: invalid hex is a usage error", async () => {
    const r = await starling("ffzz")
    expect(r.status).toBe(2)
    expect(r.stdout).toBe("")
    expect(r.stderr).toMatch(/^starling decode: .*not valid hex.*\n\nusage: starling decode/)
  })

  it("exit 0: --help", async () => {
    const r = await starling("--help")
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/^usage: starling decode/)
  })

  it("--no-as4 reads 2-octet AS numbers and merges AS4_PATH (RFC 6793 §4.2.3)", async () => {
    const hex = hexOf(
      { _tag: "Update", withdrawn: [], nlri: [p("10.0.0.0/8")], attributes: { origin: 0, asPath: [{ type: 2, asns: [65001, 4_200_000_001] }], nextHop: 1 } },
      makeContext({ as4: false })
    )
    const [ok, wrong] = await Promise.all([starling("--no-as4", hex), starling(hex)])
    expect(ok.status).toBe(0)
    expect(JSON.parse(ok.stdout).attributes.asPath).toBe("65001 4200000001")
    // Read with 4-octet AS numbers the same AS_PATH does not parse: RFC 7606 treat-as-withdraw.
    expect(wrong.status).toBe(0)
    expect(JSON.parse(wrong.stdout).rfc7606.outcome).toBe("treat-as-withdraw")
  })

  it("--add-path shows the path identifiers of the named families", async () => {
    const ctx = makeContext({ addPath: new Set([familyKey(Afi.IPV4, Safi.UNICAST), familyKey(Afi.IPV6, Safi.UNICAST)]) })
    const hex = hexOf({
      _tag: "Update",
      withdrawn: [],
      nlri: [p("10.2.0.0/16", 1), p("10.2.0.0/16", 2)],
      attributes: { origin: 0, asPath: [], nextHop: 1 },
      mpUnreach: { afi: 2, safi: 1, withdrawn: [p("2001:db8::/32", 7)] }
    }, ctx)
    const runs = await Promise.all([starling("--add-path", "ipv4,ipv6", hex), starling("--add-path=ipv4,ipv6", hex)])
    for (const r of runs) {
      expect(r.status).toBe(0)
      const out = JSON.parse(r.stdout)
      expect(out.nlri).toEqual([{ prefix: "10.2.0.0/16", pathId: 1 }, { prefix: "10.2.0.0/16", pathId: 2 }])
      expect(out.mpUnreach).toMatchObject({ family: "ipv6-unicast", withdrawn: [{ prefix: "2001:db8::/32", pathId: 7 }] })
    }
  })

  it("--extended accepts an RFC 8654 message longer than 4096 octets; without it the length is an error", async () => {
    const nlri = Array.from({ length: 1100 }, (_, i) => p(`11.${i >> 8}.${i & 255}.0/24`))
    const hex = hexOf({ _tag: "Update", withdrawn: [], nlri, attributes: { origin: 0, asPath: [], nextHop: 1 } }, makeContext({ extendedMessage: true }))
    expect(hex.length / 2).toBeGreaterThan(4096)
    const [ok, bad] = await Promise.all([starling("--extended", hex), starling(hex)])
    expect(ok.status).toBe(0)
    expect(JSON.parse(ok.stdout).nlri).toHaveLength(1100)
    expect(bad.status).toBe(1)
    expect(JSON.parse(bad.stdout).notification).toMatchObject({
      code: 1,
      subcode: 2,
      subcodeName: "Bad Message Length",
      data: (hex.length / 2).toString(16).padStart(4, "0")
    })
  })
})
