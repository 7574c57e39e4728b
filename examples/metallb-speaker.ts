/**
 * A MetalLB-style speaker: each node that runs a service's pods announces the service's LoadBalancer
 * address (a /32 from the service pool) to the upstream router over eBGP, and withdraws it when the
 * service goes away. The router sees one path per announcing node and spreads traffic over them (ECMP).
 *
 * Both sides are Starling speakers in this process on 127.79.3.0/24, port 1179: the router (AS 64501)
 * at .1 accepts only /32s from the pool 198.51.100.0/24; the nodes (AS 64500) at .11 and .12 export
 * only the pool (eBGP needs a policy both ways, RFC 8212). Prints the router's table as services come
 * and go; exits 0 when it saw what it should, 1 otherwise.
 *
 *     node examples/metallb-speaker.ts
 */
import { formatPrefix } from "@starling/codec"
import type { PolicyDefinition } from "@starling/rib"
import { compilePolicy } from "@starling/rib"
import type { SpeakerApi } from "@starling/speaker"
import { makeSpeaker } from "@starling/speaker"
import { Effect, Exit, Logger, Scope } from "effect"

const PORT = 1179
const ROUTER = { address: "127.79.3.1", as: 64501 }
const NODES = [{ address: "127.79.3.11", name: "node-a" }, { address: "127.79.3.12", name: "node-b" }]
const NODE_AS = 64500

/** Service addresses only: /32s out of the pool. */
const pool: PolicyDefinition = { statements: [{ match: { prefixes: [{ prefix: "198.51.100.0/24", ge: 32, le: 32 }] }, action: "accept" }] }

const scope = Effect.runSync(Scope.make())
const start = <A, E>(effect: Effect.Effect<A, E, Scope.Scope>): Promise<A> =>
  Effect.runPromise(effect.pipe(Scope.provide(scope), Effect.provide(Logger.layer([]))))
const run = <A, E>(effect: Effect.Effect<A, E>): Promise<A> => Effect.runPromise(effect)

const router = await start(makeSpeaker({
  localAs: ROUTER.as,
  routerId: "10.79.3.1",
  listen: [{ address: ROUTER.address, port: PORT }],
  policies: { "service-pool": compilePolicy(pool, "service-pool") },
  // ECMP over the nodes announcing the same service address.
  decision: { maxPaths: 8 },
  neighbors: NODES.map((n) => ({ address: n.address, peerAs: NODE_AS, passive: true, importPolicy: "service-pool", name: n.name }))
}))

const speakers: SpeakerApi[] = []
for (const [i, n] of NODES.entries()) {
  speakers.push(await start(makeSpeaker({
    localAs: NODE_AS,
    routerId: `10.79.3.${11 + i}`,
    policies: { "service-pool": compilePolicy(pool, "service-pool") },
    // eBGP: the next hop is the node's own address on the session (where the service's traffic goes).
    neighbors: [{ address: ROUTER.address, port: PORT, peerAs: ROUTER.as, localAddress: n.address, exportPolicy: "service-pool", connectRetryTime: 1 }]
  })))
}

const routerTable = async () => {
  const routes = await run(router.routes)
  return routes
    .map((r) => `${formatPrefix(r.prefix)} via ${r.multipath.map((p) => p.nextHop).sort().join(" and ")}`)
    .sort()
}

const waitFor = async (what: string, expected: ReadonlyArray<string>): Promise<boolean> => {
  const deadline = Date.now() + 15_000
  let last: string[] = []
  while (Date.now() < deadline) {
    last = await routerTable()
    if (JSON.stringify(last) === JSON.stringify(expected)) {
      console.log(`${what}:\n${last.map((l) => `  ${l}`).join("\n") || "  (no routes)"}`)
      return true
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  console.log(`${what}: expected ${JSON.stringify(expected)}, the router has ${JSON.stringify(last)}`)
  return false
}

let ok = true
// Service "web" (198.51.100.10) has pods on both nodes; "db" (198.51.100.20) only on node-a. A /24
// announced by mistake is not a service address: the router's import policy drops it.
for (const s of speakers) await run(s.originate("198.51.100.10/32"))
await run(speakers[0]!.originate("198.51.100.20/32"))
await run(speakers[0]!.originate("198.51.100.0/24"))
ok = (await waitFor("the router learns the service addresses (web on both nodes: ECMP)", [
  "198.51.100.10/32 via 127.79.3.11 and 127.79.3.12",
  "198.51.100.20/32 via 127.79.3.11"
])) && ok

// web's pod on node-b goes: node-b withdraws; db is deleted: node-a withdraws.
await run(speakers[1]!.withdraw("198.51.100.10/32"))
await run(speakers[0]!.withdraw("198.51.100.20/32"))
ok = (await waitFor("after web left node-b and db was deleted", ["198.51.100.10/32 via 127.79.3.11"])) && ok

await Effect.runPromise(Scope.close(scope, Exit.void))
console.log(ok ? "the router followed the services" : "the router's table was not as expected")
process.exit(ok ? 0 : 1)
