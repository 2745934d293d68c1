import { z } from 'zod'
import { webhookEventTypes } from './events.js'

// The JSON shapes of the webhook endpoints' API, written once (as src/wire.ts does for chat):
// the answers, the OpenAPI document and the handlers' types are all built from these.

const timestamp = z.string().datetime()

export const WebhookEventTypeSchema = z.enum(webhookEventTypes)

export const WebhookSchema = z
  .object({
    id: z.number().int(),
    owner_id: z.string(),
    url: z.string(),
    rooms: z
      .union([z.array(z.number().int()), z.literal('all')])
      .meta({ description: '"all": every room the owner manages (every room, for an admin), now and later' }),
    events: z.array(WebhookEventTypeSchema),
    enabled: z.boolean(),
    disabled_reason: z
      .string()
      .nullable()
      .meta({ description: 'Why the endpoint was disabled; null while enabled' }),
    previous_secret_expires_at: timestamp
      .nullable()
      .meta({ description: 'After a rotation, until when the previous secret signs too; null otherwise' }),
    created_at: timestamp,
    updated_at: timestamp,
  })
  .meta({ id: 'Webhook' })

export const WebhookWithSecretSchema = WebhookSchema.extend({
  secret: z.string().meta({
    description: 'The signing secret, `whsec_<base64>` (Standard Webhooks): shown only now, keep it',
  }),
}).meta({ id: 'WebhookWithSecret' })

export const WebhookPageSchema = z
  .object({
    webhooks: z.array(WebhookSchema),
    next_cursor: z
      .string()
      .nullable()
      .meta({ description: 'Pass as `cursor` for the next page; null on the last page' }),
  })
  .meta({ id: 'WebhookPage' })

export const WebhookDeliverySchema = z
  .object({
    id: z.number().int(),
    webhook_id: z
      .string()
      .meta({ description: 'The webhook-id header sent: the same for every attempt at one event' }),
    type: z.string(),
    room_id: z.number().int(),
    attempt: z.number().int().meta({ description: 'Which attempt at this event, from 1' }),
    status: z
      .number()
      .int()
      .nullable()
      .meta({ description: 'The HTTP status answered; null when none came' }),
    latency_ms: z.number().int(),
    error: z.string().nullable(),
    next_attempt_at: timestamp
      .nullable()
      .meta({ description: 'When a failed event is tried again; null after a success' }),
    created_at: timestamp,
  })
  .meta({ id: 'WebhookDelivery' })

export const WebhookDeliveryPageSchema = z
  .object({
    deliveries: z.array(WebhookDeliverySchema),
    next_cursor: z
      .string()
      .nullable()
      .meta({ description: 'Pass as `cursor` for the next page; null on the last page' }),
  })
  .meta({ id: 'WebhookDeliveryPage' })

export type Webhook = z.infer<typeof WebhookSchema>
export type WebhookDelivery = z.infer<typeof WebhookDeliverySchema>
