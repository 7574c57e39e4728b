/**
 * Golden vectors from ExaBGP (BSD-3-Clause; fixtures/exabgp, see fixtures/PROVENANCE.md): the wire
 * bytes ExaBGP sent in its functional tests (`N:raw:` of qa/encoding and qa/api) and the messages of
 * qa/decoding, each decoded by our codec and compared field by field with ExaBGP's own JSON decode,
 * with the configuration command that produced it, or with hand-checked expectations. Families this
 * codec does not decode (flowspec, VPN, EVPN, BGP-LS, MUP, SR policy, labeled, VPLS, MVPN) must still
 * decode, keep their NLRI as raw bytes, and re-encode.
 */
import { Result } from "effect"
import { assert, describe, expect, it } from "@effect/vitest"
import { readdirSync } from "node:fs"
import type { CodecContext, Message, Update } from "../src/index.ts"
import {
  decodeMessage,
  encodeMessage,
  endOfRib,
  familyKey,
  makeContext,
  shutdownMessage
} from "../src/index.ts"
import { checkCommand } from "./support/exabgp-cmd.ts"
import type { CiVector, DecodingVector } from "./support/exabgp.ts"
import { compareOpen, compareUpdate, inScopeFamily, parseCi, parseDecoding } from "./support/exabgp.ts"
import { bytesEqual, toHex } from "./support/hex.ts"
import { hasEncoderLayout } from "./support/layout.ts"
import { fixturePath, readText } from "./support/paths.ts"

// ---------------------------------------------------------------------------------------------------
// Which context each vector was sent under. ExaBGP's .conf files are not part of the vectors; the file
// names and commands tell: `path-information` files run ADD-PATH for IPv4/IPv6 unicast, conf-no-asn4
// turns the 4-octet AS capability off; everything else is a modern 4-octet-AS session.

const ADD_PATH_FILES = new Set(["conf-addpath.ci", "conf-path-information.ci", "api-attributes-path.ci", "api-open.ci"])

const contextFor = (file: string): CodecContext =>
  makeContext({
    as4: file !== "conf-no-asn4.ci",
    addPath: ADD_PATH_FILES.has(file) ? new Set([familyKey(1, 1), familyKey(2, 1)]) : new Set()
  })

/**
 * Vectors our codec rejects, on purpose, where ExaBGP is lenient:
 * - conf-generic-attribute sends an unknown type (0x99) with the Optional bit clear, i.e. as a
 *   well-known attribute: RFC 4271 §6.3 makes that Unrecognized Well-known Attribute (3/2, data = the
 *   attribute), a session reset (RFC 7606 does not relax it).
 * - extended-nexthop.ci:6 announces IPv6 unicast with a 4-octet (IPv4) next hop in MP_REACH_NLRI. RFC
 *   2545 §3 allows only 16 or 32 octets for IPv6 (an IPv4 next hop must be IPv4-mapped, RFC 4798), so
 *   the attribute is malformed: RFC 7606 §7.11 → RFC 4760 §7, AFI/SAFI disable, or a reset with
 *   Optional Attribute Error (3/9, data = the attribute).
 */
const EXPECTED_ERRORS: Readonly<Record<string, { code: number; subcode: number; data: string; action: string }>> = {
  "conf-generic-attribute.ci:6": { code: 3, subcode: 2, data: "60990400000064", action: "SessionReset" },
  "conf-generic-attribute.ci:9": { code: 3, subcode: 2, data: "7099000400000064", action: "SessionReset" },
  "extended-nexthop.ci:6": { code: 3, subcode: 9, data: "800e1a00020104aaaaaaaa0080deadbeefdeadbeefdeadbeefdeadbeef", action: "AfiSafiDisable" }
}

/** Vectors that are not BGP messages and so cannot be fed to `decodeMessage`. */
const EXCLUDED: Readonly<Record<string, string>> = {
  "bgp-ls-1": "a bare BGP-LS NLRI (kind `nlri`), not a message; BGP-LS NLRI are out of scope"
}

