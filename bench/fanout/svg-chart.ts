/**
 * A small line chart as a standalone SVG string: axes with round ticks (linear or log), one
 * polyline per series with optional markers, dashed reference lines and a legend. Styled by
 * attributes only, on a white ground, so the same string reads inside an HTML page and as an
 * .svg file on its own (GitHub's dark theme included).
 */

export interface ChartPoint {
  x: number
  y: number
  /** Drawn hollow: a step that failed, say. */
  hollow?: boolean
  /** Shown when the pointer rests on the marker. */
  note?: string
}

export interface ChartSeries {
  name: string
  color: string
  points: ChartPoint[]
  /** Circles at the points; without them a series is a line alone (one point is always marked). */
  markers?: boolean
  /** A pale line between the markers: points that are samples, not a curve. */
  faint?: boolean
}

export interface ChartRule {
  axis: 'x' | 'y'
  at: number
  label: string
}

export interface ChartSpec {
  title: string
  xLabel: string
  yLabel: string
  series: ChartSeries[]
  rules?: ChartRule[]
  logX?: boolean
  logY?: boolean
  width?: number
}

/** Okabe and Ito's palette, told apart with every kind of colour vision. */
export const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000']

const FONT = 'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"'
const PLOT_HEIGHT = 220
const MARGIN = { left: 64, right: 24, top: 40 }
const CHAR_WIDTH = 6.6
const LEGEND_ROW = 18

export function escapeXml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;')
}

/** 1200 as 1.2k, 15000 as 15k, 0.25 as 0.25. */
export function shortNumber(value: number): string {
  const abs = Math.abs(value)
  if (abs >= 1e6) return `${Number((value / 1e6).toPrecision(3))}M`
  if (abs >= 1e3) return `${Number((value / 1e3).toPrecision(3))}k`
  return String(Number(value.toPrecision(3)))
}

interface Scale {
  at: (value: number) => number
  ticks: number[]
}

function linearScale(values: number[], from: number, to: number): Scale {
  const max = Math.max(0, ...values)
  const raw = max > 0 ? max / 5 : 1
  const power = 10 ** Math.floor(Math.log10(raw))
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power
  const top = Math.max(step, Math.ceil(max / step) * step)
  const ticks = Array.from({ length: Math.round(top / step) + 1 }, (_, i) => i * step)
  return { at: (value) => from + ((to - from) * value) / top, ticks }
}

function logScale(values: number[], from: number, to: number): Scale {
  const positive = values.filter((v) => v > 0)
  const low = Math.floor(Math.log10(positive.length > 0 ? Math.min(...positive) : 1))
  const high = Math.max(low + 1, Math.ceil(Math.log10(Math.max(...positive, 10 ** low))))
  const decades = Array.from({ length: high - low + 1 }, (_, i) => 10 ** (low + i))
  const ticks =
    high - low <= 3 ? decades.flatMap((d) => [d, 2 * d, 5 * d]).filter((t) => t <= 10 ** high) : decades
  const at = (value: number) =>
    from + ((to - from) * (Math.log10(Math.max(value, 10 ** low)) - low)) / (high - low)
  return { at, ticks }
}

/** The legend's entries laid out in rows that fit `width`. */
function legendRows(series: ChartSeries[], width: number): ChartSeries[][] {
  const rows: ChartSeries[][] = [[]]
  let used = 0
  for (const entry of series) {
    const size = 28 + entry.name.length * CHAR_WIDTH
    if (used > 0 && used + size > width) {
      rows.push([])
      used = 0
    }
    rows.at(-1)!.push(entry)
    used += size
  }
  return rows
}

const round = (value: number) => Math.round(value * 10) / 10

interface Box {
  left: number
  right: number
  top: number
  bottom: number
}

function seriesSvg(entry: ChartSeries, x: Scale, y: Scale): string {
  const points = entry.points.map((p) => ({ ...p, px: round(x.at(p.x)), py: round(y.at(p.y)) }))
  const path = points.map((p, i) => `${i === 0 ? 'M' : 'L'}${p.px} ${p.py}`).join(' ')
  const line =
    points.length > 1
      ? `<path d="${path}" fill="none" stroke="${entry.color}" stroke-width="2" stroke-linejoin="round"${entry.faint ? ' stroke-opacity="0.35"' : ''}/>`
      : ''
  const markers =
    entry.markers || points.length === 1
      ? points
          .map(
            (p) =>
              `<circle cx="${p.px}" cy="${p.py}" r="4" fill="${p.hollow ? '#fff' : entry.color}" stroke="${entry.color}" stroke-width="2">` +
              `${p.note ? `<title>${escapeXml(p.note)}</title>` : ''}</circle>`,
          )
          .join('')
      : ''
  return `<g><title>${escapeXml(entry.name)}</title>${line}${markers}</g>`
}

