import { formatRevision } from '../lib/git-revision.js'
import type { StormWay } from './crowds.js'
import type { BenchOptions } from './options.js'
import type { PhaseResult } from './phase.js'
import type { BenchResults, Comparison } from './report.js'
import { shardsSection } from './shards-report.js'
import { type Column, table } from './text-table.js'

const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(0)
const kb = (bytes: number) => (bytes / 1024).toFixed(1)
const pct = (value: number | undefined) => (value === undefined ? '–' : `${value.toFixed(0)}%`)
const rate = (value: number) => (value >= 10_000 ? `${(value / 1000).toFixed(0)}k` : value.toFixed(0))
const delivered = (r: PhaseResult) =>
  r.expected === 0
    ? '–'
    : `${((100 * r.delivered) / r.expected).toFixed(r.delivered === r.expected ? 0 : 2)}%`

/** The columns every fan-out measurement shares. */
function phaseColumns<T>(result: (row: T) => PhaseResult): Column<T>[] {
  return [
    ['delivered', (row) => delivered(result(row))],
    ['p50', (row) => String(result(row).latencyMs.p50)],
    ['p99', (row) => String(result(row).latencyMs.p99)],
    ['max', (row) => String(result(row).latencyMs.max)],
    ['commit p99', (row) => String(result(row).insert.commitMs.p99)],
    ['deliv/s', (row) => rate(result(row).deliveryRate)],
    ['CPU', (row) => pct(result(row).serverCpuPercent)],
    ['RSS MB', (row) => mb(result(row).serverPeakRssBytes)],
    ['db xact/s', (row) => rate(result(row).serverTransactionsPerSecond)],
  ]
}

function fanoutSection({ options, fanout }: BenchResults): string[] {
  const rows = Object.entries(fanout).filter(([, r]) => r.fanout)
  if (rows.length === 0) return []
  type Row = (typeof rows)[number]
  const expected = (options.rate * options.subscribers) / options.rooms
  const stopped = rows.filter(([, r]) => r.session.open.failed > 0)
  return [
    `Fan-out: ${options.subscribers} subscribers over ${options.rooms} rooms, ${options.rate} msg/s for ` +
      `${options.seconds} s (${rate(expected)} deliveries/s expected)${mixNote(options)}`,
    table<Row>(
      [
        ['server', ([name]) => name],
        [
          'streams',
          ([, { session: s }]) => (s.open.failed ? `${s.open.opened}/${s.requested}` : String(s.open.opened)),
        ],
        ...phaseColumns<Row>(([, r]) => r.fanout!),
        ['KB/sub', ([, r]) => kb(r.session.rssPerSubscriberBytes)],
        ['db conns', ([, r]) => String(r.session.databaseConnections)],
        ['db CPU', ([, r]) => pct(r.fanout!.databaseCpuPercent)],
        ['load CPU', ([, r]) => pct(r.fanout!.loadCpuPercent)],
      ],
      rows,
    ),
    ...stopped.map(
      ([name, r]) =>
        `  ${name} stopped at ${r.session.open.opened} streams: ${firstLine(r.session.open.firstFailure)}`,
    ),
  ]
}

function ceilingSection({ options, fanout }: BenchResults): string[] {
  const rows = Object.entries(fanout)
    .filter(([, r]) => r.ceiling)
    .map(([name, r]) => {
      const { steps, passedRate, failedRate, deliveriesPerSecond } = r.ceiling!
      return {
        name,
        deliveriesPerSecond,
        best: steps.findLast((step) => step.rate === passedRate),
        failed: steps.findLast((step) => step.rate === failedRate),
      }
    })
  if (rows.length === 0) return []
  return [
    `Ceiling: the message rate raised (${options.stepSeconds} s steps) until a step misses a delivery, ` +
      `p99 exceeds ${options.maxP99Ms} ms or the inserts fall behind`,
    table<(typeof rows)[number]>(
      [
        ['server', (r) => r.name],
        ['ceiling deliv/s', (r) => rate(r.deliveriesPerSecond)],
        ['at msg/s', (r) => (r.best ? String(r.best.rate) : '–')],
        ['p99 there', (r) => (r.best ? String(r.best.latencyMs.p99) : '–')],
        ['CPU there', (r) => (r.best ? pct(r.best.serverCpuPercent) : '–')],
        ['next step', (r) => (r.failed ? String(r.failed.rate) : 'none')],
        ['why it failed', (r) => (r.failed ? failure(r.failed, options.maxP99Ms) : 'every step passed')],
      ],
      rows,
    ),
  ]
}

