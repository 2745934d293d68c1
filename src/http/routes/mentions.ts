import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi'
import { listMentions } from '../../chat/mentions.js'
import { MentionPageSchema } from '../../wire.js'
import type { AppDeps } from '../app.js'
import type { AppEnv } from '../env.js'
import { bearerSecurity, cursorParam, errorResponses, jsonContent, minCursorParam } from '../schemas.js'

// A page ends before a message id; handed out as base64url so clients treat it as opaque.
const encodeCursor = (messageId: number) => Buffer.from(String(messageId)).toString('base64url')

/** The message id a cursor this route handed out ends before, or undefined when it is not one. */
function parseCursor(text: string): number | undefined {
  const id = Number(Buffer.from(text, 'base64url').toString('utf8'))
  return Number.isSafeInteger(id) && id >= 1 && encodeCursor(id) === text ? id : undefined
}

export const MentionsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: cursorParam(parseCursor),
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

export function registerMentions(app: OpenAPIHono<AppEnv>, { reads }: AppDeps) {
  app.openapi(list, async (c) => {
    const { limit, cursor, min_cursor } = c.req.valid('query')
    const viewer = c.get('identity')
    const page = await reads.forUser({ userId: viewer.userId, cursor: min_cursor }, (from) =>
      listMentions(from, viewer, { limit, before: cursor }),
    )
    const next = page.nextBefore === undefined ? null : encodeCursor(page.nextBefore)
    return c.json({ mentions: page.mentions, next_cursor: next }, 200)
  })
}
