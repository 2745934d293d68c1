import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { useTestServer } from '../support/fixtures.js'
import { createRoom } from '../support/server.js'
import { openStream } from '../support/sse.js'
import { until } from '../support/wait.js'

const { server, database } = useTestServer()
/** A role that is not Parley's: it may connect and nothing else, which is enough to NOTIFY. */
let mallory: postgres.Sql

beforeAll(async () => {
  await database.sql.unsafe(`drop role if exists mallory_${process.pid}`)
  await database.sql.unsafe(`create role mallory_${process.pid} login password 'mallory'`)
  const url = new URL(database.url)
  url.username = `mallory_${process.pid}`
  url.password = 'mallory'
  mallory = postgres(url.toString(), { max: 1, onnotice: () => {} })
})

afterAll(async () => {
  await mallory?.end()
  await database?.sql.unsafe(`drop role if exists mallory_${process.pid}`)
})

async function refusedCount(): Promise<number> {
  const text = await (await server.request('/metrics', { as: null })).text()
  return Number(/^parley_notifications_refused_total (\d+)$/m.exec(text)?.[1])
}

describe('a notification forged by another database role', () => {
  it('reaches no stream, whatever it carries, and is counted; a real event still does', async () => {
    const roomId = await createRoom(server, 'forgery')
    const alice = openStream(server.url, roomId, { token: await server.token('alice') })
    await alice.opened
    await until(() => server.hub.subscriberCount(roomId) === 1, 'alice to join')
    const typing = { room_id: roomId, user_id: 'bob', user_name: 'bob', state: 'on' }
    const forged = [
      { room_id: roomId, event: 'message\nid: 999999', data: typing },
      { room_id: roomId, event: 'message', data: { id: 1, seq: 999999, body: 'forged' } },
      { room_id: roomId, event: 'removed', data: { room_id: roomId } },
      { room_id: roomId, event: 'typing', data: { ...typing, user_name: 'Bob\n\nid: 5', extra: true } },
      { room_id: roomId, event: 'presence', data: 'not an object' },
    ]
    for (const payload of forged) {
      await mallory`select pg_notify('parley_events', ${JSON.stringify(payload)})`
    }
    await mallory`select pg_notify('parley_events', 'not json at all')`
    await until(async () => (await refusedCount()) === forged.length + 1, 'every forgery to be refused')

    const typed = await server.request(`/rooms/${roomId}/typing`, {
      method: 'POST',
      body: JSON.stringify({ state: 'on' }),
      as: 'bob',
    })
    expect(typed.status).toBe(204)
    const notPresence = () => alice.events.filter((event) => event.type !== 'presence')
    await until(() => notPresence().length > 0, 'the real typing event')
    expect(notPresence()).toEqual([{ type: 'typing', data: JSON.stringify(typing) }])
    expect(alice.lastEventId()).toBe('')
    alice.close()
  })
})
