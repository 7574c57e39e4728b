/**
 * `starling demo`: no config at all. A route reflector and a few node speakers (Calico-style: each
 * announces its pod block) start in this process on loopback addresses, peer over real TCP, converge, and
 * the converged tables are printed. Then one node withdraws its block and the change is shown.
 */
import { Effect, Fiber, Logger, Stream } from "effect"
import { formatIpv4, formatPrefix, parseIpv4 } from "@starling/codec"
import type { SpeakerApi } from "@starling/speaker"
import { makeSpeaker } from "@starling/speaker"
import { makeReflector } from "@starling/reflector"
import { formatAsPath } from "@starling/rib"

const AS = 64512
const PORT = 1179
/** A loopback /24 of its own so the demo never collides with a real BGP speaker on port 179. */
const host = (n: number) => `127.77.0.${n}`

const table = (name: string, rows: ReadonlyArray<{ prefix: string; nextHop: string; from: string; extra: string }>): string => {
  const w = (k: "prefix" | "nextHop" | "from") => Math.max(k.length, ...rows.map((r) => r[k].length))
  const pad = (s: string, n: number) => s.padEnd(n)
  const head = `${pad("prefix", w("prefix"))}  ${pad("nextHop", w("nextHop"))}  ${pad("from", w("from"))}  attributes`
  return [`${name}`, `  ${head}`, ...rows.map((r) => `  ${pad(r.prefix, w("prefix"))}  ${pad(r.nextHop, w("nextHop"))}  ${pad(r.from, w("from"))}  ${r.extra}`)].join("\n")
}

const show = (name: string, s: SpeakerApi) =>
  Effect.map(s.routes, (routes) =>
    table(
      name,
      routes
        .map((r) => ({
          prefix: formatPrefix(r.prefix),
          nextHop: r.best.nextHop ?? "-",
          from: r.best.source,
          extra: [
            r.best.attributes.originatorId === undefined ? "" : `originator ${formatIpv4(r.best.attributes.originatorId)}`,
            r.best.attributes.clusterList === undefined ? "" : `cluster-list ${r.best.attributes.clusterList.map(formatIpv4).join(" ")}`,
            `as-path [${formatAsPath(r.best.attributes)}]`
          ].filter((x) => x !== "").join(", ")
        }))
        .sort((a, b) => a.prefix.localeCompare(b.prefix, "en", { numeric: true }))
    ))

export const demo = (nodes = 3) =>
  Effect.scoped(Effect.gen(function*() {
    const rrAddress = host(1)
    const nodeAddress = (i: number) => host(10 + i)
    const rr = yield* makeReflector({
      localAs: AS,
      routerId: "10.255.0.1",
      listen: [{ address: rrAddress, port: PORT }],
      neighbors: Array.from({ length: nodes }, (_, i) => ({
        address: nodeAddress(i + 1),
        port: PORT,
        peerAs: AS,
        passive: true,
        routeReflectorClient: true,
        holdTime: 9
      }))
    })
    const speakers: SpeakerApi[] = []
    for (let i = 1; i <= nodes; i++) {
      const s = yield* makeSpeaker({
        localAs: AS,
        routerId: `10.0.0.${i}`,
        neighbors: [{ address: rrAddress, port: PORT, peerAs: AS, localAddress: nodeAddress(i), connectRetryTime: 1, holdTime: 9 }]
      })
      // Each node owns a /26 pod block, reachable via its own address (as Calico's BIRD announces it).
      yield* s.originate(`10.244.${i}.0/26`, { nextHop: parseIpv4(`192.0.2.${i}`)! })
      speakers.push(s)
    }
    const expected = nodes
    const converged = (s: SpeakerApi) => Effect.map(s.routes, (r) => r.length === expected)
    const deadline = Date.now() + 15_000
    while (Date.now() < deadline) {
      const all = yield* Effect.forEach([rr, ...speakers], converged)
      if (all.every((x) => x)) break
      yield* Effect.sleep("100 millis")
    }
    const out: string[] = []
    out.push(`Starling demo: one route reflector (${rrAddress}, AS ${AS}) and ${nodes} node speakers on loopback, port ${PORT}.`)
    out.push("")
    out.push(yield* show(`route reflector ${rrAddress}`, rr))
    for (const [i, s] of speakers.entries()) {
      out.push("")
      out.push(yield* show(`node ${i + 1} (${nodeAddress(i + 1)})`, s))
    }
    // Watch node 2's table change when node 1 withdraws its block.
    const watch = yield* Effect.forkChild(
      Stream.runCollect(Stream.take(Stream.filter(speakers[1]!.changes, (e) => e._tag === "Route" && e.best === undefined), 1))
    )
    yield* Effect.sleep("100 millis")
    yield* speakers[0]!.withdraw("10.244.1.0/26")
    yield* Fiber.join(watch).pipe(Effect.timeoutOption("5 seconds"))
    yield* speakers[2]!.settled
    out.push("")
    out.push("node 1 withdraws 10.244.1.0/26:")
    out.push(yield* show(`node 2 (${nodeAddress(2)})`, speakers[1]!))
    return out.join("\n")
  }))

export const run = async (args: ReadonlyArray<string>): Promise<number> => {
  const nodes = args.includes("--nodes") ? Number(args[args.indexOf("--nodes") + 1]) : 3
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > 50) {
    process.stderr.write("usage: starling demo [--nodes N]   (1 ≤ N ≤ 50)\n")
    return 2
  }
  const text = await Effect.runPromise(demo(nodes).pipe(Effect.provide(quietLogs)))
  process.stdout.write(`${text}\n`)
  return 0
}

const quietLogs = Logger.layer([])
