/**
 * One Calico-style node (or the route reflector) for the end-to-end tests, run inside its network
 * namespace: `ip netns exec NS node calico-node.ts CONFIG.json` (a process's sockets live in its
 * namespace, so each node is its own process).
 *
 * node: a Starling speaker peering with the reflector; the importer announces the node's pod block (the
 *       connected route of the pod interface) with the node's address as next hop; the exporter installs
 *       the other nodes' blocks (IPv4 over tunl0, onlink, in IP-in-IP mode) and a blackhole for its own.
 * rr:   a Starling route reflector with the nodes as clients.
 * Prints JSON status lines on stdout every 200 ms.
 */
import { readFileSync } from "node:fs"
import { Afi, formatPrefix, Safi } from "@starling/codec"
import { makeReflector } from "@starling/reflector"
import type { SpeakerApi } from "@starling/speaker"
import { makeSpeaker } from "@starling/speaker"
import { Effect, Logger, Stream } from "effect"
import { exportSpeaker, KernelRoutes, makeImporter } from "../../src/index.ts"

interface Config {
  readonly role: "node" | "rr"
  readonly address: string
  readonly routerId: string
  readonly localAs: number
  /** node: the reflector's address. */
  readonly rr?: string
  /** rr: the nodes' addresses. */
  readonly clients?: ReadonlyArray<string>
  /** node: pod networks to announce (connected routes inside them). */
  readonly podCidrs?: ReadonlyArray<string>
  readonly nextHopV6?: string
  /** IPv4 routes through tunl0, onlink (Calico's IP-in-IP mode); IPv6 stays on the underlying link. */
  readonly ipip?: boolean
}

const cfg = JSON.parse(readFileSync(process.argv[2]!, "utf8")) as Config
const families = [{ afi: Afi.IPV4, safi: Safi.UNICAST }, { afi: Afi.IPV6, safi: Safi.UNICAST }]

/** Session events go to stderr (the test shows them when it fails). */
const sessionLog = (s: SpeakerApi) =>
  Effect.forkScoped(Stream.runForEach(s.sessionEvents, (e) =>
    Effect.sync(() => process.stderr.write(`${new Date().toISOString()} ${JSON.stringify(e, (_k, v) => (v instanceof Uint8Array ? undefined : typeof v === "bigint" ? String(v) : v))}\n`))))

const report = (s: SpeakerApi, extra: Effect.Effect<Record<string, unknown>>) =>
  Effect.forever(Effect.gen(function*() {
    const routes = yield* s.routes
    const ns = yield* s.neighbors
    process.stdout.write(`${JSON.stringify({
      routes: routes.map((r) => `${formatPrefix(r.prefix)} ${r.best.nextHop ?? "-"}`).sort(),
      neighbors: ns.map((n) => `${n.address} ${n.state}${n.lastDown === undefined ? "" : ` (last down: ${JSON.stringify(n.lastDown)})`}`),
      ...(yield* extra)
    })}\n`)
    yield* Effect.sleep("200 millis")
  }))

const program = Effect.gen(function*() {
  if (cfg.role === "rr") {
    const rr = yield* makeReflector({
      localAs: cfg.localAs,
      routerId: cfg.routerId,
      listen: [{ address: cfg.address, port: 179 }],
      neighbors: (cfg.clients ?? []).map((c) => ({ address: c, peerAs: cfg.localAs, passive: true, routeReflectorClient: true, families, holdTime: 9 }))
    })
    yield* sessionLog(rr)
    return yield* report(rr, Effect.succeed({}))
  }
  const s = yield* makeSpeaker({
    localAs: cfg.localAs,
    routerId: cfg.routerId,
    neighbors: [{
      address: cfg.rr!,
      peerAs: cfg.localAs,
      localAddress: cfg.address,
      connectRetryTime: 1,
      holdTime: 9,
      families,
      ...(cfg.nextHopV6 === undefined ? {} : { nextHopV6: cfg.nextHopV6 })
    }]
  })
  yield* sessionLog(s)
  const exporter = yield* exportSpeaker(s, {
    localRoutes: "blackhole",
    retryIntervalMs: 1000,
    ...(cfg.ipip === true ? { nextHop: (a: string, family: 4 | 6) => (family === 4 ? { via: a, dev: "tunl0", onlink: true } : { via: a }) } : {})
  })
  const importer = yield* makeImporter(s, {
    select: [{ protocols: [2], prefixes: cfg.podCidrs ?? [] }],
    nextHop: cfg.address,
    ...(cfg.nextHopV6 === undefined ? {} : { nextHopV6: cfg.nextHopV6 }),
    rescanIntervalMs: 5000
  })
  return yield* report(s, Effect.gen(function*() {
    const st = yield* exporter.status
    return { installed: st.installed, failed: st.failed, announced: yield* importer.announced }
  }))
})

Effect.runFork(Effect.scoped(program).pipe(Effect.provide(KernelRoutes.layerNode()), Effect.provide(Logger.layer([]))))
