import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi'
import { joinRoom, listMembers, putMember, removeMember, toMember } from '../../chat/members.js'
import { requireToken } from '../../chat/rate-limit.js'
import { MemberSchema, RoomRoleSchema } from '../../wire.js'
import type { AppDeps } from '../app.js'
import type { AppEnv } from '../env.js'
import { ApiError } from '../errors.js'
import { requireChangeableMembers, requireManagedRoom, requireReadableRoom } from '../guards.js'
import {
  bearerSecurity,
  ErrorSchema,
  errorResponses,
  rateLimitedResponse,
  jsonContent,
  notFoundResponse,
  RoomIdParams,
} from '../schemas.js'
import { trimmedText } from '../text.js'

export const AddMemberBody = z
  .object({
    user_id: trimmedText({ field: 'user_id', max: 200 }),
    role: RoomRoleSchema.default('member'),
  })
  .openapi('AddMember')

const MemberParams = RoomIdParams.extend({
  user_id: z
    .string()
    .min(1, 'must not be empty')
    .max(200, 'must be at most 200 characters')
    .openapi({ param: { name: 'user_id', in: 'path' } }),
})

const forbidden = { 403: jsonContent(ErrorSchema, 'The caller may see the room but not manage it') }

const list = createRoute({
  method: 'get',
  path: '/rooms/{id}/members',
  summary: "The room's members",
  security: bearerSecurity,
  request: { params: RoomIdParams },
  responses: {
    200: jsonContent(z.object({ members: z.array(MemberSchema) }), 'The members'),
    ...errorResponses,
    ...notFoundResponse,
  },
})

const add = createRoute({
  method: 'post',
  path: '/rooms/{id}/members',
  summary: 'Add a member or change its role (owners and admins)',
  security: bearerSecurity,
  request: {
    params: RoomIdParams,
    body: { required: true, content: { 'application/json': { schema: AddMemberBody } } },
  },
  responses: {
    200: jsonContent(MemberSchema, 'The existing member, with the role given'),
    201: jsonContent(MemberSchema, 'The new member'),
    ...errorResponses,
    ...rateLimitedResponse,
    ...forbidden,
    ...notFoundResponse,
  },
})

const remove = createRoute({
  method: 'delete',
  path: '/rooms/{id}/members/{user_id}',
  summary: 'Remove a member (owners and admins), or leave (the member itself); closes their streams',
  security: bearerSecurity,
  request: { params: MemberParams },
  responses: {
    204: { description: 'Removed' },
    ...errorResponses,
    ...forbidden,
    404: jsonContent(
      ErrorSchema,
      'No such room (room_not_found), or no such member of it (member_not_found)',
    ),
    ...rateLimitedResponse,
  },
})

const join = createRoute({
  method: 'post',
  path: '/rooms/{id}/join',
  summary: 'Join a public room as a member',
  security: bearerSecurity,
  request: { params: RoomIdParams },
  responses: {
    200: jsonContent(MemberSchema, 'Already a member'),
    201: jsonContent(MemberSchema, 'Joined'),
    ...errorResponses,
    ...rateLimitedResponse,
    ...forbidden,
    ...notFoundResponse,
  },
})

export function registerMembers(app: OpenAPIHono<AppEnv>, { db, config }: AppDeps) {
  const limit = { count: config.RATE_LIMIT_MEMBERSHIPS, windowMs: config.RATE_LIMIT_WINDOW_MS }
  const checkRate = (userId: string) =>
    requireToken(db, 'member', userId, limit, 'Too many membership changes')

  app.openapi(list, async (c) => {
    const { id } = c.req.valid('param')
    await requireReadableRoom(c.var.db, id, c.get('identity'))
    return c.json({ members: (await listMembers(c.var.db, id)).map(toMember) }, 200)
  })

  app.openapi(add, async (c) => {
    const { id } = c.req.valid('param')
    const { user_id, role } = c.req.valid('json')
    requireChangeableMembers(await requireManagedRoom(c.var.db, id, c.get('identity')))
    await checkRate(c.get('identity').userId)
    const { member, created } = await putMember(c.var.db, id, user_id, role, c.get('identity').userId)
    return c.json(toMember(member), created ? 201 : 200)
  })

  app.openapi(remove, async (c) => {
    const { id, user_id } = c.req.valid('param')
    const identity = c.get('identity')
    const access = await requireReadableRoom(c.var.db, id, identity)
    requireChangeableMembers(access)
    // Anyone may leave; removing someone else takes an owner or an admin.
    if (user_id !== identity.userId && !access.canManage) {
      throw new ApiError(403, 'forbidden', 'Only the room’s owners and admins may remove other members')
    }
    await checkRate(identity.userId)
    if (!(await removeMember(c.var.db, id, user_id))) {
      throw new ApiError(404, 'member_not_found', `${user_id} is not a member of room ${id}`)
    }
    return c.body(null, 204)
  })

  app.openapi(join, async (c) => {
    const { id } = c.req.valid('param')
    const identity = c.get('identity')
    // A private room is joined only by being added: to anyone not in it, it does not exist.
    requireChangeableMembers(await requireReadableRoom(c.var.db, id, identity))
    await checkRate(identity.userId)
    const { member, created } = await joinRoom(c.var.db, id, identity.userId)
    return c.json(toMember(member), created ? 201 : 200)
  })
}
