import { describe, expect, it } from 'vitest'
import type { Message, ReactionPage } from '../../src/wire.js'
import { useTestServer } from '../support/fixtures.js'
import { range } from '../support/range.js'
import { createRoom, errorCode, postMessage, type TestServer } from '../support/server.js'
import { openStream, type StreamClient } from '../support/sse.js'
import { until } from '../support/wait.js'

// Reactions are bounded: at most REACTIONS_PER_MESSAGE different emoji on a message and
// REACTIONS_PER_USER_PER_MESSAGE reactions of one person to it (defaults 20 and 5), held by
// the reaction trigger under the message's row lock, so that no burst gets past them; a
// reaction's change and event carry its emoji's count, not the message's whole totals.

const { server, database, startServer } = useTestServer()

const PER_MESSAGE = 20
const PER_USER = 5

/** A :name: of 30 characters, the longest a name may be, distinct for each `n`. */
const longName = (n: number) => `:${`r${n}_`.padEnd(30, 'x')}:`

async function newMessage(name: string) {
  const roomId = await createRoom(server, name)
  expect((await postMessage(server, roomId, 'react to me')).status).toBe(201)
  return roomId
}

const react = (on: TestServer, roomId: number, emoji: string, as: string) =>
  on.request(`/rooms/${roomId}/messages/1/reactions/${encodeURIComponent(emoji)}`, { method: 'PUT', as })

/** Each answer's status and error code (`200` for a success), counted. */
async function outcomes(responses: Response[]) {
  const counts: Record<string, number> = {}
  for (const response of responses) {
    const key = response.status === 200 ? '200' : `${response.status} ${await errorCode(response)}`
    counts[key] = (counts[key] ?? 0) + 1
  }
  return counts
}

async function storedReactions(roomId: number) {
  const [row] = await database.sql<{ rows: number; emoji: number; totals: Record<string, number> }[]>`
    select (select count(*)::int from message_reactions where room_id = ${roomId} and seq = 1) as rows,
           (select count(distinct emoji)::int from message_reactions where room_id = ${roomId} and seq = 1) as emoji,
           (select reactions from messages where room_id = ${roomId} and seq = 1) as totals`
  return row!
}

describe('reaction caps', () => {
  it('admits exactly REACTIONS_PER_MESSAGE different emoji out of 100 people reacting at once', async () => {
    const roomId = await newMessage('burst of emoji')
    const responses = await Promise.all(range(1, 100).map((n) => react(server, roomId, `:e${n}:`, `p${n}`)))
    expect(await outcomes(responses)).toEqual({
      '200': PER_MESSAGE,
      '409 too_many_reactions': 100 - PER_MESSAGE,
    })
    const stored = await storedReactions(roomId)
    expect(stored.rows).toBe(PER_MESSAGE)
    expect(stored.emoji).toBe(PER_MESSAGE)
    expect(Object.keys(stored.totals)).toHaveLength(PER_MESSAGE)
    // An emoji already on the message may still be added by others: it is no new entry.
    const [admitted] = Object.keys(stored.totals)
    expect((await react(server, roomId, admitted!, 'late')).status).toBe(200)
  })

  it("admits exactly REACTIONS_PER_USER_PER_MESSAGE of one person's 100 reactions at once", async () => {
    const roomId = await newMessage('burst of one person')
    const responses = await Promise.all(range(1, 100).map((n) => react(server, roomId, `:u${n}:`, 'eager')))
    const counts = await outcomes(responses)
    // The per-user rate limit (RATE_LIMIT_CHANGES) answers some of them first.
    expect(counts['200']).toBe(PER_USER)
    expect(Object.keys(counts).sort()).toEqual(['200', '409 too_many_reactions', '429 rate_limited'])
    expect((await storedReactions(roomId)).rows).toBe(PER_USER)
  })

  it('holds the caps for rows inserted with psql', async () => {
    const roomId = await newMessage('by hand')
    await expect(
      database.sql`insert into message_reactions (room_id, seq, user_id, emoji)
                   select ${roomId}, 1, 'ops', ':h' || i || ':' from generate_series(1, ${PER_USER + 1}) i`,
    ).rejects.toMatchObject({ constraint_name: 'message_reactions_per_user' })
    await expect(
      database.sql`insert into message_reactions (room_id, seq, user_id, emoji)
                   select ${roomId}, 1, 'ops' || i, ':h' || i || ':' from generate_series(1, ${PER_MESSAGE + 1}) i`,
    ).rejects.toMatchObject({ constraint_name: 'message_reactions_per_message' })
    expect((await storedReactions(roomId)).rows).toBe(0)
  })
})

