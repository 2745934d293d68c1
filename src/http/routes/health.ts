import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi'
import type { AppDeps } from '../app.js'
import type { AppEnv } from '../env.js'
import { jsonContent } from '../schemas.js'

export const HealthStatus = z.object({
  status: z.enum(['ok', 'unavailable']),
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

export function registerHealth(app: OpenAPIHono<AppEnv>, { pingDatabase, listener }: AppDeps) {
  app.openapi(healthz, (c) => c.json({ status: 'ok' as const }, 200))
  app.openapi(readyz, async (c) => {
    const checks = { database: await pingDatabase(), listener: listener.isReady() }
    const ready = checks.database && checks.listener
    if (ready) return c.json({ status: 'ok' as const, checks }, 200)
    // As every 503 does: the listener and the pool retry within seconds.
    c.header('Retry-After', '2')
    return c.json({ status: 'unavailable' as const, checks }, 503)
  })
}
