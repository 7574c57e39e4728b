/**
 * Malformed input on live sessions (real TCP on loopback, 127.66.5.0/24). A raw BGP speaker written here
 * with node:net completes the OPEN exchange with a Starling peer, then sends one broken message; the test
 * reads, on the raw socket, the exact NOTIFICATION Starling answers with (code, subcode, data — RFC 4271
 * §6, RFC 7606, RFC 7313 §5), checks that Starling closes the connection, and that the damage stays with
 * that one session: another Starling session running beside it (hold time 3 s) stays Established and keeps
 * exchanging KEEPALIVEs, and the attacked peer can establish again afterwards.
 *
 * RFC 7606 repairs (treat-as-withdraw, attribute discard) must not reset the session: the UPDATE is
 * delivered with its NLRI turned into withdrawals (or without the bad attribute), and the session stays up.
 */
import * as net from "node:net"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect, Exit, PubSub, Scope } from "effect"
import type { Message, Update } from "@starling/codec"
import { defaultContext, encodeMessageUnsafe, makeFramer, toHex } from "@starling/codec"
import type { Inbound, Peer, PeerConfig, PeerListener, SessionEvent } from "@starling/session"
import { makePeer, makePeerListener, tcpTransport } from "@starling/session"
import { lab } from "./lib/addresses.ts"
import { waitFor } from "./lib/process.ts"
import type { Starling, WireMessage } from "./lib/starling.ts"
import { bgpId, closeAllStarling, recordingTransport, startStarling } from "./lib/starling.ts"

const addr = lab(5)
/** Starling's listener for the attacked sessions. */
const STARLING = addr.host(1)
const STARLING_AS = 65005
const RAW_AS = 65105

// -------------------------------------------------------------------------------------------------
// A raw BGP speaker

class RawPeer {
  readonly socket: net.Socket
  readonly messages: Uint8Array[] = []
  private readonly framer = makeFramer({ extendedMessages: true })
  private cursor = 0
  private wake: (() => void) | undefined
  closed = false

  constructor(socket: net.Socket) {
    this.socket = socket
    socket.on("data", (b: Buffer) => {
      for (const m of this.framer.push(new Uint8Array(b.buffer, b.byteOffset, b.byteLength)).messages) this.messages.push(m.slice())
      this.wake?.()
    })
    socket.on("close", () => {
      this.closed = true
      this.wake?.()
    })
    socket.on("error", () => {})
  }

  static connect(localAddress: string, host: string, port = 179): Promise<RawPeer> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host, port, localAddress })
      s.once("connect", () => resolve(new RawPeer(s)))
      s.once("error", reject)
    })
  }

  send(bytes: Uint8Array): void {
    this.socket.write(bytes)
  }

  /** Waits until `check` holds (re-checked on every arrival and on close). */
  private until<A>(what: string, check: () => A | undefined, timeoutMs: number): Promise<A> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.wake = undefined
        reject(new Error(`raw peer: timed out waiting for ${what}; received types ${this.messages.map((m) => m[18]).join(",")}`))
      }, timeoutMs)
      const attempt = () => {
        const v = check()
        if (v === undefined && !this.closed) return
        clearTimeout(timer)
        this.wake = undefined
        if (v === undefined) reject(new Error(`raw peer: closed while waiting for ${what}`))
        else resolve(v)
      }
      this.wake = attempt
      attempt()
    })
  }

  /** The next message of `type` (earlier messages of other types are passed over). */
  next(type: number, timeoutMs = 5_000): Promise<Uint8Array> {
    return this.until(`message type ${type}`, () => {
      while (this.cursor < this.messages.length) {
        const m = this.messages[this.cursor++]!
        if (m[18] === type) return m
      }
      return undefined
    }, timeoutMs)
  }

  /** Resolves when the other side has closed the connection. */
  whenClosed(timeoutMs = 5_000): Promise<true> {
    return this.until("the connection to close", () => (this.closed ? true : undefined), timeoutMs)
  }

  /** OPEN, wait for the peer's OPEN and KEEPALIVE, KEEPALIVE. */
  async handshake(open: Uint8Array = rawOpen()): Promise<void> {
    this.send(open)
    await this.next(1)
    await this.next(4)
    this.send(encode({ _tag: "Keepalive" }))
  }

  destroy(): void {
    this.socket.destroy()
  }
}

const encode = (m: Message): Uint8Array => encodeMessageUnsafe(m, defaultContext)