describe('reaction events', () => {
  it("carry the emoji's count, not the totals: a subscriber's frames stay under 1 KB", async () => {
    const roomId = await newMessage('many reactions')
    const stream: StreamClient = openStream(server.url, roomId, { token: await server.token('watcher') })
    try {
      await stream.opened
      await until(() => server.hub.subscriberCount(roomId) === 1, 'the stream to join')
      const responses: Response[] = []
      for (const n of range(1, 100)) responses.push(await react(server, roomId, longName(n), `q${n}`))
      const admitted = responses.filter((response) => response.status === 200).length
      const reactions = () => stream.changes.filter((change) => change.type === 'reaction')
      await until(() => reactions().length === admitted, `${admitted} reaction events`)
      const sizes = reactions().map((change) => Buffer.byteLength(JSON.stringify(change.data)))
      expect(Math.max(...sizes)).toBeLessThan(1024)
      expect(reactions()[0]?.data).toEqual({
        room_id: roomId,
        seq: 1,
        emoji: longName(1),
        user_id: 'q1',
        action: 'added',
        count: 1,
      })
    } finally {
      stream.close()
    }
  })
})

describe('GET /rooms/:id/messages/:seq/reactions', () => {
  it('pages through every reaction once, in order, with reactions made in one statement too', async () => {
    const roomId = await newMessage('paged')
    // Made in one statement, these share one created_at: the order falls back on emoji and user.
    await database.sql`insert into message_reactions (room_id, seq, user_id, emoji)
                       select ${roomId}, 1, 'u' || u, ':k' || e || ':'
                         from generate_series(1, 30) u, generate_series(1, 3) e`
    for (const n of range(1, 7)) expect((await react(server, roomId, ':later:', `v${n}`)).status).toBe(200)
    const expected = await database.sql<{ emoji: string; user_id: string }[]>`
      select emoji, user_id from message_reactions where room_id = ${roomId} and seq = 1
       order by created_at, emoji, user_id`
    expect(expected).toHaveLength(97)

    const seen: { emoji: string; user_id: string }[] = []
    const sizes: number[] = []
    let cursor: string | null = null
    do {
      const query: string = cursor === null ? '?limit=10' : `?limit=10&cursor=${encodeURIComponent(cursor)}`
      const response = await server.request(`/rooms/${roomId}/messages/1/reactions${query}`)
      expect(response.status).toBe(200)
      const page = (await response.json()) as ReactionPage
      sizes.push(page.reactions.length)
      seen.push(...page.reactions.map(({ emoji, user_id }) => ({ emoji, user_id })))
      cursor = page.next_cursor
    } while (cursor !== null && sizes.length < 20)
    expect(sizes).toEqual([10, 10, 10, 10, 10, 10, 10, 10, 10, 7])
    expect(seen).toEqual([...expected])
  })

  it('answers 100 by default and refuses a limit over 500 or a cursor it did not hand out', async () => {
    const roomId = await newMessage('paged defaults')
    await database.sql`insert into message_reactions (room_id, seq, user_id, emoji)
                       select ${roomId}, 1, 'w' || u, '👍' from generate_series(1, 120) u`
    const first = (await (
      await server.request(`/rooms/${roomId}/messages/1/reactions`)
    ).json()) as ReactionPage
    expect(first.reactions).toHaveLength(100)
    expect(first.next_cursor).toEqual(expect.any(String))
    const path = `/rooms/${roomId}/messages/1/reactions`
    expect((await server.request(`${path}?limit=501`)).status).toBe(400)
    const forged = Buffer.from(JSON.stringify(['yesterday', '👍', 'w1'])).toString('base64url')
    const refused = await server.request(`${path}?cursor=${forged}`)
    expect([refused.status, await errorCode(refused)]).toEqual([400, 'validation_failed'])
    const message = (await (await server.request(`/rooms/${roomId}/messages/1`)).json()) as Message
    expect(message.reactions).toEqual({ '👍': 120 })
  })
})

describe('reaction settings', () => {
  it("are the database's, written by each server at start from its configuration", async () => {
    const roomId = await newMessage('strict')
    const strict = await startServer({ REACTIONS_PER_MESSAGE: '2', REACTIONS_PER_USER_PER_MESSAGE: '1' })
    try {
      expect((await react(strict, roomId, ':a:', 'x1')).status).toBe(200)
      expect(await errorCode(await react(strict, roomId, ':b:', 'x1'))).toBe('too_many_reactions')
      expect((await react(strict, roomId, ':b:', 'x2')).status).toBe(200)
      // Every instance enforces them, since the trigger does.
      expect(await errorCode(await react(server, roomId, ':c:', 'x3'))).toBe('too_many_reactions')
    } finally {
      await strict.close()
    }
    // A server started with the defaults writes them back.
    await (await startServer()).close()
    expect(await database.sql`select name, value from parley_settings order by name`).toEqual([
      { name: 'reactions_per_message', value: PER_MESSAGE },
      { name: 'reactions_per_user_per_message', value: PER_USER },
    ])
  })
})
