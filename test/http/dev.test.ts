import { exportSPKI, generateKeyPair } from 'jose'
import { beforeAll, describe, expect, it } from 'vitest'
import { createAuth } from '../../src/auth/jwt.js'
import { userIdFromName } from '../../src/http/routes/dev.js'
import { useTestServer } from '../support/fixtures.js'
import { errorCode, type TestServer } from '../support/server.js'

const { server: development, startServer } = useTestServer()
let production: TestServer

beforeAll(async () => {
  production = await startServer({ NODE_ENV: 'production' })
})

function requestToken(server: TestServer, body: unknown) {
  return server.request('/dev/token', { method: 'POST', body: JSON.stringify(body), as: null })
}

describe('POST /dev/token in development', () => {
  it('signs a one-hour token for a name, without a token of its own', async () => {
    const response = await requestToken(development, { name: '  Alice Smith ' })
    expect(response.status).toBe(200)
    const issued = (await response.json()) as Record<string, string>
    expect(issued).toEqual({
      token: expect.any(String),
      user_id: 'alice-smith',
      user_name: 'Alice Smith',
      expires_at: expect.any(String),
    })
    const ttlS = (Date.parse(issued.expires_at!) - Date.now()) / 1000
    expect(ttlS).toBeGreaterThan(3590)
    expect(ttlS).toBeLessThanOrEqual(3600)
    const identity = await development.auth.verifyToken(issued.token!)
    expect(identity).toMatchObject({ userId: 'alice-smith', userName: 'Alice Smith', isAdmin: false })
  })

  it('issues a token the API accepts', async () => {
    const { token } = (await (await requestToken(development, { name: 'bob' })).json()) as { token: string }
    const response = await development.request('/rooms', {
      as: null,
      headers: { authorization: `Bearer ${token}` },
    })
    expect(response.status).toBe(200)
  })

  it.each([{}, { name: '' }, { name: '   ' }, { name: '!!!' }, { name: 'x'.repeat(51) }])(
    'answers 400 validation_failed to %j',
    async (body) => {
      const response = await requestToken(development, body)
      expect(response.status).toBe(400)
      expect(await errorCode(response)).toBe('validation_failed')
    },
  )

  it('is listed in /openapi.json', async () => {
    const spec = (await (await development.request('/openapi.json', { as: null })).json()) as {
      paths: Record<string, unknown>
    }
    expect(Object.keys(spec.paths)).toContain('/dev/token')
  })
})

describe('POST /dev/token elsewhere', () => {
  it('does not exist in production', async () => {
    const response = await requestToken(production, { name: 'mallory' })
    expect(response.status).toBe(404)
    expect(await errorCode(response)).toBe('not_found')
    const spec = (await (await production.request('/openapi.json', { as: null })).json()) as {
      paths: Record<string, unknown>
    }
    expect(Object.keys(spec.paths)).not.toContain('/dev/token')
  })

  it('does not exist when the server verifies with a public key and cannot sign', async () => {
    const { publicKey } = await generateKeyPair('ES256')
    const auth = createAuth({ key: { kind: 'public-key', pem: await exportSPKI(publicKey) } })
    const verifyOnly = await startServer({}, auth)
    try {
      const response = await requestToken(verifyOnly, { name: 'mallory' })
      expect(response.status).toBe(404)
    } finally {
      await verifyOnly.close()
    }
  })
})

describe('userIdFromName', () => {
  it.each([
    ['Alice', 'alice'],
    ['Alice Smith', 'alice-smith'],
    ['  zoë  o’Brien! ', 'zoe-o-brien'],
    ['Łukasz', 'łukasz'],
    ['山田', '山田'],
    ['R2-D2', 'r2-d2'],
    ['---', ''],
  ])('turns %j into %j', (name, userId) => {
    expect(userIdFromName(name)).toBe(userId)
  })
})

describe('the browser client', () => {
  it('is served at / without a token, in production too', async () => {
    for (const server of [development, production]) {
      const response = await server.request('/', { as: null })
      expect(response.status).toBe(200)
      expect(response.headers.get('content-type')).toMatch(/^text\/html/)
      expect(response.headers.get('content-security-policy')).toContain("default-src 'self'")
      expect(await response.text()).toContain('<title>Parley</title>')
    }
  })

  it('serves its modules as JavaScript', async () => {
    const response = await development.request('/app.js', { as: null })
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toMatch(/^text\/javascript/)
  })

  it('leaves unknown paths to the JSON not-found and API paths to the API', async () => {
    const missing = await development.request('/no-such-file.js', { as: null })
    expect(missing.status).toBe(404)
    expect(await errorCode(missing)).toBe('not_found')
    const rooms = await development.request('/rooms', { as: null })
    expect(rooms.status).toBe(401)
    const traversal = await development.request('/..%2fpackage.json', { as: null })
    expect(traversal.status).toBe(404)
  })
})
