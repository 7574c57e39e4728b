/**
 * The exporter against the in-memory kernel (the kernel's rules for route slots, EEXIST/ESRCH, protocol
 * matched deletes), in virtual time: following the Loc-RIB, ECMP, blackholes, ownership, refusal and
 * retry, graceful restart, repair after outside changes, dry run, flush. A model-based property test
 * drives random RIB changes and outside interference and checks the invariants after each round.
 */
import { assert, describe, it } from "@effect/vitest"
import { ConfigError } from "@starling/speaker"
import { Deferred, Effect, Exit, Logger } from "effect"
import { TestClock } from "effect/testing"
import fc from "fast-check"
import { FibSync, KernelRoutes } from "@starling/kernel"
import { EOT, ev, FakeKernel, harness, kroute, local, preload } from "./support/fake.ts"

const quiet = Logger.layer([])
const run = <A, E>(kernel: FakeKernel, eff: Effect.Effect<A, E, KernelRoutes | import("effect").Scope.Scope>, options: { dryRun?: boolean } = {}) =>
  eff.pipe(Effect.provide(KernelRoutes.layerTest(kernel, options)), Effect.provide(quiet))

describe("following the Loc-RIB", () => {
  it.effect("routes appear, change and disappear with the RIB, IPv4 and IPv6", () => {
    const k = new FakeKernel()
    return run(k, Effect.gen(function*() {
      const h = yield* harness()
      yield* h.push(ev("10.9.0.0/24", "10.1.0.2"), ev("2001:db8:1::/64", "2001:db8::2"), EOT)
      assert.deepStrictEqual(k.show(201), [
        "10.9.0.0/24 table 254 proto 201 metric 32 nh 10.1.0.2",
        "2001:db8:1::/64 table 254 proto 201 metric 32 nh 2001:db8::2"
      ])
      yield* h.push(ev("10.9.0.0/24", "10.1.0.3"))
      // A change: ours out (by protocol), the new one in (EXCL), adjacent in one batch.
      assert.deepStrictEqual(k.batches.at(-1), ["route del 10.9.0.0/24 table 254 proto 201 metric 32", "route add 10.9.0.0/24 table 254 proto 201 metric 32 via 10.1.0.3"])
      assert.deepInclude(k.show(201), "10.9.0.0/24 table 254 proto 201 metric 32 nh 10.1.0.3")
      yield* h.push(ev("10.9.0.0/24"), ev("2001:db8:1::/64"))
      assert.deepStrictEqual(k.show(201), [])
      assert.deepStrictEqual(k.batches.at(-1)?.slice().sort(), [
        "route del 10.9.0.0/24 table 254 proto 201 metric 32",
        "route del 2001:db8:1::/64 table 254 proto 201 metric 32"
      ])
    }))
  })

  it.effect("the multipath set becomes ECMP next hops; a change of the set replaces the route", () => {
    const k = new FakeKernel()
    return run(k, Effect.gen(function*() {
      const h = yield* harness()
      yield* h.push(ev("10.9.0.0/24", "10.1.0.3", "10.1.0.2"), EOT)
      assert.deepStrictEqual(k.batches.at(-1), ["route add 10.9.0.0/24 table 254 proto 201 metric 32 nexthop via 10.1.0.2 weight 1 nexthop via 10.1.0.3 weight 1"])
      yield* h.push(ev("10.9.0.0/24", "10.1.0.3", "10.1.0.2", "10.1.0.4"))
      assert.deepStrictEqual(k.show(201), ["10.9.0.0/24 table 254 proto 201 metric 32 nh 10.1.0.2 nh 10.1.0.3 nh 10.1.0.4"])
      // Same set in another order: nothing to do.
      const before = k.batches.length
      yield* h.push(ev("10.9.0.0/24", "10.1.0.4", "10.1.0.2", "10.1.0.3"))
      assert.strictEqual(k.batches.length, before)
    }))
  })

  it.effect("multipath off: the best path only", () => {
    const k = new FakeKernel()
    return run(k, Effect.gen(function*() {
      const h = yield* harness({ multipath: false })
      yield* h.push(ev("10.9.0.0/24", "10.1.0.3", "10.1.0.2"), EOT)
      assert.deepStrictEqual(k.show(201), ["10.9.0.0/24 table 254 proto 201 metric 32 nh 10.1.0.3"])
    }))
  })

  it.effect("own routes: left out by default, blackholes on request (Calico's owned blocks)", () => {
    const k1 = new FakeKernel()
    const k2 = new FakeKernel()
    return Effect.gen(function*() {
      yield* run(k1, Effect.gen(function*() {
        const h = yield* harness()
        yield* h.push(local("10.244.1.0/26"), ev("10.244.2.0/26", "10.99.0.2"), EOT)
      }))
      assert.deepStrictEqual(k1.show(201), ["10.244.2.0/26 table 254 proto 201 metric 32 nh 10.99.0.2"])
      yield* run(k2, Effect.gen(function*() {
        const h = yield* harness({ localRoutes: "blackhole" })
        yield* h.push(local("10.244.1.0/26"), ev("10.244.2.0/26", "10.99.0.2"), EOT)
      }))
      assert.deepStrictEqual(k2.show(201), ["10.244.2.0/26 table 254 proto 201 metric 32 nh 10.99.0.2", "blackhole 10.244.1.0/26 table 254 proto 201 metric 32"])
    })
  })

  it.effect("IP-in-IP: next hops over tunl0, onlink; table, metric and protocol as configured", () => {
    const k = new FakeKernel()
    return run(k, Effect.gen(function*() {
      const h = yield* harness({ device: "tunl0", onlink: true, table: 100, metric: 7, protocol: 77 })
      yield* h.push(ev("10.244.2.0/26", "192.168.0.12"), EOT)
      assert.deepStrictEqual(k.batches.at(-1), ["route add 10.244.2.0/26 table 100 proto 77 metric 7 via 192.168.0.12 dev tunl0 onlink"])
    }))
  })

  it.effect("a next-hop hook decides per route (Calico CrossSubnet: the tunnel only off the local subnet)", () => {
    const k = new FakeKernel()
    return run(k, Effect.gen(function*() {
      const h = yield* harness({
        nextHop: (a) => (a.startsWith("10.99.0.") ? { via: a } : { via: a, dev: "tunl0", onlink: true })
      })
      yield* h.push(ev("10.244.2.0/26", "10.99.0.2"), ev("10.244.3.0/26", "10.98.0.3"), EOT)
      assert.deepStrictEqual(k.show(201), [
        "10.244.2.0/26 table 254 proto 201 metric 32 nh 10.99.0.2",
        "10.244.3.0/26 table 254 proto 201 metric 32 nh 10.98.0.3%tunl0 onlink"
      ])
    }))
  })

  it.effect("configuration that would claim other routes is refused", () =>
    run(new FakeKernel(), Effect.gen(function*() {
      for (const bad of [{ protocol: 4 }, { protocol: 2 }, { protocol: 256 }, { table: 255 }, { table: 0 }, { device: "a b" }]) {
        const e = yield* Effect.exit(harness(bad))
        assert(Exit.isFailure(e), JSON.stringify(bad))
        assert.instanceOf((e.cause as unknown as { reasons: Array<{ error: unknown }> }).reasons[0]!.error, ConfigError)
      }
    })))
})

