import { describe, expect, it } from 'vitest'
import { createAuth, type Identity, InvalidTokenError } from '../../src/auth/jwt.js'
import { createTokenCache } from '../../src/auth/token-cache.js'
import { signTestToken, TEST_SECRET } from '../support/server.js'
import { until } from '../support/wait.js'

const nowS = () => Math.floor(Date.now() / 1000)

/** The reason verification gave, or 'accepted'. */
async function outcome(verify: Promise<Identity>): Promise<string> {
  try {
    await verify
    return 'accepted'
  } catch (error) {
    if (error instanceof InvalidTokenError) return error.reason
    throw error
  }
}

describe('verified tokens', () => {
  it('refuses a token it accepted once the token expires', async () => {
    const auth = createAuth({ key: { kind: 'secret', secret: TEST_SECRET }, clockToleranceS: 0 })
    const token = await signTestToken({ sub: 'alice' }, nowS() + 2)
    expect(await outcome(auth.verifyToken(token))).toBe('accepted')
    expect(await outcome(auth.verifyToken(token))).toBe('accepted')
    await until(
      async () => (await outcome(auth.verifyToken(token))) === 'The token has expired',
      'the expired token to be refused',
      5_000,
    )
  })

  it('verifies a token that differs from an accepted one by its signature', async () => {
    const auth = createAuth({ key: { kind: 'secret', secret: TEST_SECRET } })
    const token = await signTestToken({ sub: 'alice' }, '1h')
    expect(await outcome(auth.verifyToken(token))).toBe('accepted')
    // A character inside the signature, where every bit is data (the last one has spare bits).
    const at = token.length - 5
    const tampered = token.slice(0, at) + (token[at] === 'A' ? 'B' : 'A') + token.slice(at + 1)
    expect(await outcome(auth.verifyToken(tampered))).toBe('The token signature is invalid')
  })

  it('gives the same identity for a remembered token as for a fresh verification', async () => {
    const token = await signTestToken({ sub: 'bob', name: 'Bob' }, '1h')
    const cached = createAuth({ key: { kind: 'secret', secret: TEST_SECRET } })
    const uncached = createAuth({ key: { kind: 'secret', secret: TEST_SECRET }, cacheEntries: 0 })
    await cached.verifyToken(token)
    expect(await cached.verifyToken(token)).toEqual(await uncached.verifyToken(token))
  })

  it('verifies a token that many requests bring at once only once, and a bad one fails them all', async () => {
    const auth = createAuth({ key: { kind: 'secret', secret: TEST_SECRET } })
    const token = await signTestToken({ sub: 'storm' }, '1h')
    const identities = await Promise.all(Array.from({ length: 50 }, () => auth.verifyToken(token)))
    // One verification made one identity, which every request got.
    expect(new Set(identities).size).toBe(1)
    expect(identities[0]).toMatchObject({ userId: 'storm' })

    const tampered = `${token.slice(0, -2)}${token.endsWith('AA') ? 'BA' : 'AA'}`
    const reasons = await Promise.all(Array.from({ length: 5 }, () => outcome(auth.verifyToken(tampered))))
    expect(reasons).toEqual(Array(5).fill('The token signature is invalid'))
    expect(await outcome(auth.verifyToken(tampered))).toBe('The token signature is invalid')
  })
})

describe('createTokenCache', () => {
  const identity = (expiresAt: number): Identity => ({
    userId: 'alice',
    userName: 'alice',
    expiresAt,
    isAdmin: false,
  })

  it('forgets the oldest token past its size', () => {
    const cache = createTokenCache({ maxEntries: 2, maxAgeMs: 60_000 })
    for (const token of ['a', 'b', 'c']) cache.set(token, identity(10_000_000), 1_000)
    expect([cache.get('a', 1_000), cache.get('b', 1_000)?.userId, cache.get('c', 1_000)?.userId]).toEqual([
      undefined,
      'alice',
      'alice',
    ])
    expect(cache.size()).toBe(2)
  })

  it('trusts an entry for at most maxAgeMs, and never past the token’s expiry', () => {
    const cache = createTokenCache({ maxEntries: 10, maxAgeMs: 1_000 })
    cache.set('long', identity(10_000_000), 0)
    cache.set('short', identity(500), 0)
    expect([cache.get('long', 999)?.userId, cache.get('short', 499)?.userId]).toEqual(['alice', 'alice'])
    expect([cache.get('long', 1_000), cache.get('short', 500)]).toEqual([undefined, undefined])
    expect(cache.size()).toBe(0)
  })

  it('does not remember a token that has already expired', () => {
    const cache = createTokenCache({ maxEntries: 10, maxAgeMs: 1_000 })
    cache.set('stale', identity(100), 200)
    expect(cache.size()).toBe(0)
  })
})