function scalingSection({ options, scaling }: BenchResults): string[] {
  if (scaling.length === 0) return []
  type Row = (typeof scaling)[number]
  return [
    `Scaling: ${(options.rate / options.rooms).toFixed(1)} msg/s per room, ${options.stepSeconds} s per point, a fresh server each`,
    table<Row>(
      [
        ['server', (r) => r.target],
        ['subs', (r) => String(r.subscribers)],
        ['rooms', (r) => String(r.rooms)],
        ['msg/s', (r) => r.result.rate.toFixed(0)],
        ...phaseColumns<Row>((r) => r.result),
        ['KB/sub', (r) => kb(r.session.rssPerSubscriberBytes)],
        ['load CPU', (r) => pct(r.result.loadCpuPercent)],
      ],
      scaling,
    ),
  ]
}

function postingSection({ options, posting }: BenchResults): string[] {
  if (posting.length === 0) return []
  const rows = [...new Set(posting.map((run) => run.clients))].map((clients) => ({
    clients,
    http: posting.find((run) => run.clients === clients && run.via === 'http'),
    sql: posting.find((run) => run.clients === clients && run.via === 'sql'),
  }))
  type Row = (typeof rows)[number]
  const figure = (value: number | undefined) => (value === undefined ? '–' : value.toFixed(0))
  return [
    `Posting: k clients, each sending its next message when the last is answered, ${options.stepSeconds} s; ` +
      'POST /rooms/:id/messages to Parley, then the same INSERT straight into SQL with k connections',
    table<Row>(
      [
        ['clients', (r) => String(r.clients)],
        ['HTTP req/s', (r) => figure(r.http?.requestsPerSecond)],
        ['p50', (r) => figure(r.http?.latencyMs.p50)],
        ['p99', (r) => figure(r.http?.latencyMs.p99)],
        ['Parley CPU', (r) => pct(r.http?.serverCpuPercent)],
        ['CPU s/10k', (r) => r.http?.serverCpuSecondsPer10k?.toFixed(2) ?? '–'],
        ['db CPU', (r) => pct(r.http?.databaseCpuPercent)],
        ['SQL ins/s', (r) => figure(r.sql?.requestsPerSecond)],
        ['p50', (r) => figure(r.sql?.latencyMs.p50)],
        ['p99', (r) => figure(r.sql?.latencyMs.p99)],
        ['db CPU', (r) => pct(r.sql?.databaseCpuPercent)],
        [
          'HTTP/SQL',
          (r) => (r.http && r.sql ? pct((100 * r.http.requestsPerSecond) / r.sql.requestsPerSecond) : '–'),
        ],
      ],
      rows,
    ),
    ...posting
      .filter((r) => r.failed > 0)
      .map((r) => `  ${r.via} with ${r.clients} clients: ${r.failed} failed, first: ${r.firstError}`),
  ]
}

function ratioSection({ ratios }: BenchResults): string[] {
  if (ratios.length === 0) return []
  const cell = ({ parley, baseline, ratio }: Comparison, unit: (value: number) => string) =>
    parley === undefined || baseline === undefined
      ? '–'
      : `${times(ratio)} (${unit(parley)} vs ${unit(baseline)})`
  return [
    'Parley ÷ baseline: a higher ceiling is better for Parley, a lower p99 and RSS per subscriber too',
    table<(typeof ratios)[number]>(
      [
        ['baseline', (r) => r.baseline],
        ['ceiling deliveries/s', (r) => cell(r.ceiling, rate)],
        ['fan-out p99 ms', (r) => cell(r.p99, String)],
        ['RSS per subscriber KB', (r) => cell(r.rssPerSubscriber, kb)],
      ],
      ratios,
    ),
  ]
}

function goalSection({ goals }: BenchResults): string[] {
  if (goals.length === 0) return []
  const verdict = (met: boolean | undefined) => (met === undefined ? 'not measured' : met ? 'met' : 'NOT MET')
  return [
    'Targets',
    table<(typeof goals)[number]>(
      [
        ['target', (g) => g.goal],
        ['measured', (g) => g.measured],
        ['', (g) => verdict(g.met)],
      ],
      goals,
    ),
  ]
}

