import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi'
import { openDm, requireOther } from '../../chat/dms.js'
import { requireRoomAllowed } from '../../chat/rate-limit.js'
import { RoomSchema } from '../../wire.js'
import type { AppDeps } from '../app.js'
import type { AppEnv } from '../env.js'
import { bearerSecurity, ErrorSchema, errorResponses, jsonContent } from '../schemas.js'
import { nameText, trimmedText } from '../text.js'

export const OpenDmBody = z
  .object({
    user_id: trimmedText({ field: 'user_id', max: 200 }),
    user_name: nameText({ field: 'user_name', max: 100 }).optional().openapi({
      description: 'How the caller sees the other person until they open the conversation themselves',
    }),
  })
  .openapi('OpenDm')

const open = createRoute({
  method: 'post',
  path: '/dms',
  summary: 'The direct-message room of the caller and another user, created the first time either asks',
  security: bearerSecurity,
  request: { body: { required: true, content: { 'application/json': { schema: OpenDmBody } } } },
  responses: {
    200: jsonContent(RoomSchema, 'The existing conversation'),
    201: jsonContent(RoomSchema, 'The new conversation'),
    429: jsonContent(ErrorSchema, 'Too many rooms created in the last hour; see Retry-After'),
    ...errorResponses,
  },
})

export function registerDms(app: OpenAPIHono<AppEnv>, { db, roomDb, config, shards }: AppDeps) {
  app.openapi(open, async (c) => {
    const { user_id, user_name } = c.req.valid('json')
    const { userId, userName } = c.get('identity')
    const caller = { userId, userName }
    const other = { userId: user_id, userName: user_name }
    const beforeCreating = () => requireRoomAllowed(db, userId, config.ROOMS_PER_HOUR)
    if (!shards) {
      const { room, created } = await openDm(db, { caller, other, beforeCreating })
      return c.json(room, created ? 201 : 200)
    }
    // Over shards the catalog records the pair's room; it is created on its shard by whoever comes first.
    requireOther(caller, other)
    const id = await shards.placeDm(userId, user_id, beforeCreating)
    const held = await roomDb(id)
    if (!held) throw new Error(`direct message ${id} has no shard`)
    const { room, created } = await openDm(held, { caller, other, beforeCreating: async () => {}, id })
    return c.json(room, created ? 201 : 200)
  })
}
