/**
 * OPEN judgement and negotiation: RFC 4271 §6.2 (version, peer AS, identifier, hold time), RFC 6793
 * (4-octet AS), RFC 6286 (identifiers), RFC 9234 (roles), RFC 5492 §5 (required capabilities), RFC 4760
 * (families), RFC 7911 (ADD-PATH direction), RFC 8654, RFC 4724 / RFC 9494, and the two codec contexts.
 */
import { describe, expect, it } from "@effect/vitest"
import type { BgpError, Capability, Open } from "@starling/codec"
import { AddPathMode, Afi, AS_TRANS, decodeCapability, familyKey, Role, Safi } from "@starling/codec"
import type { Negotiated, PeerConfig } from "../src/index.ts"
import { localCapabilities, localOpen, negotiate } from "../src/index.ts"
import { config, ID_LOCAL, ID_REMOTE, remoteConfig, remoteOpen } from "./support/fsm.ts"

const accept = (cfg: PeerConfig, open: Open): Negotiated => {
  const r = negotiate(cfg, open)
  if (!r.ok) throw new Error(`expected acceptance, got ${r.error.message}`)
  return r.value
}

const refuse = (cfg: PeerConfig, open: Open): BgpError => {
  const r = negotiate(cfg, open)
  if (r.ok) throw new Error("expected the OPEN to be refused")
  return r.error
}

const codes = (e: BgpError) => [e.code, e.subcode]

/** The capabilities in a NOTIFICATION's data: TLVs as in an OPEN (RFC 5492 §5). */
const capabilitiesIn = (data: Uint8Array): Capability[] => {
  const out: Capability[] = []
  for (let i = 0; i < data.length;) {
    const code = data[i]!
    const len = data[i + 1]!
    const c = decodeCapability(code, data, i + 2, i + 2 + len)
    if (typeof c === "string") throw new Error(c)
    out.push(c)
    i += 2 + len
  }
  return out
}

const withCaps = (open: Open, f: (caps: ReadonlyArray<Capability>) => ReadonlyArray<Capability>): Open => ({
  ...open,
  capabilities: f(open.capabilities)
})

const v4 = { afi: Afi.IPV4, safi: Safi.UNICAST }
const v6 = { afi: Afi.IPV6, safi: Safi.UNICAST }

describe("negotiate: the mirrored default OPEN", () => {
  it("accepts and negotiates everything both sides offer", () => {
    const n = accept(config(), remoteOpen())
    expect(n.peerAs).toBe(65002)
    expect(n.peerId).toBe(ID_REMOTE)
    expect(n.holdTime).toBe(60) // min(90, 60)
    expect(n.keepaliveTime).toBe(20) // min(90/3, 60/3)
    expect(n.as4).toBe(true)
    expect(n.extendedMessage).toBe(true)
    expect(n.routeRefresh).toBe(true)
    expect(n.enhancedRouteRefresh).toBe(true)
    expect(n.families).toEqual([v4, v6])
    expect(n.addPathReceive).toEqual([])
    expect(n.addPathSend).toEqual([])
    expect(n.gracefulRestart).toBeUndefined()
    expect(n.longLivedGracefulRestart).toBeUndefined()
    expect(n.peerRole).toBeUndefined()
  })

  it("our OPEN carries version 4, our AS, hold time and identifier", () => {
    const o = localOpen(config())
    expect([o.version, o.myAs, o.holdTime, o.bgpId]).toEqual([4, 65001, 90, ID_LOCAL])
    expect(o.capabilities).toContainEqual({ _tag: "FourOctetAs", asn: 65001 })
    // RFC 6793 §4.1: a 4-octet AS goes in the capability, AS_TRANS in My AS.
    const big = localOpen(config({ localAs: 4_200_000_001 }))
    expect(big.myAs).toBe(AS_TRANS)
    expect(big.capabilities).toContainEqual({ _tag: "FourOctetAs", asn: 4_200_000_001 })
  })
})

