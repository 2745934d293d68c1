import { describe, expect, it } from 'vitest'
import { useTestServer } from '../support/fixtures.js'
import { createRoom, postMessage } from '../support/server.js'

// Values PostgreSQL cannot take (a NUL in text, a year 0, a number beyond `real`) are the
// caller's mistake, whichever parameter carries them: each answers 400, never 500.

const { server } = useTestServer()

const forged = (text: string) => Buffer.from(text).toString('base64url')

async function statusAndCode(path: string, init?: { method?: string }) {
  const response = await server.request(path, init)
  const body = (await response.json()) as { error?: { code: string } }
  return { status: response.status, code: body.error?.code }
}

describe('a value PostgreSQL cannot take', () => {
  it.each([
    ['a NUL in the search words', '/search?q=hello%00world'],
    ['a NUL in the author filter', '/search?q=hello&from=al%00ice'],
    ['a search before year 0', '/search?q=hello&before=0000-01-01T00:00:00Z'],
    ['a search after year 0', '/search?q=hello&after=0000-01-01T00:00:00Z'],
    ['a relevance cursor beyond real', `/search?q=hello&cursor=${forged('relevance|1e39|1')}`],
    [
      'a recent cursor in year 0000',
      `/search?q=hello&sort=recent&cursor=${forged('recent|0000-01-01T00:00:00.000000Z|1')}`,
    ],
    ['a NUL in the lobby filter', '/rooms?q=%00'],
    ['a lobby cursor on an impossible date', `/rooms?cursor=${forged('2026-02-31T00:00:00.000000Z|1')}`],
  ])('answers 400 to %s', async (_, path) => {
    const room = await createRoom(server, `bad-input-${Math.random().toString(36).slice(2, 8)}`)
    await postMessage(server, room, 'hello there')
    expect(await statusAndCode(path)).toEqual({ status: 400, code: 'validation_failed' })
  })

  it('answers 400 to a NUL in a posted message, and stores nothing', async () => {
    const room = await createRoom(server, 'bad-input-post')
    const response = await server.request(`/rooms/${room}/messages`, {
      method: 'POST',
      body: JSON.stringify({ body: 'nul \u0000 inside' }),
    })
    expect({ status: response.status, body: await response.json() }).toMatchObject({
      status: 400,
      body: { error: { code: expect.stringMatching(/^(validation_failed|invalid_body)$/) } },
    })
    const page = await server.request(`/rooms/${room}/messages`)
    expect(((await page.json()) as { messages: unknown[] }).messages).toEqual([])
  })

  it('answers 400 to a NUL as the member to remove', async () => {
    const room = await createRoom(server, 'bad-input-member')
    expect(await statusAndCode(`/rooms/${room}/members/%00`, { method: 'DELETE' })).toEqual({
      status: 400,
      code: 'validation_failed',
    })
  })
})
