import { describe, expect, it } from 'vitest'
import { createAuth, type Identity, InvalidTokenError } from '../../src/auth/jwt.js'
import { useTestServer } from '../support/fixtures.js'
import { createRoom, signTestToken, TEST_SECRET } from '../support/server.js'

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

/**
 * Spellings of `token` that a lenient base64url decoder reads as the same bytes. An HS256
 * signature is 32 bytes in 43 characters, so the last character has two unused low bits.
 */
function respellings(token: string): [string, string][] {
  const last = token.at(-1) ?? 'A'
  const index = BASE64URL.indexOf(last)
  const head = token.slice(0, -1)
  return [
    ['its lowest unused bit flipped', head + BASE64URL[index ^ 1]],
    ['its other unused bit flipped', head + BASE64URL[index ^ 2]],
    ['= padding', `${token}=`],
    ['a space in the signature', `${token.slice(0, -6)} ${token.slice(-6)}`],
    ['a newline in the signature', `${token.slice(0, -6)}\n${token.slice(-6)}`],
    ['a tab and padding', `${token.slice(0, -3)}\t${token.slice(-3)}=`],
  ]
}

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

describe('non-canonical tokens over HTTP', () => {
  const auth = createAuth({ key: { kind: 'secret', secret: TEST_SECRET } })
  const { server } = useTestServer({ auth })

  const getRooms = (token: string) =>
    fetch(`${server.url}/rooms`, { headers: { authorization: `Bearer ${token}` } })

  it.each([['its lowest unused bit flipped'], ['its other unused bit flipped'], ['= padding']])(
    'answers 401 to a valid token with %s, and remembers nothing for it',
    async (which) => {
      const token = await signTestToken({ sub: 'alice' })
      expect((await getRooms(token)).status).toBe(200)
      const remembered = auth.cachedTokens()
      const [, variant] = respellings(token).find(([name]) => name === which) ?? []
      const response = await getRooms(variant ?? '')
      expect(response.status).toBe(401)
      expect(response.headers.get('www-authenticate')).toBe('Bearer')
      expect(((await response.json()) as { error: { message: string } }).error.message).toBe(
        'The token is malformed',
      )
      expect(auth.cachedTokens()).toBe(remembered)
      expect((await getRooms(token)).status).toBe(200)
    },
  )

  it('answers 401 to a valid token with whitespace in ?access_token=, and remembers nothing for it', async () => {
    const roomId = await createRoom(server, 'query-token')
    const token = await signTestToken({ sub: 'alice' })
    const stream = (spelling: string) =>
      fetch(`${server.url}/rooms/${roomId}/stream?access_token=${encodeURIComponent(spelling)}`)
    const canonical = await stream(token)
    expect(canonical.status).toBe(200)
    await canonical.body?.cancel()
    const remembered = auth.cachedTokens()
    for (const [, variant] of respellings(token)) {
      const response = await stream(variant)
      await response.body?.cancel()
      expect([variant, response.status]).toEqual([variant, 401])
    }
    expect(auth.cachedTokens()).toBe(remembered)
  })
})

describe('createAuth and token spellings', () => {
  it('refuses every non-canonical spelling as malformed and still accepts the canonical token', async () => {
    const auth = createAuth({ key: { kind: 'secret', secret: TEST_SECRET } })
    const token = await signTestToken({ sub: 'alice' })
    const refusals = await Promise.all(
      respellings(token).map(([, variant]) => outcome(auth.verifyToken(variant))),
    )
    expect(refusals).toEqual(respellings(token).map(() => 'The token is malformed'))
    expect(auth.cachedTokens()).toBe(0)
    expect(await outcome(auth.verifyToken(token))).toBe('accepted')
    expect(auth.cachedTokens()).toBe(1)
  })

  it.each([
    ['four segments', (token: string) => `${token}.AAAA`],
    ['an empty segment', (token: string) => token.replace(/\.[^.]+\./, '..')],
    ['standard base64 characters', (token: string) => token.replace(/-|_/g, (c) => (c === '-' ? '+' : '/'))],
    ['a segment of one character', (token: string) => `${token.split('.').slice(0, 2).join('.')}.A`],
  ])('refuses a token with %s as malformed', async (_, spell) => {
    const auth = createAuth({ key: { kind: 'secret', secret: TEST_SECRET } })
    let token = await signTestToken({ sub: 'alice' })
    // Make sure the standard-alphabet case has a character to change.
    while (!/[-_]/.test(token)) token = await signTestToken({ sub: 'alice', nonce: Math.random() })
    expect(await outcome(auth.verifyToken(spell(token)))).toBe('The token is malformed')
  })

  it('refuses a correctly signed token longer than 8 KB without remembering it', async () => {
    const auth = createAuth({ key: { kind: 'secret', secret: TEST_SECRET } })
    const token = await signTestToken({ sub: 'alice', padding: 'x'.repeat(6_200) })
    expect(token.length).toBeGreaterThan(8_192)
    expect(await outcome(auth.verifyToken(token))).toBe('The token is malformed')
    expect(auth.cachedTokens()).toBe(0)
  })

  it('keeps a real user’s entry while a flood of spellings of another token arrives', async () => {
    const auth = createAuth({ key: { kind: 'secret', secret: TEST_SECRET }, cacheEntries: 2 })
    const alice = await signTestToken({ sub: 'alice' })
    const mallory = await signTestToken({ sub: 'mallory' })
    const remembered = await auth.verifyToken(alice)
    const flood = [...respellings(mallory)]
    for (let i = 1; i <= 50; i++) {
      flood.push([`${i} spaces`, `${mallory.slice(0, -4)}${' '.repeat(i)}${mallory.slice(-4)}`])
    }
    for (const [, variant] of flood) await outcome(auth.verifyToken(variant))
    expect(auth.cachedTokens()).toBe(1)
    // The very object the cache holds comes back: alice's entry was not evicted and re-verified.
    expect(await auth.verifyToken(alice)).toBe(remembered)
  })
})