// ---------------------------------------------------------------------------------------------------
// Loading

const ciVectors: CiVector[] = []
for (const dir of ["encoding", "api"]) {
  for (const file of readdirSync(fixturePath("exabgp", dir)).filter((f) => f.endsWith(".ci")).sort()) {
    ciVectors.push(...parseCi(file, readText(fixturePath("exabgp", dir, file))))
  }
}
const decodingVectors: DecodingVector[] = readdirSync(fixturePath("exabgp", "decoding"))
  .sort()
  .map((f) => parseDecoding(f, readText(fixturePath("exabgp", "decoding", f))))

/** What each vector was checked against; the last test asserts the totals, so none is dropped silently. */
const tally = new Map<string, number>()
const count = (category: string) => tally.set(category, (tally.get(category) ?? 0) + 1)

const decodeOk = (raw: Uint8Array, ctx: CodecContext, where: string): Message => {
  const r = decodeMessage(raw, ctx)
  if (Result.isFailure(r)) assert.fail(`${where}: ${r.failure.message}`)
  return r.success
}

const families = (u: Update): Array<readonly [number, number]> => [
  ...(u.mpReach === undefined ? [] : [[u.mpReach.afi, u.mpReach.safi] as const]),
  ...(u.mpUnreach === undefined ? [] : [[u.mpUnreach.afi, u.mpUnreach.safi] as const])
]

/**
 * decode → encode must give the same bytes when the input is laid out the way our encoder lays
 * messages out; otherwise (ExaBGP puts MP_REACH between attributes, sets Extended Length on short
 * MP_UNREACH, ...) encode → decode must give the same message back.
 */
const checkRoundTrip = (raw: Uint8Array, m: Message, ctx: CodecContext, where: string): void => {
  if (m._tag === "Update" && m.errors !== undefined) return
  const enc = encodeMessage(m, ctx)
  if (Result.isFailure(enc)) assert.fail(`${where}: re-encode failed: ${enc.failure.message}`)
  const canonical = m._tag !== "Update" ||
    hasEncoderLayout(raw.subarray(19), (afi, safi) => ctx.addPath.has(familyKey(afi, safi)), inScopeFamily)
  if (canonical && m._tag !== "Open") {
    expect(toHex(enc.success), `${where}: re-encoded bytes`).toBe(toHex(raw))
    count("re-encode: byte-identical")
  } else {
    const again = decodeMessage(enc.success, ctx)
    if (Result.isFailure(again)) assert.fail(`${where}: re-decode failed: ${again.failure.message}`)
    expect(again.success, `${where}: decode(encode(m))`).toEqual(m)
    count("re-encode: same message, different layout")
    if (m._tag === "Update" && bytesEqual(enc.success, raw)) count("re-encode: (of which byte-identical anyway)")
  }
}

const isMessage = (b: Uint8Array): boolean => b.length >= 19 && b.subarray(0, 16).every((x) => x === 0xff)

const withUpdateHeader = (body: Uint8Array): Uint8Array => {
  const out = new Uint8Array(19 + body.length).fill(0xff, 0, 16)
  out[16] = (19 + body.length) >> 8
  out[17] = (19 + body.length) & 0xff
  out[18] = 2
  out.set(body, 19)
  return out
}

const scopeOf = (u: Update): string =>
  families(u).every(([a, s]) => inScopeFamily(a, s)) ? "in-scope families" : "out-of-scope families (raw NLRI)"

// ---------------------------------------------------------------------------------------------------

