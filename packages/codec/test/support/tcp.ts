/**
 * TCP stream reassembly for captures, one byte stream per direction. Segments are ordered by sequence
 * number (captures can hold out-of-order or retransmitted segments); overlapping bytes are taken once,
 * first come first kept, as a receiving stack would. A hole (a segment never captured) ends a run: the
 * next run starts wherever data resumes and is marked `resync`, because it may begin in the middle of a
 * BGP message — as may the first run when the capture starts after the SYN.
 */
import type { TcpSegment } from "./pcap.ts"

export interface Run {
  /** Frame that carried the first byte of the run. */
  readonly firstFrame: number
  readonly bytes: Uint8Array
  /** The run may start mid-message: look for a BGP header before framing. */
  readonly resync: boolean
}

export interface Direction {
  /** `src:port>dst:port` */
  readonly key: string
  /** Same for both directions of a connection. */
  readonly connection: string
  readonly src: string
  readonly dst: string
  readonly srcPort: number
  readonly dstPort: number
  readonly runs: ReadonlyArray<Run>
}

const endpoint = (addr: string, port: number) => `${addr}:${port}`

const concat = (parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  let n = 0
  for (const p of parts) n += p.length
  const out = new Uint8Array(n)
  let o = 0
  for (const p of parts) {
    out.set(p, o)
    o += p.length
  }
  return out
}

/** Reassembles every direction of every TCP connection in the segments, in first-seen order. */
export const reassemble = (segments: ReadonlyArray<TcpSegment>): Direction[] => {
  const byKey = new Map<string, TcpSegment[]>()
  for (const s of segments) {
    const key = `${endpoint(s.src, s.srcPort)}>${endpoint(s.dst, s.dstPort)}`
    let list = byKey.get(key)
    if (list === undefined) byKey.set(key, (list = []))
    list.push(s)
  }
  const out: Direction[] = []
  for (const [key, list] of byKey) {
    const first = list[0]!
    const a = endpoint(first.src, first.srcPort)
    const b = endpoint(first.dst, first.dstPort)
    const syn = list.find((s) => s.syn)
    // The SYN takes one sequence number, so data starts one past it. Replayed captures (pmacct's traffic
    // reproducer) put the OPEN on the SYN without counting it: the next segment starts right after that
    // payload. Without a SYN, data starts at the lowest sequence number seen.
    const synCounts = syn === undefined || syn.payload.length === 0 ||
      !list.some((s) => s !== syn && s.payload.length > 0 && s.seq === ((syn.seq + syn.payload.length) >>> 0))
    const start = (s: TcpSegment) => (s.syn && synCounts ? (s.seq + 1) >>> 0 : s.seq)
    const base = syn !== undefined ? start(syn) : list.find((s) => s.payload.length > 0)?.seq ?? first.seq
    // Signed 32-bit distance from the base, so wrap-around and early retransmissions order correctly.
    const data = list
      .filter((s) => s.payload.length > 0)
      .map((s, order) => ({ rel: ((start(s) - base) | 0), order, s }))
      .sort((x, y) => x.rel - y.rel || x.order - y.order)
    const runs: Run[] = []
    let parts: Uint8Array[] = []
    let runFrame = 0
    let runResync = syn === undefined
    let next: number | undefined = syn !== undefined ? 0 : undefined
    const close = () => {
      if (parts.length > 0) runs.push({ firstFrame: runFrame, bytes: concat(parts), resync: runResync })
      parts = []
    }
    for (const { rel, s } of data) {
      const end = rel + s.payload.length
      if (next !== undefined && end <= next) continue // wholly retransmitted
      if (next === undefined || rel > next) {
        // First data, or a hole before this segment: a new run that may start mid-message.
        close()
        runResync = next !== undefined || syn === undefined || rel > 0
        runFrame = s.frame
        parts.push(s.payload)
      } else {
        if (parts.length === 0) runFrame = s.frame
        parts.push(s.payload.subarray(next - rel))
      }
      next = end
    }
    close()
    out.push({
      key,
      connection: [a, b].sort().join("<>"),
      src: first.src,
      dst: first.dst,
      srcPort: first.srcPort,
      dstPort: first.dstPort,
      runs
    })
  }
  return out
}
