import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type CryptoKey, exportJWK, exportSPKI, generateKeyPair, SignJWT } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type AuthOptions, createAuth } from '../../src/auth/jwt.js'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import {
  createRoom,
  signTestToken,
  startTestServer,
  TEST_SECRET,
  type TestServer,
} from '../support/server.js'

let database: TestDatabase
let server: TestServer
const extraServers: TestServer[] = []

beforeAll(async () => {
  database = await createTestDatabase()
  server = await startTestServer(database)
})

afterAll(async () => {
  await Promise.all([server, ...extraServers].map((s) => s?.close()))
  await database?.drop()
})

/** A second Parley instance on the same database, verifying tokens with `options`. */
async function startServerWith(options: AuthOptions): Promise<TestServer> {
  const started = await startTestServer(database, {}, createAuth(options))
  extraServers.push(started)
  return started
}

const nowS = () => Math.floor(Date.now() / 1000)

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')

function getRooms(target: TestServer, authorization?: string): Promise<Response> {
  return target.request('/rooms', { as: null, headers: authorization ? { authorization } : {} })
}

const bearer = (token: string) => `Bearer ${token}`

async function expectUnauthorized(response: Response): Promise<string> {
  expect(response.status).toBe(401)
  expect(response.headers.get('www-authenticate')).toBe('Bearer')
  const body = (await response.json()) as { error: { message: string } }
  expect(body).toEqual({ error: { code: 'unauthorized', message: expect.any(String) } })
  expect(body.error.message.length).toBeGreaterThan(0)
  return body.error.message
}

async function expectRooms(response: Response) {
  expect(response.status).toBe(200)
  expect(await response.json()).toEqual({ rooms: expect.any(Array) })
}

