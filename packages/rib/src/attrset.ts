/**
 * Interned attribute sets. Millions of routes share a few thousand attribute sets, so each distinct set
 * is stored once, keyed by its encoded bytes (4-octet AS encoding, canonical order), with the values the
 * decision process reads pulled out once. Sets are reference-counted and dropped when unused.
 */
import type { PathAttributes } from "@starling/codec"
import { asPathLength, encodeAttributes, SegmentType, Writer } from "@starling/codec"

/**
 * A route's attributes as the RIB keeps them: the path attributes plus, for routes learned through
 * MP_REACH_NLRI (IPv6, or IPv4 with an IPv6 next hop per RFC 8950), that next hop as on the wire.
 */
export interface RouteAttributes extends PathAttributes {
  readonly mpNextHop?: Uint8Array
}

export interface AttrSet {
  readonly id: number
  /** The interning key: next-hop length and bytes, then the attributes encoded for a 4-octet-AS peer. */
  readonly key: string
  readonly attrs: RouteAttributes
  /** Decision inputs, computed once. */
  readonly localPref: number
  readonly asPathLength: number
  /** RFC 4271 §9.1.2.2 c: the leftmost AS of the path (0 when the path is empty: a local route). */
  readonly neighborAs: number
  readonly origin: number
  readonly med: number
  refs: number
}

const AS4 = { as4: true, extendedMessage: true, addPath: new Set<number>() }

/** The first AS of the first AS_SEQUENCE (confederation segments skipped, RFC 5065 §5.3). */
const leftmostAs = (a: PathAttributes): number => {
  for (const s of a.asPath ?? []) {
    if (s.type === SegmentType.AS_SEQUENCE) return s.asns[0] ?? 0
    if (s.type === SegmentType.AS_SET) return 0
  }
  return 0
}

export class AttrTable {
  private readonly sets = new Map<string, AttrSet>()
  private readonly w = new Writer(512)
  private nextId = 1

  get size(): number {
    return this.sets.size
  }

  /** The interning key of an attribute set. */
  keyOf(attrs: RouteAttributes): string {
    this.w.reset()
    const nh = attrs.mpNextHop
    if (nh === undefined) this.w.u8(0)
    else {
      this.w.u8(nh.length + 1)
      this.w.bytes(nh)
    }
    encodeAttributes(this.w, attrs, AS4)
    return Buffer.from(this.w.peek(0).buffer, 0, this.w.pos).toString("latin1")
  }

  /** The shared set equal to `attrs`, with one more reference. */
  intern(attrs: RouteAttributes): AttrSet {
    const key = this.keyOf(attrs)
    let s = this.sets.get(key)
    if (s === undefined) {
      s = {
        id: this.nextId++,
        key,
        attrs,
        localPref: attrs.localPref ?? 100,
        asPathLength: asPathLength(attrs.asPath ?? []),
        neighborAs: leftmostAs(attrs),
        origin: attrs.origin ?? 2,
        // RFC 4271 §9.1.2.2 c: a missing MED is the lowest value.
        med: attrs.med ?? 0,
        refs: 0
      }
      this.sets.set(key, s)
    }
    s.refs++
    return s
  }

  release(s: AttrSet): void {
    // Only the table's own entry goes: a stale set (freed earlier, then used again) must not take a live
    // equal set out of the table with it.
    if (--s.refs === 0 && this.sets.get(s.key) === s) this.sets.delete(s.key)
  }
}
