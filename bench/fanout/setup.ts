import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { join } from 'node:path'
import postgres from 'postgres'
import { signHs256Token } from '../../src/auth/sign.js'
import { createBenchDatabase } from '../lib/bench-database.js'
import { describeRevision } from '../lib/git-revision.js'
import { openFileLimit } from '../lib/process-memory.js'
import { REPO_ROOT } from '../lib/server-process.js'
import type { Teardown } from '../lib/teardown.js'
import { buildServers } from './build.js'
import { createInserter } from './inserter.js'
import type { BenchOptions } from './options.js'
import { postgresCpuMeter } from './proc-stats.js'
import type { BenchResults, Machine } from './report.js'
import type { BenchContext } from './session.js'

/** The load generator's pool: inserts, warm-ups and bookkeeping. */
const LOAD_CONNECTIONS = 16

export interface Setup {
  context: BenchContext
  /** Rooms created for the run, enough for every scenario; each takes the first R. */
  roomIds: number[]
  machine: Machine
  skipped: string[]
  errors: BenchResults['errors']
}

/**
 * Everything the scenarios share: the compiled servers, a fresh migrated database with the
 * rooms, the load generator's SQL pool, a token, and the run's time budget and error list.
 * What it starts is registered with `teardown`.
 */
export async function setUp(
  options: BenchOptions,
  teardown: Teardown,
  stop: { requested: boolean },
  log: (line: string) => void,
): Promise<Setup> {
  const outcome = trackOutcome(options, stop, log)
  const scalingStreams = options.scenarios.includes('scaling') ? options.scalingSubscribers : []
  const has = (scenario: BenchOptions['scenarios'][number]) => options.scenarios.includes(scenario)
  const maxStreams = Math.max(
    options.subscribers,
    ...scalingStreams,
    has('storm') ? options.stormStreams + options.stormRooms : 0,
    has('crowd') ? options.crowd + 1 : 0,
    has('failover') ? options.failoverStreams : 0,
  )
  const fileLimit = openFileLimit()
  if (fileLimit !== undefined && maxStreams + 500 > fileLimit) {
    throw new Error(`${maxStreams} streams need more open files than this process's limit of ${fileLimit}`)
  }

  log('bench: building Parley and the baselines')
  const build = await buildServers(join(REPO_ROOT, 'bench', 'results', '.build'))
  const { database, sql, roomIds } = await openDatabase(options, teardown)

  const jwtSecret = randomBytes(32).toString('hex')
  const context: BenchContext = {
    launch: {
      build,
      databaseUrl: database.url,
      jwtSecret,
      maxStreams,
      profileDir: options.profile ? join(REPO_ROOT, 'bench', 'results', 'profiles') : undefined,
    },
    token: await signHs256Token({ sub: 'bench', name: 'Bench' }, '24h', jwtSecret),
    sql,
    inserter: createInserter(sql, options.bodyBytes, options.mix),
    databaseCpu: await postgresCpuMeter(sql),
    log,
    live: new Set(),
    fail: outcome.fail,
    hasTime: outcome.hasTime,
  }
  teardown.add('stop the servers under test', async () => {
    await Promise.all([...context.live].map((stopServer) => stopServer()))
  })
  const machine = await describeMachine(sql, database.server, fileLimit)
  log(
    `bench: ${machine.cores} cores, Node ${machine.node}, ${machine.postgres} (${database.server}); ` +
      `${roomIds.length} rooms created`,
  )
  return { context, roomIds, machine, skipped: outcome.skipped, errors: outcome.errors }
}

/** A fresh migrated database with every room the run needs, and the load generator's pool. */
async function openDatabase(options: BenchOptions, teardown: Teardown) {
  const database = await createBenchDatabase('parley_bench')
  teardown.add('drop the database', database.dispose)
  const sql = postgres(database.url, {
    max: LOAD_CONNECTIONS,
    onnotice: () => {},
    max_lifetime: null,
    connection: {
      application_name: 'bench-load',
      // Commits (and so notifies) without waiting for the WAL flush, unless --durable.
      synchronous_commit: options.durable ? 'on' : 'off',
    },
  })
  teardown.add('close the SQL client', () => sql.end({ timeout: 5 }))
  // Connected up front: listen-per-subscriber may take every connection the server has left.
  await Promise.all(Array.from({ length: LOAD_CONNECTIONS }, () => sql`select pg_sleep(0.05)`))
  const scalingRooms = options.scenarios.includes('scaling') ? options.scalingRooms : []
  const roomCount = Math.max(options.rooms, options.stormRooms, ...scalingRooms)
  const roomIds = (
    await sql<{ id: string }[]>`
      insert into rooms (name, created_by)
      select 'bench-' || g, 'bench' from generate_series(1, ${roomCount}::int) g
      returning id`
  ).map((row) => Number(row.id))

  return { database, sql, roomIds }
}

/** The run's time budget and its record of what was skipped and what failed. */
function trackOutcome(options: BenchOptions, stop: { requested: boolean }, log: (line: string) => void) {
  const deadline = performance.now() + options.budgetSeconds * 1000
  const skipped: string[] = []
  const errors: BenchResults['errors'] = []
  return {
    skipped,
    errors,
    fail(scenario: string, target: string | undefined, error: unknown): void {
      if (stop.requested) return
      const message = error instanceof Error ? error.message : String(error)
      log(`bench: ${scenario}${target ? ` on ${target}` : ''} failed: ${message}`)
      errors.push({ scenario, target, message })
    },
    hasTime(seconds: number, what: string): boolean {
      if (stop.requested) return false
      const fits = performance.now() + seconds * 1000 <= deadline
      if (!fits) {
        log(`bench: out of time budget, skipping ${what}`)
        skipped.push(what)
      }
      return fits
    },
  }
}

async function describeMachine(
  sql: postgres.Sql,
  database: Machine['database'],
  openFiles: number | undefined,
): Promise<Machine> {
  const [row] = await sql<{ server_version: string }[]>`show server_version`
  return {
    cores: cpus().length,
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    memoryBytes: totalmem(),
    node: process.version,
    postgres: `PostgreSQL ${row?.server_version ?? 'unknown'}`,
    database,
    openFileLimit: openFiles,
    revision: describeRevision(REPO_ROOT),
    packages: Object.fromEntries(MEASURED_PACKAGES.map((name) => [name, installedVersion(name)])),
  }
}

/** The libraries on Parley's delivery path, whose versions a figure depends on. */
const MEASURED_PACKAGES = ['hono', '@hono/node-server', 'postgres', 'drizzle-orm', 'jose']

function installedVersion(name: string): string {
  try {
    const manifest = readFileSync(join(REPO_ROOT, 'node_modules', name, 'package.json'), 'utf8')
    return String((JSON.parse(manifest) as { version?: unknown }).version ?? 'unknown')
  } catch {
    return 'not installed'
  }
}
