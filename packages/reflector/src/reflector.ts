/**
 * A route reflector: a speaker with the RFC 4456 hooks installed. Neighbors marked
 * `routeReflectorClient` are clients; every other iBGP neighbor is a non-client.
 */
import { parseIpv4 } from "@starling/codec"
import type { SpeakerApi, SpeakerConfig } from "@starling/speaker"
import { ConfigError, makeSpeaker } from "@starling/speaker"
import { Effect, type Scope } from "effect"
import { reflectionHooks } from "./reflection.ts"

/** Starts a speaker that reflects routes (cluster id: `config.clusterId`, default the router id). */
export const makeReflector = (config: SpeakerConfig): Effect.Effect<SpeakerApi, ConfigError, Scope.Scope> =>
  Effect.gen(function*() {
    const routerId = parseIpv4(config.routerId)
    if (routerId === undefined) return yield* new ConfigError({ path: "routerId", detail: `not an IPv4 address: ${config.routerId}` })
    const clusterId = config.clusterId === undefined ? routerId : parseIpv4(config.clusterId)
    if (clusterId === undefined) return yield* new ConfigError({ path: "clusterId", detail: `not an IPv4 address: ${config.clusterId}` })
    return yield* makeSpeaker(config, reflectionHooks({ routerId, clusterId }))
  })
