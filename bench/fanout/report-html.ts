import { writeFile } from 'node:fs/promises'
import { formatRevision } from '../lib/git-revision.js'
import { STORM_WAYS } from './crowds.js'
import { phasePassed } from './phase.js'
import type { BenchResults } from './report.js'
import { formatReport, STORM_TARGET_MS, STORM_WAY_NAMES } from './report-tables.js'
import type { ScalingPoint } from './scenarios.js'
import { type ChartSeries, escapeXml as escape, PALETTE, renderChart, shortNumber } from './svg-chart.js'
import { TARGET_NAMES, type TargetName } from './targets.js'

/**
 * The run as one self-contained HTML page: the targets, the scaling curve, the ceiling search
 * and the storm's timeline as inline SVG, and the text report below them.
 */
export function renderHtmlReport(results: BenchResults): string {
  const { machine } = results
  const sections = [
    section('Targets', targetTables(results)),
    section('Scaling', scalingCharts(results).join('\n')),
    section('Ceiling search', ceilingChart(results) ?? ''),
    section('Reconnect storm', stormChart(results) ?? ''),
    results.errors.length > 0
      ? section(
          'Errors',
          `<ul>${results.errors.map((e) => `<li>${escape(`${e.scenario}${e.target ? ` (${e.target})` : ''}: ${e.message}`)}</li>`).join('')}</ul>`,
        )
      : '',
  ]
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Parley benchmark, ${escape(results.startedAt)}</title>
<style>
body { font: 14px/1.45 system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; color: #222; margin: 2rem auto; max-width: 1320px; padding: 0 1rem; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
.charts { display: flex; flex-wrap: wrap; gap: 1rem; } .charts svg { border: 1px solid #ddd; max-width: 100%; height: auto; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; } th, td { padding: 0.2rem 0.8rem; text-align: left; border-bottom: 1px solid #e5e5e5; }
td.met { color: #1a7f37; } td.missed { color: #cf222e; font-weight: 600; }
pre { background: #f6f8fa; padding: 1rem; overflow-x: auto; font-size: 12px; }
.meta { color: #555; }
</style>
</head>
<body>
<h1>Parley benchmark</h1>
<p class="meta">${escape(
    `${results.startedAt}, ${results.durationSeconds.toFixed(0)} s; ${machine.cores} cores (${machine.cpuModel}), ` +
      `Node ${machine.node}, ${machine.postgres} (${machine.database}); Parley ${formatRevision(machine.revision)}`,
  )}</p>
${sections.filter((html) => html !== '').join('\n')}
<details>
<summary>The text report</summary>
<pre>${escape(formatReport(results))}</pre>
</details>
</body>
</html>
`
}

/** Writes the page beside the JSON (`latest.json` → `latest.html`) and the storm chart as `latest-storm.svg`. */
export async function writeHtmlReport(jsonPath: string, results: BenchResults): Promise<string[]> {
  const base = jsonPath.replace(/\.json$/, '')
  const written = [`${base}.html`]
  await writeFile(written[0]!, renderHtmlReport(results))
  const storm = stormChart(results)
  if (storm) {
    written.push(`${base}-storm.svg`)
    await writeFile(written[1]!, `${storm}\n`)
  }
  return written
}

function section(title: string, body: string): string {
  return `<h2>${escape(title)}</h2>\n${body === '' ? '<p>Not run.</p>' : `<div class="charts">${body}</div>`}`
}

const targetColor = (name: TargetName) => PALETTE[TARGET_NAMES.indexOf(name) % PALETTE.length]!

function htmlTable(headers: string[], rows: { cells: string[]; met?: boolean }[]): string {
  const verdict = (met: boolean | undefined) =>
    met === undefined
      ? '<td>not measured</td>'
      : met
        ? '<td class="met">met</td>'
        : '<td class="missed">NOT MET</td>'
  return (
    `<table><thead><tr>${headers.map((h) => `<th>${escape(h)}</th>`).join('')}</tr></thead><tbody>` +
    rows
      .map(
        ({ cells, met }) => `<tr>${cells.map((c) => `<td>${escape(c)}</td>`).join('')}${verdict(met)}</tr>`,
      )
      .join('') +
    '</tbody></table>'
  )
}

/** The run's targets, as the text report judges them, and the storm's against its own. */
function targetTables({ goals, storms }: BenchResults): string {
  const tables: string[] = []
  if (goals.length > 0) {
    tables.push(
      htmlTable(
        ['target', 'measured', ''],
        goals.map((g) => ({ cells: [g.goal, g.measured], met: g.met })),
      ),
    )
  }
  if (storms && storms.length > 0) {
    const rows = storms.map((storm) => ({
      cells: [
        STORM_WAY_NAMES[storm.way],
        `${storm.caughtUp}/${storm.streams} in ${storm.caughtUpMs} ms`,
        `${STORM_TARGET_MS[storm.way]} ms`,
        `${storm.transactionsPerStream.toFixed(3)} (0.1)`,
        `${storm.missing}/${storm.duplicated}`,
      ],
      met:
        storm.caughtUp === storm.streams &&
        storm.caughtUpMs <= STORM_TARGET_MS[storm.way] &&
        storm.transactionsPerStream <= 0.1,
    }))
    tables.push(
      htmlTable(
        ['reconnect storm', 'caught up', 'target', 'db xact/stream (target)', 'missing/dup', ''],
        rows,
      ),
    )
  }
  return tables.join('')
}

type Dimension = 'rooms' | 'subscribers'

/**
 * Curves through the points that share every coordinate but one: by subscribers at a fixed
 * room count, and by rooms at a fixed subscriber count. A lone point makes no curve.
 */
function curves(points: ScalingPoint[], fixed: Dimension, varying: Dimension): ScalingPoint[][] {
  const groups = new Map<string, ScalingPoint[]>()
  for (const point of points) {
    const key = `${point.target}\u0000${point[fixed]}`
    groups.set(key, [...(groups.get(key) ?? []), point])
  }
  return [...groups.values()]
    .filter((group) => group.length > 1)
    .map((group) => group.sort((a, b) => a[varying] - b[varying]))
}

function scalingCharts({ scaling }: BenchResults): string[] {
  const bySubscribers = curves(scaling, 'rooms', 'subscribers')
  const byRooms = curves(scaling, 'subscribers', 'rooms')
  // Points that form no curve (a run with one point) are still shown, each on its own.
  const lone = bySubscribers.length + byRooms.length === 0 ? scaling.map((point) => [point]) : []
  const dimensions: { fixed: Dimension; varying: Dimension; groups: ScalingPoint[][] }[] = [
    { fixed: 'rooms', varying: 'subscribers', groups: [...bySubscribers, ...lone] },
    { fixed: 'subscribers', varying: 'rooms', groups: byRooms },
  ]
  return dimensions.flatMap(({ fixed, varying, groups }) => {
    if (groups.length === 0) return []
    const fixedValues = new Set(groups.map((group) => group[0]![fixed]))
    const only = fixedValues.size === 1 ? ` at ${shortNumber([...fixedValues][0]!)} ${fixed}` : ''
    const series = (y: (point: ScalingPoint) => number): ChartSeries[] =>
      groups.map((group, i) => {
        const { target } = group[0]!
        return {
          name: only ? target : `${target}, ${group[0]![fixed]} ${fixed}`,
          color: only ? targetColor(target) : PALETTE[i % PALETTE.length]!,
          markers: true,
          points: group.map((point) => ({ x: point[varying], y: y(point), note: scalingNote(point) })),
        }
      })
    const logX =
      Math.max(...scaling.map((p) => p[varying])) / Math.min(...scaling.map((p) => p[varying])) >= 20
    return [
      renderChart({
        title: `Delivery p99 by ${varying}${only}`,
        xLabel: varying,
        yLabel: 'p99 latency, ms',
        logX,
        series: series((point) => point.result.latencyMs.p99),
      }),
      renderChart({
        title: `Deliveries per second by ${varying}${only}`,
        xLabel: varying,
        yLabel: 'deliveries per second',
        logX,
        series: series((point) => point.result.deliveryRate),
      }),
    ]
  })
}

function scalingNote({ target, subscribers, rooms, result }: ScalingPoint): string {
  const delivered = result.expected === 0 ? 100 : (100 * result.delivered) / result.expected
  return (
    `${target}, ${subscribers} subscribers over ${rooms} rooms at ${result.rate} msg/s: p50 ${result.latencyMs.p50} ms, ` +
    `p99 ${result.latencyMs.p99} ms, ${shortNumber(result.deliveryRate)} deliveries/s, ${delivered.toFixed(2)}% delivered`
  )
}

/** Each step of every server's ceiling search: its rate and p99, hollow where it failed. */
function ceilingChart({ fanout, options }: BenchResults): string | undefined {
  const searched = (Object.keys(fanout) as TargetName[]).filter((name) => fanout[name]?.ceiling?.steps.length)
  if (searched.length === 0) return undefined
  return renderChart({
    title: 'Ceiling search: p99 at each step tried (hollow: the step failed)',
    xLabel: 'messages per second inserted',
    yLabel: 'p99 latency, ms (log)',
    logX: true,
    logY: true,
    width: 760,
    rules: [{ axis: 'y', at: options.maxP99Ms, label: `pass mark: p99 ${options.maxP99Ms} ms` }],
    series: searched.map((name) => ({
      name: `${name} (ceiling ${shortNumber(fanout[name]!.ceiling!.deliveriesPerSecond)} deliveries/s)`,
      color: targetColor(name),
      markers: true,
      faint: true,
      points: [...fanout[name]!.ceiling!.steps]
        .sort((a, b) => a.rate - b.rate)
        .map((step) => {
          const passed = phasePassed(step, options.maxP99Ms)
          return {
            x: step.rate,
            // A p99 under 1 ms reads as 0 in 1 ms buckets, and a log axis has no 0.
            y: Math.max(1, step.latencyMs.p99),
            hollow: !passed,
            note:
              `${name} at ${step.rate} msg/s (${shortNumber(step.deliveryRate)} deliveries/s): p99 ${step.latencyMs.p99} ms, ` +
              `${step.missing} missing: ${passed ? 'passed' : 'failed'}`,
          }
        }),
    })),
  })
}

/** Streams caught up over time, one line per way of reconnecting, with each way's target. */
export function stormChart({ storms }: Pick<BenchResults, 'storms'>): string | undefined {
  const timed = (storms ?? []).filter((storm) => storm.timeline.counts.length > 0)
  const first = timed[0]
  if (!first) return undefined
  const targets = new Map<number, string[]>()
  for (const storm of timed) {
    const ms = STORM_TARGET_MS[storm.way]
    targets.set(ms, [...(targets.get(ms) ?? []), storm.way])
  }
  return renderChart({
    title: `Reconnect storm: ${first.streams} streams over ${first.rooms} rooms, ${first.behind} messages behind each`,
    xLabel: 'ms since the storm began',
    yLabel: 'streams caught up',
    width: 760,
    rules: [...targets].map(([ms, ways]) => ({ axis: 'x', at: ms, label: `target ${ways.join(', ')}` })),
    series: timed.map((storm) => ({
      name: `${storm.way}: ${STORM_WAY_NAMES[storm.way]}, ${storm.caughtUp}/${storm.streams} in ${storm.caughtUpMs} ms`,
      color: PALETTE[STORM_WAYS.indexOf(storm.way) % PALETTE.length]!,
      points: storm.timeline.counts.map((count, i) => ({ x: i * storm.timeline.everyMs, y: count })),
    })),
  })
}
