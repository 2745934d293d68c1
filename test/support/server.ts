import pino from 'pino'
import { createAuth } from '../../src/auth/jwt.js'
import { signHs256Token } from '../../src/auth/sign.js'
import { resolveConfig } from '../../src/config.js'
import { type ParleyServer, startServer } from '../../src/server.js'
import type { TestDatabase } from './database.js'

export const TEST_SECRET = 'parley-test-secret-that-is-long-enough-for-hs256'

export interface TestServer extends ParleyServer {
  /** A valid token for `sub` (display name `name`, default: `sub`). */
  token(sub?: string, name?: string, ttl?: string | number): Promise<string>
  /** fetch against the server, with a bearer token for `as` unless it is null. */
  request(path: string, init?: RequestInit & { as?: string | null }): Promise<Response>
}

/** A real Parley instance on an ephemeral port, on the test file's own database. */
export async function startTestServer(
  database: TestDatabase,
  env: Record<string, string> = {},
  auth = createAuth({ key: { kind: 'secret', secret: TEST_SECRET } }),
): Promise<TestServer> {
  // The product's defaults hold, limits included, unless a test sets the variable it is
  // about. A test that needs many posts or streams spreads them over many users instead.
  const config = resolveConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    DB_POOL_MAX: '5',
    ...env,
  })
  const logger = pino({ level: config.LOG_LEVEL })
  const server = await startServer({ config, databaseUrl: database.url, logger, auth })
  const tokens = new Map<string, string>()

  async function token(sub = 'alice', name?: string, ttl: string | number = '1h') {
    const key = `${sub}\0${name}\0${ttl}`
    let value = tokens.get(key)
    if (!value) {
      value = await signTestToken({ sub, name: name ?? sub }, ttl)
      tokens.set(key, value)
    }
    return value
  }

  async function request(path: string, { as = 'alice', ...init }: RequestInit & { as?: string | null } = {}) {
    const headers = new Headers(init.headers)
    if (as !== null && !headers.has('authorization'))
      headers.set('authorization', `Bearer ${await token(as)}`)
    if (typeof init.body === 'string' && !headers.has('content-type'))
      headers.set('content-type', 'application/json')
    return fetch(`${server.url}${path}`, { ...init, headers })
  }

  return { ...server, token, request }
}

/** A token with exactly `claims`, signed with the harness's secret unless `secret` is given. */
export function signTestToken(
  claims: Record<string, unknown>,
  ttl: string | number = '1h',
  secret = TEST_SECRET,
) {
  return signHs256Token(claims, ttl, secret)
}

/** Creates a room through the API and returns its id. */
export async function createRoom(server: TestServer, name: string, as = 'alice'): Promise<number> {
  const response = await server.request('/rooms', { method: 'POST', body: JSON.stringify({ name }), as })
  if (response.status !== 201)
    throw new Error(`creating room ${name}: ${response.status} ${await response.text()}`)
  return ((await response.json()) as { id: number }).id
}

export async function postMessage(server: TestServer, roomId: number, body: string, as = 'alice') {
  return server.request(`/rooms/${roomId}/messages`, { method: 'POST', body: JSON.stringify({ body }), as })
}

/** The `error.code` of an API error response. */
export async function errorCode(response: Response): Promise<string> {
  return ((await response.json()) as { error: { code: string } }).error.code
}