describe("ownership", () => {
  it.effect("other protocols' routes are never touched, even in the slot we want; the conflict is reported and retried when the slot frees", () => {
    const k = new FakeKernel()
    const staticSame = kroute("10.9.0.0/24", ["10.1.0.9"], { protocol: 4 })
    const birdOther = kroute("10.9.0.0/24", ["10.1.0.8"], { protocol: 12, metric: 32 + 1 })
    const otherTable = kroute("10.9.1.0/24", ["10.1.0.7"], { protocol: 201, table: 100 })
    preload(k, staticSame, birdOther, otherTable)
    return run(k, Effect.gen(function*() {
      const h = yield* harness()
      yield* h.push(ev("10.9.0.0/24", "10.1.0.2"), ev("10.9.1.0/24", "10.1.0.2"), EOT)
      // The static route in our slot stays; ours could not be added.
      assert.deepInclude(k.show(), "10.9.0.0/24 table 254 proto 4 metric 32 nh 10.1.0.9")
      const st = yield* h.exporter.status
      assert.strictEqual(st.failed.length, 1)
      assert.isTrue(st.failed[0]!.conflict)
      assert.match(st.failed[0]!.error, /File exists/)
      // The administrator removes the static route: our route goes in right away.
      k.run({ op: "delete", route: staticSame })
      yield* h.sync
      assert.deepInclude(k.show(), "10.9.0.0/24 table 254 proto 201 metric 32 nh 10.1.0.2")
      // Withdrawing everything removes only ours.
      yield* h.push(ev("10.9.0.0/24"), ev("10.9.1.0/24"))
      assert.deepStrictEqual(k.show(), [
        "10.9.0.0/24 table 254 proto 12 metric 33 nh 10.1.0.8",
        "10.9.1.0/24 table 100 proto 201 metric 32 nh 10.1.0.7"
      ])
      assert.deepInclude((yield* h.exporter.history).map((e) => e._tag), "Recovered")
    }))
  })

  it.effect("a foreign route written over ours (replace ignores the protocol) is left alone and reported", () => {
    const k = new FakeKernel()
    return run(k, Effect.gen(function*() {
      const h = yield* harness()
      yield* h.push(ev("10.9.0.0/24", "10.1.0.2"), EOT)
      k.run({ op: "replace", route: kroute("10.9.0.0/24", ["10.1.0.9"], { protocol: 4 }) })
      yield* h.sync
      yield* TestClock.adjust("1 second")
      yield* h.sync
      assert.deepStrictEqual(k.show(), ["10.9.0.0/24 table 254 proto 4 metric 32 nh 10.1.0.9"])
      const st = yield* h.exporter.status
      assert.isTrue(st.failed[0]?.conflict)
    }))
  })

  it.effect("a change never overwrites a route somebody else slipped into our slot before we heard of it", () => {
    const k = new FakeKernel()
    return run(k, Effect.gen(function*() {
      const h = yield* harness()
      yield* h.push(ev("10.9.0.0/24", "10.1.0.2"), EOT)
      // Ours removed and a static route put in its place, with no notice reaching us yet.
      k.routes.set("254 10.9.0.0/24 32", kroute("10.9.0.0/24", ["10.1.0.9"], { protocol: 4 }))
      yield* h.push(ev("10.9.0.0/24", "10.1.0.3"))
      assert.deepStrictEqual(k.show(), ["10.9.0.0/24 table 254 proto 4 metric 32 nh 10.1.0.9"])
      assert.isTrue((yield* h.exporter.status).failed[0]?.conflict)
    }))
  })

  it.effect("atomicReplace: one replace per change (for a table nobody else writes to)", () => {
    const k = new FakeKernel()
    return run(k, Effect.gen(function*() {
      const h = yield* harness({ atomicReplace: true })
      yield* h.push(ev("10.9.0.0/24", "10.1.0.2"), EOT)
      yield* h.push(ev("10.9.0.0/24", "10.1.0.3"))
      assert.deepStrictEqual(k.batches.at(-1), ["route replace 10.9.0.0/24 table 254 proto 201 metric 32 via 10.1.0.3"])
      assert.deepStrictEqual(k.show(), ["10.9.0.0/24 table 254 proto 201 metric 32 nh 10.1.0.3"])
    }))
  })

  it.effect("withdrawing everything and announcing new routes in one go: the flush runs first and spares the new routes", () => {
    const k = new FakeKernel()
    return run(k, Effect.gen(function*() {
      const h = yield* harness({ flushAbove: 2 })
      yield* h.push(ev("10.9.0.0/24", "10.1.0.2"), ev("10.9.1.0/24", "10.1.0.2"), ev("10.9.2.0/24", "10.1.0.2"), EOT)
      yield* h.push(ev("10.9.0.0/24"), ev("10.9.1.0/24"), ev("10.9.2.0/24"), ev("10.8.0.0/24", "10.1.0.2"))
      assert.deepStrictEqual(k.batches.at(-1), ["# ip -4 route flush table 254 proto 201", "route add 10.8.0.0/24 table 254 proto 201 metric 32 via 10.1.0.2"])
      assert.deepStrictEqual(k.show(), ["10.8.0.0/24 table 254 proto 201 metric 32 nh 10.1.0.2"])
    }))
  })
})

