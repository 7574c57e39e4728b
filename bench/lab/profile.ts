/**
 * Summarizes a V8 .cpuprofile (node --cpu-prof): self time per function and per source file/package,
 * and inclusive ("total") time per function, as plain rows for the report.
 */
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"

interface Node {
  readonly id: number
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number }
  readonly hitCount?: number
  readonly children?: ReadonlyArray<number>
}

interface Profile {
  readonly nodes: ReadonlyArray<Node>
  readonly startTime: number
  readonly endTime: number
  readonly samples?: ReadonlyArray<number>
  readonly timeDeltas?: ReadonlyArray<number>
}

export interface ProfileRow {
  readonly name: string
  readonly where: string
  readonly selfMs: number
  readonly selfShare: number
  readonly totalMs: number
}

export interface ProfileSummary {
  readonly file: string
  readonly totalMs: number
  readonly idleMs: number
  readonly gcMs: number
  readonly bySelf: ReadonlyArray<ProfileRow>
  readonly byTotal: ReadonlyArray<ProfileRow>
  readonly byArea: ReadonlyArray<{ readonly area: string; readonly selfMs: number; readonly share: number }>
}

const shortUrl = (url: string): string => {
  const m = /\/(packages\/[^/]+\/src\/.*|bench\/.*)$/.exec(url)
  if (m !== null) return m[1]!
  const e = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?([^/]+(?:\/[^/]+)?)\//.exec(url)
  if (e !== null) return `${e[1]} (dependency)`
  if (url.startsWith("node:")) return url
  return url === "" ? "(native)" : url
}

/** What part of the system a source file belongs to. */
const area = (url: string, name: string): string => {
  if (name === "(garbage collector)") return "GC"
  if (name === "(idle)") return "idle"
  if (name === "(program)") return "V8/native (program)"
  const m = /packages\/([^/]+)\/src\/([^/]+)/.exec(url)
  if (m !== null) return `@starling/${m[1]} ${m[2]}`
  if (/node_modules\/.*effect/.test(url)) return "effect runtime"
  if (url.startsWith("node:")) return "node core (net, streams)"
  return url === "" ? "native" : shortUrl(url)
}

export const summarizeProfile = (file: string, top = 15): ProfileSummary => {
  const p = JSON.parse(readFileSync(file, "utf8")) as Profile
  const byId = new Map(p.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  // Self time per node from samples × time deltas (more exact than hitCount × interval).
  const self = new Map<number, number>()
  const samples = p.samples ?? []
  const deltas = p.timeDeltas ?? []
  for (let i = 0; i < samples.length; i++) {
    const dt = (deltas[i + 1] ?? deltas[i] ?? 0) / 1000
    self.set(samples[i]!, (self.get(samples[i]!) ?? 0) + dt)
  }
  const key = (n: Node) => `${n.callFrame.functionName || "(anonymous)"}\u0000${shortUrl(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`
  const selfBy = new Map<string, number>()
  const totalBy = new Map<string, number>()
  const areas = new Map<string, number>()
  let totalMs = 0
  let idleMs = 0
  let gcMs = 0
  for (const [id, ms] of self) {
    const n = byId.get(id)
    if (n === undefined) continue
    totalMs += ms
    if (n.callFrame.functionName === "(idle)") idleMs += ms
    if (n.callFrame.functionName === "(garbage collector)") gcMs += ms
    const k = key(n)
    selfBy.set(k, (selfBy.get(k) ?? 0) + ms)
    const a = area(n.callFrame.url, n.callFrame.functionName)
    areas.set(a, (areas.get(a) ?? 0) + ms)
    // Inclusive time: every distinct function on the stack gets the sample once.
    const seen = new Set<string>()
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const c = byId.get(cur)
      if (c === undefined) break
      const ck = key(c)
      if (seen.has(ck)) continue
      seen.add(ck)
      totalBy.set(ck, (totalBy.get(ck) ?? 0) + ms)
    }
  }
  const busy = Math.max(1e-9, totalMs - idleMs)
  const row = (k: string): ProfileRow => {
    const [name, where] = k.split("\u0000") as [string, string]
    const s = selfBy.get(k) ?? 0
    return { name, where, selfMs: s, selfShare: s / busy, totalMs: totalBy.get(k) ?? 0 }
  }
  const notIdle = (k: string) => !k.startsWith("(idle)") && !k.startsWith("(root)")
  return {
    file,
    totalMs,
    idleMs,
    gcMs,
    bySelf: [...selfBy.keys()].filter(notIdle).sort((a, b) => selfBy.get(b)! - selfBy.get(a)!).slice(0, top).map(row),
    byTotal: [...totalBy.keys()].filter((k) => notIdle(k) && !k.startsWith("(program)")).sort((a, b) => totalBy.get(b)! - totalBy.get(a)!).slice(0, top).map(row),
    byArea: [...areas].filter(([a]) => a !== "idle").sort((a, b) => b[1] - a[1]).map(([a, ms]) => ({ area: a, selfMs: ms, share: ms / busy }))
  }
}

/** The newest .cpuprofile in a directory. */
export const newestProfile = (dir: string): string | undefined => {
  try {
    const files = readdirSync(dir).filter((f) => f.endsWith(".cpuprofile")).sort()
    return files.length === 0 ? undefined : join(dir, files[files.length - 1]!)
  } catch {
    return undefined
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const file = process.argv[2]!
  const s = summarizeProfile(file, Number(process.argv[3] ?? 25))
  const ms = (x: number) => x.toFixed(1).padStart(8)
  process.stdout.write(`${file}: ${s.totalMs.toFixed(0)} ms sampled, idle ${s.idleMs.toFixed(0)} ms, GC ${s.gcMs.toFixed(0)} ms\n\nby area (self):\n`)
  for (const a of s.byArea) process.stdout.write(`${ms(a.selfMs)} ms ${(a.share * 100).toFixed(1).padStart(5)} %  ${a.area}\n`)
  process.stdout.write("\nby function (self):\n")
  for (const r of s.bySelf) process.stdout.write(`${ms(r.selfMs)} ms ${(r.selfShare * 100).toFixed(1).padStart(5)} %  ${r.name}  ${r.where}\n`)
  process.stdout.write("\nby function (total):\n")
  for (const r of s.byTotal) process.stdout.write(`${ms(r.totalMs)} ms  ${r.name}  ${r.where}\n`)
}