describe("negotiate: RFC 4271 §6.2 checks", () => {
  it("version other than 4 → 2/1 with the largest version we support (0x0004) as data", () => {
    for (const version of [3, 5, 0]) {
      const e = refuse(config(), remoteOpen({}, { version }))
      expect(codes(e)).toEqual([2, 1])
      expect([...e.data]).toEqual([0x00, 0x04])
    }
  })

  it("unexpected peer AS → 2/2; no expected AS accepts any", () => {
    const e = refuse(config({ peerAs: 65003 }), remoteOpen())
    expect(codes(e)).toEqual([2, 2])
    expect([...e.data]).toEqual([65002 >> 8, 65002 & 0xff])
    const { peerAs: _, ...anyPeer } = config()
    expect(accept(anyPeer, remoteOpen({ localAs: 64999 })).peerAs).toBe(64999)
  })

  it("AS_TRANS in My AS without the 4-octet AS capability → 2/2 (RFC 6793 §4.2)", () => {
    const open = withCaps(remoteOpen({}, { myAs: AS_TRANS }), (cs) => cs.filter((c) => c._tag !== "FourOctetAs"))
    expect(codes(refuse(config({ peerAs: AS_TRANS }), open))).toEqual([2, 2])
    const { peerAs: _, ...anyPeer } = config()
    expect(codes(refuse(anyPeer, open))).toEqual([2, 2])
  })

  it("a 4-octet peer AS comes from the capability (RFC 6793 §3)", () => {
    const open = remoteOpen({ localAs: 4_200_000_002 })
    expect(open.myAs).toBe(AS_TRANS)
    const n = accept(config({ peerAs: 4_200_000_002 }), open)
    expect(n.peerAs).toBe(4_200_000_002)
    expect(n.as4).toBe(true)
    expect(codes(refuse(config({ peerAs: 65002 }), open))).toEqual([2, 2])
  })

  it("a 2-octet-only peer: AS from My AS, as4 off in both directions", () => {
    const open = withCaps(remoteOpen(), (cs) => cs.filter((c) => c._tag !== "FourOctetAs"))
    const n = accept(config(), open)
    expect(n.peerAs).toBe(65002)
    expect([n.as4, n.rx.as4, n.tx.as4]).toEqual([false, false, false])
  })

  it("BGP Identifier 0 → 2/3; equal identifiers → 2/3 for iBGP only (RFC 6286 §2.2)", () => {
    expect(codes(refuse(config(), remoteOpen({ localId: 0 })))).toEqual([2, 3])
    const ibgp = config({ peerAs: 65001 })
    expect(codes(refuse(ibgp, remoteOpen({ localAs: 65001, localId: ID_LOCAL })))).toEqual([2, 3])
    expect(accept(ibgp, remoteOpen({ localAs: 65001 })).rx.internal).toBe(true)
    // eBGP with the same identifier is legal; collisions are then settled by AS (RFC 6286 §2.3).
    expect(accept(config(), remoteOpen({ localId: ID_LOCAL })).peerId).toBe(ID_LOCAL)
  })

  it("identifiers are unsigned 32-bit", () => {
    expect(accept(config(), remoteOpen({ localId: 0xfffffffe })).peerId).toBe(0xfffffffe)
  })
})

describe("negotiate: hold time and keepalive (RFC 4271 §4.2, §6.2, §10)", () => {
  const holdOf = (local: number, remote: number, extra: Partial<PeerConfig> = {}) =>
    accept(config({ holdTime: local, ...extra }), remoteOpen({ holdTime: remote }))

  it("remote hold 1 or 2 → 2/6", () => {
    for (const h of [1, 2]) expect(codes(refuse(config(), remoteOpen({ holdTime: h })))).toEqual([2, 6])
  })

  it("the smaller of both hold times; keepalive a third of it", () => {
    expect([holdOf(90, 60).holdTime, holdOf(90, 60).keepaliveTime]).toEqual([60, 20])
    expect([holdOf(30, 180).holdTime, holdOf(30, 180).keepaliveTime]).toEqual([30, 10])
    expect([holdOf(90, 3).holdTime, holdOf(90, 3).keepaliveTime]).toEqual([3, 1])
    expect([holdOf(90, 4).holdTime, holdOf(90, 4).keepaliveTime]).toEqual([4, 1])
  })

  it("zero on either side → 0 hold, 0 keepalive (no timers)", () => {
    expect([holdOf(90, 0).holdTime, holdOf(90, 0).keepaliveTime]).toEqual([0, 0])
    expect([holdOf(0, 90).holdTime, holdOf(0, 90).keepaliveTime]).toEqual([0, 0])
  })

  it("a configured keepalive interval is used when smaller than hold/3", () => {
    expect(holdOf(90, 90, { keepaliveTime: 10 }).keepaliveTime).toBe(10)
    expect(holdOf(90, 60, { keepaliveTime: 50 }).keepaliveTime).toBe(20)
  })

  it("minHoldTime refuses smaller non-zero values (2/6), zero still passes", () => {
    expect(codes(refuse(config({ minHoldTime: 10 }), remoteOpen({ holdTime: 9 })))).toEqual([2, 6])
    expect(holdOf(90, 10, { minHoldTime: 10 }).holdTime).toBe(10)
    expect(holdOf(90, 0, { minHoldTime: 10 }).holdTime).toBe(0)
  })
})

