/**
 * iproute2 as a wire format: the batch lines we generate (ECMP, onlink, the IP-in-IP `tunl0` form,
 * blackholes, IPv6), what we refuse to write, and parsing what `ip` prints back — per-line batch errors,
 * `-N -json` dumps and `-N -o monitor label` records. The outputs below were captured from iproute2 6.1
 * on kernel 6.18 (this project's test machines).
 */
import { assert, describe, it } from "@effect/vitest"
import type { KernelRoute } from "@starling/kernel"
import { batchResults, canonicalPrefix, commandLine, flushArgs, normalizeNextHops, parseBatchErrors, parseDump, parseMonitorLine, prefixWithin, RouteType, satisfies, validateRoute } from "@starling/kernel"

const route = (prefix: string, nexthops: KernelRoute["nexthops"], extra: Partial<KernelRoute> = {}): KernelRoute => ({
  prefix,
  family: prefix.includes(":") ? 6 : 4,
  table: 254,
  protocol: 201,
  metric: 32,
  type: RouteType.unicast,
  nexthops: normalizeNextHops(nexthops),
  ...extra
})

describe("batch lines", () => {
  it("single next hop, with table, protocol and metric before the next hop", () => {
    assert.strictEqual(commandLine({ op: "add", route: route("10.9.0.0/24", [{ via: "10.1.0.2" }]) }), "route add 10.9.0.0/24 table 254 proto 201 metric 32 via 10.1.0.2")
    assert.strictEqual(
      commandLine({ op: "replace", route: route("10.9.0.0/24", [{ via: "10.1.0.2", dev: "eth0" }], { table: 100, metric: 7 }) }),
      "route replace 10.9.0.0/24 table 100 proto 201 metric 7 via 10.1.0.2 dev eth0"
    )
  })

  it("ECMP: one nexthop clause per path, in canonical order, options first (a nexthop clause must be last)", () => {
    const r = route("10.9.3.0/24", [{ via: "10.1.0.3" }, { via: "10.1.0.2" }])
    assert.strictEqual(commandLine({ op: "add", route: r }), "route add 10.9.3.0/24 table 254 proto 201 metric 32 nexthop via 10.1.0.2 weight 1 nexthop via 10.1.0.3 weight 1")
    const w = route("10.9.3.0/24", [{ via: "10.1.0.2", weight: 3 }])
    assert.strictEqual(commandLine({ op: "add", route: w }), "route add 10.9.3.0/24 table 254 proto 201 metric 32 nexthop via 10.1.0.2 weight 3")
  })

  it("IP-in-IP (Calico): via the peer node over tunl0, onlink", () => {
    const r = route("10.244.2.0/26", [{ via: "192.168.0.12", dev: "tunl0", onlink: true }])
    assert.strictEqual(commandLine({ op: "replace", route: r }), "route replace 10.244.2.0/26 table 254 proto 201 metric 32 via 192.168.0.12 dev tunl0 onlink")
    const ecmp = route("10.244.2.0/26", [{ via: "192.168.0.12", dev: "tunl0", onlink: true }, { via: "192.168.0.13", dev: "tunl0", onlink: true }])
    assert.strictEqual(
      commandLine({ op: "add", route: ecmp }),
      "route add 10.244.2.0/26 table 254 proto 201 metric 32 nexthop via 192.168.0.12 dev tunl0 weight 1 onlink nexthop via 192.168.0.13 dev tunl0 weight 1 onlink"
    )
  })

  it("blackhole for an owned block; deletes name protocol and metric so only our route can match", () => {
    const b = route("10.244.1.0/26", [], { type: RouteType.blackhole })
    assert.strictEqual(commandLine({ op: "add", route: b }), "route add blackhole 10.244.1.0/26 table 254 proto 201 metric 32")
    assert.strictEqual(commandLine({ op: "delete", route: b }), "route del 10.244.1.0/26 table 254 proto 201 metric 32")
  })

  it("IPv6, link-local next hops with a device, and next hops of the other family (RFC 8950)", () => {
    assert.strictEqual(
      commandLine({ op: "add", route: route("2001:db8:6::/64", [{ via: "fe80::2", dev: "va" }, { via: "fe80::1", dev: "va" }]) }),
      "route add 2001:db8:6::/64 table 254 proto 201 metric 32 nexthop via fe80::1 dev va weight 1 nexthop via fe80::2 dev va weight 1"
    )
    assert.strictEqual(commandLine({ op: "add", route: route("10.0.0.0/8", [{ via: "2001:db8::1", dev: "va" }]) }), "route add 10.0.0.0/8 table 254 proto 201 metric 32 via inet6 2001:db8::1 dev va")
  })

  it("an IPv6 flush is its own process (a batch line decides the family too early)", () => {
    assert.deepStrictEqual(flushArgs({ op: "flush", family: 6, table: 254, protocol: 201 }), ["-6", "route", "flush", "table", "254", "proto", "201"])
    assert.throws(() => commandLine({ op: "flush", family: 4, table: 254, protocol: 201 }))
  })

  it("refuses anything that could break the batch tokenizer or mean something else", () => {
    const bad: Array<[KernelRoute, RegExp]> = [
      [route("10.9.0.1/24", [{ via: "10.1.0.2" }]), /canonical prefix/],
      [route("10.9.0.0/24", [{ via: "10.1.0.2", dev: "eth0 via 1.2.3.4" }]), /device/],
      [route("10.9.0.0/24", [{ via: "10.1.0.2", dev: "a#b" }]), /device/],
      [route("10.9.0.0/24", [{ via: "10.1.0.02" }]), /canonical address/],
      [route("10.9.0.0/24", []), /needs a next hop/],
      [route("10.9.0.0/24", [{ via: "10.1.0.2" }], { type: RouteType.blackhole }), /no next hops/],
      [route("10.9.0.0/24", [{ via: "10.1.0.2" }], { table: 0 }), /table/],
      [route("10.9.0.0/24", [{ via: "10.1.0.2" }], { metric: -1 }), /metric/],
      [route("10.9.0.0/24", [{ via: "10.1.0.2", weight: 300 }]), /weight/],
      [route("10.9.0.0/24", [{}]), /gateway or a device/]
    ]
    for (const [r, why] of bad) {
      assert.match(validateRoute(r) ?? "", why)
      assert.throws(() => commandLine({ op: "add", route: r }))
    }
  })
})

