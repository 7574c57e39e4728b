/**
 * The daemon's config file: what it accepts, and that every error names the field (as a path) and the
 * line it is on.
 */
import { describe, expect, it } from "@effect/vitest"
import { Afi, parseIpv4, parsePrefix, Role, Safi } from "@starling/codec"
import { Result } from "effect"
import type { ConfigIssue, LoadedConfig } from "../src/daemon/config.ts"
import { compilePolicies, expandEnv, isLoopback, parseConfig, toSpeakerConfig } from "../src/daemon/config.ts"

const ok = (text: string): LoadedConfig => {
  const r = parseConfig(text, "rr.yaml")
  if (Result.isFailure(r)) throw new Error(`expected a valid config:\n${r.failure.message}`)
  return r.success
}

const issues = (text: string, source = "rr.yaml"): ReadonlyArray<ConfigIssue> => {
  const r = parseConfig(text, source)
  if (Result.isSuccess(r)) throw new Error("expected config errors")
  return r.failure.issues
}

const full = `# a route reflector
localAs: 64512
routerId: 10.255.0.1
clusterId: 10.255.255.1
listen:
  - address: 127.0.0.1
    port: 1179
retainPrePolicy: true
policies:
  pod-blocks:
    statements:
      - match:
          prefixes: [{ prefix: 10.244.0.0/16, le: 26 }]
        action: accept
        set: { addCommunities: ["64512:100"] }
    default: reject
neighbors:
  - address: 127.0.0.2
    peerAs: 64512
    name: node-a
    routeReflectorClient: true
    importPolicy: pod-blocks
    holdTime: 9
    families: [ipv4-unicast]
    role: { role: peer }
    addPath: [{ family: ipv4-unicast, send: true, receive: false }]
  - address: 2001:db8::2
    peerAs: 65001
    passive: true
    maxPrefix: { limit: 100, action: reset }
dynamicNeighbors:
  - prefix: 10.0.0.0/16
    limit: 500
    template: { peerAs: 64512, routeReflectorClient: true, importPolicy: pod-blocks }
api:
  port: 8179
  tokenEnv: STARLING_TOKEN
logging: { level: debug, format: json }
`