describe("refusal and retry", () => {
  it.effect("an unreachable next hop is reported, the rest of the batch goes in, and it is retried until it works", () => {
    const k = new FakeKernel()
    k.unreachable.add("10.5.0.2")
    return run(k, Effect.gen(function*() {
      const h = yield* harness({ retryIntervalMs: 5000 })
      yield* h.push(ev("10.9.0.0/24", "10.1.0.2"), ev("10.9.1.0/24", "10.5.0.2"), ev("10.9.2.0/24", "10.1.0.2"), EOT)
      assert.deepStrictEqual(k.show(201), ["10.9.0.0/24 table 254 proto 201 metric 32 nh 10.1.0.2", "10.9.2.0/24 table 254 proto 201 metric 32 nh 10.1.0.2"])
      const failed = (yield* h.exporter.history).filter((e) => e._tag === "Failed")
      assert.strictEqual(failed.length, 1)
      assert.match(JSON.stringify(failed[0]), /invalid gateway/)
      // Still unreachable: retried, reported once.
      yield* TestClock.adjust("5 seconds")
      yield* h.sync
      assert.strictEqual((yield* h.exporter.status).failed[0]?.attempts, 2)
      assert.strictEqual((yield* h.exporter.history).filter((e) => e._tag === "Failed").length, 1)
      k.unreachable.delete("10.5.0.2")
      yield* TestClock.adjust("5 seconds")
      yield* h.sync
      assert.deepInclude(k.show(201), "10.9.1.0/24 table 254 proto 201 metric 32 nh 10.5.0.2")
      assert.deepStrictEqual((yield* h.exporter.status).failed, [])
    }))
  })

  it.effect("a new best path the kernel refuses: the old route goes (no forwarding along a deselected path), the new one follows when it can", () => {
    const k = new FakeKernel()
    k.unreachable.add("10.5.0.2")
    return run(k, Effect.gen(function*() {
      const h = yield* harness()
      yield* h.push(ev("10.9.1.0/24", "10.1.0.2"), EOT)
      yield* h.push(ev("10.9.1.0/24", "10.5.0.2"))
      assert.deepStrictEqual(k.batches.at(-1), ["route del 10.9.1.0/24 table 254 proto 201 metric 32", "route add 10.9.1.0/24 table 254 proto 201 metric 32 via 10.5.0.2"])
      assert.deepStrictEqual(k.show(), [])
      assert.strictEqual((yield* h.exporter.status).failed.length, 1)
      k.unreachable.clear()
      yield* TestClock.adjust("5 seconds")
      yield* h.sync
      assert.deepStrictEqual(k.show(), ["10.9.1.0/24 table 254 proto 201 metric 32 nh 10.5.0.2"])
    }))
  })

  it("an answer that leaves the kernel's state unknown (aborted batch) asks for a re-scan; a delete of a missing route is success", () => {
    const sync = new FibSync({ protocol: 201, table: 254, flushAbove: 0 })
    sync.setDesired("254 10.9.0.0/24 32", kroute("10.9.0.0/24", ["10.1.0.2"]))
    const ops = sync.plan()
    const out = sync.record(ops, [{ ok: false, error: "Error: either \"to\" is duplicate, or \"x\" is a garbage.", unknown: true }])
    assert.isTrue(out.needRescan)
    sync.reconcile([kroute("10.9.5.0/24", ["10.1.0.2"])])
    const ops2 = sync.plan()
    assert.deepStrictEqual(ops2.map((o) => o.op).sort(), ["add", "delete"])
    const out2 = sync.record(ops2, ops2.map((o) => (o.op === "delete" ? { ok: false as const, error: "RTNETLINK answers: No such process" } : { ok: true as const })))
    assert.strictEqual(out2.added, 1)
    assert.isFalse(out2.needRescan)
    assert.deepStrictEqual([...sync.installed.keys()], ["254 10.9.0.0/24 32"])
    assert.strictEqual(sync.failed.size, 0)
  })

  it.effect("a withdrawal of a refused route cancels its retry", () => {
    const k = new FakeKernel()
    k.unreachable.add("10.5.0.2")
    return run(k, Effect.gen(function*() {
      const h = yield* harness()
      yield* h.push(ev("10.9.1.0/24", "10.5.0.2"), EOT)
      assert.strictEqual((yield* h.exporter.status).failed.length, 1)
      yield* h.push(ev("10.9.1.0/24"))
      assert.strictEqual((yield* h.exporter.status).failed.length, 0)
      assert.deepStrictEqual(k.show(), [])
    }))
  })
})