/** p50/p99 of each endpoint as the data grows, and the growth of p99 against the targets. */
function dataScaleSection({ dataScale }: BenchResults): string[] {
  if (!dataScale || dataScale.points.length === 0) return []
  const names = Object.keys(dataScale.points[0]!.endpoints)
  const lines = [
    'Data scale: p50/p99 in ms, one request after another, as the biggest room and the room count grow',
    ['rooms', 'messages', ...names].join('  |  '),
  ]
  for (const point of dataScale.points) {
    const cells = names.map((name) => `${point.endpoints[name]!.p50}/${point.endpoints[name]!.p99}`)
    lines.push([String(point.rooms), String(point.messages), ...cells].join('  |  '))
  }
  const last = dataScale.points.at(-1)!
  for (const name of names) {
    const growth = dataScale.growth[name] ?? 0
    const p99 = last.endpoints[name]!.p99
    const met = growth <= 1.5 && p99 <= 20 ? 'met' : 'not met'
    lines.push(
      `  ${name}: p99 ${p99} ms at the largest, ${growth.toFixed(2)}x the smallest (targets 20 ms, 1.5x: ${met})`,
    )
  }
  return lines
}

/** Search latency per query at the seeded size, and what the search index costs posting. */
function searchSection({ search }: BenchResults): string[] {
  if (!search) return []
  const { seed, posting, plan } = search
  const lines = [
    `Search: ${seed.messages} messages in ${seed.rooms} private rooms (seeded in ${seed.seconds.total.toFixed(0)} s, index ${(seed.indexBytes / 2 ** 20).toFixed(0)} MB), a reader of ${search.readerRooms} of them, ${search.samples} requests each`,
  ]
  for (const [name, query] of Object.entries(search.queries)) {
    lines.push(
      `  ${name.padEnd(16)} ${query.q} (${query.sort}): p50 ${query.p50} ms, p99 ${query.p99} ms, ${query.results} results`,
    )
  }
  lines.push(
    `  plan of the common word: ${plan.usesSearchIndex ? 'uses' : 'does not use'} messages_search_idx, JIT ${plan.jit ? 'on' : 'off'}, ${plan.ms.toFixed(1)} ms`,
    `  posting, ${posting.clients} SQL clients: ${posting.withSearch.toFixed(0)}/s with the search column and index, ${posting.withoutSearch.toFixed(0)}/s without (cost ${(posting.cost * 100).toFixed(1)}%, target 20%: ${posting.cost <= 0.2 ? 'met' : 'not met'})`,
  )
  return lines
}

/** Failover under load, against its targets. */
function failoverSection({ failover }: BenchResults): string[] {
  if (!failover) return []
  const met = (ok: boolean) => (ok ? 'met' : 'not met')
  const delivering = failover.recovered === failover.streams && failover.recoveredMs <= 5000
  const exact = failover.lostAcknowledged === 0 && failover.missing === 0 && failover.duplicated === 0
  return [
    `Failover: ${failover.streams} streams over ${failover.rooms} rooms on ${failover.instances} instances, writers over HTTP and SQL; the primary killed, a synchronous standby promoted ${failover.promotionMs} ms later`,
    `  delivering again   ${failover.recovered}/${failover.streams} streams ${failover.recoveredMs} ms after the promotion, p50 ${failover.recoveredP50Ms} ms, ${failover.reconnects} reconnects (target 5000 ms: ${met(delivering)})`,
    `  lost/missing/dup   ${failover.lostAcknowledged}/${failover.missing}/${failover.duplicated} (target 0: ${met(exact)}); reloads ${failover.reloads}`,
    `  writes answered    HTTP ${failover.writes.http}, SQL ${failover.writes.sql}; HTTP failed ${failover.writes.failed}; failed to open ${failover.failedToOpen}`,
  ]
}

export const STORM_WAY_NAMES: Record<StormWay, string> = {
  header: 'EventSource (Authorization, Last-Event-ID)',
  library: 'client library (Authorization, ?last_event_id)',
  tickets: 'EventSource with a ticket per connection',
  cold: 'EventSource, just after a server restart',
}

export const STORM_TARGET_MS: Record<StormWay, number> = {
  header: 2000,
  library: 2500,
  tickets: 2500,
  cold: 3000,
}

