/**
 * A small exporter process for the restart tests: a "peer" speaker originates the routes given in the
 * config file and a "node" speaker learns them over an in-memory iBGP session; the node's Loc-RIB is
 * exported into the kernel of namespace `netns`. Prints one JSON line per exporter event on stdout.
 *
 *   node exporter-child.ts CONFIG.json
 *   { "netns": "...", "routes": [["10.9.0.0/24", "10.1.0.2"], ...], "quietMs": 1500 }   (IPv4 routes)
 */
import { readFileSync } from "node:fs"
import { parseIpv4 } from "@starling/codec"
import { makeSpeaker } from "@starling/speaker"
import { makeMemoryNetwork } from "@starling/session"
import { Effect, Logger } from "effect"
import { exportSpeaker, KernelRoutes, speakerConverged } from "../../src/index.ts"

interface Config {
  readonly netns: string
  readonly routes: ReadonlyArray<readonly [string, string]>
  readonly quietMs?: number
}

const cfg = JSON.parse(readFileSync(process.argv[2]!, "utf8")) as Config
const out = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`)

const program = Effect.gen(function*() {
  const net = yield* makeMemoryNetwork
  const peer = yield* makeSpeaker({
    localAs: 65000,
    routerId: "10.255.0.2",
    listen: [{ address: "10.255.0.2", port: 179 }],
    neighbors: [{ address: "10.255.0.1", peerAs: 65000, passive: true }],
    transport: net
  })
  for (const [p, nh] of cfg.routes) yield* peer.originate(p, { nextHop: parseIpv4(nh)! })
  const node = yield* makeSpeaker({
    localAs: 65000,
    routerId: "10.255.0.1",
    neighbors: [{ address: "10.255.0.2", peerAs: 65000, localAddress: "10.255.0.1", connectRetryTime: 1 }],
    transport: net
  })
  const exporter = yield* exportSpeaker(node, { converged: speakerConverged(node, { quietMs: cfg.quietMs ?? 1500 }), retryIntervalMs: 1000 })
  out({ _tag: "Started", pid: process.pid })
  // The history, as it grows (well under its 1000-event cap here).
  let printed = 0
  while (true) {
    const h = yield* exporter.history
    for (const e of h.slice(printed)) out(e)
    printed = h.length
    yield* Effect.sleep("50 millis")
  }
})

Effect.runFork(Effect.scoped(program).pipe(Effect.provide(KernelRoutes.layerNode({ netns: cfg.netns })), Effect.provide(Logger.layer([]))))
