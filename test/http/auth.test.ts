import { SignJWT } from 'jose'
import { describe, expect, it } from 'vitest'
import { bearer, expectRooms, expectUnauthorized, getRooms } from '../support/authorization.js'
import { useTestServer } from '../support/fixtures.js'
import { createRoom, signTestToken, TEST_SECRET } from '../support/server.js'

// How a request carries its token (src/http/authenticate.ts) and what the server takes
// from it. Which keys and claims verification accepts is in test/auth/jwt.

const { server } = useTestServer()

const nowS = () => Math.floor(Date.now() / 1000)

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')

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

describe('every endpoint the API document marks as needing a token', () => {
  it('answers 401 without one, whatever its path', async () => {
    const document = (await (await fetch(`${server.url}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { security?: unknown[] }>>
    }
    const guarded = Object.entries(document.paths).flatMap(([path, operations]) =>
      Object.entries(operations)
        .filter(([, operation]) => (operation.security ?? []).length > 0)
        .map(([method, operation]) => ({ method: method.toUpperCase(), path, operation })),
    )
    expect(guarded.length).toBeGreaterThan(20)
    for (const { method, path } of guarded) {
      const url = `${server.url}${path.replace(/\{[^}]+\}/g, '1')}`
      const body = method === 'GET' || method === 'DELETE' ? undefined : '{}'
      const response = await fetch(url, { method, body, headers: { 'content-type': 'application/json' } })
      await response.body?.cancel()
      expect(`${method} ${path} ${response.status}`).toBe(`${method} ${path} 401`)
    }
  })
})
