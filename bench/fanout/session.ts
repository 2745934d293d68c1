import { setTimeout as sleep } from 'node:timers/promises'
import type postgres from 'postgres'
import { readRssBytes } from '../lib/process-memory.js'
import type { Inserter } from './inserter.js'
import type { PhaseContext } from './phase.js'
import { createFleet, type OpenReport } from './subscribers.js'
import { type LaunchContext, type TargetName, targetLaunch } from './targets.js'
import { startTargetProcess, type TargetProcess } from './target-process.js'

/** What every scenario needs: the database, the load generator's pieces and how to start servers. */
export interface BenchContext {
  launch: LaunchContext
  token: string
  /** The load generator's pool (application_name bench-load). */
  sql: postgres.Sql
  inserter: Inserter
  databaseCpu: (() => number | undefined) | undefined
  log: (line: string) => void
  /** Stops whatever is running now; called on Ctrl-C. */
  live: Set<() => Promise<void>>
  /** Records a scenario that failed, so the run goes on and reports it. */
  fail(scenario: string, target: string | undefined, error: unknown): void
  /** Whether `seconds` more fit in the run's time budget; if not, `what` is recorded as skipped. */
  hasTime(seconds: number, what: string): boolean
}

/** A rough upper bound on opening `subscribers` streams, settling and warming up, in seconds. */
export const sessionSeconds = (subscribers: number) => 10 + subscribers / 500

export interface SessionFacts {
  target: TargetName
  requested: number
  open: OpenReport
  /** Server RSS before any stream, and with every stream open and idle. */
  rssBeforeBytes: number
  rssIdleBytes: number
  rssPerSubscriberBytes: number
  /** Connections the server holds to the database with every stream open. */
  databaseConnections: number
  /** Whether a first message in every room reached every subscriber, and how long it took. */
  warmup: { ok: boolean; ms: number }
}

export interface Session {
  facts: SessionFacts
  server: TargetProcess
  phase: PhaseContext
  close(): Promise<void>
}

const SETTLE_MS = 2_000
const WARMUP_TIMEOUT_MS = 20_000

/**
 * Starts server `name`, opens `subscribers` streams spread over `roomIds` (subscriber i in
 * room i mod R), measures its idle memory, and proves every stream live with one message
 * per room before any measurement starts.
 */
export async function openSession(
  context: BenchContext,
  name: TargetName,
  subscribers: number,
  roomIds: number[],
): Promise<Session> {
  const server = await startTargetProcess(targetLaunch(name, context.launch))
  const fleet = createFleet(server.url, context.token)
  let closed: Promise<void> | undefined
  const close = () => {
    closed ??= (async () => {
      context.live.delete(close)
      fleet.closeAll()
      await server.stop()
    })()
    return closed
  }
  context.live.add(close)
  try {
    await sleep(SETTLE_MS / 2)
    const rssBeforeBytes = readRssBytes(server.pid) ?? 0
    const streamRooms = Array.from({ length: subscribers }, (_, i) => roomIds[i % roomIds.length]!)
    const started = performance.now()
    const open = await fleet.openAll(streamRooms)
    context.log(
      `  ${name}: ${open.opened}/${subscribers} streams open in ${((performance.now() - started) / 1000).toFixed(1)} s` +
        (open.firstFailure ? `; first failure: ${open.firstFailure.split('\n')[0]}` : ''),
    )
    await sleep(SETTLE_MS)
    const rssIdleBytes = readRssBytes(server.pid) ?? 0
    const databaseConnections = await serverConnections(context.sql)
    const warmup = await warmUp(context, fleet, roomIds)
    if (!warmup.ok) context.log(`  ${name}: warm-up incomplete after ${WARMUP_TIMEOUT_MS} ms`)
    return {
      facts: {
        target: name,
        requested: subscribers,
        open,
        rssBeforeBytes,
        rssIdleBytes,
        rssPerSubscriberBytes: open.opened > 0 ? (rssIdleBytes - rssBeforeBytes) / open.opened : 0,
        databaseConnections,
        warmup,
      },
      server,
      phase: {
        fleet,
        inserter: context.inserter,
        serverPid: server.pid,
        databaseCpu: context.databaseCpu,
        sql: context.sql,
      },
      close,
    }
  } catch (error) {
    await close()
    throw error
  }
}

async function warmUp(context: BenchContext, fleet: ReturnType<typeof createFleet>, roomIds: number[]) {
  const started = performance.now()
  const phase = fleet.startPhase()
  const committed = await context.inserter.onePerRoom(roomIds)
  const expected = committed.reduce((sum, roomId) => sum + fleet.subscribersIn(roomId), 0)
  const deadline = started + WARMUP_TIMEOUT_MS
  while (phase.delivered < expected && performance.now() < deadline) await sleep(10)
  return {
    ok: phase.delivered >= expected && committed.length === roomIds.length,
    ms: performance.now() - started,
  }
}

/** Connections to the bench database other than the load generator's own. */
async function serverConnections(sql: postgres.Sql): Promise<number> {
  const [row] = await sql<{ count: string }[]>`
    select count(*) from pg_stat_activity
    where datname = current_database() and application_name not like 'bench-load%'`
  return Number(row?.count ?? 0)
}
