import { afterAll, describe, expect, it } from 'vitest'
import type { Message, Room } from '../../src/wire.js'
import { useTestServer } from '../support/fixtures.js'
import { createRoom, errorCode, signTestToken } from '../support/server.js'
import { openStream, type StreamClient } from '../support/sse.js'
import { until } from '../support/wait.js'

const { server, database } = useTestServer()
const streams: StreamClient[] = []

afterAll(async () => {
  for (const stream of streams) stream.close()
})

/** Posts `body` with a token whose `name` claim is exactly `name`; returns the raw JSON text. */
async function postAs(roomId: number, name: unknown, body = 'hello') {
  const token = await signTestToken({ sub: 'mallory', name })
  const response = await server.request(`/rooms/${roomId}/messages`, {
    method: 'POST',
    body: JSON.stringify({ body }),
    headers: { authorization: `Bearer ${token}` },
  })
  expect(response.status).toBe(201)
  return response.text()
}

async function storedMessage(id: number) {
  const [row] = await database.sql<{ user_name: string; body: string }[]>`
    select user_name, body from messages where id = ${id}`
  return row
}

let rooms = 0
/** A fresh room: each test makes its own. */
const newRoom = (purpose: string) => createRoom(server, `${purpose}-${++rooms}`)

async function subscribe(roomId: number) {
  const before = server.hub.stats().subscribers
  const stream = openStream(server.url, roomId, { token: await server.token('bob') })
  streams.push(stream)
  await stream.opened
  await until(() => server.hub.stats().subscribers > before, 'the subscriber to register')
  return stream
}

describe('display names from the token', () => {
  it.each([
    ['a right-to-left override', 'Al\u202Eice'],
    ['a zero-width space', 'A\u200Blice'],
    ['bidi isolates, marks and a BOM', '\u2067\u200FAl\u2069ice\uFEFF'],
    ['a soft hyphen, a word joiner and a line separator', 'Al\u00ADi\u2060c\u2028e'],
    ['control characters and outer spaces', ' \u0007Ali\u001Bce\u0085 '],
    ['a lone surrogate', 'Al\uD83Dice'],
  ])('stores and streams a name with %s as plain "Alice"', async (_, name) => {
    const roomId = await newRoom('names')
    const stream = await subscribe(roomId)
    const text = await postAs(roomId, name)
    expect(text).toContain('"user_name":"Alice"')
    const posted = JSON.parse(text) as Message
    expect((await storedMessage(posted.id))?.user_name).toBe('Alice')
    await stream.waitFor(1)
    expect(stream.messages[0]?.user_name).toBe('Alice')
  })

  it('falls back to the user id for a name made only of invisible characters', async () => {
    const roomId = await newRoom('names-invisible')
    const posted = JSON.parse(await postAs(roomId, '\u200B\u202E\u2066\u00AD \u0007')) as Message
    expect(posted.user_name).toBe('mallory')
  })

  it('cuts a long name at 100 code points without leaving half an emoji', async () => {
    const roomId = await newRoom('names-long')
    const name = `${'n'.repeat(99)}😀 and more`
    const posted = JSON.parse(await postAs(roomId, name)) as Message
    expect(posted.user_name).toBe(`${'n'.repeat(99)}😀`)
    expect((await storedMessage(posted.id))?.user_name).toBe(`${'n'.repeat(99)}😀`)
  })

  it('keeps a name of 100 emoji whole, counting each as one character', async () => {
    const roomId = await newRoom('names-emoji')
    const posted = JSON.parse(await postAs(roomId, '🎉'.repeat(101))) as Message
    expect(posted.user_name).toBe('🎉'.repeat(100))
  })

  it('keeps right-to-left letters and accents in a name', async () => {
    const roomId = await newRoom('names-rtl')
    const posted = JSON.parse(await postAs(roomId, '\u05E9\u05E8\u05D4 Zoë')) as Message
    expect(posted.user_name).toBe('\u05E9\u05E8\u05D4 Zoë')
  })

  it('signs in on /dev/token with the cleaned name and the user id derived from it', async () => {
    const response = await fetch(`${server.url}/dev/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Al\u202Eice\u200B' }),
    })
    expect(response.status).toBe(200)
    expect(await response.json()).toMatchObject({ user_id: 'alice', user_name: 'Alice' })
  })
})

describe('room names', () => {
  const postRoom = (name: string) =>
    server.request('/rooms', { method: 'POST', body: JSON.stringify({ name }) })

  it('stores a room name without bidi overrides, isolates and zero-width characters', async () => {
    const response = await postRoom('\u202Ebasement\u202C\u200B \u2066vault\u2069\u200D\u2028')
    expect(response.status).toBe(201)
    const text = await response.text()
    expect(text).toContain('"name":"basement vault"')
    const room = JSON.parse(text) as Room
    const [row] = await database.sql<{ name: string }[]>`select name from rooms where id = ${room.id}`
    expect(row?.name).toBe('basement vault')
  })

  it('treats a name that differs only by invisible characters as the same room', async () => {
    await createRoom(server, 'pantry')
    const response = await postRoom('pan\u200Btry\u200E')
    expect([response.status, await errorCode(response)]).toEqual([409, 'name_taken'])
  })

  it('rejects a name made only of invisible characters with 400 validation_failed', async () => {
    const response = await postRoom('\u202E\u200B\u2060\uFEFF\u0007')
    expect([response.status, await errorCode(response)]).toEqual([400, 'validation_failed'])
  })

  it('counts the length after removing invisible characters', async () => {
    const name = 'r'.repeat(100)
    const response = await postRoom(`${name}\u200B\u200B\u202E`)
    expect(response.status).toBe(201)
    expect(((await response.json()) as Room).name).toBe(name)
  })
})

describe('message bodies', () => {
  const post = (roomId: number, body: string) =>
    server.request(`/rooms/${roomId}/messages`, { method: 'POST', body: JSON.stringify({ body }) })

  it('keeps RTL text, bidi marks, newlines, tabs and ZWJ emoji but drops other control characters', async () => {
    const roomId = await newRoom('bodies-controls')
    const body = '\u05E9\u05DC\u05D5\u05DD\u200F\nline\ttwo 👩‍👩‍👧‍👦 \u0007ding\u001B[31m red\u007F\u0085'
    const expected = '\u05E9\u05DC\u05D5\u05DD\u200F\nline\ttwo 👩‍👩‍👧‍👦 ding[31m red'
    const response = await post(roomId, body)
    expect(response.status).toBe(201)
    const text = await response.text()
    expect(text).toContain(`"body":${JSON.stringify(expected)}`)
    const posted = JSON.parse(text) as Message
    expect((await storedMessage(posted.id))?.body).toBe(expected)
  })

  it('makes every typed line break a newline', async () => {
    const roomId = await newRoom('bodies-lines')
    const posted = (await (await post(roomId, 'one\r\ntwo\rthree\nfour')).json()) as Message
    expect(posted.body).toBe('one\ntwo\nthree\nfour')
  })

  it('answers 400 body_required for a body of control characters only', async () => {
    const roomId = await newRoom('bodies-empty')
    const response = await post(roomId, '\u0007\u001B\r\u0008')
    expect([response.status, await errorCode(response)]).toEqual([400, 'body_required'])
  })

  it.each([
    ['NUL', 'before\u0000after'],
    ['a lone surrogate', 'broken \ud83d emoji'],
  ])('still refuses a body with %s as 400 invalid_body', async (_, body) => {
    const roomId = await newRoom('bodies-invalid')
    const response = await post(roomId, body)
    expect([response.status, await errorCode(response)]).toEqual([400, 'invalid_body'])
  })
})
