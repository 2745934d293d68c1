import type { Message } from '../../src/wire.js'
import { beforeEach, describe, expect, it } from 'vitest'
import { expectCreated, expectError, lastSeq, readPage, seqsOf } from '../support/api.js'
import { useTestServer } from '../support/fixtures.js'
import { range } from '../support/range.js'
import { createRoom, postMessage } from '../support/server.js'

// What src/chat/messages.ts does with a message: numbering, client_id retries, storing any
// text exactly, reading pages. The HTTP surface of the routes is in test/http/messages.

const { server, database } = useTestServer()

// Each test posts as a user of its own: the rate limit (20 messages per 10 s per user by
// default) then counts only that test's posts, whatever ran before it.
let author = ''
let authorCount = 0
beforeEach(() => {
  author = `author-${++authorCount}`
})

let roomCounter = 0
/** A fresh room for one test. */
const newRoom = (purpose: string) => createRoom(server, `${purpose}-${++roomCounter}`)

function post(roomId: number, body: unknown, as = author) {
  return server.request(`/rooms/${roomId}/messages`, { method: 'POST', body: JSON.stringify(body), as })
}

/** A page reduced to its seqs and has_more, for exact comparison. */
async function readSeqs(roomId: number, query: string) {
  const page = await readPage(server, roomId, query)
  return { seqs: seqsOf(page), has_more: page.has_more }
}

/** Seeds `count` messages with direct SQL (the trigger numbers them), bodies "m1", "m2", … */
async function seed(roomId: number, count: number) {
  await database.sql`
    insert into messages (room_id, user_id, user_name, body)
    select ${roomId}, 'seeder', 'Seeder', 'm' || n from generate_series(1, ${count}::int) n order by n`
}

describe('POST /rooms/:id/messages', () => {
  it('numbers messages 1, 2, 3 in each room independently', async () => {
    const first = await newRoom('numbering')
    const second = await newRoom('numbering')
    const seqs: [number, number][] = []
    for (const roomId of [first, second, first, first, second]) {
      seqs.push([roomId, (await expectCreated(await postMessage(server, roomId, 'x', author))).seq])
    }
    expect(seqs).toEqual([
      [first, 1],
      [second, 1],
      [first, 2],
      [first, 3],
      [second, 2],
    ])
  })
})

describe('client_id', () => {
  it('answers a repeated client_id from the same user with 200 and the original message, storing no second row', async () => {
    const roomId = await newRoom('retry')
    const original = await expectCreated(await post(roomId, { body: 'once', client_id: 'c-retry' }))
    const retry = await post(roomId, { body: 'once, retried', client_id: 'c-retry' })
    expect({ status: retry.status, body: await retry.json() }).toEqual({ status: 200, body: original })
    expect((await readPage(server, roomId)).messages).toEqual([original])
  })

  it('leaves no gap in seq after a repeated client_id', async () => {
    const roomId = await newRoom('retry-gap')
    await expectCreated(await post(roomId, { body: 'first', client_id: 'c-gap' }))
    expect((await post(roomId, { body: 'first', client_id: 'c-gap' })).status).toBe(200)
    expect(await lastSeq(server, roomId)).toBe(1)
    expect((await expectCreated(await post(roomId, { body: 'second' }))).seq).toBe(2)
  })

  it('stores exactly one message when the same client_id is sent ten times at once', async () => {
    const roomId = await newRoom('retry-storm')
    const responses = await Promise.all(
      Array.from({ length: 10 }, () => post(roomId, { body: 'storm', client_id: 'c-storm' })),
    )
    const statuses = responses.map((response) => response.status).sort()
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 200, 201])
    const bodies = (await Promise.all(responses.map((response) => response.json()))) as Message[]
    expect(new Set(bodies.map((body) => body.id)).size).toBe(1)
    expect(seqsOf(await readPage(server, roomId))).toEqual([1])
    expect(await lastSeq(server, roomId)).toBe(1)
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
    expect(await lastSeq(server, second)).toBe(0)
  })

  it('stores every message that carries no client_id, even with identical bodies', async () => {
    const roomId = await newRoom('no-client-id')
    for (let i = 0; i < 3; i++) await expectCreated(await postMessage(server, roomId, 'same', author))
    expect(seqsOf(await readPage(server, roomId))).toEqual([1, 2, 3])
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
    // Control characters other than newline and tab are removed (test/security/names.test.ts).
    ['zero-width characters and bidi marks', 'a\u200bb\u200dc\u200fd\u2067e'],
    ['backslashes and JSON-looking text', `\\u0000 \\n {"body":"x"} $1 %s \${x}`],
    ['inner newlines and tabs', 'line one\n\tline two\n\nline three'],
  ])('stores %s exactly and reads it back byte-identical', async (_, body) => {
    const roomId = await newRoom('odd')
    const posted = await expectCreated(await post(roomId, { body }))
    expect(posted.body).toBe(body)
    const [read] = (await readPage(server, roomId)).messages
    expect(Buffer.from(read?.body ?? '', 'utf8')).toEqual(Buffer.from(body, 'utf8'))
    const [stored] = await database.sql<{ body: string }[]>`select body from messages where id = ${posted.id}`
    expect(stored?.body).toBe(body)
  })

  it('leaves the messages table in place after a SQL fragment', async () => {
    const roomId = await newRoom('bobby-tables')
    await expectCreated(await post(roomId, { body: "x'); drop table messages; --" }))
    await expectCreated(await post(roomId, { body: 'still here' }))
    expect(seqsOf(await readPage(server, roomId))).toEqual([1, 2])
  })
})

describe('GET /rooms/:id/messages', () => {
  it('returns an empty page for a room without messages', async () => {
    const roomId = await newRoom('empty')
    expect(await readPage(server, roomId)).toEqual({ messages: [], has_more: false, cursor: 0 })
  })

  it('returns the latest 50 in ascending seq by default', async () => {
    const roomId = await newRoom('default-page')
    await seed(roomId, 60)
    const page = await readPage(server, roomId)
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
      const page = await readPage(server, roomId, query)
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
      const page = await readPage(server, roomId, `?limit=20&after=${after}`)
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
    expect(await readPage(server, roomId, '?before=4')).toEqual({
      messages: range(1, 3).map((seq) => expect.objectContaining({ seq, body: `m${seq}` })),
      has_more: false,
      cursor: 10,
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
})