describe("graceful restart", () => {
  it.effect("routes found at start are kept until the RIB converges; identical ones cost nothing; the rest are swept", () => {
    const k = new FakeKernel()
    preload(
      k,
      kroute("10.9.0.0/24", ["10.1.0.2"]), // the RIB will want it again, unchanged
      kroute("10.9.1.0/24", ["10.1.0.2"]), // the RIB will want it with another next hop
      kroute("10.9.2.0/24", ["10.1.0.2"]), // gone from the RIB
      kroute("10.9.3.0/24", ["10.1.0.2"], { metric: 50 }), // ours, from a run with another metric
      kroute("10.9.4.0/24", ["10.1.0.2"], { protocol: 4 }) // not ours
    )
    return run(k, Effect.gen(function*() {
      const converged = yield* Deferred.make<void>()
      const h = yield* harness({ converged: Deferred.await(converged) })
      assert.strictEqual((yield* h.exporter.status).stale, 4)
      yield* h.push(ev("10.9.0.0/24", "10.1.0.2"), ev("10.9.1.0/24", "10.1.0.3"), EOT)
      // During the hold: only the changed route was touched.
      assert.deepStrictEqual(k.batches.flat(), ["route del 10.9.1.0/24 table 254 proto 201 metric 32", "route add 10.9.1.0/24 table 254 proto 201 metric 32 via 10.1.0.3"])
      assert.strictEqual(k.show(201).length, 4)
      assert.isTrue((yield* h.exporter.status).holding)
      yield* Deferred.succeed(converged, undefined)
      yield* h.exporter.convergedSignal
      yield* h.sync
      assert.deepStrictEqual(k.show(), [
        "10.9.0.0/24 table 254 proto 201 metric 32 nh 10.1.0.2",
        "10.9.1.0/24 table 254 proto 201 metric 32 nh 10.1.0.3",
        "10.9.4.0/24 table 254 proto 4 metric 32 nh 10.1.0.2"
      ])
      const c = (yield* h.exporter.history).find((e) => e._tag === "Converged")
      assert.deepStrictEqual(c, { _tag: "Converged", swept: 2, timedOut: false })
    }))
  })

  it.effect("the hold ends after maxHoldMs when the RIB never converges", () => {
    const k = new FakeKernel()
    preload(k, kroute("10.9.2.0/24", ["10.1.0.2"]))
    return run(k, Effect.gen(function*() {
      const h = yield* harness({ converged: Effect.never, maxHoldMs: 30_000 })
      yield* h.push(EOT)
      yield* TestClock.adjust("29 seconds")
      yield* h.sync
      assert.strictEqual(k.show(201).length, 1)
      yield* TestClock.adjust("2 seconds")
      yield* h.exporter.convergedSignal
      yield* h.sync
      assert.deepStrictEqual(k.show(201), [])
      assert.deepInclude((yield* h.exporter.history), { _tag: "Converged", swept: 1, timedOut: true })
    }))
  })

  it.effect("when the start-up scan fails, the first scan that works adopts (and holds) what it finds", () => {
    const k = new FakeKernel()
    preload(k, kroute("10.9.0.0/24", ["10.1.0.2"]), kroute("10.9.5.0/24", ["10.1.0.2"]))
    k.failDumps = 1
    return run(k, Effect.gen(function*() {
      const converged = yield* Deferred.make<void>()
      const h = yield* harness({ converged: Deferred.await(converged), retryIntervalMs: 5000 })
      yield* h.push(ev("10.9.0.0/24", "10.1.0.2"), EOT)
      yield* TestClock.adjust("5 seconds")
      yield* h.sync
      const st = yield* h.exporter.status
      assert.isTrue(st.holding)
      assert.deepStrictEqual(k.show(201).length, 2, "nothing removed before convergence")
      assert.deepStrictEqual((yield* h.exporter.history).filter((e) => e._tag === "Adopted"), [{ _tag: "Adopted", routes: 2 }])
      yield* Deferred.succeed(converged, undefined)
      yield* h.exporter.convergedSignal
      yield* h.sync
      assert.deepStrictEqual(k.show(201), ["10.9.0.0/24 table 254 proto 201 metric 32 nh 10.1.0.2"])
    }))
  })

  it.effect("a withdrawal during the hold still removes a route the RIB had asked for", () => {
    const k = new FakeKernel()
    preload(k, kroute("10.9.0.0/24", ["10.1.0.2"]), kroute("10.9.5.0/24", ["10.1.0.2"]))
    return run(k, Effect.gen(function*() {
      const h = yield* harness({ converged: Effect.never })
      yield* h.push(ev("10.9.0.0/24", "10.1.0.2"), EOT)
      yield* h.push(ev("10.9.0.0/24"))
      assert.deepStrictEqual(k.show(201), ["10.9.5.0/24 table 254 proto 201 metric 32 nh 10.1.0.2"])
    }))
  })
})

