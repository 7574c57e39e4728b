/**
 * Export with update groups. Peers that would receive the same bytes — same export policy, same
 * session type and encoding — share one group: the group runs export rules and policy once per changed
 * destination, keeps one Adj-RIB-Out, and encodes each UPDATE once for all members (members receive
 * references to the same buffers). UPDATEs pack every prefix that shares an attribute set; withdrawals
 * are batched; unchanged routes are not re-sent.
 *
 * Split horizon inside a group: a route whose best path came from a member is not sent back to that
 * member (and the member gets a withdrawal if it had the previous best).
 */
import type { CodecContext, Prefix } from "@starling/codec"
import { Afi, AttrFlag, buildAnnouncements, buildWithdrawals, encodeEndOfRib, familyKey, Safi } from "@starling/codec"
import type { AttrSet, Path, Policy, PrefixKey, Rib, RouteAttributes, RouteChange, Source } from "@starling/rib"
import { asPathContains, keyPrefix, prependAs } from "@starling/rib"
import { Result } from "effect"

const NO_EXPORT = 0xffffff01
const NO_ADVERTISE = 0xffffff02
const NO_EXPORT_SUBCONFED = 0xffffff03

/** Route reflection settings of a group (RFC 4456); the reflector package fills these in. */
export interface ReflectionSpec {
  /** Members are route-reflector clients. */
  readonly client: boolean
  readonly clusterId: number
  readonly routerId: number
  /** Is `path` (from an iBGP peer) reflected to members of this group? */
  readonly reflects: (path: Path) => boolean
}

export interface GroupSpec {
  /** Peers with equal keys share a group. */
  readonly key: string
  readonly internal: boolean
  readonly localAs: number
  readonly peerAs: number
  readonly nextHopSelf: boolean
  /** Our IPv4 address toward the members (eBGP and next-hop-self), as u32. */
  readonly localAddressV4?: number
  /** Our IPv6 next hop toward the members (16 or 32 octets). */
  readonly nextHopV6?: Uint8Array
  readonly exportPolicy?: Policy
  /** RFC 8212: an eBGP group without an export policy sends nothing. */
  readonly requirePolicy: boolean
  readonly tx: CodecContext
  /** Families negotiated (afi, safi), to filter routes and send End-of-RIB. */
  readonly families: ReadonlyArray<{ readonly afi: number; readonly safi: number }>
  readonly reflection?: ReflectionSpec
  /** Representative neighbor for policies that look at it. */
  readonly neighbor: { readonly address: string; readonly asn: number }
  /**
   * RFC 7911 send: how many paths per prefix to advertise for families in `tx.addPath` (Infinity: all).
   * 0 or 1 without ADD-PATH.
   */
  readonly addPathMax: number
}

export interface Member {
  /** The source id of the member's own routes (for split horizon). */
  readonly sourceId: number
  ready: boolean
}

interface Out {
  readonly set: AttrSet
  /** The member the route came from, which does not receive it. */
  readonly from: number | undefined
}

/** Messages for members: `all` goes to every ready member except `except`. */
export interface Delivery {
  readonly messages: ReadonlyArray<Uint8Array>
  readonly except?: number
  /** Only to this member. */
  readonly only?: number
}

const familyOf = (p: Prefix): number => familyKey(p.afi, Safi.UNICAST)

interface MemoEntry {
  readonly source: Source
  readonly afi: 1 | 2
  readonly reflected: boolean
  readonly out: RouteAttributes | undefined
}

/** What one `apply` has worked out so far (see `exportSet`). */
interface Memo {
  readonly rules: Map<AttrSet, MemoEntry[]>
  readonly sets: Map<RouteAttributes, AttrSet>
}

export class UpdateGroup {
  readonly spec: GroupSpec
  readonly members = new Set<Member>()
  /** Adj-RIB-Out for families sent with one path per prefix. */
  readonly adjOut = new Map<PrefixKey, Out>()
  /** Adj-RIB-Out for ADD-PATH families: our path id → what was sent. */
  readonly adjOutPaths = new Map<PrefixKey, Map<number, Out>>()
  private readonly families: Set<number>
  private readonly rib: Rib

  constructor(spec: GroupSpec, rib: Rib) {
    this.spec = spec
    this.rib = rib
    this.families = new Set(spec.families.map((f) => familyKey(f.afi, f.safi)))
  }

  /** RFC 4271 §5, §9.1.3 export rules, then the export policy: the attributes to send, or undefined. */
  exportAttrs(prefix: Prefix, path: Path): RouteAttributes | undefined {
    const out = this.exportRules(prefix.afi, path)
    return out === undefined ? undefined : this.applyPolicy(prefix, out)
  }

