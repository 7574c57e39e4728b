/**
 * The Calico-style cluster shared by calico.test.ts and calico-ipip.e2e.ts. End to end, Calico-style, in real kernels: two "nodes" and a route reflector, each its own network
 * namespace, joined by veths to a bridge in the reflector's namespace (one L2 segment, 10.99.0.0/24 and
 * 2001:db8:99::/64). Each node runs a Starling speaker with the kernel importer (announcing the
 * connected route of its pod interface, the Calico IPAM block) and exporter (installing the other node's
 * block, and a blackhole for its own); the reflector runs Starling's route reflector. Each runs as its
 * own process inside its namespace (`ip netns exec`): a process's sockets live in its namespace.
 * Then a ping from a pod address on one node to a pod address on the other must succeed, over IPv4 and
 * IPv6; and again with IP-in-IP (routes via the other node over tunl0, onlink), which needs the kernel's
 * ipip module: on a kernel without it that test fails, saying so.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, assert } from "@effect/vitest"
import { cleanup, ipipSupport, type Netns, netns, veth, waitFor } from "./netns.ts"

const dir = mkdtempSync(join(tmpdir(), "starling-calico-"))
const children: ChildProcess[] = []
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL")
  cleanup()
  rmSync(dir, { recursive: true, force: true })
})

interface Proc {
  readonly child: ChildProcess
  readonly last: () => { routes: string[]; neighbors: string[]; installed?: number; failed?: unknown[]; announced?: string[] } | undefined
  readonly log: () => string
}

const startIn = (ns: Netns, config: Record<string, unknown>): Proc => {
  const file = join(dir, `${ns.name}.json`)
  writeFileSync(file, JSON.stringify(config))
  const child = spawn("ip", ["netns", "exec", ns.name, process.execPath, join(import.meta.dirname, "calico-node.ts"), file], { stdio: ["ignore", "pipe", "pipe"] })
  children.push(child)
  let last: ReturnType<Proc["last"]>
  let buf = ""
  let err = ""
  child.stdout!.on("data", (b: Buffer) => {
    buf += b.toString()
    let i: number
    while ((i = buf.indexOf("\n")) >= 0) {
      last = JSON.parse(buf.slice(0, i))
      buf = buf.slice(i + 1)
    }
  })
  child.stderr!.on("data", (b: Buffer) => (err += b.toString()))
  return { child, last: () => last, log: () => err }
}

const ping = (from: Netns, src: string, dst: string) => {
  const r = spawnSync("ip", ["netns", "exec", from.name, "ping", ...(dst.includes(":") ? ["-6"] : []), "-c1", "-W2", "-I", src, dst], { encoding: "utf8" })
  if (r.error !== undefined) throw new Error(`ping is needed (Debian package iputils-ping): ${r.error.message}`)
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}` }
}

/** Three namespaces on one bridge; pod interfaces with the nodes' blocks. */
const cluster = (tag: string) => {
  const rr = netns(`${tag}-rr`)
  const a = netns(`${tag}-a`)
  const b = netns(`${tag}-b`)
  rr.ip("link", "add", "br0", "type", "bridge")
  rr.ip("link", "set", "br0", "up")
  rr.ip("addr", "add", "10.99.0.254/24", "dev", "br0")
  for (const [n, port, i] of [[a, "a0", 1], [b, "b0", 2]] as const) {
    veth(n, "eth0", rr, port, `10.99.0.${i}/24`)
    n.ip("-6", "addr", "add", `2001:db8:99::${i}/64`, "dev", "eth0", "nodad")
    rr.ip("link", "set", port, "master", "br0")
    // The pod side: a veth end in the node namespace carries the block's first address (Calico puts the
    // pods behind cali* interfaces; the block route is what BGP carries).
    n.ip("link", "add", "pod0", "type", "veth", "peer", "name", "pod0p")
    n.ip("link", "set", "pod0", "up")
    n.ip("link", "set", "pod0p", "up")
    n.ip("addr", "add", `10.244.${i}.1/26`, "dev", "pod0")
    n.ip("-6", "addr", "add", `2001:db8:244:${i}::1/64`, "dev", "pod0", "nodad")
  }
  return { rr, a, b }
}