describe("negotiate: RFC 9234 roles", () => {
  const names: Record<number, string> = { 0: "Provider", 1: "RS", 2: "RS-Client", 3: "Customer", 4: "Peer" }
  const valid = new Set(["Provider/Customer", "Customer/Provider", "RS/RS-Client", "RS-Client/RS", "Peer/Peer"])
  const all = Object.values(Role)

  for (const local of all) {
    for (const remote of all) {
      const pair = `${names[local]}/${names[remote]}`
      it(`${pair} → ${valid.has(pair) ? "accepted" : "2/11"}`, () => {
        const cfg = config({ role: { role: local } })
        const open = remoteOpen({ role: { role: remote } })
        if (valid.has(pair)) expect(accept(cfg, open).peerRole).toBe(remote)
        else expect(codes(refuse(cfg, open))).toEqual([2, 11])
      })
    }
  }

  it("strict mode refuses a peer without a role (2/11); otherwise it is accepted", () => {
    expect(codes(refuse(config({ role: { role: Role.PEER, strict: true } }), remoteOpen()))).toEqual([2, 11])
    expect(accept(config({ role: { role: Role.PEER } }), remoteOpen()).peerRole).toBeUndefined()
  })

  it("without a local role the peer's role is recorded, not judged", () => {
    expect(accept(config(), remoteOpen({ role: { role: Role.CUSTOMER } })).peerRole).toBe(Role.CUSTOMER)
  })

  it("several Role capabilities must agree (RFC 9234 §4.2)", () => {
    const twice = (a: number, b: number) =>
      withCaps(remoteOpen(), (cs) => [...cs, { _tag: "Role", role: a }, { _tag: "Role", role: b }])
    expect(accept(config({ role: { role: Role.PEER } }), twice(Role.PEER, Role.PEER)).peerRole).toBe(Role.PEER)
    expect(codes(refuse(config({ role: { role: Role.PEER } }), twice(Role.PEER, Role.CUSTOMER)))).toEqual([2, 11])
    expect(codes(refuse(config(), twice(Role.PROVIDER, Role.CUSTOMER)))).toEqual([2, 11])
  })
})

describe("negotiate: required capabilities (RFC 5492 §5) → 2/7 listing them", () => {
  const without = (tag: Capability["_tag"]) => withCaps(remoteOpen(), (cs) => cs.filter((c) => c._tag !== tag))

  it("present: accepted", () => {
    const n = accept(config({ requiredCapabilities: ["FourOctetAs", "RouteRefresh", "ExtendedMessage", "mp:2/1"] }), remoteOpen())
    expect(n.families).toEqual([v4, v6])
  })

  it("missing 4-octet AS: our own capability is the data", () => {
    const e = refuse(config({ requiredCapabilities: ["FourOctetAs"] }), without("FourOctetAs"))
    expect(codes(e)).toEqual([2, 7])
    expect(capabilitiesIn(e.data)).toEqual([{ _tag: "FourOctetAs", asn: 65001 }])
  })

  it("missing families and route refresh, in the order required", () => {
    const open = withCaps(remoteOpen(), (cs) => cs.filter((c) => !(c._tag === "Multiprotocol" && c.afi === Afi.IPV6) && c._tag !== "RouteRefresh"))
    const e = refuse(config({ requiredCapabilities: ["mp:2/1", "RouteRefresh", "mp:1/1"] }), open)
    expect(codes(e)).toEqual([2, 7])
    expect(capabilitiesIn(e.data)).toEqual([{ _tag: "Multiprotocol", afi: 2, safi: 1 }, { _tag: "RouteRefresh" }])
    expect([...e.data]).toEqual([1, 4, 0, 2, 0, 1, 2, 0])
  })

  it("a required capability we do not advertise ourselves is still enforced", () => {
    const e1 = refuse(config({ routeRefresh: false, requiredCapabilities: ["RouteRefresh"] }), without("RouteRefresh"))
    expect([...e1.data]).toEqual([2, 0])
    const e2 = refuse(config({ requiredCapabilities: ["GracefulRestart", "AddPath"] }), remoteOpen())
    expect(codes(e2)).toEqual([2, 7])
    expect([...e2.data]).toEqual([64, 0, 69, 0])
  })

  it("a required capability we advertise is listed as we send it", () => {
    const cfg = config({ gracefulRestart: { restartTime: 120 }, requiredCapabilities: ["GracefulRestart"] })
    const e = refuse(cfg, remoteOpen())
    expect(capabilitiesIn(e.data)).toEqual(localCapabilities(cfg).filter((c) => c._tag === "GracefulRestart"))
  })
})

