/**
 * `starling demo` (the README's main command): a reflector and three node speakers converge over TCP on
 * 127.77.0.0/24, and a withdrawal reaches the other nodes.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Logger } from "effect"
import { demo } from "../src/commands/demo.ts"

describe("starling demo", () => {
  it("prints converged tables with reflection attributes, then the table after a withdrawal", async () => {
    const text = await Effect.runPromise(demo(3).pipe(Effect.provide(Logger.layer([]))))
    const sections = text.split("\n\n")
    const rr = sections.find((s) => s.startsWith("route reflector"))!
    for (const i of [1, 2, 3]) assert.match(rr, new RegExp(`10\\.244\\.${i}\\.0/26\\s+192\\.0\\.2\\.${i}\\s+127\\.77\\.0\\.1${i}`))
    const node1 = sections.find((s) => s.startsWith("node 1 "))!
    assert.match(node1, /10\.244\.1\.0\/26\s+192\.0\.2\.1\s+local/)
    // Reflected routes carry ORIGINATOR_ID (the originating node) and CLUSTER_LIST (the reflector's id).
    assert.match(node1, /10\.244\.2\.0\/26\s+192\.0\.2\.2\s+127\.77\.0\.1\s+originator 10\.0\.0\.2, cluster-list 10\.255\.0\.1/)
    assert.match(node1, /10\.244\.3\.0\/26\s+192\.0\.2\.3\s+127\.77\.0\.1\s+originator 10\.0\.0\.3, cluster-list 10\.255\.0\.1/)
    const after = text.slice(text.indexOf("node 1 withdraws")).split("\n").slice(1).join("\n")
    assert.match(after, /^node 2 /)
    assert.notMatch(after, /10\.244\.1\.0\/26/)
    assert.match(after, /10\.244\.3\.0\/26/)
  }, 60_000)
})