/** The raw speaker's OPEN: IPv4 unicast, 4-octet AS, route refresh and enhanced route refresh; no extended messages. */
const rawOpen = (holdTime = 90): Uint8Array =>
  encode({
    _tag: "Open",
    version: 4,
    myAs: RAW_AS,
    holdTime,
    bgpId: bgpId("10.5.0.200"),
    capabilities: [
      { _tag: "Multiprotocol", afi: 1, safi: 1 },
      { _tag: "RouteRefresh" },
      { _tag: "EnhancedRouteRefresh" },
      { _tag: "FourOctetAs", asn: RAW_AS }
    ]
  })

// -------------------------------------------------------------------------------------------------
// Wire building blocks

const bytes = (...parts: ReadonlyArray<ReadonlyArray<number> | Uint8Array>): Uint8Array => {
  const out: number[] = []
  for (const p of parts) out.push(...p)
  return Uint8Array.from(out)
}

const MARKER = new Array<number>(16).fill(0xff)

/** A message with a correct header unless `length`/`marker` say otherwise. */
const message = (type: number, body: ReadonlyArray<number> | Uint8Array, o: { length?: number; marker?: ReadonlyArray<number> } = {}) => {
  const length = o.length ?? 19 + body.length
  return bytes(o.marker ?? MARKER, [length >> 8, length & 0xff, type], body)
}

const u16 = (n: number) => [n >> 8, n & 0xff]

const attr = (flags: number, type: number, value: ReadonlyArray<number>) => [flags, type, value.length, ...value]

const ORIGIN_IGP = attr(0x40, 1, [0])
/** AS_SEQUENCE of one 4-octet AS (4-octet AS is negotiated). */
const AS_PATH = attr(0x40, 2, [2, 1, 0, 0, RAW_AS >> 8, RAW_AS & 0xff])
const NEXT_HOP = attr(0x40, 3, [127, 66, 5, 200])

/** An UPDATE body from its three fields. */
const update = (p: { withdrawn?: ReadonlyArray<number>; attrs?: ReadonlyArray<number>; nlri?: ReadonlyArray<number> }) => {
  const w = p.withdrawn ?? []
  const a = p.attrs ?? []
  return message(2, [...u16(w.length), ...w, ...u16(a.length), ...a, ...(p.nlri ?? [])])
}

/** 192.0.2.0/24 in NLRI encoding. */
const NET_A = [24, 192, 0, 2]
const NET_B = [24, 198, 51, 100]

// -------------------------------------------------------------------------------------------------
// Starling side

interface Attacked {
  readonly peer: Peer
  readonly events: SessionEvent[]
  readonly inbound: Inbound[]
  readonly remote: string
}

let scope: Scope.Closeable
let listener: PeerListener
const wire: WireMessage[] = []
const transport = recordingTransport(tcpTransport, wire)
let bystanders: [Starling, Starling]

const run = <A, E>(effect: Effect.Effect<A, E, Scope.Scope>): Promise<A> => Effect.runPromise(Scope.provide(scope)(effect))

const starlingConfig = (overrides: Partial<PeerConfig> = {}): PeerConfig => ({
  localAs: STARLING_AS,
  peerAs: RAW_AS,
  localId: bgpId("10.5.0.1"),
  holdTime: 90,
  passive: true,
  connectRetryTime: 1,
  idleHoldTime: { initial: 1, max: 1 },
  ...overrides
})

/** A Starling peer for the raw speaker at `remote`, recording its events and what it delivers. */
const attacked = (remote: string, overrides: Partial<PeerConfig> = {}, options: { localAddress?: string; remotePort?: number } = {}): Promise<Attacked> =>
  run(Effect.gen(function*() {
    const peer = yield* makePeer({
      config: starlingConfig(overrides),
      remote: { address: remote, ...(options.remotePort === undefined ? {} : { port: options.remotePort }) },
      localAddress: options.localAddress ?? STARLING
    }, transport)
    const events: SessionEvent[] = []
    const inbound: Inbound[] = []
    const sub = yield* peer.events
    yield* Effect.forkScoped(Effect.forever(Effect.map(PubSub.take(sub), (e) => void events.push(e))))
    yield* Effect.forkScoped(Effect.forever(Effect.map(peer.inbound, (i) => void inbound.push(i))))
    if (overrides.passive !== false) yield* listener.register(peer)
    yield* peer.start
    return { peer, events, inbound, remote }
  }))

const stateOf = (a: Attacked) => Effect.runPromise(a.peer.state)

const established = (a: Attacked) => waitFor(`${a.remote} Established`, async () => ((await stateOf(a)) === "Established" ? true : undefined), 10_000, 20)