  /**
   * The export rules alone (no policy). They read only the family, the path's attributes and source,
   * and (for reflection) whether the group reflects the path — which is what `Memo` keys on.
   */
  private exportRules(afi: 1 | 2, path: Path): RouteAttributes | undefined {
    const s = this.spec
    if (!this.families.has(familyKey(afi, Safi.UNICAST))) return undefined
    const a = path.attrs.attrs
    const cs = a.communities
    if (cs !== undefined) {
      // RFC 1997: well-known communities
      if (cs.includes(NO_ADVERTISE)) return undefined
      if (!s.internal && (cs.includes(NO_EXPORT) || cs.includes(NO_EXPORT_SUBCONFED))) return undefined
    }
    const local = path.source.local === true
    if (s.internal && path.source.internal && !local) {
      // RFC 4271 §9.1.3: iBGP-learned routes are not sent to iBGP peers — unless reflected (RFC 4456).
      if (s.reflection === undefined || !s.reflection.reflects(path)) return undefined
    }
    // Sender-side loop prevention: the peer would drop a path holding its own AS.
    if (!s.internal && asPathContains(a, s.peerAs)) return undefined
    if (!s.internal && s.requirePolicy && s.exportPolicy === undefined) return undefined
    let out: { -readonly [K in keyof RouteAttributes]: RouteAttributes[K] } = { ...a }
    if (a.unknown !== undefined && !local) {
      // RFC 4271 §5: keep unrecognized transitive attributes with Partial set, drop the others.
      const kept = a.unknown.filter((x) => (x.flags & AttrFlag.TRANSITIVE) !== 0).map((x) => ({ ...x, flags: x.flags | AttrFlag.PARTIAL }))
      if (kept.length > 0) out.unknown = kept
      else delete out.unknown
    }
    if (!s.internal) {
      out.asPath = prependAs(a.asPath ?? [], s.localAs)
      delete out.localPref
      delete out.originatorId
      delete out.clusterList
      // RFC 4271 §5.1.4: a MED learned from a neighboring AS is not passed to other ASes.
      if (!local) delete out.med
      if (afi === Afi.IPV4) {
        if (s.localAddressV4 === undefined) return undefined
        out.nextHop = s.localAddressV4
      } else {
        if (s.nextHopV6 === undefined) return undefined
        out.mpNextHop = s.nextHopV6
      }
    } else {
      out.localPref = a.localPref ?? 100
      if (out.asPath === undefined) out.asPath = []
      const self = s.nextHopSelf || (local && (afi === Afi.IPV4 ? a.nextHop === undefined : a.mpNextHop === undefined))
      if (self) {
        if (afi === Afi.IPV4) {
          if (s.localAddressV4 === undefined) return undefined
          out.nextHop = s.localAddressV4
        } else {
          if (s.nextHopV6 === undefined) return undefined
          out.mpNextHop = s.nextHopV6
        }
      }
      const r = s.reflection
      if (r !== undefined && path.source.internal && !local) {
        // RFC 4456 §8: ORIGINATOR_ID set when absent, our CLUSTER_ID prepended to CLUSTER_LIST.
        if (out.originatorId === undefined) out.originatorId = path.source.bgpId
        out.clusterList = [r.clusterId, ...(a.clusterList ?? [])]
      }
    }
    if (afi === Afi.IPV6) delete out.nextHop
    return out
  }

  private applyPolicy(prefix: Prefix, out: RouteAttributes): RouteAttributes | undefined {
    const s = this.spec
    if (s.exportPolicy === undefined) return out
    return s.exportPolicy({
      prefix,
      attrs: out,
      neighbor: s.neighbor,
      localAs: s.localAs,
      ...(s.localAddressV4 === undefined ? {} : { localAddress: s.localAddressV4 })
    })
  }

  /**
   * The interned attribute set to send for `path` (one reference for the caller), or undefined. Within one
   * `apply`, the export rules run once per distinct (attributes, source, family, reflected) and the
   * result is interned once per distinct object the policy returns (an accept-all policy returns its
   * input): with many prefixes per attribute set, encoding the set for its interning key dominated.
   * The policy still runs for every prefix.
   */
  private exportSet(prefix: Prefix, path: Path, memo: Memo): AttrSet | undefined {
    const s = this.spec
    const afi = prefix.afi
    const reflected = s.reflection !== undefined && s.internal && path.source.internal && path.source.local !== true && s.reflection.reflects(path)
    let list = memo.rules.get(path.attrs)
    if (list === undefined) memo.rules.set(path.attrs, (list = []))
    let e: MemoEntry | undefined
    for (const x of list) {
      if (x.source === path.source && x.afi === afi && x.reflected === reflected) {
        e = x
        break
      }
    }
    if (e === undefined) list.push(e = { source: path.source, afi, reflected, out: this.exportRules(afi, path) })
    if (e.out === undefined) return undefined
    const attrs = this.applyPolicy(prefix, e.out)
    if (attrs === undefined) return undefined
    const known = memo.sets.get(attrs)
    if (known !== undefined && known.refs > 0) {
      known.refs++
      return known
    }
    const set = this.rib.attrs.intern(attrs)
    memo.sets.set(attrs, set)
    return set
  }

