/**
 * Per cell and router: medians with their spread, and the ratios against BIRD 2 and against the floor
 * (null reflector) taken within each block (same block = started back to back on the same machine state),
 * summarized by their median with a bootstrap 95 % interval.
 */
import type { DutName } from "./duts.ts"
import type { RunResult } from "./rr-run.ts"
import { bootstrapMedian, spread, type Spread } from "./stats.ts"

export type Ratio = ReturnType<typeof bootstrapMedian>

export interface CellSummary {
  readonly key: string
  readonly dut: DutName
  readonly valid: number
  readonly runs: number
  readonly invalid: ReadonlyArray<string>
  readonly convergeSeconds: Spread
  readonly establishSeconds: Spread
  readonly dutCpu: Spread
  readonly dutPeakRss: Spread
  readonly vsBird?: { readonly time: Ratio; readonly cpu: Ratio; readonly rss: Ratio }
  readonly vsFloor?: { readonly time: Ratio; readonly cpu: Ratio }
  readonly foreignShare: Spread
}

export const cellKey = (r: RunResult): string =>
  r.scenario === "s1"
    ? `s1:${r.cell["routes"]}x${r.cell["clients"]}:${r.cell["mix"]}`
    : `s2:${r.cell["nodes"]}x${r.cell["perNode"]}${r.cell["staggerMs"] === undefined ? "" : `:stagger${r.cell["staggerMs"]}`}`

/** Runs are told apart by block and by the results file they came from (`source`). */
export type SourcedRun = RunResult & { readonly source?: string }

export const summarize = (runs: ReadonlyArray<SourcedRun>, cells: ReadonlyArray<string>, duts: ReadonlyArray<DutName>): CellSummary[] => {
  const out: CellSummary[] = []
  for (const key of cells) {
    const inCell = runs.filter((r) => cellKey(r) === key)
    for (const dut of duts) {
      const mine = inCell.filter((r) => r.dut === dut)
      if (mine.length === 0) continue
      const ok = mine.filter((r) => r.valid)
      const ratio = (other: DutName, f: (r: RunResult) => number): Ratio => {
        const xs: number[] = []
        for (const r of ok) {
          const o = inCell.find((x) => x.dut === other && x.block === r.block && x.source === r.source && x.valid)
          if (o !== undefined && f(o) > 0) xs.push(f(r) / f(o))
        }
        return bootstrapMedian(xs)
      }
      const has = (d: DutName) => inCell.some((r) => r.dut === d && r.valid)
      out.push({
        key,
        dut,
        valid: ok.length,
        runs: mine.length,
        invalid: mine.filter((r) => !r.valid).map((r) => r.invalid ?? "?"),
        convergeSeconds: spread(ok.map((r) => r.convergeSeconds)),
        establishSeconds: spread(ok.map((r) => r.establishSeconds)),
        dutCpu: spread(ok.map((r) => r.dutCpu)),
        dutPeakRss: spread(ok.map((r) => r.dutPeakRss)),
        ...(has("bird") && dut !== "bird"
          ? { vsBird: { time: ratio("bird", (r) => r.convergeSeconds), cpu: ratio("bird", (r) => r.dutCpu), rss: ratio("bird", (r) => r.dutPeakRss) } }
          : {}),
        ...(has("null") && dut !== "null" ? { vsFloor: { time: ratio("null", (r) => r.convergeSeconds), cpu: ratio("null", (r) => r.dutCpu) } } : {}),
        foreignShare: spread(mine.map((r) => r.interference.foreignShare))
      })
    }
  }
  return out
}
