import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi'
import {
  addReaction,
  deleteMessage,
  editMessage,
  listReactions,
  parseReactionCursor,
  removeReaction,
} from '../../chat/lifecycle.js'
import { requireToken } from '../../chat/rate-limit.js'
import { MessageSchema, ReactionPageSchema } from '../../wire.js'
import type { AppDeps } from '../app.js'
import type { AppEnv } from '../env.js'
import { requireReadableRoom, requireUnmuted } from '../guards.js'
import {
  bearerSecurity,
  cursorParam,
  ErrorSchema,
  errorResponses,
  jsonContent,
  MessageParams,
  messageNotFoundResponse,
  roomMinCursor,
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

const muted = jsonContent(ErrorSchema, 'The caller is muted in the room (muted, with `until`)')

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
    403: jsonContent(
      ErrorSchema,
      'The caller may read the room but is not the author (forbidden), or is muted there (muted, with `until`)',
    ),
    ...errorResponses,
    ...messageNotFoundResponse,
  },
})

const remove = createRoute({
  method: 'delete',
  path: '/rooms/{id}/messages/{seq}',
  summary: "Delete a message, leaving a tombstone (its author, the room's owners and moderators, admins)",
  security: bearerSecurity,
  request: { params: MessageParams },
  responses: {
    204: { description: 'Deleted (or already deleted)' },
    403: refusals[403],
    ...errorResponses,
    ...messageNotFoundResponse,
  },
})

const tooManyReactions = jsonContent(
  ErrorSchema,
  'The message has REACTIONS_PER_MESSAGE different emoji, or the caller REACTIONS_PER_USER_PER_MESSAGE reactions to it (too_many_reactions); or the message is deleted (message_deleted)',
)

const reactionRoute = (method: 'put' | 'delete', summary: string) =>
  createRoute({
    method,
    path: '/rooms/{id}/messages/{seq}/reactions/{emoji}',
    summary,
    security: bearerSecurity,
    request: { params: ReactionParams },
    responses: {
      200: jsonContent(MessageSchema, 'The message with its reaction totals'),
      ...(method === 'put' ? { 403: muted } : {}),
      409: method === 'put' ? tooManyReactions : refusals[409],
      429: refusals[429],
      ...errorResponses,
      ...messageNotFoundResponse,
    },
  })

const react = reactionRoute('put', 'React to a message with one emoji (again: no change)')
const unreact = reactionRoute('delete', 'Take back a reaction (absent: no change)')

// A cursor names the last reaction of its page, emoji and user id included: longer than
// other pages' cursors, but exact (reactions have no id of their own).
export const ReactionsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  cursor: cursorParam(parseReactionCursor, 2_000),
  min_cursor: roomMinCursor,
})

const reactions = createRoute({
  method: 'get',
  path: '/rooms/{id}/messages/{seq}/reactions',
  summary: 'A page of who reacted to a message with what, oldest first',
  security: bearerSecurity,
  request: { params: MessageParams, query: ReactionsQuery },
  responses: {
    200: jsonContent(ReactionPageSchema, 'The reactions'),
    ...errorResponses,
    ...messageNotFoundResponse,
  },
})

export function registerMessageChanges(app: OpenAPIHono<AppEnv>, { db, reads, config }: AppDeps) {
  const limit = { count: config.RATE_LIMIT_CHANGES, windowMs: config.RATE_LIMIT_WINDOW_MS }
  const checkRate = (userId: string) =>
    requireToken(db, 'change', userId, limit, 'Too many edits and reactions')

  app.openapi(edit, async (c) => {
    const { id, seq } = c.req.valid('param')
    const identity = c.get('identity')
    requireUnmuted(await requireReadableRoom(c.var.db, id, identity))
    await checkRate(identity.userId)
    return c.json(await editMessage(c.var.db, id, seq, identity, c.req.valid('json').body), 200)
  })

  app.openapi(remove, async (c) => {
    const { id, seq } = c.req.valid('param')
    const identity = c.get('identity')
    const access = await requireReadableRoom(c.var.db, id, identity)
    await deleteMessage(c.var.db, id, seq, { userId: identity.userId, canModerate: access.canModerate })
    return c.body(null, 204)
  })

  for (const [route, change] of [
    [react, addReaction],
    [unreact, removeReaction],
  ] as const) {
    app.openapi(route, async (c) => {
      const { id, seq, emoji } = c.req.valid('param')
      const identity = c.get('identity')
      const access = await requireReadableRoom(c.var.db, id, identity)
      // A muted user may still take a reaction of theirs back.
      if (change === addReaction) requireUnmuted(access)
      await checkRate(identity.userId)
      return c.json(await change(c.var.db, { roomId: id, seq, userId: identity.userId, emoji }), 200)
    })
  }

  app.openapi(reactions, async (c) => {
    const { id, seq } = c.req.valid('param')
    const { limit, cursor, min_cursor } = c.req.valid('query')
    await requireReadableRoom(c.var.db, id, c.get('identity'))
    const page = await reads.forRoom({ roomId: id, seq, cursor: min_cursor }, (from) =>
      listReactions(from, id, seq, { limit, after: cursor }),
    )
    return c.json(page, 200)
  })
}
