/**
 * A minimal hand-written BGP speaker on a `Transport` (the memory network, in virtual time): it listens on
 * port 179, sends its OPEN at once, answers the peer's OPEN with a KEEPALIVE and then sends KEEPALIVEs on
 * a fixed period — and it can be told to stop reading while it goes on sending, which no well-behaved
 * speaker does (the situation RFC 9687's SendHoldTimer exists for).
 */
import { Effect, Latch, Result, Scope } from "effect"
import type { Message } from "@starling/codec"
import { Afi, defaultContext, encodeMessage, makeFramer, Safi } from "@starling/codec"
import type { Conn, Transport, TransportError } from "../../src/transport.ts"

export interface RawSpeakerOptions {
  readonly as: number
  readonly id: number
  readonly holdTime: number
  /** Seconds between KEEPALIVEs once the OPEN has been answered. */
  readonly keepaliveEvery: number
}

export interface RawSpeaker {
  /** From now on nothing more is read from any connection (what is in flight stays there). */
  readonly stopReading: () => void
  /** Types of the messages received so far, in order. */
  readonly received: number[]
}

const encode = (m: Message): Uint8Array => {
  const r = encodeMessage(m, defaultContext)
  if (Result.isFailure(r)) throw r.failure
  return r.success
}

export const rawSpeaker = (
  transport: Transport,
  address: string,
  options: RawSpeakerOptions
): Effect.Effect<RawSpeaker, TransportError, Scope.Scope> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const reading = yield* Latch.make(true)
    const received: number[] = []
    const open = encode({
      _tag: "Open",
      version: 4,
      myAs: options.as,
      holdTime: options.holdTime,
      bgpId: options.id,
      capabilities: [{ _tag: "Multiprotocol", afi: Afi.IPV4, safi: Safi.UNICAST }, { _tag: "FourOctetAs", asn: options.as }]
    })
    const keepalive = encode({ _tag: "Keepalive" })
    const serve = (conn: Conn) =>
      Effect.gen(function*() {
        yield* conn.write([open])
        const framer = makeFramer()
        let answered = false
        while (true) {
          const chunk = yield* Latch.whenOpen(reading, conn.read)
          if (chunk === undefined) return
          for (const m of framer.push(chunk).messages) {
            received.push(m[18]!)
            if (m[18] === 1 && !answered) {
              answered = true
              yield* conn.write([keepalive])
              yield* Effect.forkIn(
                Effect.forever(Effect.andThen(Effect.sleep(options.keepaliveEvery * 1000), conn.write([keepalive]))),
                scope
              )
            }
          }
        }
      }).pipe(Effect.ignore)
    yield* transport.listen({ address, port: 179 }, (conn) => Effect.asVoid(Effect.forkIn(serve(conn), scope)))
    return { stopReading: () => void Latch.closeUnsafe(reading), received }
  })
