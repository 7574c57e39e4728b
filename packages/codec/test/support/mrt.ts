/**
 * The few MRT records (RFC 6396) the golden tests need: BGP4MP / BGP4MP_ET MESSAGE and MESSAGE_AS4
 * (subtypes 1 and 4, §4.4.2/§4.4.3) and STATE_CHANGE(_AS4). Each message record carries one whole BGP
 * message, header included; MESSAGE records come from a 2-octet-AS session, MESSAGE_AS4 from a 4-octet
 * one (RFC 6396 §4.4.3), which is the context to decode them in.
 */
import { formatIpv4, formatIpv6 } from "../../src/index.ts"

export interface MrtMessage {
  readonly kind: "message"
  readonly timestamp: number
  readonly as4: boolean
  readonly peerAs: number
  readonly peerIp: string
  readonly bgp: Uint8Array
}

export interface MrtStateChange {
  readonly kind: "state"
  readonly timestamp: number
  readonly peerAs: number
  readonly peerIp: string
  readonly from: number
  readonly to: number
}

export type MrtRecord = MrtMessage | MrtStateChange

export const readBgp4mp = (b: Uint8Array): MrtRecord[] => {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength)
  const out: MrtRecord[] = []
  let i = 0
  while (i + 12 <= b.length) {
    const timestamp = dv.getUint32(i)
    const type = dv.getUint16(i + 4)
    const subtype = dv.getUint16(i + 6)
    const length = dv.getUint32(i + 8)
    let s = i + 12
    const e = s + length
    if (e > b.length) throw new Error(`MRT record at ${i} overruns the file`)
    i = e
    if (type !== 16 && type !== 17) continue
    if (type === 17) s += 4 // BGP4MP_ET: microseconds
    const as4 = subtype === 4 || subtype === 5
    if (![0, 1, 4, 5].includes(subtype)) continue
    const asLen = as4 ? 4 : 2
    const peerAs = as4 ? dv.getUint32(s) : dv.getUint16(s)
    s += 2 * asLen + 2 // peer AS, local AS, interface index
    const afi = dv.getUint16(s)
    s += 2
    const ipLen = afi === 2 ? 16 : 4
    const peerIp = afi === 2 ? formatIpv6(b, s) : formatIpv4(dv.getUint32(s))
    s += 2 * ipLen
    if (subtype === 0 || subtype === 5) {
      out.push({ kind: "state", timestamp, peerAs, peerIp, from: dv.getUint16(s), to: dv.getUint16(s + 2) })
    } else out.push({ kind: "message", timestamp, as4, peerAs, peerIp, bgp: b.subarray(s, e) })
  }
  return out
}
