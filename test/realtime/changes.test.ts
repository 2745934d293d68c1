import type { Message } from '../../src/wire.js'
import { afterAll, describe, expect, it } from 'vitest'
import { readPage } from '../support/api.js'
import { useTestServer } from '../support/fixtures.js'
import { createRoom, type TestServer } from '../support/server.js'
import { type HistoryEvent, openMultiStream, openStream, type StreamClient } from '../support/sse.js'
import { until } from '../support/wait.js'

// Every change to a room's history, over HTTP or with psql, reaches the stream live with
// `id:` the room's change cursor, and a resume after any cursor replays the rest exactly.

const { server, database, startServer } = useTestServer()
const streams: StreamClient[] = []

afterAll(async () => {
  for (const stream of streams) stream.close()
})

let roomCounter = 0
const newRoom = () => createRoom(server, `changes-${++roomCounter}`)

async function watch(roomId: number, as = 'watcher', lastEventId?: number) {
  const stream = openStream(server.url, roomId, { token: await server.token(as), lastEventId })
  streams.push(stream)
  await stream.opened
  return stream
}

const call = (path: string, method: string, body?: unknown, as = 'alice') =>
  server.request(path, { method, body: body === undefined ? undefined : JSON.stringify(body), as })

/** The change events as `type id` strings, with the seq they concern. */
const summary = (changes: HistoryEvent[]) =>
  changes.map((change) => `${change.type} ${change.id} seq ${(change.data as { seq: number }).seq}`)

/** A stream resuming after each cursor of the room's ten changes, on `target`, once caught up. */
async function resumeAll(target: TestServer, roomId: number, label: string) {
  const resumed = new Map<number, HistoryEvent[]>()
  for (const after of [0, 1, 4, 5, 6, 7, 8, 9, 10]) {
    const token = await server.token(`${label}-${after}`)
    const stream = openStream(target.url, roomId, { token, lastEventId: after })
    streams.push(stream)
    await stream.opened
    await until(() => stream.lastEventId() === '10' || after === 10, `the changes after ${after}`)
    resumed.set(after, stream.changes)
  }
  return resumed
}