describe("config file", () => {
  it("accepts a complete YAML config and converts it to the speaker's", () => {
    const l = ok(full)
    expect(l.config.localAs).toBe(64512)
    expect(l.config.neighbors?.length).toBe(2)
    const policies = compilePolicies(l.config)
    const sc = toSpeakerConfig(l.config, policies)
    expect(sc.clusterId).toBe("10.255.255.1")
    expect(sc.listen).toEqual([{ address: "127.0.0.1", port: 1179 }])
    expect(sc.retainPrePolicy).toBe(true)
    const a = sc.neighbors![0]!
    expect(a.families).toEqual([{ afi: Afi.IPV4, safi: Safi.UNICAST }])
    expect(a.role).toEqual({ role: Role.PEER })
    expect(a.addPath).toEqual([{ afi: Afi.IPV4, safi: Safi.UNICAST, send: true, receive: false }])
    // The named policy is compiled and resolved: it accepts a pod block and tags it, rejects the rest.
    const p = a.importPolicy
    if (typeof p !== "function") throw new Error("policy not resolved")
    const route = (prefix: string) => ({ prefix: parsePrefix(prefix)!, attrs: {}, neighbor: { address: "127.0.0.2", asn: 64512 }, localAs: 64512 })
    expect(p(route("10.244.3.0/26"))?.communities).toEqual([(64512 << 16 | 100) >>> 0])
    expect(p(route("192.168.0.0/24"))).toBeUndefined()
    expect(sc.neighbors![1]!.maxPrefix).toEqual({ limit: 100, action: "reset" })
  })

  it("accepts JSON (the same schema) and keeps compiled policies across reloads when unchanged", () => {
    const json = JSON.stringify({
      localAs: 65000,
      routerId: "192.0.2.1",
      policies: { a: { statements: [{ action: "accept" }] }, b: { statements: [], default: "accept" } },
      neighbors: [{ address: "192.0.2.2", peerAs: 65001, importPolicy: "a", exportPolicy: "b" }]
    })
    const r = parseConfig(json, "rr.json")
    expect(Result.isSuccess(r)).toBe(true)
    const c = Result.getOrThrow(r).config
    const first = compilePolicies(c)
    const changed = { ...c, policies: { ...c.policies!, b: { statements: [], default: "reject" as const } } }
    const second = compilePolicies(changed, first)
    expect(second.get("a")!.policy).toBe(first.get("a")!.policy)
    expect(second.get("b")!.policy).not.toBe(first.get("b")!.policy)
  })

  it("names the field of a bad value with its path, line and column, and the value", () => {
    const text = `localAs: 64512
routerId: 10.0.0.1
neighbors:
  - address: 127.0.0.2
    peerAs: 64512
  - address: 127.0.0.3
    peerAs: 64512
  - address: 127.0.0.4
    peerAs: 0
`
    const is = issues(text)
    expect(is).toEqual([{ path: "neighbors[2].peerAs", line: 9, column: 5, message: "Expected a value between 1 and 4294967295, got 0" }])
    const r = parseConfig(text, "rr.yaml")
    if (Result.isSuccess(r)) throw new Error("unreachable")
    expect(r.failure.message).toBe("rr.yaml:9:5: neighbors[2].peerAs: Expected a value between 1 and 4294967295, got 0")
  })

  it("rejects unknown fields, anywhere, and reports every problem at once", () => {
    const is = issues(`localAs: 64512
routerId: 10.0.0.1
routerID: 10.0.0.2
neighbors:
  - address: 127.0.0.2
    peerAS: 64512
    holdTime: 2
    families: [ipv4-multicast]
`)
    expect(is.map((i) => `${i.line} ${i.path}: ${i.message}`).sort()).toEqual([
      `3 routerID: unknown field`,
      `5 neighbors[0].peerAs: required field is missing`,
      `6 neighbors[0].peerAS: unknown field`,
      `7 neighbors[0].holdTime: must be 0 or 3..65535 (RFC 4271 §4.2), got 2`,
      `8 neighbors[0].families[0]: Expected "ipv4-unicast" | "ipv6-unicast", got "ipv4-multicast"`
    ].sort())
  })

  it("checks addresses and prefixes", () => {
    const is = issues(`localAs: 64512
routerId: 0.0.0.0
neighbors:
  - { address: 10.0.0.300, peerAs: 1 }
dynamicNeighbors:
  - { prefix: 10.0.0.0/33, template: { peerAs: 1 } }
`)
    expect(is.map((i) => `${i.line} ${i.path}: ${i.message}`)).toEqual([
      `4 neighbors[0].address: not an IP address: "10.0.0.300"`,
      `6 dynamicNeighbors[0].prefix: not a prefix: "10.0.0.0/33"`
    ])
    // The router id 0.0.0.0 is syntactically an address: the cross-field checks catch it.
    expect(issues(`localAs: 1\nrouterId: 0.0.0.0\n`)).toEqual([{ path: "routerId", line: 2, column: 1, message: "must not be 0.0.0.0" }])
  })

  it("checks policies by compiling them: the error names the statement's field", () => {
    const is = issues(`localAs: 64512
routerId: 10.0.0.1
policies:
  tag:
    statements:
      - action: accept
      - action: accept
        set:
          addCommunities: ["65536:1"]
neighbors:
  - address: 127.0.0.2
    peerAs: 64512
    importPolicy: tag
    exportPolicy: nope
`)
    expect(is).toEqual([
      { path: "policies.tag.statements[1].set.addCommunities[0]", line: 9, column: 28, message: `bad community "65536:1"` },
      { path: "neighbors[0].exportPolicy", line: 14, column: 5, message: `no policy named "nope" (policies: tag)` }
    ])
  })

  it("refuses duplicate neighbors, passive neighbors without a listener, ADD-PATH on a family not negotiated", () => {
    const is = issues(`localAs: 64512
routerId: 10.0.0.1
neighbors:
  - { address: "2001:db8::1", peerAs: 1, passive: true }
  - { address: "2001:DB8:0::1", peerAs: 2, families: [ipv4-unicast], addPath: [{ family: ipv6-unicast, send: true, receive: true }] }
`)
    expect(is.map((i) => `${i.path}: ${i.message}`)).toEqual([
      "neighbors[0].passive: a passive neighbor needs a listen address (listen)",
      "neighbors[1].address: 2001:DB8:0::1 is already neighbors[0]",
      "neighbors[1].addPath[0].family: ipv6-unicast is not among the neighbor's families"
    ])
  })

  it("keeps the API on loopback unless allowed", () => {
    const base = "localAs: 1\nrouterId: 10.0.0.1\n"
    expect(issues(`${base}api: { address: 0.0.0.0 }\n`)).toEqual([
      { path: "api.address", line: 3, column: 8, message: "0.0.0.0 is not a loopback address; set api.allowNonLoopback: true (and a token) to expose the API" }
    ])
    expect(Result.isSuccess(parseConfig(`${base}api: { address: 0.0.0.0, allowNonLoopback: true, tokenFile: /run/token }\n`))).toBe(true)
    expect(Result.isSuccess(parseConfig(`${base}api: { address: "::1" }\n`))).toBe(true)
    expect(issues(`${base}api: { token: a, tokenEnv: B }\n`).map((i) => i.path)).toEqual(["api.tokenEnv"])
    expect([isLoopback("127.1.2.3"), isLoopback("::1"), isLoopback("::ffff:127.0.0.1"), isLoopback("10.0.0.1"), isLoopback("::"), isLoopback("0.0.0.0")])
      .toEqual([true, true, true, false, false, false])
  })

  it("reports YAML syntax errors and duplicate keys with their line", () => {
    const is = issues("localAs: 1\nrouterId: 10.0.0.1\nneighbors: [\n")
    expect(is.length).toBeGreaterThan(0)
    expect(is[0]!.line).toBeGreaterThanOrEqual(3)
    const dup = issues("localAs: 1\nrouterId: 10.0.0.1\nlocalAs: 2\n")
    expect(dup[0]!.line).toBe(3)
    expect(dup[0]!.message).toMatch(/unique/i)
    expect(issues("- just a list\n")).toEqual([{ path: "", line: 1, column: 1, message: "the config must be a mapping (an object) of fields" }])
  })

  it("expands ${NAME} from the environment (one config for every replica), naming what is unset", () => {
    const text = "localAs: 64512\nrouterId: ${NODE_IP}\n# ${IGNORED} in a comment\nclusterId: 10.0.0.9 # $${NOT_A_VAR}\n"
    const r = parseConfig(text, "rr.yaml", { env: { NODE_IP: "10.1.2.3" } })
    expect(Result.getOrThrow(r).config.routerId).toBe("10.1.2.3")
    expect(Result.getOrThrow(expandEnv("a: $${X}\n", {}))).toBe("a: ${X}\n")
    const unset = parseConfig(text, "rr.yaml", { env: {} })
    if (Result.isSuccess(unset)) throw new Error("expected an error")
    expect(unset.failure.message).toBe("rr.yaml:2:11: environment variable NODE_IP is not set (used as ${NODE_IP})")
    expect(parseIpv4(Result.getOrThrow(r).config.routerId)).toBeDefined()
  })
})
