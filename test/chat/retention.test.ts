import pino from 'pino'
import { describe, expect, it } from 'vitest'
import { createRetention } from '../../src/chat/retention.js'
import { useTestServer } from '../support/fixtures.js'
import { createRoom, postMessage } from '../support/server.js'

// The retention sweep (src/chat/retention.ts) deletes what is older than RETENTION_MS and
// nothing else. Rows are aged by moving their timestamps back, so no test waits for time
// to pass; the periodic sweep is left to a day away and each test runs one itself.

const DAY = 86_400_000
const { server, database } = useTestServer({
  env: { RETENTION_MS: String(30 * DAY), RETENTION_SWEEP_MS: String(DAY) },
})

let rooms = 0
const newRoom = () => createRoom(server, `retention-${++rooms}`)

async function post(roomId: number, body: string, as = 'alice') {
  const response = await postMessage(server, roomId, body, as)
  expect(response.status).toBe(201)
  return ((await response.json()) as { seq: number }).seq
}

const call = (path: string, method: string, body: unknown, as = 'alice') =>
  server.request(path, { method, body: JSON.stringify(body), as })

describe('the retention sweep', () => {
  it("deletes a room's changes older than the window, and records the highest cursor deleted", async () => {
    const roomId = await newRoom()
    await post(roomId, 'one')
    await post(roomId, 'two')
    await call(`/rooms/${roomId}/messages/1`, 'PATCH', { body: 'one, edited' }) // cursor 3
    await server.request(`/rooms/${roomId}/messages/2/reactions/${encodeURIComponent('👍')}`, {
      method: 'PUT',
    }) // 4
    await server.request(`/rooms/${roomId}/messages/2/reactions/${encodeURIComponent('👍')}`, {
      method: 'DELETE',
    }) // 5
    await database.sql`update message_changes set created_at = now() - interval '31 days'
                        where room_id = ${roomId} and cursor in (3, 4)`
    await database.sql`update message_changes set created_at = now() - interval '29 days'
                        where room_id = ${roomId} and cursor = 5`

    await server.retention.sweep()

    const left = await database.sql<{ cursor: string }[]>`
      select cursor from message_changes where room_id = ${roomId} order by cursor`
    expect(left.map((row) => Number(row.cursor))).toEqual([5])
    const [room] = await database.sql<{ pruned_cursor: string; last_cursor: string }[]>`
      select pruned_cursor, last_cursor from rooms where id = ${roomId}`
    expect(room).toEqual({ pruned_cursor: '4', last_cursor: '5' })
    const messages = await database.sql`select seq from messages where room_id = ${roomId}`
    expect(messages).toHaveLength(2)
  })

  it("deletes a user's events and mentions older than the window, keeping the feed and its cursor", async () => {
    const roomId = await newRoom()
    await server.request(`/rooms/${roomId}/join`, { method: 'POST', as: 'rita' })
    const old = await post(roomId, 'old news, @rita')
    const recent = await post(roomId, 'fresh news, @rita')
    await database.sql`update messages set created_at = now() - interval '31 days'
                        where room_id = ${roomId} and seq = ${old}`
    await database.sql`update user_events set created_at = now() - interval '31 days'
                        where user_id = 'rita' and seq = ${old}`

    await server.retention.sweep()

    const events = await database.sql<{ kind: string; seq: string | null }[]>`
      select kind, seq from user_events where user_id = 'rita' order by cursor`
    expect(events).toEqual([
      { kind: 'added', seq: null },
      { kind: 'mention', seq: String(recent) },
    ])
    const mentions = await database.sql<{ seq: string }[]>`
      select seq from message_mentions where user_id = 'rita' order by seq`
    expect(mentions).toEqual([{ seq: String(recent) }])
    const feed = await database.sql<{ last_cursor: string; pruned_cursor: string }[]>`
      select last_cursor, pruned_cursor from user_feeds where user_id = 'rita'`
    // Joining told rita (1), then the two mentions (2, 3).
    expect(feed).toEqual([{ last_cursor: '3', pruned_cursor: '2' }])
  })

  it('deletes rate-limit buckets idle for more than a day and expired stream tickets, nothing else', async () => {
    await database.sql`insert into rate_buckets (user_id, action, tokens, granted, at) values
      ('idle-2d', 'post', 1, 1, now() - interval '2 days'),
      ('idle-23h', 'post', 1, 1, now() - interval '23 hours')`
    const hash = (c: string) => c.repeat(64)
    await database.sql`insert into stream_tickets (hash, user_id, user_name, is_admin, token_expires_at, expires_at) values
      (${hash('a')}, 'tam', 'Tam', false, now() + interval '1 hour', now() - interval '1 second'),
      (${hash('b')}, 'tam', 'Tam', false, now() + interval '1 hour', now() + interval '30 seconds')`

    await server.retention.sweep()

    const buckets = await database.sql`select user_id from rate_buckets where user_id like 'idle-%'`
    expect(buckets).toEqual([{ user_id: 'idle-23h' }])
    const tickets = await database.sql`select hash from stream_tickets where user_id = 'tam'`
    expect(tickets).toEqual([{ hash: hash('b') }])
  })

  it('sweeps in batches until nothing older is left, from two instances at once', async () => {
    const roomId = await newRoom()
    const seq = await post(roomId, 'toggled')
    const emoji = encodeURIComponent('🎉')
    for (let i = 0; i < 20; i++) {
      const method = i % 2 === 0 ? 'PUT' : 'DELETE'
      const response = await server.request(`/rooms/${roomId}/messages/${seq}/reactions/${emoji}`, {
        method,
        as: 'toggler',
      })
      expect(response.status).toBe(200)
    }
    await database.sql`update message_changes set created_at = now() - interval '31 days' where room_id = ${roomId}`
    const small = () =>
      createRetention({
        sql: database.sql,
        logger: pino({ level: 'silent' }),
        retentionMs: 30 * DAY,
        everyMs: DAY,
        batch: 3,
      })
    const [a, b] = await Promise.all([small().sweep(), small().sweep()])
    expect(a.changes + b.changes).toBe(20)
    const [room] = await database.sql`select pruned_cursor from rooms where id = ${roomId}`
    expect(room).toEqual({ pruned_cursor: '21' })
    expect(await database.sql`select 1 from message_changes where room_id = ${roomId}`).toHaveLength(0)
  })
})
