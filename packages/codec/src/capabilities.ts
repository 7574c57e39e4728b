/**
 * Capabilities advertised in OPEN (RFC 5492). Each known code has a decoder that checks the value's
 * length; unknown codes are kept as raw bytes so they survive a decode/encode round trip.
 */
import { CapabilityCode } from "./constants.ts"
import type { Writer } from "./bytes.ts"
import { checkU16, checkU32, checkU8 } from "./bytes.ts"
import { EncodeError } from "./errors.ts"

export interface FamilyId {
  readonly afi: number
  readonly safi: number
}

export type Capability =
  /** RFC 4760 §8 */
  | { readonly _tag: "Multiprotocol"; readonly afi: number; readonly safi: number }
  /** RFC 2918 */
  | { readonly _tag: "RouteRefresh" }
  /** RFC 8950 §4: NLRI of (afi, safi) may carry a next hop of `nextHopAfi`. */
  | {
    readonly _tag: "ExtendedNextHop"
    readonly entries: ReadonlyArray<{ readonly afi: number; readonly safi: number; readonly nextHopAfi: number }>
  }
  /** RFC 8654 */
  | { readonly _tag: "ExtendedMessage" }
  /** RFC 9234 */
  | { readonly _tag: "Role"; readonly role: number }
  /** RFC 4724 §3, with the N bit of RFC 8538 §2. */
  | {
    readonly _tag: "GracefulRestart"
    readonly restarting: boolean
    readonly notification: boolean
    readonly restartTime: number
    readonly families: ReadonlyArray<{ readonly afi: number; readonly safi: number; readonly forwarding: boolean }>
  }
  /** RFC 6793 */
  | { readonly _tag: "FourOctetAs"; readonly asn: number }
  /** RFC 7911 §4: mode 1 receive, 2 send, 3 both. */
  | {
    readonly _tag: "AddPath"
    readonly families: ReadonlyArray<{ readonly afi: number; readonly safi: number; readonly mode: number }>
  }
  /** RFC 7313 */
  | { readonly _tag: "EnhancedRouteRefresh" }
  /** RFC 9494 §3 */
  | {
    readonly _tag: "LongLivedGracefulRestart"
    readonly families: ReadonlyArray<
      { readonly afi: number; readonly safi: number; readonly forwarding: boolean; readonly staleTime: number }
    >
  }
  /** draft-walton-bgp-hostname-capability (code 73, as FRR and GoBGP send it) */
  | { readonly _tag: "Fqdn"; readonly hostname: string; readonly domain: string }
  | { readonly _tag: "Unknown"; readonly code: number; readonly value: Uint8Array }

const C = CapabilityCode
const utf8 = new TextDecoder("utf-8", { fatal: false })
const utf8e = new TextEncoder()

/**
 * Decodes one capability value; returns a string describing the problem when the value is malformed
 * (the OPEN decoder turns it into a NOTIFICATION).
 */
