/**
 * A small capture reader for the golden tests: classic pcap (either byte order, micro- or nanosecond),
 * pcapng (SHB/IDB/EPB/SPB; other blocks skipped) and gzip-wrapped files, then link layer → IPv4/IPv6 →
 * TCP. Only what BGP captures need; anything it does not understand is skipped, not guessed at.
 */
import { gunzipSync } from "node:zlib"

export interface Frame {
  /** 1-based, as tshark numbers frames. */
  readonly number: number
  readonly linkType: number
  readonly data: Uint8Array
}

export interface TcpSegment {
  readonly frame: number
  readonly src: string
  readonly dst: string
  readonly srcPort: number
  readonly dstPort: number
  readonly seq: number
  readonly syn: boolean
  readonly fin: boolean
  readonly rst: boolean
  readonly payload: Uint8Array
}

export const LinkType = { NULL: 0, ETHERNET: 1, RAW: 101, LOOP: 108, LINUX_SLL: 113, LINUX_SLL2: 276 } as const

const view = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength)

const readPcap = (b: Uint8Array): Frame[] => {
  const dv = view(b)
  const magic = dv.getUint32(0, true)
  // a1b2c3d4 microseconds, a1b23c4d nanoseconds; read little-endian, so a swapped file shows d4c3b2a1.
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d
  const linkType = dv.getUint32(20, le)
  const frames: Frame[] = []
  let i = 24
  while (i + 16 <= b.length) {
    const incl = dv.getUint32(i + 8, le)
    const start = i + 16
    if (start + incl > b.length) throw new Error(`pcap record at ${i} overruns the file`)
    frames.push({ number: frames.length + 1, linkType, data: b.subarray(start, start + incl) })
    i = start + incl
  }
  return frames
}

const readPcapng = (b: Uint8Array): Frame[] => {
  const dv = view(b)
  const frames: Frame[] = []
  let le = true
  let interfaces: number[] = []
  let i = 0
  while (i + 12 <= b.length) {
    let type = dv.getUint32(i, le)
    if (type === 0x0a0d0d0a || dv.getUint32(i, !le) === 0x0a0d0d0a) {
      // Section Header Block: the byte-order magic decides how everything after it is read.
      le = dv.getUint32(i + 8, true) === 0x1a2b3c4d
      type = 0x0a0d0d0a
      interfaces = []
    }
    const len = dv.getUint32(i + 4, le)
    if (len < 12 || i + len > b.length) throw new Error(`pcapng block at ${i} has bad length ${len}`)
    if (type === 1) interfaces.push(dv.getUint16(i + 8, le))
    else if (type === 6) {
      const ifId = dv.getUint32(i + 8, le)
      const cap = dv.getUint32(i + 20, le)
      frames.push({ number: frames.length + 1, linkType: interfaces[ifId] ?? -1, data: b.subarray(i + 28, i + 28 + cap) })
    } else if (type === 3) {
      const orig = dv.getUint32(i + 8, le)
      const cap = Math.min(orig, len - 16)
      frames.push({ number: frames.length + 1, linkType: interfaces[0] ?? -1, data: b.subarray(i + 12, i + 12 + cap) })
    }
    i += len
  }
  return frames
}

/** Every frame of a pcap or pcapng file, gunzipping first when the file is gzip. */
export const readCapture = (raw: Uint8Array): Frame[] => {
  const b = raw[0] === 0x1f && raw[1] === 0x8b ? new Uint8Array(gunzipSync(raw)) : raw
  const magic = view(b).getUint32(0, true)
  if (magic === 0x0a0d0d0a) return readPcapng(b)
  if ([0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1].includes(magic)) return readPcap(b)
  throw new Error(`not a capture file (magic 0x${magic.toString(16)})`)
}

const ipv4Text = (b: Uint8Array, i: number): string => `${b[i]}.${b[i + 1]}.${b[i + 2]}.${b[i + 3]}`

