import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi'
import {
  addReaction,
  deleteMessage,
  editMessage,
  listReactions,
  removeReaction,
} from '../../chat/lifecycle.js'
import { requireToken } from '../../chat/rate-limit.js'
import { MessageSchema, ReactionSchema } from '../../wire.js'
import type { AppDeps } from '../app.js'
import type { AppEnv } from '../env.js'
import { requireReadableRoom } from '../guards.js'
import {
  bearerSecurity,
  ErrorSchema,
  errorResponses,
  jsonContent,
  MessageParams,
  messageNotFoundResponse,
} from '../schemas.js'
import { PostMessageBody } from './messages.js'

// One emoji as people type it (a flag, a keycap, a ZWJ family, a skin tone: one grapheme
// of Unicode's recommended emoji), or a short code such as `:shipit:`. Built at run time:
// the `v` flag is newer than the compile target.
const EMOJI = new RegExp('^(?:\\p{RGI_Emoji}|:[A-Za-z0-9_+\\-]{1,30}:)$', 'v')

const ReactionParams = MessageParams.extend({
  emoji: z
    .string()
    .refine((emoji) => EMOJI.test(emoji), {
      message: 'must be one emoji or a :name: of letters, digits, _, + and - (at most 32 characters)',
      params: { code: 'invalid_emoji' },
    })
    .openapi({ param: { name: 'emoji', in: 'path' }, example: '👍' }),
})

export const EditBody = PostMessageBody.pick({ body: true }).openapi('EditMessage')

const refusals = {
  403: jsonContent(ErrorSchema, 'The caller may read the room but not change this message'),
  409: jsonContent(ErrorSchema, 'The message is deleted (message_deleted)'),
  429: jsonContent(ErrorSchema, 'Changing too fast; see Retry-After'),
}

const edit = createRoute({
  method: 'patch',
  path: '/rooms/{id}/messages/{seq}',
  summary: "Edit a message's body (its author only)",
  security: bearerSecurity,
  request: {
    params: MessageParams,
    body: { required: true, content: { 'application/json': { schema: EditBody } } },
  },
  responses: {
    200: jsonContent(MessageSchema, 'The message after the edit'),
    422: jsonContent(ErrorSchema, 'The body is too long'),
    ...refusals,
    ...errorResponses,
    ...messageNotFoundResponse,
  },
})

const remove = createRoute({
  method: 'delete',
  path: '/rooms/{id}/messages/{seq}',
  summary: "Delete a message, leaving a tombstone (its author, the room's owners, admins)",
  security: bearerSecurity,
  request: { params: MessageParams },
  responses: {
    204: { description: 'Deleted (or already deleted)' },
    403: refusals[403],
    ...errorResponses,
    ...messageNotFoundResponse,
  },
})

const reactionRoute = (method: 'put' | 'delete', summary: string) =>
  createRoute({
    method,
    path: '/rooms/{id}/messages/{seq}/reactions/{emoji}',
    summary,
    security: bearerSecurity,
    request: { params: ReactionParams },
    responses: {
      200: jsonContent(MessageSchema, 'The message with its reaction totals'),
      409: refusals[409],
      429: refusals[429],
      ...errorResponses,
      ...messageNotFoundResponse,
    },
  })

const react = reactionRoute('put', 'React to a message with one emoji (again: no change)')
const unreact = reactionRoute('delete', 'Take back a reaction (absent: no change)')

const reactions = createRoute({
  method: 'get',
  path: '/rooms/{id}/messages/{seq}/reactions',
  summary: 'Who reacted to a message with what, oldest first',
  security: bearerSecurity,
  request: { params: MessageParams },
  responses: {
    200: jsonContent(z.object({ reactions: z.array(ReactionSchema) }), 'The reactions'),
    ...errorResponses,
    ...messageNotFoundResponse,
  },
})

export function registerMessageChanges(app: OpenAPIHono<AppEnv>, { db, config }: AppDeps) {
  const limit = { count: config.RATE_LIMIT_CHANGES, windowMs: config.RATE_LIMIT_WINDOW_MS }
  const checkRate = (userId: string) =>
    requireToken(db, 'change', userId, limit, 'Too many edits and reactions')

  app.openapi(edit, async (c) => {
    const { id, seq } = c.req.valid('param')
    const identity = c.get('identity')
    await requireReadableRoom(db, id, identity)
    await checkRate(identity.userId)
    return c.json(await editMessage(db, id, seq, identity, c.req.valid('json').body), 200)
  })

  app.openapi(remove, async (c) => {
    const { id, seq } = c.req.valid('param')
    const identity = c.get('identity')
    const access = await requireReadableRoom(db, id, identity)
    await deleteMessage(db, id, seq, { userId: identity.userId, canManage: access.canManage })
    return c.body(null, 204)
  })

  for (const [route, change] of [
    [react, addReaction],
    [unreact, removeReaction],
  ] as const) {
    app.openapi(route, async (c) => {
      const { id, seq, emoji } = c.req.valid('param')
      const identity = c.get('identity')
      await requireReadableRoom(db, id, identity)
      await checkRate(identity.userId)
      return c.json(await change(db, { roomId: id, seq, userId: identity.userId, emoji }), 200)
    })
  }

  app.openapi(reactions, async (c) => {
    const { id, seq } = c.req.valid('param')
    await requireReadableRoom(db, id, c.get('identity'))
    return c.json({ reactions: await listReactions(db, id, seq) }, 200)
  })
}
