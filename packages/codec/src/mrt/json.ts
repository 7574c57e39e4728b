/**
 * One JSON object per route (RIB entry), per announced or withdrawn prefix, and per state change: the
 * machine-readable sibling of the bgpdump text. Addresses and prefixes are strings (RFC 5952 for IPv6);
 * the attribute part is serialised once per record and shared by its lines.
 */
import type { PathAttributes } from "../attributes.ts"
import type { BgpError } from "../errors.ts"
import type { Prefix } from "../prefix.ts"
import { formatIpv4, formatIpv6, formatPrefix } from "../prefix.ts"
import { bgpStateName, isExtendedTimestampType, MrtType } from "./constants.ts"
import { bgpdumpAsPath } from "./bgpdump.ts"
import type { Bgp4mpMessage, MrtHeader, MrtRecord, RibNextHop } from "./records.ts"

const ORIGINS = ["IGP", "EGP", "INCOMPLETE"] as const

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex")

/** A next hop as text: IPv4, IPv6, or "global,link-local" for a 32-octet IPv6 next hop. */
export const nextHopText = (b: Uint8Array): string =>
  b.length === 4 ? formatIpv4(((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0)
  : b.length === 16 ? formatIpv6(b)
  : b.length === 32 ? `${formatIpv6(b)},${formatIpv6(b, 16)}`
  : hex(b)

/** The attribute members of a route object (no braces), ready to splice in. */
export const attributesJson = (
  a: PathAttributes,
  mpNextHop: Uint8Array | undefined,
  errors: ReadonlyArray<BgpError> | undefined
): string => {
  const o: Record<string, unknown> = {}
  if (a.origin !== undefined) o["origin"] = ORIGINS[a.origin]
  if (a.asPath !== undefined) o["as_path"] = bgpdumpAsPath(a.asPath)
  if (mpNextHop !== undefined) o["next_hop"] = nextHopText(mpNextHop)
  else if (a.nextHop !== undefined) o["next_hop"] = formatIpv4(a.nextHop)
  if (a.med !== undefined) o["med"] = a.med
  if (a.localPref !== undefined) o["local_pref"] = a.localPref
  if (a.atomicAggregate === true) o["atomic_aggregate"] = true
  if (a.aggregator !== undefined) o["aggregator"] = { asn: a.aggregator.asn, address: formatIpv4(a.aggregator.address) }
  if (a.communities !== undefined) o["communities"] = a.communities.map((c) => `${c >>> 16}:${c & 0xffff}`)
  if (a.extendedCommunities !== undefined) {
    o["extended_communities"] = a.extendedCommunities.map((c) => `${c.hi.toString(16).padStart(8, "0")}${c.lo.toString(16).padStart(8, "0")}`)
  }
  if (a.largeCommunities !== undefined) o["large_communities"] = a.largeCommunities.map((c) => `${c.global}:${c.local1}:${c.local2}`)
  if (a.originatorId !== undefined) o["originator_id"] = formatIpv4(a.originatorId)
  if (a.clusterList !== undefined) o["cluster_list"] = a.clusterList.map(formatIpv4)
  if (a.otc !== undefined) o["only_to_customer"] = a.otc
  if (a.unknown !== undefined) o["unknown"] = a.unknown.map((u) => ({ type: u.type, flags: u.flags, value: hex(u.value) }))
  if (errors !== undefined) o["errors"] = errors.map((e) => e.message)
  const s = JSON.stringify(o)
  return s.length > 2 ? `,${s.slice(1, -1)}` : ""
}

const timeJson = (h: MrtHeader): string =>
  isExtendedTimestampType(h.type) ? `"time":${h.timestamp},"usec":${h.microseconds}` : `"time":${h.timestamp}`

const prefixJson = (p: Prefix, addPath: boolean): string =>
  addPath ? `"prefix":"${formatPrefix(p)}","path_id":${p.pathId}` : `"prefix":"${formatPrefix(p)}"`

const ribNextHopBytes = (mp: RibNextHop | undefined): Uint8Array | undefined => mp?.nextHop

const MRT_NAMES: Readonly<Record<number, string>> = {
  [MrtType.BGP]: "BGP",
  [MrtType.TABLE_DUMP]: "TABLE_DUMP",
  [MrtType.TABLE_DUMP_V2]: "TABLE_DUMP_V2",
  [MrtType.BGP4MP]: "BGP4MP",
  [MrtType.BGP4MP_ET]: "BGP4MP_ET"
}

const messageJson = (r: Bgp4mpMessage, mrt: string): string => {
  const m = r.message
  const peer = `"peer":"${r.peerAddress}","peer_as":${r.peerAs}${r.local ? `,"direction":"sent"` : ""}`
  if (m === undefined) {
    return `{${mrt},"type":"error",${peer},"error":${JSON.stringify(r.error?.message ?? "undecodable message")}}\n`
  }
  if (m._tag !== "Update") return ""
  const addPath = r.addPath
  let s = ""
  for (const p of m.withdrawn) s += `{${mrt},"type":"withdraw",${peer},${prefixJson(p, addPath)}}\n`
  if (m.mpUnreach !== undefined) for (const p of m.mpUnreach.withdrawn) s += `{${mrt},"type":"withdraw",${peer},${prefixJson(p, addPath)}}\n`
  const mpNlri = m.mpReach?.nlri ?? []
  if (m.nlri.length > 0) {
    const attrs = attributesJson(m.attributes, undefined, m.errors)
    for (const p of m.nlri) s += `{${mrt},"type":"announce",${peer},${prefixJson(p, addPath)}${attrs}}\n`
  }
  if (mpNlri.length > 0) {
    const attrs = attributesJson(m.attributes, m.mpReach!.nextHop, m.errors)
    for (const p of mpNlri) s += `{${mrt},"type":"announce",${peer},${prefixJson(p, addPath)}${attrs}}\n`
  }
  return s
}

/** The JSON lines of one record ("" when it has no route, update or state change), each ending in "\n". */
export const jsonLines = (r: MrtRecord): string => {
  const mrt = `"mrt":"${MRT_NAMES[r.header.type] ?? r.header.type}",${timeJson(r.header)}`
  switch (r._tag) {
    case "TableDump": {
      const attrs = attributesJson(r.attributes, ribNextHopBytes(r.mpReach), r.errors)
      return `{${mrt},"type":"rib","peer":"${r.peerAddress}","peer_as":${r.peerAs},${prefixJson(r.prefix, false)},"originated":${r.originatedTime}${attrs}}\n`
    }
    case "Rib": {
      const prefix = r.prefix === undefined ? `"nlri":"${hex(r.nlri)}","afi":${r.afi},"safi":${r.safi}` : `"prefix":"${formatPrefix(r.prefix)}"`
      let s = ""
      for (const e of r.entries) {
        const attrs = attributesJson(e.attributes, ribNextHopBytes(e.mpReach), e.errors)
        const peer = e.peer === undefined ? `"peer_index":${e.peerIndex}` : `"peer":"${e.peer.address}","peer_as":${e.peer.asn}`
        const pathId = e.pathId === undefined ? "" : `,"path_id":${e.pathId}`
        s += `{${mrt},"type":"rib",${peer},${prefix}${pathId},"originated":${e.originatedTime}${attrs}}\n`
      }
      return s
    }
    case "Bgp4mpStateChange":
      return `{${mrt},"type":"state","peer":"${r.peerAddress}","peer_as":${r.peerAs},"old_state":"${bgpStateName(r.oldState)}","new_state":"${
        bgpStateName(r.newState)
      }"}\n`
    case "Bgp4mpMessage":
      return messageJson(r, mrt)
    default:
      return ""
  }
}
