import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { serveStatic } from '@hono/node-server/serve-static'
import type { OpenAPIHono } from '@hono/zod-openapi'
import type { AppDeps } from '../app.js'
import type { AppEnv } from '../env.js'

/**
 * The project's public/ folder (the browser client), found from src/ and from the compiled
 * dist/src/ alike, whatever the working directory; undefined when it was not shipped.
 */
export function resolvePublicFolder(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url))
  while (!existsSync(join(dir, 'public', 'index.html'))) {
    const parent = dirname(dir)
    if (parent === dir) return undefined
    dir = parent
  }
  return join(dir, 'public')
}

/**
 * Only the client's own scripts, styles and connections: were a message ever rendered as
 * HTML by mistake, its inline handlers still would not run.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "img-src 'self' data:",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'self'",
].join('; ')

/**
 * Serves the browser client's files, without a token. Registered after every API route,
 * so only requests no route answered get here; a path that matches no file falls through
 * to the JSON not-found.
 */
export function registerBrowserClient(app: OpenAPIHono<AppEnv>, { publicDir }: AppDeps) {
  if (!publicDir) return
  app.use('/*', async (c, next) => {
    await next()
    c.header('Content-Security-Policy', CONTENT_SECURITY_POLICY)
    c.header('X-Content-Type-Options', 'nosniff')
  })
  app.use('/*', serveStatic({ root: publicDir }))
}
