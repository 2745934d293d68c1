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

interface MessagePage {
  messages: MessageView[]
  has_more: boolean
}

let roomCounter = 0
/** A fresh room for one test. */
const newRoom = (purpose: string) => createRoom(server, `${purpose}-${++roomCounter}`)

function post(roomId: number | string, body: unknown, as: string | null = 'alice') {
  return server.request(`/rooms/${roomId}/messages`, { method: 'POST', body: JSON.stringify(body), as })
}

async function expectError(response: Response, status: number, code: string) {
  expect({ status: response.status, body: await response.json() }).toEqual({
    status,
    body: { error: { code, message: expect.any(String) } },
  })
}

async function expectCreated(response: Response): Promise<MessageView> {
  const body = await response.json()
  expect({ status: response.status, body }).toMatchObject({ status: 201 })
  return body as MessageView
}

async function readPage(roomId: number, query = ''): Promise<MessagePage> {
  const response = await server.request(`/rooms/${roomId}/messages${query}`)
  expect(response.status).toBe(200)
  return (await response.json()) as MessagePage
}

const seqsOf = (page: MessagePage) => page.messages.map((message) => message.seq)

/** A page reduced to its seqs and has_more, for exact comparison. */
async function readSeqs(roomId: number, query: string) {
  const page = await readPage(roomId, query)
  return { seqs: seqsOf(page), has_more: page.has_more }
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)

async function lastSeq(roomId: number): Promise<number> {
  const response = await server.request(`/rooms/${roomId}`)
  return ((await response.json()) as RoomView).last_seq
}

/** Seeds `count` messages with direct SQL (the trigger numbers them), bodies "m1", "m2", … */
async function seed(roomId: number, count: number) {
  await database.sql`
    insert into messages (room_id, user_id, user_name, body)
    select ${roomId}, 'seeder', 'Seeder', 'm' || n from generate_series(1, ${count}::int) n order by n`
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
    })
    expect((await readPage(roomId)).messages).toEqual([message])
  })

  it('numbers messages 1, 2, 3 in each room independently', async () => {
    const first = await newRoom('numbering')
    const second = await newRoom('numbering')
    const seqs: [number, number][] = []
    for (const roomId of [first, second, first, first, second]) {
      seqs.push([roomId, (await expectCreated(await postMessage(server, roomId, 'x'))).seq])
    }
    expect(seqs).toEqual([
      [first, 1],
      [second, 1],
      [first, 2],
      [first, 3],
      [second, 2],
    ])
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
    expect(await lastSeq(roomId)).toBe(0)
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
    expect(await lastSeq(roomId)).toBe(0)
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
    expect(await lastSeq(roomId)).toBe(0)
  })

  it('rejects a request body over 64 KB with 413 payload_too_large', async () => {
    const roomId = await newRoom('huge')
    await expectError(await post(roomId, { body: 'a'.repeat(64 * 1024) }), 413, 'payload_too_large')
    expect(await lastSeq(roomId)).toBe(0)
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
    expect(await lastSeq(roomId)).toBe(0)
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

describe('client_id', () => {
  it('answers a repeated client_id from the same user with 200 and the original message, storing no second row', async () => {
    const roomId = await newRoom('retry')
    const original = await expectCreated(await post(roomId, { body: 'once', client_id: 'c-retry' }))
    const retry = await post(roomId, { body: 'once, retried', client_id: 'c-retry' })
    expect({ status: retry.status, body: await retry.json() }).toEqual({ status: 200, body: original })
    expect((await readPage(roomId)).messages).toEqual([original])
  })

  it('leaves no gap in seq after a repeated client_id', async () => {
    const roomId = await newRoom('retry-gap')
    await expectCreated(await post(roomId, { body: 'first', client_id: 'c-gap' }))
    expect((await post(roomId, { body: 'first', client_id: 'c-gap' })).status).toBe(200)
    expect(await lastSeq(roomId)).toBe(1)
    expect((await expectCreated(await post(roomId, { body: 'second' }))).seq).toBe(2)
  })

  it('stores exactly one message when the same client_id is sent ten times at once', async () => {
    const roomId = await newRoom('retry-storm')
    const responses = await Promise.all(
      Array.from({ length: 10 }, () => post(roomId, { body: 'storm', client_id: 'c-storm' })),
    )
    const statuses = responses.map((response) => response.status).sort()
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 200, 201])
    const bodies = (await Promise.all(responses.map((response) => response.json()))) as MessageView[]
    expect(new Set(bodies.map((body) => body.id)).size).toBe(1)
    expect(seqsOf(await readPage(roomId))).toEqual([1])
    expect(await lastSeq(roomId)).toBe(1)
    expect((await expectCreated(await post(roomId, { body: 'after the storm' }))).seq).toBe(2)
  })

  it('treats the same client_id from another user as a new message', async () => {
    const roomId = await newRoom('shared-client-id')
    const alices = await expectCreated(
      await post(roomId, { body: 'from alice', client_id: 'c-shared' }, 'alice'),
    )
    const bobs = await expectCreated(await post(roomId, { body: 'from bob', client_id: 'c-shared' }, 'bob'))
    expect([alices.seq, bobs.seq]).toEqual([1, 2])
    expect(bobs).toMatchObject({ user_id: 'bob', body: 'from bob' })
  })

  it('refuses a client_id already used in another room with 409 client_id_reused', async () => {
    const first = await newRoom('reuse-a')
    const second = await newRoom('reuse-b')
    await expectCreated(await post(first, { body: 'here', client_id: 'c-moved' }))
    await expectError(await post(second, { body: 'there', client_id: 'c-moved' }), 409, 'client_id_reused')
    expect(await lastSeq(second)).toBe(0)
  })

  it('stores every message that carries no client_id, even with identical bodies', async () => {
    const roomId = await newRoom('no-client-id')
    for (let i = 0; i < 3; i++) await expectCreated(await postMessage(server, roomId, 'same'))
    expect(seqsOf(await readPage(roomId))).toEqual([1, 2, 3])
  })
})

