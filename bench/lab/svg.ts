/**
 * Plain SVG charts for bench/REPORT.md, written as text: line charts (linear or log axes) and grouped
 * horizontal bar charts of ratios on a log axis with a reference line at 1. No dependencies.
 */

const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")

const fmtTick = (v: number): string => {
  if (v === 0) return "0"
  const a = Math.abs(v)
  if (a >= 1e6) return `${+(v / 1e6).toPrecision(3)}M`
  if (a >= 1e3) return `${+(v / 1e3).toPrecision(3)}k`
  if (a >= 1) return `${+v.toPrecision(3)}`
  return `${+v.toPrecision(2)}`
}

interface Scale {
  readonly map: (v: number) => number
  readonly ticks: ReadonlyArray<number>
}

const linearScale = (lo: number, hi: number, a: number, b: number): Scale => {
  if (hi <= lo) hi = lo + 1
  const raw = (hi - lo) / 5
  const mag = 10 ** Math.floor(Math.log10(raw))
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw
  const t0 = Math.floor(lo / step) * step
  const ticks: number[] = []
  for (let t = t0; t <= hi + step * 1e-9; t += step) ticks.push(+t.toPrecision(12))
  const l = ticks[0]!
  const h = ticks[ticks.length - 1]!
  return { map: (v) => a + ((v - l) / (h - l || 1)) * (b - a), ticks }
}

const logScale = (lo: number, hi: number, a: number, b: number): Scale => {
  lo = Math.max(lo, 1e-12)
  hi = Math.max(hi, lo * 1.0001)
  const l = Math.floor(Math.log10(lo))
  const h = Math.ceil(Math.log10(hi))
  const ticks: number[] = []
  for (let e = l; e <= h; e++) {
    ticks.push(10 ** e)
    if (h - l <= 2 && e < h) ticks.push(2 * 10 ** e, 5 * 10 ** e)
  }
  ticks.sort((x, y) => x - y)
  return { map: (v) => a + ((Math.log10(Math.max(v, 1e-12)) - l) / (h - l || 1)) * (b - a), ticks }
}

export interface Series {
  readonly name: string
  readonly points: ReadonlyArray<readonly [number, number]>
  /** Dashed line (e.g. simulated or extrapolated values). */
  readonly dashed?: boolean
}

export interface LineChart {
  readonly title: string
  readonly xLabel: string
  readonly yLabel: string
  readonly series: ReadonlyArray<Series>
  readonly logX?: boolean
  readonly logY?: boolean
  readonly width?: number
  readonly height?: number
  readonly note?: string
}

export const lineChart = (c: LineChart): string => {
  const W = c.width ?? 680
  const H = c.height ?? 400
  const m = { l: 70, r: 170, t: 40, b: 55 }
  const xs = c.series.flatMap((s) => s.points.map((p) => p[0]))
  const ys = c.series.flatMap((s) => s.points.map((p) => p[1])).filter((y) => Number.isFinite(y))
  const xlo = Math.min(...xs)
  const xhi = Math.max(...xs)
  const ylo = c.logY === true ? Math.min(...ys.filter((y) => y > 0)) : Math.min(0, ...ys)
  const yhi = Math.max(...ys)
  const sx = c.logX === true ? logScale(xlo, xhi, m.l, W - m.r) : linearScale(xlo, xhi, m.l, W - m.r)
  const sy = c.logY === true ? logScale(ylo, yhi, H - m.b, m.t) : linearScale(ylo, yhi, H - m.b, m.t)
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2 - m.r / 2 + m.l / 2}" y="22" text-anchor="middle" font-size="14" font-weight="bold">${esc(c.title)}</text>`
  ]
  for (const t of sx.ticks) {
    const x = sx.map(t)
    if (x < m.l - 1 || x > W - m.r + 1) continue
    out.push(`<line x1="${x}" y1="${m.t}" x2="${x}" y2="${H - m.b}" stroke="#eee"/>`, `<text x="${x}" y="${H - m.b + 16}" text-anchor="middle">${fmtTick(t)}</text>`)
  }
  for (const t of sy.ticks) {
    const y = sy.map(t)
    if (y < m.t - 1 || y > H - m.b + 1) continue
    out.push(`<line x1="${m.l}" y1="${y}" x2="${W - m.r}" y2="${y}" stroke="#eee"/>`, `<text x="${m.l - 6}" y="${y + 4}" text-anchor="end">${fmtTick(t)}</text>`)
  }
  out.push(
    `<line x1="${m.l}" y1="${H - m.b}" x2="${W - m.r}" y2="${H - m.b}" stroke="#333"/>`,
    `<line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${H - m.b}" stroke="#333"/>`,
    `<text x="${(m.l + W - m.r) / 2}" y="${H - 14}" text-anchor="middle">${esc(c.xLabel)}</text>`,
    `<text x="16" y="${(m.t + H - m.b) / 2}" text-anchor="middle" transform="rotate(-90 16 ${(m.t + H - m.b) / 2})">${esc(c.yLabel)}</text>`
  )
  c.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length]!
    const pts = s.points.filter((p) => Number.isFinite(p[1]) && (c.logY !== true || p[1] > 0)).map((p) => `${sx.map(p[0]).toFixed(1)},${sy.map(p[1]).toFixed(1)}`)
    if (pts.length > 1) out.push(`<polyline points="${pts.join(" ")}" fill="none" stroke="${color}" stroke-width="2"${s.dashed === true ? ' stroke-dasharray="6 4"' : ""}/>`)
    for (const p of pts) {
      const [x, y] = p.split(",")
      out.push(`<circle cx="${x}" cy="${y}" r="3.5" fill="${color}"/>`)
    }
    const ly = m.t + 10 + i * 20
    out.push(
      `<line x1="${W - m.r + 12}" y1="${ly}" x2="${W - m.r + 36}" y2="${ly}" stroke="${color}" stroke-width="2"${s.dashed === true ? ' stroke-dasharray="6 4"' : ""}/>`,
      `<text x="${W - m.r + 42}" y="${ly + 4}">${esc(s.name)}</text>`
    )
  })
  if (c.note !== undefined) out.push(`<text x="${m.l}" y="${H - 2}" font-size="10" fill="#555">${esc(c.note)}</text>`)
  out.push("</svg>")
  return out.join("\n")
}

