/**
 * Driving the exporter against the in-memory kernel: Loc-RIB events by hand, a way to wait until the
 * exporter has applied what it was given, and kernel routes for setting up a table.
 */
import { parsePrefix } from "@starling/codec"
import type { ExporterOptions, KernelRoute } from "@starling/kernel"
import { FakeKernel, makeExporter, normalizeNextHops, RouteType } from "@starling/kernel"
import type { RouteEvent, RouteInfo } from "@starling/speaker"
import { Effect, Queue, Stream } from "effect"

export const info = (nextHop: string | undefined, local = false): RouteInfo => ({
  source: local ? "local" : `peer-${nextHop}`,
  pathId: 0,
  local,
  nextHop,
  attributes: {}
})

/** A Loc-RIB change: best path first, the rest of the multipath set after it. No next hops: withdrawn. */
export const ev = (prefix: string, ...nextHops: string[]): RouteEvent => {
  const p = parsePrefix(prefix)
  if (p === undefined) throw new Error(`bad prefix ${prefix}`)
  const paths = nextHops.map((n) => info(n))
  return { _tag: "Route", prefix: p, best: paths[0], multipath: paths }
}

/** A route this speaker originates itself. */
export const local = (prefix: string): RouteEvent => ({ _tag: "Route", prefix: parsePrefix(prefix)!, best: info("192.0.2.1", true), multipath: [info("192.0.2.1", true)] })

export const EOT: RouteEvent = { _tag: "EndOfTable" }

export const kroute = (prefix: string, vias: ReadonlyArray<string>, extra: Partial<KernelRoute> = {}): KernelRoute => ({
  prefix,
  family: prefix.includes(":") ? 6 : 4,
  table: 254,
  protocol: 201,
  metric: 32,
  type: vias.length === 0 ? RouteType.blackhole : RouteType.unicast,
  nexthops: normalizeNextHops(vias.map((via) => ({ via }))),
  ...extra
})

/** Puts a route into the fake kernel as if somebody else (or an earlier run) had. */
export const preload = (k: FakeKernel, ...routes: KernelRoute[]) => {
  for (const r of routes) {
    const res = k.run({ op: "add", route: r })
    if (!res.ok) throw new Error(res.error)
  }
}

/** An exporter over a hand-fed route stream. `push` then `sync` to see the kernel follow. */
export const harness = (options: ExporterOptions = {}) =>
  Effect.gen(function*() {
    const q = yield* Queue.unbounded<RouteEvent>()
    const exporter = yield* makeExporter(Stream.fromQueue(q), { rescanIntervalMs: 0, ...options })
    const sync = Effect.gen(function*() {
      while ((yield* Queue.size(q)) > 0) yield* Effect.yieldNow
      for (let i = 0; i < 5; i++) yield* Effect.yieldNow
      yield* exporter.settled
    })
    const push = (...evs: RouteEvent[]) => Effect.andThen(Queue.offerAll(q, evs), sync)
    return { exporter, push, sync }
  })

export { FakeKernel }