describe('odd input', () => {
  it.each([
    ['a SQL fragment', "'); drop table messages; --"],
    ['a quoted SQL fragment', `"; delete from rooms where ''='`],
    ['HTML', '<img src=x onerror=alert(1)>'],
    ['a script tag', '</script><script>alert("x")</script>'],
    ['4-byte emoji and a ZWJ sequence', '😀🎉 👩‍👩‍👧‍👦 🏳️‍🌈'],
    ['mixed scripts, RTL and combining marks', 'Ünïcödé ✓ — 日本語 עברית العربية e\u0301 n\u0303'],
    ['zero-width and control characters', 'a\u200bb\u200dc\u0007d\u001be'],
    ['backslashes and JSON-looking text', `\\u0000 \\n {"body":"x"} $1 %s \${x}`],
    ['inner newlines and tabs', 'line one\n\tline two\r\nline three'],
  ])('stores %s exactly and reads it back byte-identical', async (_, body) => {
    const roomId = await newRoom('odd')
    const posted = await expectCreated(await post(roomId, { body }))
    expect(posted.body).toBe(body)
    const [read] = (await readPage(roomId)).messages
    expect(Buffer.from(read?.body ?? '', 'utf8')).toEqual(Buffer.from(body, 'utf8'))
    const [stored] = await database.sql<{ body: string }[]>`select body from messages where id = ${posted.id}`
    expect(stored?.body).toBe(body)
  })

  it('leaves the messages table in place after a SQL fragment', async () => {
    const roomId = await newRoom('bobby-tables')
    await expectCreated(await post(roomId, { body: "x'); drop table messages; --" }))
    await expectCreated(await post(roomId, { body: 'still here' }))
    expect(seqsOf(await readPage(roomId))).toEqual([1, 2])
  })
})