  /** Applies Loc-RIB changes to the Adj-RIB-Out and returns the encoded deltas. */
  apply(changes: ReadonlyArray<RouteChange>): Delivery[] {
    const memo: Memo = { rules: new Map(), sets: new Map() }
    const announce = new Map<string, { set: AttrSet; from: number | undefined; afi: 1 | 2; prefixes: Prefix[] }>()
    const withdraw = new Map<number | undefined, { v4: Prefix[]; v6: Prefix[] }>()
    const addWithdraw = (p: Prefix, only: number | undefined) => {
      let w = withdraw.get(only)
      if (w === undefined) withdraw.set(only, (w = { v4: [], v6: [] }))
      ;(p.afi === Afi.IPV4 ? w.v4 : w.v6).push(p)
    }
    // Consecutive prefixes usually share a bucket: the last one is tried before building a key.
    let last: { set: AttrSet; from: number | undefined; afi: 1 | 2; prefixes: Prefix[] } | undefined
    const bucketFor = (set: AttrSet, from: number | undefined, afi: 1 | 2) => {
      if (last !== undefined && last.set === set && last.from === from && last.afi === afi) return last
      const bucket = `${set.id}|${from ?? ""}|${afi}`
      let b = announce.get(bucket)
      if (b === undefined) announce.set(bucket, (b = { set, from, afi, prefixes: [] }))
      return (last = b)
    }
    for (const c of changes) {
      if (this.multiPath(c.prefix)) {
        this.applyPaths(c, addWithdraw, bucketFor, memo)
        continue
      }
      const old = this.adjOut.get(c.key)
      const set = c.best === undefined ? undefined : this.exportSet(c.prefix, c.best, memo)
      if (set === undefined) {
        if (old === undefined) continue
        this.adjOut.delete(c.key)
        this.rib.attrs.release(old.set)
        addWithdraw(c.prefix, undefined)
        continue
      }
      const from = c.best!.source.local === true ? undefined : c.best!.source.id
      if (old !== undefined && old.set === set && old.from === from) {
        this.rib.attrs.release(set)
        continue
      }
      if (old !== undefined) this.rib.attrs.release(old.set)
      this.adjOut.set(c.key, { set, from })
      // The member the route now comes from had the old route (unless it was its own): withdraw it there.
      if (from !== undefined && old !== undefined && old.from !== from) addWithdraw(c.prefix, from)
      bucketFor(set, from, c.prefix.afi).prefixes.push(c.prefix)
    }
    const out: Delivery[] = []
    for (const [only, w] of withdraw) {
      const msgs = [...this.encodeWithdrawals(1, w.v4), ...this.encodeWithdrawals(2, w.v6)]
      if (msgs.length > 0) out.push(only === undefined ? { messages: msgs } : { messages: msgs, only })
    }
    for (const b of announce.values()) {
      const msgs = this.encodeAnnouncements(b.afi, b.set, b.prefixes)
      if (msgs.length > 0) out.push(b.from === undefined ? { messages: msgs } : { messages: msgs, except: b.from })
    }
    return out
  }

  /** Is this prefix's family sent with several paths (ADD-PATH negotiated for sending, RFC 7911)? */
  private multiPath(p: Prefix): boolean {
    return this.spec.addPathMax > 1 && this.spec.tx.addPath.has(familyOf(p))
  }

