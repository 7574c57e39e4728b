/**
 * The examples: each runnable one runs as its own process and must exit 0 after printing what it
 * learned; the Kubernetes manifest parses, and the config in its ConfigMap passes the daemon's schema
 * and agrees with the rest of the manifest (paths, ports, the token file).
 */
import { spawn } from "node:child_process"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Result } from "effect"
import { parseAllDocuments } from "yaml"
import { parseConfig } from "../src/daemon/config.ts"
import { repoRoot } from "./daemon-support.ts"

const runExample = (file: string): Promise<{ code: number | null; out: string }> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(repoRoot, "examples", file)], { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] })
    let out = ""
    child.stdout.on("data", (b: Buffer) => (out += b.toString()))
    child.stderr.on("data", (b: Buffer) => (out += b.toString()))
    const t = setTimeout(() => child.kill("SIGKILL"), 40_000)
    child.once("error", reject)
    child.once("exit", (code) => {
      clearTimeout(t)
      resolve({ code, out })
    })
  })

describe.concurrent("examples", () => {
  it("embed-reflector.ts: the daemon and the speaker API inside a Node program", async () => {
    const r = await runExample("embed-reflector.ts")
    expect(r.out).toContain("every client learned every prefix through the reflector")
    expect(r.out).toContain("client 127.79.1.11 has: 10.100.0.0/16 via 127.79.1.11, 10.101.0.0/16 via 127.79.1.12")
    expect(r.out).toMatch(/neighbor 127\.79\.1\.12: Established, 1 route\(s\) received/)
    expect(r.code).toBe(0)
  })

  it("calico-cluster.ts: node speakers and two reflectors with dynamic neighbors", async () => {
    const r = await runExample("calico-cluster.ts")
    expect(r.out).toContain("converged: every node learned every other node's pod block")
    expect(r.out).toContain("  10.244.12.0/26   via 127.79.2.12  best from reflector 127.79.2.1, 2 paths")
    expect(r.out).toContain("node 127.79.2.11 has 10.244.12.0/26, 10.244.13.0/26")
    expect(r.code).toBe(0)
  })

  it("metallb-speaker.ts: service /32s to a router, ECMP, withdrawals", async () => {
    const r = await runExample("metallb-speaker.ts")
    expect(r.out).toContain("  198.51.100.10/32 via 127.79.3.11 and 127.79.3.12")
    expect(r.out).toContain("the router followed the services")
    expect(r.code).toBe(0)
  })

  it("kubernetes/starling-reflector.yaml: valid documents, a config the daemon accepts, consistent paths and ports", () => {
    const text = readFileSync(join(repoRoot, "examples/kubernetes/starling-reflector.yaml"), "utf8")
    const docs = parseAllDocuments(text)
    for (const d of docs) expect(d.errors).toEqual([])
    const objects = docs.map((d) => d.toJS() as { kind: string; metadata: { name: string; namespace?: string }; [k: string]: any })
    expect(objects.map((o) => o.kind)).toEqual(["Namespace", "ConfigMap", "DaemonSet", "Service"])
    const cm = objects[1]!
    const ds = objects[2]!
    const svc = objects[3]!

    const configText = cm.data["starling.yaml"] as string
    const parsed = parseConfig(configText, "ConfigMap starling-config", { env: { NODE_IP: "10.0.3.7" } })
    if (Result.isFailure(parsed)) throw new Error(parsed.failure.message)
    const c = parsed.success.config
    expect(c.routerId).toBe("10.0.3.7")
    expect(c.dynamicNeighbors?.[0]?.template.routeReflectorClient).toBe(true)
    // Without the node's address the config says exactly what is missing.
    const unset = parseConfig(configText, "starling.yaml", { env: {} })
    expect(Result.isFailure(unset) && unset.failure.issues[0]?.message).toBe("environment variable NODE_IP is not set (used as ${NODE_IP})")

    const pod = ds.spec.template.spec
    expect(pod.hostNetwork).toBe(true)
    const container = pod.containers[0]
    expect(container.env.map((e: { name: string }) => e.name)).toContain("NODE_IP")
    // The command reads the ConfigMap's key where the volume puts it.
    const configPath = container.command[container.command.indexOf("--config") + 1] as string
    const mount = (volume: string) => container.volumeMounts.find((m: { name: string }) => m.name === volume).mountPath as string
    const volume = (name: string) => pod.volumes.find((v: { name: string }) => v.name === name)
    expect(configPath).toBe(`${mount("config")}/starling.yaml`)
    expect(volume("config").configMap.name).toBe(cm.metadata.name)
    expect(c.api?.tokenFile).toBe(`${mount("token")}/token`)
    expect(volume("token").secret.secretName).toBe("starling-api-token")
    // Ports: BGP where the config listens, the API where the Service and the probes point.
    const ports = Object.fromEntries(container.ports.map((p: { name: string; containerPort: number }) => [p.name, p.containerPort]))
    expect(ports.bgp).toBe(c.listen?.[0]?.port)
    expect(ports.api).toBe(c.api?.port)
    expect(container.livenessProbe.httpGet).toEqual({ path: "/healthz", port: c.api?.port })
    expect(svc.spec.ports[0].targetPort).toBe("api")
    expect(svc.spec.ports[0].port).toBe(c.api?.port)
    expect(svc.spec.selector).toEqual(ds.spec.selector.matchLabels)
    expect(ds.spec.template.metadata.labels).toEqual(ds.spec.selector.matchLabels)
    for (const o of objects.slice(1)) expect(o.metadata.namespace).toBe(objects[0]!.metadata.name)
  })
})
