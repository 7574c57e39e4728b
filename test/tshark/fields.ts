/**
 * Both sides of the judgement as flat `key → value` maps, so a disagreement reads as one line
 * ("attr.4.med: expected 100, tshark 101"):
 *
 * - `expectedFields(case)` derives the fields from the message as we meant it (the `Message` value and
 *   the RFCs), without the codec's encoder or formatters: lengths are counted from the RFC layouts,
 *   addresses are printed here, RFC 6793 AS_TRANS/AS4_PATH substitution is spelled out here.
 * - `tsharkFields(json)` reads the same keys out of tshark's JSON dissection of what we encoded.
 *
 * Prefix lists are compared as sorted multisets (tshark keys them by text, so their order is not
 * reliable once a prefix repeats). Attribute order is checked separately (`update.attrs.order`).
 */
import type { Case } from "./corpus.ts"
import type { JsonObject } from "./tshark.ts"
import { list, objects, rawEntries, raws, str, strings } from "./tshark.ts"
import type { Capability, Message, PathAttributes, Prefix } from "@starling/codec"

export type Fields = Map<string, string>

// ---------------------------------------------------------------------------------------------------
// Shared formatting (test-local on purpose: the judge must not reuse the codec's printers)

const dotted = (n: number): string => `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`
/** RFC 5952 text of an IPv6 address, via the WHATWG URL host serializer (independent of the codec and tshark). */
const canon6 = (s: string): string => new URL(`http://[${s}]/`).hostname.slice(1, -1)
const words6 = (w: ReadonlyArray<number>): string =>
  canon6(w.map((x) => `${((x >>> 16) & 0xffff).toString(16)}:${(x & 0xffff).toString(16)}`).join(":"))
const bytes6 = (b: Uint8Array, at: number): string => {
  const g: string[] = []
  for (let i = 0; i < 16; i += 2) g.push(((b[at + i]! << 8) | b[at + i + 1]!).toString(16))
  return canon6(g.join(":"))
}
const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex")
const utf8Length = (s: string): number => Buffer.byteLength(s, "utf8")
const sortedList = (xs: ReadonlyArray<string>): string => [...xs].sort().join(" ")

/** A prefix as `addr/len`, with `#pathId` when the family carries path identifiers. */
const prefixText = (p: Prefix, withPathId: boolean): string =>
  `${p.afi === 1 ? dotted(p.w0) : words6([p.w0, p.w1, p.w2, p.w3])}/${p.length}${withPathId ? `#${p.pathId}` : ""}`

const prefixOctets = (p: Prefix, withPathId: boolean): number => (withPathId ? 5 : 1) + Math.ceil(p.length / 8)

// ---------------------------------------------------------------------------------------------------
// Expected side

/** RFC 4271 §5 / RFC 4760 / RFC 4360 / RFC 6793 / RFC 8092 / RFC 9234: the Optional and Transitive bits. */
const RFC_FLAGS: Readonly<Record<number, number>> = {
  1: 0x40, 2: 0x40, 3: 0x40, 4: 0x80, 5: 0x40, 6: 0x40, 7: 0xc0, 8: 0xc0, 9: 0x80, 10: 0x80,
  14: 0x80, 15: 0x80, 16: 0xc0, 17: 0xc0, 18: 0xc0, 32: 0xc0, 35: 0xc0
}
const AS_TRANS = 23456

interface AttrExpect {
  readonly type: number
  readonly flags: number
  readonly length: number
  readonly values: ReadonlyArray<readonly [string, string]>
}

/** RFC 4271 §4.3: the Extended Length bit is needed exactly when the value exceeds 255 octets. */
const attr = (type: number, flags: number, length: number, values: ReadonlyArray<readonly [string, string]> = []): AttrExpect => ({
  type,
  flags: length > 255 ? flags | 0x10 : flags,
  length,
  values
})

const segmentsText = (segs: ReadonlyArray<{ readonly type: number; readonly asns: ReadonlyArray<number> }>): string =>
  segs.map((s) => `${s.type}:[${s.asns.join(" ")}]`).join(" ")

