import { mkdir, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { formatRevision, type Revision } from '../lib/git-revision.js'
import type { ServerProcess } from '../lib/server-process.js'
import type { Fleet, ReconnectCause } from './clients.js'
import type { SoakOptions } from './options.js'
import type { ProducerStats } from './producers.js'
import type { StoredCheck } from './rooms.js'
import type { DeliveryVerdict } from './verify.js'

interface LatencySummary {
  count: number
  p50: number
  p90: number
  p99: number
  max: number
}

/** Everything a soak run measured; written as JSON and printed as a table. */
export interface SoakResult {
  ok: boolean
  finishedAt: string
  revision: Revision | undefined
  options: SoakOptions
  database: 'embedded' | 'DATABASE_URL'
  producedForSeconds: number
  produced: { http: number; sql: number; failedHttp: number; failedSql: number; behind: number }
  /** Rows in the messages table and whether every room's seqs are exactly 1 … last_seq. */
  stored: { rows: number; gapless: boolean; acknowledgedSeqsDistinct: boolean }
  deliveries: DeliveryVerdict & { wrongRoom: number; idMismatch: number; malformed: number }
  faults: {
    listenerKills: number
    listenerReconnectsSeenByServer: number
    stalls: number
    slowStreamsDroppedByServer: number
    churned: number
  }
  reconnects: Record<ReconnectCause, number>
  latencyMs: { live: LatencySummary; all: LatencySummary; ackHttp: LatencySummary; ackSql: LatencySummary }
  /** Named events other than `message` (presence, typing, …), by name. */
  otherEvents: Record<string, number>
  /** How late the soak's own event loop ran timers while producing: high values inflate every latency above. */
  soakLoopDelayMs: { p50: number; p99: number; max: number }
  drain: { seconds: number; clientsBehind: number }
  server: {
    /** The server process ended before the soak stopped it. */
    exitedEarly: boolean
    peakRssBytes: number
    streamsLeftOpen: number
    warnings: Record<string, number>
    stderr: string
  }
  errors: Record<string, number>
}

/** What the run's parts observed, before it is summarised. */
export interface SoakOutcome {
  options: SoakOptions
  database: SoakResult['database']
  revision: Revision | undefined
  producedForSeconds: number
  producers: ProducerStats
  stored: StoredCheck
  verdict: DeliveryVerdict
  fleet: Pick<Fleet, 'counters' | 'latency'>
  listenerKills: number
  soakLoopDelayMs: SoakResult['soakLoopDelayMs']
  /** The server's Prometheus figures after every client had gone. */
  metrics: ReadonlyMap<string, number>
  drain: SoakResult['drain']
  peakRssBytes: number
  server: Pick<ServerProcess, 'warnings' | 'exited' | 'stderrTail'>
}

/** The result, and whether it passes: nothing lost, duplicated, out of order or misrouted, and gapless seqs. */
export function summarize(outcome: SoakOutcome): SoakResult {
  const { verdict, stored, producers, metrics } = outcome
  const { counters, latency } = outcome.fleet
  const deliveries = {
    ...verdict,
    wrongRoom: counters.wrongRoom,
    idMismatch: counters.idMismatch,
    malformed: counters.malformed,
  }
  const ok =
    verdict.lost + verdict.duplicated + verdict.outOfOrder + verdict.outOfRange === 0 &&
    deliveries.wrongRoom + deliveries.idMismatch === 0 &&
    stored.gapless &&
    stored.acknowledgedSeqsDistinct &&
    !outcome.server.exited()
  return {
    ok,
    finishedAt: new Date().toISOString(),
    revision: outcome.revision,
    options: outcome.options,
    database: outcome.database,
    producedForSeconds: outcome.producedForSeconds,
    produced: {
      ...producers.produced,
      failedHttp: producers.failed.http,
      failedSql: producers.failed.sql,
      behind: producers.behind,
    },
    stored,
    deliveries,
    faults: {
      listenerKills: outcome.listenerKills,
      listenerReconnectsSeenByServer: metrics.get('parley_listener_reconnects_total') ?? -1,
      stalls: counters.stalls,
      slowStreamsDroppedByServer: metrics.get('parley_slow_subscribers_dropped_total') ?? -1,
      churned: counters.reconnects.churn,
    },
    reconnects: { ...counters.reconnects },
    latencyMs: {
      live: latency.live.summary(),
      all: latency.all.summary(),
      ackHttp: producers.ackLatency.http.summary(),
      ackSql: producers.ackLatency.sql.summary(),
    },
    otherEvents: Object.fromEntries(counters.otherEvents),
    soakLoopDelayMs: outcome.soakLoopDelayMs,
    drain: outcome.drain,
    server: {
      exitedEarly: outcome.server.exited(),
      peakRssBytes: outcome.peakRssBytes,
      streamsLeftOpen: metrics.get('parley_open_streams') ?? -1,
      warnings: Object.fromEntries(outcome.server.warnings),
      stderr: outcome.server.stderrTail(),
    },
    errors: Object.fromEntries([...counters.errors, ...counters.refusals, ...producers.errors]),
  }
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`
const latency = (l: LatencySummary) =>
  `p50 ${l.p50} ms, p99 ${l.p99} ms, max ${l.max} ms (${l.count} samples)`

/** The short human summary: the table, then the notes that explain a failure. */
export function formatSummary(r: SoakResult): string {
  const rows = summaryRows(r)
  const width = Math.max(...rows.map(([label]) => label.length))
  const lines = rows.map(([label, value]) => `  ${label.padEnd(width)}  ${value}`)
  for (const example of r.deliveries.examples) lines.push(`  ! ${example}`)
  if (r.server.exitedEarly) lines.push('  ! the server process exited during the run')
  for (const [message, n] of Object.entries(r.server.warnings))
    lines.push(`  server warned ${n}×: ${message}`)
  for (const [message, n] of Object.entries(r.errors)) lines.push(`  error ${n}×: ${message}`)
  if (r.server.stderr.trim()) lines.push(`  server stderr:\n${r.server.stderr.replace(/^/gm, '    ')}`)
  return `Parley soak\n${lines.join('\n')}\n`
}

function summaryRows(r: SoakResult): [string, string][] {
  const o = r.options
  const d = r.deliveries
  const rc = r.reconnects
  return [
    ['duration', `${r.producedForSeconds.toFixed(1)} s producing + ${r.drain.seconds.toFixed(1)} s drain`],
    ['clients / rooms', `${o.clients} / ${o.rooms} (${r.database} PostgreSQL)`],
    ['code', formatRevision(r.revision)],
    [
      'messages produced',
      `${r.produced.http + r.produced.sql} (HTTP ${r.produced.http}, SQL ${r.produced.sql}; ` +
        `failed ${r.produced.failedHttp + r.produced.failedSql}, behind ${r.produced.behind})`,
    ],
    ['messages stored', `${r.stored.rows}, seqs gapless: ${r.stored.gapless ? 'yes' : 'NO'}`],
    ['deliveries expected', String(d.expected)],
    ['deliveries delivered', String(d.delivered)],
    ['lost', `${d.lost}${d.lost ? ` (${d.clientsWithLoss} clients)` : ''}`],
    ['duplicated', `${d.duplicated}${d.duplicated ? ` (${d.clientsWithDuplicates} clients)` : ''}`],
    ['out of order', String(d.outOfOrder)],
    [
      'other anomalies',
      `out of range ${d.outOfRange}, wrong room ${d.wrongRoom}, id≠seq ${d.idMismatch}, malformed ${d.malformed}`,
    ],
    [
      'faults injected',
      `listener kills ${r.faults.listenerKills} (server reconnected ${r.faults.listenerReconnectsSeenByServer}), ` +
        `stalls ${r.faults.stalls} (server dropped ${r.faults.slowStreamsDroppedByServer}), churned ${r.faults.churned}`,
    ],
    [
      'reconnects by cause',
      `listener kill 0 (streams stay open), stall dropped ${rc.stall_dropped}, churn ${rc.churn}, ` +
        `aborted while connecting ${rc.aborted}, server ended ${rc.server_ended}, error ${rc.error}, ` +
        `refused ${rc.refused}`,
    ],
    [
      'produce ack latency',
      `HTTP p50 ${r.latencyMs.ackHttp.p50} ms, p99 ${r.latencyMs.ackHttp.p99} ms; SQL p50 ${r.latencyMs.ackSql.p50} ms, p99 ${r.latencyMs.ackSql.p99} ms`,
    ],
    ['latency, live', latency(r.latencyMs.live)],
    ['latency, all receipts', `${latency(r.latencyMs.all)}; incl. replays and stalls`],
    [
      'soak event loop delay',
      `p50 ${r.soakLoopDelayMs.p50.toFixed(0)} ms, p99 ${r.soakLoopDelayMs.p99.toFixed(0)} ms, ` +
        `max ${r.soakLoopDelayMs.max.toFixed(0)} ms (the measuring side's own lag)`,
    ],
    ['server peak RSS', mb(r.server.peakRssBytes)],
    [
      'server streams left open',
      r.server.streamsLeftOpen <= 0
        ? String(r.server.streamsLeftOpen === 0 ? 0 : 'unknown')
        : `${r.server.streamsLeftOpen} after every client had gone: leaked by the server`,
    ],
    ['result', r.ok ? 'PASS: nothing lost, duplicated or out of order' : 'FAIL'],
  ]
}

export async function writeResult(path: string, result: SoakResult): Promise<void> {
  await mkdir(dirname(path), { recursive: true })
  await writeFile(path, `${JSON.stringify(result, null, 2)}\n`)
}
