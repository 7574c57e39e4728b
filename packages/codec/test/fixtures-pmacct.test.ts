/**
 * pmacct's BGP test captures (MIT, Swisscom; fixtures/pmacct) from IOS XR routers, against pmacct's own
 * decode of the same captures (output-bgp-00.json: one record per route). The routes are VPNv4/VPNv6
 * (SAFI 128), which this codec leaves raw; a small test-side NLRI walk (support/vpn.ts) names them, and
 * every path attribute pmacct reports — AS path, communities, extended and large communities, ORIGIN,
 * LOCAL_PREF, MED — must match what the codec decoded for the UPDATE that carried the route, as must the
 * next hop (RFC 8950 IPv6 next hops for VPNv4 in test 300) and the label.
 */
import { Result } from "effect"
import { describe, expect, it } from "@effect/vitest"
import type { ExtendedCommunity, Update } from "../src/index.ts"
import { endOfRib, formatIpv4 } from "../src/index.ts"
import { decodeCapture } from "./support/capture.ts"
import { fixturePath, readBytes, readText } from "./support/paths.ts"
import { formatVpnNextHop, parseVpnNlri } from "./support/vpn.ts"

interface PmacctRecord {
  readonly log_type?: string
  readonly event_type: string
  readonly afi?: number
  readonly safi?: number
  readonly ip_prefix?: string
  readonly rd?: string
  readonly bgp_nexthop?: string
  readonly as_path?: ReadonlyArray<string> | string | null
  readonly comms?: ReadonlyArray<string> | string | null
  readonly ecomms?: ReadonlyArray<string> | string | null
  readonly lcomms?: ReadonlyArray<string> | string | null
  readonly origin?: string
  readonly local_pref?: number | null
  readonly med?: number | null
  readonly mpls_label?: string
}

/** pmacct's extended community text for the types these captures carry (RFC 4360 §4, RFC 5668). */
const formatExt = (c: ExtendedCommunity): string => {
  const type = c.hi >>> 24
  const sub = (c.hi >>> 16) & 0xff
  const name = sub === 2 ? "RT" : sub === 3 ? "SoO" : `sub${sub}`
  if (type === 0x00) return `${name}:${c.hi & 0xffff}:${c.lo >>> 0}`
  if (type === 0x01) return `${name}:${formatIpv4((((c.hi & 0xffff) << 16) | (c.lo >>> 16)) >>> 0)}:${c.lo & 0xffff}`
  if (type === 0x02) return `${name}:${(((c.hi & 0xffff) << 16) | (c.lo >>> 16)) >>> 0}:${c.lo & 0xffff}`
  return `type${type}:${c.hi.toString(16)}${c.lo.toString(16)}`
}

const list = (v: ReadonlyArray<string> | string | null | undefined): string =>
  v === null || v === undefined ? "" : typeof v === "string" ? v : v.join(" ")

/** pmacct prints community lists sorted (not in wire order); compare them as sets. */
const sorted = (text: string): string => text.split(" ").filter((x) => x !== "").sort().join(" ")

const origins = ["i", "e", "u"]

/** One pmacct-shaped record per route announced in the capture, in wire order. */
const ourRoutes = (file: string) => {
  const d = decodeCapture(readBytes(file))
  const routes: Array<Record<string, unknown>> = []
  let eor = 0
  for (const m of d.messages) {
    if (!Result.isSuccess(m.result) || m.result.success._tag !== "Update") continue
    const u: Update = m.result.success
    if (endOfRib(u) !== undefined) eor++
    const r = u.mpReach
    if (r === undefined || r.safi !== 128 || r.rawNlri === undefined) continue
    const a = u.attributes
    for (const v of parseVpnNlri(r.rawNlri, r.afi)) {
      routes.push({
        afi: r.afi,
        ip_prefix: v.prefix,
        rd: v.rd,
        bgp_nexthop: formatVpnNextHop(r.nextHop),
        as_path: (a.asPath ?? []).flatMap((s) => s.asns).join(" "),
        comms: sorted((a.communities ?? []).map((c) => `${c >>> 16}:${c & 0xffff}`).join(" ")),
        ecomms: sorted((a.extendedCommunities ?? []).map(formatExt).join(" ")),
        lcomms: sorted((a.largeCommunities ?? []).map((c) => `${c.global}:${c.local1}:${c.local2}`).join(" ")),
        origin: a.origin === undefined ? undefined : origins[a.origin],
        local_pref: a.localPref ?? null,
        med: a.med ?? null,
        mpls_label: String(v.label)
      })
    }
  }
  return { routes, eor, decodeErrors: d.messages.filter((m) => Result.isFailure(m.result)).length }
}

const theirRoutes = (file: string) => {
  const records = readText(file).trim().split("\n").map((l) => JSON.parse(l) as PmacctRecord)
  const routes = records
    .filter((r) => r.log_type === "update")
    .map((r) => ({
      afi: r.afi,
      ip_prefix: r.ip_prefix,
      rd: r.rd,
      bgp_nexthop: r.bgp_nexthop,
      as_path: list(r.as_path),
      comms: sorted(list(r.comms)),
      ecomms: sorted(list(r.ecomms)),
      lcomms: sorted(list(r.lcomms)),
      origin: r.origin,
      local_pref: r.local_pref ?? null,
      med: r.med ?? null,
      mpls_label: r.mpls_label
    }))
  return { routes, eor: records.filter((r) => r.log_type === "end-of-rib").length }
}

const cases: ReadonlyArray<readonly [string, number, number]> = [
  // [test directory, routes pmacct logged, End-of-RIB markers (VPNv4 and VPNv6)]
  ["300-BGP-IPv6-CISCO-extNH_enc", 163, 2],
  // The capture stops inside its last UPDATE; pmacct logged none of that one's routes either.
  ["301-BGP-CISCO-pretag", 38, 0],
  ["501-IPFIXv10-BGP-IPv6-CISCO-MPLS", 27, 2]
]

describe("pmacct captures vs pmacct's decode", () => {
  for (const [dir, routes, eor] of cases) {
    it(`${dir}: ${routes} routes`, () => {
      const ours = ourRoutes(fixturePath("pmacct", dir, "traffic-00.pcap"))
      const theirs = theirRoutes(fixturePath("pmacct", dir, "output-bgp-00.json"))
      expect(ours.decodeErrors).toBe(0)
      expect(theirs.routes).toHaveLength(routes)
      expect(ours.routes).toEqual(theirs.routes)
      expect([ours.eor, theirs.eor]).toEqual([eor, eor])
    })
  }
})
