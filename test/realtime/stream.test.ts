import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { createRoom, postMessage, startTestServer, type TestServer } from '../support/server.js'
import { openStream, type StreamClient } from '../support/sse.js'

let database: TestDatabase
let server: TestServer
const streams: StreamClient[] = []

beforeAll(async () => {
  database = await createTestDatabase()
  server = await startTestServer(database)
})

afterAll(async () => {
  for (const stream of streams) stream.close()
  await server?.close()
  await database?.drop()
})

async function subscribe(
  roomId: number,
  options: { lastEventId?: number; as?: string; tokenInQuery?: boolean } = {},
) {
  const stream = openStream(server.url, roomId, {
    token: await server.token(options.as ?? 'bob'),
    ...options,
  })
  streams.push(stream)
  await stream.opened
  await expect.poll(() => server.hub.stats().subscribers).toBeGreaterThan(0)
  return stream
}

describe('GET /rooms/:id/stream', () => {
  it('delivers a POSTed message and a psql-style insert live, with the REST JSON', async () => {
    const roomId = await createRoom(server, 'live')
    const stream = await subscribe(roomId)
    const posted = await (await postMessage(server, roomId, 'over http')).json()
    await database.sql`insert into messages (room_id, user_id, user_name, body) values (${roomId}, 'ops', 'Ops', 'from psql')`
    await stream.waitFor(2)
    expect(stream.messages[0]).toEqual(posted)
    expect(stream.messages[1]).toMatchObject({
      room_id: roomId,
      seq: 2,
      user_id: 'ops',
      user_name: 'Ops',
      body: 'from psql',
    })
  })
})
