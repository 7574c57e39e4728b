/**
 * Checks a decoded UPDATE against the ExaBGP configuration command that produced it (`N:cmd:` lines),
 * for the vectors that have no `N:json:` line. Only the simple route syntax is understood: a prefix,
 * next-hop, origin, local-preference, med, as-path, community, large-community, atomic-aggregate,
 * aggregator and path-information; anything else on the line is ignored, never guessed.
 */
import type { Update } from "../../src/index.ts"
import { endOfRib, formatIpv4, formatIpv6, formatPrefix, parsePrefix } from "../../src/index.ts"
import { exaFamilies } from "./exabgp.ts"

export type CmdCheck =
  | { readonly kind: "eor"; readonly mismatches: string[] }
  | { readonly kind: "route"; readonly mismatches: string[]; readonly fields: number }
  | { readonly kind: "unsupported" }

const bracket = (tokens: string[], i: number): [string[], number] => {
  if (tokens[i] !== "[") return [[tokens[i]!], i + 1]
  const out: string[] = []
  let k = i + 1
  while (k < tokens.length && tokens[k] !== "]") out.push(tokens[k++]!)
  return [out, k + 1]
}

export const checkCommand = (cmd: string, u: Update): CmdCheck => {
  const tokens = cmd.replace(/\[/g, " [ ").replace(/\]/g, " ] ").trim().split(/\s+/)
  const mismatches: string[] = []
  if (tokens[0] === "announce" && tokens[1] === "eor") {
    const fam = exaFamilies[`${tokens[2]} ${tokens[3]}`]
    const got = endOfRib(u)
    if (fam === undefined || got === undefined || got.afi !== fam[0] || got.safi !== fam[1]) {
      mismatches.push(`End-of-RIB ${tokens[2]} ${tokens[3]}: ours ${JSON.stringify(got)}`)
    }
    return { kind: "eor", mismatches }
  }
  const verb = tokens[0]
  let i: number
  if (tokens[1] === "route") i = 2
  else if ((tokens[1] === "ipv4" || tokens[1] === "ipv6") && tokens[2] === "unicast") i = 3
  else return { kind: "unsupported" }
  const prefix = parsePrefix(tokens[i]!)
  if (prefix === undefined) return { kind: "unsupported" }
  let fields = 1
  const v4 = prefix.afi === 1
  const routes = verb === "withdraw"
    ? (v4 ? u.withdrawn : u.mpUnreach?.withdrawn ?? [])
    : (v4 ? (u.nlri.length > 0 ? u.nlri : u.mpReach?.nlri ?? []) : u.mpReach?.nlri ?? [])
  const want = formatPrefix(prefix)
  if (!routes.some((p) => formatPrefix(p) === want)) mismatches.push(`${verb} ${want}: ours ${routes.map(formatPrefix).join(",") || "none"}`)
  const a = u.attributes
  for (let k = i + 1; k < tokens.length;) {
    const key = tokens[k]!
    const check = (name: string, ours: unknown, theirs: unknown) => {
      fields++
      if (JSON.stringify(ours) !== JSON.stringify(theirs)) mismatches.push(`${name}: command ${JSON.stringify(theirs)}, ours ${JSON.stringify(ours)}`)
    }
    if (key === "next-hop") {
      const nh = tokens[k + 1]!
      if (/^[0-9.]+$/.test(nh) && v4 && u.nlri.length > 0) check("next-hop", a.nextHop === undefined ? undefined : formatIpv4(a.nextHop), nh)
      else if (nh.includes(":") && u.mpReach !== undefined) {
        // RFC 2545 §3: a global address, optionally followed by a link-local one; ExaBGP may send either.
        const halves = [0, 16].filter((o) => u.mpReach!.nextHop.length >= o + 16).map((o) => formatIpv6(u.mpReach!.nextHop, o))
        const canon = formatIpv6(nhBytes(nh))
        fields++
        if (!halves.includes(canon)) mismatches.push(`next-hop: command ${nh}, ours ${halves.join(" ")}`)
      }
      k += 2
    } else if (key === "origin") {
      check("origin", a.origin, ["igp", "egp", "incomplete"].indexOf(tokens[k + 1]!))
      k += 2
    } else if (key === "local-preference") {
      check("local-preference", a.localPref, Number(tokens[k + 1]))
      k += 2
    } else if (key === "med") {
      check("med", a.med, Number(tokens[k + 1]))
      k += 2
    } else if (key === "as-path") {
      const [asns, next] = bracket(tokens, k + 1)
      check("as-path", (a.asPath ?? []).flatMap((s) => s.asns), asns.map(Number))
      k = next
    } else if (key === "community") {
      const [cs, next] = bracket(tokens, k + 1)
      check("community", a.communities, cs.map((c) => {
        const [hi, lo] = c.split(":").map(Number)
        return ((hi! << 16) | lo!) >>> 0
      }))
      k = next
    } else if (key === "large-community") {
      const [cs, next] = bracket(tokens, k + 1)
      check("large-community", a.largeCommunities, cs.map((c) => {
        const [global, local1, local2] = c.split(":").map(Number)
        return { global, local1, local2 }
      }))
      k = next
    } else if (key === "atomic-aggregate") {
      check("atomic-aggregate", a.atomicAggregate, true)
      k += 1
    } else if (key === "aggregator") {
      const [asn, ip] = tokens[k + 1]!.replace(/[()]/g, "").split(":")
      check("aggregator", a.aggregator === undefined ? undefined : `${a.aggregator.asn}:${formatIpv4(a.aggregator.address)}`, `${asn}:${ip}`)
      k += 2
    } else if (key === "path-information") {
      const p = routes.find((r) => formatPrefix(r) === want)
      check("path-information", p === undefined ? undefined : formatIpv4(p.pathId), tokens[k + 1])
      k += 2
    } else if (key === "extended-community") k = bracket(tokens, k + 1)[1]
    else k += 1
  }
  return { kind: "route", mismatches, fields }
}

const nhBytes = (s: string): Uint8Array => {
  const p = parsePrefix(`${s}/128`)
  if (p === undefined) throw new Error(`bad IPv6 next hop ${s}`)
  const out = new Uint8Array(16)
  const dv = new DataView(out.buffer)
  ;[p.w0, p.w1, p.w2, p.w3].forEach((w, i) => dv.setUint32(i * 4, w))
  return out
}
