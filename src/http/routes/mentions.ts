import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi'
import { listMentions, listMentionsOver, type MentionPositions } from '../../chat/mentions.js'
import { MentionPageSchema } from '../../wire.js'
import type { AppDeps } from '../app.js'
import type { AppEnv } from '../env.js'
import { ApiError } from '../errors.js'
import { bearerSecurity, cursorParam, errorResponses, jsonContent, minCursorParam } from '../schemas.js'

// A page ends before a message id, or over shards before one of each shard ("7.123,8.0");
// handed out as base64url so clients treat it as opaque.
type MentionCursor = { before: number } | { positions: MentionPositions }

function encodeCursor(cursor: MentionCursor): string {
  const text =
    'before' in cursor
      ? String(cursor.before)
      : [...cursor.positions].map(([shard, before]) => `${shard}.${before}`).join(',')
  return Buffer.from(text).toString('base64url')
}

const isId = (n: number, least: number) => Number.isSafeInteger(n) && n >= least

/** The cursor this route handed out, or undefined when `text` is not one. */
function parseCursor(text: string): MentionCursor | undefined {
  const decoded = Buffer.from(text, 'base64url').toString('utf8')
  let cursor: MentionCursor
  if (!decoded.includes('.')) {
    cursor = { before: Number(decoded) }
    if (!isId(cursor.before, 1)) return undefined
  } else {
    const pairs = decoded.split(',').map((pair) => pair.split('.').map(Number))
    if (pairs.some((pair) => pair.length !== 2 || !isId(pair[0]!, 1) || !isId(pair[1]!, 0))) return undefined
    cursor = { positions: new Map(pairs.map(([shard, before]) => [shard!, before!])) }
  }
  return encodeCursor(cursor) === text ? cursor : undefined
}

export const MentionsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  // Over shards, a position for each: about 25 characters a shard.
  cursor: cursorParam(parseCursor, 3_000),
  min_cursor: minCursorParam(
    "The caller's event cursor the client already holds (an `id:` of GET /me/stream, or GET /me/cursor): the answer is never older",
  ),
})

const list = createRoute({
  method: 'get',
  path: '/mentions',
  summary: 'A page of the messages that mention the caller, newest first, in rooms the caller may read',
  security: bearerSecurity,
  request: { query: MentionsQuery },
  responses: { 200: jsonContent(MentionPageSchema, 'The mentions'), ...errorResponses },
})

export function registerMentions(app: OpenAPIHono<AppEnv>, { reads, shards }: AppDeps) {
  app.openapi(list, async (c) => {
    const { limit, cursor, min_cursor } = c.req.valid('query')
    const viewer = c.get('identity')
    // A cursor of one database's shape on a sharded server, or the other way round.
    if (cursor && 'positions' in cursor !== (shards !== undefined)) {
      throw new ApiError(400, 'validation_failed', 'cursor: is not a next_cursor this server handed out')
    }
    if (shards) {
      const positions = cursor && 'positions' in cursor ? cursor.positions : undefined
      const page = await listMentionsOver(await shards.everyShard(), viewer, { limit, positions })
      const next = page.next ? encodeCursor({ positions: page.next }) : null
      return c.json({ mentions: page.mentions, next_cursor: next }, 200)
    }
    const before = cursor && 'before' in cursor ? cursor.before : undefined
    const page = await reads.forUser({ userId: viewer.userId, cursor: min_cursor }, (from) =>
      listMentions(from, viewer, { limit, before }),
    )
    const next = page.nextBefore === undefined ? null : encodeCursor({ before: page.nextBefore })
    return c.json({ mentions: page.mentions, next_cursor: next }, 200)
  })
}
