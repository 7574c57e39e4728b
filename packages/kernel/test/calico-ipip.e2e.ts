/**
 * Calico-style cluster over IP-in-IP: routes via the other node over tunl0, onlink. Needs the kernel's
 * ipip module (CONFIG_NET_IPIP, which also provides tunl0). Not part of `npm test`: the machines this
 * project's CI runs on have no ipip module (see the closing notes). Run it with `npm run test:ipip` on a
 * kernel that has the module; on one without it the test fails and says so.
 */
import { describe, it } from "@effect/vitest"
import { ipipSupport } from "./support/netns.ts"
import { run } from "./support/calico-cluster.ts"

describe("Calico-style cluster in network namespaces, IP-in-IP", () => {
  it("the same over IP-in-IP: routes via the other node over tunl0, onlink", async () => {
    const support = ipipSupport()
    if (!support.ok) throw new Error(support.detail)
    await run("ipip", true)
  }, 90_000)
})
