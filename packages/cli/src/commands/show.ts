/**
 * `starling show neighbors | routes | route <prefix>`: tables from a running daemon's API, in the
 * manner of `birdc show protocols` and `gobgp neighbor` / `gobgp global rib`; `--json` prints what the
 * API returned.
 */
import type { ExplainView, NeighborView, RouteView } from "@starling/reflector/daemon/index"
import { DEFAULT_API_PORT } from "@starling/reflector/daemon/defaults"

const USAGE = `usage: starling show neighbors|routes|route <prefix> [options]

  neighbors                 sessions: state, uptime, routes received and advertised
  routes                    the Loc-RIB (best paths)
      --prefix P            only routes inside P (P and more specifics)
      --neighbor A          only routes whose best path is from neighbor A
      --community C         only routes carrying community C (65000:100, no-export, ...)
      --limit N             at most N routes (default 10000)
  route <prefix>            every path for the prefix, which one is best and why the others lost

  --api URL                 the daemon's API (default $STARLING_API or http://127.0.0.1:${DEFAULT_API_PORT})
  --token T                 bearer token (default $STARLING_API_TOKEN)
  --json                    the API's JSON instead of a table
`

interface Options {
  readonly what: "neighbors" | "routes" | "route"
  readonly prefix?: string
  readonly query: URLSearchParams
  readonly api: string
  readonly token?: string
  readonly json: boolean
}

const parseArgs = (args: ReadonlyArray<string>): Options | string => {
  const [what, ...rest] = args
  if (what !== "neighbors" && what !== "routes" && what !== "route") return what === undefined ? "say what to show" : `cannot show ${JSON.stringify(what)}`
  let api = process.env.STARLING_API ?? `http://127.0.0.1:${DEFAULT_API_PORT}`
  let token = process.env.STARLING_API_TOKEN
  let json = false
  let prefix: string | undefined
  const query = new URLSearchParams()
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!
    const eq = a.indexOf("=")
    const name = a.startsWith("--") && eq > 0 ? a.slice(0, eq) : a
    const value = (): string | undefined => (a.startsWith("--") && eq > 0 ? a.slice(eq + 1) : rest[++i])
    if (name === "--json") json = true
    else if (name === "--api") api = value() ?? api
    else if (name === "--token") token = value()
    else if (what === "routes" && ["--prefix", "--neighbor", "--community", "--limit"].includes(name)) {
      const v = value()
      if (v === undefined) return `${name} needs a value`
      query.set(name.slice(2), v)
    } else if (what === "route" && prefix === undefined && !a.startsWith("-")) prefix = a
    else return `unknown argument ${a}`
  }
  if (what === "route" && prefix === undefined) return "route needs a prefix"
  return { what, ...(prefix === undefined ? {} : { prefix }), query, api: api.replace(/\/+$/, ""), ...(token === undefined ? {} : { token }), json }
}

const table = (head: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>, right: ReadonlySet<number> = new Set()): string => {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)))
  const line = (r: ReadonlyArray<string>) => r.map((c, i) => (right.has(i) ? c.padStart(w[i]!) : c.padEnd(w[i]!))).join("  ").trimEnd()
  return [line(head), ...rows.map(line)].join("\n")
}

/** 3725 → "01:02:05"; a day or more → "2d03h". */
export const duration = (seconds: number): string => {
  const s = Math.floor(seconds)
  const d = Math.floor(s / 86400)
  const h = Math.floor((s % 86400) / 3600)
  const m = Math.floor((s % 3600) / 60)
  const two = (n: number) => String(n).padStart(2, "0")
  return d > 0 ? `${d}d${two(h)}h` : `${two(h)}:${two(m)}:${two(s % 60)}`
}

export const neighborsTable = (ns: ReadonlyArray<NeighborView>): string =>
  ns.length === 0 ? "no neighbors" : table(
    ["Peer", "AS", "Up/Down", "State", "#Received", "#Advertised", "Name", "Info"],
    ns.map((n) => [
      n.address,
      String(n.peerAs),
      n.uptime === undefined ? "never" : duration(n.uptime),
      n.state,
      String(n.routesReceived),
      String(n.routesAdvertised),
      n.name === n.address ? "" : n.name,
      [n.dynamicRange === undefined ? "" : `dynamic ${n.dynamicRange}`, n.state !== "Established" && n.lastDown !== undefined ? n.lastDown : ""].filter((x) => x !== "").join("; ")
    ]),
    new Set([4, 5])
  )

