import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { createRoom, errorCode, postMessage, startTestServer, type TestServer } from '../support/server.js'
import { openMultiStream, openStream, type StreamClient } from '../support/sse.js'
import { until } from '../support/wait.js'

let database: TestDatabase
let serverA: TestServer
let serverB: TestServer
const streams: StreamClient[] = []

beforeAll(async () => {
  database = await createTestDatabase()
  const env = { PRESENCE_TTL_MS: '2000', TYPING_THROTTLE_MS: '1000' }
  serverA = await startTestServer(database, env)
  serverB = await startTestServer(database, env)
})

afterAll(async () => {
  for (const stream of streams) stream.close()
  await serverA?.close()
  await serverB?.close()
  await database?.drop()
})

async function watch(server: TestServer, roomId: number, user: string) {
  const stream = openStream(server.url, roomId, { token: await server.token(user, user.toUpperCase()) })
  streams.push(stream)
  await stream.opened
  return stream
}

const eventsOf = (stream: StreamClient, type: string) =>
  stream.events.filter((event) => event.type === type).map((event) => JSON.parse(event.data) as unknown)

async function presentUsers(server: TestServer, roomId: number) {
  const response = await server.request(`/rooms/${roomId}/presence`)
  return ((await response.json()) as { users: { user_id: string }[] }).users.map((user) => user.user_id)
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
    await until(() => eventsOf(observer, 'presence').length >= 3, 'the leave event')
    expect(eventsOf(observer, 'presence')).toEqual([
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
    await until(
      () => eventsOf(observer, 'presence').some((event) => (event as { type: string }).type === 'leave'),
      'the sweep',
      8_000,
    )
    expect(eventsOf(observer, 'presence')).toContainEqual({
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

  it('rejects a state other than on or off', async () => {
    const roomId = await createRoom(serverA, 'typing-bad')
    const response = await serverA.request(`/rooms/${roomId}/typing`, {
      method: 'POST',
      body: '{"state":"maybe"}',
    })
    expect(response.status).toBe(400)
    expect(await errorCode(response)).toBe('validation_failed')
  })
})

describe('read receipts', () => {
  it('records read marks that never move backwards, announces them and feeds unread counts', async () => {
    const roomId = await createRoom(serverA, 'receipts', 'amy')
    const observer = await watch(serverB, roomId, 'amy')
    for (let i = 1; i <= 4; i++) await postMessage(serverA, roomId, `m${i}`, 'amy')
    const unread = async () => {
      const response = await serverA.request('/rooms', { as: 'ben' })
      const { rooms } = (await response.json()) as { rooms: { id: number; unread_count: number }[] }
      return rooms.find((room) => room.id === roomId)?.unread_count
    }
    expect(await unread()).toBe(4)

    const mark = (seq: number) =>
      serverA.request(`/rooms/${roomId}/read`, { as: 'ben', method: 'POST', body: JSON.stringify({ seq }) })
    expect(await (await mark(3)).json()).toEqual({ user_id: 'ben', seq: 3 })
    expect(await (await mark(1)).json()).toEqual({ user_id: 'ben', seq: 3 })
    expect(await (await mark(99)).json()).toEqual({ user_id: 'ben', seq: 4 })
    expect(await unread()).toBe(0)

    await until(() => eventsOf(observer, 'read').length >= 2, 'two read events')
    expect(eventsOf(observer, 'read')).toEqual([
      { room_id: roomId, user_id: 'ben', seq: 3 },
      { room_id: roomId, user_id: 'ben', seq: 4 },
    ])
    const reads = await (await serverB.request(`/rooms/${roomId}/reads`)).json()
    expect(reads).toEqual({
      reads: [
        { user_id: 'amy', seq: 0, updated_at: null },
        { user_id: 'ben', seq: 4, updated_at: expect.any(String) },
      ],
    })
  })
})

describe('GET /stream?rooms=', () => {
  it('delivers several rooms on one connection with a cursor that resumes each room exactly', async () => {
    const roomIds = [
      await createRoom(serverA, 'multi-a'),
      await createRoom(serverA, 'multi-b'),
      await createRoom(serverA, 'multi-c'),
    ]
    const token = await serverA.token('mia')
    const first = openMultiStream(serverA.url, roomIds, { token })
    streams.push(first)
    await first.opened
    await until(() => roomIds.every((id) => serverA.hub.subscriberCount(id) === 1), 'all three rooms to join')

    const insert = (roomId: number, count: number) =>
      database.sql`insert into messages (room_id, user_id, user_name, body)
                   select ${roomId}, 'ops', 'Ops', 'n' || g from generate_series(1, ${count}) g`
    await Promise.all(roomIds.map((roomId) => insert(roomId, 5)))
    await first.waitFor(15)
    first.close()
    const cursor = first.lastEventId()
    expect(cursor).toMatch(/^\d+:\d+,\d+:\d+,\d+:\d+$/)

    const writing = Promise.all(roomIds.map((roomId) => insert(roomId, 20)))
    const resumed = openMultiStream(serverB.url, roomIds, { token, lastEventId: cursor })
    streams.push(resumed)
    await writing
    await resumed.waitFor(60)
    for (const roomId of roomIds) {
      const seen = [...first.messages, ...resumed.messages]
        .filter((m) => m.room_id === roomId)
        .map((m) => m.seq)
      expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => i + 1))
    }
  })

  it('answers 404 for a room the caller may not see, and 400 for a malformed list or cursor', async () => {
    const open = await createRoom(serverA, 'multi-open')
    const hidden = await serverA.request('/rooms', {
      as: 'owner',
      method: 'POST',
      body: JSON.stringify({ name: 'multi-hidden', visibility: 'private' }),
    })
    const hiddenId = ((await hidden.json()) as { id: number }).id
    const refused = await serverA.request(`/stream?rooms=${open},${hiddenId}`, { as: 'stranger' })
    expect([refused.status, await errorCode(refused)]).toEqual([404, 'room_not_found'])
    const malformed = await serverA.request('/stream?rooms=1,abc')
    expect([malformed.status, await errorCode(malformed)]).toEqual([400, 'invalid_id'])
    const badCursor = await serverA.request(`/stream?rooms=${open}`, { headers: { 'last-event-id': 'x:1' } })
    expect([badCursor.status, await errorCode(badCursor)]).toEqual([400, 'validation_failed'])
  })

  it('refuses more than 50 rooms on one stream with 400', async () => {
    const ids = Array.from({ length: 51 }, (_, i) => i + 1).join(',')
    const response = await serverA.request(`/stream?rooms=${ids}`)
    expect([response.status, await errorCode(response)]).toEqual([400, 'validation_failed'])
  })
})

describe('presence, typing and receipts of a private room', () => {
  it('answer 404 room_not_found to a non-member, like a room that does not exist', async () => {
    const created = await serverA.request('/rooms', {
      as: 'keeper',
      method: 'POST',
      body: JSON.stringify({ name: 'social-hidden', visibility: 'private' }),
    })
    const roomId = ((await created.json()) as { id: number }).id
    const calls: [string, string, string?][] = [
      ['GET', `/rooms/${roomId}/presence`],
      ['POST', `/rooms/${roomId}/typing`, '{"state":"on"}'],
      ['POST', `/rooms/${roomId}/read`, '{"seq":1}'],
      ['GET', `/rooms/${roomId}/reads`],
    ]
    for (const [method, path, body] of calls) {
      const response = await serverA.request(path, { as: 'stranger', method, body })
      expect([path, response.status, await errorCode(response)]).toEqual([path, 404, 'room_not_found'])
      const member = await serverA.request(path, { as: 'keeper', method, body })
      expect([path, member.status]).toEqual([path, method === 'GET' || path.endsWith('/read') ? 200 : 204])
    }
  })

  it('answers 400 to a read mark that is not a non-negative integer', async () => {
    const roomId = await createRoom(serverA, 'read-bad')
    for (const body of ['{"seq":-1}', '{"seq":"x"}', '{"seq":1.5}', '{}']) {
      const response = await serverA.request(`/rooms/${roomId}/read`, { method: 'POST', body })
      expect([body, response.status, await errorCode(response)]).toEqual([body, 400, 'validation_failed'])
    }
  })
})
