/**
 * The soak: thousands of SSE clients on a real Parley server process while messages arrive
 * over HTTP and SQL and faults are injected (LISTEN connection killed, clients that stop
 * reading, clients that come and go). At the end every client must hold exactly its room's
 * messages since it first connected: none lost, none twice, in order. `npm run soak -- --help`.
 */
import { randomBytes } from 'node:crypto'
import { resolve } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import postgres from 'postgres'
import { signHs256Token } from '../src/auth/sign.js'
import { type BenchDatabase, createBenchDatabase } from './lib/bench-database.js'
import { describeRevision } from './lib/git-revision.js'
import { monitorRss, openFileLimit, type RssMonitor } from './lib/process-memory.js'
import { REPO_ROOT, type ServerProcess, startServerProcess } from './lib/server-process.js'
import { scrapeMetrics } from './lib/server-metrics.js'
import { createTeardown, type Teardown } from './lib/teardown.js'
import { createFleet, type Fleet } from './soak/clients.js'
import { startFaults } from './soak/faults.js'
import { parseSoakOptions, type SoakOptions } from './soak/options.js'
import { createProducers, type ProducerStats } from './soak/producers.js'
import { formatSummary, summarize, writeResult } from './soak/report.js'
import { checkStoredMessages, createRooms, roomLastSeqs } from './soak/rooms.js'
import { verifyDeliveries } from './soak/verify.js'

const log = (line: string) => console.error(line)
const READER_USERS = 100
const OPEN_BATCH = 100

interface Environment {
  database: BenchDatabase
  /** The soak's own client: direct inserts, listener kills, checks. */
  sql: postgres.Sql
  server: ServerProcess
  rss: RssMonitor
  /** The server's JWT_SECRET, to sign tokens with. */
  secret: string
}

async function soak(options: SoakOptions, teardown: Teardown): Promise<number> {
  const limit = openFileLimit()
  if (limit !== undefined && options.clients + 500 > limit) {
    throw new Error(`${options.clients} clients need more open files than the limit of ${limit}`)
  }
  log(`soak: ${options.seconds} s, ${options.clients} clients, ${options.rooms} rooms, ${options.rate} msg/s`)
  const env = await startEnvironment(options, teardown)
  const ttl = `${Math.ceil(options.seconds + options.drainSeconds + 3600)}s`
  const writerToken = await signHs256Token({ sub: 'soak-writer', name: 'Soak Writer' }, ttl, env.secret)
  const roomIds = await createRooms(env.server.url, writerToken, options.rooms)
  const fleet = createFleet({
    baseUrl: env.server.url,
    reconnectDelayMs: [100, 500],
    abortShare: options.abortPercent / 100,
  })
  teardown.add('close the clients', fleet.closeAll)
  await openClients(fleet, env, roomIds, ttl, options.clients)

  const load = await produceUnderFaults(options, env, fleet, roomIds, writerToken, teardown)
  const finalSeqs = await roomLastSeqs(env.sql)
  const drain = await drainClients(fleet, finalSeqs, options.drainSeconds)
  fleet.closeAll()
  const result = summarize({
    options,
    database: env.database.server,
    revision: describeRevision(REPO_ROOT),
    producedForSeconds: load.seconds,
    producers: load.producers.stats,
    stored: await checkStoredMessages(env.sql, load.producers.produced),
    verdict: verifyDeliveries(fleet.clients, finalSeqs),
    fleet,
    listenerKills: load.listenerKills,
    soakLoopDelayMs: load.loopDelayMs,
    metrics: await serverMetricsAfterClose(env.server),
    drain,
    peakRssBytes: env.rss.peak(),
    server: env.server,
  })
  process.stdout.write(formatSummary(result))
  const out = resolve(REPO_ROOT, options.out)
  await writeResult(out, result)
  log(`soak: results written to ${out}`)
  return result.ok ? 0 : 1
}

/** The database, the soak's SQL client and the server process, each undone by `teardown`. */
async function startEnvironment(options: SoakOptions, teardown: Teardown): Promise<Environment> {
  const database = await createBenchDatabase('parley_soak')
  teardown.add('drop the database', database.dispose)
  const sql = postgres(database.url, {
    max: 8,
    onnotice: () => {},
    connection: { application_name: 'parley-soak' },
  })
  teardown.add('close the SQL client', () => sql.end({ timeout: 5 }))
  const secret = randomBytes(32).toString('hex')
  const server = await startServerProcess({ env: serverEnv(options, database.url, secret) })
  // Without clients and with its database up, it exits well within this; after a Ctrl-C it may not.
  teardown.add('stop the server', () => server.stop(5_000))
  const rss = monitorRss(server.pid)
  teardown.add('stop sampling RSS', rss.stop)
  log(`soak: server pid ${server.pid} on ${server.url}, ${database.server} PostgreSQL`)
  return { database, sql, server, rss, secret }
}

