import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response'
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi'
import type { Refusal } from '../../realtime/admission.js'
import type { Subscriber } from '../../realtime/hub.js'
import { openEventStream } from '../../realtime/sse.js'
import type { AppDeps } from '../app.js'
import type { AppEnv } from '../env.js'
import { ApiError } from '../errors.js'
import { requireReadableRoom } from '../guards.js'
import { bearerSecurity, errorResponses, notFoundResponse, RoomIdParams } from '../schemas.js'

const StreamQuery = z.object({
  access_token: z
    .string()
    .optional()
    .openapi({ description: 'The token, for clients that cannot send headers' }),
  last_event_id: z.string().optional().openapi({ description: 'Replay messages after this seq first' }),
})

const stream = createRoute({
  method: 'get',
  path: '/rooms/{id}/stream',
  summary: "Server-Sent Events: the room's new messages, live; resumes after Last-Event-ID",
  security: bearerSecurity,
  request: {
    params: RoomIdParams,
    query: StreamQuery,
    headers: z.object({ 'last-event-id': z.string().optional() }),
  },
  responses: {
    200: {
      description:
        '`retry:` first, then `id: <seq>` / `event: message` / `data: <Message JSON>` frames, `: ping` heartbeats, and `event: expired` when the token expires',
      content: { 'text/event-stream': { schema: z.string() } },
    },
    ...errorResponses,
    ...notFoundResponse,
  },
})

/** The resume cursor: the Last-Event-ID header (EventSource's reconnect) wins over the query. */
function parseLastEventId(header: string | undefined, query: string | undefined): number | undefined {
  const value = header?.trim() || query?.trim()
  if (value === undefined || value === '') return undefined
  const seq = /^[0-9]{1,15}$/.test(value) ? Number(value) : Number.NaN
  if (!Number.isSafeInteger(seq))
    throw new ApiError(400, 'validation_failed', 'Last-Event-ID must be a message seq')
  return seq
}

function refuse(refusal: Refusal): ApiError {
  return refusal === 'server_full'
    ? new ApiError(503, 'too_many_streams', 'This server has no room for another stream; retry shortly', {
        'Retry-After': '5',
      })
    : new ApiError(429, 'too_many_streams', 'You have too many open streams; close one first', {
        'Retry-After': '5',
      })
}

export function registerStream(app: OpenAPIHono<AppEnv>, { db, hub, admission, config, logger }: AppDeps) {
  app.openapi(stream, async (c) => {
    const { id } = c.req.valid('param')
    const afterSeq = parseLastEventId(c.req.header('last-event-id'), c.req.valid('query').last_event_id)
    const identity = c.get('identity')
    await requireReadableRoom(db, id, identity)

    const { incoming: req, outgoing: res } = c.env
    const refusal = admission.admit(identity.userId)
    if (refusal) throw refuse(refusal)
    const subscriber: Subscriber = {
      res,
      roomId: id,
      userId: identity.userId,
      isAdmin: identity.isAdmin,
      expiresAt: identity.expiresAt,
      bytes: 0,
      closed: false,
    }
    const opened = Date.now()
    const log = { requestId: c.get('requestId'), roomId: id, userId: identity.userId }
    logger.info({ ...log, resumeAfter: afterSeq }, 'stream opened')
    openEventStream(res, config.SSE_RETRY_MS)
    res.on('close', () => {
      hub.unsubscribe(subscriber)
      admission.release(identity.userId)
      logger.info({ ...log, ms: Date.now() - opened, bytes: subscriber.bytes }, 'stream closed')
    })
    // A client resetting its socket mid-write surfaces here; 'close' follows and cleans up.
    res.on('error', () => hub.unsubscribe(subscriber))
    req.on('error', () => hub.unsubscribe(subscriber))
    try {
      await hub.subscribe(subscriber, afterSeq)
    } catch (error) {
      // Headers are sent: the client sees the stream end and reconnects with its Last-Event-ID.
      logger.warn({ err: error, roomId: id }, 'stream could not start')
      res.end()
    }
    return RESPONSE_ALREADY_SENT as never
  })
}
