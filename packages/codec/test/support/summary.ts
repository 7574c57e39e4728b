/**
 * One-line summaries of decoded messages, in the words tshark's dissector uses, so a test can list what
 * a capture holds and compare it with `tshark -V` at a glance.
 */
import { Result } from "effect"
import type { BgpError, Message } from "../../src/index.ts"
import { formatIpv4, formatPrefix, shutdownMessage } from "../../src/index.ts"
import { toHex } from "./hex.ts"

const origins = ["IGP", "EGP", "INCOMPLETE"]
const segments: Record<number, string> = { 1: "set", 2: "seq", 3: "confed-seq", 4: "confed-set" }

export const summarize = (m: Message): string => {
  switch (m._tag) {
    case "Open": {
      const caps = m.capabilities.map((c) => {
        switch (c._tag) {
          case "Multiprotocol":
            return `MP ${c.afi}/${c.safi}`
          case "FourOctetAs":
            return `AS4 ${c.asn}`
          case "AddPath":
            return `ADD-PATH ${c.families.map((f) => `${f.afi}/${f.safi}:${f.mode}`).join(",")}`
          case "GracefulRestart":
            return `GR ${c.restartTime}s ${c.families.map((f) => `${f.afi}/${f.safi}`).join(",")}`
          case "ExtendedNextHop":
            return `ENH ${c.entries.map((e) => `${e.afi}/${e.safi}>${e.nextHopAfi}`).join(",")}`
          case "Unknown":
            return `cap ${c.code}${c.value.length > 0 ? `=${toHex(c.value)}` : ""}`
          default:
            return c._tag
        }
      })
      return `OPEN v${m.version} AS ${m.myAs} hold ${m.holdTime} id ${formatIpv4(m.bgpId)} [${caps.join("; ")}]`
    }
    case "Update": {
      const a = m.attributes
      const parts: string[] = []
      if (m.withdrawn.length > 0) parts.push(`withdraw ${m.withdrawn.map(formatPrefix).join(" ")}`)
      if (a.origin !== undefined) parts.push(`origin ${origins[a.origin]}`)
      if (a.asPath !== undefined) parts.push(`path ${a.asPath.map((s) => `${segments[s.type]}(${s.asns.join(" ")})`).join(" ") || "empty"}`)
      if (a.nextHop !== undefined) parts.push(`nh ${formatIpv4(a.nextHop)}`)
      if (a.med !== undefined) parts.push(`med ${a.med}`)
      if (a.localPref !== undefined) parts.push(`lp ${a.localPref}`)
      if (a.atomicAggregate === true) parts.push("atomic")
      if (a.aggregator !== undefined) parts.push(`aggregator ${a.aggregator.asn}:${formatIpv4(a.aggregator.address)}`)
      if (a.communities !== undefined) parts.push(`comm ${a.communities.map((c) => `${c >>> 16}:${c & 0xffff}`).join(" ")}`)
      if (a.originatorId !== undefined) parts.push(`originator ${formatIpv4(a.originatorId)}`)
      if (a.clusterList !== undefined) parts.push(`cluster ${a.clusterList.map(formatIpv4).join(" ")}`)
      if (a.extendedCommunities !== undefined) {
        parts.push(`ext ${a.extendedCommunities.map((c) => `${c.hi.toString(16).padStart(8, "0")}${c.lo.toString(16).padStart(8, "0")}`).join(" ")}`)
      }
      if (a.largeCommunities !== undefined) parts.push(`large ${a.largeCommunities.map((c) => `${c.global}:${c.local1}:${c.local2}`).join(" ")}`)
      if (a.unknown !== undefined) parts.push(`unknown ${a.unknown.map((x) => x.type).join(" ")}`)
      if (m.mpUnreach !== undefined) {
        const r = m.mpUnreach
        parts.push(`mp-unreach ${r.afi}/${r.safi} ${r.rawWithdrawn !== undefined ? `raw ${r.rawWithdrawn.length}B` : r.withdrawn.map(formatPrefix).join(" ") || "EoR"}`)
      }
      if (m.mpReach !== undefined) {
        const r = m.mpReach
        parts.push(`mp-reach ${r.afi}/${r.safi} nh ${toHex(r.nextHop)} ${r.rawNlri !== undefined ? `raw ${r.rawNlri.length}B` : r.nlri.map(formatPrefix).join(" ")}`)
      }
      if (m.nlri.length > 0) parts.push(`nlri ${m.nlri.map((p) => formatPrefix(p) + (p.pathId !== 0 ? `#${p.pathId}` : "")).join(" ")}`)
      if (m.errors !== undefined) parts.push(`rfc7606 ${m.errors.map((e) => `${e.code}/${e.subcode} ${e.action}`).join(", ")}`)
      return `UPDATE ${parts.join("; ") || "empty (End-of-RIB)"}`
    }
    case "Notification": {
      const text = shutdownMessage(m)
      return `NOTIFICATION ${m.code}/${m.subcode}${text !== undefined ? ` "${text}"` : m.data.length > 0 ? ` data ${toHex(m.data)}` : ""}`
    }
    case "Keepalive":
      return "KEEPALIVE"
    case "RouteRefresh":
      return `ROUTE-REFRESH ${m.afi}/${m.safi} subtype ${m.subtype}`
  }
}

export const summarizeResult = (r: Result.Result<Message, BgpError>): string =>
  Result.isSuccess(r) ? summarize(r.success) : `ERROR ${r.failure.code}/${r.failure.subcode} ${r.failure.reason} data ${toHex(r.failure.data)}`