const expectedAttributes = (c: Case, a: PathAttributes): AttrExpect[] => {
  const as4 = c.ctx.as4
  const asSize = as4 ? 4 : 2
  const out: AttrExpect[] = []
  if (a.origin !== undefined) out.push(attr(1, RFC_FLAGS[1]!, 1, [["origin", String(a.origin)]]))
  if (a.asPath !== undefined) {
    // RFC 6793 §4.2.2: toward an OLD speaker, AS numbers that need 4 octets become AS_TRANS.
    const segs = a.asPath.map((s) => ({ type: s.type, asns: s.asns.map((x) => (!as4 && x > 0xffff ? AS_TRANS : x)) }))
    const len = segs.reduce((n, s) => n + 2 + s.asns.length * asSize, 0)
    out.push(attr(2, RFC_FLAGS[2]!, len, [["segments", segmentsText(segs)]]))
  }
  if (a.nextHop !== undefined) out.push(attr(3, RFC_FLAGS[3]!, 4, [["next_hop", dotted(a.nextHop)]]))
  if (a.med !== undefined) out.push(attr(4, RFC_FLAGS[4]!, 4, [["med", String(a.med)]]))
  if (a.localPref !== undefined) out.push(attr(5, RFC_FLAGS[5]!, 4, [["local_pref", String(a.localPref)]]))
  if (a.atomicAggregate === true) out.push(attr(6, RFC_FLAGS[6]!, 0))
  if (a.aggregator !== undefined) {
    const asn = !as4 && a.aggregator.asn > 0xffff ? AS_TRANS : a.aggregator.asn
    out.push(attr(7, RFC_FLAGS[7]!, as4 ? 8 : 6, [["aggregator", `${asn} ${dotted(a.aggregator.address)}`]]))
  }
  if (a.communities !== undefined && a.communities.length > 0) {
    const text = a.communities.map((x) => `${x >>> 16}:${x & 0xffff}`).join(" ")
    out.push(attr(8, RFC_FLAGS[8]!, 4 * a.communities.length, [["communities", text]]))
  }
  if (a.originatorId !== undefined) out.push(attr(9, RFC_FLAGS[9]!, 4, [["originator_id", dotted(a.originatorId)]]))
  if (a.clusterList !== undefined && a.clusterList.length > 0) {
    out.push(attr(10, RFC_FLAGS[10]!, 4 * a.clusterList.length, [["cluster_list", a.clusterList.map(dotted).join(" ")]]))
  }
  if (a.extendedCommunities !== undefined && a.extendedCommunities.length > 0) {
    const ecs = a.extendedCommunities
    const raw = ecs.map((e) => `${(e.hi >>> 0).toString(16).padStart(8, "0")}${(e.lo >>> 0).toString(16).padStart(8, "0")}`)
    out.push(attr(16, RFC_FLAGS[16]!, 8 * ecs.length, [["ext_communities", raw.join(" ")], ["ext_communities.decoded", ecs.map(decodeExtCommunity).join(" ")]]))
  }
  if (!as4 && a.asPath !== undefined && a.asPath.some((s) => s.asns.some((x) => x > 0xffff))) {
    // RFC 6793 §4.2.2: the real path in AS4_PATH, without confederation segments.
    const segs = a.asPath.filter((s) => s.type === 1 || s.type === 2)
    out.push(attr(17, RFC_FLAGS[17]!, segs.reduce((n, s) => n + 2 + 4 * s.asns.length, 0), [["segments", segmentsText(segs)]]))
  }
  if (!as4 && a.aggregator !== undefined && a.aggregator.asn > 0xffff) {
    out.push(attr(18, RFC_FLAGS[18]!, 8, [["aggregator", `${a.aggregator.asn} ${dotted(a.aggregator.address)}`]]))
  }
  if (a.largeCommunities !== undefined && a.largeCommunities.length > 0) {
    const text = a.largeCommunities.map((l) => `${l.global}:${l.local1}:${l.local2}`).join(" ")
    out.push(attr(32, RFC_FLAGS[32]!, 12 * a.largeCommunities.length, [["large_communities", text]]))
  }
  if (a.otc !== undefined) out.push(attr(35, RFC_FLAGS[35]!, 4, [["otc", String(a.otc)]]))
  for (const u of a.unknown ?? []) out.push(attr(u.type, u.flags, u.value.length, [["value", hex(u.value)]]))
  return out
}