describe('GET /rooms/:id/messages', () => {
  it('returns an empty page for a room without messages', async () => {
    const roomId = await newRoom('empty')
    expect(await readPage(roomId)).toEqual({ messages: [], has_more: false })
  })

  it('returns the latest 50 in ascending seq by default', async () => {
    const roomId = await newRoom('default-page')
    await seed(roomId, 60)
    const page = await readPage(roomId)
    expect(seqsOf(page)).toEqual(range(11, 60))
    expect(page.messages.map((message) => message.body)).toEqual(range(11, 60).map((n) => `m${n}`))
    expect(page.has_more).toBe(true)
  })

  it('reports has_more false when the page holds every message', async () => {
    const roomId = await newRoom('exact-page')
    await seed(roomId, 50)
    expect(await readSeqs(roomId, '')).toEqual({ seqs: range(1, 50), has_more: false })
  })

  it('pages backwards with before until has_more is false, covering every seq once', async () => {
    const roomId = await newRoom('backwards')
    await seed(roomId, 45)
    const pages: number[][] = []
    const more: boolean[] = []
    let query = '?limit=20'
    for (;;) {
      const page = await readPage(roomId, query)
      pages.push(seqsOf(page))
      more.push(page.has_more)
      if (!page.has_more) break
      query = `?limit=20&before=${page.messages[0]?.seq}`
    }
    expect(pages).toEqual([range(26, 45), range(6, 25), range(1, 5)])
    expect(more).toEqual([true, true, false])
  })

  it('pages forwards with after until has_more is false, covering every seq once', async () => {
    const roomId = await newRoom('forwards')
    await seed(roomId, 45)
    const pages: number[][] = []
    const more: boolean[] = []
    let after = 0
    for (;;) {
      const page = await readPage(roomId, `?limit=20&after=${after}`)
      pages.push(seqsOf(page))
      more.push(page.has_more)
      if (!page.has_more) break
      after = page.messages.at(-1)?.seq ?? after
    }
    expect(pages).toEqual([range(1, 20), range(21, 40), range(41, 45)])
    expect(more).toEqual([true, true, false])
  })

  it('treats before and after as exclusive bounds, alone and together', async () => {
    const roomId = await newRoom('bounds')
    await seed(roomId, 10)
    expect(await readPage(roomId, '?before=4')).toEqual({
      messages: range(1, 3).map((seq) => expect.objectContaining({ seq, body: `m${seq}` })),
      has_more: false,
    })
    expect(await readSeqs(roomId, '?after=7')).toEqual({ seqs: [8, 9, 10], has_more: false })
    expect(await readSeqs(roomId, '?after=3&before=8')).toEqual({ seqs: [4, 5, 6, 7], has_more: false })
    expect(await readSeqs(roomId, '?after=3&before=8&limit=2')).toEqual({ seqs: [4, 5], has_more: true })
    expect(await readSeqs(roomId, '?before=1')).toEqual({ seqs: [], has_more: false })
    expect(await readSeqs(roomId, '?after=10')).toEqual({ seqs: [], has_more: false })
    expect(await readSeqs(roomId, '?after=5&before=6')).toEqual({ seqs: [], has_more: false })
  })

  it('honours limit 1 and limit 200', async () => {
    const roomId = await newRoom('limits')
    await seed(roomId, 201)
    expect(await readSeqs(roomId, '?limit=1')).toEqual({ seqs: [201], has_more: true })
    expect(await readSeqs(roomId, '?limit=200')).toEqual({ seqs: range(2, 201), has_more: true })
    expect(await readSeqs(roomId, '?limit=200&after=1')).toEqual({ seqs: range(2, 201), has_more: false })
  })

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
    const [message] = (await readPage(roomId)).messages
    expect(message?.body.length).toBe(1_000_000)
    expect(message?.body === body).toBe(true)
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
