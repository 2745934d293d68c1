import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi'
import { TICKET_TTL_S } from '../../auth/tickets.js'
import { StreamTicketSchema } from '../../wire.js'
import type { AppDeps } from '../app.js'
import type { AppEnv } from '../env.js'
import { bearerSecurity, errorResponses, jsonContent, rateLimitedResponse } from '../schemas.js'

const issue = createRoute({
  method: 'post',
  path: '/stream-tickets',
  summary: `A single-use ticket that opens one stream within ${TICKET_TTL_S} seconds, so that the token stays out of stream URLs`,
  description:
    'Pass it as `?ticket=` to `GET /rooms/{id}/stream` or `GET /stream`. The stream is the caller’s, and ends with `event: expired` when the token that bought the ticket expires. A ticket is spent by the first stream request that presents it, on any instance; buy a new one for every reconnect.',
  security: bearerSecurity,
  request: {
    body: {
      required: false,
      content: { 'application/json': { schema: z.object({}).openapi('StreamTicketRequest') } },
    },
  },
  responses: {
    201: jsonContent(StreamTicketSchema, 'A new ticket'),
    ...errorResponses,
    ...rateLimitedResponse,
  },
})

export function registerStreamTickets(app: OpenAPIHono<AppEnv>, { tickets }: AppDeps) {
  app.openapi(issue, async (c) => c.json(await tickets.issue(c.get('identity')), 201))
}
