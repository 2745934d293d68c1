import type { OpenAPIHono } from '@hono/zod-openapi'
import type { AppDeps } from '../app.js'
import type { AppEnv } from '../env.js'

/** Prometheus text format. Unauthenticated like the health checks: counts only, no content. */
export function registerMetrics(app: OpenAPIHono<AppEnv>, { metrics }: AppDeps) {
  app.get('/metrics', async (c) => {
    c.header('Content-Type', metrics.registry.contentType)
    return c.body(await metrics.registry.metrics())
  })
}
