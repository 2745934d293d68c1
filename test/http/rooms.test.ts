import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { MessageView } from '../../src/chat/messages.js'
import type { RoomView } from '../../src/chat/rooms.js'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { createRoom, postMessage, startTestServer, type TestServer } from '../support/server.js'

let database: TestDatabase
let server: TestServer

beforeAll(async () => {
  database = await createTestDatabase()
  server = await startTestServer(database)
})

afterAll(async () => {
  await server?.close()
  await database?.drop()
})

const ISO_MILLIS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/

function postRoom(body: unknown, as = 'alice') {
  return server.request('/rooms', { method: 'POST', body: JSON.stringify(body), as })
}

async function expectError(response: Response, status: number, code: string) {
  expect({ status: response.status, body: await response.json() }).toEqual({
    status,
    body: { error: { code, message: expect.any(String) } },
  })
}

async function getRoom(id: number): Promise<RoomView> {
  const response = await server.request(`/rooms/${id}`)
  expect(response.status).toBe(200)
  return (await response.json()) as RoomView
}

async function lobby(): Promise<RoomView[]> {
  const response = await server.request('/rooms')
  expect(response.status).toBe(200)
  return ((await response.json()) as { rooms: RoomView[] }).rooms
}

/** The lobby's order restricted to `ids`: other tests' rooms share the database. */
async function lobbyOrderOf(ids: number[]): Promise<number[]> {
  return (await lobby()).map((room) => room.id).filter((id) => ids.includes(id))
}

async function insertDirectly(roomId: number, body: string) {
  await database.sql`insert into messages (room_id, user_id, user_name, body) values (${roomId}, 'ops', 'Ops', ${body})`
}

describe('POST /rooms', () => {
  it('creates a room owned by the caller with no messages yet', async () => {
    const response = await postRoom({ name: 'kitchen' }, 'carol')
    expect(response.status).toBe(201)
    const room = (await response.json()) as RoomView
    expect(room).toEqual({
      id: expect.any(Number),
      name: 'kitchen',
      visibility: 'public',
      created_by: 'carol',
      created_at: expect.stringMatching(ISO_MILLIS),
      last_seq: 0,
      message_count: 0,
      last_message_at: null,
    })
    expect(await getRoom(room.id)).toEqual(room)
  })

  it('trims the name before storing it', async () => {
    const response = await postRoom({ name: '  \t porch \n ' })
    expect(response.status).toBe(201)
    expect(((await response.json()) as RoomView).name).toBe('porch')
  })

  it('answers 409 name_taken for a name that exists, also when it differs only by outer whitespace', async () => {
    await createRoom(server, 'attic')
    await expectError(await postRoom({ name: 'attic' }, 'bob'), 409, 'name_taken')
    await expectError(await postRoom({ name: '  attic ' }), 409, 'name_taken')
    expect((await lobby()).filter((room) => room.name === 'attic')).toHaveLength(1)
  })

  it('treats names that differ in case as different rooms', async () => {
    await createRoom(server, 'Cellar')
    expect((await postRoom({ name: 'cellar' })).status).toBe(201)
  })

  it('accepts a name of exactly 100 code points, counting each emoji as one', async () => {
    const letters = 'n'.repeat(100)
    const emoji = '🎉'.repeat(100)
    const byLetters = await postRoom({ name: letters })
    const byEmoji = await postRoom({ name: emoji })
    expect([byLetters.status, byEmoji.status]).toEqual([201, 201])
    expect(((await byLetters.json()) as RoomView).name).toBe(letters)
    expect(((await byEmoji.json()) as RoomView).name).toBe(emoji)
  })

  it.each([
    ['an empty name', { name: '' }],
    ['a whitespace-only name', { name: ' \t\n\u00a0\u3000 ' }],
    ['a name of 101 code points', { name: 'x'.repeat(101) }],
    ['a name of 101 emoji', { name: '🎉'.repeat(101) }],
    ['a name containing NUL', { name: 'null\u0000byte' }],
    ['a name with a lone surrogate', { name: 'half \ud83c' }],
    ['a numeric name', { name: 42 }],
    ['a null name', { name: null }],
    ['an array name', { name: ['lobby'] }],
    ['a missing name', {}],
    ['a JSON array as the body', ['lobby']],
  ])('rejects %s with 400 validation_failed', async (_, body) => {
    await expectError(await postRoom(body), 400, 'validation_failed')
  })

  it('rejects malformed JSON with 400 invalid_json', async () => {
    const response = await server.request('/rooms', { method: 'POST', body: '{"name": "unterminated' })
    await expectError(response, 400, 'invalid_json')
  })

  it('rejects a non-JSON content type with 415 unsupported_media_type', async () => {
    const response = await server.request('/rooms', {
      method: 'POST',
      body: 'name=lobby',
      headers: { 'content-type': 'text/plain' },
    })
    await expectError(response, 415, 'unsupported_media_type')
  })

  it('rejects a request without a token with 401 unauthorized', async () => {
    const response = await server.request('/rooms', {
      method: 'POST',
      body: JSON.stringify({ name: 'anonymous' }),
      as: null,
    })
    await expectError(response, 401, 'unauthorized')
  })
})

