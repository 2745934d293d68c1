import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response'
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi'
import type { AppDeps } from '../app.js'
import type { AppEnv } from '../env.js'
import type { UserFeed } from '../../realtime/user-feed.js'
import { bearerSecurity, errorResponses, jsonContent } from '../schemas.js'
import {
  accessToken,
  eventStream,
  lastEventId,
  parseUserAfter,
  refuseStream,
  type StreamCall,
  streamCallOf,
  streamRefusals,
  streamTicket,
} from './stream.js'

export const UserStreamQuery = z.object({
  ticket: streamTicket,
  access_token: accessToken,
  last_event_id: z.string().optional().openapi({
    description: 'Replay the events after this cursor first; a Last-Event-ID header takes precedence',
  }),
})

const userStream = createRoute({
  method: 'get',
  path: '/me/stream',
  summary: 'Server-Sent Events of what concerns the caller across rooms; resumes after Last-Event-ID',
  security: bearerSecurity,
  request: { query: UserStreamQuery },
  responses: {
    200: eventStream(
      '`retry:` first; `id: <cursor>` frames of `event: mention`, `dm` (`{room,message}`), `added` (`{room}`) and `removed` (`{room_id}`); `: ping` heartbeats; `expired` or `shutdown` before the server closes it',
    ),
    ...errorResponses,
    ...streamRefusals,
  },
})

const MyCursorSchema = z
  .object({
    cursor: z.union([z.number().int(), z.string()]).openapi({
      description:
        "The caller's position: their newest event cursor; over shards, every shard's, `place:cursor,…` (a string)",
    }),
  })
  .openapi('MyCursor')

const myCursor = createRoute({
  method: 'get',
  path: '/me/cursor',
  summary:
    "The caller's newest event cursor: open GET /me/stream with it as Last-Event-ID and nothing after it is missed, even across a reconnect",
  security: bearerSecurity,
  responses: { 200: jsonContent(MyCursorSchema, 'The cursor'), 401: errorResponses[401] },
})

export function registerMe(app: OpenAPIHono<AppEnv>, { userFeed }: AppDeps) {
  app.openapi(myCursor, async (c) =>
    c.json({ cursor: await userFeed.position(c.get('identity').userId) }, 200),
  )

  app.openapi(userStream, async (c) => {
    const after = parseUserAfter(lastEventId(c.env.incoming.headers, c.req.valid('query').last_event_id))
    await openUserStream(userFeed, streamCallOf(c), after)
    return RESPONSE_ALREADY_SENT as never
  })
}

/** Hands the stream to the user feed; resolves once it is under way or has ended, throws what refused it. */
export async function openUserStream(
  userFeed: UserFeed,
  call: StreamCall,
  after: Map<number, number> | undefined,
) {
  const refusal = await userFeed.open({ ...call, after })
  if (refusal) throw refuseStream(refusal)
}