describe("repair", () => {
  it.effect("our route deleted or changed from outside is put back after a re-scan", () => {
    const k = new FakeKernel()
    return run(k, Effect.gen(function*() {
      const h = yield* harness({ resyncDelayMs: 200 })
      yield* h.push(ev("10.9.0.0/24", "10.1.0.2"), ev("10.9.1.0/24", "10.1.0.2"), EOT)
      k.run({ op: "delete", route: kroute("10.9.0.0/24", ["10.1.0.2"]) })
      k.run({ op: "replace", route: kroute("10.9.1.0/24", ["10.6.6.6"]) })
      k.run({ op: "add", route: kroute("10.9.7.0/24", ["10.6.6.6"]) }) // somebody added a route with our protocol
      yield* h.sync
      assert.strictEqual(k.show(201).length, 2, "nothing repaired before the re-scan delay")
      yield* TestClock.adjust("300 millis")
      yield* h.sync
      assert.deepStrictEqual(k.show(201), ["10.9.0.0/24 table 254 proto 201 metric 32 nh 10.1.0.2", "10.9.1.0/24 table 254 proto 201 metric 32 nh 10.1.0.2"])
      const rs = (yield* h.exporter.history).filter((e) => e._tag === "Rescanned")
      assert.strictEqual(rs.length, 1, "one re-scan for the burst")
    }))
  })

  it.effect("echoes of our own changes do not trigger re-scans", () => {
    const k = new FakeKernel()
    return run(k, Effect.gen(function*() {
      const h = yield* harness()
      yield* h.push(ev("10.9.0.0/24", "10.1.0.2"), ev("10.9.1.0/24", "10.1.0.2", "10.1.0.3"), EOT)
      yield* h.push(ev("10.9.0.0/24", "10.1.0.4"), ev("10.9.1.0/24"))
      yield* TestClock.adjust("1 second")
      yield* h.sync
      assert.strictEqual((yield* h.exporter.status).rescans, 0)
    }))
  })

  it.effect("periodic re-scan", () => {
    const k = new FakeKernel()
    return run(k, Effect.gen(function*() {
      const h = yield* harness({ rescanIntervalMs: 60_000 })
      yield* h.push(ev("10.9.0.0/24", "10.1.0.2"), EOT)
      // A change nobody is told about (IPv4 routes vanish silently with their link).
      k.routes.clear()
      yield* TestClock.adjust("61 seconds")
      yield* h.sync
      assert.deepStrictEqual(k.show(201), ["10.9.0.0/24 table 254 proto 201 metric 32 nh 10.1.0.2"])
    }))
  })
})