/** The part of an extended community tshark decodes for the types in the corpus (RFC 4360 §3.1, §3.2). */
const decodeExtCommunity = (e: { readonly hi: number; readonly lo: number }): string => {
  const type = e.hi >>> 24
  const sub = (e.hi >>> 16) & 0xff
  const t = `${type}/${sub}`
  if (type === 0x00) return `${t}=${e.hi & 0xffff}:${e.lo >>> 0}`
  if (type === 0x01) return `${t}=${dotted(((e.hi & 0xffff) << 16 | (e.lo >>> 16)) >>> 0)}:${e.lo & 0xffff}`
  return t
}

const familyHasPathId = (c: Case, afi: number, safi: number): boolean => c.ctx.addPath.has((afi << 8) | safi)

const capValueLength = (cap: Capability): number => {
  switch (cap._tag) {
    case "Multiprotocol":
    case "FourOctetAs":
      return 4
    case "RouteRefresh":
    case "ExtendedMessage":
    case "EnhancedRouteRefresh":
      return 0
    case "ExtendedNextHop":
      return 6 * cap.entries.length
    case "Role":
      return 1
    case "GracefulRestart":
      return 2 + 4 * cap.families.length
    case "AddPath":
      return 4 * cap.families.length
    case "LongLivedGracefulRestart":
      return 7 * cap.families.length
    case "Fqdn":
      return 2 + utf8Length(cap.hostname) + utf8Length(cap.domain)
    case "Unknown":
      return cap.value.length
  }
}

const CAP_CODES: Readonly<Record<Exclude<Capability["_tag"], "Unknown">, number>> = {
  Multiprotocol: 1, RouteRefresh: 2, ExtendedNextHop: 5, ExtendedMessage: 6, Role: 9, GracefulRestart: 64,
  FourOctetAs: 65, AddPath: 69, EnhancedRouteRefresh: 70, LongLivedGracefulRestart: 71, Fqdn: 73
}

const capFields = (f: Fields, k: string, cap: Capability): void => {
  f.set(`${k}.type`, String(cap._tag === "Unknown" ? cap.code : CAP_CODES[cap._tag]))
  f.set(`${k}.length`, String(capValueLength(cap)))
  switch (cap._tag) {
    case "Multiprotocol":
      f.set(`${k}.family`, `${cap.afi}/${cap.safi}`)
      break
    case "ExtendedNextHop":
      f.set(`${k}.entries`, cap.entries.map((e) => `${e.afi}/${e.safi}/${e.nextHopAfi}`).join(" "))
      break
    case "Role":
      f.set(`${k}.role`, String(cap.role))
      break
    case "GracefulRestart":
      f.set(`${k}.flags`, `R=${cap.restarting ? 1 : 0} N=${cap.notification ? 1 : 0}`)
      f.set(`${k}.restart_time`, String(cap.restartTime))
      f.set(`${k}.families`, cap.families.map((x) => `${x.afi}/${x.safi}/F=${x.forwarding ? 1 : 0}`).join(" "))
      break
    case "FourOctetAs":
      f.set(`${k}.asn`, String(cap.asn))
      break
    case "AddPath":
      f.set(`${k}.families`, cap.families.map((x) => `${x.afi}/${x.safi}/${x.mode}`).join(" "))
      break
    case "LongLivedGracefulRestart":
      f.set(`${k}.families`, cap.families.map((x) => `${x.afi}/${x.safi}/F=${x.forwarding ? 1 : 0}/${x.staleTime}`).join(" "))
      break
    case "Fqdn":
      f.set(`${k}.hostname`, `${utf8Length(cap.hostname)}:${cap.hostname}`)
      f.set(`${k}.domain`, `${utf8Length(cap.domain)}:${cap.domain}`)
      break
    case "Unknown":
      f.set(`${k}.value`, hex(cap.value))
      break
    default:
      break
  }
}