describe("batch errors (ip -force -batch -)", () => {
  // Captured: line 2 had an unreachable gateway, line 3 deleted a missing route.
  const stderr = "Error: Nexthop has invalid gateway.\nCommand failed -:2\nRTNETLINK answers: No such process\nCommand failed -:3\n"

  it("attributes each error to its line", () => {
    const e = parseBatchErrors(stderr)
    assert.deepStrictEqual([...e.failures], [[2, "Error: Nexthop has invalid gateway."], [3, "RTNETLINK answers: No such process"]])
    assert.strictEqual(e.lastReported, 3)
    assert.deepStrictEqual(e.other, [])
    const r = batchResults(4, 1, stderr)
    assert.deepStrictEqual(r.map((x) => x.ok), [true, false, false, true])
  })

  it("a batch that aborted (exit 255) leaves the lines after the last report unknown", () => {
    const aborted = `${stderr}Error: "nexthop" or end of line is expected instead of "proto"\n`
    const r = batchResults(5, 255, aborted)
    assert.deepStrictEqual(r.map((x) => x.ok), [true, false, false, false, false])
    const last = r[4]!
    assert.isFalse(last.ok)
    if (!last.ok) {
      assert.isTrue(last.unknown)
      assert.match(last.error, /nexthop/)
    }
    assert.isUndefined(r[1]!.ok ? undefined : (r[1] as { unknown?: boolean }).unknown)
  })
})

