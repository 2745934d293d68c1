import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi'
import type { AppDeps } from '../app.js'
import type { AppEnv } from '../env.js'
import { jsonContent } from '../schemas.js'

export const HealthStatus = z.object({
  /** `degraded`: ready, but a shard is not heard, so its rooms wait (docs/sharding.md). */
  status: z.enum(['ok', 'degraded', 'unavailable']),
  checks: z.record(z.string(), z.boolean()).optional(),
})

const healthz = createRoute({
  method: 'get',
  path: '/healthz',
  summary: 'Liveness: the process answers',
  responses: { 200: jsonContent(HealthStatus, 'Alive') },
})

const readyz = createRoute({
  method: 'get',
  path: '/readyz',
  summary: 'Readiness: the database answers and live delivery is listening',
  responses: { 200: jsonContent(HealthStatus, 'Ready'), 503: jsonContent(HealthStatus, 'Not ready') },
})

export function registerHealth(
  app: OpenAPIHono<AppEnv>,
  { pingDatabase, listener, shards: sharded }: AppDeps,
) {
  app.openapi(healthz, (c) => c.json({ status: 'ok' as const }, 200))
  app.openapi(readyz, async (c) => {
    const checks = { database: await pingDatabase(), listener: listener.isReady() }
    const ready = checks.database && checks.listener
    // A shard that is down holds up only its own rooms: every instance is as ready as the
    // others for the rest, so a load balancer is told, not made to drop them all.
    const shards = sharded?.readiness() ?? {}
    const status = Object.values(shards).every(Boolean) ? ('ok' as const) : ('degraded' as const)
    if (ready) return c.json({ status, checks: { ...checks, ...shards } }, 200)
    // As every 503 does: the listener and the pool retry within seconds.
    c.header('Retry-After', '2')
    return c.json({ status: 'unavailable' as const, checks }, 503)
  })
}
