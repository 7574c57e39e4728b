/**
 * The management API: HTTP with JSON bodies, on node:http. Seven routes and a bearer token do not need
 * a router framework, and node:http gives direct control over what matters here: the bind address is
 * checked before listening (loopback only unless allowed), request bodies are capped, and closing the
 * server also ends keep-alive connections so shutdown and API restarts on reload are prompt.
 *
 * Routes (all JSON except /metrics):
 *   GET  /neighbors
 *   GET  /routes?prefix=P&neighbor=A&community=C&limit=N
 *   GET  /explain?prefix=P
 *   POST /originate  {"prefix": "...", "nextHop": "...", "communities": [...], ...}
 *   POST /withdraw   {"prefix": "..."}
 *   POST /reload[?dryRun=true]   (body: a config to compare against, dry run only)
 *   GET  /metrics    (Prometheus text format)
 *   GET  /healthz    (no token needed: liveness probes)
 * With a token configured, every route but /healthz needs `Authorization: Bearer <token>`.
 */
import { createHash, timingSafeEqual } from "node:crypto"
import type { IncomingMessage, Server, ServerResponse } from "node:http"
import { createServer } from "node:http"
import type { AddressInfo, Socket } from "node:net"
import { isLoopback } from "./config.ts"

export class ApiError extends Error {
  readonly status: number
  readonly details: unknown
  constructor(status: number, message: string, details?: unknown) {
    super(message)
    this.status = status
    this.details = details
  }
}

export interface ApiResponse {
  readonly status?: number
  readonly json?: unknown
  readonly text?: string
  readonly contentType?: string
}

export interface ApiHandlers {
  readonly neighbors: () => Promise<unknown>
  readonly routes: (query: URLSearchParams) => Promise<unknown>
  readonly explain: (query: URLSearchParams) => Promise<unknown>
  readonly originate: (body: unknown) => Promise<unknown>
  readonly withdraw: (body: unknown) => Promise<unknown>
  readonly reload: (dryRun: boolean, body: string | undefined) => Promise<ApiResponse>
  readonly metrics: () => Promise<string>
}

export interface ApiSettings {
  readonly address: string
  readonly port: number
  readonly allowNonLoopback?: boolean
  readonly token?: string
}

export interface ApiServer {
  readonly address: string
  readonly port: number
  readonly close: () => Promise<void>
}

const MAX_BODY = 1 << 20

const digest = (s: string): Buffer => createHash("sha256").update(s).digest()

/** Constant-time comparison (of digests, so the length does not leak either). */
const tokenMatches = (given: string, expected: string): boolean => timingSafeEqual(digest(given), digest(expected))

const readBody = (req: IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on("data", (c: Buffer) => {
      size += c.length
      if (size > MAX_BODY) {
        reject(new ApiError(413, `request body over ${MAX_BODY} bytes`))
        req.destroy()
      } else chunks.push(c)
    })
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")))
    req.on("error", reject)
  })

const parseJson = (text: string): unknown => {
  if (text.trim() === "") return {}
  try {
    return JSON.parse(text)
  } catch (e) {
    throw new ApiError(400, `body is not JSON: ${e instanceof Error ? e.message : String(e)}`)
  }
}

const send = (res: ServerResponse, r: ApiResponse): void => {
  const status = r.status ?? 200
  if (r.text !== undefined) {
    res.writeHead(status, { "content-type": r.contentType ?? "text/plain; charset=utf-8" })
    res.end(r.text)
  } else {
    res.writeHead(status, { "content-type": "application/json" })
    res.end(`${JSON.stringify(r.json ?? null, null, 2)}\n`)
  }
}

/** Starts listening; refuses a non-loopback address unless `allowNonLoopback`. */
export const startApi = async (settings: ApiSettings, handlers: ApiHandlers): Promise<ApiServer> => {
  if (!isLoopback(settings.address) && settings.allowNonLoopback !== true) {
    throw new ApiError(0, `refusing to serve the API on ${settings.address}: not a loopback address (set api.allowNonLoopback: true, with a token)`)
  }
  const token = settings.token
  const route = async (req: IncomingMessage): Promise<ApiResponse> => {
    const url = new URL(req.url ?? "/", "http://api")
    const method = req.method ?? "GET"
    const path = url.pathname.replace(/\/+$/, "") || "/"
    if (path === "/healthz" && method === "GET") return { text: "ok\n" }
    if (token !== undefined) {
      const auth = req.headers.authorization ?? ""
      const m = /^Bearer\s+(.+)$/i.exec(auth)
      if (m === null || !tokenMatches(m[1]!.trim(), token)) return { status: 401, json: { error: "missing or wrong bearer token" } }
    }
    const want = (m: string) => {
      if (method !== m) throw new ApiError(405, `${path} takes ${m}`)
    }
    switch (path) {
      case "/neighbors":
        want("GET")
        return { json: await handlers.neighbors() }
      case "/routes":
        want("GET")
        return { json: await handlers.routes(url.searchParams) }
      case "/explain":
        want("GET")
        return { json: await handlers.explain(url.searchParams) }
      case "/originate":
        want("POST")
        return { json: await handlers.originate(parseJson(await readBody(req))) }
      case "/withdraw":
        want("POST")
        return { json: await handlers.withdraw(parseJson(await readBody(req))) }
      case "/reload": {
        want("POST")
        const v = url.searchParams.get("dryRun") ?? url.searchParams.get("dry-run")
        const dryRun = v !== null && v !== "false" && v !== "0"
        const body = await readBody(req)
        return handlers.reload(dryRun, body.trim() === "" ? undefined : body)
      }
      case "/metrics":
        want("GET")
        return { text: await handlers.metrics(), contentType: "text/plain; version=0.0.4; charset=utf-8" }
      default:
        return { status: 404, json: { error: `no route ${method} ${path}` } }
    }
  }
  const server: Server = createServer((req, res) => {
    route(req).then(
      (r) => send(res, r),
      (e: unknown) => {
        if (e instanceof ApiError) send(res, { status: e.status, json: { error: e.message, ...(e.details === undefined ? {} : { details: e.details }) } })
        else send(res, { status: 500, json: { error: e instanceof Error ? e.message : String(e) } })
      }
    )
  })
  const sockets = new Set<Socket>()
  server.on("connection", (s: Socket) => {
    sockets.add(s)
    s.on("close", () => sockets.delete(s))
  })
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen({ host: settings.address, port: settings.port, exclusive: true }, () => {
      server.off("error", reject)
      resolve()
    })
  })
  const a = server.address() as AddressInfo
  return {
    address: a.address,
    port: a.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        for (const s of sockets) s.destroy()
      })
  }
}
