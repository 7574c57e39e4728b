/**
 * The route-change stream: a new subscriber gets the full table, then EndOfTable, then every change —
 * with nothing lost or doubled between the snapshot and the live changes, even while routes change.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Stream } from "effect"
import { formatPrefix } from "@starling/codec"
import { makeMemoryNetwork } from "@starling/session"
import type { RouteEvent, SpeakerApi } from "@starling/speaker"
import { acceptEverything, connectRaw, drain, ipv4Block, nh, quiet, settle, starling } from "./support/harness.ts"

/** Replays events into a table (prefix → next hop and MED), checking the stream's shape on the way. */
const replay = (events: ReadonlyArray<RouteEvent>) => {
  const table = new Map<string, string>()
  const end = events.findIndex((e) => e._tag === "EndOfTable")
  assert.isAtLeast(end, 0, "EndOfTable arrives")
  assert.strictEqual(events.filter((e) => e._tag === "EndOfTable").length, 1)
  const snapshot = events.slice(0, end)
  // The snapshot holds each destination once, all with a best path.
  assert.strictEqual(new Set(snapshot.map((e) => (e._tag === "Route" ? formatPrefix(e.prefix) : ""))).size, snapshot.length)
  for (const e of events) {
    if (e._tag !== "Route") continue
    const key = formatPrefix(e.prefix)
    const state = e.best === undefined ? undefined : `${e.best.nextHop} med=${e.best.attributes.med}`
    // Every change changes something (here each announcement carries a new MED): an event repeating
    // the state the subscriber already has was delivered twice (in the snapshot and live).
    assert.notStrictEqual(state, table.get(key), `${key} repeated`)
    if (state === undefined) table.delete(key)
    else table.set(key, state)
  }
  return { table, snapshot: snapshot.length }
}

const locRib = (s: SpeakerApi) =>
  Effect.map(s.routes, (rs) => new Map(rs.map((r) => [formatPrefix(r.prefix), `${r.best.nextHop} med=${r.best.attributes.med}`])))

describe("route-change stream", () => {
  it.effect("full table, EndOfTable, then changes, in order", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork
      const s = yield* starling(net, [])
      yield* s.originate("192.0.2.0/24", { nextHop: nh("192.0.2.1") })
      yield* s.originate("198.51.100.0/24", { nextHop: nh("192.0.2.1") })
      const events: RouteEvent[] = []
      const fiber = yield* Effect.forkChild(Stream.runForEach(s.changes, (e) => Effect.sync(() => void events.push(e))))
      yield* drain(s)
      yield* s.withdraw("192.0.2.0/24")
      yield* s.originate("203.0.113.0/24", { nextHop: nh("192.0.2.2"), med: 3 })
      yield* drain(s)
      yield* settle
      const text = events.map((e) => (e._tag === "EndOfTable" ? "END" : `${formatPrefix(e.prefix)} ${e.best === undefined ? "-" : e.best.nextHop}`))
      assert.deepStrictEqual(text.slice(0, 2).sort(), ["192.0.2.0/24 192.0.2.1", "198.51.100.0/24 192.0.2.1"])
      assert.deepStrictEqual(text.slice(2), ["END", "192.0.2.0/24 -", "203.0.113.0/24 192.0.2.2"])
      yield* Fiber.interrupt(fiber)
    }).pipe(Effect.provide(quiet)))

  it.effect("a subscriber that joins while routes change misses nothing and sees nothing twice", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork
      const policy = acceptEverything()
      const s = yield* starling(net, [{ address: "10.0.2.1", peerAs: 65001, importPolicy: policy, exportPolicy: policy }])
      const e = yield* connectRaw(net, { address: "10.0.2.1", as: 65001 })
      const prefixes = ipv4Block("10.1.0.0", 400)
      // A churning producer: announcements, re-announcements with new MEDs and withdrawals, from the peer
      // (UPDATEs) and the API at once.
      const producer = yield* Effect.forkChild(Effect.gen(function*() {
        for (let round = 0; round < 8; round++) {
          const slice = prefixes.slice(round * 40, round * 40 + 120)
          yield* e.announce(slice, { origin: 0, asPath: [{ type: 2, asns: [65001] }], nextHop: nh("192.0.2.60"), med: round })
          yield* s.originate(`172.16.${round}.0/24`, { nextHop: nh("192.0.2.1"), med: round })
          if (round % 2 === 1) yield* e.withdraw(prefixes.slice(round * 40 - 40, round * 40 - 20))
          if (round === 5) yield* s.withdraw("172.16.1.0/24")
          yield* settle
        }
      }))
      // Subscribers join at different moments of the churn.
      const subscribers: Array<{ events: RouteEvent[]; fiber: Fiber.Fiber<void> }> = []
      for (let k = 0; k < 4; k++) {
        const events: RouteEvent[] = []
        const fiber = yield* Effect.forkChild(Stream.runForEach(s.changes, (ev) => Effect.sync(() => void events.push(ev))))
        subscribers.push({ events, fiber })
        for (let y = 0; y < 7 * (k + 1); y++) yield* Effect.yieldNow
      }
      yield* Fiber.join(producer)
      yield* drain(s)
      yield* settle
      const expected = yield* locRib(s)
      assert.isAbove(expected.size, 100)
      const snapshots: number[] = []
      for (const sub of subscribers) {
        const { table, snapshot } = replay(sub.events)
        snapshots.push(snapshot)
        assert.deepStrictEqual([...table.entries()].sort(), [...expected.entries()].sort())
        yield* Fiber.interrupt(sub.fiber)
      }
      // The subscribers really joined at different points (different snapshot sizes).
      assert.isAbove(new Set(snapshots).size, 1, `snapshot sizes ${snapshots.join(", ")}`)
    }).pipe(Effect.provide(quiet)))
})