describe("ExaBGP qa/decoding vectors", () => {
  for (const v of decodingVectors) {
    const excluded = EXCLUDED[v.file]
    if (excluded !== undefined) {
      it(`${v.file} is excluded: ${excluded}`, () => {
        // The vector is still what we say it is: not a message (no marker).
        expect(v.kind).toBe("nlri")
        expect(toHex(v.raw.subarray(0, 16))).not.toBe("ff".repeat(16))
        count(`excluded`)
      })
      continue
    }
    it(`${v.file} (${v.kind} ${v.family})`, () => {
      const ctx = contextFor(v.file)
      // Some UPDATE vectors are the body alone (ExaBGP's decoder takes both): add the header.
      const raw = isMessage(v.raw) ? v.raw : withUpdateHeader(v.raw)
      if (raw !== v.raw) count("decoding: (of which body-only, header added)")
      const m = decodeOk(raw, ctx, v.file)
      if (v.kind === "open") {
        assert(m._tag === "Open")
        expect(compareOpen(m, v.json.neighbor.open!)).toEqual([])
        count("decoding: OPEN vs JSON")
      } else {
        assert(m._tag === "Update")
        assert(m.errors === undefined, `${v.file}: RFC 7606 repairs: ${m.errors?.map((e) => e.message).join("; ")}`)
        const c = compareUpdate(m, v.json.neighbor.message!.update!, ctx)
        expect(c.mismatches).toEqual([])
        count(`decoding: UPDATE vs JSON, ${scopeOf(m)}`)
      }
      checkRoundTrip(raw, m, ctx, v.file)
    })
  }
})

describe("ExaBGP qa/encoding and qa/api raw vectors", () => {
  for (const v of ciVectors) {
    const where = `${v.file}:${v.line}`
    it(where, () => {
      const ctx = contextFor(v.file)
      const expected = EXPECTED_ERRORS[where]
      if (expected !== undefined) {
        const r = decodeMessage(v.raw, ctx)
        assert(Result.isFailure(r), `${where} should be rejected`)
        expect({ code: r.failure.code, subcode: r.failure.subcode, data: toHex(r.failure.data), action: r.failure.action })
          .toEqual(expected)
        count("rejected per RFC (ExaBGP accepts)")
        return
      }
      const m = decodeOk(v.raw, ctx, where)
      switch (m._tag) {
        case "Update": {
          assert(m.errors === undefined, `${where}: RFC 7606 repairs: ${m.errors?.map((e) => e.message).join("; ")}`)
          if (v.json !== undefined) {
            const c = compareUpdate(m, v.json.neighbor.message!.update!, ctx)
            expect(c.mismatches, where).toEqual([])
            count(`UPDATE vs JSON, ${scopeOf(m)}`)
          } else if (v.cmd !== undefined && checkCommandCounted(v.cmd, m, where)) {
            // counted inside
          } else {
            // No JSON and no usable command (replays of earlier routes in api-reload/teardown/...):
            // it must decode, be a plain IPv4 unicast announcement or End-of-RIB, and round-trip.
            assert(m.nlri.length > 0 || m.withdrawn.length > 0 || endOfRib(m) !== undefined, `${where}: no routes, no End-of-RIB`)
            count("UPDATE decode-only (no JSON, no command)")
          }
          break
        }
        case "Open":
          checkOpen(where, m)
          break
        case "Notification":
          checkNotification(where, m)
          break
        case "RouteRefresh":
          checkRouteRefresh(where, m)
          break
        case "Keepalive":
          assert.fail(`${where}: no KEEPALIVE vectors expected`)
      }
      checkRoundTrip(v.raw, m, ctx, where)
    })
  }
})

const checkCommandCounted = (cmd: string, m: Update, where: string): boolean => {
  const c = checkCommand(cmd, m)
  if (c.kind === "unsupported") {
    // Out-of-scope families announced by command (flow, sr-policy): the NLRI must be raw bytes.
    assert(families(m).some(([a, s]) => !inScopeFamily(a, s)), `${where}: command not understood: ${cmd}`)
    assert(m.mpReach?.rawNlri !== undefined && m.mpReach.rawNlri.length > 0, `${where}: raw NLRI kept`)
    count("UPDATE vs command, out-of-scope family (raw NLRI)")
    return true
  }
  expect(c.mismatches, where).toEqual([])
  count(c.kind === "eor" ? "End-of-RIB vs command" : "UPDATE vs command")
  return true
}