/** Dashed lines at fixed values, each labelled on a white halo so that crossing lines stay readable. */
function rulesSvg(rules: ChartRule[], x: Scale, y: Scale, box: Box): string {
  const dash = 'stroke="#777" stroke-width="1" stroke-dasharray="5 4"'
  const label = (at: { x: number; y: number }, text: string) =>
    `<text x="${at.x}" y="${at.y}" fill="#555" font-size="11" paint-order="stroke" stroke="#fff" stroke-width="3">${escapeXml(text)}</text>`
  return rules
    .map((rule, i) => {
      if (rule.axis === 'y') {
        const py = round(y.at(rule.at))
        return (
          `<line x1="${box.left}" x2="${box.right}" y1="${py}" y2="${py}" ${dash}/>` +
          label({ x: box.left + 4, y: py - 4 }, rule.label)
        )
      }
      const px = round(x.at(rule.at))
      return (
        `<line x1="${px}" x2="${px}" y1="${box.top}" y2="${box.bottom}" ${dash}/>` +
        label({ x: px + 4, y: box.top + 12 + 13 * i }, rule.label)
      )
    })
    .join('')
}

export function renderChart(spec: ChartSpec): string {
  const width = spec.width ?? 640
  const box: Box = {
    left: MARGIN.left,
    right: width - MARGIN.right,
    top: MARGIN.top,
    bottom: MARGIN.top + PLOT_HEIGHT,
  }
  const rules = spec.rules ?? []
  const xs = [
    ...spec.series.flatMap((s) => s.points.map((p) => p.x)),
    ...rules.filter((r) => r.axis === 'x').map((r) => r.at),
  ]
  const ys = [
    ...spec.series.flatMap((s) => s.points.map((p) => p.y)),
    ...rules.filter((r) => r.axis === 'y').map((r) => r.at),
  ]
  const x = (spec.logX ? logScale : linearScale)(xs, box.left, box.right)
  const y = (spec.logY ? logScale : linearScale)(ys, box.bottom, box.top)
  const legend = legendRows(spec.series, box.right - box.left)
  const legendTop = box.bottom + 52
  const height = legendTop + legend.length * LEGEND_ROW + 6

  const grid = y.ticks
    .map((tick) => {
      const py = round(y.at(tick))
      return (
        `<line x1="${box.left}" x2="${box.right}" y1="${py}" y2="${py}" stroke="#e5e5e5"/>` +
        `<text x="${box.left - 6}" y="${py + 4}" text-anchor="end">${shortNumber(tick)}</text>`
      )
    })
    .join('')
  const xTicks = x.ticks
    .map((tick) => {
      const px = round(x.at(tick))
      return (
        `<line x1="${px}" x2="${px}" y1="${box.bottom}" y2="${box.bottom + 4}" stroke="#333"/>` +
        `<text x="${px}" y="${box.bottom + 17}" text-anchor="middle">${shortNumber(tick)}</text>`
      )
    })
    .join('')
  const legendSvg = legend
    .map((row, r) => {
      let offset = box.left
      return row
        .map((entry) => {
          const top = legendTop + r * LEGEND_ROW
          const item =
            `<rect x="${round(offset)}" y="${top - 9}" width="18" height="4" fill="${entry.color}"/>` +
            `<text x="${round(offset + 24)}" y="${top - 3}">${escapeXml(entry.name)}</text>`
          offset += 28 + entry.name.length * CHAR_WIDTH
          return item
        })
        .join('')
    })
    .join('')

  return (
    `<svg xmlns="http://www.w3.org/2000/svg" role="img" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT} font-size="12" fill="#222">` +
    `<title>${escapeXml(spec.title)}</title>` +
    `<rect width="${width}" height="${height}" fill="#fff"/>` +
    `<text x="${box.left}" y="22" font-size="14" font-weight="600">${escapeXml(spec.title)}</text>` +
    grid +
    `<line x1="${box.left}" x2="${box.right}" y1="${box.bottom}" y2="${box.bottom}" stroke="#333"/>` +
    xTicks +
    `<text x="${(box.left + box.right) / 2}" y="${box.bottom + 36}" text-anchor="middle">${escapeXml(spec.xLabel)}</text>` +
    `<text transform="translate(16 ${(box.top + box.bottom) / 2}) rotate(-90)" text-anchor="middle">${escapeXml(spec.yLabel)}</text>` +
    rulesSvg(rules, x, y, box) +
    // The first series last, on top: where two lines coincide, the subject stays visible.
    [...spec.series]
      .reverse()
      .map((entry) => seriesSvg(entry, x, y))
      .join('') +
    legendSvg +
    `</svg>`
  )
}
