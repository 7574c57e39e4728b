/**
 * 2–10 Starling speakers in one process converge to identical Loc-RIBs: over real TCP on loopback, and
 * over the in-memory network in virtual time.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Logger, Scope } from "effect"
import { TestClock } from "effect/testing"
import { formatPrefix, parseIpv4 } from "@starling/codec"
import type { SpeakerApi } from "@starling/speaker"
import { makeSpeaker } from "@starling/speaker"
import { makeMemoryNetwork, tcpTransport, type Transport } from "@starling/session"

const quiet = Logger.layer([])

/** Loc-RIB as comparable text: prefix → next hop and AS path (source-independent parts). */
const locRib = (s: SpeakerApi) =>
  Effect.map(s.routes, (rs) =>
    rs.map((r) => `${formatPrefix(r.prefix)} nh=${r.best.nextHop} as=${JSON.stringify(r.best.attributes.asPath)}`).sort()
  )

/** A full iBGP mesh of n speakers; speaker i originates 10.i.0.0/16 and 10.i.1.0/24. */
const mesh = (n: number, transport: Transport, host: (i: number) => string, port: number) =>
  Effect.gen(function*() {
    const speakers: SpeakerApi[] = []
    const scopes: Scope.Closeable[] = []
    const outer = yield* Effect.scope
    for (let i = 1; i <= n; i++) {
      const neighbors = []
      for (let j = 1; j <= n; j++) {
        if (j === i) continue
        neighbors.push({
          address: host(j),
          port,
          peerAs: 65000,
          localAddress: host(i),
          connectRetryTime: 1,
          holdTime: 30,
          idleHoldTime: { initial: 1, max: 4 }
        })
      }
      const scope = yield* Scope.fork(outer)
      scopes.push(scope)
      const s = yield* makeSpeaker({ localAs: 65000, routerId: `10.0.0.${i}`, listen: [{ address: host(i), port }], neighbors, transport }).pipe(
        Scope.provide(scope)
      )
      yield* s.originate(`10.${i}.0.0/16`, { nextHop: parseIpv4(`192.0.2.${i}`)! })
      yield* s.originate(`10.${i}.1.0/24`, { nextHop: parseIpv4(`192.0.2.${i}`)!, communities: [65000 * 65536 + i] })
      speakers.push(s)
    }
    return { speakers, scopes }
  })

const allEstablished = (ss: ReadonlyArray<SpeakerApi>) =>
  Effect.map(Effect.forEach(ss, (s) => s.neighbors), (ns) => ns.every((n) => n.every((x) => x.state === "Established")))

describe("speakers converge", () => {
  for (const n of [2, 5, 10]) {
    it.live(`${n} speakers over TCP loopback reach identical Loc-RIBs`, () =>
      Effect.gen(function*() {
        const { speakers: ss } = yield* mesh(n, tcpTransport, (i) => `127.70.${n}.${i}`, 1790)
        const deadline = Date.now() + 30_000
        let ribs: string[][] = []
        while (Date.now() < deadline) {
          ribs = yield* Effect.forEach(ss, locRib)
          if (ribs.every((r) => r.length === 2 * n) && (yield* allEstablished(ss))) break
          yield* Effect.sleep("100 millis")
        }
        for (const r of ribs) assert.deepStrictEqual(r, ribs[0])
        assert.strictEqual(ribs[0]!.length, 2 * n)
        // A withdrawal reaches everyone.
        yield* ss[0]!.withdraw("10.1.1.0/24")
        const until = Date.now() + 10_000
        while (Date.now() < until) {
          ribs = yield* Effect.forEach(ss, locRib)
          if (ribs.every((r) => r.length === 2 * n - 1)) break
          yield* Effect.sleep("50 millis")
        }
        for (const r of ribs) {
          assert.strictEqual(r.length, 2 * n - 1)
          assert.isFalse(r.some((x) => x.startsWith("10.1.1.0/24")))
        }
      }).pipe(Effect.scoped, Effect.provide(quiet)), 60_000)
  }

  it.effect("10 speakers over the in-memory network converge in virtual time", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork
      const n = 10
      const { speakers: ss, scopes } = yield* mesh(n, net, (i) => `10.99.0.${i}`, 179)
      let ribs: string[][] = []
      for (let step = 0; step < 120; step++) {
        yield* TestClock.adjust("500 millis")
        ribs = yield* Effect.forEach(ss, locRib)
        if (ribs.every((r) => r.length === 2 * n) && (yield* allEstablished(ss))) break
      }
      for (const r of ribs) assert.deepStrictEqual(r, ribs[0])
      assert.strictEqual(ribs[0]!.length, 2 * n)
      // Speaker 3 goes away: its sessions end, and everyone else withdraws what it learned from it.
      yield* Scope.close(scopes[2]!, Exit.void)
      for (let k = 0; k < 20; k++) yield* TestClock.adjust("100 millis")
      const others = ss.filter((_, i) => i !== 2)
      ribs = yield* Effect.forEach(others, locRib)
      for (const r of ribs) {
        assert.isFalse(r.some((x) => x.startsWith("10.3.")), `routes of the cut speaker remain: ${r.join(", ")}`)
        assert.deepStrictEqual(r, ribs[0])
      }
    }).pipe(Effect.scoped, Effect.provide(quiet)))
})
