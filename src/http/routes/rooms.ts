import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi'
import { roomNotFound } from '../../chat/errors.js'
import { requireRoomAllowed } from '../../chat/rate-limit.js'
import { createRoom, getRoom, listRooms, parseLobbyCursor } from '../../chat/rooms.js'
import { LobbyPageSchema, RoomSchema } from '../../wire.js'
import type { AppDeps } from '../app.js'
import type { AppEnv } from '../env.js'
import { requireReadableRoom } from '../guards.js'
import {
  bearerSecurity,
  cursorParam,
  ErrorSchema,
  errorResponses,
  jsonContent,
  notFoundResponse,
  RoomIdParams,
} from '../schemas.js'
import { nameText } from '../text.js'

export const CreateRoomBody = z
  .object({
    name: nameText({ field: 'name', max: 100 }),
    visibility: z
      .enum(['public', 'private'])
      .default('public')
      .openapi({ description: 'private: only members and admins can see the room' }),
  })
  .openapi('CreateRoom')

export const LobbyQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: cursorParam(parseLobbyCursor),
  q: z
    .string()
    .trim()
    .max(100)
    .optional()
    .openapi({ description: 'Only rooms whose name contains this, ignoring case' }),
  kind: z
    .enum(['room', 'dm'])
    .optional()
    .openapi({ description: 'Only rooms (room) or only direct messages (dm); both when absent' }),
})

const list = createRoute({
  method: 'get',
  path: '/rooms',
  summary: 'A page of the rooms the caller may read, most recently active first',
  security: bearerSecurity,
  request: { query: LobbyQuery },
  responses: {
    200: jsonContent(LobbyPageSchema, 'The rooms'),
    ...errorResponses,
  },
})

const create = createRoute({
  method: 'post',
  path: '/rooms',
  summary: 'Create a room',
  security: bearerSecurity,
  request: { body: { required: true, content: { 'application/json': { schema: CreateRoomBody } } } },
  responses: {
    201: jsonContent(RoomSchema, 'The new room'),
    409: jsonContent(ErrorSchema, 'A room with this name exists'),
    429: jsonContent(ErrorSchema, 'Too many rooms created in the last hour; see Retry-After'),
    ...errorResponses,
  },
})

const get = createRoute({
  method: 'get',
  path: '/rooms/{id}',
  summary: 'Get one room',
  security: bearerSecurity,
  request: { params: RoomIdParams },
  responses: { 200: jsonContent(RoomSchema, 'The room'), ...errorResponses, ...notFoundResponse },
})

export function registerRooms(app: OpenAPIHono<AppEnv>, { db, reads, config, shards }: AppDeps) {
  app.openapi(list, async (c) => {
    const { limit, cursor, q, kind } = c.req.valid('query')
    const request = { limit, after: cursor, q: q || undefined, kind }
    const viewer = c.get('identity')
    const page = shards
      ? await listRooms(
          (await shards.everyShard()).map((shard) => shard.db),
          viewer,
          request,
        )
      : await reads.fresh((from) => listRooms(from, viewer, request))
    return c.json({ rooms: page.rooms, next_cursor: page.nextCursor }, 200)
  })

  app.openapi(create, async (c) => {
    const { name, visibility } = c.req.valid('json')
    const { userId } = c.get('identity')
    await requireRoomAllowed(db, userId, config.ROOMS_PER_HOUR)
    const input = { name, visibility, createdBy: userId }
    if (!shards) return c.json(await createRoom(db, input), 201)
    // Over shards: the catalog gives the room its id and its shard, and forgets both if it is not made.
    const placed = await shards.placeRoom(visibility === 'public' ? name : undefined)
    try {
      return c.json(await createRoom(placed.db, { ...input, id: placed.roomId }), 201)
    } catch (error) {
      await placed.release()
      throw error
    }
  })

  app.openapi(get, async (c) => {
    const { id } = c.req.valid('param')
    await requireReadableRoom(c.var.db, id, c.get('identity'))
    const room = await getRoom(c.var.db, id)
    if (!room) throw roomNotFound(id)
    return c.json(room, 200)
  })
}
