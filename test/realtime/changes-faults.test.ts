import { afterAll, describe, expect, it } from 'vitest'
import { useTestServer } from '../support/fixtures.js'
import { range } from '../support/range.js'
import { createRoom, type TestServer } from '../support/server.js'
import { type HistoryEvent, openStream, type StreamClient } from '../support/sse.js'
import { until } from '../support/wait.js'

// The change feed under load and faults: resumes hopping between instances while writers
// post, edit, react and delete, and a listener killed between two changes.

const { database, servers } = useTestServer({ instances: 2 })
const [first, second] = servers
const streams: StreamClient[] = []

afterAll(() => {
  for (const stream of streams) stream.close()
})

async function lastCursor(roomId: number): Promise<number> {
  const rows = await database.sql`select last_cursor from rooms where id = ${roomId}`
  return Number(rows[0]?.last_cursor)
}

const ids = (changes: HistoryEvent[]) => changes.map((change) => `${change.type} ${change.id}`)

function stream(target: TestServer, roomId: number, token: string, lastEventId?: number) {
  const client = openStream(target.url, roomId, { token, lastEventId, reconnect: false })
  streams.push(client)
  return client
}

/** Writers of every kind of change, over HTTP on both instances and with psql, until `count` posts are in. */
async function writeEverything(roomId: number, count: number) {
  const post = async (i: number) => {
    const target = i % 2 ? first : second
    const response = await target.request(`/rooms/${roomId}/messages`, {
      method: 'POST',
      body: JSON.stringify({ body: `m${i}` }),
      as: `poster-${i % 10}`,
    })
    expect(response.status).toBe(201)
  }
  const someSeq = async () => 1 + Math.floor(Math.random() * Math.max(1, (await lastSeq(roomId)) - 1))
  const react = async (i: number) => {
    const seq = await someSeq()
    const method = i % 3 === 2 ? 'DELETE' : 'PUT'
    const response = await second.request(`/rooms/${roomId}/messages/${seq}/reactions/%F0%9F%91%8D`, {
      method,
      as: `reactor-${i % 5}`,
    })
    expect([200, 409]).toContain(response.status)
  }
  const editByHand = async (i: number) => {
    const seq = await someSeq()
    await database.sql`update messages set body = ${`edited ${i}`} where room_id = ${roomId} and seq = ${seq}`
  }
  const tombstone = async () => {
    const seq = await someSeq()
    await database.sql`update messages set deleted_at = now() where room_id = ${roomId} and seq = ${seq}`
  }
  const sequentially = async (n: number, step: (i: number) => Promise<void>) => {
    for (let i = 0; i < n; i++) await step(i)
  }
  await post(-1)
  await Promise.all([
    sequentially(count, post),
    sequentially(count / 2, react),
    sequentially(count / 4, editByHand),
    sequentially(count / 10, tombstone),
  ])
}

async function lastSeq(roomId: number): Promise<number> {
  const rows = await database.sql`select last_seq from rooms where id = ${roomId}`
  return Number(rows[0]?.last_seq)
}

describe('the change feed under load', () => {
  it('resumes across every kind of change, hopping between instances, with no gap and no repeat', async () => {
    const roomId = await createRoom(first, 'hopping')
    const observer = stream(first, roomId, await first.token('observer'))
    await observer.opened
    await until(() => first.hub.subscriberCount(roomId) === 1, 'the observer to join')
    const token = await first.token('hopper')
    const hopped: HistoryEvent[] = []
    // The room's last cursor once the writers are done; until then no cursor reaches it.
    let final = Number.POSITIVE_INFINITY
    const reached = (id: string | undefined) => Number(id ?? 0) >= final
    const hopping = (async () => {
      for (let hop = 0; !reached(hopped.at(-1)?.id); hop++) {
        const after = Number(hopped.at(-1)?.id ?? 0)
        const client = stream(hop % 2 ? second : first, roomId, token, after)
        await client.opened
        const enough = () => client.changes.length >= 5 || reached(client.changes.at(-1)?.id ?? String(after))
        await until(enough, 'a few changes', 15_000)
        client.close()
        hopped.push(...client.changes)
      }
    })()
    await writeEverything(roomId, 40)
    final = await lastCursor(roomId)
    await until(() => Number(observer.lastEventId()) === final, 'the observer to catch up')
    await hopping
    expect(ids(hopped)).toEqual(ids(observer.changes))
    expect(observer.changes.map((change) => Number(change.id))).toEqual(range(1, final))
  })

  it('repeats nothing to a stream resuming on an instance that has not delivered its resume point yet', async () => {
    const roomId = await createRoom(first, 'lagging')
    const watcher = stream(second, roomId, await second.token('lag-watcher'))
    await watcher.opened
    await until(() => second.hub.subscriberCount(roomId) === 1, 'the watcher to join')
    await second.request(`/rooms/${roomId}/messages`, { method: 'POST', body: '{"body":"seen"}' })
    await until(() => watcher.changes.length === 1, 'the first message')
    // Committed while nobody listens: the instance learns of it only from its catch-up, after
    // the listener's reconnect, or when something makes it look.
    await database.sql.begin(async (tx) => {
      await tx`select pg_terminate_backend(pid) from pg_stat_activity
               where datname = current_database() and application_name = 'parley-listener'`
      await tx`insert into messages (room_id, user_id, user_name, body) values (${roomId}, 'psql', 'psql', 'unheard')`
    })
    // A client that saw the message elsewhere resumes here at once, from after it.
    const resumed = stream(second, roomId, await second.token('hopper'), 2)
    await resumed.opened
    await until(() => second.hub.subscriberCount(roomId) === 2, 'the resumed stream to join')
    await second.request(`/rooms/${roomId}/messages`, { method: 'POST', body: '{"body":"after"}' })
    await until(() => watcher.changes.length === 3, 'the watcher to have all three', 15_000)
    await until(() => resumed.changes.length >= 1, 'the message after the resume point')
    // A later message marks the end: whatever the stream would repeat arrives before it.
    await second.request(`/rooms/${roomId}/messages`, { method: 'POST', body: '{"body":"marker"}' })
    await until(() => ids(resumed.changes).includes('message 4'), 'the marker')
    expect(ids(resumed.changes)).toEqual(['message 3', 'message 4'])
  })

  it('loses nothing when the listener is killed between an edit and a delete', async () => {
    const roomId = await createRoom(first, 'killed')
    const watcher = stream(first, roomId, await first.token('watcher'))
    await watcher.opened
    await until(() => first.hub.subscriberCount(roomId) === 1, 'the watcher to join')
    await first.request(`/rooms/${roomId}/messages`, { method: 'POST', body: '{"body":"before"}' })
    await first.request(`/rooms/${roomId}/messages/1`, { method: 'PATCH', body: '{"body":"edited"}' })
    // The delete commits while nobody listens: its notification is lost, the catch-up reads it.
    await database.sql.begin(async (tx) => {
      await tx`select pg_terminate_backend(pid) from pg_stat_activity
               where datname = current_database() and application_name = 'parley-listener'`
      await tx`update messages set deleted_at = now() where room_id = ${roomId} and seq = 1`
    })
    await until(() => watcher.changes.length === 3, 'the delete after the reconnect', 15_000)
    expect(ids(watcher.changes)).toEqual(['message 1', 'edit 2', 'delete 3'])
    expect(first.listener.reconnects()).toBeGreaterThanOrEqual(1)
  })
})
