import { createHash, timingSafeEqual } from 'node:crypto'
import type { OpenAPIHono } from '@hono/zod-openapi'
import type { AppDeps } from '../app.js'
import type { AppEnv } from '../env.js'
import { ApiError } from '../errors.js'

const digest = (text: string) => createHash('sha256').update(text).digest()

/**
 * Prometheus text format: counts only, no content, and no private room named. Open like
 * the health checks unless METRICS_TOKEN is set; then the scraper sends it as a bearer token.
 */
export function registerMetrics(app: OpenAPIHono<AppEnv>, { metrics, config }: AppDeps) {
  const expected = config.METRICS_TOKEN === undefined ? undefined : digest(`Bearer ${config.METRICS_TOKEN}`)
  app.get('/metrics', async (c) => {
    if (expected) {
      // Compared as digests: equal lengths, and a constant-time comparison.
      const given = digest(c.env.incoming.headers.authorization ?? '')
      if (!timingSafeEqual(given, expected)) {
        throw new ApiError(401, 'unauthorized', 'The metrics need the METRICS_TOKEN bearer token', {
          'WWW-Authenticate': 'Bearer',
        })
      }
    }
    c.header('Content-Type', metrics.registry.contentType)
    return c.body(await metrics.registry.metrics())
  })
}
