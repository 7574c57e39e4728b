/**
 * A minimal classic-pcap writer (libpcap format, LINKTYPE_ETHERNET) that wraps BGP bytes in
 * Ethernet / IPv4 / TCP frames from 127.0.0.1:40179 to 127.0.0.1:179, so tshark's BGP dissector
 * (which keys on TCP port 179) sees them as one BGP stream. Nothing is sent anywhere: the frames only
 * exist in the file. Checksums are left zero (tshark is told not to verify them).
 */

const ETH_HEADER = 14
const IPV4_HEADER = 20
const TCP_HEADER = 20
/** An IPv4 total length is 16 bits: a segment carries at most this much payload. */
export const MAX_SEGMENT_PAYLOAD = 0xffff - IPV4_HEADER - TCP_HEADER

const LOOPBACK = [127, 0, 0, 1] as const
const CLIENT_PORT = 40179
const BGP_PORT = 179

const globalHeader = (): Uint8Array => {
  const b = new Uint8Array(24)
  const v = new DataView(b.buffer)
  v.setUint32(0, 0xa1b2c3d4, true) // magic (microsecond timestamps), written little-endian
  v.setUint16(4, 2, true) // version 2.4
  v.setUint16(6, 4, true)
  v.setInt32(8, 0, true) // thiszone
  v.setUint32(12, 0, true) // sigfigs
  v.setUint32(16, 262144, true) // snaplen
  v.setUint32(20, 1, true) // LINKTYPE_ETHERNET
  return b
}

/** One Ethernet frame holding a TCP segment with `payload`, sequence number `seq`. */
const frame = (payload: Uint8Array, seq: number, ipId: number): Uint8Array => {
  if (payload.length > MAX_SEGMENT_PAYLOAD) throw new Error(`segment payload of ${payload.length} octets`)
  const b = new Uint8Array(ETH_HEADER + IPV4_HEADER + TCP_HEADER + payload.length)
  const v = new DataView(b.buffer)
  // Ethernet: locally administered MACs, EtherType IPv4.
  b.set([0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01], 0)
  v.setUint16(12, 0x0800)
  // IPv4: version 4, IHL 5, total length, id, DF, TTL 64, protocol TCP, checksum 0.
  const ip = ETH_HEADER
  b[ip] = 0x45
  v.setUint16(ip + 2, IPV4_HEADER + TCP_HEADER + payload.length)
  v.setUint16(ip + 4, ipId & 0xffff)
  v.setUint16(ip + 6, 0x4000)
  b[ip + 8] = 64
  b[ip + 9] = 6
  b.set(LOOPBACK, ip + 12)
  b.set(LOOPBACK, ip + 16)
  // TCP: ports, seq, ack, data offset 5 words, flags PSH|ACK, window, checksum 0.
  const tcp = ip + IPV4_HEADER
  v.setUint16(tcp, CLIENT_PORT)
  v.setUint16(tcp + 2, BGP_PORT)
  v.setUint32(tcp + 4, seq >>> 0)
  v.setUint32(tcp + 8, 1)
  b[tcp + 12] = 5 << 4
  b[tcp + 13] = 0x18
  v.setUint16(tcp + 14, 0xffff)
  b.set(payload, tcp + TCP_HEADER)
  return b
}

/**
 * A pcap file with one TCP segment per entry of `segments` (each entry may hold one or several whole
 * BGP messages), in one direction of one connection, sequence numbers contiguous from 1.
 */
export const writePcap = (segments: ReadonlyArray<Uint8Array>): Uint8Array => {
  const parts: Uint8Array[] = [globalHeader()]
  let seq = 1
  segments.forEach((payload, i) => {
    const f = frame(payload, seq, i + 1)
    seq += payload.length
    const rec = new Uint8Array(16)
    const v = new DataView(rec.buffer)
    v.setUint32(0, 1_700_000_000 + i, true) // ts_sec: fixed, one second apart
    v.setUint32(4, 0, true)
    v.setUint32(8, f.length, true) // captured length
    v.setUint32(12, f.length, true) // original length
    parts.push(rec, f)
  })
  const total = parts.reduce((n, p) => n + p.length, 0)
  const out = new Uint8Array(total)
  let o = 0
  for (const p of parts) {
    out.set(p, o)
    o += p.length
  }
  return out
}

/** Groups messages into segments of up to `perSegment` messages each (never beyond the IPv4 limit). */
export const packSegments = (messages: ReadonlyArray<Uint8Array>, perSegment: number): Uint8Array[] => {
  const out: Uint8Array[] = []
  let cur: Uint8Array[] = []
  let curLen = 0
  const flush = () => {
    if (cur.length === 0) return
    const seg = new Uint8Array(curLen)
    let o = 0
    for (const m of cur) {
      seg.set(m, o)
      o += m.length
    }
    out.push(seg)
    cur = []
    curLen = 0
  }
  for (const m of messages) {
    if (cur.length >= perSegment || curLen + m.length > MAX_SEGMENT_PAYLOAD) flush()
    cur.push(m)
    curLen += m.length
  }
  flush()
  return out
}
