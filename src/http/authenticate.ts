import { createMiddleware } from 'hono/factory'
import { type Auth, type Identity, InvalidTokenError } from '../auth/jwt.js'
import type { AppEnv } from './env.js'
import { ApiError } from './errors.js'

const unauthorized = (message: string) =>
  new ApiError(401, 'unauthorized', message, { 'WWW-Authenticate': 'Bearer' })

/**
 * Resolves the caller from `Authorization: Bearer`. On paths matching `queryTokenPaths`
 * also from `?access_token=`, for EventSource, which cannot send headers.
 */
export function authenticate(auth: Auth, { queryTokenPaths }: { queryTokenPaths?: RegExp } = {}) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const allowQueryToken = queryTokenPaths?.test(c.req.path) ?? false
    // From Node's request, not c.req.header(): that builds a web Headers copy which, for a
    // stream, @hono/node-server keeps alive as long as the connection.
    const header = c.env.incoming.headers.authorization
    let token: string | undefined
    if (header !== undefined) {
      const match = /^Bearer\s+(\S+)\s*$/i.exec(header)
      if (!match?.[1]) throw unauthorized('The Authorization header must be "Bearer <token>"')
      token = match[1]
    } else if (allowQueryToken) {
      token = c.req.query('access_token') || undefined
    }
    if (!token) throw unauthorized('A bearer token is required')
    c.set('identity', await verify(auth, token))
    await next()
  })
}

async function verify(auth: Auth, token: string): Promise<Identity> {
  try {
    return await auth.verifyToken(token)
  } catch (error) {
    if (error instanceof InvalidTokenError) throw unauthorized(error.reason)
    throw error
  }
}
