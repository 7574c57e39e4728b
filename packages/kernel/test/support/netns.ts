/**
 * Network namespaces for the kernel tests: created with unique names (starling-k-<pid>-<n>), only
 * addresses inside them, and deleted by `cleanup()` (call it in afterAll; it runs even after failures).
 * Needs root, iproute2, and a kernel with network namespaces and veth.
 */
import { spawn, spawnSync } from "node:child_process"
import type { KernelRoute } from "@starling/kernel"
import { parseDump } from "@starling/kernel"

let counter = 0
const created = new Set<string>()

export interface Sh {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** Runs a command to completion; throws on a non-zero exit unless `allowFail`. */
export const sh = (cmd: string, args: ReadonlyArray<string>, opts: { allowFail?: boolean; input?: string } = {}): Sh => {
  const r = spawnSync(cmd, [...args], { encoding: "utf8", input: opts.input, maxBuffer: 256 * 1024 * 1024, timeout: 60_000 })
  const out = { code: r.status ?? -1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" }
  if (out.code !== 0 && opts.allowFail !== true) throw new Error(`${cmd} ${args.join(" ")} exited ${out.code}: ${out.stderr || out.stdout}`)
  return out
}

/** The same, without blocking the event loop (for large dumps while fibers run). */
export const shAsync = (cmd: string, args: ReadonlyArray<string>): Promise<Sh> =>
  new Promise((resolve, reject) => {
    const c = spawn(cmd, [...args], { stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    c.stdout.on("data", (b: Buffer) => (stdout += b.toString()))
    c.stderr.on("data", (b: Buffer) => (stderr += b.toString()))
    c.once("error", reject)
    // "close", not "exit": output may still be in flight when the process has exited.
    c.once("close", (code) => resolve({ code: code ?? -1, stdout, stderr }))
  })

export interface Netns {
  readonly name: string
  /** `ip -n NAME ...` */
  readonly ip: (...args: string[]) => Sh
  /** `ip -n NAME ...`, failures returned rather than thrown */
  readonly ipTry: (...args: string[]) => Sh
  /** `ip netns exec NAME cmd ...` */
  readonly exec: (cmd: string, ...args: string[]) => Sh
  /** Routes of one family as `ip -N -json route show table all` reports them. */
  readonly routes: (family: 4 | 6, protocol?: number) => Promise<KernelRoute[]>
  /** Routes as sorted one-line text (both families): `prefix [type] nh... table T proto P metric M`. */
  readonly show: (protocol?: number) => Promise<string[]>
}

export const netns = (tag: string): Netns => {
  const name = `starling-k-${process.pid}-${++counter}${tag === "" ? "" : `-${tag}`}`.slice(0, 60)
  sh("ip", ["netns", "add", name])
  created.add(name)
  sh("ip", ["-n", name, "link", "set", "lo", "up"])
  const routes = async (family: 4 | 6, protocol?: number) => {
    const r = await shAsync("ip", ["-N", "-n", name, "-json", family === 4 ? "-4" : "-6", "route", "show", "table", "all", ...(protocol === undefined ? [] : ["proto", String(protocol)])])
    if (r.code !== 0) throw new Error(r.stderr)
    return parseDump(r.stdout, family, protocol === undefined ? {} : { protocol })
  }
  return {
    name,
    ip: (...args) => sh("ip", ["-n", name, ...args]),
    ipTry: (...args) => sh("ip", ["-n", name, ...args], { allowFail: true }),
    exec: (cmd, ...args) => sh("ip", ["netns", "exec", name, cmd, ...args]),
    routes,
    show: async (protocol) =>
      [...(await routes(4, protocol)), ...(await routes(6, protocol))]
        .filter((r) => r.table !== 255 && !r.prefix.startsWith("fe80:") && r.prefix !== "ff00::/8")
        .map(routeText)
        .sort()
  }
}

export const routeText = (r: KernelRoute): string =>
  `${r.type === 6 ? "blackhole " : r.type === 1 ? "" : `type${r.type} `}${r.prefix}${r.nexthops.map((n) => ` nh ${n.via ?? ""}${n.dev === undefined ? "" : `%${n.dev}`}${n.onlink === true ? " onlink" : ""}`).join("")} table ${r.table} proto ${r.protocol} metric ${r.metric}`

/** A veth pair between two namespaces, addresses optional, both ends up. */
export const veth = (a: Netns, ifA: string, b: Netns, ifB: string, addrA?: string, addrB?: string): void => {
  sh("ip", ["link", "add", ifA, "netns", a.name, "type", "veth", "peer", "name", ifB, "netns", b.name])
  if (addrA !== undefined) a.ip("addr", "add", addrA, "dev", ifA, ...(addrA.includes(":") ? ["nodad"] : []))
  if (addrB !== undefined) b.ip("addr", "add", addrB, "dev", ifB, ...(addrB.includes(":") ? ["nodad"] : []))
  a.ip("link", "set", ifA, "up")
  b.ip("link", "set", ifB, "up")
}

/** Deletes every namespace this process created (their interfaces and routes go with them). */
export const cleanup = (): void => {
  for (const n of created) sh("ip", ["netns", "del", n], { allowFail: true })
  created.clear()
}

/**
 * Can this kernel make IP-in-IP tunnels? Tried in a scratch namespace; the answer says what is missing.
 */
export const ipipSupport = (): { readonly ok: boolean; readonly detail: string } => {
  const n = netns("ipip-probe")
  try {
    const r = n.ipTry("link", "add", "probe0", "type", "ipip", "local", "192.0.2.1", "remote", "192.0.2.2")
    if (r.code === 0) return { ok: true, detail: "ipip available" }
    return {
      ok: false,
      detail: `this kernel cannot create IP-in-IP tunnels ("ip link add ... type ipip": ${r.stderr.trim()}): ` +
        "the ipip kernel module (CONFIG_NET_IPIP, which also provides tunl0) is missing; install/load it (modprobe ipip) to run this test"
    }
  } finally {
    sh("ip", ["netns", "del", n.name], { allowFail: true })
    created.delete(n.name)
  }
}

/** Polls until `check` returns a value (not undefined), or fails with the last seen state. */
export const waitFor = async <A>(what: string, check: () => Promise<A | undefined> | A | undefined, timeoutMs = 15_000, everyMs = 100): Promise<A> => {
  const until = Date.now() + timeoutMs
  let last: unknown
  while (Date.now() < until) {
    try {
      const v = await check()
      if (v !== undefined) return v
    } catch (e) {
      last = e
    }
    await new Promise((r) => setTimeout(r, everyMs))
  }
  throw new Error(`timed out waiting for ${what}${last === undefined ? "" : `: ${String(last)}`}`)
}

/** Waits until `get()` equals `want` (compared as JSON), reporting the last value on timeout. */
export const waitEqual = async <A>(what: string, get: () => Promise<A>, want: A, timeoutMs = 15_000): Promise<void> => {
  let last: A | undefined
  try {
    await waitFor(what, async () => {
      last = await get()
      return JSON.stringify(last) === JSON.stringify(want) ? true : undefined
    }, timeoutMs)
  } catch {
    throw new Error(`timed out waiting for ${what}:\n  have ${JSON.stringify(last)}\n  want ${JSON.stringify(want)}`)
  }
}
