/**
 * `starling run --config <file>`: the standalone route reflector. It runs until SIGTERM or SIGINT, when
 * every session gets Cease/Administrative Shutdown with a message (RFC 9003) and the process exits 0.
 * SIGHUP re-reads the config and applies only what changed.
 *
 * `starling run --config <file> --dry-run` checks the file and says what a reload would change: against
 * the running daemon (asked over its API), or against another file with `--against <old-file>`.
 */
import { readFile } from "node:fs/promises"
import type { DaemonConfig, PlannedChange, ReloadResult } from "@starling/reflector/daemon/index"
import { DEFAULT_API_PORT } from "@starling/reflector/daemon/defaults"

// The daemon (Effect, pino, yaml, the speaker) loads only once the arguments are known to be right.
const daemonModule = () => import("@starling/reflector/daemon/index")

const USAGE = `usage: starling run --config <file> [--dry-run [--against <old-file>] [--api URL] [--token T]]

  Runs the route reflector described by <file> (YAML or JSON) until SIGTERM/SIGINT.
  SIGHUP (or POST /reload on the API) re-reads the file and applies only what changed.
  \${NAME} in the file is replaced by the environment variable NAME.

  --dry-run          check <file> and show what a reload would change, without changing anything:
                     asks the running daemon (its API: --api, or the file's api section);
  --against <old>    ... or compares with another config file instead (no daemon needed)
  --api URL          the running daemon's API (default: from the config, http://127.0.0.1:${DEFAULT_API_PORT})
  --token T          API bearer token (default: $STARLING_API_TOKEN)
`

interface Options {
  readonly config: string
  readonly dryRun: boolean
  readonly against?: string
  readonly api?: string
  readonly token?: string
}

const parseArgs = (args: ReadonlyArray<string>): Options | string => {
  let config: string | undefined
  let dryRun = false
  let against: string | undefined
  let api: string | undefined
  let token: string | undefined
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!
    const value = (name: string): string | undefined => {
      if (a.startsWith(`${name}=`)) return a.slice(name.length + 1)
      return args[++i]
    }
    if (a === "--config" || a.startsWith("--config=") || a === "-c") config = value(a === "-c" ? "-c" : "--config")
    else if (a === "--dry-run") dryRun = true
    else if (a === "--against" || a.startsWith("--against=")) against = value("--against")
    else if (a === "--api" || a.startsWith("--api=")) api = value("--api")
    else if (a === "--token" || a.startsWith("--token=")) token = value("--token")
    else if (a === "--help" || a === "-h") return ""
    else return `unknown argument ${a}`
  }
  if (config === undefined || config === "") return "--config <file> is required"
  if (against !== undefined && !dryRun) return "--against goes with --dry-run"
  return {
    config,
    dryRun,
    ...(against === undefined ? {} : { against }),
    ...(api === undefined ? {} : { api }),
    ...(token === undefined ? {} : { token })
  }
}

const readConfig = async (path: string): Promise<{ readonly config: DaemonConfig } | { readonly error: string }> => {
  const { parseConfig } = await daemonModule()
  let text: string
  try {
    text = await readFile(path, "utf8")
  } catch (e) {
    return { error: `${path}: cannot read: ${e instanceof Error ? e.message : String(e)}` }
  }
  const r = parseConfig(text, path, { env: process.env })
  return r._tag === "Success" ? { config: r.success.config } : { error: r.failure.message }
}

const apiUrl = (c: DaemonConfig, given: string | undefined): string => {
  if (given !== undefined) return given.replace(/\/+$/, "")
  const address = c.api?.address ?? "127.0.0.1"
  const host = address === "0.0.0.0" ? "127.0.0.1" : address === "::" ? "[::1]" : address.includes(":") ? `[${address}]` : address
  return `http://${host}:${c.api?.port ?? DEFAULT_API_PORT}`
}

const printPlan = async (changes: ReadonlyArray<PlannedChange>, against: string): Promise<void> => {
  const { formatPlan } = await daemonModule()
  process.stdout.write(`dry run: what a reload would change (against ${against})\n${formatPlan(changes)}\n`)
}

