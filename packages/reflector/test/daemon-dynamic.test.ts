/**
 * Dynamic neighbors (127.66.9.60-89): nodes in a configured range connect without being listed and get
 * a neighbor from the template (Kubernetes nodes joining); an address outside the range is refused; a
 * limit caps the count; a node that goes away is removed; a reload that drops the range removes its
 * neighbors and refuses new ones.
 */
import { afterAll, describe, expect, it } from "@effect/vitest"
import { lab } from "../../../test/interop/lib/addresses.ts"
import type { TestDaemon, TestPeer } from "./daemon-support.ts"
import { startDaemon, startPeer, waitFor } from "./daemon-support.ts"

const h = lab(9).host
const open: Array<TestDaemon | TestPeer> = []
const track = <A extends TestDaemon | TestPeer>(x: A): A => {
  open.push(x)
  return x
}
afterAll(async () => {
  for (const x of open.reverse()) await x.close().catch(() => undefined)
})

const config = (ranges: string) => `localAs: 64512
routerId: 10.255.9.60
listen: [{ address: ${h(60)} }]
api: { enabled: false }
${ranges}`
const range = `dynamicNeighbors:
  - prefix: 127.66.9.64/28
    limit: 2
    template: { peerAs: 64512, routeReflectorClient: true, holdTime: 9, name: k8s-node }
`

describe("dynamic neighbors", () => {
  it("accepts nodes from the range without listing them, refuses others, caps the count, removes nodes that leave", async () => {
    const d = track(await startDaemon(config(range)))
    const a = track(await startPeer({ address: h(65), daemon: h(60), originate: ["10.244.65.0/26"] }))
    const b = track(await startPeer({ address: h(66), daemon: h(60), originate: ["10.244.66.0/26"] }))
    const outside = track(await startPeer({ address: h(80), daemon: h(60), originate: ["10.244.80.0/26"] }))
    const na = await d.established(h(65))
    await d.established(h(66))
    expect(na.dynamicRange).toBe("127.66.9.64/28")
    expect(na.name).toBe(`k8s-node@${h(65)}`)
    // The template makes them route-reflector clients: each learns the other's pod block.
    await waitFor("nodes learn each other's blocks", async () =>
      JSON.stringify(await a.prefixes()) === JSON.stringify(["10.244.65.0/26", "10.244.66.0/26"]) &&
        JSON.stringify(await b.prefixes()) === JSON.stringify(["10.244.65.0/26", "10.244.66.0/26"])
        ? true
        : undefined)

    // A third node from the range is over the limit; a node outside it is never a neighbor.
    const c = track(await startPeer({ address: h(67), daemon: h(60), originate: ["10.244.67.0/26"] }))
    await new Promise((r) => setTimeout(r, 1500))
    expect((await d.neighbors()).map((n) => n.address).sort()).toEqual([h(65), h(66)])
    expect((await outside.neighbor()).state).not.toBe("Established")
    expect((await c.neighbor()).state).not.toBe("Established")
    expect(await a.prefixes()).not.toContain("10.244.80.0/26")

    // a leaves: its neighbor goes, and so do its routes; that frees a place for c.
    await a.close()
    await waitFor("a removed", async () => ((await d.neighbors()).some((n) => n.address === h(65)) ? undefined : true))
    await waitFor("b loses a's block", async () => ((await b.prefixes()).includes("10.244.65.0/26") ? undefined : true))
    const nc = await d.established(h(67))
    expect(nc.dynamicRange).toBe("127.66.9.64/28")
    await waitFor("b learns c's block", async () => ((await b.prefixes()).includes("10.244.67.0/26") ? true : undefined))

    // The range is removed from the config: its neighbors go and new connections are refused.
    const r = await d.run(d.daemon.reload({ text: config("") }))
    expect(r.changes.map((x) => `${x.target}: ${x.effect}`).sort()).toEqual([
      "dynamicNeighbors 127.66.9.64/28: remove",
      `neighbor ${h(66)}: remove`,
      `neighbor ${h(67)}: remove`
    ])
    await waitFor("no neighbors left", async () => ((await d.neighbors()).length === 0 ? true : undefined))
    await new Promise((r) => setTimeout(r, 1500))
    expect(await d.neighbors()).toEqual([])
    const down = (await b.neighbor()).lastDown
    expect(down?._tag === "NotificationReceived" && down.message).toBe("dynamic range removed from the configuration")
  })
})
