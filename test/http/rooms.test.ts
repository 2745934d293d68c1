import type { Room } from '../../src/wire.js'
import { describe, expect, it } from 'vitest'
import { expectError, getRoom, lobby } from '../support/api.js'
import { useTestServer } from '../support/fixtures.js'
import { createRoom } from '../support/server.js'

// The HTTP surface of the room routes; how the lobby orders and counts is in test/chat/rooms.

const { server } = useTestServer()

const ISO_MILLIS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/

function postRoom(body: unknown, as = 'alice') {
  return server.request('/rooms', { method: 'POST', body: JSON.stringify(body), as })
}

describe('POST /rooms', () => {
  it('creates a room owned by the caller with no messages yet', async () => {
    const response = await postRoom({ name: 'kitchen' }, 'carol')
    expect(response.status).toBe(201)
    const room = (await response.json()) as Room
    expect(room).toEqual({
      id: expect.any(Number),
      name: 'kitchen',
      visibility: 'public',
      kind: 'room',
      created_by: 'carol',
      created_at: expect.stringMatching(ISO_MILLIS),
      last_seq: 0,
      message_count: 0,
      last_message_at: null,
      cursor: 0,
      slow_mode_seconds: 0,
    })
    expect(await getRoom(server, room.id)).toEqual(room)
  })

  it('trims the name before storing it', async () => {
    const response = await postRoom({ name: '  \t porch \n ' })
    expect(response.status).toBe(201)
    expect(((await response.json()) as Room).name).toBe('porch')
  })

  it('answers 409 name_taken for a name that exists, also when it differs only by outer whitespace', async () => {
    await createRoom(server, 'attic')
    await expectError(await postRoom({ name: 'attic' }, 'bob'), 409, 'name_taken')
    await expectError(await postRoom({ name: '  attic ' }), 409, 'name_taken')
    expect((await lobby(server)).filter((room) => room.name === 'attic')).toHaveLength(1)
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
    expect(((await byLetters.json()) as Room).name).toBe(letters)
    expect(((await byEmoji.json()) as Room).name).toBe(emoji)
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
    expect(await getRoom(server, id)).toEqual({
      id,
      name: 'study',
      visibility: 'public',
      kind: 'room',
      created_by: 'dave',
      created_at: expect.stringMatching(ISO_MILLIS),
      last_seq: 0,
      message_count: 0,
      last_message_at: null,
      cursor: 0,
      slow_mode_seconds: 0,
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
  it('rejects a request without a token with 401 unauthorized', async () => {
    await expectError(await server.request('/rooms', { as: null }), 401, 'unauthorized')
  })
})
