/**
 * The exporter's bookkeeping, without I/O: what the RIB wants in the kernel (`desired`), what we believe
 * the kernel holds of ours (`installed`), routes kept from before a restart (`stale`), and routes the
 * kernel refused (`failed`). `plan` turns the keys that changed into operations; `record` folds the
 * per-operation results back in. One owner (the exporter fiber) mutates it.
 *
 * Ownership rules (never touch another protocol's route):
 * - a route is ours when it carries our protocol number in our table;
 * - a new route is installed with `add` (NLM_F_EXCL), so it never overwrites a route somebody else put in
 *   the same slot (table, prefix, metric): that fails with EEXIST and is reported as a conflict;
 * - a change is a delete of ours (by protocol and metric) then an `add`, adjacent in one batch: `replace`
 *   would overwrite whatever holds the slot, whatever its protocol (there is an `atomicReplace` option
 *   for tables nobody else writes to). Deletes always name our protocol and metric.
 */
import type { Notice, OpResult, RouteOp } from "./iproute.ts"
import type { KernelRoute } from "./route.ts"
import { describeRoute, routeKey, satisfies } from "./route.ts"

export interface SyncConfig {
  readonly protocol: number
  readonly table: number
  /** Deleting every route of a family, more than this many: one `ip route flush` instead (0 = never). */
  readonly flushAbove: number
  /**
   * Change a route in one atomic `replace` (no gap in forwarding) instead of delete + add. `replace`
   * ignores the protocol: use it only when nobody else installs routes in the table.
   */
  readonly atomicReplace?: boolean
}

export interface Failure {
  readonly route: KernelRoute
  readonly error: string
  readonly attempts: number
  /** Another protocol's route holds the slot (EEXIST on add). */
  readonly conflict: boolean
}

export interface Outcome {
  readonly added: number
  readonly replaced: number
  readonly deleted: number
  readonly flushed: number
  /** Keys that failed this time, with their failure (new or changed errors only). */
  readonly newFailures: ReadonlyArray<Failure>
  /** Keys that had failed before and now went through. */
  readonly recovered: ReadonlyArray<string>
  /** Something may differ from what we believe: re-scan. */
  readonly needRescan: boolean
}

export class FibSync {
  readonly desired = new Map<string, KernelRoute>()
  readonly installed = new Map<string, KernelRoute>()
  readonly stale = new Set<string>()
  readonly failed = new Map<string, Failure>()
  /** Graceful restart: routes in `stale` are kept until `release`. */
  holding = false
  private dirty = new Set<string>()
  /** Our routes whose replacement the kernel refused: the old route goes, so the kernel never forwards along a path the RIB no longer selects. */
  private evict = new Set<string>()
  /** Deletions we made as the first half of an update: their monitor echoes are expected, not news. */
  private echoes = new Map<string, number>()
  readonly cfg: SyncConfig

  constructor(cfg: SyncConfig) {
    this.cfg = cfg
  }

  /** The RIB wants `route` under `key` (undefined: nothing). */
  setDesired(key: string, route: KernelRoute | undefined): void {
    if (route === undefined) {
      if (!this.desired.delete(key)) return
    } else this.desired.set(key, route)
    this.dirty.add(key)
  }

  /** Start-up: what the kernel already holds of ours is kept, marked stale, until `release`. */
  adopt(routes: ReadonlyArray<KernelRoute>): void {
    for (const r of routes) {
      if (!this.ours(r)) continue
      const k = routeKey(r)
      this.installed.set(k, r)
      this.stale.add(k)
    }
    this.holding = this.stale.size > 0
  }

  /**
   * A fresh dump of our routes replaces what we believed. Only keys where the kernel and the RIB disagree
   * are planned again (a re-scan of a table that is in sync costs no Set traffic). Returns how many
   * routes differed from what we believed.
   */
  reconcile(routes: ReadonlyArray<KernelRoute>): number {
    let differences = 0
    this.echoes.clear()
    const seen = new Set<string>()
    for (const r of routes) {
      if (!this.ours(r)) continue
      const k = routeKey(r)
      seen.add(k)
      const before = this.installed.get(k)
      if (before === undefined || !satisfies(r, before)) differences++
      this.installed.set(k, r)
      const d = this.desired.get(k)
      if (d === undefined) {
        this.dirty.add(k)
        // Found during the hold and not wanted (yet): kept like the rest of the stale routes.
        if (this.holding) this.stale.add(k)
      } else if (!satisfies(r, d)) this.dirty.add(k)
    }
    if (seen.size !== this.installed.size) {
      for (const k of this.installed.keys()) {
        if (seen.has(k)) continue
        this.installed.delete(k)
        differences++
        this.dirty.add(k)
      }
    }
    for (const k of this.desired.keys()) if (!seen.has(k)) this.dirty.add(k)
    return differences
  }

  /** The RIB has converged: stale routes the RIB did not ask for go. */
  release(): number {
    this.holding = false
    let n = 0
    for (const k of this.stale) {
      if (!this.desired.has(k)) n++
      this.dirty.add(k)
    }
    this.stale.clear()
    return n
  }

  retryFailed(): number {
    for (const k of this.failed.keys()) this.dirty.add(k)
    return this.failed.size
  }

  /** Keys waiting for a plan. */
  get pending(): number {
    return this.dirty.size
  }

  private ours(r: KernelRoute): boolean {
    return r.protocol === this.cfg.protocol && r.table === this.cfg.table
  }

