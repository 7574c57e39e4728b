/**
 * End to end, Calico-style, in real kernels (see support/calico-cluster.ts for the topology): two nodes and a
 * route reflector in network namespaces, pod blocks announced and installed, pods ping each other.
 * The IP-in-IP variant is in calico-ipip.e2e.ts: it needs the kernel's ipip module, which the machines this
 * project's CI runs on do not have (`npm run test:ipip` runs it where the module exists).
 */
import { describe, it } from "@effect/vitest"
import { run } from "./support/calico-cluster.ts"

describe("Calico-style cluster in network namespaces", () => {
  it("two nodes and a reflector: pod blocks announced, routes installed in both kernels, pods reach each other", async () => {
    await run("cal", false)
  }, 90_000)
})
