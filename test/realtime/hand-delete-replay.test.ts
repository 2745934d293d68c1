import { afterEach, describe, expect, it } from 'vitest'
import { useTestServer } from '../support/fixtures.js'
import { createRoom, postMessage } from '../support/server.js'
import { type HistoryEvent, openStream, type StreamClient } from '../support/sse.js'
import { until } from '../support/wait.js'

// A message deleted by hand (psql DELETE) leaves no row, yet a stream that resumes from
// before it must get what a live one got: the message (as a tombstone) at its cursor, its
// edits and reactions, then the delete.

const { server, database } = useTestServer()
const streams: StreamClient[] = []
afterEach(() => {
  for (const stream of streams.splice(0)) stream.close()
})

async function watch(roomId: number, lastEventId?: number) {
  const stream = openStream(server.url, roomId, { token: await server.token('watcher'), lastEventId })
  streams.push(stream)
  await stream.opened
  return stream
}

const summary = (changes: HistoryEvent[]) =>
  changes.map((change) => `${change.type} ${change.id} seq ${(change.data as { seq: number }).seq}`)

describe('a message deleted by hand', () => {
  it('is replayed with the same ids and events as it was delivered live', async () => {
    const roomId = await createRoom(server, 'hand-delete')
    const live = await watch(roomId)
    await postMessage(server, roomId, 'doomed') // 1
    await postMessage(server, roomId, 'stays') // 2
    await server.request(`/rooms/${roomId}/messages/1`, {
      method: 'PATCH',
      body: '{"body":"doomed, edited"}',
    }) // 3
    await server.request(`/rooms/${roomId}/messages/1/reactions/${encodeURIComponent('👍')}`, {
      method: 'PUT',
    }) // 4
    await database.sql`delete from messages where room_id = ${roomId} and seq = 1` // 5
    await postMessage(server, roomId, 'marker') // 6
    await until(() => live.lastEventId() === '6', 'the marker, live')

    // Read from the database, not from the room's recent window in memory.
    live.close()
    await until(() => server.hub.stats().rooms === 0, 'the room to leave memory')
    const resumed = await watch(roomId, 0)
    await until(() => resumed.lastEventId() === '6', 'the marker, replayed')

    const expected = [
      'message 1 seq 1',
      'message 2 seq 2',
      'edit 3 seq 1',
      'reaction 4 seq 1',
      'delete 5 seq 1',
      'message 6 seq 3',
    ]
    expect(summary(live.changes)).toEqual(expected)
    expect(summary(resumed.changes)).toEqual(expected)
    const [tombstone, , edit] = resumed.changes.map((change) => change.data as Record<string, unknown>)
    const original = live.changes[0]!.data as Record<string, unknown>
    const asTombstone = {
      ...original,
      body: '',
      mentions: [],
      reactions: {},
      edited_at: expect.any(String),
      deleted_at: expect.any(String),
    }
    expect(tombstone).toEqual(asTombstone)
    expect(edit).toEqual(tombstone)
    // Nothing of the body is kept once it is deleted.
    const [kept] =
      await database.sql`select tombstone::text as t from message_changes where room_id = ${roomId} and cursor = 5`
    expect(String(kept?.t)).not.toContain('doomed')
  })
})
