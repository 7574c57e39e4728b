/**
 * Route tables for the benchmarks, encoded once before anything is timed.
 *
 * Prefixes are synthetic so a sink can count them with a bitset: route n is the n-th /24 from 1.0.0.0
 * (1 M routes end at 16.66.63.0/24). Attributes come in two mixes:
 *
 * - shared: every route has the same attribute set (ORIGIN IGP, a 3-AS AS_PATH, NEXT_HOP 192.0.2.1,
 *   LOCAL_PREF 100), so ~1 000 prefixes pack into each 4 KiB UPDATE: the cheapest case for everyone,
 *   which isolates per-route RIB and export work;
 * - realistic: the attribute sets of a real table. Route n takes the attributes of route n mod T of the
 *   full table peer 193.203.0.1 held in the RIPE RIS rrc00 dump of 2002-07-22 (bgpdump's
 *   test_data/bview.20020722.2337.gz: 112 986 routes in 20 013 attribute sets, AS paths with AS_SETs,
 *   AGGREGATOR, ATOMIC_AGGREGATE, MED and COMMUNITIES as recorded), with NEXT_HOP 192.0.2.1 and
 *   LOCAL_PREF 100 as an iBGP border router would send them. Beyond T routes, copy c of the table gets
 *   AS 64512+c prepended (the same table via another upstream), so sets stay distinct and the packing
 *   (about 5.6 routes per set) holds at every size. Real 2024 tables pack tighter, 2.5–3 routes per set.
 *
 * The generator's UPDATEs group routes by attribute set (as a real router's Adj-RIB-Out would), so the
 * DUT receives and re-packs the same structure it would see from a border router.
 */
import { existsSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { readMrt } from "@starling/codec/mrt/index"
import { type Attrs, buildAnnouncements, buildWithdrawals, concat, encodeAttrs, parseIpv4, PrefixSpace, type Segment } from "./wire.ts"

export type Mix = "shared" | "realistic"

export const S1_BASE = parseIpv4("1.0.0.0")
export const NEXT_HOP = parseIpv4("192.0.2.1")

const repoRoot = fileURLToPath(new URL("../..", import.meta.url))
/** bgpdump's RIS test data (RIPE NCC permissive licence), read from ../shared/data beside the repo. */
export const RIS_BVIEW = join(repoRoot, "../shared/data/bgpdump/test_data/bview.20020722.2337.gz")
const RIS_PEER = "193.203.0.1"

export const s1Space = (routes: number): PrefixSpace => new PrefixSpace(S1_BASE, 24, routes)

export interface EncodedTable {
  readonly mix: Mix
  readonly routes: number
  readonly space: PrefixSpace
  /** All announcements back to back. */
  readonly bytes: Uint8Array
  readonly messages: number
  readonly attributeSets: number
  /** For each route, its attribute set number (for re-announcing a subset with the same attributes). */
  readonly setOf: Uint32Array
  /** The encoded attribute blocks, by set number. */
  readonly attrBlocks: ReadonlyArray<Uint8Array>
}

interface RealRoute {
  readonly set: number
}

let realCache: { sets: Attrs[]; routes: RealRoute[] } | undefined

/** The real table: attribute sets (in order of first use) and each route's set. */
export const loadRealTable = async (file = RIS_BVIEW): Promise<{ sets: Attrs[]; routes: RealRoute[] }> => {
  if (realCache !== undefined) return realCache
  if (!existsSync(file)) throw new Error(`realistic mix needs ${file} (the shared RIS data beside the repository)`)
  const sets: Attrs[] = []
  const index = new Map<string, number>()
  const routes: RealRoute[] = []
  for await (const r of readMrt(file)) {
    if (r._tag !== "TableDump" || r.peerAddress !== RIS_PEER) continue
    const a = r.attributes
    const attrs: Attrs = {
      origin: a.origin ?? 0,
      asPath: (a.asPath ?? []).map((s): Segment => ({ type: s.type, asns: [...s.asns] })),
      nextHop: NEXT_HOP,
      localPref: 100,
      ...(a.med === undefined ? {} : { med: a.med }),
      ...(a.atomicAggregate === true ? { atomicAggregate: true } : {}),
      ...(a.aggregator === undefined ? {} : { aggregator: { asn: a.aggregator.asn, address: a.aggregator.address } }),
      ...(a.communities === undefined ? {} : { communities: [...a.communities] })
    }
    const key = JSON.stringify(attrs)
    let set = index.get(key)
    if (set === undefined) {
      set = sets.length
      index.set(key, set)
      sets.push(attrs)
    }
    routes.push({ set })
  }
  realCache = { sets, routes }
  return realCache
}

const sharedAttrs: Attrs = {
  origin: 0,
  asPath: [{ type: 2, asns: [64496, 64497, 64498] }],
  nextHop: NEXT_HOP,
  localPref: 100
}

/** Builds the table's UPDATEs (grouped by attribute set) before any run. */
export const encodeTable = async (mix: Mix, routes: number): Promise<EncodedTable> => {
  const space = s1Space(routes)
  const setOf = new Uint32Array(routes)
  const attrBlocks: Uint8Array[] = []
  if (mix === "shared") {
    attrBlocks.push(encodeAttrs(sharedAttrs))
  } else {
    const real = await loadRealTable()
    const t = real.routes.length
    const copies = Math.ceil(routes / t)
    for (let c = 0; c < copies; c++) {
      for (const a of real.sets) {
        attrBlocks.push(encodeAttrs(c === 0 ? a : { ...a, asPath: [{ type: 2, asns: [64512 + c] }, ...a.asPath] }))
      }
    }
    for (let n = 0; n < routes; n++) setOf[n] = Math.floor(n / t) * real.sets.length + real.routes[n % t]!.set
  }
  // Group the routes of each set, keeping the order of first appearance.
  const members = new Map<number, number[]>()
  for (let n = 0; n < routes; n++) {
    const s = setOf[n]!
    let l = members.get(s)
    if (l === undefined) members.set(s, (l = []))
    l.push(space.addr(n))
  }
  const parts: Uint8Array[] = []
  let messages = 0
  for (const [s, addrs] of members) {
    const u = buildAnnouncements(attrBlocks[s]!, addrs, 24)
    parts.push(u.bytes)
    messages += u.messages
  }
  return { mix, routes, space, bytes: concat(parts), messages, attributeSets: members.size, setOf, attrBlocks }
}

/** Announcements of a subset of the table's routes (indexes), with their own attributes. */
export const encodeSubset = (t: EncodedTable, indexes: ArrayLike<number>): { bytes: Uint8Array; messages: number } => {
  const members = new Map<number, number[]>()
  for (let k = 0; k < indexes.length; k++) {
    const n = indexes[k]!
    const s = t.setOf[n]!
    let l = members.get(s)
    if (l === undefined) members.set(s, (l = []))
    l.push(t.space.addr(n))
  }
  const parts: Uint8Array[] = []
  let messages = 0
  for (const [s, addrs] of members) {
    const u = buildAnnouncements(t.attrBlocks[s]!, addrs, 24)
    parts.push(u.bytes)
    messages += u.messages
  }
  return { bytes: concat(parts), messages }
}

/** Withdrawals of a subset of the table's routes. */
export const encodeWithdrawSubset = (t: EncodedTable, indexes: ArrayLike<number>): { bytes: Uint8Array; messages: number } => {
  const addrs = new Uint32Array(indexes.length)
  for (let k = 0; k < indexes.length; k++) addrs[k] = t.space.addr(indexes[k]!)
  return buildWithdrawals(addrs, 24)
}

// -------------------------------------------------------------------------------------------------
// Calico-shaped (S2): node j announces its k pod blocks (/26 from 10.0.0.0), next hop its node address.

export const CALICO_BASE = parseIpv4("10.0.0.0")
export const calicoSpace = (nodes: number, perNode: number): PrefixSpace => new PrefixSpace(CALICO_BASE, 26, nodes * perNode)

/** Node j's announcement: ORIGIN IGP, empty AS_PATH, NEXT_HOP 100.64.x.y (its node IP), LOCAL_PREF 100. */
export const calicoNodeUpdate = (space: PrefixSpace, node: number, perNode: number): Uint8Array => {
  const addrs: number[] = []
  for (let k = 0; k < perNode; k++) addrs.push(space.addr(node * perNode + k))
  const attrs = encodeAttrs({ origin: 0, asPath: [], nextHop: (parseIpv4("100.64.0.0") + node + 1) >>> 0, localPref: 100 })
  return buildAnnouncements(attrs, addrs, 26).bytes
}
