import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi'
import { perHour, requireToken } from '../../chat/rate-limit.js'
import {
  createEndpoint,
  deleteEndpoint,
  getEndpoint,
  listDeliveries,
  listEndpoints,
  rotateSecret,
  updateEndpoint,
} from '../../webhooks/endpoints.js'
import {
  WebhookDeliveryPageSchema,
  WebhookEventTypeSchema,
  WebhookPageSchema,
  WebhookSchema,
  WebhookWithSecretSchema,
} from '../../webhooks/wire.js'
import type { AppDeps } from '../app.js'
import type { AppEnv } from '../env.js'
import { ApiError } from '../errors.js'
import {
  bearerSecurity,
  cursorParam,
  ErrorSchema,
  errorResponses,
  jsonContent,
  rateLimitedResponse,
} from '../schemas.js'

const MAX_ROOMS = 100

const RoomsField = z
  .union([
    z.array(z.number().int().min(1).max(Number.MAX_SAFE_INTEGER)).min(1).max(MAX_ROOMS),
    z.literal('all'),
  ])
  .openapi({
    description: `Room ids (at most ${MAX_ROOMS}) the caller manages, or "all": every room it manages (every room, for an admin), now and later`,
  })

const EventsField = z
  .array(WebhookEventTypeSchema)
  .min(1)
  .openapi({ description: 'The event types to send; the others are passed over' })

const UrlField = z
  .string()
  .openapi({ description: 'https: or http:, at most 2048 characters, not leading to a private address' })

export const CreateWebhookBody = z
  .object({ url: UrlField, rooms: RoomsField, events: EventsField, enabled: z.boolean().default(true) })
  .openapi('CreateWebhook')

export const UpdateWebhookBody = z
  .object({
    url: UrlField.optional(),
    rooms: RoomsField.optional(),
    events: EventsField.optional(),
    enabled: z
      .boolean()
      .optional()
      .openapi({ description: 'true resumes a disabled endpoint where it stopped' }),
  })
  .refine(
    (body) => Object.values(body).some((value) => value !== undefined),
    'name at least one field to change',
  )
  .openapi('UpdateWebhook')

const WebhookParams = z.object({
  webhook_id: z
    .string()
    .regex(/^[0-9]{1,15}$/, 'must be a positive integer')
    .transform(Number)
    .refine((id) => id > 0, 'must be a positive integer')
    .openapi({ param: { name: 'webhook_id', in: 'path' }, type: 'integer', example: 1 }),
})

const parseId = (text: string) => (/^[1-9][0-9]{0,14}$/.test(text) ? Number(text) : undefined)

const PageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(50),
  cursor: cursorParam(parseId),
})

const notFound = { 404: jsonContent(ErrorSchema, 'No such webhook, or not the caller’s (webhook_not_found)') }
const roomRefusals = {
  403: jsonContent(
    ErrorSchema,
    'A room the caller may see but does not manage, or a direct message (forbidden)',
  ),
  422: jsonContent(
    ErrorSchema,
    'The URL leads to a loopback, private, link-local or reserved address (url_not_allowed)',
  ),
}

const create = createRoute({
  method: 'post',
  path: '/webhooks',
  summary:
    'Register a webhook endpoint for rooms the caller manages; its secret is shown only in this answer',
  security: bearerSecurity,
  request: { body: { required: true, content: { 'application/json': { schema: CreateWebhookBody } } } },
  responses: {
    201: jsonContent(WebhookWithSecretSchema, 'The endpoint, with its signing secret'),
    ...errorResponses,
    ...roomRefusals,
    404: jsonContent(ErrorSchema, 'A room the caller may not see (room_not_found)'),
    409: jsonContent(ErrorSchema, 'The caller owns as many webhooks as one may (too_many_webhooks)'),
    ...rateLimitedResponse,
    501: jsonContent(
      ErrorSchema,
      'Rooms are spread over shards, where webhooks are not delivered (webhooks_unavailable)',
    ),
  },
})

const list = createRoute({
  method: 'get',
  path: '/webhooks',
  summary: 'A page of the caller’s webhook endpoints (every endpoint, for an admin)',
  security: bearerSecurity,
  request: { query: PageQuery },
  responses: { 200: jsonContent(WebhookPageSchema, 'The endpoints, by id'), ...errorResponses },
})

