import type { Message, Reaction } from '../../src/wire.js'
import { describe, expect, it } from 'vitest'
import { expectCreated, expectError, readPage } from '../support/api.js'
import { useTestServer } from '../support/fixtures.js'
import { createRoom } from '../support/server.js'

// Edits, deletes, reactions and replies over HTTP: answers, validation and the message's
// JSON after each. Who may do what is in lifecycle-access.test.ts; what streams see is in
// test/realtime/changes.test.ts.

const { server, database, startServer } = useTestServer()

let roomCounter = 0
const newRoom = () => createRoom(server, `lifecycle-${++roomCounter}`)

async function post(roomId: number, body: Record<string, unknown>, as = 'alice'): Promise<Message> {
  return expectCreated(
    await server.request(`/rooms/${roomId}/messages`, { method: 'POST', body: JSON.stringify(body), as }),
  )
}

const edit = (roomId: number, seq: number | string, body: unknown, as = 'alice') =>
  server.request(`/rooms/${roomId}/messages/${seq}`, { method: 'PATCH', body: JSON.stringify(body), as })

const remove = (roomId: number, seq: number, as = 'alice') =>
  server.request(`/rooms/${roomId}/messages/${seq}`, { method: 'DELETE', as })

const react = (roomId: number, seq: number, emoji: string, as = 'alice', method = 'PUT') =>
  server.request(`/rooms/${roomId}/messages/${seq}/reactions/${encodeURIComponent(emoji)}`, { method, as })

async function json<T>(response: Response, status = 200): Promise<T> {
  const body = (await response.json()) as T
  expect({ status: response.status, body }).toMatchObject({ status })
  return body
}

describe('PATCH /rooms/:id/messages/:seq', () => {
  it('replaces the body, sets edited_at and keeps everything else', async () => {
    const roomId = await newRoom()
    const original = await post(roomId, { body: 'helo' })
    const edited = await json<Message>(await edit(roomId, 1, { body: ' hello \r\n' }))
    expect(edited).toEqual({ ...original, body: 'hello', edited_at: expect.any(String) })
    expect(Date.parse(edited.edited_at!)).toBeGreaterThanOrEqual(Date.parse(original.created_at))
    expect((await readPage(server, roomId)).messages).toEqual([edited])
  })

  it('validates the body as posting does', async () => {
    const roomId = await newRoom()
    await post(roomId, { body: 'x' })
    await expectError(await edit(roomId, 1, { body: ' ' }), 400, 'body_required')
    await expectError(await edit(roomId, 1, { body: 'a'.repeat(2001) }), 422, 'body_too_long')
    await expectError(await edit(roomId, 1, { body: 'a\u0000' }), 400, 'invalid_body')
    await expectError(await edit(roomId, 1, {}), 400, 'validation_failed')
  })

  it('answers 404 message_not_found for a seq the room does not have, 400 for one that is not a seq', async () => {
    const roomId = await newRoom()
    await expectError(await edit(roomId, 1, { body: 'x' }), 404, 'message_not_found')
    await expectError(await edit(roomId, 0, { body: 'x' }), 400, 'invalid_id')
    await expectError(await edit(roomId, 'abc', { body: 'x' }), 400, 'invalid_id')
    await expectError(await edit(roomId, '9999999999999999', { body: 'x' }), 400, 'invalid_id')
  })

  it('refuses to edit a tombstone with 409 message_deleted', async () => {
    const roomId = await newRoom()
    await post(roomId, { body: 'gone soon' })
    expect((await remove(roomId, 1)).status).toBe(204)
    await expectError(await edit(roomId, 1, { body: 'back' }), 409, 'message_deleted')
  })
})

