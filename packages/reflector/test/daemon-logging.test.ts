/**
 * Logs: Effect's logs reach pino with their annotations as fields, pino's level (which a reload changes)
 * decides what is written, a failure's cause is kept, and the terminal format is readable.
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect } from "effect"
import { makePino, pinoLayer, prettyLine } from "../src/daemon/logging.ts"

const capture = (format: "json" | "pretty", level: "info" | "debug" = "info") => {
  const lines: string[] = []
  const logger = makePino({ level, format }, { write: (l: string) => void lines.push(l), isTTY: false })
  const run = (eff: Effect.Effect<void>) => Effect.runSync(eff.pipe(Effect.provide(pinoLayer(logger))))
  return { lines, logger, run, json: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) }
}

describe("logging", () => {
  it("bridges Effect logs to pino JSON lines with annotations as fields", () => {
    const c = capture("json")
    c.run(Effect.logInfo("session up").pipe(Effect.annotateLogs({ peer: "10.0.0.2", peerAs: 64512 })))
    c.run(Effect.logWarning("careful", { extra: 1 }))
    const [a, b] = c.json()
    expect(a).toMatchObject({ level: 30, msg: "session up", peer: "10.0.0.2", peerAs: 64512, pid: process.pid })
    expect(typeof a!.time).toBe("number")
    expect(b).toMatchObject({ level: 40, msg: "careful", extra: 1 })
  })

  it("pino's level decides, and can change while running (reload)", () => {
    const c = capture("json")
    c.run(Effect.logDebug("hidden"))
    expect(c.lines).toEqual([])
    c.logger.level = "debug"
    c.run(Effect.logDebug("shown"))
    expect(c.json().map((l) => [l.level, l.msg])).toEqual([[20, "shown"]])
  })

  it("keeps the cause of a failure", () => {
    const c = capture("json")
    c.run(Effect.logError("RIB fiber: input failed", Cause.fail(new Error("boom"))))
    const [line] = c.json()
    expect(line!.level).toBe(50)
    expect(String(line!.err)).toContain("boom")
  })

  it("pretty: time, level, message, key=value", () => {
    const c = capture("pretty")
    c.run(Effect.logInfo("session down: hold timer expired").pipe(Effect.annotateLogs({ peer: "10.0.0.2", reason: "HoldTimerExpired" })))
    expect(c.lines[0]).toMatch(/^\d\d:\d\d:\d\d\.\d\d\d INFO  session down: hold timer expired peer=10\.0\.0\.2 reason=HoldTimerExpired\n$/)
    expect(prettyLine(JSON.stringify({ level: 50, time: 0, msg: "x", name: "node a" }))).toBe(`00:00:00.000 ERROR x name="node a"\n`)
    expect(prettyLine("not json")).toBe("not json")
  })
})