const get = createRoute({
  method: 'get',
  path: '/webhooks/{webhook_id}',
  summary: 'One webhook endpoint (its owner and admins)',
  security: bearerSecurity,
  request: { params: WebhookParams },
  responses: { 200: jsonContent(WebhookSchema, 'The endpoint'), ...errorResponses, ...notFound },
})

const update = createRoute({
  method: 'patch',
  path: '/webhooks/{webhook_id}',
  summary: 'Change a webhook endpoint’s URL, rooms, events, or whether it is enabled',
  security: bearerSecurity,
  request: {
    params: WebhookParams,
    body: { required: true, content: { 'application/json': { schema: UpdateWebhookBody } } },
  },
  responses: {
    200: jsonContent(WebhookSchema, 'The endpoint'),
    ...errorResponses,
    ...roomRefusals,
    404: jsonContent(
      ErrorSchema,
      'No such webhook (webhook_not_found), or a room the caller may not see (room_not_found)',
    ),
  },
})

const remove = createRoute({
  method: 'delete',
  path: '/webhooks/{webhook_id}',
  summary: 'Delete a webhook endpoint and its delivery log',
  security: bearerSecurity,
  request: { params: WebhookParams },
  responses: { 204: { description: 'Deleted' }, ...errorResponses, ...notFound },
})

const rotate = createRoute({
  method: 'post',
  path: '/webhooks/{webhook_id}/rotate-secret',
  summary: 'A new signing secret; the previous one keeps signing too for WEBHOOK_ROTATION_GRACE_MS',
  security: bearerSecurity,
  request: { params: WebhookParams },
  responses: {
    200: jsonContent(WebhookWithSecretSchema, 'The endpoint, with its new secret'),
    ...errorResponses,
    ...notFound,
  },
})

const deliveries = createRoute({
  method: 'get',
  path: '/webhooks/{webhook_id}/deliveries',
  summary: 'A page of an endpoint’s delivery attempts, newest first',
  security: bearerSecurity,
  request: { params: WebhookParams, query: PageQuery },
  responses: {
    200: jsonContent(WebhookDeliveryPageSchema, 'The attempts'),
    ...errorResponses,
    ...notFound,
  },
})

export function registerWebhooks(app: OpenAPIHono<AppEnv>, { db, config, shards }: AppDeps) {
  const sql = db.$client
  const limits = {
    perUser: config.WEBHOOKS_PER_USER,
    allowPrivate: config.WEBHOOK_ALLOW_PRIVATE,
    rotationGraceMs: config.WEBHOOK_ROTATION_GRACE_MS,
  }

  app.openapi(create, async (c) => {
    // Endpoints and their lanes live on DATABASE_URL, and a lane is read with its room's
    // tables: rooms on other shards would be refused as missing, or ("all") never delivered.
    if (shards) {
      throw new ApiError(
        501,
        'webhooks_unavailable',
        'Webhooks are not delivered while rooms are spread over shards',
      )
    }
    const identity = c.get('identity')
    await requireToken(
      db,
      'webhook',
      identity.userId,
      perHour(config.WEBHOOKS_PER_HOUR),
      'Too many new webhooks',
    )
    return c.json(await createEndpoint(db, identity, c.req.valid('json'), limits), 201)
  })

  app.openapi(list, async (c) => {
    const { limit, cursor } = c.req.valid('query')
    const page = await listEndpoints(sql, c.get('identity'), { limit, after: cursor })
    return c.json({ webhooks: page.webhooks, next_cursor: page.nextCursor }, 200)
  })

  app.openapi(get, async (c) => {
    return c.json(await getEndpoint(sql, c.get('identity'), c.req.valid('param').webhook_id), 200)
  })

  app.openapi(update, async (c) => {
    const id = c.req.valid('param').webhook_id
    return c.json(await updateEndpoint(db, c.get('identity'), id, c.req.valid('json'), limits), 200)
  })

  app.openapi(remove, async (c) => {
    await deleteEndpoint(sql, c.get('identity'), c.req.valid('param').webhook_id)
    return c.body(null, 204)
  })

  app.openapi(rotate, async (c) => {
    const id = c.req.valid('param').webhook_id
    return c.json(await rotateSecret(sql, c.get('identity'), id, limits.rotationGraceMs), 200)
  })

  app.openapi(deliveries, async (c) => {
    const { limit, cursor } = c.req.valid('query')
    const page = await listDeliveries(sql, c.get('identity'), c.req.valid('param').webhook_id, {
      limit,
      before: cursor,
    })
    return c.json({ deliveries: page.deliveries, next_cursor: page.nextCursor }, 200)
  })
}