describe('Authorization header', () => {
  it('lets a valid HS256 bearer token list rooms', async () => {
    await expectRooms(await getRooms(server, bearer(await server.token('alice'))))
  })

  it('accepts the scheme name in any case', async () => {
    await expectRooms(await getRooms(server, `bearer ${await server.token('alice')}`))
  })

  it('rejects a request without an Authorization header', async () => {
    expect(await expectUnauthorized(await getRooms(server))).toBe('A bearer token is required')
  })

  it.each([
    ['a scheme other than Bearer', 'Token abc'],
    ['Bearer with no token', 'Bearer'],
    ['two tokens', 'Bearer abc def'],
  ])('rejects a header with %s', async (_case, header) => {
    expect(await expectUnauthorized(await getRooms(server, header))).toBe(
      'The Authorization header must be "Bearer <token>"',
    )
  })

  it('rejects a token that is not a JWT', async () => {
    expect(await expectUnauthorized(await getRooms(server, 'Bearer abc.def'))).toBe('The token is malformed')
  })

  it('rejects a token signed with another secret', async () => {
    const token = await signTestToken({ sub: 'alice' }, '1h', 'another-secret-that-is-also-long-enough-x')
    expect(await expectUnauthorized(await getRooms(server, bearer(token)))).toBe(
      'The token signature is invalid',
    )
  })

  it('rejects an unsecured token with alg "none"', async () => {
    const payload = { sub: 'alice', name: 'alice', iat: nowS(), exp: nowS() + 3600 }
    const token = `${base64url({ alg: 'none', typ: 'JWT' })}.${base64url(payload)}.`
    await expectUnauthorized(await getRooms(server, bearer(token)))
  })

  it('rejects a token that expired more than the 5 s clock tolerance ago', async () => {
    const token = await signTestToken({ sub: 'alice' }, nowS() - 60)
    expect(await expectUnauthorized(await getRooms(server, bearer(token)))).toBe('The token has expired')
  })

  it('accepts a token that expired within the clock tolerance', async () => {
    const token = await signTestToken({ sub: 'alice' }, nowS() - 1)
    await expectRooms(await getRooms(server, bearer(token)))
  })

  it('rejects a token without exp', async () => {
    const token = await new SignJWT({ sub: 'alice' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuedAt()
      .sign(new TextEncoder().encode(TEST_SECRET))
    expect(await expectUnauthorized(await getRooms(server, bearer(token)))).toBe(
      'The token\'s "exp" claim is missing or not accepted',
    )
  })

  it('rejects a token without sub', async () => {
    const token = await signTestToken({ name: 'Alice' })
    expect(await expectUnauthorized(await getRooms(server, bearer(token)))).toBe(
      'The token\'s "sub" claim is missing or not accepted',
    )
  })

  it('rejects a token whose sub is blank', async () => {
    const token = await signTestToken({ sub: '   ' })
    expect(await expectUnauthorized(await getRooms(server, bearer(token)))).toBe(
      'The token has an empty subject',
    )
  })
})

describe('?access_token=', () => {
  it('is accepted on GET /rooms/:id/stream', async () => {
    const roomId = await createRoom(server, 'query-token')
    const url = new URL(`${server.url}/rooms/${roomId}/stream`)
    url.searchParams.set('access_token', await server.token('bob'))
    const aborter = new AbortController()
    try {
      const response = await fetch(url, { signal: aborter.signal })
      expect(response.status).toBe(200)
      expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
    } finally {
      aborter.abort()
    }
  })

  it('rejects an invalid token on GET /rooms/:id/stream', async () => {
    const roomId = await createRoom(server, 'query-token-invalid')
    const token = await signTestToken({ sub: 'bob' }, '1h', 'another-secret-that-is-also-long-enough-x')
    const response = await fetch(`${server.url}/rooms/${roomId}/stream?access_token=${token}`)
    expect(await expectUnauthorized(response)).toBe('The token signature is invalid')
  })

  it('is accepted on GET /stream?rooms=, which needs a token like every room route', async () => {
    const roomId = await createRoom(server, 'query-token-multi')
    const anonymous = await fetch(`${server.url}/stream?rooms=${roomId}`)
    expect(await expectUnauthorized(anonymous)).toBe('A bearer token is required')
    const aborter = new AbortController()
    try {
      const token = await server.token('bob')
      const response = await fetch(`${server.url}/stream?rooms=${roomId}&access_token=${token}`, {
        signal: aborter.signal,
      })
      expect(response.status).toBe(200)
      expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
    } finally {
      aborter.abort()
    }
  })

  it.each(['/rooms', '/rooms/1', '/rooms/1/messages'])('is not accepted on GET %s', async (path) => {
    const token = await server.token('alice')
    const response = await fetch(`${server.url}${path}?access_token=${token}`)
    expect(await expectUnauthorized(response)).toBe('A bearer token is required')
  })
})

describe('issuer and audience', () => {
  let strict: TestServer
  const signed = (claims: Record<string, unknown>) => signTestToken({ sub: 'alice', ...claims })

  beforeAll(async () => {
    strict = await startServerWith({
      key: { kind: 'secret', secret: TEST_SECRET },
      issuer: 'https://issuer.test',
      audience: 'parley',
    })
  })

  it('accepts a token with the configured iss and aud', async () => {
    const token = await signed({ iss: 'https://issuer.test', aud: 'parley' })
    await expectRooms(await getRooms(strict, bearer(token)))
  })

  it('rejects a token from another issuer', async () => {
    const token = await signed({ iss: 'https://elsewhere.test', aud: 'parley' })
    expect(await expectUnauthorized(await getRooms(strict, bearer(token)))).toBe(
      'The token\'s "iss" claim is missing or not accepted',
    )
  })

  it('rejects a token for another audience', async () => {
    const token = await signed({ iss: 'https://issuer.test', aud: 'someone-else' })
    expect(await expectUnauthorized(await getRooms(strict, bearer(token)))).toBe(
      'The token\'s "aud" claim is missing or not accepted',
    )
  })

  it('rejects a token without iss and aud', async () => {
    await expectUnauthorized(await getRooms(strict, bearer(await signed({}))))
  })
})

describe('public keys', () => {
  it('verifies an RS256 token with the configured RSA public key', async () => {
    const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true })
    const rsa = await startServerWith({ key: { kind: 'public-key', pem: await exportSPKI(publicKey) } })
    const token = await new SignJWT({ sub: 'alice' })
      .setProtectedHeader({ alg: 'RS256' })
      .setExpirationTime('1h')
      .sign(privateKey)
    await expectRooms(await getRooms(rsa, bearer(token)))
  })

  it('verifies an ES256 token with the configured EC public key', async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true })
    const ec = await startServerWith({ key: { kind: 'public-key', pem: await exportSPKI(publicKey) } })
    const token = await new SignJWT({ sub: 'alice' })
      .setProtectedHeader({ alg: 'ES256' })
      .setExpirationTime('1h')
      .sign(privateKey)
    await expectRooms(await getRooms(ec, bearer(token)))
  })

  it('rejects an HS256 token whose secret is the text of the RSA public key', async () => {
    const { publicKey } = await generateKeyPair('RS256', { extractable: true })
    const pem = await exportSPKI(publicKey)
    const rsa = await startServerWith({ key: { kind: 'public-key', pem } })
    const forged = await signTestToken({ sub: 'mallory' }, '1h', pem)
    expect(await expectUnauthorized(await getRooms(rsa, bearer(forged)))).toBe(
      'The token is signed with a disallowed algorithm',
    )
  })
})