const ORIGIN = { igp: "i", egp: "e", incomplete: "?" } as Record<string, string>

const extras = (r: { originatorId?: string; clusterList?: ReadonlyArray<string>; communities: ReadonlyArray<string> }): string =>
  [
    r.communities.length === 0 ? "" : `communities ${r.communities.join(" ")}`,
    r.originatorId === undefined ? "" : `originator ${r.originatorId}`,
    r.clusterList === undefined ? "" : `cluster-list ${r.clusterList.join(" ")}`
  ].filter((x) => x !== "").join(", ")

export const routesTable = (rs: ReadonlyArray<RouteView>, total: number, truncated: boolean): string => {
  if (rs.length === 0) return "no routes"
  const t = table(
    ["", "Network", "Next Hop", "AS_PATH", "Origin", "LocPrf", "MED", "From", "Attributes"],
    rs.map((r) => [
      r.multipath > 1 ? "*=" : "*>",
      r.prefix,
      r.nextHop ?? "-",
      r.asPath,
      ORIGIN[r.origin] ?? r.origin,
      r.localPref === undefined ? "" : String(r.localPref),
      r.med === undefined ? "" : String(r.med),
      r.source,
      extras(r)
    ]),
    new Set([5, 6])
  )
  return `${t}\n${truncated ? `(${rs.length} of ${total} routes; --limit for more)` : `${total} route${total === 1 ? "" : "s"}`}`
}

export const explainText = (e: ExplainView): string => {
  const lines = [`${e.prefix}: ${e.paths.length} path${e.paths.length === 1 ? "" : "s"}`]
  for (const p of e.paths) {
    const mark = p.best ? "*>" : p.multipath ? "*=" : "  "
    const from = `${p.source}${p.pathId === 0 ? "" : ` path-id ${p.pathId}`}`
    const why = p.best ? "best" : p.lostAt === undefined ? "" : `lost at ${p.lostAt}${p.lostTo === undefined ? "" : ` to ${p.lostTo}`}`
    lines.push(`  ${mark} from ${from} via ${p.nextHop ?? "-"}${p.stale ? " (stale)" : ""}  ${why}`)
    const attrs = [
      `as-path [${p.asPath}]`,
      `origin ${p.origin}`,
      p.localPref === undefined ? "" : `local-pref ${p.localPref}`,
      p.med === undefined ? "" : `med ${p.med}`,
      extras(p)
    ].filter((x) => x !== "").join(", ")
    lines.push(`       ${attrs}`)
  }
  return lines.join("\n")
}

const get = async (o: Options, path: string): Promise<{ status: number; body: unknown }> => {
  const res = await fetch(`${o.api}${path}`, { headers: o.token === undefined ? {} : { authorization: `Bearer ${o.token}` } })
  const text = await res.text()
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    body = { error: text }
  }
  return { status: res.status, body }
}

export const run = async (args: ReadonlyArray<string>): Promise<number> => {
  const o = parseArgs(args)
  if (typeof o === "string") {
    process.stderr.write(`starling show: ${o}\n${USAGE}`)
    return 2
  }
  const path = o.what === "neighbors" ? "/neighbors" : o.what === "routes" ? `/routes?${o.query}` : `/explain?${new URLSearchParams({ prefix: o.prefix! })}`
  let r: { status: number; body: unknown }
  try {
    r = await get(o, path)
  } catch (e) {
    process.stderr.write(`starling show: cannot reach the API at ${o.api}: ${e instanceof Error ? (e.cause instanceof Error ? e.cause.message : e.message) : String(e)}\n`)
    return 1
  }
  if (r.status !== 200) {
    const err = (r.body as { error?: string }).error ?? JSON.stringify(r.body)
    process.stderr.write(`starling show: ${o.api}${path}: ${r.status} ${err}\n`)
    return 1
  }
  if (o.json) {
    process.stdout.write(`${JSON.stringify(r.body, null, 2)}\n`)
    return 0
  }
  if (o.what === "neighbors") process.stdout.write(`${neighborsTable(r.body as NeighborView[])}\n`)
  else if (o.what === "routes") {
    const b = r.body as { total: number; truncated: boolean; routes: RouteView[] }
    process.stdout.write(`${routesTable(b.routes, b.total, b.truncated)}\n`)
  } else process.stdout.write(`${explainText(r.body as ExplainView)}\n`)
  return 0
}
