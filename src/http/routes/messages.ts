import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi'
import type { Identity } from '../../auth/jwt.js'
import type { PostRequest } from '../../chat/posting.js'
import { findMessage, listMessages, listReplies } from '../../chat/messages.js'
import { messageNotFound } from '../../chat/errors.js'
import { MessagePageSchema, MessageSchema } from '../../wire.js'
import type { AppDeps } from '../app.js'
import type { AppEnv } from '../env.js'
import { requireReadableRoom } from '../guards.js'
import {
  bearerSecurity,
  ErrorSchema,
  errorResponses,
  jsonContent,
  notFoundResponse,
  MessageParams,
  messageNotFoundResponse,
  RoomIdParams,
  roomMinCursor,
  seqParam,
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
    reply_to: z
      .number()
      .int()
      .min(1)
      .max(Number.MAX_SAFE_INTEGER)
      .optional()
      .openapi({ description: 'The seq of the message of this room that this one replies to' }),
  })
  .openapi('PostMessage')

export const MessagesQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  before: seqParam.optional(),
  after: seqParam.optional(),
  min_cursor: roomMinCursor,
})

export const RepliesQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  after: seqParam.optional(),
  min_cursor: roomMinCursor,
})

const list = createRoute({
  method: 'get',
  path: '/rooms/{id}/messages',
  summary: "A page of a room's messages, ascending by seq (the latest 50 by default)",
  security: bearerSecurity,
  request: { params: RoomIdParams, query: MessagesQuery },
  responses: { 200: jsonContent(MessagePageSchema, 'The messages'), ...errorResponses, ...notFoundResponse },
})

const one = createRoute({
  method: 'get',
  path: '/rooms/{id}/messages/{seq}',
  summary: 'One message (a tombstone once deleted)',
  security: bearerSecurity,
  request: { params: MessageParams },
  responses: {
    200: jsonContent(MessageSchema, 'The message'),
    ...errorResponses,
    ...messageNotFoundResponse,
  },
})

const replies = createRoute({
  method: 'get',
  path: '/rooms/{id}/messages/{seq}/replies',
  summary: 'A page of the replies to a message, ascending by seq',
  security: bearerSecurity,
  request: { params: MessageParams, query: RepliesQuery },
  responses: {
    200: jsonContent(MessagePageSchema, 'The replies'),
    ...errorResponses,
    ...messageNotFoundResponse,
  },
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
    ...messageNotFoundResponse,
  },
})

export function registerMessages(app: OpenAPIHono<AppEnv>, { reads, posting }: AppDeps) {
  app.openapi(list, async (c) => {
    const { id } = c.req.valid('param')
    const query = c.req.valid('query')
    await requireReadableRoom(c.var.db, id, c.get('identity'))
    // The client holds `after`, and every seq below `before`.
    const seq = Math.max(query.after ?? 0, (query.before ?? 0) - 1)
    const page = await reads.forRoom({ roomId: id, seq, cursor: query.min_cursor }, (from) =>
      listMessages(from, id, query),
    )
    return c.json({ messages: page.messages, has_more: page.hasMore, cursor: page.cursor }, 200)
  })

  app.openapi(one, async (c) => {
    const { id, seq } = c.req.valid('param')
    await requireReadableRoom(c.var.db, id, c.get('identity'))
    const message = await findMessage(c.var.db, id, seq)
    if (!message) throw messageNotFound(seq)
    return c.json(message, 200)
  })

  app.openapi(replies, async (c) => {
    const { id, seq } = c.req.valid('param')
    const query = c.req.valid('query')
    await requireReadableRoom(c.var.db, id, c.get('identity'))
    const position = { roomId: id, seq: Math.max(seq, query.after ?? 0), cursor: query.min_cursor }
    const page = await reads.forRoom(position, async (from) => {
      if (!(await findMessage(from, id, seq))) throw messageNotFound(seq)
      return listReplies(from, id, seq, query)
    })
    return c.json({ messages: page.messages, has_more: page.hasMore, cursor: page.cursor }, 200)
  })

  app.openapi(post, async (c) => {
    const { id } = c.req.valid('param')
    const { message, created } = await posting.post(postRequestOf(id, c.req.valid('json'), c.get('identity')))
    return c.json(message, created ? 201 : 200)
  })
}

/**
 * The post a valid request asks for, as the token's user; http/fast-routes.ts serves the
 * route with it too. Access, the client_id, the reply's parent and the rate limit are
 * checked in the batch.
 */
export function postRequestOf(
  roomId: number,
  { body, client_id, reply_to }: z.infer<typeof PostMessageBody>,
  { userId, userName, isAdmin, isBot }: Identity,
): PostRequest {
  return { roomId, userId, userName, isAdmin, bot: isBot, body, clientId: client_id, replyTo: reply_to }
}
