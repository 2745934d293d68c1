import { OpenAPIHono } from '@hono/zod-openapi'
import type { Context } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import type { Logger } from 'pino'
import type { Auth } from '../auth/jwt.js'
import type { TicketDesk } from '../auth/tickets.js'
import type { Posting } from '../chat/posting.js'
import type { Config, DevSignInSettings } from '../config.js'
import type { Db } from '../db/client.js'
import type { ReadPool } from '../db/read-pool.js'
import type { Metrics } from '../metrics.js'
import type { Listener } from '../realtime/listener.js'
import type { Presence } from '../realtime/presence.js'
import type { UserFeed } from '../realtime/user-feed.js'
import type { RoomSessions } from '../realtime/session.js'
import type { Sharding } from '../shards/sharding.js'
import { authenticate } from './authenticate.js'
import type { AppEnv } from './env.js'
import {
  logRequest,
  MAX_REQUEST_BYTES,
  PRIVATE_JSON_HEADERS,
  payloadTooLarge,
  requestIdOf,
  requireShortUrl,
  toValidationError,
} from './conventions.js'
import { createErrorHandler, errorBody } from './errors.js'
import { requireRoomDb } from './guards.js'
import { registerOpenApiDocument } from './openapi.js'
import { registerBrowserClient } from './routes/browser-client.js'
import { registerDev } from './routes/dev.js'
import { registerDms } from './routes/dms.js'
import { registerHealth } from './routes/health.js'
import { registerMe } from './routes/me.js'
import { registerMembers } from './routes/members.js'
import { registerMentions } from './routes/mentions.js'
import { registerMessageChanges } from './routes/message-changes.js'
import { registerMessages } from './routes/messages.js'
import { registerMetrics } from './routes/metrics.js'
import { registerModeration } from './routes/moderation.js'
import { registerReports } from './routes/reports.js'
import { registerRestrictions } from './routes/restrictions.js'
import { registerRooms } from './routes/rooms.js'
import { registerSearch } from './routes/search.js'
import { registerSocial } from './routes/social.js'
import { registerStream } from './routes/stream.js'
import { registerStreamTickets } from './routes/stream-tickets.js'
import { registerWebhooks } from './routes/webhooks.js'

export interface AppDeps {
  db: Db
  /**
   * The database holding a room: `db`, or with rooms spread over shards its shard's
   * (src/shards/); undefined when no database holds it.
   */
  roomDb: (roomId: number) => Promise<Db | undefined>
  /**
   * With rooms spread over shards (src/shards/sharding.ts): new rooms and direct messages
   * placed by the catalog, the shards that reads across rooms ask and merge, and whether
   * each is heard.
   */
  shards?: Pick<Sharding, 'placeRoom' | 'placeDm' | 'everyShard' | 'searchPools' | 'readiness'>
  /** Where reads that tolerate a little lag run, searches included (db/read-pool.ts). */
  reads: ReadPool
  posting: Posting
  /** Stream tickets, sold and redeemed in batches. */
  tickets: TicketDesk
  auth: Auth
  listener: Listener
  presence: Presence
  roomSessions: RoomSessions
  userFeed: UserFeed
  metrics: Metrics
  config: DevSignInSettings &
    Pick<
      Config,
      | 'RATE_LIMIT_MESSAGES'
      | 'RATE_LIMIT_CHANGES'
      | 'RATE_LIMIT_MEMBERSHIPS'
      | 'RATE_LIMIT_TICKETS'
      | 'RATE_LIMIT_REPORTS'
      | 'RATE_LIMIT_MODERATION'
      | 'RATE_LIMIT_SEARCHES'
      | 'SEARCH_CONFIG'
      | 'SEARCH_POOL_MAX'
      | 'SEARCH_QUEUE_MAX'
      | 'MAX_SEARCHES_PER_USER'
      | 'SEARCH_TIMEOUT_MS'
      | 'RATE_LIMIT_WINDOW_MS'
      | 'ROOMS_PER_HOUR'
      | 'TYPING_THROTTLE_MS'
      | 'METRICS_TOKEN'
      | 'WEBHOOKS_PER_USER'
      | 'WEBHOOKS_PER_HOUR'
      | 'WEBHOOK_ALLOW_PRIVATE'
      | 'WEBHOOK_ROTATION_GRACE_MS'
    >
  logger: Logger
  pingDatabase: () => Promise<boolean>
  /** The browser client's files, served at `/`; none when undefined. */
  publicDir?: string
}

