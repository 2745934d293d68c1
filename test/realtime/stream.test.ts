import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { createRoom, errorCode, postMessage, startTestServer, type TestServer } from '../support/server.js'
import { openStream, type StreamClient, type StreamOptions } from '../support/sse.js'
import { until } from '../support/wait.js'

let database: TestDatabase
let server: TestServer
const streams: StreamClient[] = []

beforeAll(async () => {
  database = await createTestDatabase()
  server = await startTestServer(database, { HEARTBEAT_MS: '200', SSE_RETRY_MS: '1500' })
})

afterAll(async () => {
  for (const stream of streams) stream.close()
  await server?.close()
  await database?.drop()
})

async function subscribe(roomId: number, options: Partial<StreamOptions> & { as?: string } = {}) {
  const before = server.hub.stats().subscribers
  const stream = openStream(server.url, roomId, {
    token: await server.token(options.as ?? 'bob'),
    ...options,
  })
  streams.push(stream)
  await stream.opened
  await until(() => server.hub.stats().subscribers > before, 'the subscriber to register')
  return stream
}

/** Reads the raw bytes of a stream until `done` says enough. */
async function readRaw(path: string, init: RequestInit, done: (text: string) => boolean) {
  const response = await fetch(`${server.url}${path}`, init)
  const reader = response.body!.getReader()
  const decoder = new TextDecoder()
  let text = ''
  while (!done(text)) {
    const { value, done: ended } = await reader.read()
    if (ended) break
    text += decoder.decode(value, { stream: true })
  }
  await reader.cancel()
  return { response, text }
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

  it('answers with SSE headers, a retry frame first, then id/event/data frames and pings', async () => {
    const roomId = await createRoom(server, 'frames')
    const token = await server.token('bob')
    const posting = until(() => server.hub.stats().subscribers > 0, 'the raw subscriber').then(() =>
      postMessage(server, roomId, 'line one\nline two'),
    )
    const { response, text } = await readRaw(
      `/rooms/${roomId}/stream?access_token=${token}`,
      {},
      (received) => received.includes('event: message') && received.includes(': ping'),
    )
    const message = await (await posting).json()
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/)
    expect(response.headers.get('cache-control')).toContain('no-cache')
    expect(response.headers.get('x-accel-buffering')).toBe('no')
    expect(response.headers.get('content-encoding')).toBeNull()
    // Not chunked: the body runs until the connection closes, each frame one plain write.
    expect(response.headers.get('transfer-encoding')).toBeNull()
    expect(response.headers.get('connection')).toBe('close')
    expect(text.startsWith('retry: 1500\n\n')).toBe(true)
    expect(text).toContain(`id: 1\nevent: message\ndata: ${JSON.stringify(message)}\n\n`)
    expect(text).toContain(': ping\n\n')
  })

  it('keeps rooms apart: subscribers of one room never see another room', async () => {
    const roomA = await createRoom(server, 'isolation-a')
    const roomB = await createRoom(server, 'isolation-b')
    const streamA = await subscribe(roomA)
    const streamB = await subscribe(roomB)
    for (let i = 1; i <= 5; i++) {
      await postMessage(server, roomA, `a${i}`)
      await postMessage(server, roomB, `b${i}`)
    }
    await streamA.waitFor(5)
    await streamB.waitFor(5)
    expect(streamA.messages.map((m) => m.body)).toEqual(['a1', 'a2', 'a3', 'a4', 'a5'])
    expect(streamB.messages.map((m) => m.body)).toEqual(['b1', 'b2', 'b3', 'b4', 'b5'])
  })

  it('delivers a 1 MB body inserted with SQL whole', async () => {
    const roomId = await createRoom(server, 'big')
    const stream = await subscribe(roomId)
    const body = 'x'.repeat(1024 * 1024 - 3) + '😀!'
    await database.sql`insert into messages (room_id, user_id, user_name, body) values (${roomId}, 'ops', 'Ops', ${body})`
    await stream.waitFor(1)
    expect(stream.messages[0]?.body).toBe(body)
  })

  it('sends event: expired and closes when the token expires', async () => {
    const roomId = await createRoom(server, 'expiry')
    const stream = await subscribe(roomId, {
      token: await server.token('carol', 'Carol', '2s'),
      reconnect: false,
    })
    await until(() => stream.events.some((event) => event.type === 'expired'), 'the expired event', 8_000)
    expect(stream.events.map((event) => event.type).filter((type) => type !== 'presence')).toEqual([
      'expired',
    ])
    await until(() => server.hub.subscriberCount(roomId) === 0, 'the stream to be removed')
  })

  it('answers 401 and 404 as JSON before any stream starts', async () => {
    const roomId = await createRoom(server, 'refusals')
    const anonymous = await fetch(`${server.url}/rooms/${roomId}/stream`)
    expect(anonymous.status).toBe(401)
    expect(anonymous.headers.get('content-type')).toMatch(/^application\/json/)
    expect(await errorCode(anonymous)).toBe('unauthorized')

    const missing = await server.request('/rooms/987654/stream')
    expect(missing.status).toBe(404)
    expect(await errorCode(missing)).toBe('room_not_found')

    const badCursor = await server.request(`/rooms/${roomId}/stream`, { headers: { 'last-event-id': 'abc' } })
    expect(badCursor.status).toBe(400)
    expect(await errorCode(badCursor)).toBe('validation_failed')
  })
})
