/**
 * Starling's route reflector as a process of its own, for the benchmarks: `node bench/dut/starling-rr.ts
 * CONFIG.json`. The config is a `SpeakerConfig` as JSON (neighbors with `routeReflectorClient`), started
 * with `makeReflector`. Prints "ready" once the listeners are open, runs until SIGTERM/SIGINT, logs
 * nothing (logging off is part of the equivalent configs). On SIGUSR2 it prints "mem {...}": memory after
 * a full garbage collection when started with --expose-gc.
 */
import { readFileSync } from "node:fs"
import { Deferred, Effect, Exit, Logger, Scope } from "effect"
import { makeReflector } from "@starling/reflector"
import type { SpeakerConfig } from "@starling/speaker"

const file = process.argv[2]
if (file === undefined) {
  process.stderr.write("usage: node bench/dut/starling-rr.ts CONFIG.json\n")
  process.exit(2)
}
const config = JSON.parse(readFileSync(file, "utf8")) as SpeakerConfig

const main = Effect.gen(function*() {
  const scope = yield* Scope.make()
  const stop = yield* Deferred.make<void>()
  const rr = yield* makeReflector(config).pipe(Scope.provide(scope))
  process.stdout.write(`ready ${rr.listeners.length}\n`)
  const onSignal = () => Effect.runFork(Deferred.succeed(stop, undefined))
  process.once("SIGTERM", onSignal)
  process.once("SIGINT", onSignal)
  // The harness holds our stdin: when it goes away (killed), so do we.
  process.stdin.on("close", onSignal)
  process.stdin.resume()
  // SIGUSR2: live memory after a full collection (with --expose-gc), to tell live data from garbage.
  process.on("SIGUSR2", () => {
    const gc = (globalThis as { gc?: () => void }).gc
    gc?.()
    const m = process.memoryUsage()
    process.stdout.write(`mem ${JSON.stringify({ gc: gc !== undefined, rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers })}\n`)
  })
  yield* Deferred.await(stop)
  yield* Scope.close(scope, Exit.void)
})

Effect.runPromise(main.pipe(Effect.provide(Logger.layer([])))).then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`starling-rr: ${String(e)}\n`)
    process.exit(1)
  }
)