/** Starling's Down event for the session, once it has gone down. */
const downOf = (a: Attacked) =>
  waitFor(`${a.remote} Down`, () => a.events.find((e): e is Extract<SessionEvent, { _tag: "Down" }> => e._tag === "Down"), 5_000, 20)

interface Expected {
  readonly code: number
  readonly subcode: number
  /** NOTIFICATION data, hex. */
  readonly data: string
}

const notificationOf = (m: Uint8Array): Expected => ({ code: m[19]!, subcode: m[20]!, data: toHex(m.subarray(21)) })

/** Everything that must hold after Starling rejected a message: the NOTIFICATION, the close, the Down. */
const expectRejected = async (raw: RawPeer, a: Attacked, expected: Expected, options: { established?: boolean } = {}) => {
  const n = await raw.next(3)
  assert.deepStrictEqual(notificationOf(n), expected)
  await raw.whenClosed()
  // Nothing after the NOTIFICATION.
  assert.strictEqual(raw.messages.at(-1), n)
  if (options.established !== false) {
    const down = await downOf(a)
    assert.strictEqual(down.reason._tag, "NotificationSent")
    if (down.reason._tag === "NotificationSent") {
      assert.deepStrictEqual(
        { code: down.reason.notification.code, subcode: down.reason.notification.subcode, data: toHex(down.reason.notification.data) },
        expected
      )
    }
  }
  // Starling's own record of the wire agrees: it sent exactly this NOTIFICATION to this peer.
  assert.ok(wire.some((m) => m.dir === "sent" && m.type === 3 && toHex(m.bytes) === toHex(n)))
  await bystandersHealthy()
}

/** The other session: still Established, never down, and its KEEPALIVEs (every second) still arrive. */
const bystandersHealthy = async () => {
  for (const s of bystanders) {
    assert.strictEqual(await s.state(), "Established", s.peer.name)
    assert.deepStrictEqual(s.events.filter((e) => e._tag === "Down"), [], s.peer.name)
  }
}

/** A raw speaker at `host(k)` connected to Starling and past the OPEN exchange. */
const session = async (k: number, overrides: Partial<PeerConfig> = {}) => {
  const remote = addr.host(k)
  const a = await attacked(remote, overrides)
  const raw = await RawPeer.connect(remote, STARLING)
  await raw.handshake()
  await established(a)
  return { a, raw }
}

const raws: RawPeer[] = []
const track = <T extends { raw: RawPeer }>(s: T): T => {
  raws.push(s.raw)
  return s
}

beforeAll(async () => {
  scope = Effect.runSync(Scope.make())
  listener = await run(makePeerListener(transport, { address: STARLING, port: 179 }))
  // The bystander session: two Starling peers with a 3 s hold time, KEEPALIVE every second.
  const s1 = await startStarling({
    config: { localAs: 65006, peerAs: 65007, localId: bgpId("10.5.0.2"), holdTime: 3, passive: true, connectRetryTime: 1 },
    remote: { address: addr.host(3) },
    localAddress: addr.host(2),
    listen: true
  })
  const s2 = await startStarling({
    config: { localAs: 65007, peerAs: 65006, localId: bgpId("10.5.0.3"), holdTime: 3, connectRetryTime: 1 },
    remote: { address: addr.host(2) },
    localAddress: addr.host(3)
  })
  bystanders = [s1, s2]
  await s1.established()
  await s2.established()
})

afterAll(async () => {
  for (const r of raws) r.destroy()
  await closeAllStarling()
  await Effect.runPromise(Scope.close(scope, Exit.void))
})

const p = <A>(f: () => Promise<A>) => Effect.promise(f)

// -------------------------------------------------------------------------------------------------