describe('DELETE /rooms/:id/messages/:seq', () => {
  it('leaves a tombstone without body or reactions, and answers 204 again', async () => {
    const roomId = await newRoom()
    await post(roomId, { body: 'secret' })
    await json(await react(roomId, 1, '👍', 'bob'))
    expect((await remove(roomId, 1)).status).toBe(204)
    expect((await remove(roomId, 1)).status).toBe(204)
    const [tombstone] = (await readPage(server, roomId)).messages
    expect(tombstone).toMatchObject({ seq: 1, body: '', reactions: {}, deleted_at: expect.any(String) })
    const rows =
      await database.sql`select count(*)::int as n from message_reactions where room_id = ${roomId}`
    expect(rows[0]?.n).toBe(0)
  })

  it('answers 404 message_not_found for a seq the room does not have', async () => {
    const roomId = await newRoom()
    await expectError(await remove(roomId, 5), 404, 'message_not_found')
  })
})

describe('reactions', () => {
  it('adds idempotently, counts per emoji and takes back', async () => {
    const roomId = await newRoom()
    await post(roomId, { body: 'ship it' })
    expect((await json<Message>(await react(roomId, 1, '👍'))).reactions).toEqual({ '👍': 1 })
    expect((await json<Message>(await react(roomId, 1, '👍'))).reactions).toEqual({ '👍': 1 })
    expect((await json<Message>(await react(roomId, 1, '👍', 'bob'))).reactions).toEqual({ '👍': 2 })
    expect((await json<Message>(await react(roomId, 1, ':shipit:', 'bob'))).reactions).toEqual({
      '👍': 2,
      ':shipit:': 1,
    })
    expect((await json<Message>(await react(roomId, 1, '👍', 'alice', 'DELETE'))).reactions).toEqual({
      '👍': 1,
      ':shipit:': 1,
    })
    const again = await json<Message>(await react(roomId, 1, '👍', 'alice', 'DELETE'))
    expect(again.reactions).toEqual({ '👍': 1, ':shipit:': 1 })
    const list = await json<{ reactions: Reaction[] }>(
      await server.request(`/rooms/${roomId}/messages/1/reactions`),
    )
    expect(list.reactions.map(({ emoji, user_id }) => [emoji, user_id])).toEqual([
      ['👍', 'bob'],
      [':shipit:', 'bob'],
    ])
  })

  it('takes one emoji of any shape: flags, keycaps, skin tones and ZWJ sequences', async () => {
    const roomId = await newRoom()
    await post(roomId, { body: 'emoji' })
    // Each by another person: one may add at most REACTIONS_PER_USER_PER_MESSAGE.
    for (const [i, emoji] of ['🇫🇷', '1️⃣', '👍🏽', '👩‍👩‍👧‍👦', ':+1:', ':a_b-c:'].entries()) {
      expect((await react(roomId, 1, emoji, `fan${i}`)).status, emoji).toBe(200)
    }
  })

  it('refuses anything but one emoji or a short :name: with 400 invalid_emoji', async () => {
    const roomId = await newRoom()
    await post(roomId, { body: 'emoji' })
    for (const emoji of ['a', '👍👍', 'ok', ':a b:', `:${'a'.repeat(31)}:`, '::', '<script>', '👍 ']) {
      await expectError(await react(roomId, 1, emoji), 400, 'invalid_emoji')
    }
  })

  it('answers 404 for a missing message and 409 for a tombstone', async () => {
    const roomId = await newRoom()
    await expectError(await react(roomId, 1, '👍'), 404, 'message_not_found')
    await expectError(await server.request(`/rooms/${roomId}/messages/1/reactions`), 404, 'message_not_found')
    await post(roomId, { body: 'x' })
    expect((await remove(roomId, 1)).status).toBe(204)
    await expectError(await react(roomId, 1, '👍'), 409, 'message_deleted')
    await expectError(await react(roomId, 1, '👍', 'alice', 'DELETE'), 409, 'message_deleted')
  })
})