const dryRun = async (o: Options, text: string, config: DaemonConfig): Promise<number> => {
  const { compilePolicies, formatIssues, planReload } = await daemonModule()
  if (o.against !== undefined) {
    const old = await readConfig(o.against)
    if ("error" in old) {
      process.stderr.write(`${old.error}\n`)
      return 1
    }
    const oldPolicies = compilePolicies(old.config)
    const changes = planReload({
      old: old.config,
      next: config,
      oldPolicies,
      newPolicies: compilePolicies(config, oldPolicies),
      // Offline: every configured neighbor is taken as up, with ROUTE-REFRESH.
      running: (old.config.neighbors ?? []).map((n) => ({ address: n.address, established: true, routeRefresh: true }))
    })
    await printPlan(changes, `${o.against}; sessions assumed up with ROUTE-REFRESH`)
    return 0
  }
  const url = apiUrl(config, o.api)
  const token = o.token ?? process.env.STARLING_API_TOKEN
  let res: Response
  try {
    res = await fetch(`${url}/reload?dryRun=true`, {
      method: "POST",
      body: text,
      headers: { "content-type": "text/plain", ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) }
    })
  } catch (e) {
    process.stderr.write(`${o.config}: the config is valid, but no daemon answered at ${url} (${e instanceof Error ? (e.cause instanceof Error ? e.cause.message : e.message) : String(e)}); use --against <old-file> to compare with a file\n`)
    return 1
  }
  const body = (await res.json()) as ReloadResult | { error: string }
  if ("error" in body) {
    process.stderr.write(`${url}: ${res.status} ${body.error}\n`)
    return 1
  }
  if (!body.ok) {
    process.stderr.write(`${formatIssues(o.config, body.errors)}\n`)
    return 1
  }
  await printPlan(body.changes, `the daemon at ${url}`)
  return 0
}

export const run = async (args: ReadonlyArray<string>): Promise<number> => {
  const o = parseArgs(args)
  if (typeof o === "string") {
    if (o !== "") process.stderr.write(`starling run: ${o}\n`)
    process.stderr.write(USAGE)
    return o === "" ? 0 : 2
  }
  const { makeDaemon, makePino, parseConfig, pinoLayer } = await daemonModule()
  const { Effect, Exit, Result } = await import("effect")
  let text: string
  try {
    text = await readFile(o.config, "utf8")
  } catch (e) {
    process.stderr.write(`${o.config}: cannot read: ${e instanceof Error ? e.message : String(e)}\n`)
    return 1
  }
  const parsed = parseConfig(text, o.config, { env: process.env })
  if (Result.isFailure(parsed)) {
    process.stderr.write(`${parsed.failure.message}\n`)
    return 1
  }
  if (o.dryRun) return dryRun(o, text, parsed.success.config)

  const logger = makePino(parsed.success.config.logging ?? {})
  const program = Effect.scoped(Effect.gen(function*() {
    const daemon = yield* makeDaemon(parsed.success, {
      configPath: o.config,
      env: process.env,
      onLogging: (s) => {
        logger.level = s.level ?? "info"
      }
    })
    const c = parsed.success.config
    const api = daemon.api()
    yield* Effect.logInfo(
      `starling route reflector: AS ${c.localAs}, router id ${c.routerId}, ${c.neighbors?.length ?? 0} neighbor(s), ${c.dynamicNeighbors?.length ?? 0} dynamic range(s)${
        api === undefined ? "" : `, API ${api.address}:${api.port}`
      }`
    )
    const services = yield* Effect.context<never>()
    const onHup = () => void Effect.runPromiseWith(services)(Effect.asVoid(daemon.reload({ source: `${o.config} (SIGHUP)` })))
    process.on("SIGHUP", onHup)
    yield* Effect.addFinalizer(() => Effect.sync(() => void process.off("SIGHUP", onHup)))
    const signal = yield* Effect.callback<NodeJS.Signals>((resume) => {
      const on = (s: NodeJS.Signals) => resume(Effect.succeed(s))
      process.once("SIGTERM", on)
      process.once("SIGINT", on)
      return Effect.sync(() => {
        process.off("SIGTERM", on)
        process.off("SIGINT", on)
      })
    })
    yield* daemon.shutdown(`Starling route reflector shutting down (${signal})`)
  }))
  const exit = await Effect.runPromiseExit(program.pipe(Effect.provide(pinoLayer(logger))))
  if (Exit.isFailure(exit)) {
    const e = exit.cause.reasons[0]
    const msg = e !== undefined && e._tag === "Fail" ? (e.error as Error).message : String(exit.cause)
    logger.fatal(msg)
    process.stderr.write(`starling run: ${msg}\n`)
    return 1
  }
  logger.info("stopped")
  // Whatever handle might still linger, a stopped daemon exits.
  setTimeout(() => process.exit(0), 2000).unref()
  return 0
}
