import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi'
import { createSearchAdmission } from '../../chat/search-admission.js'
import { createSearchLimiter } from '../../chat/search-limit.js'
import { parseSearchCursor, searchMessages } from '../../chat/search.js'
import { SearchPageSchema } from '../../wire.js'
import type { AppDeps } from '../app.js'
import type { AppEnv } from '../env.js'
import { rateLimited } from '../errors.js'
import { requireReadableRoom, requireRoomDb } from '../guards.js'
import { bearerSecurity, cursorParam, ErrorSchema, errorResponses, jsonContent } from '../schemas.js'

export const MAX_QUERY_LENGTH = 200

const timestamp = z
  .string()
  .datetime({ offset: true })
  .transform((text) => new Date(text))
  .openapi({ type: 'string', format: 'date-time' })

const SearchQuery = z.object({
  q: z
    .string()
    .trim()
    .min(1, 'is required')
    .max(MAX_QUERY_LENGTH, `must be at most ${MAX_QUERY_LENGTH} characters`)
    .openapi({
      description:
        'Words to find, as in a web search: "a phrase", -excluded, this or that; deplo* finds every word starting deplo',
      example: '"release notes" deplo* -staging',
    }),
  room: z.coerce
    .number()
    .int()
    .min(1)
    .max(Number.MAX_SAFE_INTEGER)
    .optional()
    .openapi({ description: 'Only this room' }),
  from: z.string().trim().min(1).max(200).optional().openapi({ description: "Only this user's messages" }),
  before: timestamp.optional().openapi({ description: 'Only messages created before this time' }),
  after: timestamp.optional().openapi({ description: 'Only messages created after this time' }),
  sort: z
    .enum(['relevance', 'recent'])
    .default('relevance')
    .openapi({ description: 'Best matches first (ts_rank), or newest first' }),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: cursorParam(parseSearchCursor),
})

const search = createRoute({
  method: 'get',
  path: '/search',
  summary: 'Messages matching a query, in the rooms the caller may read',
  security: bearerSecurity,
  request: { query: SearchQuery },
  responses: {
    200: jsonContent(SearchPageSchema, 'The matching messages, with their rooms and snippets'),
    ...errorResponses,
    404: jsonContent(ErrorSchema, 'The room of `room` does not exist or is hidden from the caller'),
    429: jsonContent(ErrorSchema, 'Searching too fast, or too many searches at once; see Retry-After'),
    503: jsonContent(ErrorSchema, '`search_busy`: every search connection is taken; see Retry-After'),
    504: jsonContent(ErrorSchema, '`search_timeout`: the search ran past SEARCH_TIMEOUT_MS'),
  },
})

export function registerSearch(app: OpenAPIHono<AppEnv>, { roomDb, reads, config, shards }: AppDeps) {
  // Per app, so per instance: see createSearchLimiter and createSearchAdmission.
  const limiter = createSearchLimiter({
    count: config.RATE_LIMIT_SEARCHES,
    windowMs: config.RATE_LIMIT_WINDOW_MS,
  })
  const admission = createSearchAdmission({
    running: config.SEARCH_POOL_MAX,
    queued: config.SEARCH_QUEUE_MAX,
    perUser: config.MAX_SEARCHES_PER_USER,
    waitMs: config.SEARCH_TIMEOUT_MS,
  })
  app.openapi(search, async (c) => {
    const { q, room, from, before, after, sort, limit, cursor } = c.req.valid('query')
    const viewer = c.get('identity')
    // Before anything is awaited, so that a burst of requests is counted as it arrives.
    const slot = admission.claim(viewer.userId)
    try {
      const wait = limiter.take(viewer.userId)
      if (wait > 0) throw rateLimited(`Too many searches; try again in ${wait} s`, wait)
      if (room !== undefined) await requireReadableRoom(await requireRoomDb(roomDb, room), room, viewer)
      // Aborted when the client goes away: the search stops waiting, or is cancelled in PostgreSQL.
      const signal = c.req.raw.signal
      await slot.start(signal)
      const request = { q, sort, limit, roomId: room, from, before, after, cursor }
      const page = shards
        ? await searchMessages(await shards.searchPools(room), viewer, config.SEARCH_CONFIG, request, signal)
        : await reads.search((from) => searchMessages(from, viewer, config.SEARCH_CONFIG, request, signal))
      return c.json(page, 200)
    } finally {
      slot.release()
    }
  })
}
