import { createMiddleware } from 'hono/factory'
import { type Auth, type Identity, InvalidTokenError } from '../auth/jwt.js'
import type { AppEnv } from './env.js'
import { ApiError } from './errors.js'

const unauthorized = (message: string) =>
  new ApiError(401, 'unauthorized', message, { 'WWW-Authenticate': 'Bearer' })

export interface AuthenticateOptions {
  /** The stream paths, which also accept `?ticket=` and `?access_token=`. */
  queryTokenPaths?: RegExp
  /** The identity a stream ticket was bought with, spending it; undefined if unknown, used or expired. */
  redeemTicket?: (ticket: string) => Promise<Identity | undefined>
}

/** Where a request's credentials may be: the Authorization header, and on stream paths the query. */
export interface Credentials {
  header: string | undefined
  /** A query parameter's value; absent on paths that take no token in the URL. */
  query?: (name: 'ticket' | 'access_token') => string | undefined
}

/**
 * The caller of a request, from `Authorization: Bearer`, or, when `query` is given (the
 * stream paths, for EventSource, which cannot send headers), from `?ticket=` (a single-use
 * stream ticket, so that what URLs leak into logs opens nothing) or else `?access_token=`.
 * The header wins over both, and then a ticket in the URL is left unspent.
 */
export async function identify(
  auth: Auth,
  { header, query }: Credentials,
  redeemTicket?: AuthenticateOptions['redeemTicket'],
): Promise<Identity> {
  let token: string | undefined
  if (header !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header)
    if (!match?.[1]) throw unauthorized('The Authorization header must be "Bearer <token>"')
    token = match[1]
  } else if (query) {
    const ticket = query('ticket')
    if (ticket !== undefined && redeemTicket) {
      const identity = await redeemTicket(ticket)
      if (!identity) throw unauthorized('The stream ticket is unknown, already used or expired')
      return identity
    }
    token = query('access_token') || undefined
  }
  if (!token) throw unauthorized('A bearer token is required')
  return verify(auth, token)
}

/** Sets the caller (see `identify`) for the routes behind it; `queryTokenPaths` are the stream paths. */
export function authenticate(auth: Auth, { queryTokenPaths, redeemTicket }: AuthenticateOptions = {}) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const allowQueryToken = queryTokenPaths?.test(c.req.path) ?? false
    // From Node's request, not c.req.header(): that builds a web Headers copy which, for a
    // stream, @hono/node-server keeps alive as long as the connection.
    const credentials = {
      header: c.env.incoming.headers.authorization,
      query: allowQueryToken ? (name: string) => c.req.query(name) : undefined,
    }
    c.set('identity', await identify(auth, credentials, redeemTicket))
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