/** The reconnect storm and the crowd, each against its target. */
function crowdsSection({ storms, crowd }: BenchResults): string[] {
  const lines: string[] = []
  const first = storms?.[0]
  if (storms && first) {
    const met = (ok: boolean) => (ok ? 'met' : 'not met')
    lines.push(
      `Reconnect storm: ${first.streams} streams of distinct users over ${first.rooms} rooms opened at once, each ${first.behind} messages behind`,
    )
    for (const storm of storms) {
      const targetMs = STORM_TARGET_MS[storm.way]
      lines.push(
        `  ${STORM_WAY_NAMES[storm.way].padEnd(44)} ${storm.caughtUp}/${storm.streams} in ${storm.caughtUpMs} ms (target ${targetMs}: ${met(storm.caughtUp === storm.streams && storm.caughtUpMs <= targetMs)}),` +
          ` ${storm.transactionsPerStream.toFixed(3)} db transactions per stream (target 0.1: ${met(storm.transactionsPerStream <= 0.1)}),` +
          ` ${storm.serverCpuMsPerStream?.toFixed(2) ?? '?'} ms server CPU per stream,` +
          ` missing/duplicated ${storm.missing}/${storm.duplicated}, failed to open ${storm.failedToOpen}`,
      )
    }
  }
  if (crowd) {
    const met = (ok: boolean) => (ok ? 'met' : 'not met')
    if (lines.length > 0) lines.push('')
    lines.push(
      `Crowd: ${crowd.people} people opening one room's stream at once, then leaving`,
      `  presence per stream  ${crowd.framesPerStream.toFixed(1)} frames (target 20: ${met(crowd.framesPerStream <= 20)}), ${(crowd.bytesPerStream / 1024).toFixed(1)} KB (target 100: ${met(crowd.bytesPerStream <= 100 * 1024)})`,
      `  observer, in and out ${crowd.observerFrames} frames, ${(crowd.observerBytes / 1024).toFixed(1)} KB`,
      `  settled              in ${crowd.arrivedMs} ms, out ${crowd.leftMs} ms; failed to open ${crowd.failedToOpen}`,
    )
  }
  return lines
}

export function formatReport(results: BenchResults): string {
  const { machine, options } = results
  const sections = [
    fanoutSection,
    ceilingSection,
    scalingSection,
    postingSection,
    crowdsSection,
    dataScaleSection,
    searchSection,
    failoverSection,
    shardsSection,
    ratioSection,
    goalSection,
  ]
    .map((section) => section(results))
    .filter((lines) => lines.length > 0)
  const notes = [
    'Latency in ms from the insert to a subscriber receiving it' +
      (options.durable ? '' : ' (inserts with synchronous_commit=off: no disk flush)') +
      '; "commit p99": the insert alone. CPU in percent of one core; RSS of the server process;' +
      " KB/sub: idle RSS growth per open stream; db xact/s: transactions of the server's connections" +
      ' (its queries, and LISTEN backends reading notifications);' +
      ' load: this process.',
    'Servers:',
    ...Object.entries(results.targets).map(([name, text]) => `  ${name}: ${text}`),
    ...(results.skipped.length > 0 ? [`Skipped (time budget): ${results.skipped.join('; ')}`] : []),
    ...results.errors.map((e) => `ERROR in ${e.scenario}${e.target ? ` (${e.target})` : ''}: ${e.message}`),
  ]
  const title = [
    `Parley fan-out benchmark — ${machine.cores} cores (${machine.cpuModel}), Node ${machine.node}, ` +
      `${machine.postgres} (${machine.database}), ${results.durationSeconds.toFixed(0)} s`,
    `Parley ${formatRevision(machine.revision)}; ${Object.entries(machine.packages)
      .map(([name, version]) => `${name} ${version}`)
      .join(', ')}`,
  ]
  return `${[title, ...sections, notes].map((lines) => lines.join('\n')).join('\n\n')}\n`
}

function failure(step: PhaseResult, maxP99Ms: number): string {
  const reasons: string[] = []
  if (step.missing > 0) reasons.push(`${step.missing} missing`)
  if (step.duplicates > 0) reasons.push(`${step.duplicates} duplicates`)
  if (step.disconnects > 0) reasons.push(`${step.disconnects} streams dropped`)
  if (step.latencyMs.p99 > maxP99Ms) reasons.push(`p99 ${step.latencyMs.p99} ms`)
  if (step.insert.failed > 0) reasons.push(`${step.insert.failed} inserts failed`)
  if (step.insert.achievedRate < 0.95 * step.rate)
    reasons.push(`inserts ${step.insert.achievedRate.toFixed(0)}/s`)
  return reasons.join(', ')
}

/** Two decimals, or two significant digits below 0.1 so that 1/400 does not read as 0. */
const times = (ratio: number | undefined) =>
  ratio === undefined ? '–' : `${ratio < 0.1 ? ratio.toPrecision(2) : ratio.toFixed(2)}×`

const firstLine = (text: string | undefined) => text?.split('\n')[0] ?? ''

/** ', writes 70% new messages, 20% reactions, 10% edits' when the writes are not all new messages. */
function mixNote({ mix }: BenchOptions): string {
  if (mix.messages === 100) return ''
  return `; writes ${mix.messages}% new messages, ${mix.reactions}% reactions, ${mix.edits}% edits`
}
