import type { AddressInfo } from 'node:net'
import { createServer } from 'node:http'
import { getRequestListener } from '@hono/node-server'
import type { Sql } from 'postgres'
import type { Logger } from 'pino'
import { type Auth, createAuth, resolveAuthOptions } from './auth/jwt.js'
import { readableRoom } from './chat/access.js'
import type { Config } from './config.js'
import { createDb, type Db } from './db/client.js'
import { createReadPool } from './db/read-pool.js'
import { createSearchPool } from './db/search-pool.js'
import { checkSearchConfig } from './db/search-config.js'
import { writeSettings } from './db/settings.js'
import { createTicketDesk } from './auth/tickets.js'
import { createPosting } from './chat/posting.js'
import { createRetention } from './chat/retention.js'
import { createApp } from './http/app.js'
import { serveHotRoutes } from './http/fast-routes.js'
import { resolvePublicFolder } from './http/routes/browser-client.js'
import { createMetrics } from './metrics.js'
import { createAdmission } from './realtime/admission.js'
import { createHub } from './realtime/hub.js'
import { createListener } from './realtime/listener.js'
import { createPresence } from './realtime/presence.js'
import { createRoomSessions } from './realtime/session.js'
import { createStreams } from './realtime/streams.js'
import { createUserFeed } from './realtime/user-feed.js'
import { createShardedPosting, createShardedPresence, onEveryShard } from './shards/routing.js'
import { createSharding } from './shards/sharding.js'
import { createWebhookDispatcher } from './webhooks/dispatcher.js'

export interface ServerOptions {
  config: Config
  databaseUrl: string
  logger: Logger
  /** Overrides the key resolved from the configuration (tests use their own). */
  auth?: Auth
}

export type ParleyServer = Awaited<ReturnType<typeof startServer>>

/**
 * Wires one Parley instance. The data flows down this function: the pool and the one
 * LISTEN connection; the listener feeds the hub (rooms) and the user feed (each user's
 * events), which write to the process's streams; the HTTP app opens those streams and
 * takes writes, which the database's triggers announce back to every instance's listener.
 */