export interface BarGroup {
  readonly label: string
  /** One value per series (NaN: no bar). */
  readonly values: ReadonlyArray<number>
}

export interface RatioChart {
  readonly title: string
  readonly xLabel: string
  readonly series: ReadonlyArray<string>
  readonly groups: ReadonlyArray<BarGroup>
  readonly note?: string
}

/** Horizontal grouped bars on a log axis, with a line at 1 (equal to the reference). */
export const ratioChart = (c: RatioChart): string => {
  const W = 720
  const bar = 11
  const groupH = c.series.length * bar + 12
  const m = { l: 200, r: 150, t: 40, b: 50 }
  const H = m.t + m.b + c.groups.length * groupH
  const vals = c.groups.flatMap((g) => g.values).filter((v) => Number.isFinite(v) && v > 0)
  const lo = Math.min(0.5, ...vals)
  const hi = Math.max(2, ...vals)
  const sx = logScale(lo, hi, m.l, W - m.r)
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${(m.l + W - m.r) / 2}" y="22" text-anchor="middle" font-size="14" font-weight="bold">${esc(c.title)}</text>`
  ]
  for (const t of sx.ticks) {
    const x = sx.map(t)
    out.push(`<line x1="${x}" y1="${m.t}" x2="${x}" y2="${H - m.b}" stroke="#eee"/>`, `<text x="${x}" y="${H - m.b + 15}" text-anchor="middle">${fmtTick(t)}</text>`)
  }
  const one = sx.map(1)
  c.groups.forEach((g, gi) => {
    const y0 = m.t + gi * groupH + 6
    out.push(`<text x="${m.l - 8}" y="${y0 + (c.series.length * bar) / 2 + 4}" text-anchor="end">${esc(g.label)}</text>`)
    g.values.forEach((v, si) => {
      if (!Number.isFinite(v) || v <= 0) return
      const x = sx.map(v)
      const y = y0 + si * bar
      out.push(`<rect x="${Math.min(one, x)}" y="${y}" width="${Math.max(1, Math.abs(x - one))}" height="${bar - 2}" fill="${COLORS[si % COLORS.length]}"/>`)
      out.push(`<text x="${x + (x >= one ? 3 : -3)}" y="${y + bar - 3}" font-size="9" text-anchor="${x >= one ? "start" : "end"}">${v < 10 ? v.toFixed(2) : v.toFixed(0)}</text>`)
    })
  })
  out.push(`<line x1="${one}" y1="${m.t}" x2="${one}" y2="${H - m.b}" stroke="#000" stroke-width="1.5"/>`)
  out.push(`<text x="${(m.l + W - m.r) / 2}" y="${H - 18}" text-anchor="middle">${esc(c.xLabel)}</text>`)
  c.series.forEach((s, i) => {
    const ly = m.t + 8 + i * 18
    out.push(`<rect x="${W - m.r + 14}" y="${ly - 8}" width="14" height="10" fill="${COLORS[i % COLORS.length]}"/>`, `<text x="${W - m.r + 34}" y="${ly + 1}">${esc(s)}</text>`)
  })
  if (c.note !== undefined) out.push(`<text x="${m.l}" y="${H - 3}" font-size="10" fill="#555">${esc(c.note)}</text>`)
  out.push("</svg>")
  return out.join("\n")
}
