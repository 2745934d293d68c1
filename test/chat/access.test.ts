import type { Room } from '../../src/wire.js'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import {
  accessFixtures,
  ADMIN,
  MEMBER,
  NOT_FOUND,
  outcome,
  OWNER,
  STRANGER,
  tokenFor,
} from '../support/room-access.js'
import { startTestServer, type TestServer } from '../support/server.js'
import { until } from '../support/wait.js'

// A private room (src/chat/access.ts) stays out of a non-member's sight, in lists and on
// streams. A answers most requests, B holds streams in another process.
let database: TestDatabase
let a: TestServer
let b: TestServer
const { api, makeRoom, roomIdsSeenBy, callEndpoint, subscribe, insertWithSql, closeClients } = accessFixtures(
  {
    database: () => database,
    server: () => a,
  },
)

beforeAll(async () => {
  database = await createTestDatabase()
  a = await startTestServer(database)
  b = await startTestServer(database)
})

afterEach(closeClients)

afterAll(async () => {
  closeClients()
  await a?.close()
  await b?.close()
  await database?.drop()
})

describe('a private room, to a non-member', () => {
  it('does not betray its name: a public room of the same name can be created', async () => {
    const hidden = await makeRoom('private')
    const response = await api(STRANGER, 'POST', '/rooms', { body: { name: hidden.name } })
    expect(response.status).toBe(201)
    expect(await roomIdsSeenBy(OWNER)).toContain(hidden.id)
  })

  it('is left out of GET /rooms: neither its id nor its name appears', async () => {
    const hidden = await makeRoom('private')
    const open = await makeRoom('public')
    const response = await api(STRANGER, 'GET', '/rooms')
    expect(response.status).toBe(200)
    const text = await response.text()
    const ids = (JSON.parse(text) as { rooms: Room[] }).rooms.map((room) => room.id)
    expect(ids).toContain(open.id)
    expect(ids).not.toContain(hidden.id)
    expect(text).not.toContain(hidden.name)
    for (const user of [OWNER, MEMBER, ADMIN]) expect(await roomIdsSeenBy(user)).toContain(hidden.id)
  })
})

describe('a row inserted with SQL into a private room', () => {
  it('reaches its members’ streams and nobody else’s', async () => {
    const room = await makeRoom('private')
    const elsewhere = await makeRoom('private', { owner: 'otto', members: [] })
    const member = subscribe(a, room.id, await tokenFor(MEMBER))
    const owner = subscribe(b, room.id, await tokenFor(OWNER))
    const outsider = subscribe(a, elsewhere.id, await tokenFor('otto'))
    await Promise.all([member.opened, owner.opened, outsider.opened])
    await until(() => a.hub.subscriberCount(room.id) === 1 && b.hub.subscriberCount(room.id) === 1)
    await until(() => a.hub.subscriberCount(elsewhere.id) === 1, 'the outsider to subscribe')
    expect(await outcome(await callEndpoint('GET /rooms/:id/stream', room.id, STRANGER))).toBe(NOT_FOUND)

    await insertWithSql(room.id, 'the secret plan')
    await insertWithSql(elsewhere.id, 'for otto only')
    await member.waitFor(1)
    await owner.waitFor(1)
    await outsider.waitFor(1)
    for (const stream of [member, owner]) {
      expect(stream.messages.map((m) => [m.room_id, m.seq, m.body])).toEqual([
        [room.id, 1, 'the secret plan'],
      ])
    }
    expect(outsider.messages.map((m) => [m.room_id, m.body])).toEqual([[elsewhere.id, 'for otto only']])
    const page = await api(STRANGER, 'GET', `/rooms/${room.id}/messages`)
    expect(await outcome(page)).toBe(NOT_FOUND)
  })
})