describe("dumps (ip -N -json route show)", () => {
  it("reads types, tables, protocols, ECMP, onlink and default routes", () => {
    const v4 = JSON.stringify([
      { dst: "10.9.0.0/24", gateway: "10.1.0.2", dev: "va", table: "100", protocol: "186", metric: 32, flags: [] },
      { dst: "default", gateway: "10.1.0.2", dev: "va", protocol: "201", metric: 32, flags: [] },
      { dst: "10.1.0.0/24", dev: "va", protocol: "2", scope: "253", prefsrc: "10.1.0.1", flags: [] },
      { type: "6", dst: "10.9.2.0/24", protocol: "201", metric: 32, flags: [] },
      { dst: "10.9.3.0/24", gateway: "10.7.0.1", dev: "va", protocol: "201", metric: 32, flags: ["onlink"] },
      { type: "2", dst: "10.1.0.1", dev: "va", table: "255", protocol: "2", scope: "254", prefsrc: "10.1.0.1", flags: [] },
      { dst: "10.9.1.0/24", protocol: "201", metric: 32, flags: [], nexthops: [{ gateway: "10.1.0.3", dev: "va", weight: 1, flags: [] }, { gateway: "10.1.0.2", dev: "va", weight: 1, flags: [] }] }
    ])
    const rs = parseDump(v4, 4)
    assert.strictEqual(rs.length, 7)
    assert.deepInclude(rs[0]!, { prefix: "10.9.0.0/24", table: 100, protocol: 186, metric: 32, type: 1 })
    assert.deepInclude(rs[1]!, { prefix: "0.0.0.0/0", table: 254, protocol: 201 })
    assert.deepInclude(rs[2]!, { prefix: "10.1.0.0/24", protocol: 2, scope: 253, metric: 0, src: "10.1.0.1" })
    assert.deepInclude(rs[3]!, { prefix: "10.9.2.0/24", type: RouteType.blackhole })
    assert.deepStrictEqual(rs[3]!.nexthops, [])
    assert.deepStrictEqual(rs[4]!.nexthops, [{ via: "10.7.0.1", dev: "va", onlink: true }])
    assert.deepInclude(rs[5]!, { prefix: "10.1.0.1/32", type: RouteType.local, table: 255 })
    assert.deepStrictEqual(rs[6]!.nexthops, [{ via: "10.1.0.2", dev: "va" }, { via: "10.1.0.3", dev: "va" }])
  })

  it("fills the protocol a filtered dump leaves out, and reads IPv6", () => {
    const v6 = JSON.stringify([
      { type: "6", dst: "2001:db8:2::/64", dev: "lo", table: "100", metric: 1024, flags: [], pref: "medium" },
      { dst: "2001:db8:1::/64", metric: 1024, flags: [], pref: "medium", nexthops: [{ gateway: "fe80::1", dev: "va", weight: 1, flags: [] }, { gateway: "FE80::2", dev: "va", weight: 1, flags: [] }] },
      { dst: "default", gateway: "fe80::1", dev: "va", metric: 32, flags: [], pref: "medium" }
    ])
    const rs = parseDump(v6, 6, { protocol: 201 })
    assert.deepInclude(rs[0]!, { prefix: "2001:db8:2::/64", family: 6, table: 100, protocol: 201, type: 6, metric: 1024 })
    assert.deepStrictEqual(rs[1]!.nexthops, [{ via: "fe80::1", dev: "va" }, { via: "fe80::2", dev: "va" }])
    assert.strictEqual(rs[2]!.prefix, "::/0")
    assert.deepStrictEqual(parseDump("", 4), [])
  })
})

