/**
 * Embedding the Starling route reflector in a Node program.
 *
 * Two ways, side by side:
 *  1. the daemon as a library: `makeDaemon` takes the same config as `starling run` (here as text in the
 *     program), serves the management API (on a free loopback port) and can be reloaded;
 *  2. the speaker API underneath: the reflector's routes as a change stream, and two client speakers
 *     announcing their prefixes.
 *
 * Everything runs in this process on 127.79.1.0/24, port 1179. It prints what the reflector learned and
 * exits 0 (1 if the routes did not arrive).
 *
 *     node examples/embed-reflector.ts
 */
import { formatPrefix, parseIpv4 } from "@starling/codec"
import { makeDaemon, parseConfig } from "@starling/reflector/daemon/index"
import type { SpeakerApi } from "@starling/speaker"
import { makeSpeaker } from "@starling/speaker"
import { Effect, Exit, Logger, Result, Scope, Stream } from "effect"

const RR = "127.79.1.1"
const PORT = 1179
const clients = ["127.79.1.11", "127.79.1.12"]

const config = `
localAs: 64512
routerId: 10.79.1.1
listen: [{ address: ${RR}, port: ${PORT} }]
neighbors:
${clients.map((c) => `  - { address: ${c}, port: ${PORT}, peerAs: 64512, passive: true, routeReflectorClient: true }`).join("\n")}
api: { address: 127.0.0.1, port: 0 }
`

// The program's own scope: closing it stops the reflector (Cease to every session) and the speakers.
const scope = Effect.runSync(Scope.make())
const run = <A, E>(effect: Effect.Effect<A, E, Scope.Scope>): Promise<A> =>
  Effect.runPromise(effect.pipe(Scope.provide(scope), Effect.provide(Logger.layer([]))))

const loaded = parseConfig(config, "embedded config")
if (Result.isFailure(loaded)) {
  console.error(loaded.failure.message)
  process.exit(1)
}
const daemon = await run(makeDaemon(loaded.success))
const reflector = daemon.speaker()

// Every change of the reflector's Loc-RIB, as it happens (first the table as it is, then changes).
const seen: string[] = []
Effect.runFork(Stream.runForEach(reflector.changes, (e) =>
  Effect.sync(() => {
    if (e._tag === "Route") seen.push(`${e.best === undefined ? "-" : "+"} ${formatPrefix(e.prefix)}${e.best === undefined ? "" : ` from ${e.best.source}`}`)
  })))

// Two clients, each announcing a prefix with itself as next hop.
const speakers: SpeakerApi[] = []
for (const [i, address] of clients.entries()) {
  const s = await run(makeSpeaker({
    localAs: 64512,
    routerId: `10.79.1.${11 + i}`,
    neighbors: [{ address: RR, port: PORT, peerAs: 64512, localAddress: address, connectRetryTime: 1 }]
  }))
  await Effect.runPromise(s.originate(`10.${100 + i}.0.0/16`, { nextHop: parseIpv4(address)! }))
  speakers.push(s)
}

const deadline = Date.now() + 15_000
let learned = 0
while (Date.now() < deadline) {
  const counts = await Promise.all(speakers.map((s) => Effect.runPromise(Effect.map(s.routes, (r) => r.length))))
  learned = counts.reduce((a, b) => a + b, 0)
  if (learned === speakers.length * speakers.length) break
  await new Promise((r) => setTimeout(r, 100))
}

// The management API works as it does for `starling run`.
const api = daemon.api()!
const neighbors = (await (await fetch(`http://127.0.0.1:${api.port}/neighbors`)).json()) as Array<{ address: string; state: string; routesReceived: number }>
console.log(`reflector ${RR}: API on 127.0.0.1:${api.port}`)
for (const n of neighbors) console.log(`  neighbor ${n.address}: ${n.state}, ${n.routesReceived} route(s) received`)
console.log("reflector Loc-RIB changes seen:")
for (const line of seen) console.log(`  ${line}`)
for (const [i, s] of speakers.entries()) {
  const routes = await Effect.runPromise(s.routes)
  console.log(`client ${clients[i]} has: ${routes.map((r) => `${formatPrefix(r.prefix)} via ${r.best.nextHop}`).sort().join(", ")}`)
}

await run(daemon.shutdown("example finished"))
await Effect.runPromise(Scope.close(scope, Exit.void))
const ok = learned === speakers.length * speakers.length
console.log(ok ? "every client learned every prefix through the reflector" : "the routes did not converge in time")
process.exit(ok ? 0 : 1)