describe("message header errors (RFC 4271 §6.1)", () => {
  it.live("bad marker → 1/1 Connection Not Synchronized, no data", () =>
    p(async () => {
      const { a, raw } = track(await session(10))
      raw.send(message(4, [], { marker: [...MARKER.slice(0, 5), 0x00, ...MARKER.slice(6)] }))
      await expectRejected(raw, a, { code: 1, subcode: 1, data: "" })
    }))

  it.live("length below 19 → 1/2 Bad Message Length, data = the Length field", () =>
    p(async () => {
      const { a, raw } = track(await session(11))
      raw.send(message(4, [], { length: 18 }))
      await expectRejected(raw, a, { code: 1, subcode: 2, data: "0012" })
    }))

  it.live("length 4097 without RFC 8654 extended messages → 1/2, data 0x1001", () =>
    p(async () => {
      const { a, raw } = track(await session(12))
      assert.strictEqual((await Effect.runPromise(a.peer.negotiated))?.extendedMessage, false)
      raw.send(message(2, new Uint8Array(4097 - 19)))
      await expectRejected(raw, a, { code: 1, subcode: 2, data: "1001" })
    }))

  it.live("a KEEPALIVE with a body (length 20) → 1/2, data 0x0014", () =>
    p(async () => {
      const { a, raw } = track(await session(13))
      raw.send(message(4, [0]))
      await expectRejected(raw, a, { code: 1, subcode: 2, data: "0014" })
    }))

  it.live("unknown message type 9 → 1/3 Bad Message Type, data = the Type field", () =>
    p(async () => {
      const { a, raw } = track(await session(14))
      raw.send(message(9, []))
      await expectRejected(raw, a, { code: 1, subcode: 3, data: "09" })
    }))

  it.live("a broken message after valid UPDATEs in the same segment: the valid ones are delivered first", () =>
    p(async () => {
      const { a, raw } = track(await session(15))
      raw.send(bytes(update({ attrs: [...ORIGIN_IGP, ...AS_PATH, ...NEXT_HOP], nlri: NET_A }), message(9, [])))
      await expectRejected(raw, a, { code: 1, subcode: 3, data: "09" })
      const delivered = a.inbound.flatMap((i) => (i._tag === "Messages" ? i.messages : []))
      assert.strictEqual(delivered.length, 1)
      assert.strictEqual((delivered[0] as Update).nlri[0]?.length, 24)
    }))
})

describe("OPEN message errors (RFC 4271 §6.2)", () => {
  it.live("optional parameters length that does not match the message → 2/0, no data", () =>
    p(async () => {
      const a = await attacked(addr.host(20))
      const raw = track({ raw: await RawPeer.connect(addr.host(20), STARLING) }).raw
      const good = rawOpen()
      // Claim two octets fewer of optional parameters than the message holds.
      const bad = good.slice()
      bad[28] = good[28]! - 2
      raw.send(bad)
      await expectRejected(raw, a, { code: 2, subcode: 0, data: "" }, { established: false })
      assert.strictEqual(a.events.some((e) => e._tag === "Established"), false)
    }))

  it.live("a capability that overruns its optional parameter → 2/0", () =>
    p(async () => {
      const a = await attacked(addr.host(21))
      const raw = track({ raw: await RawPeer.connect(addr.host(21), STARLING) }).raw
      // Parameter: type 2, length 6, holding capability 65 with a claimed length of 6 (only 4 octets follow).
      const params = [2, 6, 65, 6, 0, 0, RAW_AS >> 8, RAW_AS & 0xff]
      raw.send(message(1, [4, ...u16(RAW_AS), ...u16(90), 10, 5, 0, 200, params.length, ...params]))
      await expectRejected(raw, a, { code: 2, subcode: 0, data: "" }, { established: false })
    }))

  it.live("an unsupported optional parameter (type 1, Authentication) → 2/4, data = the parameter", () =>
    p(async () => {
      const a = await attacked(addr.host(22))
      const raw = track({ raw: await RawPeer.connect(addr.host(22), STARLING) }).raw
      const params = [1, 3, 0xaa, 0xbb, 0xcc]
      raw.send(message(1, [4, ...u16(RAW_AS), ...u16(90), 10, 5, 0, 200, params.length, ...params]))
      await expectRejected(raw, a, { code: 2, subcode: 4, data: "0103aabbcc" }, { established: false })
    }))

  it.live("a well-formed OPEN on an Established session → 5/3 FSM error in Established (RFC 6608)", () =>
    p(async () => {
      const { a, raw } = track(await session(23))
      raw.send(rawOpen())
      await expectRejected(raw, a, { code: 5, subcode: 3, data: "" })
    }))
})

