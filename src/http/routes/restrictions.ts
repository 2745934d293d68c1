import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi'
import { requireTargetable } from '../../chat/moderation.js'
import { requireToken } from '../../chat/rate-limit.js'
import {
  impose,
  lift,
  listRestrictions,
  parseRestrictionCursor,
  type RestrictionKind,
} from '../../chat/restrictions.js'
import { BanPageSchema, MutePageSchema, RestrictionSchema } from '../../wire.js'
import type { AppDeps } from '../app.js'
import type { AppEnv } from '../env.js'
import { requireChangeableMembers, requireModeratedRoom } from '../guards.js'
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
import { trimmedText } from '../text.js'

// Bans and mutes (docs/moderation.md): the same four calls for each, by the room's owners,
// moderators and admins.

/** Ten years: long enough for "for good", short enough for any timestamp. */
const MAX_DURATION_SECONDS = 10 * 365 * 86_400

export const RestrictionBody = z
  .object({
    reason: trimmedText({ field: 'reason', max: 500 }).optional(),
    duration_seconds: z
      .number()
      .int()
      .min(1)
      .max(MAX_DURATION_SECONDS)
      .optional()
      .openapi({ description: 'How long it lasts; until lifted when absent' }),
  })
  .openapi('RestrictionRequest')

const TargetParams = RoomIdParams.extend({
  user_id: z
    .string()
    .min(1, 'must not be empty')
    .max(200, 'must be at most 200 characters')
    .openapi({ param: { name: 'user_id', in: 'path' } }),
})

const PageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: cursorParam(parseRestrictionCursor, 400),
})

const forbidden = {
  403: jsonContent(
    ErrorSchema,
    'The caller may read the room but not moderate it, or may not act on this user (themselves, an owner, a moderator unless an owner), or the room is a direct message',
  ),
}

const what = {
  ban: {
    plural: 'bans',
    put: 'Ban a user from the room, for a time or until lifted: their streams of it close with `removed`, and the room answers them 404',
    missing: 'No ban in force (ban_not_found), or no such room',
  },
  mute: {
    plural: 'mutes',
    put: 'Mute a user in the room, for a time or until lifted: they read, but posting, editing, reacting and replying answer 403 `muted`',
    missing: 'No mute in force (mute_not_found), or no such room',
  },
} as const

function routesOf(kind: RestrictionKind) {
  const { plural, put, missing } = what[kind]
  return {
    put: createRoute({
      method: 'put',
      path: `/rooms/{id}/${plural}/{user_id}`,
      summary: `${put} (owners, moderators, admins)`,
      security: bearerSecurity,
      request: {
        params: TargetParams,
        body: { required: true, content: { 'application/json': { schema: RestrictionBody } } },
      },
      responses: {
        200: jsonContent(RestrictionSchema, `The ${kind} in force, replaced`),
        201: jsonContent(RestrictionSchema, `The new ${kind}`),
        ...errorResponses,
        ...forbidden,
        ...notFoundResponse,
        ...rateLimitedResponse,
      },
    }),
    lift: createRoute({
      method: 'delete',
      path: `/rooms/{id}/${plural}/{user_id}`,
      summary: `Lift a ${kind} (owners, moderators, admins)`,
      security: bearerSecurity,
      request: { params: TargetParams },
      responses: {
        204: { description: 'Lifted' },
        ...errorResponses,
        ...forbidden,
        404: jsonContent(ErrorSchema, missing),
        ...rateLimitedResponse,
      },
    }),
  }
}

const listRoute = <T extends z.ZodType>(plural: string, page: T) =>
  createRoute({
    method: 'get',
    path: `/rooms/{id}/${plural}`,
    summary: `A page of the room's ${plural} in force, the newest first (owners, moderators, admins)`,
    security: bearerSecurity,
    request: { params: RoomIdParams, query: PageQuery },
    responses: {
      200: jsonContent(page, `The ${plural}`),
      ...errorResponses,
      ...forbidden,
      ...notFoundResponse,
    },
  })

const listBans = listRoute('bans', BanPageSchema)
const listMutes = listRoute('mutes', MutePageSchema)

export function registerRestrictions(app: OpenAPIHono<AppEnv>, { db, config }: AppDeps) {
  const limit = { count: config.RATE_LIMIT_MODERATION, windowMs: config.RATE_LIMIT_WINDOW_MS }
  const checkRate = (userId: string) =>
    requireToken(db, 'moderation', userId, limit, 'Too many moderation actions')

  for (const kind of ['ban', 'mute'] as const) {
    const routes = routesOf(kind)

    app.openapi(routes.put, async (c) => {
      const { id, user_id } = c.req.valid('param')
      const { reason, duration_seconds } = c.req.valid('json')
      const identity = c.get('identity')
      const access = await requireModeratedRoom(c.var.db, id, identity)
      requireChangeableMembers(access)
      await requireTargetable(c.var.db, access, identity, user_id, kind)
      await checkRate(identity.userId)
      const { restriction, created } = await impose(c.var.db, kind, {
        roomId: id,
        userId: user_id,
        seconds: duration_seconds,
        reason,
        by: identity.userId,
      })
      return c.json(restriction, created ? 201 : 200)
    })

    app.openapi(routes.lift, async (c) => {
      const { id, user_id } = c.req.valid('param')
      const identity = c.get('identity')
      const access = await requireModeratedRoom(c.var.db, id, identity)
      requireChangeableMembers(access)
      await requireTargetable(c.var.db, access, identity, user_id, `un${kind}`)
      await checkRate(identity.userId)
      await lift(c.var.db, kind, id, user_id, identity.userId)
      return c.body(null, 204)
    })
  }

  app.openapi(listBans, async (c) => {
    const { id } = c.req.valid('param')
    const { limit, cursor } = c.req.valid('query')
    await requireModeratedRoom(c.var.db, id, c.get('identity'))
    const { items, nextCursor } = await listRestrictions(c.var.db, 'ban', id, { limit, after: cursor })
    return c.json({ bans: items, next_cursor: nextCursor }, 200)
  })

  app.openapi(listMutes, async (c) => {
    const { id } = c.req.valid('param')
    const { limit, cursor } = c.req.valid('query')
    await requireModeratedRoom(c.var.db, id, c.get('identity'))
    const { items, nextCursor } = await listRestrictions(c.var.db, 'mute', id, { limit, after: cursor })
    return c.json({ mutes: items, next_cursor: nextCursor }, 200)
  })
}
