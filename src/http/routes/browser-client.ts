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
 * Serves the browser client's files, without a token. Registered after every API route:
 * a path no route answers and no file matches falls through to the JSON not-found.
 */
export function registerBrowserClient(app: OpenAPIHono<AppEnv>, { publicDir }: AppDeps) {
  if (!publicDir) return
  app.use('/*', serveStatic({ root: publicDir }))
}
