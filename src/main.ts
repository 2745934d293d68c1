import { serve } from '@hono/node-server'
import pino from 'pino'
import { createAuth, resolveAuthOptions } from './auth/jwt.js'
import { ensureDefaultRoom } from './chat/rooms.js'
import { ConfigError, loadConfig } from './config.js'
import { createDb } from './db/client.js'
import { type EmbeddedDatabase, startEmbeddedPostgres } from './db/embedded.js'
import { runMigrations } from './db/migrate.js'
import { createApp } from './http/app.js'
import { createHub } from './realtime/hub.js'
import { printWelcome } from './welcome.js'

async function main(): Promise<void> {
  const config = loadConfig()
  const logger = pino({ level: config.LOG_LEVEL, base: undefined })

  let embedded: EmbeddedDatabase | undefined
  let databaseUrl = config.DATABASE_URL
  if (!databaseUrl) {
    logger.info({ dir: `${config.DATA_DIR}/pg` }, 'DATABASE_URL is not set; starting an embedded PostgreSQL')
    embedded = await startEmbeddedPostgres({ dir: `${config.DATA_DIR}/pg` })
    databaseUrl = embedded.url
  }
  if (config.MIGRATE_ON_START) await runMigrations(databaseUrl)

  const { db, sql } = createDb(databaseUrl, { max: config.DB_POOL_MAX })
  const authOptions = await resolveAuthOptions(config)
  const auth = createAuth(authOptions)
  if (embedded) await ensureDefaultRoom(db)

  const hub = createHub({
    db,
    databaseUrl,
    logger,
    heartbeatMs: config.HEARTBEAT_MS,
    probeMs: config.LISTENER_PROBE_MS,
  })
  await hub.start()

  const pingDatabase = () =>
    sql`select 1`.then(
      () => true,
      () => false,
    )
  const app = createApp({ db, auth, hub, config, logger, pingDatabase })
  const server = serve({ fetch: app.fetch, port: config.PORT, hostname: config.HOST }, async (info) => {
    logger.info({ port: info.port }, 'listening')
    if (config.NODE_ENV !== 'production') {
      await printWelcome({
        port: info.port,
        databaseUrl: databaseUrl ?? '',
        embedded: Boolean(embedded),
        auth,
        db,
      })
    }
  })

  let stopping = false
  const shutdown = async (signal: string) => {
    if (stopping) return
    stopping = true
    logger.info({ signal }, 'shutting down')
    server.close()
    await hub.stop(config.SSE_RETRY_MS)
    await sql.end({ timeout: 5 })
    await embedded?.stop()
    process.exit(0)
  }
  process.on('SIGTERM', () => void shutdown('SIGTERM'))
  process.on('SIGINT', () => void shutdown('SIGINT'))
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    console.error(error.message)
  } else {
    console.error(error)
  }
  process.exit(1)
})