describe("batching, flush, dry run", () => {
  it.effect("thousands of changes in one batch; withdrawing every route of a family is one flush that spares other protocols", () => {
    const k = new FakeKernel()
    preload(k, kroute("10.200.0.0/24", ["10.1.0.9"], { protocol: 4 }))
    return run(k, Effect.gen(function*() {
      const h = yield* harness()
      const evs = Array.from({ length: 3000 }, (_, i) => ev(`10.${100 + (i >> 8)}.${i & 255}.0/24`, "10.1.0.2"))
      yield* h.push(...evs, ev("2001:db8::/64", "2001:db8::2"), EOT)
      assert.strictEqual(k.show(201).length, 3001)
      assert.strictEqual(k.batches.length, 1)
      yield* h.push(...evs.map((e) => (e._tag === "Route" ? { ...e, best: undefined, multipath: [] } : e)))
      assert.deepStrictEqual(k.batches.at(-1), ["# ip -4 route flush table 254 proto 201"])
      assert.deepStrictEqual(k.show(), ["10.200.0.0/24 table 254 proto 4 metric 32 nh 10.1.0.9", "2001:db8::/64 table 254 proto 201 metric 32 nh 2001:db8::2"])
    }))
  })

  it.effect("dry run: the batch is produced, the kernel stays as it was", () => {
    const k = new FakeKernel()
    preload(k, kroute("10.9.9.0/24", ["10.1.0.2"]))
    return run(k, Effect.gen(function*() {
      const h = yield* harness()
      yield* h.push(ev("10.9.0.0/24", "10.1.0.2"), EOT)
      assert.deepStrictEqual(k.batches.flat(), ["route add 10.9.0.0/24 table 254 proto 201 metric 32 via 10.1.0.2", "route del 10.9.9.0/24 table 254 proto 201 metric 32"])
      assert.deepStrictEqual(k.show(201), ["10.9.9.0/24 table 254 proto 201 metric 32 nh 10.1.0.2"])
    }), { dryRun: true })
  })
})