const ipv6Text = (b: Uint8Array, i: number): string => {
  const groups: string[] = []
  for (let k = 0; k < 16; k += 2) groups.push(((b[i + k]! << 8) | b[i + k + 1]!).toString(16))
  return groups.join(":")
}

/** The IP packet inside a frame and its version, or undefined for non-IP frames. */
const ipPacket = (f: Frame): Uint8Array | undefined => {
  const d = f.data
  const dv = view(d)
  let off: number
  let etherType: number
  switch (f.linkType) {
    case LinkType.ETHERNET: {
      off = 12
      etherType = dv.getUint16(off)
      // 802.1Q / 802.1ad tags
      while ((etherType === 0x8100 || etherType === 0x88a8) && off + 6 <= d.length) {
        off += 4
        etherType = dv.getUint16(off)
      }
      off += 2
      break
    }
    case LinkType.NULL:
    case LinkType.LOOP: {
      // A 4-octet address family: host byte order for NULL, network order for LOOP.
      const fam = f.linkType === LinkType.LOOP ? dv.getUint32(0) : (dv.getUint32(0, true) > 0xffff ? dv.getUint32(0) : dv.getUint32(0, true))
      etherType = fam === 2 ? 0x0800 : [10, 24, 28, 30].includes(fam) ? 0x86dd : 0
      off = 4
      break
    }
    case LinkType.RAW:
      etherType = (d[0]! >> 4) === 6 ? 0x86dd : 0x0800
      off = 0
      break
    case LinkType.LINUX_SLL:
      etherType = dv.getUint16(14)
      off = 16
      break
    case LinkType.LINUX_SLL2:
      etherType = dv.getUint16(0)
      off = 20
      break
    default:
      return undefined
  }
  if (etherType !== 0x0800 && etherType !== 0x86dd) return undefined
  return d.subarray(off)
}

/** The TCP segment carried by a frame, or undefined (not TCP, or an IP fragment). */
export const tcpSegment = (f: Frame): TcpSegment | undefined => {
  const ip = ipPacket(f)
  if (ip === undefined || ip.length < 20) return undefined
  const dv = view(ip)
  const version = ip[0]! >> 4
  let tcp: Uint8Array
  let src: string
  let dst: string
  if (version === 4) {
    const ihl = (ip[0]! & 0x0f) * 4
    const total = dv.getUint16(2)
    if (ip[9] !== 6) return undefined
    if ((dv.getUint16(6) & 0x3fff) !== 0) return undefined // fragment (MF set or non-zero offset)
    src = ipv4Text(ip, 12)
    dst = ipv4Text(ip, 16)
    // The total length, not the frame, bounds the packet: Ethernet pads short frames.
    tcp = ip.subarray(ihl, Math.min(total, ip.length))
  } else if (version === 6) {
    if (ip.length < 40) return undefined
    const payloadLength = dv.getUint16(4)
    let next = ip[6]!
    let off = 40
    // Skip the extension headers BGP captures might carry (hop-by-hop, routing, destination options).
    while (next === 0 || next === 43 || next === 60) {
      next = ip[off]!
      off += (ip[off + 1]! + 1) * 8
    }
    if (next !== 6) return undefined
    src = ipv6Text(ip, 8)
    dst = ipv6Text(ip, 24)
    tcp = ip.subarray(off, Math.min(40 + payloadLength, ip.length))
  } else return undefined
  if (tcp.length < 20) return undefined
  const tv = view(tcp)
  const dataOffset = (tcp[12]! >> 4) * 4
  const flags = tcp[13]!
  return {
    frame: f.number,
    src,
    dst,
    srcPort: tv.getUint16(0),
    dstPort: tv.getUint16(2),
    seq: tv.getUint32(4),
    syn: (flags & 0x02) !== 0,
    fin: (flags & 0x01) !== 0,
    rst: (flags & 0x04) !== 0,
    payload: tcp.subarray(Math.min(dataOffset, tcp.length))
  }
}