  /** ADD-PATH export of one destination: up to `addPathMax` paths, each under our own path id. */
  private applyPaths(
    c: RouteChange,
    addWithdraw: (p: Prefix, only: number | undefined) => void,
    bucketFor: (set: AttrSet, from: number | undefined, afi: 1 | 2) => { prefixes: Prefix[] },
    memo: Memo
  ): void {
    let old = this.adjOutPaths.get(c.key)
    const next = new Map<number, Out>()
    for (const p of c.paths) {
      if (next.size >= this.spec.addPathMax) break
      const set = this.exportSet(c.prefix, p, memo)
      if (set === undefined) continue
      const from = p.source.local === true ? undefined : p.source.id
      next.set(p.localId, { set, from })
    }
    for (const [id, o] of old ?? []) {
      if (next.has(id)) continue
      this.rib.attrs.release(o.set)
      addWithdraw({ ...c.prefix, pathId: id }, undefined)
    }
    for (const [id, o] of next) {
      const prev = old?.get(id)
      if (prev !== undefined && prev.set === o.set && prev.from === o.from) {
        this.rib.attrs.release(o.set)
        next.set(id, prev)
        continue
      }
      if (prev !== undefined) {
        this.rib.attrs.release(prev.set)
        // The id now names another source's path: the member that sent it had the old one.
        if (o.from !== undefined && prev.from !== o.from) addWithdraw({ ...c.prefix, pathId: id }, o.from)
      }
      bucketFor(o.set, o.from, c.prefix.afi).prefixes.push({ ...c.prefix, pathId: id })
    }
    old = next
    if (next.size === 0) this.adjOutPaths.delete(c.key)
    else this.adjOutPaths.set(c.key, next)
  }

  private encodeWithdrawals(afi: 1 | 2, ps: Prefix[]): Uint8Array[] {
    if (ps.length === 0) return []
    const r = buildWithdrawals(afi, ps, this.spec.tx)
    return Result.isSuccess(r) ? r.success : []
  }

  private encodeAnnouncements(afi: 1 | 2, set: AttrSet, ps: Prefix[]): Uint8Array[] {
    const { mpNextHop, ...attributes } = set.attrs
    // IPv4 with an IPv4 next hop uses the NLRI field; everything else MP_REACH_NLRI (RFC 4760, RFC 8950).
    const r = buildAnnouncements(
      afi === Afi.IPV4 && mpNextHop === undefined
        ? { afi, attributes, prefixes: ps }
        : { afi, attributes, nextHop: mpNextHop ?? new Uint8Array(0), prefixes: ps },
      this.spec.tx
    )
    return Result.isSuccess(r) ? r.success : []
  }

  /** The whole Adj-RIB-Out for one member (a new session, or a route refresh), then End-of-RIB. */
  fullTable(member: Member, endOfRib = true, afi?: number): Uint8Array[] {
    const buckets = new Map<string, { set: AttrSet; afi: 1 | 2; prefixes: Prefix[] }>()
    const add = (o: Out, prefix: Prefix) => {
      // A route refresh asks for one family (RFC 2918 §4).
      if (o.from === member.sourceId || (afi !== undefined && prefix.afi !== afi)) return
      const bucket = `${o.set.id}|${prefix.afi}`
      let b = buckets.get(bucket)
      if (b === undefined) buckets.set(bucket, (b = { set: o.set, afi: prefix.afi, prefixes: [] }))
      b.prefixes.push(prefix)
    }
    for (const [key, o] of this.adjOut) add(o, keyPrefix(key))
    for (const [key, paths] of this.adjOutPaths) {
      const base = keyPrefix(key)
      for (const [id, o] of paths) add(o, { ...base, pathId: id })
    }
    const msgs: Uint8Array[] = []
    for (const b of buckets.values()) msgs.push(...this.encodeAnnouncements(b.afi, b.set, b.prefixes))
    if (endOfRib) for (const f of this.spec.families) msgs.push(encodeEndOfRib(f.afi, f.safi))
    return msgs
  }

  /** Fills the Adj-RIB-Out from the Loc-RIB (a new group). */
  populate(): void {
    const changes: RouteChange[] = []
    const paths = this.spec.addPathMax > 1 && this.spec.tx.addPath.size > 0
    for (const d of this.rib.best()) {
      changes.push({ key: d.key, prefix: d.prefix, best: d.best, previous: undefined, multipath: d.multipath, paths: paths ? this.rib.ordered(d) : [] })
    }
    this.apply(changes)
  }

  /** Releases the group's attribute references (the group is gone). */
  dispose(): void {
    for (const o of this.adjOut.values()) this.rib.attrs.release(o.set)
    for (const m of this.adjOutPaths.values()) for (const o of m.values()) this.rib.attrs.release(o.set)
    this.adjOut.clear()
    this.adjOutPaths.clear()
  }

  /** Routes (prefix, path) in the Adj-RIB-Out, excluding those a member sent itself. */
  advertisedTo(member: Member): number {
    let n = 0
    for (const o of this.adjOut.values()) if (o.from !== member.sourceId) n++
    for (const m of this.adjOutPaths.values()) for (const o of m.values()) if (o.from !== member.sourceId) n++
    return n
  }
}