/** The HTTP application: middleware, every route and the one error handler. Wires nothing itself. */
export function createApp(deps: AppDeps) {
  const app = new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) throw toValidationError(result.error, result.target)
    },
  })

  app.use(assignRequestId)
  app.use(logRequests(deps.logger, deps.metrics))
  app.use(protectJson)
  // Middleware that only checks returns next()'s promise instead of awaiting it: one async
  // frame less on every request, and an open stream's setup is all such requests at once.
  app.use((c, next) => {
    requireShortUrl(c.env.incoming.url)
    return next()
  })
  const limitBody = bodyLimit({
    maxSize: MAX_REQUEST_BYTES,
    onError: () => {
      throw payloadTooLarge()
    },
  })
  // Only for requests that may carry a body: the limiter reads `c.req.raw.body`, which makes
  // @hono/node-server build a full web Request (AbortController, Headers, URL), and for a
  // stream that Request lives as long as the connection: about 6 KB per open stream.
  app.use((c, next) => (c.req.method === 'GET' || c.req.method === 'HEAD' ? next() : limitBody(c, next)))
  const auth = authenticate(deps.auth, {
    queryTokenPaths: /^\/(rooms\/[^/]+\/|me\/)?stream$/,
    redeemTicket: (ticket) => deps.tickets.redeem(ticket),
  })
  app.use('/rooms', auth)
  app.use('/rooms/*', auth)
  app.use('/stream', auth)
  app.use('/dms', auth)
  app.use('/mentions', auth)
  app.use('/me/*', auth)
  app.use('/search', auth)
  // A room's requests run on the database that holds it: its shard's, with several.
  const roomDatabase = async (c: Context<AppEnv>, next: () => Promise<void>) => {
    const id = Number(c.req.param('id'))
    // An id that is not one is refused by the route's own validation.
    c.set('db', Number.isSafeInteger(id) && id > 0 ? await requireRoomDb(deps.roomDb, id) : deps.db)
    return next()
  }
  app.use('/rooms/:id', roomDatabase)
  app.use('/rooms/:id/*', roomDatabase)
  app.use('/webhooks', auth)
  app.use('/webhooks/*', auth)
  // A ticket is bought with the header only: a ticket or a URL token cannot buy another.
  app.use('/stream-tickets', auth)

  registerHealth(app, deps)
  registerRooms(app, deps)
  registerMessages(app, deps)
  registerMessageChanges(app, deps)
  registerMembers(app, deps)
  registerModeration(app, deps)
  registerRestrictions(app, deps)
  registerReports(app, deps)
  registerDms(app, deps)
  registerMentions(app, deps)
  registerMe(app, deps)
  registerSocial(app, deps)
  registerSearch(app, deps)
  registerStream(app, deps)
  registerStreamTickets(app, deps)
  registerWebhooks(app, deps)
  registerMetrics(app, deps)
  registerDev(app, deps)

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearerAuth', {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
  })
  registerOpenApiDocument(app, {
    title: 'Parley',
    version: '0.1.0',
    description: 'Real-time multi-room chat over REST and Server-Sent Events',
  })

  registerBrowserClient(app, deps)
  app.notFound((c) => c.json(errorBody('not_found', `No route for ${c.req.method} ${c.req.path}`), 404))
  app.onError(createErrorHandler(deps.logger))
  return app
}

function assignRequestId(c: Context<AppEnv>, next: () => Promise<void>) {
  const id = requestIdOf(c.env.incoming)
  c.set('requestId', id)
  c.header('X-Request-Id', id)
  return next()
}

async function protectJson(c: Context<AppEnv>, next: () => Promise<void>) {
  await next()
  if (c.res.headers.get('content-type')?.startsWith('application/json')) {
    for (const [name, value] of Object.entries(PRIVATE_JSON_HEADERS)) c.res.headers.set(name, value)
  }
}

function logRequests(logger: Logger, metrics: Metrics) {
  return async (c: Context<AppEnv>, next: () => Promise<void>) => {
    const started = performance.now()
    await next()
    logRequest(logger, metrics, {
      requestId: c.get('requestId'),
      method: c.req.method,
      route: c.req.routePath === '/*' ? 'unmatched' : c.req.routePath,
      path: c.req.path,
      status: c.res.status,
      started,
    })
  }
}