describe("FibSync model (property)", () => {
  // Random RIB changes, outside interference (deletions, foreign routes added into free slots or replaced
  // over ours, refused next hops),
  // re-scans and retries. After each round with no interference pending: our routes are exactly the
  // desired ones that are installable, and every foreign route is as it was put.
  it("converges to the desired table and never touches foreign routes", () => {
    const prefixes = Array.from({ length: 12 }, (_, i) => `10.9.${i}.0/24`)
    const gateways = ["10.1.0.2", "10.1.0.3", "10.5.0.9"]
    const action = fc.oneof(
      fc.record({ t: fc.constant("set" as const), p: fc.integer({ min: 0, max: 11 }), g: fc.subarray([0, 1, 2], { minLength: 0, maxLength: 3 }) }),
      fc.record({ t: fc.constant("extDelete" as const), p: fc.integer({ min: 0, max: 11 }) }),
      fc.record({ t: fc.constant("foreign" as const), p: fc.integer({ min: 0, max: 11 }) }),
      fc.record({ t: fc.constant("unforeign" as const), p: fc.integer({ min: 0, max: 11 }) }),
      // `ip route replace ... proto static` by an administrator: overwrites whatever holds the slot.
      fc.record({ t: fc.constant("foreignReplace" as const), p: fc.integer({ min: 0, max: 11 }) }),
      fc.record({ t: fc.constant("reach" as const), on: fc.boolean() })
    )
    fc.assert(fc.property(fc.array(fc.array(action, { maxLength: 8 }), { minLength: 1, maxLength: 12 }), (rounds) => {
      const k = new FakeKernel()
      const sync = new FibSync({ protocol: 201, table: 254, flushAbove: 4 })
      const foreign = new Map<string, string>()
      const step = () => {
        for (let i = 0; i < 3; i++) {
          const ops = sync.plan()
          sync.record(ops, ops.map((o) => k.run(o)))
        }
      }
      for (const round of rounds) {
        for (const a of round) {
          const p = prefixes[a.t === "reach" ? 0 : a.p]!
          const key = `254 ${p} 32`
          if (a.t === "set") sync.setDesired(key, a.g.length === 0 ? undefined : kroute(p, a.g.map((g) => gateways[g]!)))
          else if (a.t === "extDelete") k.run({ op: "delete", route: kroute(p, ["10.1.0.2"]) })
          else if (a.t === "foreign" && !k.routes.has(key)) {
            k.run({ op: "add", route: kroute(p, ["10.7.7.7"], { protocol: 4 }) })
            foreign.set(key, `${p} table 254 proto 4 metric 32 nh 10.7.7.7`)
          } else if (a.t === "foreignReplace") {
            k.run({ op: "replace", route: kroute(p, ["10.7.7.7"], { protocol: 4 }) })
            foreign.set(key, `${p} table 254 proto 4 metric 32 nh 10.7.7.7`)
          } else if (a.t === "unforeign" && foreign.has(key)) {
            k.run({ op: "delete", route: kroute(p, ["10.7.7.7"], { protocol: 4 }) })
            foreign.delete(key)
          } else if (a.t === "reach") a.on ? k.unreachable.delete("10.5.0.9") : k.unreachable.add("10.5.0.9")
          step()
        }
        // What the exporter loop does on a re-scan and a retry tick.
        sync.reconcile(k.dump({ family: 4, table: 254, protocol: 201 }))
        sync.retryFailed()
        step()
        // Ours in the kernel: exactly desired routes. Desired routes missing: refused for a reason we know.
        for (const r of k.routes.values()) {
          if (r.protocol !== 201) continue
          const d = sync.desired.get(`254 ${r.prefix} 32`)
          if (d === undefined || JSON.stringify(d.nexthops) !== JSON.stringify(r.nexthops)) throw new Error(`undesired route of ours: ${r.prefix}`)
        }
        for (const [key, d] of sync.desired) {
          const have = k.routes.get(key)
          if (have?.protocol === 201) continue
          const why = foreign.has(key) || d.nexthops.some((n) => k.unreachable.has(n.via!))
          if (!why) throw new Error(`${key} missing without a reason`)
          if (!sync.failed.has(key)) throw new Error(`${key} missing but not reported`)
        }
        const theirs = k.show(4)
        if (JSON.stringify(theirs) !== JSON.stringify([...foreign.values()].sort())) throw new Error(`foreign routes changed: ${JSON.stringify(theirs)}`)
      }
    }), { numRuns: 300 })
  })
})