// Hand-checked expectations for the non-UPDATE raws (ExaBGP gives no JSON for them).

const checkOpen = (where: string, m: Extract<Message, { _tag: "Open" }>): void => {
  const codes = m.capabilities.map((c) => (c._tag === "Unknown" ? c.code : c._tag))
  expect({ version: m.version, myAs: m.myAs, holdTime: m.holdTime, bgpId: m.bgpId }).toEqual({
    version: 4,
    myAs: 65533,
    holdTime: 180,
    bgpId: 0x0a000002
  })
  const expected: Record<string, ReadonlyArray<string | number>> = {
    // MP IPv6 unicast, 4-octet AS, extended message, and code 77 (link-local next hop, unknown here)
    "conf-cap-link-local-nexthop.ci:3": ["Multiprotocol", "FourOctetAs", "ExtendedMessage", 77],
    // code 75: software version (draft-abraitis), unknown here
    "conf-cap-software-version.ci:3": ["Multiprotocol", "FourOctetAs", "ExtendedMessage", 75],
    "conf-hostname.ci:3": ["Multiprotocol", "FourOctetAs", "ExtendedMessage", "Fqdn"]
  }
  expect(codes, where).toEqual(expected[where])
  const fqdn = m.capabilities.find((c) => c._tag === "Fqdn")
  if (fqdn !== undefined) expect(fqdn).toEqual({ _tag: "Fqdn", hostname: "my-host-name", domain: "my-domain-name.com" })
  count("OPEN vs hand-checked values")
}

const checkNotification = (where: string, m: Extract<Message, { _tag: "Notification" }>): void => {
  if (where.startsWith("unknown-message.ci")) {
    // ExaBGP's reply to an unknown message type: Message Header Error, subcode 0 (not 1/3).
    expect({ code: m.code, subcode: m.subcode, text: new TextDecoder().decode(m.data) }).toEqual({
      code: 1,
      subcode: 0,
      text: "can not decode update message of type \"255\""
    })
  } else {
    // RFC 9003 Administrative Reset with a shutdown communication.
    expect({ code: m.code, subcode: m.subcode, message: shutdownMessage(m) }).toEqual({
      code: 6,
      subcode: 4,
      message: "Administrative Reset"
    })
  }
  count("NOTIFICATION vs hand-checked values")
}

const checkRouteRefresh = (where: string, m: Extract<Message, { _tag: "RouteRefresh" }>): void => {
  // api-rr: a plain refresh request; api-rr-rib: RFC 7313 BoRR (1) / EoRR (2) around each replay.
  const subtypes: Record<string, number> = {
    "api-rr.ci:10": 0,
    "api-rr-rib.ci:22": 1,
    "api-rr-rib.ci:31": 2,
    "api-rr-rib.ci:39": 1,
    "api-rr-rib.ci:51": 2
  }
  expect({ afi: m.afi, safi: m.safi, subtype: m.subtype }, where).toEqual({ afi: 1, safi: 1, subtype: subtypes[where] })
  count("ROUTE-REFRESH vs hand-checked values")
}