describe("monitor records (ip -N -o monitor label route link address)", () => {
  it("reads additions, deletions, types and multipath records", () => {
    const a = parseMonitorLine("[ROUTE]10.9.0.0/24 via 10.1.0.2 dev va table 100 proto 186 metric 32 ")
    assert(a?._tag === "Route")
    assert.isFalse(a.deleted)
    assert.deepInclude(a.route, { prefix: "10.9.0.0/24", table: 100, protocol: 186, metric: 32, type: 1 })
    assert.deepStrictEqual(a.route.nexthops, [{ via: "10.1.0.2", dev: "va" }])

    const b = parseMonitorLine("[ROUTE]6 10.9.2.0/24 proto 201 metric 32 ")
    assert(b?._tag === "Route")
    assert.deepInclude(b.route, { type: RouteType.blackhole, table: 254 })

    const m = parseMonitorLine("[ROUTE]Deleted 10.9.1.0/24 proto 201 metric 32 \\\tnexthop via 10.1.0.2 dev va weight 1 \\\tnexthop via 10.7.0.1 dev va weight 1 onlink ")
    assert(m?._tag === "Route")
    assert.isTrue(m.deleted)
    assert.deepStrictEqual(m.route.nexthops, [{ via: "10.1.0.2", dev: "va" }, { via: "10.7.0.1", dev: "va", onlink: true }])

    const v6 = parseMonitorLine("[ROUTE]2001:db8:6::/64 proto 201 metric 32 pref medium\\\tnexthop via fe80::1 dev va weight 1 \\\tnexthop via fe80::2 dev va weight 1 ")
    assert(v6?._tag === "Route")
    assert.deepInclude(v6.route, { family: 6, prefix: "2001:db8:6::/64" })
    assert.strictEqual(v6.route.nexthops.length, 2)
  })

  it("tells the family of a default route from its gateway or the IPv6-only pref", () => {
    const d4 = parseMonitorLine("[ROUTE]default via 10.1.0.2 dev va proto 201 metric 32 ")
    const d6 = parseMonitorLine("[ROUTE]default via fe80::1 dev va proto 201 metric 32 pref medium")
    const u6 = parseMonitorLine("[ROUTE]7 default dev lo proto 201 metric 1024 pref medium")
    assert(d4?._tag === "Route" && d6?._tag === "Route" && u6?._tag === "Route")
    assert.strictEqual(d4.route.prefix, "0.0.0.0/0")
    assert.strictEqual(d6.route.prefix, "::/0")
    assert.strictEqual(u6.route.prefix, "::/0")
  })

  it("links and addresses are notices; an overrun is a resync; noise is ignored", () => {
    assert.strictEqual(parseMonitorLine("[LINK]3: va@vb: <BROADCAST,MULTICAST> mtu 1500 qdisc noqueue state DOWN group 0 \\    link/[1] 9a:d1:a0:fe:ce:58")?._tag, "Link")
    assert.strictEqual(parseMonitorLine("[ADDR]Deleted 3: va    inet6 fe80::98d1:a0ff:fefe:ce58/64 scope 253")?._tag, "Link")
    assert.strictEqual(parseMonitorLine("netlink receive error No buffer space available (105)")?._tag, "Resync")
    assert.isUndefined(parseMonitorLine("[NEIGH]10.1.0.2 dev va lladdr 00:11:22:33:44:55 REACHABLE"))
    assert.isUndefined(parseMonitorLine(""))
  })
})

describe("route values", () => {
  it("canonical prefixes and containment", () => {
    assert.deepStrictEqual(canonicalPrefix("10.1.2.3"), { text: "10.1.2.3/32", family: 4 })
    assert.deepStrictEqual(canonicalPrefix("2001:DB8:0:0::/48"), { text: "2001:db8::/48", family: 6 })
    assert.isUndefined(canonicalPrefix("default"))
    assert.isTrue(prefixWithin("10.244.1.0/26", "10.244.0.0/16"))
    assert.isTrue(prefixWithin("10.244.0.0/16", "10.244.0.0/16"))
    assert.isFalse(prefixWithin("10.245.1.0/26", "10.244.0.0/16"))
    assert.isFalse(prefixWithin("10.0.0.0/8", "10.244.0.0/16"))
    assert.isTrue(prefixWithin("2001:db8:1:2::/64", "2001:db8::/32"))
    assert.isFalse(prefixWithin("2001:db9::/64", "2001:db8::/32"))
    assert.isFalse(prefixWithin("10.0.0.0/8", "::/0"))
  })

  it("an installed route satisfies the desired one when the fields asked for agree", () => {
    const want = route("10.9.0.0/24", [{ via: "10.1.0.2" }])
    assert.isTrue(satisfies(route("10.9.0.0/24", [{ via: "10.1.0.2", dev: "va" }]), want))
    assert.isFalse(satisfies(route("10.9.0.0/24", [{ via: "10.1.0.3", dev: "va" }]), want))
    assert.isFalse(satisfies(route("10.9.0.0/24", [{ via: "10.1.0.2", onlink: true }]), want))
    assert.isFalse(satisfies(route("10.9.0.0/24", [{ via: "10.1.0.2" }], { protocol: 12 }), want))
    assert.isFalse(satisfies(route("10.9.0.0/24", [], { type: RouteType.blackhole }), want))
    assert.isFalse(satisfies(route("10.9.0.0/24", [{ via: "10.1.0.2" }, { via: "10.1.0.3" }]), want))
    assert.isFalse(satisfies(want, route("10.9.0.0/24", [{ via: "10.1.0.2", dev: "tunl0" }])))
  })
})
