/**
 * Small statistics for benchmark blocks: median, spread, quantiles, and a bootstrap confidence interval
 * of the median of within-block ratios (deterministic: seeded).
 */

export const sorted = (xs: ReadonlyArray<number>): number[] => [...xs].sort((a, b) => a - b)

export const quantile = (xs: ReadonlyArray<number>, q: number): number => {
  if (xs.length === 0) return NaN
  const s = sorted(xs)
  const pos = (s.length - 1) * q
  const lo = Math.floor(pos)
  const hi = Math.ceil(pos)
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo)
}

export const median = (xs: ReadonlyArray<number>): number => quantile(xs, 0.5)

export interface Spread {
  readonly n: number
  readonly median: number
  readonly min: number
  readonly max: number
}

export const spread = (xs: ReadonlyArray<number>): Spread => {
  const s = sorted(xs.filter((x) => Number.isFinite(x)))
  return { n: s.length, median: median(s), min: s[0] ?? NaN, max: s[s.length - 1] ?? NaN }
}

/** mulberry32: a small seeded PRNG. */
export const rng = (seed: number): (() => number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** In-place Fisher–Yates shuffle with a seeded generator. */
export const shuffle = <A>(xs: A[], random: () => number): A[] => {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    const t = xs[i]!
    xs[i] = xs[j]!
    xs[j] = t
  }
  return xs
}

/** Median with a 95 % bootstrap interval (percentile method, 2 000 resamples). */
export const bootstrapMedian = (xs: ReadonlyArray<number>, seed = 1): { median: number; lo: number; hi: number; n: number } => {
  const v = xs.filter((x) => Number.isFinite(x))
  if (v.length === 0) return { median: NaN, lo: NaN, hi: NaN, n: 0 }
  const r = rng(seed)
  const meds: number[] = []
  for (let b = 0; b < 2000; b++) {
    const sample: number[] = []
    for (let i = 0; i < v.length; i++) sample.push(v[Math.floor(r() * v.length)]!)
    meds.push(median(sample))
  }
  return { median: median(v), lo: quantile(meds, 0.025), hi: quantile(meds, 0.975), n: v.length }
}
