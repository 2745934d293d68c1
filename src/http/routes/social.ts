import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi'
import { listReads, markRead } from '../../chat/reads.js'
import { publishRoomEvent } from '../../db/notify.js'
import { createTypingThrottle } from '../../realtime/typing.js'
import { PresenceSchema, ReadMarkSchema } from '../../wire.js'
import type { AppDeps } from '../app.js'
import type { AppEnv } from '../env.js'
import { requireReadableRoom } from '../guards.js'
import {
  bearerSecurity,
  cursorParam,
  errorResponses,
  jsonContent,
  notFoundResponse,
  RoomIdParams,
} from '../schemas.js'

export const TypingBody = z.object({ state: z.enum(['on', 'off']) }).openapi('Typing')
export const ReadBody = z
  .object({ seq: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER) })
  .openapi('Read')

/** A presence page's cursor: the last user id of the previous page, opaque to the client. */
const encodePresenceCursor = (userId: string) => Buffer.from(userId).toString('base64url')

function parsePresenceCursor(text: string): string | undefined {
  const userId = Buffer.from(text, 'base64url').toString('utf8')
  return userId !== '' && encodePresenceCursor(userId) === text ? userId : undefined
}

export const PresenceQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(200),
  cursor: cursorParam(parsePresenceCursor, 300),
})

const presence = createRoute({
  method: 'get',
  path: '/rooms/{id}/presence',
  summary: "A page of the users with the room's stream open on any instance, each once, by user id",
  security: bearerSecurity,
  request: { params: RoomIdParams, query: PresenceQuery },
  responses: { 200: jsonContent(PresenceSchema, 'Present users'), ...errorResponses, ...notFoundResponse },
})

const typing = createRoute({
  method: 'post',
  path: '/rooms/{id}/typing',
  summary: "Tell the room's other streams that the caller is typing (never stored)",
  security: bearerSecurity,
  request: {
    params: RoomIdParams,
    body: { required: true, content: { 'application/json': { schema: TypingBody } } },
  },
  responses: { 204: { description: 'Announced (or throttled)' }, ...errorResponses, ...notFoundResponse },
})

const read = createRoute({
  method: 'post',
  path: '/rooms/{id}/read',
  summary: 'Record how far the caller has read; never moves backwards',
  security: bearerSecurity,
  request: {
    params: RoomIdParams,
    body: { required: true, content: { 'application/json': { schema: ReadBody } } },
  },
  responses: {
    200: jsonContent(z.object({ user_id: z.string(), seq: z.number().int() }), "The caller's read mark"),
    ...errorResponses,
    ...notFoundResponse,
  },
})

const reads = createRoute({
  method: 'get',
  path: '/rooms/{id}/reads',
  summary: "Each member's last read seq",
  security: bearerSecurity,
  request: { params: RoomIdParams },
  responses: {
    200: jsonContent(z.object({ reads: z.array(ReadMarkSchema) }), 'Read marks'),
    ...errorResponses,
    ...notFoundResponse,
  },
})

export function registerSocial(app: OpenAPIHono<AppEnv>, deps: AppDeps) {
  const { db, presence: roster, config, logger } = deps
  const offerTyping = createTypingThrottle({
    throttleMs: config.TYPING_THROTTLE_MS,
    announce: async (data) =>
      publishRoomEvent((await deps.roomDb(data.room_id)) ?? db, {
        roomId: data.room_id,
        event: 'typing',
        data,
        exceptUserId: data.user_id,
      }),
    logger,
  })

  app.openapi(presence, async (c) => {
    const { id } = c.req.valid('param')
    await requireReadableRoom(c.var.db, id, c.get('identity'))
    const { limit, cursor } = c.req.valid('query')
    const page = await roster.list(id, { limit, after: cursor })
    const next = page.nextAfter === undefined ? null : encodePresenceCursor(page.nextAfter)
    return c.json({ users: page.users, count: page.count, next_cursor: next }, 200)
  })

  app.openapi(typing, async (c) => {
    const { id } = c.req.valid('param')
    const { state } = c.req.valid('json')
    const { userId, userName } = c.get('identity')
    await requireReadableRoom(c.var.db, id, c.get('identity'))
    offerTyping({ room_id: id, user_id: userId, user_name: userName, state })
    return c.body(null, 204)
  })

  app.openapi(read, async (c) => {
    const { id } = c.req.valid('param')
    const { seq } = c.req.valid('json')
    const { userId } = c.get('identity')
    await requireReadableRoom(c.var.db, id, c.get('identity'))
    return c.json({ user_id: userId, seq: await markRead(c.var.db, id, userId, seq) }, 200)
  })

  app.openapi(reads, async (c) => {
    const { id } = c.req.valid('param')
    await requireReadableRoom(c.var.db, id, c.get('identity'))
    return c.json({ reads: await listReads(c.var.db, id) }, 200)
  })
}