describe('the change feed', () => {
  it('streams edits, deletes and reactions made over HTTP, each with the next cursor', async () => {
    const roomId = await newRoom()
    const stream = await watch(roomId)
    await until(() => server.hub.subscriberCount(roomId) === 1, 'the stream to join')
    await call(`/rooms/${roomId}/messages`, 'POST', { body: 'first' })
    await call(`/rooms/${roomId}/messages/1`, 'PATCH', { body: 'first, edited' })
    await call(`/rooms/${roomId}/messages/1/reactions/%F0%9F%91%8D`, 'PUT', undefined, 'bob')
    await call(`/rooms/${roomId}/messages/1/reactions/%F0%9F%91%8D`, 'DELETE', undefined, 'bob')
    await call(`/rooms/${roomId}/messages/1`, 'DELETE')
    await until(() => stream.changes.length === 5, 'five changes')
    expect(stream.changes.map((change) => [change.type, change.id])).toEqual([
      ['message', '1'],
      ['edit', '2'],
      ['reaction', '3'],
      ['reaction', '4'],
      ['delete', '5'],
    ])
    expect(stream.changes[1]?.data).toMatchObject({
      seq: 1,
      body: 'first, edited',
      edited_at: expect.any(String),
    })
    expect(stream.changes[2]?.data).toEqual({
      room_id: roomId,
      seq: 1,
      emoji: '👍',
      user_id: 'bob',
      action: 'added',
      count: 1,
    })
    expect(stream.changes[3]?.data).toEqual({
      room_id: roomId,
      seq: 1,
      emoji: '👍',
      user_id: 'bob',
      action: 'removed',
      count: 0,
    })
    expect(stream.changes[4]?.data).toEqual({ room_id: roomId, seq: 1 })
  })

  it('streams changes made with psql exactly like HTTP ones', async () => {
    const roomId = await newRoom()
    const stream = await watch(roomId)
    await until(() => server.hub.subscriberCount(roomId) === 1, 'the stream to join')
    const sql = database.sql
    await sql`insert into messages (room_id, user_id, user_name, body)
              select ${roomId}, 'ops', 'Ops', 'm' || i from generate_series(1, 3) i`
    await sql`update messages set body = 'edited by hand' where room_id = ${roomId} and seq = 1`
    await sql`insert into message_reactions (room_id, seq, user_id, emoji) values (${roomId}, 2, 'ops', '🎉')`
    await sql`update messages set deleted_at = now() where room_id = ${roomId} and seq = 2`
    await sql`delete from messages where room_id = ${roomId} and seq = 3`
    await until(() => stream.changes.length === 7, 'seven changes')
    expect(summary(stream.changes)).toEqual([
      'message 1 seq 1',
      'message 2 seq 2',
      'message 3 seq 3',
      'edit 4 seq 1',
      'reaction 5 seq 2',
      'delete 6 seq 2',
      'delete 7 seq 3',
    ])
    expect((stream.changes[3]?.data as Message).body).toBe('edited by hand')
    // The hand delete is gone from history; the tombstone stays.
    const page = await readPage(server, roomId)
    expect(page.messages.map((m) => [m.seq, m.body, m.deleted_at !== null])).toEqual([
      [1, 'edited by hand', false],
      [2, '', true],
    ])
    expect(page.cursor).toBe(7)
  })

  it('replays every change after a Last-Event-ID once, in order, from the database and from memory', async () => {
    const roomId = await newRoom()
    const live = await watch(roomId, 'live')
    await until(() => server.hub.subscriberCount(roomId) === 1, 'the stream to join')
    for (let i = 1; i <= 6; i++) await call(`/rooms/${roomId}/messages`, 'POST', { body: `m${i}` }, `u${i}`)
    await call(`/rooms/${roomId}/messages/2`, 'PATCH', { body: 'two' }, 'u2')
    await call(`/rooms/${roomId}/messages/3/reactions/%3Aok%3A`, 'PUT')
    await call(`/rooms/${roomId}/messages/4`, 'DELETE', undefined, 'u4')
    await database.sql`delete from messages where room_id = ${roomId} and seq = 5`
    await until(() => live.changes.length === 10, 'ten changes')
    const fromMemory = await resumeAll(server, roomId, 'memory')
    // A second instance has no window for the room: it replays from the database, where
    // message 5 is gone (deleted by hand) but its delete kept its tombstone at its cursor.
    const cold = await startServer()
    try {
      const fromDatabase = await resumeAll(cold, roomId, 'database')
      const idsOf = (changes: HistoryEvent[]) => changes.map((c) => `${c.type} ${c.id}`)
      for (const [after, changes] of fromMemory) {
        expect(idsOf(changes), `memory after ${after}`).toEqual(idsOf(live.changes.slice(after)))
        expect(idsOf(fromDatabase.get(after)!), `database after ${after}`).toEqual(
          idsOf(live.changes.slice(after)),
        )
      }
    } finally {
      await cold.close()
    }
  })

  it('gives a page the cursor that a stream resumes from without gap or repeat', async () => {
    const roomId = await newRoom()
    for (let i = 1; i <= 3; i++) await call(`/rooms/${roomId}/messages`, 'POST', { body: `m${i}` }, `p${i}`)
    await call(`/rooms/${roomId}/messages/1/reactions/%F0%9F%91%8D`, 'PUT')
    const page = await readPage(server, roomId)
    expect(page.cursor).toBe(4)
    const room = (await (await server.request(`/rooms/${roomId}`)).json()) as { cursor: number }
    expect(room.cursor).toBe(4)
    await call(`/rooms/${roomId}/messages/2`, 'PATCH', { body: 'later' }, 'p2')
    const stream = await watch(roomId, 'pager', page.cursor)
    await until(() => stream.changes.length === 1, 'the edit')
    await call(`/rooms/${roomId}/messages`, 'POST', { body: 'm4' }, 'p4')
    await until(() => stream.changes.length === 2, 'the new message')
    expect(summary(stream.changes)).toEqual(['edit 5 seq 2', 'message 6 seq 4'])
  })

  it('carries each room’s change cursor on a multi-room stream and resumes every room from it', async () => {
    const first = await newRoom()
    const second = await newRoom()
    const token = await server.token('multi')
    const stream = openMultiStream(server.url, [first, second], { token })
    streams.push(stream)
    await stream.opened
    await until(() => server.hub.subscriberCount(second) === 1, 'both rooms to join')
    // Rooms are delivered independently, so each change is awaited before the next.
    await call(`/rooms/${first}/messages`, 'POST', { body: 'a' })
    await until(() => stream.changes.length === 1, 'the first room’s message')
    await call(`/rooms/${second}/messages`, 'POST', { body: 'b' })
    await until(() => stream.changes.length === 2, 'the second room’s message')
    await call(`/rooms/${first}/messages/1/reactions/%F0%9F%91%8D`, 'PUT')
    await until(() => stream.changes.length === 3, 'three changes')
    expect(stream.changes.map((change) => change.id)).toEqual([
      `${first}:1,${second}:0`,
      `${first}:1,${second}:1`,
      `${first}:2,${second}:1`,
    ])
    const resumed = openMultiStream(server.url, [first, second], {
      token,
      lastEventId: stream.changes[0]!.id,
    })
    streams.push(resumed)
    await until(() => resumed.changes.length === 2, 'the two later changes')
    // Each room replays in its own order, the rooms one after the other.
    expect(resumed.changes.map((change) => [change.type, change.id])).toEqual([
      ['reaction', `${first}:2,${second}:0`],
      ['message', `${first}:2,${second}:1`],
    ])
  })
})