describe("negotiate: families (RFC 4760)", () => {
  it("the intersection of both lists", () => {
    expect(accept(config(), remoteOpen({ families: [v6] })).families).toEqual([v6])
    expect(accept(config({ families: [v4] }), remoteOpen()).families).toEqual([v4])
    const vpn = { afi: Afi.IPV4, safi: Safi.MPLS_VPN }
    expect(accept(config({ families: [v4, vpn] }), remoteOpen({ families: [vpn, v6] })).families).toEqual([vpn])
  })

  it("no multiprotocol capability at all means IPv4 unicast", () => {
    const bare = withCaps(remoteOpen(), (cs) => cs.filter((c) => c._tag !== "Multiprotocol"))
    expect(accept(config(), bare).families).toEqual([v4])
    expect(accept(config({ families: [v6] }), bare).families).toEqual([])
  })
})

describe("negotiate: ADD-PATH direction per family (RFC 7911 §5)", () => {
  const both = { ...v4, receive: true, send: true }
  const cases: Array<[string, PeerConfig["addPath"], PeerConfig["addPath"], string[], string[]]> = [
    ["we receive, peer sends", [{ ...v4, receive: true, send: false }], [{ ...v4, receive: false, send: true }], ["1/1"], []],
    ["we send, peer receives", [{ ...v4, receive: false, send: true }], [{ ...v4, receive: true, send: false }], [], ["1/1"]],
    ["both ways", [both], [both], ["1/1"], ["1/1"]],
    ["both receive only: nothing", [{ ...v4, receive: true, send: false }], [{ ...v4, receive: true, send: false }], [], []],
    ["we both, peer sends", [both], [{ ...v4, receive: false, send: true }], ["1/1"], []],
    ["peer only", undefined, [both], [], []],
    ["different families", [both], [{ ...v6, receive: true, send: true }], [], []],
    ["per family", [both, { ...v6, receive: true, send: false }], [{ ...v4, receive: true, send: false }, { ...v6, receive: true, send: true }], ["2/1"], ["1/1"]]
  ]
  const fam = (fs: ReadonlyArray<{ afi: number; safi: number }>) => fs.map((f) => `${f.afi}/${f.safi}`)
  const keys = (fs: string[]) => new Set(fs.map((s) => familyKey(Number(s.split("/")[0]), Number(s.split("/")[1]))))

  for (const [name, local, remote, rx, tx] of cases) {
    it(name, () => {
      const n = accept(config(local === undefined ? {} : { addPath: local }), remoteOpen(remote === undefined ? {} : { addPath: remote }))
      expect(fam(n.addPathReceive)).toEqual(rx)
      expect(fam(n.addPathSend)).toEqual(tx)
      expect(n.rx.addPath).toEqual(keys(rx))
      expect(n.tx.addPath).toEqual(keys(tx))
    })
  }

  it("only for negotiated families", () => {
    const n = accept(config({ families: [v4], addPath: [both, { ...v6, receive: true, send: true }] }), remoteOpen({ addPath: [both, { ...v6, receive: true, send: true }] }))
    expect(fam(n.addPathReceive)).toEqual(["1/1"])
  })

  it("the modes we advertise", () => {
    const caps = localCapabilities(config({ addPath: [both, { ...v6, receive: true, send: false }, { afi: 1, safi: 2, receive: false, send: false }] }))
    expect(caps.find((c) => c._tag === "AddPath")).toEqual({
      _tag: "AddPath",
      families: [{ ...v4, mode: AddPathMode.BOTH }, { ...v6, mode: AddPathMode.RECEIVE }]
    })
  })
})