describe('GET /rooms/:id', () => {
  it('returns the room', async () => {
    const id = await createRoom(server, 'study', 'dave')
    expect(await getRoom(id)).toEqual({
      id,
      name: 'study',
      visibility: 'public',
      created_by: 'dave',
      created_at: expect.stringMatching(ISO_MILLIS),
      last_seq: 0,
      message_count: 0,
      last_message_at: null,
    })
  })

  it.each(['999999999', '9007199254740991', '99999999999999999999'])(
    'answers 404 room_not_found for room %s, which does not exist',
    async (id) => {
      await expectError(await server.request(`/rooms/${id}`), 404, 'room_not_found')
    },
  )

  it.each(['abc', '0', '-1', '1.5', '1e3', '%20'])('answers 400 invalid_id for the id "%s"', async (id) => {
    await expectError(await server.request(`/rooms/${id}`), 400, 'invalid_id')
  })
})

describe('GET /rooms', () => {
  it('lists rooms without messages newest first, and a room moves to the front when it gets a message', async () => {
    const a = await createRoom(server, 'order-a')
    const b = await createRoom(server, 'order-b')
    const c = await createRoom(server, 'order-c')
    expect(await lobbyOrderOf([a, b, c])).toEqual([c, b, a])

    expect((await postMessage(server, a, 'wake up')).status).toBe(201)
    expect(await lobbyOrderOf([a, b, c])).toEqual([a, c, b])

    await insertDirectly(b, 'from psql')
    expect(await lobbyOrderOf([a, b, c])).toEqual([b, a, c])

    // A room created after the last message is more recent activity than that message.
    const d = await createRoom(server, 'order-d')
    expect(await lobbyOrderOf([a, b, c, d])).toEqual([d, b, a, c])

    expect((await postMessage(server, c, 'me too')).status).toBe(201)
    expect(await lobbyOrderOf([a, b, c, d])).toEqual([c, d, b, a])
  })

  it('reports message_count, last_seq and last_message_at after posts and after a direct SQL insert', async () => {
    const id = await createRoom(server, 'counted')
    const posted: MessageView[] = []
    for (const body of ['one', 'two', 'three']) {
      const response = await postMessage(server, id, body)
      expect(response.status).toBe(201)
      posted.push((await response.json()) as MessageView)
    }
    expect(await getRoom(id)).toMatchObject({
      last_seq: 3,
      message_count: 3,
      last_message_at: posted[2]?.created_at,
    })

    await insertDirectly(id, 'four')
    const page = await server.request(`/rooms/${id}/messages?after=3`)
    const [inserted] = ((await page.json()) as { messages: MessageView[] }).messages
    expect(inserted).toMatchObject({ seq: 4, body: 'four', user_id: 'ops' })
    const room = await getRoom(id)
    expect(room).toMatchObject({ last_seq: 4, message_count: 4, last_message_at: inserted?.created_at })
    // The lobby adds the caller's unread count: ops's message is unread, alice's own are not.
    expect((await lobby()).find((listed) => listed.id === id)).toEqual({ ...room, unread_count: 1 })
  })

  it('counts rows, not seqs, after a message is deleted by hand', async () => {
    const id = await createRoom(server, 'pruned')
    for (const body of ['keep', 'delete me', 'keep too'])
      expect((await postMessage(server, id, body)).status).toBe(201)
    await database.sql`delete from messages where room_id = ${id} and seq = 2`
    expect(await getRoom(id)).toMatchObject({ last_seq: 3, message_count: 2 })
  })

  it('rejects a request without a token with 401 unauthorized', async () => {
    await expectError(await server.request('/rooms', { as: null }), 401, 'unauthorized')
  })
})
