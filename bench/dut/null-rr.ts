/**
 * The null reflector: the floor for every benchmark cell. It accepts the same sessions a route reflector
 * would (OPEN, KEEPALIVE), keeps no RIB and decodes nothing but message headers: every complete UPDATE a
 * client sends after its session is up is copied, unchanged, to every other Established client (its
 * KEEPALIVEs stay here; we send our own), and kept as raw bytes so a client that comes up later gets the
 * backlog first (what an Adj-RIB-Out dump would be, minus all the work). That is the least any reflector
 * can do for the cell, on the same core and through the same harness.
 *
 * `node bench/dut/null-rr.ts CONFIG.json` with {"address","port","as","routerId","holdTime"}; prints
 * "ready" when listening. Reading a source pauses while any destination's socket buffer is full, so
 * memory stays bounded like a real reflector's.
 */
import { readFileSync } from "node:fs"
import * as net from "node:net"
import { concat, keepalive, MsgType, openMessage, parseIpv4 } from "../lab/wire.ts"

const file = process.argv[2]
if (file === undefined) {
  process.stderr.write("usage: node bench/dut/null-rr.ts CONFIG.json\n")
  process.exit(2)
}
const cfg = JSON.parse(readFileSync(file, "utf8")) as { address: string; port: number; as: number; routerId: string; holdTime: number }
const open = openMessage({ as: cfg.as, holdTime: cfg.holdTime, bgpId: parseIpv4(cfg.routerId) })
const KEEPALIVE = keepalive()

interface Client {
  readonly socket: net.Socket
  established: boolean
  /** Complete messages received from this client since it came up (raw, for late joiners). */
  readonly backlog: Uint8Array[]
  /** Bytes of an incomplete message carried to the next chunk. */
  carry: Uint8Array | undefined
}
const clients = new Set<Client>()
/** Destinations whose socket buffer is full, and the sources paused until all of them drain. */
const full = new Set<net.Socket>()
const paused = new Set<net.Socket>()

const join = (a: Uint8Array | undefined, b: Uint8Array): Uint8Array => {
  if (a === undefined || a.length === 0) return b
  const out = new Uint8Array(a.length + b.length)
  out.set(a)
  out.set(b, a.length)
  return out
}

/**
 * The complete messages at the start of `b`: their total length, and the UPDATEs among them in order
 * (KEEPALIVEs are between a client and us, not forwarded). Runs of UPDATEs stay views of `b`.
 */
const completeUpdates = (b: Uint8Array): { length: number; updates: Uint8Array } => {
  const runs: Uint8Array[] = []
  let i = 0
  let run = -1
  while (i + 19 <= b.length) {
    const len = (b[i + 16]! << 8) | b[i + 17]!
    if (len < 19 || i + len > b.length) break
    if (b[i + 18] === MsgType.UPDATE) {
      if (run < 0) run = i
    } else if (run >= 0) {
      runs.push(b.subarray(run, i))
      run = -1
    }
    i += len
  }
  if (run >= 0) runs.push(b.subarray(run, i))
  return { length: i, updates: runs.length === 1 ? runs[0]! : concat(runs) }
}

const send = (to: Client, bytes: Uint8Array, from: Client): void => {
  if (!to.socket.write(bytes)) {
    full.add(to.socket)
    if (!paused.has(from.socket)) {
      paused.add(from.socket)
      from.socket.pause()
    }
  }
}

const forward = (from: Client, bytes: Uint8Array): void => {
  from.backlog.push(bytes)
  for (const c of clients) if (c !== from && c.established) send(c, bytes, from)
}

const server = net.createServer({ noDelay: true }, (socket) => {
  const c: Client = { socket, established: false, backlog: [], carry: undefined }
  clients.add(c)
  let gotOpen = false
  socket.on("data", (chunk: Buffer) => {
    let b = join(c.carry, chunk)
    if (!c.established) {
      // The handshake: OPEN from the client (answered with ours and a KEEPALIVE), then its KEEPALIVE.
      let i = 0
      while (i + 19 <= b.length && !c.established) {
        const len = (b[i + 16]! << 8) | b[i + 17]!
        if (i + len > b.length) break
        const t = b[i + 18]
        i += len
        if (t === MsgType.OPEN) {
          gotOpen = true
          socket.write(open)
          socket.write(KEEPALIVE)
        } else if (t === MsgType.KEEPALIVE && gotOpen) {
          c.established = true
          // The newcomer gets everything the others sent so far, then live traffic.
          for (const o of clients) if (o !== c) for (const m of o.backlog) send(c, m, o)
        }
      }
      b = b.subarray(i)
      if (!c.established) {
        c.carry = b.length > 0 ? b.slice() : undefined
        return
      }
    }
    const { length: n, updates } = completeUpdates(b)
    if (updates.length > 0) forward(c, updates)
    c.carry = n < b.length ? b.slice(n) : undefined
  })
  socket.on("drain", () => {
    full.delete(socket)
    if (full.size === 0) {
      for (const s of paused) s.resume()
      paused.clear()
    }
  })
  socket.on("error", () => {})
  socket.on("close", () => {
    clients.delete(c)
    full.delete(socket)
  })
})

// Our own KEEPALIVEs, a third of the hold time apart (RFC 4271 §4.4).
if (cfg.holdTime > 0) {
  setInterval(() => {
    for (const c of clients) if (c.established) c.socket.write(KEEPALIVE)
  }, (cfg.holdTime * 1000) / 3)
}

server.listen({ host: cfg.address, port: cfg.port }, () => process.stdout.write("ready\n"))
const stop = () => {
  for (const c of clients) c.socket.destroy()
  server.close()
  process.exit(0)
}
process.once("SIGTERM", stop)
process.once("SIGINT", stop)
// The harness holds our stdin: when it goes away (killed), so do we.
process.stdin.on("close", stop)
process.stdin.resume()
