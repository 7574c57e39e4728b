/**
 * A host process for S3 over TCP: runs the Starling speakers of `PLANS.json` (one or more SpeakerPlans
 * from bench/lab/cluster.ts) and takes commands as JSON lines on stdin, answering on stdout:
 *
 *   {"op":"go"}                  enable every neighbor (the cold start)
 *   {"op":"expect","n":N}        report {"ev":"count","id","t"} when a speaker's Loc-RIB holds N routes
 *   {"op":"flap","id":ID,"on":B} take a speaker's sessions down (Cease) or bring them back
 *   {"op":"stats"}               sessions, UPDATEs, octets written, memory
 *   {"op":"exit"}
 *
 * Times are process.hrtime (CLOCK_MONOTONIC: comparable across processes on one machine), as strings of
 * nanoseconds.
 */
import { readFileSync } from "node:fs"
import { createInterface } from "node:readline"
import { Effect, Exit, Logger, Scope } from "effect"
import { tcpTransport } from "@starling/session"
import { countingTransport, enableAll, setEnabled, type SpeakerPlan, speakerStats, startSpeakers, type Tracked, type Wire } from "../lab/cluster.ts"

const file = process.argv[2]
if (file === undefined) {
  process.stderr.write("usage: node bench/dut/mesh-node.ts PLANS.json\n")
  process.exit(2)
}
const plans = JSON.parse(readFileSync(file, "utf8")) as SpeakerPlan[]
const say = (o: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(o)}\n`)
const now = () => process.hrtime.bigint().toString()
const quiet = Logger.layer([])
const run = <A>(e: Effect.Effect<A, unknown>): Promise<A> => Effect.runPromise(e.pipe(Effect.provide(quiet)))

const main = async () => {
  const scope = Effect.runSync(Scope.make())
  const wire: Wire = { bytesOut: 0, writes: 0 }
  const tracked: Tracked[] = await run(startSpeakers(plans, countingTransport(tcpTransport, wire)).pipe(Scope.provide(scope)))
  say({ ev: "ready", speakers: tracked.length, pid: process.pid })
  const rl = createInterface({ input: process.stdin })
  for await (const line of rl) {
    if (line.trim() === "") continue
    const cmd = JSON.parse(line) as { op: string; n?: number; id?: string; on?: boolean }
    switch (cmd.op) {
      case "go":
        await run(enableAll(tracked))
        say({ ev: "ok", op: "go", t: now() })
        break
      case "expect": {
        const n = cmd.n!
        for (const t of tracked) {
          t.watchers.clear()
          const w = (c: number) => {
            if (c === n) say({ ev: "count", id: t.plan.id, n, t: now() })
          }
          t.watchers.add(w)
          w(t.count)
        }
        break
      }
      case "flap": {
        const t = tracked.find((x) => x.plan.id === cmd.id)
        if (t !== undefined) await run(setEnabled(t, cmd.on === true))
        say({ ev: "ok", op: "flap", t: now() })
        break
      }
      case "stats": {
        const speakers = await run(Effect.forEach(tracked, speakerStats))
        const m = process.memoryUsage()
        say({ ev: "stats", speakers, bytesOut: wire.bytesOut, rss: m.rss, heapUsed: m.heapUsed })
        break
      }
      case "exit":
        await run(Scope.close(scope, Exit.void))
        process.exit(0)
    }
  }
  await run(Scope.close(scope, Exit.void))
  process.exit(0)
}

main().catch((e) => {
  process.stderr.write(`mesh-node: ${e instanceof Error ? e.stack : String(e)}\n`)
  process.exit(1)
})
