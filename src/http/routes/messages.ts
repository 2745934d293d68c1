import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi'
import { listMessages, postMessage, toMessage } from '../../chat/messages.js'
import { secondsUntilAllowed } from '../../chat/rate-limit.js'
import { MessageSchema } from '../../wire.js'
import type { AppDeps } from '../app.js'
import type { AppEnv } from '../env.js'
import { rateLimited } from '../errors.js'
import { requireReadableRoom } from '../guards.js'
import {
  bearerSecurity,
  ErrorSchema,
  errorResponses,
  jsonContent,
  notFoundResponse,
  RoomIdParams,
} from '../schemas.js'
import { bodyText, trimmedText } from '../text.js'

export const MAX_BODY_CODE_POINTS = 2000

export const PostMessageBody = z
  .object({
    body: bodyText({
      field: 'body',
      max: MAX_BODY_CODE_POINTS,
      emptyCode: 'body_required',
      tooLongCode: 'body_too_long',
      tooLongStatus: 422,
      invalidCode: 'invalid_body',
    }),
    client_id: trimmedText({ field: 'client_id', max: 100 }).optional(),
  })
  .openapi('PostMessage')

const seqParam = z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER)

const MessagesQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  before: seqParam.optional(),
  after: seqParam.optional(),
})

const MessagePage = z.object({ messages: z.array(MessageSchema), has_more: z.boolean() })

const list = createRoute({
  method: 'get',
  path: '/rooms/{id}/messages',
  summary: "A page of a room's messages, ascending by seq (the latest 50 by default)",
  security: bearerSecurity,
  request: { params: RoomIdParams, query: MessagesQuery },
  responses: { 200: jsonContent(MessagePage, 'The messages'), ...errorResponses, ...notFoundResponse },
})

const post = createRoute({
  method: 'post',
  path: '/rooms/{id}/messages',
  summary: 'Post a message as the token’s user; a repeated client_id returns the original',
  security: bearerSecurity,
  request: {
    params: RoomIdParams,
    body: { required: true, content: { 'application/json': { schema: PostMessageBody } } },
  },
  responses: {
    200: jsonContent(MessageSchema, 'The original message of a repeated client_id'),
    201: jsonContent(MessageSchema, 'The stored message'),
    409: jsonContent(ErrorSchema, 'The client_id was used in another room'),
    422: jsonContent(ErrorSchema, 'The body is too long'),
    429: jsonContent(ErrorSchema, 'Posting too fast; see Retry-After'),
    ...errorResponses,
    ...notFoundResponse,
  },
})

export function registerMessages(app: OpenAPIHono<AppEnv>, { db, config }: AppDeps) {
  const rateLimit = { count: config.RATE_LIMIT_MESSAGES, windowMs: config.RATE_LIMIT_WINDOW_MS }

  app.openapi(list, async (c) => {
    const { id } = c.req.valid('param')
    await requireReadableRoom(db, id, c.get('identity'))
    const page = await listMessages(db, id, c.req.valid('query'))
    return c.json({ messages: page.rows.map(toMessage), has_more: page.hasMore }, 200)
  })

  app.openapi(post, async (c) => {
    const { id } = c.req.valid('param')
    const { body, client_id } = c.req.valid('json')
    const { userId, userName } = c.get('identity')
    await requireReadableRoom(db, id, c.get('identity'))
    const wait = await secondsUntilAllowed(db, userId, rateLimit)
    if (wait > 0) throw rateLimited(`Too many messages; try again in ${wait} s`, wait)
    const input = { roomId: id, userId, userName, body, clientId: client_id }
    const { message, created } = await postMessage(db, input)
    return c.json(toMessage(message), created ? 201 : 200)
  })
}