/** The fields tshark should show for a case, derived from the message as meant. */
export const expectedFields = (c: Case): Fields => {
  const f: Fields = new Map()
  const m: Message = c.message
  f.set("marker", "ff".repeat(16))
  switch (m._tag) {
    case "Open": {
      const capsLen = m.capabilities.reduce((n, cap) => n + 2 + capValueLength(cap), 0)
      // RFC 9072 §2: one octet 255, one octet type 255, two octets of length, then 3-octet parameter headers.
      const extended = c.options?.extendedParameters === true || capsLen + 2 > 255
      const optLen = m.capabilities.length === 0 ? 0 : extended ? 3 + 3 + capsLen : 2 + capsLen
      f.set("type", "1")
      f.set("length", String(29 + optLen))
      f.set("open.version", String(m.version))
      f.set("open.myas", String(m.myAs))
      f.set("open.holdtime", String(m.holdTime))
      f.set("open.identifier", dotted(m.bgpId))
      f.set("open.optlen", String(extended ? 255 : optLen))
      if (m.capabilities.length > 0) {
        if (extended) {
          f.set("open.ext.type", "255")
          f.set("open.ext.len", String(3 + capsLen))
        }
        f.set("open.params", "1")
        f.set("open.param.0.type", "2")
        f.set("open.param.0.len", String(capsLen))
        f.set("open.caps", String(m.capabilities.length))
        m.capabilities.forEach((cap, i) => capFields(f, `open.cap.${i}`, cap))
      }
      break
    }
    case "Update": {
      const v4Pid = familyHasPathId(c, 1, 1)
      const attrs = expectedAttributes(c, m.attributes)
      if (m.mpUnreach !== undefined) {
        const u = m.mpUnreach
        const pid = familyHasPathId(c, u.afi, u.safi)
        attrs.push(attr(15, RFC_FLAGS[15]!, 3 + u.withdrawn.reduce((n, p) => n + prefixOctets(p, pid), 0), [
          ["family", `${u.afi}/${u.safi}`],
          ["withdrawn", sortedList(u.withdrawn.map((p) => prefixText(p, pid)))]
        ]))
      }
      if (m.mpReach !== undefined) {
        const r = m.mpReach
        const pid = familyHasPathId(c, r.afi, r.safi)
        const nh = r.nextHop
        const nhText = nh.length === 4 ? dotted(new DataView(nh.buffer, nh.byteOffset).getUint32(0))
          : nh.length === 16 ? bytes6(nh, 0)
          : nh.length === 32 ? `${bytes6(nh, 0)} ${bytes6(nh, 16)}`
          : hex(nh)
        attrs.push(attr(14, RFC_FLAGS[14]!, 5 + nh.length + r.nlri.reduce((n, p) => n + prefixOctets(p, pid), 0), [
          ["family", `${r.afi}/${r.safi}`],
          ["next_hop", nhText],
          ["nlri", sortedList(r.nlri.map((p) => prefixText(p, pid)))]
        ]))
      }
      const wLen = m.withdrawn.reduce((n, p) => n + prefixOctets(p, v4Pid), 0)
      const aLen = attrs.reduce((n, a) => n + (a.length > 255 ? 4 : 3) + a.length, 0)
      const nLen = m.nlri.reduce((n, p) => n + prefixOctets(p, v4Pid), 0)
      f.set("type", "2")
      f.set("length", String(23 + wLen + aLen + nLen))
      f.set("update.withdrawn.length", String(wLen))
      f.set("update.withdrawn", sortedList(m.withdrawn.map((p) => prefixText(p, v4Pid))))
      f.set("update.attrs.length", String(aLen))
      f.set("update.attrs.types", attrs.map((a) => a.type).sort((x, y) => x - y).join(" "))
      f.set("update.attrs.order", "rfc")
      for (const a of attrs) {
        f.set(`attr.${a.type}.flags`, `0x${a.flags.toString(16).padStart(2, "0")}`)
        f.set(`attr.${a.type}.length`, String(a.length))
        for (const [k, v] of a.values) f.set(`attr.${a.type}.${k}`, v)
      }
      f.set("update.nlri", sortedList(m.nlri.map((p) => prefixText(p, v4Pid))))
      break
    }
    case "Notification": {
      f.set("type", "3")
      f.set("length", String(21 + m.data.length))
      f.set("notify.code", String(m.code))
      f.set("notify.subcode", String(m.subcode))
      const shutdown = m.code === 6 && (m.subcode === 2 || m.subcode === 4) && m.data.length > 0 && m.data[0] === m.data.length - 1
      if (shutdown) {
        // RFC 9003 §2: length octet, then UTF-8.
        f.set("notify.shutdown", `${m.data[0]}:${new TextDecoder("utf-8", { fatal: true }).decode(m.data.subarray(1))}`)
      } else if (m.data.length > 0) f.set("notify.data", hex(m.data))
      break
    }
    case "Keepalive":
      f.set("type", "4")
      f.set("length", "19")
      break
    case "RouteRefresh":
      f.set("type", "5")
      f.set("length", "23")
      f.set("rr.family", `${m.afi}/${m.safi}`)
      f.set("rr.subtype", String(m.subtype))
      break
  }
  return f
}

