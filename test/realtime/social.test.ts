import { afterAll, describe, expect, it } from 'vitest'
import { useTestServer } from '../support/fixtures.js'
import { createRoom, postMessage, type TestServer } from '../support/server.js'
import { eventsOf, openStream, type StreamClient } from '../support/sse.js'
import { until } from '../support/wait.js'

// Presence and typing as the room's streams hear them, across two instances. Their HTTP
// surface is in test/http/social; read receipts are in test/chat/reads.

const { database, servers } = useTestServer({
  env: { PRESENCE_TTL_MS: '2000', TYPING_THROTTLE_MS: '1000' },
  instances: 2,
})
const [serverA, serverB] = servers
const streams: StreamClient[] = []

afterAll(() => {
  for (const stream of streams) stream.close()
})

async function watch(server: TestServer, roomId: number, user: string) {
  const joined = server.hub.subscriberCount(roomId)
  const stream = openStream(server.url, roomId, { token: await server.token(user, user.toUpperCase()) })
  streams.push(stream)
  await stream.opened
  // Events without an id reach the streams that joined the room, after their access check.
  await until(() => server.hub.subscriberCount(roomId) > joined, `${user}'s stream to join the room`)
  return stream
}

async function presentUsers(server: TestServer, roomId: number) {
  const response = await server.request(`/rooms/${roomId}/presence`)
  return ((await response.json()) as { users: { user_id: string }[] }).users.map((user) => user.user_id)
}

interface PresenceFrame {
  joined: { user_id: string; user_name: string }[]
  left: { user_id: string; user_name: string }[]
  count: number
}

/** Every presence frame of the stream as a list of (join|leave, user id, name), in order. */
function presenceChanges(stream: StreamClient) {
  return (eventsOf(stream, 'presence') as PresenceFrame[]).flatMap((frame) => [
    ...frame.joined.map((user) => ({ type: 'join', user_id: user.user_id, user_name: user.user_name })),
    ...frame.left.map((user) => ({ type: 'leave', user_id: user.user_id, user_name: user.user_name })),
  ])
}

describe('presence', () => {
  it('lists each connected user once across instances and announces first joins and last leaves', async () => {
    const roomId = await createRoom(serverA, 'presence')
    const observer = await watch(serverA, roomId, 'olga')
    const bobOnA = await watch(serverA, roomId, 'bob')
    const bobOnB = await watch(serverB, roomId, 'bob')
    await until(async () => (await presentUsers(serverB, roomId)).length === 2, 'olga and bob to be present')
    expect(await presentUsers(serverA, roomId)).toEqual(['bob', 'olga'])

    bobOnA.close()
    await until(async () => serverA.hub.subscriberCount(roomId) === 1, 'bob to leave instance A')
    expect(await presentUsers(serverA, roomId)).toEqual(['bob', 'olga'])
    bobOnB.close()
    await until(async () => (await presentUsers(serverA, roomId)).length === 1, 'bob to be gone')

    // olga's own join comes first; bob's two connections make one join and one leave.
    await until(() => presenceChanges(observer).length >= 3, 'the leave event')
    expect(presenceChanges(observer)).toEqual([
      { type: 'join', user_id: 'olga', user_name: 'OLGA' },
      { type: 'join', user_id: 'bob', user_name: 'BOB' },
      { type: 'leave', user_id: 'bob', user_name: 'BOB' },
    ])
  })

  it('sweeps the presence of an instance that stopped heartbeating and announces the leave', async () => {
    const roomId = await createRoom(serverA, 'ghosts')
    const observer = await watch(serverB, roomId, 'olga')
    // An instance that died without cleaning up: its rows stay, its heartbeat stops.
    await database.sql`insert into parley_instances (id, heartbeat_at) values ('dead-instance', now())`
    await database.sql`insert into stream_presence (instance_id, room_id, user_id, user_name)
                       values ('dead-instance', ${roomId}, 'ghost', 'Ghost')`
    expect(await presentUsers(serverA, roomId)).toContain('ghost')
    await until(() => presenceChanges(observer).some((change) => change.type === 'leave'), 'the sweep', 8_000)
    expect(presenceChanges(observer)).toContainEqual({
      type: 'leave',
      user_id: 'ghost',
      user_name: 'Ghost',
    })
    expect(await presentUsers(serverA, roomId)).toEqual(['olga'])
  })
})

describe('typing', () => {
  it('reaches the other users on every instance, not the typist, and is throttled', async () => {
    const roomId = await createRoom(serverA, 'typing')
    const typist = await watch(serverA, roomId, 'tina')
    const reader = await watch(serverB, roomId, 'rob')
    const tina = { as: 'tina', method: 'POST' }
    for (let i = 0; i < 5; i++) {
      const response = await serverA.request(`/rooms/${roomId}/typing`, { ...tina, body: '{"state":"on"}' })
      expect(response.status).toBe(204)
    }
    expect(
      (await serverA.request(`/rooms/${roomId}/typing`, { ...tina, body: '{"state":"off"}' })).status,
    ).toBe(204)
    await until(() => eventsOf(reader, 'typing').length >= 2, 'typing on and off')
    expect(eventsOf(reader, 'typing')).toEqual([
      { room_id: roomId, user_id: 'tina', user_name: 'tina', state: 'on' },
      { room_id: roomId, user_id: 'tina', user_name: 'tina', state: 'off' },
    ])
    // A message posted afterwards proves the typist's stream was live all along.
    await postMessage(serverA, roomId, 'done typing', 'tina')
    await typist.waitFor(1)
    expect(eventsOf(typist, 'typing')).toEqual([])
  })
})
