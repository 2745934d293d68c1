import { setTimeout as sleep } from 'node:timers/promises'
import type postgres from 'postgres'
import { monitorRss } from '../lib/process-memory.js'
import type { Inserter, InsertReport } from './inserter.js'
import { cpuPercent, cpuSeconds } from './proc-stats.js'
import type { Fleet } from './subscribers.js'

export interface PhaseResult {
  /** Messages per second asked for. */
  rate: number
  seconds: number
  subscribers: number
  rooms: number
  insert: InsertReport
  /** Deliveries owed: each committed message times its room's subscribers. */
  expected: number
  delivered: number
  /** Deliveries not received by the end of the drain: late or never sent. */
  missing: number
  duplicates: number
  /** Deliveries per second while messages were being inserted (delivered / seconds). */
  deliveryRate: number
  latencyMs: { count: number; p50: number; p90: number; p99: number; max: number }
  /** Percent of one core, from phase start to the end of the drain. */
  serverCpuPercent: number | undefined
  serverPeakRssBytes: number
  databaseCpuPercent: number | undefined
  /**
   * Transactions per second the database ran beyond the inserts: the server's queries, each
   * its own transaction, and one per notification batch read by each LISTEN connection.
   * From pg_stat_database, which lags by about a second.
   */
  serverTransactionsPerSecond: number
  loadCpuPercent: number
  /** Streams that ended during the phase without the load generator closing them. */
  disconnects: number
  drainMs: number
}

export interface PhaseContext {
  fleet: Fleet
  inserter: Inserter
  serverPid: number
  databaseCpu: (() => number | undefined) | undefined
  /** The load generator's pool, for the database's own counters. */
  sql: postgres.Sql
}

/**
 * Inserts `rate` messages per second for `seconds`, then waits (at most `drainSeconds`) until
 * every subscriber has every message, and reports what arrived, how fast, and what it cost.
 */
export async function runPhase(
  context: PhaseContext,
  options: { roomIds: number[]; rate: number; seconds: number; drainSeconds: number },
): Promise<PhaseResult> {
  const { fleet, serverPid } = context
  const rss = monitorRss(serverPid, 250)
  const disconnectsBefore = fleet.disconnects()
  const transactionsBefore = await transactions(context.sql)
  const phase = fleet.startPhase()
  const cpuBefore = {
    server: cpuSeconds(serverPid),
    database: context.databaseCpu?.(),
    load: process.cpuUsage(),
  }

  let expected = 0
  const insert = await context.inserter.run({
    roomIds: options.roomIds,
    rate: options.rate,
    seconds: options.seconds,
    onInserted: (roomId) => (expected += fleet.subscribersIn(roomId)),
  })
  const drainStarted = performance.now()
  const drainDeadline = drainStarted + options.drainSeconds * 1000
  while (phase.delivered < expected && performance.now() < drainDeadline) await sleep(10)
  const drainMs = performance.now() - drainStarted

  const windowSeconds = (performance.now() - phase.start) / 1000
  const serverTransactions =
    (await transactions(context.sql)) - transactionsBefore - insert.inserted - insert.failed
  const load = process.cpuUsage(cpuBefore.load)
  rss.stop()
  return {
    rate: options.rate,
    seconds: options.seconds,
    subscribers: fleet.size(),
    rooms: options.roomIds.length,
    insert,
    expected,
    delivered: phase.delivered,
    missing: Math.max(0, expected - phase.delivered),
    duplicates: phase.duplicates,
    deliveryRate: phase.delivered / options.seconds,
    latencyMs: phase.latency.summary(),
    serverCpuPercent: cpuPercent(cpuBefore.server, cpuSeconds(serverPid), windowSeconds),
    serverPeakRssBytes: rss.peak(),
    databaseCpuPercent: cpuPercent(cpuBefore.database, context.databaseCpu?.(), windowSeconds),
    // Less this query's own transaction and the one before it.
    serverTransactionsPerSecond: Math.max(0, serverTransactions - 2) / windowSeconds,
    loadCpuPercent: ((load.user + load.system) / 1e6 / windowSeconds) * 100,
    disconnects: fleet.disconnects() - disconnectsBefore,
    drainMs,
  }
}

async function transactions(sql: postgres.Sql): Promise<number> {
  const [row] = await sql<{ count: string }[]>`
    select xact_commit + xact_rollback as count from pg_stat_database where datname = current_database()`
  return Number(row?.count ?? 0)
}

/** Whether a phase kept up: nothing missing or repeated, the inserter reached its rate, p99 in bounds. */
export function phasePassed(result: PhaseResult, maxP99Ms: number): boolean {
  return (
    result.missing === 0 &&
    result.duplicates === 0 &&
    result.insert.failed === 0 &&
    result.insert.achievedRate >= 0.95 * result.rate &&
    result.latencyMs.p99 <= maxP99Ms
  )
}
