import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi'
import { devSignInEnabled } from '../../config.js'
import type { AppDeps } from '../app.js'
import type { AppEnv } from '../env.js'
import { errorResponses, jsonContent } from '../schemas.js'
import { nameText } from '../text.js'

export const DEV_TOKEN_TTL = '1h'

/**
 * The user id for a display name: lowercased, accents dropped, every run of characters
 * other than letters and digits turned into one `-`. "Alice Smith" and "alice  smith!"
 * are the same user, `alice-smith`; a name with no letter or digit has none.
 */
export function userIdFromName(name: string): string {
  return name
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40)
}

export const DevTokenBody = z
  .object({
    name: nameText({ field: 'name', max: 50 }).refine(
      (name) => userIdFromName(name) !== '',
      'name must contain a letter or a digit',
    ),
  })
  .openapi('DevTokenRequest')

export const DevToken = z
  .object({
    token: z.string(),
    user_id: z.string(),
    user_name: z.string(),
    expires_at: z.string().datetime(),
  })
  .openapi('DevToken')

const issue = createRoute({
  method: 'post',
  path: '/dev/token',
  summary: 'Development only: a one-hour token for a display name, no password (absent in production)',
  request: { body: { required: true, content: { 'application/json': { schema: DevTokenBody } } } },
  responses: { 200: jsonContent(DevToken, 'A signed token'), 400: errorResponses[400] },
})

/**
 * Lets the browser client sign in by picking a name. Anyone who can reach it can act as
 * anyone, so it exists only where devSignInEnabled says, and only with a shared secret
 * (HS256) that this server can sign with.
 */
export function registerDev(app: OpenAPIHono<AppEnv>, { auth, config }: AppDeps) {
  const { signToken } = auth
  if (!devSignInEnabled(config) || !signToken) return

  app.openapi(issue, async (c) => {
    const { name } = c.req.valid('json')
    const token = await signToken({ sub: userIdFromName(name), name }, DEV_TOKEN_TTL)
    // Read back through verification, so the answer is exactly what the API will see.
    const identity = await auth.verifyToken(token)
    return c.json(
      {
        token,
        user_id: identity.userId,
        user_name: identity.userName,
        expires_at: new Date(identity.expiresAt).toISOString(),
      },
      200,
    )
  })
}