export const run = async (tag: string, ipip: boolean) => {
  const { rr, a, b } = cluster(tag)
  if (ipip) {
    for (const [n, i] of [[a, 1], [b, 2]] as const) {
      n.ip("link", "set", "tunl0", "up")
      n.ip("addr", "add", `10.244.${i}.2/32`, "dev", "tunl0")
    }
  }
  const common = { localAs: 64512, podCidrs: ["10.244.0.0/16", "2001:db8:244::/48"], ipip }
  const pr = startIn(rr, { role: "rr", address: "10.99.0.254", routerId: "10.99.0.254", localAs: 64512, clients: ["10.99.0.1", "10.99.0.2"] })
  const pa = startIn(a, { role: "node", address: "10.99.0.1", routerId: "10.99.0.1", rr: "10.99.0.254", nextHopV6: "2001:db8:99::1", ...common })
  const pb = startIn(b, { role: "node", address: "10.99.0.2", routerId: "10.99.0.2", rr: "10.99.0.254", nextHopV6: "2001:db8:99::2", ...common })
  const why = () => `\nrr: ${JSON.stringify(pr.last())} ${pr.log()}\na: ${JSON.stringify(pa.last())} ${pa.log()}\nb: ${JSON.stringify(pb.last())} ${pb.log()}`
  // IP-in-IP carries IPv4 only: IPv6 next hops stay on eth0.
  const hop4 = ipip ? "tunl0 onlink" : "eth0"
  const want = (n: Netns, other: number) =>
    waitFor(`${n.name}: the other node's block installed`, async () => {
      const rs = await n.show(201)
      const ok = rs.includes(`10.244.${other}.0/26 nh 10.99.0.${other}%${hop4} table 254 proto 201 metric 32`) &&
        rs.includes(`2001:db8:244:${other}::/64 nh 2001:db8:99::${other}%eth0 table 254 proto 201 metric 32`)
      return ok ? rs : undefined
    }, 30_000).catch((e) => {
      throw new Error(`${String(e)}${why()}`)
    })
  const ra = await want(a, 2)
  const rb = await want(b, 1)
  // Each node also blackholes its own block (Calico: addresses of the block not in use go nowhere).
  assert.include(ra, "blackhole 10.244.1.0/26 table 254 proto 201 metric 32")
  assert.include(rb, "blackhole 10.244.2.0/26 table 254 proto 201 metric 32")
  // The reflector has both blocks, from the nodes (its status line comes every 200 ms).
  await waitFor("both blocks at the reflector", () => {
    const rs = pr.last()?.routes ?? []
    return rs.includes("10.244.1.0/26 10.99.0.1") && rs.includes("10.244.2.0/26 10.99.0.2") ? true : undefined
  }, 5000).catch((e) => {
    throw new Error(`${String(e)}${why()}`)
  })
  for (const [from, src, dst] of [[a, "10.244.1.1", "10.244.2.1"], [b, "10.244.2.1", "10.244.1.1"], [a, "2001:db8:244:1::1", "2001:db8:244:2::1"]] as const) {
    const p = ping(from, src, dst)
    assert.isTrue(p.ok, `ping ${src} -> ${dst} from ${from.name} failed:\n${p.out}${why()}`)
  }
  // A node withdraws its block (the pod interface goes): the route leaves the other node's kernel and
  // the ping stops working.
  b.ip("link", "set", "pod0", "down")
  await waitFor("the withdrawn block to leave node a", async () => ((await a.show(201)).some((r) => r.startsWith("10.244.2.0/26 nh")) ? undefined : true), 15_000)
  assert.isFalse(ping(a, "10.244.1.1", "10.244.2.1").ok)
  for (const p of [pr, pa, pb]) p.child.kill("SIGTERM")
}

