/**
 * A Calico-style cluster: every node runs a BGP speaker that announces its pod block (a /26 out of
 * 10.244.0.0/16), and two Starling route reflectors give every node every other node's block — without
 * a full mesh, and without listing the nodes: the reflectors accept any node of the node network as a
 * route-reflector client (dynamic neighbors), the way Kubernetes nodes join.
 *
 * Both reflectors share one cluster id (RFC 4456 §7), so a route one reflects to the other is dropped
 * there; each node peers with both, so either reflector alone keeps the cluster working.
 *
 * In this process on 127.79.2.0/24, port 1179: reflectors .1 and .2, nodes .11 to .14. Prints each
 * node's routes (two paths per block, one per reflector), then lets a node leave and shows the others
 * forget its block. Exits 0 when everything converged, 1 otherwise.
 *
 *     node examples/calico-cluster.ts
 */
import { formatPrefix, parseIpv4 } from "@starling/codec"
import type { Daemon } from "@starling/reflector/daemon/index"
import { makeDaemon, parseConfig } from "@starling/reflector/daemon/index"
import type { SpeakerApi } from "@starling/speaker"
import { makeSpeaker } from "@starling/speaker"
import { Effect, Exit, Logger, Result, Scope } from "effect"

const PORT = 1179
const AS = 64512
const reflectors = ["127.79.2.1", "127.79.2.2"]
const nodes = [11, 12, 13, 14].map((n) => ({ address: `127.79.2.${n}`, block: `10.244.${n}.0/26` }))

const reflectorConfig = (address: string, i: number) => `
localAs: ${AS}
routerId: 10.79.2.${i + 1}
clusterId: 10.79.2.254
listen: [{ address: ${address}, port: ${PORT} }]
# Any node of the node network is a client: nodes join without a config change.
dynamicNeighbors:
  - prefix: 127.79.2.0/24
    limit: 1000
    template: { peerAs: ${AS}, routeReflectorClient: true, holdTime: 9, name: node }
api: { enabled: false }
`

const scope = Effect.runSync(Scope.make())
const inScope = <A, E>(effect: Effect.Effect<A, E, Scope.Scope>, s: Scope.Scope = scope): Promise<A> =>
  Effect.runPromise(effect.pipe(Scope.provide(s), Effect.provide(Logger.layer([]))))

const rrs: Daemon[] = []
for (const [i, address] of reflectors.entries()) {
  const c = parseConfig(reflectorConfig(address, i), `reflector ${address}`)
  if (Result.isFailure(c)) throw c.failure
  rrs.push(await inScope(makeDaemon(c.success)))
}

// A node: BIRD in Calico; here a Starling speaker peering with both reflectors.
const nodeScopes: Scope.Closeable[] = []
const speakers: SpeakerApi[] = []
for (const [i, n] of nodes.entries()) {
  const s = Effect.runSync(Scope.fork(scope))
  nodeScopes.push(s)
  const sp = await inScope(makeSpeaker({
    localAs: AS,
    routerId: `10.79.2.${11 + i}`,
    neighbors: reflectors.map((rr) => ({ address: rr, port: PORT, peerAs: AS, localAddress: n.address, connectRetryTime: 1, holdTime: 9 }))
  }), s)
  // The block is reachable through the node itself.
  await Effect.runPromise(sp.originate(n.block, { nextHop: parseIpv4(n.address)! }))
  speakers.push(sp)
}

const waitUntil = async (what: string, check: () => Promise<boolean>): Promise<boolean> => {
  const deadline = Date.now() + 15_000
  while (Date.now() < deadline) {
    if (await check()) return true
    await new Promise((r) => setTimeout(r, 100))
  }
  console.log(`timed out waiting until ${what}`)
  return false
}

/** Blocks a node has, each with how many paths it holds (one per reflector once converged). */
const table = async (sp: SpeakerApi) => {
  const routes = await Effect.runPromise(sp.routes)
  return Promise.all(routes.map(async (r) => {
    const e = await Effect.runPromise(sp.explain(formatPrefix(r.prefix)))
    return { prefix: formatPrefix(r.prefix), nextHop: r.best.nextHop ?? "-", via: r.best.source, paths: e?.paths.length ?? 0 }
  }))
}

const everyoneHasEverything = async (live: ReadonlyArray<number>) => {
  for (const i of live) {
    const t = await table(speakers[i]!)
    const remote = t.filter((r) => r.via !== "local")
    if (remote.length !== live.length - 1 || remote.some((r) => r.paths !== reflectors.length)) return false
  }
  return true
}

let ok = await waitUntil("every node has every other block from both reflectors", () => everyoneHasEverything([0, 1, 2, 3]))
for (const [i, sp] of speakers.entries()) {
  console.log(`node ${nodes[i]!.address} (announces ${nodes[i]!.block}):`)
  for (const r of (await table(sp)).filter((x) => x.via !== "local").sort((a, b) => a.prefix.localeCompare(b.prefix, "en", { numeric: true }))) {
    console.log(`  ${r.prefix.padEnd(16)} via ${r.nextHop.padEnd(12)} best from reflector ${r.via}, ${r.paths} paths`)
  }
}
for (const [i, rr] of rrs.entries()) {
  const ns = await Effect.runPromise(rr.speaker().neighbors)
  console.log(`reflector ${reflectors[i]}: ${ns.filter((n) => n.state === "Established").length} dynamic clients (${ns.map((n) => n.name).join(", ")})`)
}

// Node .14 leaves the cluster (its speaker stops): the reflectors drop it and the others forget its block.
await Effect.runPromise(Scope.close(nodeScopes[3]!, Exit.void))
ok = (await waitUntil("the others forget the block of the node that left", () => everyoneHasEverything([0, 1, 2]))) && ok
const left = await Effect.runPromise(rrs[0]!.speaker().neighbors)
console.log(`node ${nodes[3]!.address} left: reflector ${reflectors[0]} has ${left.length} clients; node ${nodes[0]!.address} has ${(await table(speakers[0]!)).filter((r) => r.via !== "local").map((r) => r.prefix).sort().join(", ")}`)

for (const rr of rrs) await inScope(rr.shutdown("example finished"))
await Effect.runPromise(Scope.close(scope, Exit.void))
console.log(ok ? "converged: every node learned every other node's pod block" : "did not converge")
process.exit(ok ? 0 : 1)
