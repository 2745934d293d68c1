import { describe, expect, it } from 'vitest'
import { expectCreated, expectError, lastSeq, readPage } from '../support/api.js'
import { useTestServer } from '../support/fixtures.js'
import { createRoom } from '../support/server.js'

// The HTTP surface of the message routes: status codes, validation, the wire shape.
// What the stored messages then do (numbering, client_id, paging) is in test/chat/messages.

const { server, database } = useTestServer()

let roomCounter = 0
/** A fresh room for one test. */
const newRoom = (purpose: string) => createRoom(server, `${purpose}-${++roomCounter}`)

function post(roomId: number | string, body: unknown, as: string | null = 'alice') {
  return server.request(`/rooms/${roomId}/messages`, { method: 'POST', body: JSON.stringify(body), as })
}

describe('POST /rooms/:id/messages', () => {
  it('stores the message as the token’s user and answers 201 with it', async () => {
    const roomId = await newRoom('post')
    const message = await expectCreated(await post(roomId, { body: 'hello' }, 'bob'))
    expect(message).toEqual({
      id: expect.any(Number),
      room_id: roomId,
      seq: 1,
      user_id: 'bob',
      user_name: 'bob',
      body: 'hello',
      created_at: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/),
      edited_at: null,
      deleted_at: null,
      reactions: {},
      reply_to: null,
      reply_count: 0,
      mentions: [],
      bot: false,
    })
    expect((await readPage(server, roomId)).messages).toEqual([message])
  })

  it('trims the body', async () => {
    const roomId = await newRoom('trim')
    const message = await expectCreated(await post(roomId, { body: ' \n\t padded \u00a0\n' }))
    expect(message.body).toBe('padded')
  })

  it('accepts a body of exactly 2000 code points, whether letters or 4-byte emoji', async () => {
    const roomId = await newRoom('limit')
    const letters = 'a'.repeat(2000)
    const emoji = '😀'.repeat(2000)
    expect((await expectCreated(await post(roomId, { body: letters }))).body).toBe(letters)
    expect((await expectCreated(await post(roomId, { body: `  ${emoji}  ` }))).body).toBe(emoji)
  })

  it.each([
    ['2001 letters', 'a'.repeat(2001)],
    ['2001 emoji', '😀'.repeat(2001)],
  ])('rejects a body of %s with 422 body_too_long', async (_, body) => {
    const roomId = await newRoom('too-long')
    await expectError(await post(roomId, { body }), 422, 'body_too_long')
    expect(await lastSeq(server, roomId)).toBe(0)
  })

  it.each([
    ['an empty body', { body: '' }, 'body_required'],
    ['a whitespace-only body', { body: ' \n\t\u00a0\u2003\u3000\ufeff ' }, 'body_required'],
    ['a body containing NUL', { body: 'before\u0000after' }, 'invalid_body'],
    ['a body with a lone surrogate', { body: 'broken \ud83d emoji' }, 'invalid_body'],
    ['a numeric body', { body: 42 }, 'validation_failed'],
    ['a null body', { body: null }, 'validation_failed'],
    ['an array body', { body: ['hello'] }, 'validation_failed'],
    ['an object body', { body: { text: 'hello' } }, 'validation_failed'],
    ['a missing body', { client_id: 'c-1' }, 'validation_failed'],
    ['a whitespace-only client_id', { body: 'hello', client_id: '   ' }, 'validation_failed'],
    ['a numeric client_id', { body: 'hello', client_id: 7 }, 'validation_failed'],
    ['a JSON string as the request', 'hello', 'validation_failed'],
  ])('rejects %s with 400 %s', async (_, request, code) => {
    const roomId = await newRoom('invalid')
    await expectError(await post(roomId, request), 400, code)
    expect(await lastSeq(server, roomId)).toBe(0)
  })

  it('rejects malformed JSON with 400 invalid_json', async () => {
    const roomId = await newRoom('malformed')
    const response = await server.request(`/rooms/${roomId}/messages`, {
      method: 'POST',
      body: '{"body": "hello",',
    })
    await expectError(response, 400, 'invalid_json')
  })

  it('rejects a text/plain body with 415 unsupported_media_type', async () => {
    const roomId = await newRoom('plain')
    const response = await server.request(`/rooms/${roomId}/messages`, {
      method: 'POST',
      body: JSON.stringify({ body: 'hello' }),
      headers: { 'content-type': 'text/plain' },
    })
    await expectError(response, 415, 'unsupported_media_type')
    expect(await lastSeq(server, roomId)).toBe(0)
  })

  it('rejects a request body over 64 KB with 413 payload_too_large', async () => {
    const roomId = await newRoom('huge')
    await expectError(await post(roomId, { body: 'a'.repeat(64 * 1024) }), 413, 'payload_too_large')
    expect(await lastSeq(server, roomId)).toBe(0)
  })

  it('rejects a request body over 64 KB sent without Content-Length with 413 payload_too_large', async () => {
    const roomId = await newRoom('chunked')
    const bytes = new TextEncoder().encode(JSON.stringify({ body: 'a'.repeat(64 * 1024) }))
    const chunks = [bytes.subarray(0, 40_000), bytes.subarray(40_000)]
    const response = await server.request(`/rooms/${roomId}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: new ReadableStream({
        pull(controller) {
          const chunk = chunks.shift()
          if (chunk) controller.enqueue(chunk)
          else controller.close()
        },
      }),
      duplex: 'half',
    } as RequestInit)
    await expectError(response, 413, 'payload_too_large')
    expect(await lastSeq(server, roomId)).toBe(0)
  })

  it.each(['999999999', '99999999999999999999'])(
    'answers 404 room_not_found for room %s, which does not exist',
    async (id) => {
      await expectError(await post(id, { body: 'anyone there?' }), 404, 'room_not_found')
    },
  )

  it.each(['abc', '0', '-1', '1.5'])('answers 400 invalid_id for the room id "%s"', async (id) => {
    await expectError(await post(id, { body: 'hello' }), 400, 'invalid_id')
  })

  it('rejects a request without a token with 401 unauthorized', async () => {
    const roomId = await newRoom('anonymous')
    await expectError(await post(roomId, { body: 'hello' }, null), 401, 'unauthorized')
  })
})

describe('GET /rooms/:id/messages', () => {
  it.each([
    'limit=0',
    'limit=201',
    'limit=abc',
    'limit=-5',
    'limit=1.5',
    'before=abc',
    'before=-1',
    'after=x',
    'after=-1',
  ])('rejects ?%s with 400 validation_failed', async (query) => {
    const roomId = await newRoom('bad-query')
    await expectError(await server.request(`/rooms/${roomId}/messages?${query}`), 400, 'validation_failed')
  })

  it.each(['999999999', '99999999999999999999'])(
    'answers 404 room_not_found for room %s, which does not exist',
    async (id) => {
      await expectError(await server.request(`/rooms/${id}/messages`), 404, 'room_not_found')
    },
  )

  it.each(['abc', '0', '-1', '1.5'])('answers 400 invalid_id for the room id "%s"', async (id) => {
    await expectError(await server.request(`/rooms/${id}/messages`), 400, 'invalid_id')
  })

  it('returns a 1 MB body inserted with direct SQL whole', async () => {
    const roomId = await newRoom('megabyte')
    const body = 'abcdefghij'.repeat(100_000)
    await database.sql`insert into messages (room_id, user_id, user_name, body) values (${roomId}, 'ops', 'Ops', ${body})`
    const [message] = (await readPage(server, roomId)).messages
    expect(message?.body.length).toBe(1_000_000)
    expect(message?.body).toBe(body)
  })
})

describe('GET /openapi.json', () => {
  it('serves an OpenAPI 3.1.0 document describing the rooms and messages routes', async () => {
    const response = await server.request('/openapi.json', { as: null })
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toMatch(/^application\/json/)
    const document = JSON.parse(await response.text()) as {
      openapi: string
      paths: Record<string, Record<string, unknown>>
    }
    expect(document.openapi).toBe('3.1.0')
    expect(Object.keys(document.paths['/rooms'] ?? {}).sort()).toEqual(['get', 'post'])
    expect(Object.keys(document.paths['/rooms/{id}/messages'] ?? {}).sort()).toEqual(['get', 'post'])
    expect(Object.keys(document.paths['/rooms/{id}'] ?? {})).toEqual(['get'])
  })
})