describe('JWKS', () => {
  const kid = 'parley-test-key'
  let jwksServer: Server
  let jwks: TestServer
  let privateKey: CryptoKey

  beforeAll(async () => {
    const pair = await generateKeyPair('RS256', { extractable: true })
    privateKey = pair.privateKey
    const body = JSON.stringify({ keys: [{ ...(await exportJWK(pair.publicKey)), kid, alg: 'RS256' }] })
    jwksServer = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(body)
    })
    await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve))
    const { port } = jwksServer.address() as AddressInfo
    jwks = await startServerWith({
      key: { kind: 'jwks', url: `http://127.0.0.1:${port}/.well-known/jwks.json` },
    })
  })

  afterAll(async () => {
    await new Promise((resolve) => jwksServer?.close(resolve))
  })

  const signRs256 = (key: CryptoKey, keyId: string) =>
    new SignJWT({ sub: 'alice' })
      .setProtectedHeader({ alg: 'RS256', kid: keyId })
      .setExpirationTime('1h')
      .sign(key)

  it('verifies a token signed with the key the JWKS publishes under its kid', async () => {
    await expectRooms(await getRooms(jwks, bearer(await signRs256(privateKey, kid))))
  })

  it('rejects a token signed with another key under the same kid', async () => {
    const other = await generateKeyPair('RS256')
    expect(
      await expectUnauthorized(await getRooms(jwks, bearer(await signRs256(other.privateKey, kid)))),
    ).toBe('The token signature is invalid')
  })

  it('rejects a token whose kid the JWKS does not publish', async () => {
    const other = await generateKeyPair('RS256')
    const token = await signRs256(other.privateKey, 'unknown-key')
    expect(await expectUnauthorized(await getRooms(jwks, bearer(token)))).toBe('No key matches the token')
  })
})

describe('message author', () => {
  async function post(roomId: number, token: string, body: Record<string, unknown>) {
    const response = await server.request(`/rooms/${roomId}/messages`, {
      method: 'POST',
      as: null,
      headers: { authorization: bearer(token) },
      body: JSON.stringify(body),
    })
    expect(response.status).toBe(201)
    return (await response.json()) as { user_id: string; user_name: string }
  }

  it('takes the display name from the name claim', async () => {
    const roomId = await createRoom(server, 'author-name')
    const message = await post(roomId, await signTestToken({ sub: 'alice', name: 'Alice Liddell' }), {
      body: 'hello',
    })
    expect(message).toMatchObject({ user_id: 'alice', user_name: 'Alice Liddell' })
  })

  it.each([
    ['has no name claim', {}],
    ['has a blank name claim', { name: '  ' }],
  ])('falls back to sub when the token %s', async (_case, claims) => {
    const roomId = await createRoom(server, `author-fallback-${Object.keys(claims).length}`)
    const message = await post(roomId, await signTestToken({ sub: 'bob', ...claims }), { body: 'hello' })
    expect(message).toMatchObject({ user_id: 'bob', user_name: 'bob' })
  })

  it('ignores user_id and user_name in the body: the author comes from the token', async () => {
    const roomId = await createRoom(server, 'author-spoof')
    const message = await post(roomId, await signTestToken({ sub: 'carol', name: 'Carol' }), {
      body: 'not mallory',
      user_id: 'mallory',
      user_name: 'Mallory',
    })
    expect(message).toMatchObject({ user_id: 'carol', user_name: 'Carol', body: 'not mallory' })
  })
})
