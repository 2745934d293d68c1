import type { AddressInfo } from 'node:net'
import { serve } from '@hono/node-server'
import type { Logger } from 'pino'
import { type Auth, createAuth, resolveAuthOptions } from './auth/jwt.js'
import type { Config } from './config.js'
import { createDb } from './db/client.js'
import { createApp } from './http/app.js'
import { createHub } from './realtime/hub.js'

export interface ServerOptions {
  config: Config
  databaseUrl: string
  logger: Logger
  /** Overrides the key resolved from the configuration (tests use their own). */
  auth?: Auth
}

export type ParleyServer = Awaited<ReturnType<typeof startServer>>

/** Wires one Parley instance: pool, hub with its LISTEN connection, HTTP app, listening socket. */
export async function startServer({ config, databaseUrl, logger, auth: givenAuth }: ServerOptions) {
  const { db, sql } = createDb(databaseUrl, { max: config.DB_POOL_MAX })
  const auth = givenAuth ?? createAuth(await resolveAuthOptions(config))
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
  const server = serve({ fetch: app.fetch, port: config.PORT, hostname: config.HOST })
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve)
    server.once('error', reject)
  })
  const { port } = server.address() as AddressInfo

  let closing: Promise<void> | undefined
  /** Stops accepting, tells every stream to reconnect elsewhere, then releases the database. */
  function close(): Promise<void> {
    closing ??= (async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      await hub.stop(config.SSE_RETRY_MS)
      if ('closeIdleConnections' in server) server.closeIdleConnections()
      await closed
      await sql.end({ timeout: 5 })
    })()
    return closing
  }

  return { port, url: `http://127.0.0.1:${port}`, app, db, sql, hub, auth, close }
}