  /** Operations that bring the kernel to the desired state for every key that changed. */
  plan(): RouteOp[] {
    const updates: RouteOp[] = []
    const deletes: RouteOp[] = []
    const deleteCount: Record<4 | 6, number> = { 4: 0, 6: 0 }
    for (const k of this.dirty) {
      const d = this.desired.get(k)
      const i = this.installed.get(k)
      if (d !== undefined) {
        if (i === undefined) updates.push({ op: "add", route: d })
        else if (this.evict.has(k)) {
          deletes.push({ op: "delete", route: i })
          deleteCount[i.family]++
        } else if (!satisfies(i, d)) {
          if (this.cfg.atomicReplace === true) updates.push({ op: "replace", route: d })
          else {
            // Ours out by protocol, then the new one in with EXCL: if somebody else's route took the slot
            // meanwhile, the delete misses it and the add fails; nothing of theirs is overwritten.
            updates.push({ op: "delete", route: i }, { op: "add", route: d })
            this.echoes.set(k, (this.echoes.get(k) ?? 0) + 1)
          }
        } else {
          this.stale.delete(k)
          this.failed.delete(k)
        }
      } else if (i !== undefined) {
        if (this.holding && this.stale.has(k)) continue
        deletes.push({ op: "delete", route: i })
        deleteCount[i.family]++
      } else this.failed.delete(k)
    }
    this.dirty.clear()
    this.evict.clear()
    // Everything of a family goes: one flush (a dump and bulk delete inside iproute2) beats N requests.
    // It runs first, so it cannot take routes this plan adds.
    const flushes: RouteOp[] = []
    if (this.cfg.flushAbove > 0) {
      for (const family of [4, 6] as const) {
        if (deleteCount[family] <= this.cfg.flushAbove) continue
        let all = 0
        for (const r of this.installed.values()) if (r.family === family) all++
        if (deleteCount[family] !== all) continue
        flushes.push({ op: "flush", family, table: this.cfg.table, protocol: this.cfg.protocol })
      }
    }
    if (flushes.length === 0) return [...deletes, ...updates]
    const flushed = new Set(flushes.map((f) => (f.op === "flush" ? f.family : 0)))
    return [...flushes, ...deletes.filter((o) => o.op !== "delete" || !flushed.has(o.route.family)), ...updates]
  }

  /** Folds the kernel's answers in. */
  record(ops: ReadonlyArray<RouteOp>, results: ReadonlyArray<OpResult>): Outcome {
    let added = 0
    let replaced = 0
    let deleted = 0
    let flushed = 0
    let needRescan = false
    const newFailures: Failure[] = []
    const recovered: string[] = []
    const succeeded = (k: string) => {
      this.stale.delete(k)
      if (this.failed.delete(k)) recovered.push(k)
    }
    let updating: string | undefined
    ops.forEach((op, n) => {
      const res = results[n] ?? { ok: false, error: "no result", unknown: true }
      if (op.op === "flush") {
        if (res.ok) {
          for (const [k, r] of this.installed) {
            if (r.family !== op.family) continue
            this.installed.delete(k)
            succeeded(k)
            flushed++
          }
        } else needRescan = true
        return
      }
      const k = routeKey(op.route)
      // The two halves of an update (delete ours, add the new one) count as one replacement.
      const next = ops[n + 1]
      const firstHalf = op.op === "delete" && next?.op === "add" && routeKey(next.route) === k
      const secondHalf = op.op === "add" && updating === k
      updating = firstHalf ? k : undefined
      if (res.ok) {
        if (op.op === "delete") {
          this.installed.delete(k)
          if (!firstHalf) deleted++
          // An eviction or the first half of an update: the route the RIB wants is not in yet.
          if (this.desired.has(k)) return
        } else {
          this.installed.set(k, op.route)
          if (op.op === "replace" || secondHalf) replaced++
          else added++
        }
        succeeded(k)
        return
      }
      if (res.unknown === true) needRescan = true
      // Already gone: what a delete wanted.
      if (op.op === "delete" && /No such process/i.test(res.error)) {
        this.installed.delete(k)
        if (!this.desired.has(k)) succeeded(k)
        return
      }
      if (op.op === "replace" && res.unknown !== true && this.installed.has(k)) {
        this.evict.add(k)
        this.dirty.add(k)
      }
      const conflict = op.op === "add" && /File exists/i.test(res.error)
      // The slot may hold a route of ours we did not know about: a re-scan tells.
      if (conflict) needRescan = true
      const prev = this.failed.get(k)
      const f: Failure = { route: op.route, error: res.error, attempts: (prev?.attempts ?? 0) + 1, conflict }
      this.failed.set(k, f)
      if (prev === undefined || prev.error !== f.error) newFailures.push(f)
    })
    return { added, replaced, deleted, flushed, newFailures, recovered, needRescan }
  }

  /**
   * Is a monitor notice what our own state predicts (an echo of our change, or nothing to do with us)?
   * When not, the caller re-scans. A freed slot we failed to take is retried at once.
   */
  explains(n: Notice): boolean {
    if (n._tag !== "Route") return false
    const r = n.route
    if (r.table !== this.cfg.table) return true
    const k = routeKey(r)
    if (r.protocol === this.cfg.protocol) {
      const i = this.installed.get(k)
      if (n.deleted) {
        const e = this.echoes.get(k)
        if (e !== undefined) {
          if (e <= 1) this.echoes.delete(k)
          else this.echoes.set(k, e - 1)
          return true
        }
        return i === undefined
      }
      return i !== undefined && satisfies(r, i) && r.nexthops.length === i.nexthops.length
    }
    // Another protocol's route.
    if (n.deleted) {
      if (this.failed.get(k)?.conflict === true) this.dirty.add(k)
      return true
    }
    // Written over one of ours (replace ignores the protocol), or into a slot we want.
    return !this.installed.has(k) && !this.desired.has(k)
  }

  describe(k: string): string {
    const r = this.desired.get(k) ?? this.installed.get(k)
    return r === undefined ? k : describeRoute(r)
  }
}
