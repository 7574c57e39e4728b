/**
 * Reload of a running daemon (in process, real TCP on 127.66.9.1-29, Starling speakers as peers):
 * untouched sessions stay up (same session, uptime kept), neighbors come and go, policy changes are
 * applied by soft reconfiguration and re-export without a reset, negotiated settings reset the session,
 * a global change restarts everything, and a config with errors changes nothing.
 */
import { afterAll, describe, expect, it } from "@effect/vitest"
import { lab } from "../../../test/interop/lib/addresses.ts"
import type { TestDaemon, TestPeer } from "./daemon-support.ts"
import { startDaemon, startPeer, waitFor } from "./daemon-support.ts"

const net = lab(9)
const h = net.host

const open: Array<TestDaemon | TestPeer> = []
const track = <A extends TestDaemon | TestPeer>(x: A): A => {
  open.push(x)
  return x
}
afterAll(async () => {
  for (const x of open.reverse()) await x.close()
})

const client = (n: number, name: string, extra = "") =>
  `  - { address: ${h(n)}, peerAs: 64512, passive: true, routeReflectorClient: true, name: ${name}${extra} }\n`

describe("reload", () => {
  it("keeps untouched sessions up (same session, uptime kept) while a neighbor is added and one removed", async () => {
    const head = `localAs: 64512\nrouterId: 10.255.9.1\nlisten: [{ address: ${h(1)} }]\napi: { enabled: false }\nneighbors:\n`
    const d = track(await startDaemon(head + client(2, "a") + client(3, "b")))
    const a = track(await startPeer({ address: h(2), daemon: h(1), originate: ["10.244.2.0/24"] }))
    const b = track(await startPeer({ address: h(3), daemon: h(1), originate: ["10.244.3.0/24"] }))
    const before = await d.established(h(2))
    await d.established(h(3))
    await waitFor("a learns b's block", async () => ((await a.prefixes()).includes("10.244.3.0/24") ? true : undefined))

    const r = await d.run(d.daemon.reload({ text: head + client(2, "a") + client(4, "c"), source: "test" }))
    expect(r.ok).toBe(true)
    expect(r.changes.map((c) => `${c.target}: ${c.effect}`)).toEqual(["neighbor 127.66.9.3 (b): remove", "neighbor 127.66.9.4 (c): add"])

    const c = track(await startPeer({ address: h(4), daemon: h(1), originate: ["10.244.4.0/24"] }))
    await d.established(h(4))
    await waitFor("a learns c's block and loses b's", async () => {
      const p = await a.prefixes()
      return p.includes("10.244.4.0/24") && !p.includes("10.244.3.0/24") ? p : undefined
    })
    // b was told why (RFC 9003 shutdown communication) and is no longer a neighbor.
    const bDown = await waitFor("b's session down", async () => {
      const n = await b.neighbor()
      return n.lastDown?._tag === "NotificationReceived" ? n.lastDown : undefined
    })
    expect(bDown._tag === "NotificationReceived" && bDown.message).toBe("neighbor removed from the configuration")
    // Gone for good: Administrative Shutdown (a Hard Reset toward RFC 8538 peers).
    expect(bDown._tag === "NotificationReceived" && [bDown.notification.code, bDown.notification.subcode]).toEqual([6, 2])
    expect((await d.neighbors()).map((n) => n.address).sort()).toEqual([h(2), h(4)])
    // a: the same session all along, on both sides.
    const after = await d.neighbor(h(2))
    expect(after?.state).toBe("Established")
    expect(after?.establishedAt).toBe(before.establishedAt)
    expect((await a.neighbor()).lastDown).toBeUndefined()
    expect(await c.prefixes()).toEqual(["10.244.2.0/24", "10.244.4.0/24"])
  })

  it("applies import and export policy changes by soft reconfiguration and re-export, without a reset", async () => {
    const cfg = (imp: string, exp: string) => `localAs: 64512
routerId: 10.255.9.6
listen: [{ address: ${h(6)} }]
retainPrePolicy: true
api: { enabled: false }
policies:
  all: { statements: [], default: accept }
  pods: { statements: [{ match: { prefixes: [{ prefix: 10.244.0.0/16, le: 32 }] }, action: accept }] }
neighbors:
${client(7, "a", `, importPolicy: ${imp}, exportPolicy: ${exp}`)}${client(8, "b", ", importPolicy: all, exportPolicy: all")}`
    const d = track(await startDaemon(cfg("all", "all")))
    const a = track(await startPeer({ address: h(7), daemon: h(6), originate: ["10.244.7.0/24", "192.168.7.0/24"] }))
    const b = track(await startPeer({ address: h(8), daemon: h(6), originate: ["10.244.8.0/24", "192.168.8.0/24"] }))
    const all = ["10.244.7.0/24", "10.244.8.0/24", "192.168.7.0/24", "192.168.8.0/24"]
    await waitFor("everyone has everything", async () => ((await a.prefixes()).length === 4 && (await b.prefixes()).length === 4 ? true : undefined))
    const aBefore = await d.established(h(7))

    const dry = await d.run(d.daemon.reload({ text: cfg("pods", "pods"), dryRun: true }))
    expect(dry.changes.map((c) => `${c.target}: ${c.effect} ${c.how?.join("+")}`)).toEqual(["neighbor 127.66.9.7 (a): route-refresh soft-reconfiguration+re-export"])
    // A dry run changes nothing.
    expect(await a.prefixes()).toEqual(all)

    const r = await d.run(d.daemon.reload({ text: cfg("pods", "pods") }))
    expect(r.ok).toBe(true)
    // Import: the daemon drops a's 192.168.7.0/24 (so b loses it); export: a no longer gets b's 192.168.8.0/24.
    await waitFor("policies applied", async () => {
      const [pa, pb] = [await a.prefixes(), await b.prefixes()]
      return JSON.stringify(pa) === JSON.stringify(["10.244.7.0/24", "10.244.8.0/24", "192.168.7.0/24"]) &&
          JSON.stringify(pb) === JSON.stringify(["10.244.7.0/24", "10.244.8.0/24", "192.168.8.0/24"])
        ? true
        : undefined
    })
    // And back: the retained pre-policy routes come back without asking a.
    const back = await d.run(d.daemon.reload({ text: cfg("all", "all") }))
    expect(back.changes.map((c) => c.effect)).toEqual(["route-refresh"])
    await waitFor("routes back", async () => ((await a.prefixes()).length === 4 && (await b.prefixes()).length === 4 ? true : undefined))
    const aAfter = await d.neighbor(h(7))
    expect(aAfter?.establishedAt).toBe(aBefore.establishedAt)
    expect((await a.neighbor()).lastDown).toBeUndefined()
    expect((await b.neighbor()).lastDown).toBeUndefined()
  })

  it("keeps running on the old config when the new one has errors; a negotiated change resets the session", async () => {
    const cfg = (hold: string) => `localAs: 64512
routerId: 10.255.9.9
listen: [{ address: ${h(9)} }]
api: { enabled: false }
neighbors:
${client(10, "a", hold)}`
    const d = track(await startDaemon(cfg("")))
    const a = track(await startPeer({ address: h(10), daemon: h(9), originate: ["10.244.10.0/24"] }))
    const before = await d.established(h(10))

    const bad = await d.run(d.daemon.reload({ text: cfg(", holdTime: 2, colour: blue"), source: "bad.yaml" }))
    expect(bad.ok).toBe(false)
    expect(bad.changes).toEqual([])
    expect(bad.errors.map((e) => `${e.line}: ${e.path}: ${e.message}`).sort()).toEqual([
      "6: neighbors[0].colour: unknown field",
      "6: neighbors[0].holdTime: must be 0 or 3..65535 (RFC 4271 §4.2), got 2"
    ])
    expect((await d.neighbor(h(10)))?.establishedAt).toBe(before.establishedAt)
    expect(d.daemon.config().config.neighbors?.[0]?.holdTime).toBeUndefined()
    expect(await d.run(d.daemon.metrics)).toMatch(/starling_config_reloads_total\{result="failure"\} 1/)

    const r = await d.run(d.daemon.reload({ text: cfg(", holdTime: 30") }))
    expect(r.changes.map((c) => `${c.effect}: ${c.detail}`)).toEqual(["reset: session resets: holdTime is negotiated in OPEN"])
    const down = await waitFor("a sees the reset", async () => {
      const n = await a.neighbor()
      return n.lastDown?._tag === "NotificationReceived" ? n.lastDown : undefined
    })
    expect(down._tag === "NotificationReceived" && down.message).toBe("configuration changed: holdTime")
    // It comes back: Administrative Reset (graceful for RFC 8538 peers), not Administrative Shutdown.
    expect(down._tag === "NotificationReceived" && [down.notification.code, down.notification.subcode]).toEqual([6, 4])
    const after = await waitFor("a back with the new hold time", async () => {
      const n = await d.neighbor(h(10))
      return n?.state === "Established" && n.establishedAt !== undefined && n.establishedAt !== before.establishedAt ? n : undefined
    })
    expect(after.negotiated?.holdTime).toBe(9) // min(30, the peer's 9): negotiated anew
    expect(await d.run(d.daemon.metrics)).toMatch(/starling_config_reloads_total\{result="success"\} 1/)
  })

  it("restarts every session when a global setting changes", async () => {
    const cfg = (id: string) => `localAs: 64512\nrouterId: ${id}\nlisten: [{ address: ${h(12)} }]\napi: { enabled: false }\nneighbors:\n${client(13, "a")}`
    const d = track(await startDaemon(cfg("10.255.9.12")))
    const a = track(await startPeer({ address: h(13), daemon: h(12), originate: ["10.244.13.0/24"] }))
    await d.established(h(13))
    const r = await d.run(d.daemon.reload({ text: cfg("10.255.9.99") }))
    expect(r.changes.map((c) => `${c.target}: ${c.effect} [${c.fields.join(",")}]`)).toEqual(["global: restart [routerId]"])
    await waitFor("a back with the new router id", async () => {
      const n = await a.neighbor()
      return n.state === "Established" && n.negotiated?.peerId === 0x0aff0963 ? true : undefined
    })
    const down = (await a.neighbor()).lastDown
    expect(down?._tag === "NotificationReceived" && down.message).toBe("configuration changed: routerId")
    expect(down?._tag === "NotificationReceived" && [down.notification.code, down.notification.subcode]).toEqual([6, 4])
    expect(d.daemon.speaker().routerId).toBe(0x0aff0963)
  })
})