export async function startServer({ config, databaseUrl, logger, auth: givenAuth }: ServerOptions) {
  const { db, sql } = createDb(databaseUrl, { max: config.DB_POOL_MAX, pooler: config.DATABASE_POOLER })
  const search = createSearchPool(databaseUrl, {
    max: config.SEARCH_POOL_MAX,
    statementTimeoutMs: config.SEARCH_TIMEOUT_MS,
    pooler: config.DATABASE_POOLER,
  })
  // Rooms spread over several primaries (docs/sharding.md): each room's requests and
  // streams go to its shard.
  const sharding =
    config.CATALOG_DATABASE_URL === undefined
      ? undefined
      : createSharding({
          catalogUrl: config.CATALOG_DATABASE_URL,
          pool: { max: config.DB_POOL_MAX, pooler: config.DATABASE_POOLER },
          search: { max: config.SEARCH_POOL_MAX, statementTimeoutMs: config.SEARCH_TIMEOUT_MS },
          probeMs: config.LISTENER_PROBE_MS,
          sweepMs: config.RETENTION_SWEEP_MS,
          onDown: (what, error) =>
            logger.warn({ err: error.message }, `${what}: listener connection lost; reconnecting`),
          onError: (error, what) => logger.error({ err: error }, what),
        })
  try {
    await checkSearchConfig(sql, config.SEARCH_CONFIG)
    await writeSettings(sql, config)
  } catch (error) {
    await Promise.all([sql.end({ timeout: 5 }), search.sql.end({ timeout: 5 }), sharding?.end()])
    throw error
  }
  const auth = givenAuth ?? createAuth(await resolveAuthOptions(config))
  const roomDb = async (roomId: number) => (sharding ? sharding.roomDb(roomId) : db)
  // Read at scrape time, after the hub and the listener below exist.
  const metrics = createMetrics(() => ({ hub, streams, listener, reads }), {
    readReplicas: config.READ_DATABASE_URL !== undefined,
  })
  const admission = createAdmission({
    maxStreams: config.MAX_STREAMS,
    maxStreamsPerUser: config.MAX_STREAMS_PER_USER,
  })
  const streams = createStreams({
    admission,
    logger,
    heartbeatMs: config.HEARTBEAT_MS,
    retryMs: config.SSE_RETRY_MS,
    maxBufferBytes: config.STREAM_BUFFER_BYTES,
  })
  const hub = createHub({
    db,
    roomDb: sharding?.roomDb,
    logger,
    streams,
    maxBufferBytes: config.STREAM_BUFFER_BYTES,
    observeLag: metrics.observeDeliveryLag,
    // The one access rule of chat/access.ts, asked again by the hub for streams already open.
    // Batched with the other questions of the moment: a reconnect storm asks a few queries.
    mayRead: async (roomId, stream) => {
      const held = await roomDb(roomId)
      return held !== undefined && (await readableRoom(held, roomId, stream, { shared: true })) !== undefined
    },
  })
  const userFeed = createUserFeed({ db, logger, streams, shards: sharding?.everyShard })
  const webhooks = createWebhookDispatcher({ db, logger, settings: config })
  const listener = createListener({
    url: config.LISTEN_DATABASE_URL ?? databaseUrl,
    // With shards, the hub hears each shard's LISTEN connection instead (sharding.listen).
    consumers: [...(sharding ? [] : [hub.listens]), userFeed.listens, webhooks.listens],
    probeMs: config.LISTENER_PROBE_MS,
    pool: sql,
    onDown: (error) => logger.warn({ err: error.message }, 'listener connection lost; reconnecting'),
  })
  const presenceOn = (pool: Sql) =>
    createPresence({
      sql: pool,
      logger,
      ttlMs: config.PRESENCE_TTL_MS,
      batchMs: config.PRESENCE_BATCH_MS,
      listMax: config.PRESENCE_LIST_MAX,
    })
  const postingOn = (pool: Db) =>
    createPosting({
      db: pool,
      limits: db,
      logger,
      rateLimit: { count: config.RATE_LIMIT_MESSAGES, windowMs: config.RATE_LIMIT_WINDOW_MS },
      batchMax: config.POST_BATCH_MAX,
      batchMs: config.POST_BATCH_MS,
    })
  // Over shards, each room's presence and posts go to its shard.
  const shardedPresence =
    sharding &&
    createShardedPresence(
      sharding.roomDb,
      presenceOn(sql),
      (pool) => presenceOn(pool.$client),
      (error) => logger.warn({ err: error }, 'presence could not find the room'),
    )
  const presence = shardedPresence || presenceOn(sql)
  const posting = sharding ? createShardedPosting(sharding.roomDb, postingOn) : postingOn(db)
  const tickets = createTicketDesk({
    db,
    logger,
    limit: { count: config.RATE_LIMIT_TICKETS, windowMs: config.RATE_LIMIT_WINDOW_MS },
  })
  const roomSessions = createRoomSessions({ streams, hub, presence })
  const retentionOn = (pool: Sql) =>
    createRetention({
      sql: pool,
      logger,
      retentionMs: config.RETENTION_MS,
      webhookLogMs: config.WEBHOOK_LOG_RETENTION_MS,
      everyMs: config.RETENTION_SWEEP_MS,
    })
  const retention = retentionOn(sql)
  try {
    await listener.start()
    await sharding?.listen(
      [hub.listensOn, userFeed.listensOn],
      shardedPresence ? [hub, shardedPresence] : [hub],
    )
  } catch (error) {
    await listener.stop()
    await sharding?.stop()
    await Promise.all([sql.end({ timeout: 5 }), search.sql.end({ timeout: 5 }), sharding?.end()])
    throw error
  }
  await presence.start()
  retention.start()
  // Each shard's tables have their sweep too, run from every instance as on one database.
  const shardRetention =
    sharding &&
    onEveryShard({
      everyShard: sharding.everyShard,
      watchShards: sharding.watchShards,
      make: (pool) => retentionOn(pool.$client),
      onError: (error) =>
        logger.warn({ err: error }, 'the shards could not be read for their retention sweep'),
    })
  webhooks.start()
  // History, reactions, the lobby, mentions and search, on READ_DATABASE_URL's standbys
  // when they have what the client has seen; everything else stays on the primary.
  const reads = createReadPool({
    primary: db,
    roomPrimary: sharding?.roomDb,
    primarySearch: search.db,
    replicaUrl: config.READ_DATABASE_URL,
    maxLagMs: config.READ_MAX_LAG_MS,
    poolMax: config.DB_POOL_MAX,
    search: { max: config.SEARCH_POOL_MAX, statementTimeoutMs: config.SEARCH_TIMEOUT_MS },
    pooler: config.DATABASE_POOLER,
    logger,
  })
  reads.start()

  const appDeps = {
    db,
    roomDb,
    shards: sharding,
    reads,
    posting,
    tickets,
    auth,
    listener,
    presence,
    roomSessions,
    userFeed,
    metrics,
    config,
    logger,
    pingDatabase: () => pingDatabase(sql),
    publicDir: resolvePublicFolder(),
  }
  const app = createApp(appDeps)
  // The hot routes (posting, opening streams) straight from Node; the rest through Hono.
  const server = createServer(
    serveHotRoutes(appDeps, getRequestListener(app.fetch, { hostname: config.HOST })),
  )
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve)
    server.once('error', reject)
    // A storm of reconnects arrives at once: past the accept queue the kernel drops the
    // connection attempts, and the clients retry only seconds later.
    server.listen({ port: config.PORT, host: config.HOST, backlog: config.LISTEN_BACKLOG })
  })
  const { port } = server.address() as AddressInfo

  let closing: Promise<void> | undefined
  /**
   * Stops accepting, tells every stream to reconnect elsewhere and closes it, lets
   * in-flight requests finish (cut off after SHUTDOWN_TIMEOUT_MS), then releases the
   * LISTEN connection and the pool.
   */
  function close(): Promise<void> {
    closing ??= (async () => {
      const drained = new Promise<void>((resolve) => server.close(() => resolve()))
      streams.stop(config.SSE_RETRY_MS)
      hub.stop()
      userFeed.stop()
      await listener.stop()
      await sharding?.stop()
      await Promise.all([presence.stop(), webhooks.stop()])
      await Promise.all([retention.stop(), shardRetention?.stop()])
      server.closeIdleConnections()
      const deadline = setTimeout(() => server.closeAllConnections(), config.SHUTDOWN_TIMEOUT_MS)
      await drained
      clearTimeout(deadline)
      await Promise.all([
        sql.end({ timeout: 5 }),
        search.sql.end({ timeout: 5 }),
        reads.stop(),
        sharding?.end(),
      ])
    })()
    return closing
  }

  return {
    port,
    url: `http://127.0.0.1:${port}`,
    app,
    db,
    sql,
    hub,
    streams,
    listener,
    admission,
    presence,
    retention,
    webhooks,
    tickets,
    metrics,
    auth,
    close,
  }
}

/** Whether the database answers within two seconds. */
async function pingDatabase(sql: Sql): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), 2_000)
  })
  const ping = sql`select 1`.then(
    () => true,
    () => false,
  )
  try {
    return await Promise.race([ping, timeout])
  } finally {
    clearTimeout(timer)
  }
}