describe("UPDATE message errors (RFC 4271 §6.3, RFC 7606)", () => {
  const attrs = [...ORIGIN_IGP, ...AS_PATH, ...NEXT_HOP]

  it.live("Withdrawn Routes Length overrunning the message → 3/1 Malformed Attribute List", () =>
    p(async () => {
      const { a, raw } = track(await session(30))
      raw.send(message(2, [...u16(200), 24, 10, 0, 0, ...u16(0)]))
      await expectRejected(raw, a, { code: 3, subcode: 1, data: "" })
    }))

  it.live("a repeated MP_REACH_NLRI (RFC 7606 §3 g) → 3/1", () =>
    p(async () => {
      const { a, raw } = track(await session(31))
      const mp = attr(0x80, 14, [0, 1, 1, 4, 127, 66, 5, 200, 0, ...NET_B])
      raw.send(update({ attrs: [...ORIGIN_IGP, ...AS_PATH, ...mp, ...mp] }))
      await expectRejected(raw, a, { code: 3, subcode: 1, data: "" })
    }))

  it.live("an unrecognized well-known attribute → 3/2, data = the attribute", () =>
    p(async () => {
      const { a, raw } = track(await session(32))
      raw.send(update({ attrs: [...attrs, ...attr(0x40, 100, [0xde, 0xad])], nlri: NET_A }))
      await expectRejected(raw, a, { code: 3, subcode: 2, data: "406402dead" })
    }))

  it.live("a prefix length of 33 in the NLRI field → 3/10 Invalid Network Field", () =>
    p(async () => {
      const { a, raw } = track(await session(33))
      raw.send(update({ attrs, nlri: [33, 10, 0, 0, 0, 0] }))
      await expectRejected(raw, a, { code: 3, subcode: 10, data: "" })
    }))

  it.live("a truncated prefix in Withdrawn Routes → 3/10", () =>
    p(async () => {
      const { a, raw } = track(await session(34))
      raw.send(update({ withdrawn: [24, 192, 0] }))
      await expectRejected(raw, a, { code: 3, subcode: 10, data: "" })
    }))

  it.live("treat-as-withdraw (invalid ORIGIN): no NOTIFICATION, the session stays up, the route is withdrawn", () =>
    p(async () => {
      const { a, raw } = track(await session(35))
      raw.send(update({ attrs, nlri: [...NET_A, ...NET_B] }))
      raw.send(update({ attrs: [...attr(0x40, 1, [7]), ...AS_PATH, ...NEXT_HOP], nlri: NET_A }))
      const updates = await waitFor("two UPDATEs delivered", () => {
        const u = a.inbound.flatMap((i) => (i._tag === "Messages" ? i.messages : [])).filter((m): m is Update => m._tag === "Update")
        return u.length >= 2 ? u : undefined
      }, 5_000, 20)
      const [first, second] = updates as [Update, Update]
      assert.deepStrictEqual(first.nlri.map((x) => [x.w0 >>> 24, x.length]), [[192, 24], [198, 24]])
      assert.strictEqual(first.errors, undefined)
      // The second UPDATE comes through as a withdrawal of its NLRI, with the error that caused it.
      assert.deepStrictEqual(second.nlri, [])
      assert.deepStrictEqual(second.withdrawn.map((x) => [x.w0 >>> 0, x.length]), [[0xc0000200, 24]])
      assert.deepStrictEqual(second.attributes, {})
      assert.deepStrictEqual(second.errors?.map((e) => [e.reason, e.code, e.subcode, e.action]), [["InvalidOrigin", 3, 6, "TreatAsWithdraw"]])
      // Still up: no NOTIFICATION either way, and the session goes on (a KEEPALIVE is answered normally).
      await new Promise((r) => setTimeout(r, 300))
      assert.strictEqual(await stateOf(a), "Established")
      assert.deepStrictEqual(raw.messages.filter((m) => m[18] === 3), [])
      assert.strictEqual(a.events.some((e) => e._tag === "Down"), false)
      raw.send(update({ attrs, nlri: NET_A }))
      await waitFor("a third UPDATE", () => (a.inbound.filter((i) => i._tag === "Messages").flatMap((i) => (i as Extract<Inbound, { _tag: "Messages" }>).messages).length >= 3 ? true : undefined), 5_000, 20)
      await bystandersHealthy()
    }))

  it.live("treat-as-withdraw (malformed AS_PATH, 3/11 in the error) keeps the session", () =>
    p(async () => {
      const { a, raw } = track(await session(36))
      // One AS_SEQUENCE segment claiming 3 ASes with 1 present.
      raw.send(update({ attrs: [...ORIGIN_IGP, ...attr(0x40, 2, [2, 3, 0, 0, 0xfe, 0x51]), ...NEXT_HOP], nlri: NET_B }))
      const u = await waitFor("the UPDATE", () => a.inbound.flatMap((i) => (i._tag === "Messages" ? i.messages : [])).find((m): m is Update => m._tag === "Update"), 5_000, 20)
      assert.deepStrictEqual(u.withdrawn.map((x) => [x.w0 >>> 0, x.length]), [[0xc6336400, 24]])
      assert.deepStrictEqual(u.errors?.map((e) => [e.reason, e.action]), [["MalformedAsPath", "TreatAsWithdraw"]])
      assert.strictEqual(await stateOf(a), "Established")
      assert.deepStrictEqual(raw.messages.filter((m) => m[18] === 3), [])
    }))

  it.live("attribute discard (AGGREGATOR of the wrong length): the routes are kept, without the attribute", () =>
    p(async () => {
      const { a, raw } = track(await session(37))
      raw.send(update({ attrs: [...attrs, ...attr(0xc0, 7, [0, 0, 0xfe, 0x51, 10])], nlri: NET_A }))
      const u = await waitFor("the UPDATE", () => a.inbound.flatMap((i) => (i._tag === "Messages" ? i.messages : [])).find((m): m is Update => m._tag === "Update"), 5_000, 20)
      assert.deepStrictEqual(u.nlri.map((x) => [x.w0 >>> 0, x.length]), [[0xc0000200, 24]])
      assert.strictEqual(u.attributes.aggregator, undefined)
      assert.strictEqual(u.attributes.origin, 0)
      assert.deepStrictEqual(u.errors?.map((e) => [e.reason, e.action]), [["AttributeLengthError", "AttributeDiscard"]])
      assert.strictEqual(await stateOf(a), "Established")
    }))
})