// ---------------------------------------------------------------------------------------------------
// tshark side

const P = "bgp.update.path_attribute."
const noColons = (s: string | undefined): string => (s ?? "").replaceAll(":", "")

/** Prefixes of one tshark prefix list (`bgp.update.nlri`, `…mp_reach_nlri`, …): objects keyed by text. */
const tsharkPrefixes = (v: unknown): string => {
  if (typeof v !== "object" || v === null) return ""
  const out: string[] = []
  for (const [key, entry] of Object.entries(v as JsonObject)) {
    if (key.endsWith("_raw")) continue
    for (const e of list(entry)) {
      if (typeof e !== "object" || Array.isArray(e)) continue
      const o = e as JsonObject
      const addrKey = Object.keys(o).find((k) => k.endsWith("prefix") && !k.endsWith("_raw") && k !== "bgp.prefix_length")
      const addr = addrKey === undefined ? "?" : str(o, addrKey) ?? "?"
      const pid = str(o, "bgp.nlri_path_id")
      out.push(`${addr.includes(":") ? canon6(addr) : addr}/${str(o, "bgp.prefix_length") ?? "?"}${pid === undefined ? "" : `#${pid}`}`)
    }
  }
  return sortedList(out)
}

/** RFC 4271 §5 ordering plus RFC 7606 §5.1 (MP_REACH/MP_UNREACH first): "rfc", or the order seen. */
const orderVerdict = (types: ReadonlyArray<number>): string => {
  const isMp = (t: number) => t === 14 || t === 15
  const firstOther = types.findIndex((t) => !isMp(t))
  const mpAfter = firstOther >= 0 && types.slice(firstOther).some(isMp)
  const rest = types.filter((t) => !isMp(t))
  const ascending = rest.every((t, i) => i === 0 || rest[i - 1]! < t)
  return !mpAfter && ascending ? "rfc" : types.join(" ")
}

const u32hex = (h: string): number => Number.parseInt(h, 16) >>> 0

/**
 * Fields judged from raw bytes because tshark 4.0.17 does not dissect them: it delimits the value
 * (type, length) and shows the bytes, and we read them per the RFC layout. Recorded so the test can
 * print them; every entry is `<key>: <why>`.
 */
export const rawFallbacks = new Set<string>()

const tsharkCapability = (f: Fields, k: string, cap: JsonObject): void => {
  const type = str(cap, "bgp.cap.type") ?? "?"
  f.set(`${k}.type`, type)
  f.set(`${k}.length`, str(cap, "bgp.cap.length") ?? "?")
  const unknown = noColons(str(cap, "bgp.cap.unknown"))
  switch (type) {
    case "1":
      f.set(`${k}.family`, `${str(cap, "bgp.cap.mp.afi")}/${str(cap, "bgp.cap.mp.safi")}`)
      break
    case "5": {
      const afi = strings(cap, "bgp.cap.enh.afi")
      const safi = strings(cap, "bgp.cap.enh.safi")
      const nh = strings(cap, "bgp.cap.enh.nhafi")
      f.set(`${k}.entries`, afi.map((a, i) => `${a}/${safi[i]}/${nh[i]}`).join(" "))
      break
    }
    case "9":
      // tshark 4.0.17 shows the RFC 9234 Role capability as "Unknown" bytes: one octet, the role.
      rawFallbacks.add("capability 9 (Role, RFC 9234 §4.1)")
      f.set(`${k}.role`, unknown.length === 2 ? String(Number.parseInt(unknown, 16)) : `raw:${unknown}`)
      break
    case "64": {
      const tree = objects(cap, "bgp.cap.gr.timers_tree")[0]
      f.set(`${k}.flags`, `R=${str(tree, "bgp.cap.gr.timers.restart_flag")} N=${str(tree, "bgp.cap.gr.timers.notification_flag")}`)
      f.set(`${k}.restart_time`, str(tree, "bgp.cap.gr.timers.restart_time") ?? "?")
      const afi = strings(cap, "bgp.cap.gr.afi")
      const safi = strings(cap, "bgp.cap.gr.safi")
      const pfs = objects(cap, "bgp.cap.gr.flag_tree").map((t) => str(t, "bgp.cap.gr.flag.pfs"))
      f.set(`${k}.families`, afi.map((a, i) => `${a}/${safi[i]}/F=${pfs[i]}`).join(" "))
      break
    }
    case "65":
      f.set(`${k}.asn`, str(cap, "bgp.cap.4as") ?? "?")
      break
    case "69": {
      const afi = strings(cap, "bgp.cap.ap.afi")
      const safi = strings(cap, "bgp.cap.ap.safi")
      const mode = strings(cap, "bgp.cap.ap.sendreceive")
      f.set(`${k}.families`, afi.map((a, i) => `${a}/${safi[i]}/${mode[i]}`).join(" "))
      break
    }
    case "71": {
      // tshark 4.0.17 shows the LLGR capability (RFC 9494 §3) as "Unknown" bytes: 7 octets per family,
      // AFI(2) SAFI(1) flags(1, F = 0x80) long-lived stale time(3).
      rawFallbacks.add("capability 71 (Long-Lived Graceful Restart, RFC 9494 §3)")
      const fams: string[] = []
      for (let i = 0; i + 14 <= unknown.length; i += 14) {
        const h = (a: number, b: number) => Number.parseInt(unknown.slice(i + a, i + b), 16)
        fams.push(`${h(0, 4)}/${h(4, 6)}/F=${(h(6, 8) & 0x80) !== 0 ? 1 : 0}/${h(8, 14)}`)
      }
      f.set(`${k}.families`, unknown.length % 14 === 0 ? fams.join(" ") : `raw:${unknown}`)
      break
    }
    case "73":
      f.set(`${k}.hostname`, `${str(cap, "bgp.cap.orf.fqdn.hostname.len")}:${str(cap, "bgp.cap.orf.fqdn.hostname") ?? ""}`)
      f.set(`${k}.domain`, `${str(cap, "bgp.cap.orf.fqdn.domain_name.len")}:${str(cap, "bgp.cap.orf.fqdn.domain_name") ?? ""}`)
      break
    case "2":
    case "6":
    case "70":
      break
    default:
      f.set(`${k}.value`, unknown)
  }
}

const tsharkAttribute = (f: Fields, a: JsonObject, asnLen: 2 | 4): number => {
  const type = Number(str(a, `${P}type_code`))
  const k = `attr.${type}`
  f.set(`${k}.flags`, str(a, `${P}flags`) ?? "?")
  f.set(`${k}.length`, str(a, `${P}length`) ?? "?")
  const asField = `${P}as_path_segment.as${type === 17 ? 4 : asnLen}`
  switch (type) {
    case 1:
      f.set(`${k}.origin`, str(a, `${P}origin`) ?? "?")
      break
    case 2:
    case 17:
      f.set(
        `${k}.segments`,
        objects(a, `${P}as_path_segment`).map((s) => `${str(s, `${P}as_path_segment.type`)}:[${strings(s, asField).join(" ")}]`).join(" ")
      )
      break
    case 3:
      f.set(`${k}.next_hop`, str(a, `${P}next_hop`) ?? "?")
      break
    case 4:
      f.set(`${k}.med`, str(a, `${P}multi_exit_disc`) ?? "?")
      break
    case 5:
      f.set(`${k}.local_pref`, str(a, `${P}local_pref`) ?? "?")
      break
    case 7:
    case 18:
      f.set(`${k}.aggregator`, `${str(a, `${P}aggregator_as`)} ${str(a, `${P}aggregator_origin`)}`)
      break
    case 8: {
      // Well-known communities (RFC 1997 NO_EXPORT, RFC 7999 BLACKHOLE, …) are listed under another key
      // as one hex number each; the raw offsets put both lists back in wire order.
      const entries: Array<{ at: number; text: string }> = []
      for (const cs of objects(a, `${P}communities`)) {
        const regular = objects(cs, `${P}community`)
        rawEntries(cs, `${P}community`).forEach(([, at], i) => {
          entries.push({ at, text: `${str(regular[i], `${P}community_as`)}:${str(regular[i], `${P}community_value`)}` })
        })
        const known = strings(cs, `${P}community_wellknown`)
        rawEntries(cs, `${P}community_wellknown`).forEach(([, at], i) => {
          const v = Number(known[i]) >>> 0
          entries.push({ at, text: `${v >>> 16}:${v & 0xffff}` })
        })
      }
      f.set(`${k}.communities`, entries.sort((x, y) => x.at - y.at).map((e) => e.text).join(" "))
      break
    }
    case 9:
      f.set(`${k}.originator_id`, str(a, `${P}originator_id`) ?? "?")
      break
    case 10:
      f.set(`${k}.cluster_list`, objects(a, "bgp.path_attribute.cluster_list").flatMap((x) => strings(x, "bgp.path_attribute.cluster_id")).join(" "))
      break
    case 14: {
      f.set(`${k}.family`, `${str(a, `${P}mp_reach_nlri.afi`)}/${str(a, `${P}mp_reach_nlri.safi`)}`)
      const nh = objects(a, `${P}mp_reach_nlri.next_hop_tree`)[0]
      const v4 = str(nh, `${P}mp_reach_nlri.next_hop.ipv4`)
      const g = str(nh, `${P}mp_reach_nlri.next_hop.ipv6`)
      const ll = str(nh, `${P}mp_reach_nlri.next_hop.ipv6.link_local`)
      f.set(`${k}.next_hop`, v4 ?? [g, ll].filter((x) => x !== undefined).map((x) => canon6(x!)).join(" "))
      f.set(`${k}.nlri`, tsharkPrefixes(a[`${P}mp_reach_nlri`]))
      break
    }
    case 15:
      f.set(`${k}.family`, `${str(a, `${P}mp_unreach_nlri.afi`)}/${str(a, `${P}mp_unreach_nlri.safi`)}`)
      f.set(`${k}.withdrawn`, tsharkPrefixes(a[`${P}mp_unreach_nlri`]))
      break
    case 16: {
      const ecs = objects(a, "bgp.ext_communities")
      f.set(`${k}.ext_communities`, ecs.flatMap((x) => raws(x, "bgp.ext_community")).join(" "))
      f.set(`${k}.ext_communities.decoded`, ecs.flatMap((x) => objects(x, "bgp.ext_community")).map((e) => {
        const t = `${Number(str(e, "bgp.ext_com.type"))}/${Number(Object.entries(e).find(([n]) => n.startsWith("bgp.ext_com.stype") && !n.endsWith("_raw"))?.[1])}`
        const vals = Object.entries(e).filter(([n, v]) => n.startsWith("bgp.ext_com.value_") && !n.endsWith("_raw") && typeof v === "string").map(([, v]) => v)
        return vals.length === 0 ? t : `${t}=${vals.join(":")}`
      }).join(" "))
      break
    }
    case 32: {
      const ls = objects(a, "bgp.large_communities_tree")
      f.set(`${k}.large_communities`, ls.map((l) => `${str(l, "bgp.large_communities.ga")}:${str(l, "bgp.large_communities.ldp1")}:${str(l, "bgp.large_communities.ldp2")}`).join(" "))
      break
    }
    case 35: {
      // tshark 4.0.17 has no OTC dissector (RFC 9234 §5): it shows the attribute as unknown; the value is
      // one 4-octet AS number.
      rawFallbacks.add("attribute 35 (OTC, RFC 9234 §5)")
      const v = raws(a, "bgp.update.path_attributes.unknown")[0] ?? ""
      f.set(`${k}.otc`, v.length === 8 ? String(u32hex(v)) : `raw:${v}`)
      break
    }
    case 6:
      break
    default:
      f.set(`${k}.value`, raws(a, "bgp.update.path_attributes.unknown")[0] ?? "?")
  }
  return type
}

/** The fields tshark shows for one BGP message. */
export const tsharkFields = (m: JsonObject, asnLen: 2 | 4): Fields => {
  const f: Fields = new Map()
  f.set("marker", noColons(str(m, "bgp.marker")))
  const type = str(m, "bgp.type")
  if (type !== undefined) f.set("type", type)
  f.set("length", str(m, "bgp.length") ?? "?")
  switch (type) {
    case "1": {
      f.set("open.version", str(m, "bgp.open.version") ?? "?")
      f.set("open.myas", str(m, "bgp.open.myas") ?? "?")
      f.set("open.holdtime", str(m, "bgp.open.holdtime") ?? "?")
      f.set("open.identifier", str(m, "bgp.open.identifier") ?? "?")
      f.set("open.optlen", str(m, "bgp.open.opt.len") ?? "?")
      let params = objects(m, "bgp.open.opt").flatMap((o) => objects(o, "bgp.open.opt.param"))
      // RFC 9072: tshark shows the Non-Ext OP Type 255 as a parameter of its own.
      if (str(m, "bgp.open.opt.len") === "255" && str(params[0], "bgp.open.opt.param.type") === "255") {
        f.set("open.ext.type", "255")
        f.set("open.ext.len", "?") // tshark 4.0.17 reads no 2-octet length here
        params = params.slice(1)
      }
      if (params.length > 0) {
        f.set("open.params", String(params.length))
        const caps: JsonObject[] = []
        params.forEach((p, i) => {
          f.set(`open.param.${i}.type`, str(p, "bgp.open.opt.param.type") ?? "?")
          f.set(`open.param.${i}.len`, str(p, "bgp.open.opt.param.len") ?? "?")
          caps.push(...objects(p, "bgp.cap"))
        })
        if (caps.length > 0) f.set("open.caps", String(caps.length))
        caps.forEach((cap, i) => tsharkCapability(f, `open.cap.${i}`, cap))
      }
      break
    }
    case "2": {
      f.set("update.withdrawn.length", str(m, "bgp.update.withdrawn_routes.length") ?? "?")
      f.set("update.withdrawn", tsharkPrefixes(m["bgp.update.withdrawn_routes"]))
      f.set("update.attrs.length", str(m, "bgp.update.path_attributes.length") ?? "?")
      const types = objects(m, "bgp.update.path_attributes")
        .flatMap((x) => objects(x, "bgp.update.path_attribute"))
        .map((a) => tsharkAttribute(f, a, asnLen))
      f.set("update.attrs.types", [...types].sort((x, y) => x - y).join(" "))
      f.set("update.attrs.order", orderVerdict(types))
      f.set("update.nlri", tsharkPrefixes(m["bgp.update.nlri"]))
      break
    }
    case "3": {
      f.set("notify.code", str(m, "bgp.notify.major_error") ?? "?")
      // The subcode field is named after tshark's idea of the error code (code 7 is "Capability Message"
      // in tshark 4.0.17, from the dynamic-capability draft; RFC 7313 assigned it to ROUTE-REFRESH).
      const sub = Object.entries(m).find(([k]) => k.startsWith("bgp.notify.minor_error") && !k.endsWith("_raw"))
      f.set("notify.subcode", typeof sub?.[1] === "string" ? sub[1] : "?")
      const text = str(m, "bgp.notify.communication")
      if (text !== undefined) f.set("notify.shutdown", `${str(m, "bgp.notify.communication_length")}:${text}`)
      const data = str(m, "bgp.notify.minor_data")
      // OPEN error / Unsupported Capability (RFC 5492 §5): tshark dissects the data as capabilities.
      const capData = raws(m, "bgp.cap").join("")
      if (data !== undefined) f.set("notify.data", noColons(data))
      else if (capData !== "") f.set("notify.data", capData)
      break
    }
    case "5":
      f.set("rr.family", `${str(m, "bgp.route_refresh.afi")}/${str(m, "bgp.route_refresh.safi")}`)
      f.set("rr.subtype", str(m, "bgp.route_refresh.subtype") ?? "?")
      break
    default:
      break
  }
  return f
}

// ---------------------------------------------------------------------------------------------------
// Comparison

export interface Exclusion {
  /** The case the exclusion applies to (exact name). */
  readonly caseName: string
  /** Keys not compared for that case. */
  readonly keys: RegExp
  /** Why, naming the tshark version. */
  readonly reason: string
}

export interface Mismatch {
  readonly key: string
  readonly expected: string | undefined
  readonly tshark: string | undefined
}

/** Every key on which the two sides disagree (missing on one side counts), minus the excluded keys. */
export const compareFields = (expected: Fields, actual: Fields, exclude?: RegExp): Mismatch[] => {
  const keys = new Set([...expected.keys(), ...actual.keys()])
  const out: Mismatch[] = []
  for (const key of keys) {
    if (exclude?.test(key) === true) continue
    const e = expected.get(key)
    const a = actual.get(key)
    if (e !== a) out.push({ key, expected: e, tshark: a })
  }
  return out
}

const clip = (v: string | undefined): string => {
  const s = JSON.stringify(v) ?? "undefined"
  return s.length > 160 ? `${s.slice(0, 157)}...` : s
}

export const formatMismatches = (name: string, ms: ReadonlyArray<Mismatch>): string =>
  ms.map((m) => `${name}: ${m.key}: expected ${clip(m.expected)}, tshark ${clip(m.tshark)}`).join("\n")
