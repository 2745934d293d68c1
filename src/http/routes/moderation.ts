import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi'
import { listAudit } from '../../chat/audit.js'
import { putMember, toMember } from '../../chat/members.js'
import {
  deleteUserMessages,
  dismissModerator,
  requireTargetable,
  roleOf,
  setSlowMode,
} from '../../chat/moderation.js'
import { requireToken } from '../../chat/rate-limit.js'
import { parseIdCursor } from '../../chat/reports.js'
import { AuditPageSchema, MemberSchema, RoomSchema } from '../../wire.js'
import type { AppDeps } from '../app.js'
import type { AppEnv } from '../env.js'
import { ApiError } from '../errors.js'
import { requireChangeableMembers, requireManagedRoom, requireModeratedRoom } from '../guards.js'
import {
  bearerSecurity,
  cursorParam,
  ErrorSchema,
  errorResponses,
  jsonContent,
  notFoundResponse,
  rateLimitedResponse,
  RoomIdParams,
} from '../schemas.js'

// Moderators, slow mode, deleting a user's messages and the audit log (docs/moderation.md).
// Bans and mutes are in restrictions.ts, reports in reports.ts.

const UserParams = RoomIdParams.extend({
  user_id: z
    .string()
    .min(1, 'must not be empty')
    .max(200, 'must be at most 200 characters')
    .openapi({ param: { name: 'user_id', in: 'path' } }),
})

/** Discord's longest slow mode: six hours. */
export const MAX_SLOW_MODE_SECONDS = 21_600

export const SlowModeBody = z
  .object({
    seconds: z
      .number()
      .int()
      .min(0)
      .max(MAX_SLOW_MODE_SECONDS)
      .openapi({ description: "The least time between two of one user's posts; 0 turns slow mode off" }),
  })
  .openapi('SlowMode')

/** One call deletes at most this many messages; the caller repeats it while `has_more`. */
export const MAX_DELETED_PER_CALL = 1_000

const forbidden = (who: string) => ({
  403: jsonContent(
    ErrorSchema,
    `The caller may read the room but is not one of its ${who}, or the room is a direct message`,
  ),
})

const appoint = createRoute({
  method: 'put',
  path: '/rooms/{id}/moderators/{user_id}',
  summary: 'Appoint a moderator, adding them to the room if need be (owners, admins)',
  security: bearerSecurity,
  request: { params: UserParams },
  responses: {
    200: jsonContent(MemberSchema, 'A member made moderator, or one already'),
    201: jsonContent(MemberSchema, 'Added to the room as moderator'),
    ...errorResponses,
    ...forbidden('owners or admins (or the user is an owner)'),
    ...notFoundResponse,
    ...rateLimitedResponse,
  },
})

const dismiss = createRoute({
  method: 'delete',
  path: '/rooms/{id}/moderators/{user_id}',
  summary: 'Dismiss a moderator: they stay a member (owners, admins)',
  security: bearerSecurity,
  request: { params: UserParams },
  responses: {
    204: { description: 'Dismissed' },
    ...errorResponses,
    ...forbidden('owners or admins'),
    404: jsonContent(ErrorSchema, 'Not a moderator of the room (member_not_found), or no such room'),
    ...rateLimitedResponse,
  },
})

const slowMode = createRoute({
  method: 'put',
  path: '/rooms/{id}/slow-mode',
  summary: "Set the room's slow mode (owners, moderators, admins)",
  security: bearerSecurity,
  request: {
    params: RoomIdParams,
    body: { required: true, content: { 'application/json': { schema: SlowModeBody } } },
  },
  responses: {
    200: jsonContent(RoomSchema, 'The room, with its new slow_mode_seconds'),
    ...errorResponses,
    ...forbidden('owners, moderators or admins'),
    ...notFoundResponse,
    ...rateLimitedResponse,
  },
})

