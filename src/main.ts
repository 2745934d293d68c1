import { ensureDefaultRoom } from './chat/rooms.js'
import { ConfigError, loadConfig, usesOwnSecret } from './config.js'
import type { EmbeddedDatabase } from './db/embedded.js'
import { isDatabaseUnavailable } from './db/errors.js'
import { runMigrations } from './db/migrate.js'
import { loadEnvFile } from './env-file.js'
import { createLogger, prettyDestination, resolveLogFormat } from './logger.js'
import { startServer } from './server.js'
import { printWelcome } from './welcome.js'

async function main(): Promise<void> {
  loadEnvFile()
  const config = loadConfig()
  const pretty = resolveLogFormat(config, Boolean(process.stdout.isTTY)) === 'pretty'
  const logger = createLogger(config.LOG_LEVEL, pretty ? prettyDestination(process.stdout) : undefined)
  // postgres.js sets up each new connection with a query of its own (the array types) whose
  // failure nobody awaits: a backend that dies right then (a failover, pg_terminate_backend)
  // rejects it unhandled, which would end the process. Such a loss costs only that
  // connection, and the pool opens another; anything else unhandled still ends the process.
  process.on('unhandledRejection', (reason) => {
    if (!isDatabaseUnavailable(reason)) throw reason
    logger.warn({ err: reason }, 'a database connection was lost while it was being set up')
  })

  let embedded: EmbeddedDatabase | undefined
  let databaseUrl = config.DATABASE_URL
  if (!databaseUrl) {
    // Loaded only here: production images leave out the PostgreSQL binaries.
    const { startEmbeddedPostgres } = await import('./db/embedded.js')
    embedded = await startEmbeddedPostgres({ dir: `${config.DATA_DIR}/pg`, rememberPort: true })
    databaseUrl = embedded.url
    logger.info({ dir: `${config.DATA_DIR}/pg`, port: embedded.port }, 'started the embedded PostgreSQL')
  }
  // On PostgreSQL itself: the migrations hold a session-level advisory lock.
  if (config.MIGRATE_ON_START) await runMigrations(config.LISTEN_DATABASE_URL ?? databaseUrl)

  const server = await startServer({ config, databaseUrl, logger })
  // Before anything else is awaited: a signal from here on must drain, not kill, a serving process.
  let stopping = false
  const shutdown = async (signal: string) => {
    if (stopping) return
    stopping = true
    logger.info({ signal }, 'shutting down')
    // The HTTP drain is bounded by SHUTDOWN_TIMEOUT_MS; this bounds everything else too.
    const forced = setTimeout(() => {
      logger.warn('shutdown timed out; exiting')
      process.exit(0)
    }, config.SHUTDOWN_TIMEOUT_MS + 5_000)
    forced.unref()
    await server.close()
    await embedded?.stop()
    logger.info('stopped')
    process.exit(0)
  }
  process.on('SIGTERM', () => void shutdown('SIGTERM'))
  process.on('SIGINT', () => void shutdown('SIGINT'))
  if (embedded) await ensureDefaultRoom(server.db)
  logger.info({ port: server.port }, 'listening')
  if (config.NODE_ENV !== 'production') {
    await printWelcome({
      port: server.port,
      host: config.HOST,
      databaseUrl,
      embedded: Boolean(embedded),
      auth: server.auth,
      ownSecret: usesOwnSecret(config),
      db: server.db,
    })
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof ConfigError ? error.message : error)
  process.exit(1)
})