describe("negotiate: other capabilities and the codec contexts", () => {
  it("extended message only when both advertise it (RFC 8654)", () => {
    expect(accept(config(), remoteOpen()).extendedMessage).toBe(true)
    expect(accept(config({ extendedMessage: false }), remoteOpen()).extendedMessage).toBe(false)
    expect(accept(config(), remoteOpen({ extendedMessage: false })).extendedMessage).toBe(false)
  })

  it("route refresh and enhanced route refresh only when both advertise them", () => {
    const n = accept(config({ routeRefresh: false }), remoteOpen({ enhancedRouteRefresh: false }))
    expect([n.routeRefresh, n.enhancedRouteRefresh]).toEqual([false, false])
  })

  it("graceful restart info when both advertise it (RFC 4724)", () => {
    const peer = { restartTime: 90, restarting: true, notification: true, forwarding: [v4] }
    const n = accept(config({ gracefulRestart: { restartTime: 120 } }), remoteOpen({ gracefulRestart: peer }))
    expect(n.gracefulRestart).toEqual({
      restartTime: 90,
      restarting: true,
      // RFC 8538 §2: the peer set the N bit, we did not: not exchanged.
      notification: false,
      families: [{ ...v4, forwarding: true }, { ...v6, forwarding: false }]
    })
    const both = accept(config({ gracefulRestart: { restartTime: 120, notification: true } }), remoteOpen({ gracefulRestart: peer }))
    expect(both.gracefulRestart?.notification).toBe(true)
    const oursOnly = accept(config({ gracefulRestart: { restartTime: 120, notification: true } }), remoteOpen({ gracefulRestart: { ...peer, notification: false } }))
    expect(oursOnly.gracefulRestart?.notification).toBe(false)
    expect(accept(config(), remoteOpen({ gracefulRestart: peer })).gracefulRestart).toBeUndefined()
    expect(accept(config({ gracefulRestart: { restartTime: 120 } }), remoteOpen()).gracefulRestart).toBeUndefined()
  })

  it("long-lived graceful restart info when both advertise it (RFC 9494)", () => {
    const n = accept(config({ longLivedGracefulRestart: { staleTime: 3600 } }), remoteOpen({ longLivedGracefulRestart: { staleTime: 86400 } }))
    expect(n.longLivedGracefulRestart).toEqual([
      { ...v4, forwarding: false, staleTime: 86400 },
      { ...v6, forwarding: false, staleTime: 86400 }
    ])
    expect(accept(config(), remoteOpen({ longLivedGracefulRestart: { staleTime: 86400 } })).longLivedGracefulRestart).toBeUndefined()
  })

  it("extended next hop: the entries both advertise (RFC 8950); hostname recorded", () => {
    const n = accept(config({ extendedNextHop: true }), remoteOpen({ extendedNextHop: true, hostname: "r2" }))
    expect(n.extendedNextHop).toEqual([{ afi: Afi.IPV4, safi: Safi.UNICAST, nextHopAfi: Afi.IPV6 }])
    expect(n.peerHostname).toBe("r2")
    expect(accept(config(), remoteOpen({ extendedNextHop: true })).extendedNextHop).toEqual([])
  })

  it("rx and tx agree on everything but the ADD-PATH direction", () => {
    const configs: Array<[Partial<PeerConfig>, Partial<PeerConfig>]> = [
      [{}, {}],
      [{ extendedMessage: false }, {}],
      [{ peerAs: 65001 }, { localAs: 65001 }],
      [{ addPath: [{ ...v4, receive: true, send: false }] }, { addPath: [{ ...v4, receive: true, send: true }] }]
    ]
    for (const [l, r] of configs) {
      const n = accept(config(l), remoteOpen(r))
      expect(n.rx.as4).toBe(n.tx.as4)
      expect(n.rx.extendedMessage).toBe(n.tx.extendedMessage)
      expect(n.rx.internal).toBe(n.tx.internal)
      expect(n.rx.as4).toBe(n.as4)
      expect(n.rx.extendedMessage).toBe(n.extendedMessage)
      expect(n.rx.internal).toBe(n.peerAs === 65001) // our AS
    }
  })

  it("both sides negotiate mirror images of each other", () => {
    const a = config({ addPath: [{ ...v4, receive: true, send: false }], gracefulRestart: { restartTime: 60 } })
    const b = remoteConfig({ addPath: [{ ...v4, receive: true, send: true }], gracefulRestart: { restartTime: 60 }, extendedMessage: false })
    const na = accept(a, localOpen(b))
    const nb = accept(b, localOpen(a))
    expect(na.holdTime).toBe(nb.holdTime)
    expect(na.keepaliveTime).toBe(nb.keepaliveTime)
    expect(na.families).toEqual(nb.families)
    expect(na.rx.addPath).toEqual(nb.tx.addPath)
    expect(na.tx.addPath).toEqual(nb.rx.addPath)
    expect([na.extendedMessage, nb.extendedMessage]).toEqual([false, false])
    expect([na.peerAs, nb.peerAs]).toEqual([65002, 65001])
  })
})