const deleteMessages = createRoute({
  method: 'delete',
  path: '/rooms/{id}/users/{user_id}/messages',
  summary:
    "Delete a user's messages in the room, oldest first, up to `limit` a call (owners, moderators, admins)",
  security: bearerSecurity,
  request: {
    params: UserParams,
    query: z.object({
      limit: z.coerce.number().int().min(1).max(MAX_DELETED_PER_CALL).default(MAX_DELETED_PER_CALL),
    }),
  },
  responses: {
    200: jsonContent(
      z.object({
        deleted: z
          .array(z.number().int())
          .openapi({ description: 'The seqs deleted by this call, each now a tombstone' }),
        has_more: z.boolean().openapi({ description: 'Whether messages are left: call again' }),
      }),
      'What this call deleted',
    ),
    ...errorResponses,
    ...forbidden(
      'owners, moderators or admins (or the user is an owner, or a moderator and the caller no owner)',
    ),
    ...notFoundResponse,
    ...rateLimitedResponse,
  },
})

const audit = createRoute({
  method: 'get',
  path: '/rooms/{id}/audit',
  summary: "A page of the room's moderation audit log, the newest first (owners, moderators, admins)",
  security: bearerSecurity,
  request: {
    params: RoomIdParams,
    query: z.object({
      limit: z.coerce.number().int().min(1).max(200).default(50),
      cursor: cursorParam(parseIdCursor),
    }),
  },
  responses: {
    200: jsonContent(AuditPageSchema, 'The entries'),
    ...errorResponses,
    ...forbidden('owners, moderators or admins'),
    ...notFoundResponse,
  },
})

export function registerModeration(app: OpenAPIHono<AppEnv>, { db, config }: AppDeps) {
  const limit = { count: config.RATE_LIMIT_MODERATION, windowMs: config.RATE_LIMIT_WINDOW_MS }
  const checkRate = (userId: string) =>
    requireToken(db, 'moderation', userId, limit, 'Too many moderation actions')

  app.openapi(appoint, async (c) => {
    const { id, user_id } = c.req.valid('param')
    const identity = c.get('identity')
    requireChangeableMembers(await requireManagedRoom(c.var.db, id, identity))
    // An owner is above a moderator: making one a moderator would demote them.
    if ((await roleOf(c.var.db, id, user_id)) === 'owner') {
      throw new ApiError(403, 'forbidden', `${user_id} is an owner of this room`)
    }
    await checkRate(identity.userId)
    const { member, created } = await putMember(c.var.db, id, user_id, 'moderator', identity.userId)
    return c.json(toMember(member), created ? 201 : 200)
  })

  app.openapi(dismiss, async (c) => {
    const { id, user_id } = c.req.valid('param')
    const identity = c.get('identity')
    requireChangeableMembers(await requireManagedRoom(c.var.db, id, identity))
    await checkRate(identity.userId)
    if (!(await dismissModerator(c.var.db, id, user_id, identity.userId))) {
      throw new ApiError(404, 'member_not_found', `${user_id} is not a moderator of room ${id}`)
    }
    return c.body(null, 204)
  })

  app.openapi(slowMode, async (c) => {
    const { id } = c.req.valid('param')
    const identity = c.get('identity')
    requireChangeableMembers(await requireModeratedRoom(c.var.db, id, identity))
    await checkRate(identity.userId)
    return c.json(await setSlowMode(c.var.db, id, c.req.valid('json').seconds, identity.userId), 200)
  })

  app.openapi(deleteMessages, async (c) => {
    const { id, user_id } = c.req.valid('param')
    const identity = c.get('identity')
    const access = await requireModeratedRoom(c.var.db, id, identity)
    if (user_id !== identity.userId) {
      await requireTargetable(c.var.db, access, identity, user_id, 'delete the messages of')
    }
    await checkRate(identity.userId)
    const { deleted, hasMore } = await deleteUserMessages(
      c.var.db,
      id,
      user_id,
      c.req.valid('query').limit,
      identity.userId,
    )
    return c.json({ deleted, has_more: hasMore }, 200)
  })

  app.openapi(audit, async (c) => {
    const { id } = c.req.valid('param')
    const { limit, cursor } = c.req.valid('query')
    await requireModeratedRoom(c.var.db, id, c.get('identity'))
    const { entries, nextCursor } = await listAudit(c.var.db, id, { limit, before: cursor })
    return c.json({ entries, next_cursor: nextCursor }, 200)
  })
}
