import { afterEach, describe, expect, it } from 'vitest'
import { useTestServer } from '../support/fixtures.js'
import { withListenersDown } from '../support/listener-outage.js'
import { MEMBER, MODERATOR, moderationFixtures, OWNER, verdict } from '../support/moderation.js'
import { tokenFor } from '../support/room-access.js'
import { openMultiStream, openStream, type StreamClient } from '../support/sse.js'
import { until } from '../support/wait.js'

// Bans and mutes made on one instance hold on the other at once, and a ban made while an
// instance's LISTEN connection is down (its notification lost) closes that instance's
// streams when it listens again, before the catch-up delivers anything committed since.

const { servers, database } = useTestServer({
  instances: 2,
  env: { LISTENER_PROBE_MS: '200', RATE_LIMIT_MODERATION: '10000' },
})
const [a, b] = servers
const { call, makeRoom, post } = moderationFixtures({ database: () => database, server: () => a })

const clients: StreamClient[] = []
afterEach(() => {
  for (const client of clients.splice(0)) client.close()
})

async function streamOf(user: string, roomId: number, on = a, multi = false) {
  const options = { token: await tokenFor(user), reconnect: false }
  const stream = multi ? openMultiStream(on.url, [roomId], options) : openStream(on.url, roomId, options)
  clients.push(stream)
  await stream.opened
  return stream
}

const told = (stream: StreamClient) => stream.events.some((event) => event.type === 'removed')

describe('across two instances', () => {
  it('a ban made on one closes the streams held on the other at once', async () => {
    const room = await makeRoom('public', { members: [] })
    const onB = await streamOf('vic', room.id, b)
    await until(() => b.hub.subscriberCount(room.id) === 1, 'the stream to join on b')
    expect(await verdict(await call(MODERATOR, 'PUT', `/rooms/${room.id}/bans/vic`, {}, a))).toBe('201')
    await until(() => told(onB), 'the stream on b to be told')
    expect(await verdict(await call('vic', 'GET', `/rooms/${room.id}/messages`, undefined, b))).toBe(
      '404 room_not_found',
    )
  })

  it('a mute made on one refuses posts on the other, and lifted on the other, lets them through', async () => {
    const room = await makeRoom('public')
    await call(MODERATOR, 'PUT', `/rooms/${room.id}/mutes/${MEMBER}`, {}, a)
    const refused = await Promise.all(
      [a, b, b, a].map((on, i) => call(MEMBER, 'POST', `/rooms/${room.id}/messages`, { body: `${i}` }, on)),
    )
    expect(await Promise.all(refused.map(verdict))).toEqual(Array(4).fill('403 muted'))
    await call(OWNER, 'DELETE', `/rooms/${room.id}/mutes/${MEMBER}`, undefined, b)
    expect((await post(room.id, 'free again', MEMBER, a)).body).toBe('free again')
  })
})

describe('a ban made while the listeners are down', () => {
  it("closes the banned user's streams of a public room, on both instances, before anything after it is delivered", async () => {
    const room = await makeRoom('public', { members: [] })
    const onA = await streamOf('vic', room.id, a)
    const onB = await streamOf('vic', room.id, b, true)
    const bystander = await streamOf('bea', room.id, b)
    await until(
      () => a.hub.subscriberCount(room.id) === 1 && b.hub.subscriberCount(room.id) === 2,
      'every stream to join',
    )

    await withListenersDown(database, [a, b], async (sql) => {
      await sql`insert into room_bans (room_id, user_id, reason) values (${room.id}, 'vic', 'during the outage')`
      await sql`insert into messages (room_id, user_id, user_name, body)
        values (${room.id}, ${OWNER}, 'Olive', 'after the ban')`
    })

    await bystander.waitFor(1)
    await until(() => told(onA) && told(onB), 'both streams to be told')
    expect([onA.messages, onB.messages]).toEqual([[], []])
    expect(bystander.messages.map((message) => message.body)).toEqual(['after the ban'])
  })

  it('keeps a stream resuming from before the ban out, with its Last-Event-ID', async () => {
    const room = await makeRoom('public', { members: [] })
    await post(room.id, 'before', OWNER)
    await database.sql`insert into room_bans (room_id, user_id) values (${room.id}, 'vic')`
    const response = await fetch(`${b.url}/rooms/${room.id}/stream`, {
      headers: { authorization: `Bearer ${await tokenFor('vic')}`, 'last-event-id': '0' },
    })
    expect(await verdict(response)).toBe('404 room_not_found')
  })
})
