import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi'
import { requireToken } from '../../chat/rate-limit.js'
import { fileReport, listOpenReports, parseIdCursor, resolveReport } from '../../chat/reports.js'
import { ReportPageSchema, ReportSchema } from '../../wire.js'
import type { AppDeps } from '../app.js'
import type { AppEnv } from '../env.js'
import { requireModeratedRoom, requireReadableRoom } from '../guards.js'
import {
  bearerSecurity,
  cursorParam,
  ErrorSchema,
  errorResponses,
  jsonContent,
  MessageParams,
  messageNotFoundResponse,
  notFoundResponse,
  rateLimitedResponse,
  RoomIdParams,
} from '../schemas.js'
import { trimmedText } from '../text.js'

// Reports of messages to the room's moderators (docs/moderation.md).

export const ReportBody = z
  .object({ reason: trimmedText({ field: 'reason', max: 500 }) })
  .openapi('NewReport')

export const ResolveBody = z
  .object({
    resolution: z
      .enum(['dismissed', 'actioned'])
      .openapi({ description: 'dismissed: nothing to do; actioned: something was done about it' }),
    note: trimmedText({ field: 'note', max: 500 }).optional(),
  })
  .openapi('ReportResolution')

const ReportParams = RoomIdParams.extend({
  report_id: z
    .string()
    .regex(/^[0-9]{1,15}$/, 'must be a positive integer')
    .transform(Number)
    .refine((id) => id > 0, 'must be a positive integer')
    .openapi({ param: { name: 'report_id', in: 'path' }, type: 'integer', example: 1 }),
})

const notModerator = {
  403: jsonContent(ErrorSchema, 'The caller may read the room but not moderate it'),
}

const file = createRoute({
  method: 'post',
  path: '/rooms/{id}/messages/{seq}/reports',
  summary: "Report a message to the room's moderators (anyone who may read the room)",
  security: bearerSecurity,
  request: {
    params: MessageParams,
    body: { required: true, content: { 'application/json': { schema: ReportBody } } },
  },
  responses: {
    200: jsonContent(ReportSchema, "The caller's open report of this message, already filed"),
    201: jsonContent(ReportSchema, 'The new report'),
    409: jsonContent(ErrorSchema, 'The message is deleted (message_deleted)'),
    ...errorResponses,
    ...messageNotFoundResponse,
    ...rateLimitedResponse,
  },
})

const list = createRoute({
  method: 'get',
  path: '/rooms/{id}/reports',
  summary: "A page of the room's open reports, the oldest first (owners, moderators, admins)",
  security: bearerSecurity,
  request: {
    params: RoomIdParams,
    query: z.object({
      limit: z.coerce.number().int().min(1).max(200).default(50),
      cursor: cursorParam(parseIdCursor),
    }),
  },
  responses: {
    200: jsonContent(ReportPageSchema, 'The open reports'),
    ...errorResponses,
    ...notModerator,
    ...notFoundResponse,
  },
})

const resolve = createRoute({
  method: 'post',
  path: '/rooms/{id}/reports/{report_id}/resolve',
  summary: 'Resolve a report; one resolved already is answered as it is (owners, moderators, admins)',
  security: bearerSecurity,
  request: {
    params: ReportParams,
    body: { required: true, content: { 'application/json': { schema: ResolveBody } } },
  },
  responses: {
    200: jsonContent(ReportSchema, 'The report, resolved'),
    ...errorResponses,
    ...notModerator,
    404: jsonContent(ErrorSchema, 'No such report in the room (report_not_found), or no such room'),
    ...rateLimitedResponse,
  },
})

export function registerReports(app: OpenAPIHono<AppEnv>, { db, config }: AppDeps) {
  const reportLimit = { count: config.RATE_LIMIT_REPORTS, windowMs: config.RATE_LIMIT_WINDOW_MS }
  const moderationLimit = { count: config.RATE_LIMIT_MODERATION, windowMs: config.RATE_LIMIT_WINDOW_MS }

  app.openapi(file, async (c) => {
    const { id, seq } = c.req.valid('param')
    const identity = c.get('identity')
    await requireReadableRoom(c.var.db, id, identity)
    await requireToken(db, 'report', identity.userId, reportLimit, 'Too many reports')
    const { reason } = c.req.valid('json')
    const { report, created } = await fileReport(c.var.db, {
      roomId: id,
      seq,
      reporterId: identity.userId,
      reason,
    })
    return c.json(report, created ? 201 : 200)
  })

  app.openapi(list, async (c) => {
    const { id } = c.req.valid('param')
    const { limit, cursor } = c.req.valid('query')
    await requireModeratedRoom(c.var.db, id, c.get('identity'))
    const { reports, nextCursor } = await listOpenReports(c.var.db, id, { limit, after: cursor })
    return c.json({ reports, next_cursor: nextCursor }, 200)
  })

  app.openapi(resolve, async (c) => {
    const { id, report_id } = c.req.valid('param')
    const identity = c.get('identity')
    await requireModeratedRoom(c.var.db, id, identity)
    await requireToken(db, 'moderation', identity.userId, moderationLimit, 'Too many moderation actions')
    const { resolution, note } = c.req.valid('json')
    const report = await resolveReport(c.var.db, {
      roomId: id,
      reportId: report_id,
      by: identity.userId,
      resolution,
      note,
    })
    return c.json(report, 200)
  })
}
