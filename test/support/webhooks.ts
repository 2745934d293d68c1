import { expect } from 'vitest'
import type { TestServer } from './server.js'

// Registering endpoints in the webhook tests, and the settings those tests run with.

/** Fast retries and polls, and a receiver on 127.0.0.1 allowed. */
export const WEBHOOK_TEST_ENV = {
  WEBHOOK_ALLOW_PRIVATE: 'true',
  WEBHOOK_RETRY_BASE_MS: '50',
  WEBHOOK_RETRY_MAX_MS: '400',
  WEBHOOK_POLL_MS: '200',
}

export const ALL_EVENTS = [
  'message.created',
  'message.edited',
  'message.deleted',
  'message.reaction',
  'member.added',
  'member.removed',
]

export interface Registered {
  id: number
  secret: string
  url: string
  rooms: number[] | 'all'
  events: string[]
  enabled: boolean
}

/** POST /webhooks as `as`, which must answer 201. */
export async function registerWebhook(
  server: TestServer,
  body: { url: string; rooms: number[] | 'all'; events?: string[] },
  as = 'alice',
): Promise<Registered> {
  const response = await server.request('/webhooks', {
    method: 'POST',
    as,
    body: JSON.stringify({ events: ALL_EVENTS, ...body }),
  })
  const answer = await response.json()
  expect({ status: response.status, answer }).toMatchObject({ status: 201 })
  return answer as Registered
}