describe("the ExaBGP comparison notices a wrong decode", () => {
  // Mutate a correct decode one field at a time; each must show up as a mismatch, or the vectors above
  // would pass whatever the codec did.
  const pick = (file: string, line: number) => {
    const v = ciVectors.find((x) => x.file === file && x.line === line)!
    const ctx = contextFor(file)
    const m = decodeOk(v.raw, ctx, file)
    assert(m._tag === "Update")
    expect(compareUpdate(m, v.json!.neighbor.message!.update!, ctx).mismatches).toEqual([])
    return { u: m, exa: v.json!.neighbor.message!.update!, ctx }
  }
  const mutations: ReadonlyArray<readonly [string, string, number, (u: Update) => Update]> = [
    ["MED", "conf-generic-attribute.ci", 3, (u) => ({ ...u, attributes: { ...u.attributes, med: 101 } })],
    ["LOCAL_PREF dropped", "conf-generic-attribute.ci", 3, (u) => ({ ...u, attributes: { ...u.attributes, localPref: undefined! } })],
    ["NEXT_HOP", "conf-generic-attribute.ci", 3, (u) => ({ ...u, attributes: { ...u.attributes, nextHop: 1 } })],
    ["prefix length", "conf-generic-attribute.ci", 3, (u) => ({ ...u, nlri: u.nlri.map((p) => ({ ...p, length: 31 })) })],
    ["path identifier", "conf-path-information.ci", 3, (u) => ({ ...u, nlri: u.nlri.map((p) => ({ ...p, pathId: 9 })) })],
    ["large community", "conf-attributes.ci", 10, (u) => ({ ...u, attributes: { ...u.attributes, largeCommunities: [] } })],
    ["extended community", "conf-extended-attributes.ci", 3, (u) => ({ ...u, attributes: { ...u.attributes, extendedCommunities: [{ hi: 3, lo: 1 }] } })],
    ["AS_PATH", "conf-ebgp.ci", 4, (u) => ({ ...u, attributes: { ...u.attributes, asPath: [{ type: 1, asns: [65533] }] } })],
    ["extra unknown attribute", "conf-ebgp.ci", 4, (u) => ({ ...u, attributes: { ...u.attributes, unknown: [{ flags: 0xc0, type: 99, value: new Uint8Array(1) }] } })],
    ["withdrawal lost", "api-rr-rib.ci", 55, (u) => ({ ...u, withdrawn: [] })]
  ]
  for (const [what, file, line, mutate] of mutations) {
    it(what, () => {
      const { u, exa, ctx } = pick(file, line)
      expect(compareUpdate(mutate(u), exa, ctx).mismatches).not.toEqual([])
    })
  }
  it("out-of-scope family with decoded instead of raw NLRI", () => {
    const { u, exa, ctx } = pick("conf-vpn.ci", 3)
    assert(u.mpReach !== undefined)
    const { rawNlri: _, ...decoded } = u.mpReach
    expect(compareUpdate({ ...u, mpReach: decoded }, exa, ctx).mismatches).not.toEqual([])
  })
})

describe("ExaBGP coverage", () => {
  it("checked every vector, and says against what", () => {
    const summary = Object.fromEntries([...tally.entries()].sort())
    // Printed so a run shows the per-category counts.
    console.log("ExaBGP vectors by category:", summary)
    const vectors = [...tally.entries()].filter(([k]) => !k.startsWith("re-encode") && !k.includes("(of which")).reduce((n, [, v]) => n + v, 0)
    expect(vectors).toBe(ciVectors.length + decodingVectors.length)
    expect(summary).toMatchInlineSnapshot(`
      {
        "End-of-RIB vs command": 86,
        "NOTIFICATION vs hand-checked values": 3,
        "OPEN vs hand-checked values": 3,
        "ROUTE-REFRESH vs hand-checked values": 5,
        "UPDATE decode-only (no JSON, no command)": 17,
        "UPDATE vs JSON, in-scope families": 153,
        "UPDATE vs JSON, out-of-scope families (raw NLRI)": 90,
        "UPDATE vs command": 24,
        "UPDATE vs command, out-of-scope family (raw NLRI)": 7,
        "decoding: (of which body-only, header added)": 5,
        "decoding: OPEN vs JSON": 1,
        "decoding: UPDATE vs JSON, in-scope families": 2,
        "decoding: UPDATE vs JSON, out-of-scope families (raw NLRI)": 18,
        "excluded": 1,
        "re-encode: byte-identical": 249,
        "re-encode: same message, different layout": 160,
        "rejected per RFC (ExaBGP accepts)": 3,
      }
    `)
  })
})
