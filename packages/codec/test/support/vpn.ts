/**
 * Just enough of MPLS VPN NLRI (RFC 4364 §4.3.4, RFC 8277 §2 labels, RFC 4659 for IPv6) to name the
 * routes that the codec keeps raw, so tests can line them up with another implementation's output.
 * This is test scaffolding, not a codec: no validation beyond what the walk needs.
 */
import { formatIpv4, formatIpv6 } from "../../src/index.ts"

export interface VpnRoute {
  readonly rd: string
  readonly prefix: string
  readonly label: number
}

/** Route Distinguisher text as pmacct prints it: `type:administrator:assigned` (RFC 4364 §4.2). */
export const formatRd = (b: Uint8Array, i: number): string => {
  const dv = new DataView(b.buffer, b.byteOffset + i, 8)
  const type = dv.getUint16(0)
  if (type === 0) return `0:${dv.getUint16(2)}:${dv.getUint32(4)}`
  if (type === 1) return `1:${formatIpv4(dv.getUint32(2))}:${dv.getUint16(6)}`
  return `${type}:${dv.getUint32(2)}:${dv.getUint16(6)}`
}

export const parseVpnNlri = (b: Uint8Array, afi: number): VpnRoute[] => {
  const out: VpnRoute[] = []
  let i = 0
  while (i < b.length) {
    let bits = b[i++]!
    let label = 0
    // Labels until the bottom-of-stack bit; a withdrawal may carry 0x800000 (RFC 8277 §2.4), no BoS.
    for (;;) {
      const v = (b[i]! << 16) | (b[i + 1]! << 8) | b[i + 2]!
      if (label === 0) label = v >>> 4
      i += 3
      bits -= 24
      if ((v & 1) === 1 || v === 0x800000) break
    }
    const rd = formatRd(b, i)
    i += 8
    bits -= 64
    const n = (bits + 7) >> 3
    const addr = new Uint8Array(afi === 2 ? 16 : 4)
    addr.set(b.subarray(i, i + n))
    i += n
    const text = afi === 2 ? formatIpv6(addr) : formatIpv4(new DataView(addr.buffer).getUint32(0))
    out.push({ rd, prefix: `${text}/${bits}`, label })
  }
  return out
}

/** A VPN next hop (RFC 4364 §4.3.2, RFC 4659 §3.2.1, RFC 8950): an 8-octet zero RD, then the address. */
export const formatVpnNextHop = (nh: Uint8Array): string => {
  const a = nh.subarray(8)
  return a.length === 4 ? formatIpv4(new DataView(a.buffer, a.byteOffset).getUint32(0)) : formatIpv6(a)
}
