/**
 * Kernel → BGP against a real kernel: the importer reads the routes of a network namespace and
 * originates the selected ones through a speaker (in this process; only the kernel lives in the
 * namespace). Selection by protocol, table, prefix range, type and device; the exporter's own protocol is
 * never imported; additions and removals are followed through `ip monitor`.
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import { formatPrefix } from "@starling/codec"
import { KernelRoutes, makeImporter } from "@starling/kernel"
import type { SpeakerApi } from "@starling/speaker"
import { makeSpeaker } from "@starling/speaker"
import { Effect, Exit, Logger } from "effect"
import { cleanup, netns, waitEqual } from "./support/netns.ts"

afterAll(() => cleanup())

const announced = (s: SpeakerApi) =>
  Effect.map(s.routes, (rs) => rs.map((r) => `${formatPrefix(r.prefix)} via ${r.best.nextHop}`).sort())

const expectAnnounced = (s: SpeakerApi, want: string[], ms = 10_000) =>
  Effect.promise(() => waitEqual("announced routes", () => Effect.runPromise(announced(s)), want, ms))

describe("importing kernel routes into BGP", () => {
  it.live("pod blocks (connected routes) and static routes chosen by protocol, table and prefix; followed as they come and go", () => {
    const n = netns("imp")
    n.ip("link", "add", "eth0", "type", "veth", "peer", "name", "eth0p")
    n.ip("link", "add", "pod0", "type", "veth", "peer", "name", "pod0p")
    for (const d of ["eth0", "eth0p", "pod0", "pod0p"]) n.ip("link", "set", d, "up")
    n.ip("addr", "add", "10.99.0.1/24", "dev", "eth0")
    n.ip("addr", "add", "10.244.1.1/26", "dev", "pod0")
    n.ip("-6", "addr", "add", "2001:db8:244:1::1/64", "dev", "pod0", "nodad")
    n.ip("route", "add", "blackhole", "10.244.9.0/26", "proto", "static")
    n.ip("route", "add", "10.244.8.0/26", "via", "10.99.0.7", "proto", "static", "table", "100")
    n.ip("route", "add", "10.244.7.0/26", "via", "10.99.0.7", "proto", "201") // the exporter's: never imported
    n.ip("route", "add", "10.50.0.0/24", "via", "10.99.0.7", "proto", "static") // outside the range
    return Effect.gen(function*() {
      const s = yield* makeSpeaker({ localAs: 65000, routerId: "10.99.0.1" })
      const importer = yield* makeImporter(s, {
        select: [
          { protocols: [2], prefixes: ["10.244.0.0/16", "2001:db8:244::/48"] },
          { protocols: [4], prefixes: ["10.244.0.0/16"], tables: [254, 100] }
        ],
        nextHop: "10.99.0.1",
        nextHopV6: "2001:db8:99::1"
      })
      yield* expectAnnounced(s, [
        "10.244.1.0/26 via 10.99.0.1",
        "10.244.8.0/26 via 10.99.0.1",
        "10.244.9.0/26 via 10.99.0.1",
        "2001:db8:244:1::/64 via 2001:db8:99::1"
      ])
      assert.deepStrictEqual(yield* importer.announced, ["10.244.1.0/26", "10.244.8.0/26", "10.244.9.0/26", "2001:db8:244:1::/64"])
      // A new pod block appears, the static one goes: followed without waiting for the periodic scan.
      n.ip("addr", "add", "10.244.2.1/26", "dev", "pod0")
      n.ip("route", "del", "blackhole", "10.244.9.0/26", "proto", "static")
      n.ip("-6", "addr", "del", "2001:db8:244:1::1/64", "dev", "pod0")
      yield* expectAnnounced(s, ["10.244.1.0/26 via 10.99.0.1", "10.244.2.0/26 via 10.99.0.1", "10.244.8.0/26 via 10.99.0.1"], 3000)
      // The pod interface goes down: its connected routes go, and so do the announcements.
      n.ip("link", "set", "pod0", "down")
      yield* expectAnnounced(s, ["10.244.8.0/26 via 10.99.0.1"], 3000)
    }).pipe(Effect.scoped, Effect.provide(KernelRoutes.layerNode({ netns: n.name })), Effect.provide(Logger.layer([])))
  }, 60_000)

  it.live("the exporter's protocol cannot be selected, and a bad prefix or next hop is a configuration error", () => {
    const n = netns("imp-cfg")
    return Effect.gen(function*() {
      const s = yield* makeSpeaker({ localAs: 65000, routerId: "10.99.0.1" })
      for (const bad of [
        { select: [{ protocols: [201] }] },
        { select: [{ prefixes: ["10.244.0.0"] }] },
        { select: [{}], nextHop: "not-an-address" },
        { select: [{}], nextHopV6: "10.0.0.1" }
      ]) {
        const r = yield* Effect.exit(makeImporter(s, bad))
        assert.isTrue(Exit.isFailure(r), JSON.stringify(bad))
      }
    }).pipe(Effect.scoped, Effect.provide(KernelRoutes.layerNode({ netns: n.name })), Effect.provide(Logger.layer([])))
  }, 30_000)
})