describe('replies', () => {
  it('links a reply to its parent, counts it and pages the replies in seq order', async () => {
    const roomId = await newRoom()
    await post(roomId, { body: 'question' })
    await post(roomId, { body: 'aside' })
    const first = await post(roomId, { body: 'answer 1', reply_to: 1 }, 'bob')
    await post(roomId, { body: 'answer 2', reply_to: 1 })
    await post(roomId, { body: 'answer 3', reply_to: 1 }, 'carol')
    expect(first).toMatchObject({ seq: 3, reply_to: 1, reply_count: 0 })
    const parent = await json<Message>(await server.request(`/rooms/${roomId}/messages/1`))
    expect(parent.reply_count).toBe(3)
    const page = await json<{ messages: Message[]; has_more: boolean; cursor: number }>(
      await server.request(`/rooms/${roomId}/messages/1/replies?limit=2`),
    )
    expect([page.messages.map((m) => m.seq), page.has_more, page.cursor]).toEqual([[3, 4], true, 5])
    const rest = await json<{ messages: Message[]; has_more: boolean }>(
      await server.request(`/rooms/${roomId}/messages/1/replies?after=4`),
    )
    expect([rest.messages.map((m) => m.seq), rest.has_more]).toEqual([[5], false])
  })

  it('answers 404 message_not_found for a reply to a message of no room or of another room', async () => {
    const roomId = await newRoom()
    const otherRoom = await newRoom()
    await post(otherRoom, { body: 'elsewhere' })
    const reply = (reply_to: unknown) =>
      server.request(`/rooms/${roomId}/messages`, {
        method: 'POST',
        body: JSON.stringify({ body: 're', reply_to }),
      })
    await expectError(await reply(1), 404, 'message_not_found')
    await expectError(await reply(0), 400, 'validation_failed')
    await expectError(await reply('1'), 400, 'validation_failed')
    await expectError(await server.request(`/rooms/${roomId}/messages/1/replies`), 404, 'message_not_found')
    const rows = await database.sql`select last_seq, last_cursor from rooms where id = ${roomId}`
    expect(rows[0]).toEqual({ last_seq: '0', last_cursor: '0' })
  })
})

describe('the change limit', () => {
  it('answers 429 with Retry-After past RATE_LIMIT_CHANGES edits and reactions per window', async () => {
    const limited = await startServer({ RATE_LIMIT_CHANGES: '3' })
    try {
      const roomId = await newRoom()
      await post(roomId, { body: 'x' })
      const call = (emoji: string) =>
        limited.request(`/rooms/${roomId}/messages/1/reactions/${encodeURIComponent(emoji)}`, {
          method: 'PUT',
          as: 'flooder',
        })
      expect([(await call('👍')).status, (await call('🎉')).status, (await call('🚀')).status]).toEqual([
        200, 200, 200,
      ])
      const refused = await call('👀')
      expect(refused.headers.get('retry-after')).toMatch(/^[1-9][0-9]*$/)
      await expectError(refused, 429, 'rate_limited')
      expect((await call('👀')).status).toBe(429)
      // Another user is not limited by the flooder.
      expect((await react(roomId, 1, '👀', 'calm')).status).toBe(200)
    } finally {
      await limited.close()
    }
  })
})

describe('/openapi.json', () => {
  it('documents every endpoint of the message lifecycle', async () => {
    const response = await server.request('/openapi.json', { as: null })
    const paths = ((await response.json()) as { paths: Record<string, Record<string, unknown>> }).paths
    const operations = (path: string) => Object.keys(paths[path] ?? {}).sort()
    expect(operations('/rooms/{id}/messages/{seq}')).toEqual(['delete', 'get', 'patch'])
    expect(operations('/rooms/{id}/messages/{seq}/reactions/{emoji}')).toEqual(['delete', 'put'])
    expect(operations('/rooms/{id}/messages/{seq}/reactions')).toEqual(['get'])
    expect(operations('/rooms/{id}/messages/{seq}/replies')).toEqual(['get'])
  })
})