export const decodeCapability = (code: number, b: Uint8Array, s: number, e: number): Capability | string => {
  const len = e - s
  const u16 = (i: number) => (b[i]! << 8) | b[i + 1]!
  const u32 = (i: number) => ((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0
  const empty = (tag: "RouteRefresh" | "ExtendedMessage" | "EnhancedRouteRefresh") =>
    len === 0 ? ({ _tag: tag } as const) : `capability ${code} must be empty, has ${len} octets`
  switch (code) {
    case C.MULTIPROTOCOL:
      if (len !== 4) return `multiprotocol capability length ${len}`
      return { _tag: "Multiprotocol", afi: u16(s), safi: b[s + 3]! }
    case C.ROUTE_REFRESH:
      return empty("RouteRefresh")
    case C.EXTENDED_MESSAGE:
      return empty("ExtendedMessage")
    case C.ENHANCED_ROUTE_REFRESH:
      return empty("EnhancedRouteRefresh")
    case C.EXTENDED_NEXT_HOP: {
      if (len % 6 !== 0) return `extended next hop capability length ${len}`
      const entries = []
      for (let i = s; i < e; i += 6) entries.push({ afi: u16(i), safi: u16(i + 2), nextHopAfi: u16(i + 4) })
      return { _tag: "ExtendedNextHop", entries }
    }
    case C.ROLE:
      if (len !== 1) return `role capability length ${len}`
      return { _tag: "Role", role: b[s]! }
    case C.GRACEFUL_RESTART: {
      if (len < 2 || (len - 2) % 4 !== 0) return `graceful restart capability length ${len}`
      const head = u16(s)
      const families = []
      for (let i = s + 2; i < e; i += 4) families.push({ afi: u16(i), safi: b[i + 2]!, forwarding: (b[i + 3]! & 0x80) !== 0 })
      return {
        _tag: "GracefulRestart",
        restarting: (head & 0x8000) !== 0,
        notification: (head & 0x4000) !== 0,
        restartTime: head & 0x0fff,
        families
      }
    }
    case C.FOUR_OCTET_AS:
      if (len !== 4) return `4-octet AS capability length ${len}`
      return { _tag: "FourOctetAs", asn: u32(s) }
    case C.ADD_PATH: {
      if (len % 4 !== 0) return `ADD-PATH capability length ${len}`
      const families = []
      for (let i = s; i < e; i += 4) families.push({ afi: u16(i), safi: b[i + 2]!, mode: b[i + 3]! })
      return { _tag: "AddPath", families }
    }
    case C.LONG_LIVED_GRACEFUL_RESTART: {
      if (len % 7 !== 0) return `long-lived graceful restart capability length ${len}`
      const families = []
      for (let i = s; i < e; i += 7) {
        families.push({
          afi: u16(i),
          safi: b[i + 2]!,
          forwarding: (b[i + 3]! & 0x80) !== 0,
          staleTime: (b[i + 4]! << 16) | (b[i + 5]! << 8) | b[i + 6]!
        })
      }
      return { _tag: "LongLivedGracefulRestart", families }
    }
    case C.FQDN: {
      if (len < 1) return "FQDN capability empty"
      const hl = b[s]!
      if (s + 1 + hl + 1 > e) return "FQDN capability hostname overruns"
      const dl = b[s + 1 + hl]!
      if (s + 2 + hl + dl !== e) return "FQDN capability domain length mismatch"
      return {
        _tag: "Fqdn",
        hostname: utf8.decode(b.subarray(s + 1, s + 1 + hl)),
        domain: utf8.decode(b.subarray(s + 2 + hl, e))
      }
    }
    default:
      return { _tag: "Unknown", code, value: b.slice(s, e) }
  }
}

/** The code a capability is sent with. */
export const capabilityCode = (c: Capability): number => {
  switch (c._tag) {
    case "Multiprotocol":
      return C.MULTIPROTOCOL
    case "RouteRefresh":
      return C.ROUTE_REFRESH
    case "ExtendedNextHop":
      return C.EXTENDED_NEXT_HOP
    case "ExtendedMessage":
      return C.EXTENDED_MESSAGE
    case "Role":
      return C.ROLE
    case "GracefulRestart":
      return C.GRACEFUL_RESTART
    case "FourOctetAs":
      return C.FOUR_OCTET_AS
    case "AddPath":
      return C.ADD_PATH
    case "EnhancedRouteRefresh":
      return C.ENHANCED_ROUTE_REFRESH
    case "LongLivedGracefulRestart":
      return C.LONG_LIVED_GRACEFUL_RESTART
    case "Fqdn":
      return C.FQDN
    case "Unknown":
      return c.code
  }
}

/** Writes code, length and value of one capability. */
export const encodeCapability = (w: Writer, c: Capability): void => {
  const code = capabilityCode(c)
  checkU8(code, "capability code")
  w.u8(code)
  const lenAt = w.pos
  w.u8(0)
  const vs = w.pos
  switch (c._tag) {
    case "Multiprotocol":
      checkU16(c.afi, "AFI")
      checkU8(c.safi, "SAFI")
      w.u16(c.afi)
      w.u8(0)
      w.u8(c.safi)
      break
    case "RouteRefresh":
    case "ExtendedMessage":
    case "EnhancedRouteRefresh":
      break
    case "ExtendedNextHop":
      for (const x of c.entries) {
        w.u16(x.afi)
        w.u16(x.safi)
        w.u16(x.nextHopAfi)
      }
      break
    case "Role":
      checkU8(c.role, "role")
      w.u8(c.role)
      break
    case "GracefulRestart":
      if (c.restartTime < 0 || c.restartTime > 0xfff) throw new EncodeError({ detail: `restart time ${c.restartTime}` })
      w.u16((c.restarting ? 0x8000 : 0) | (c.notification ? 0x4000 : 0) | c.restartTime)
      for (const f of c.families) {
        w.u16(f.afi)
        w.u8(f.safi)
        w.u8(f.forwarding ? 0x80 : 0)
      }
      break
    case "FourOctetAs":
      checkU32(c.asn, "AS number")
      w.u32(c.asn)
      break
    case "AddPath":
      for (const f of c.families) {
        w.u16(f.afi)
        w.u8(f.safi)
        w.u8(f.mode)
      }
      break
    case "LongLivedGracefulRestart":
      for (const f of c.families) {
        if (f.staleTime < 0 || f.staleTime > 0xffffff) throw new EncodeError({ detail: `LLGR stale time ${f.staleTime}` })
        w.u16(f.afi)
        w.u8(f.safi)
        w.u8(f.forwarding ? 0x80 : 0)
        w.u8(f.staleTime >>> 16)
        w.u16(f.staleTime & 0xffff)
      }
      break
    case "Fqdn": {
      const h = utf8e.encode(c.hostname)
      const d = utf8e.encode(c.domain)
      if (h.length > 255 || d.length > 255) throw new EncodeError({ detail: "FQDN capability name too long" })
      w.u8(h.length)
      w.bytes(h)
      w.u8(d.length)
      w.bytes(d)
      break
    }
    case "Unknown":
      w.bytes(c.value)
      break
  }
  const len = w.pos - vs
  if (len > 255) throw new EncodeError({ detail: `capability ${code} value of ${len} octets` })
  w.patchU8(lenAt, len)
}