describe("ROUTE-REFRESH errors", () => {
  it.live("a BoRR of 24 octets → 7/1 Invalid Message Length, data = the whole message (RFC 7313 §5)", () =>
    p(async () => {
      const { a, raw } = track(await session(40))
      assert.strictEqual((await Effect.runPromise(a.peer.negotiated))?.enhancedRouteRefresh, true)
      const bad = message(5, [0, 1, 1, 1, 0])
      raw.send(bad)
      await expectRejected(raw, a, { code: 7, subcode: 1, data: toHex(bad) })
    }))

  it.live("a ROUTE-REFRESH shorter than 23 octets → 1/2 (header check), data 0x0016", () =>
    p(async () => {
      const { a, raw } = track(await session(41))
      raw.send(message(5, [0, 1, 0]))
      await expectRejected(raw, a, { code: 1, subcode: 2, data: "0016" })
    }))
})

describe("after the damage", () => {
  it.live("Starling active (it connected to the raw speaker): the same NOTIFICATION and close", () =>
    p(async () => {
      const rawAddress = addr.host(50)
      const accepted = new Promise<RawPeer>((resolve) => {
        const server = net.createServer((s) => {
          server.close()
          resolve(new RawPeer(s))
        })
        server.listen(179, rawAddress)
      })
      const a = await attacked(rawAddress, { passive: false }, { localAddress: addr.host(51) })
      const raw = await accepted
      raws.push(raw)
      await raw.handshake()
      await established(a)
      raw.send(message(4, [], { length: 18 }))
      await expectRejected(raw, a, { code: 1, subcode: 2, data: "0012" })
    }))

  it.live("the attacked peer accepts a fresh session once its IdleHold has passed", () =>
    p(async () => {
      const { a, raw } = track(await session(60))
      raw.send(message(9, []))
      await expectRejected(raw, a, { code: 1, subcode: 3, data: "09" })
      const again = await waitFor("a new session", async () => {
        const r = await RawPeer.connect(addr.host(60), STARLING)
        raws.push(r)
        try {
          await r.handshake()
          return r
        } catch {
          r.destroy()
          return undefined
        }
      }, 10_000, 500)
      await waitFor("Established again", () => (a.events.filter((e) => e._tag === "Established").length === 2 ? true : undefined), 5_000, 20)
      assert.strictEqual(again.closed, false)
    }))

  it.live("the bystander session was never disturbed and still exchanges KEEPALIVEs every second", () =>
    p(async () => {
      const [s1, s2] = bystanders
      const count = (s: Starling) => s.wire.filter((m) => m.type === 4 && m.dir === "received").length
      const before = [count(s1), count(s2)]
      await new Promise((r) => setTimeout(r, 3_500))
      const after = [count(s1), count(s2)]
      assert.ok(after[0]! - before[0]! >= 2 && after[1]! - before[1]! >= 2, `KEEPALIVEs received in 3.5 s: ${after[0]! - before[0]!}, ${after[1]! - before[1]!}`)
      await bystandersHealthy()
      for (const s of bystanders) assert.strictEqual(s.events.filter((e) => e._tag === "Established").length, 1)
    }))
})