/** Produces at the given rate for the given time while faults are injected, then stops both. */
async function produceUnderFaults(
  options: SoakOptions,
  env: Environment,
  fleet: Fleet,
  roomIds: number[],
  token: string,
  teardown: Teardown,
) {
  const producers = createProducers({
    baseUrl: env.server.url,
    token,
    sql: env.sql,
    roomIds,
    ratePerSecond: options.rate,
    bodyBytes: options.bodyBytes,
  })
  // A busy soak process would inflate every latency it measures; this shows whether it was.
  const loopDelay = monitorEventLoopDelay({ resolution: 10 })
  loopDelay.enable()
  const started = performance.now()
  const faults = startFaults(options, fleet, env.sql)
  const progress = setInterval(() => logProgress(started, producers.stats, fleet, env.rss), 5_000)
  const stop = async (abandon: boolean) => {
    clearInterval(progress)
    await faults.stop()
    await producers.stop({ abandon })
  }
  // Interrupted, stop producing first, so the server's drain is not held up by new requests.
  teardown.add('stop producing', () => stop(true))
  producers.start()
  await sleep(options.seconds * 1_000)
  await stop(false)
  fleet.endFaults()
  loopDelay.disable()
  return {
    producers,
    listenerKills: faults.listenerKills(),
    seconds: (performance.now() - started) / 1000,
    // The histogram is in nanoseconds and counts the 10 ms sampling interval itself.
    loopDelayMs: {
      p50: Math.max(0, loopDelay.percentile(50) / 1e6 - 10),
      p99: Math.max(0, loopDelay.percentile(99) / 1e6 - 10),
      max: Math.max(0, loopDelay.max / 1e6 - 10),
    },
  }
}

function serverEnv(options: SoakOptions, databaseUrl: string, secret: string): Record<string, string> {
  return {
    NODE_ENV: 'production',
    DATABASE_URL: databaseUrl,
    JWT_SECRET: secret,
    PORT: '0',
    HOST: '127.0.0.1',
    // The port is only announced at info level; startServerProcess discards the rest.
    LOG_LEVEL: 'info',
    // The port is read from the JSON 'listening' line, whatever a developer's .env says.
    LOG_FORMAT: 'json',
    MIGRATE_ON_START: 'false',
    MAX_STREAMS: String(options.clients + 100),
    MAX_STREAMS_PER_USER: String(options.clients + 100),
    RATE_LIMIT_MESSAGES: '0',
    STREAM_BUFFER_BYTES: '262144',
  }
}

/**
 * Opens the clients in batches, spread over the rooms and READER_USERS users. Each starts
 * from its room's last_seq read just before and sends it as Last-Event-ID, so what it must
 * receive is known exactly however long opening takes.
 */
async function openClients(
  fleet: Fleet,
  env: Environment,
  roomIds: number[],
  ttl: string,
  count: number,
): Promise<void> {
  const tokens = await Promise.all(
    Array.from({ length: Math.min(READER_USERS, count) }, (_, i) =>
      signHs256Token({ sub: `soak-reader-${i}` }, ttl, env.secret),
    ),
  )
  for (let first = 0; first < count; first += OPEN_BATCH) {
    const lastSeqs = await roomLastSeqs(env.sql)
    const batch = []
    for (let i = first; i < Math.min(count, first + OPEN_BATCH); i++) {
      const roomId = roomIds[i % roomIds.length]!
      const client = fleet.add(roomId, tokens[i % tokens.length]!, lastSeqs.get(roomId) ?? 0)
      fleet.connect(client)
      batch.push(client)
    }
    const deadline = Date.now() + 30_000
    while (batch.some((client) => client.state === 'connecting') && Date.now() < deadline) await sleep(20)
  }
  log(`soak: ${fleet.openCount()} of ${count} streams open`)
}

function logProgress(started: number, stats: ProducerStats, fleet: Fleet, rss: RssMonitor): void {
  const seconds = Math.round((performance.now() - started) / 1000)
  const reconnects = Object.values(fleet.counters.reconnects).reduce((sum, n) => sum + n, 0)
  log(
    `[${String(seconds).padStart(4)} s] produced ${stats.produced.http + stats.produced.sql}, ` +
      `delivered ${fleet.counters.delivered}, open ${fleet.openCount()}/${fleet.clients.length}, ` +
      `reconnects ${reconnects}, server RSS ${(rss.last() / 1024 / 1024).toFixed(0)} MB`,
  )
}

/** Waits, bounded, until every client has its room's final seq. */
async function drainClients(fleet: Fleet, finalSeqs: ReadonlyMap<number, number>, seconds: number) {
  const started = performance.now()
  const deadline = started + seconds * 1_000
  while (fleet.behind(finalSeqs).length > 0 && performance.now() < deadline) await sleep(20)
  return { seconds: (performance.now() - started) / 1000, clientsBehind: fleet.behind(finalSeqs).length }
}

/**
 * The server's Prometheus figures once every client has gone (open streams should reach 0
 * quickly); empty if the server no longer answers, so the report still gets written.
 */
async function serverMetricsAfterClose(server: ServerProcess): Promise<Map<string, number>> {
  const deadline = Date.now() + 10_000
  try {
    let metrics = await scrapeMetrics(server.url)
    while ((metrics.get('parley_open_streams') ?? 0) > 0 && Date.now() < deadline) {
      await sleep(100)
      metrics = await scrapeMetrics(server.url)
    }
    return metrics
  } catch (error) {
    log(`soak: reading the server's metrics failed: ${String(error)}`)
    return new Map()
  }
}

async function main(): Promise<void> {
  const options = parseSoakOptions()
  const teardown = createTeardown()
  let interrupted = false
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return
    interrupted = true
    log(`\nsoak: ${signal}, cleaning up`)
    void teardown.run().finally(() => process.exit(130))
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  let exitCode = 2
  try {
    exitCode = await soak(options, teardown)
  } catch (error) {
    if (!interrupted)
      log(`soak failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)
  } finally {
    await teardown.run()
  }
  process.exit(interrupted ? 130 : exitCode)
}

await main()
