import { afterAll, describe, expect, it } from 'vitest'
import { useTestServer } from '../support/fixtures.js'
import { range } from '../support/range.js'
import { createRoom, errorCode, postMessage } from '../support/server.js'
import { openMultiStream, openStream, type StreamClient, type StreamOptions } from '../support/sse.js'
import { until } from '../support/wait.js'

// A stream's life, from the answer before it starts to its close, and the multi-room
// stream GET /stream?rooms=. What the hub delivers on it is in test/realtime/hub.

// `other` is a second instance on the same database, where a multi-room stream resumes.
const { database, servers } = useTestServer({
  env: { HEARTBEAT_MS: '200', SSE_RETRY_MS: '1500' },
  instances: 2,
})
const [server, other] = servers
const streams: StreamClient[] = []

afterAll(() => {
  for (const stream of streams) stream.close()
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

  it('leaves zero subscribers after 1000 connect/disconnect cycles', async () => {
    const roomId = await createRoom(server, 'churn')
    // A user per concurrent client: 20 at once is the default MAX_STREAMS_PER_USER.
    const tokens = await Promise.all(range(1, 20).map((client) => server.token(`churner-${client}`)))
    const baseline = server.hub.stats()
    for (let batch = 0; batch < 50; batch++) {
      await Promise.all(
        tokens.map(async (token) => {
          const controller = new AbortController()
          const response = await fetch(`${server.url}/rooms/${roomId}/stream`, {
            headers: { authorization: `Bearer ${token}` },
            signal: controller.signal,
          })
          expect(response.status).toBe(200)
          await response.body!.getReader().read()
          controller.abort()
        }),
      )
    }
    // A stream closed while it was still joining is removed when its join completes.
    await until(
      () => server.hub.stats().rooms === baseline.rooms && server.hub.subscriberCount(roomId) === 0,
      'every churned stream to be removed',
    )
    expect(server.hub.stats().subscribers).toBe(baseline.subscribers)
  })
})

describe('GET /stream?rooms=', () => {
  it('delivers several rooms on one connection with a cursor that resumes each room exactly', async () => {
    const roomIds = [
      await createRoom(server, 'multi-a'),
      await createRoom(server, 'multi-b'),
      await createRoom(server, 'multi-c'),
    ]
    const token = await server.token('mia')
    const first = openMultiStream(server.url, roomIds, { token })
    streams.push(first)
    await first.opened
    await until(() => roomIds.every((id) => server.hub.subscriberCount(id) === 1), 'all three rooms to join')

    const insert = (roomId: number, count: number) =>
      database.sql`insert into messages (room_id, user_id, user_name, body)
                   select ${roomId}, 'ops', 'Ops', 'n' || g from generate_series(1, ${count}) g`
    await Promise.all(roomIds.map((roomId) => insert(roomId, 5)))
    await first.waitFor(15)
    first.close()
    const cursor = first.lastEventId()
    expect(cursor).toMatch(/^\d+:\d+,\d+:\d+,\d+:\d+$/)

    const writing = Promise.all(roomIds.map((roomId) => insert(roomId, 20)))
    const resumed = openMultiStream(other.url, roomIds, { token, lastEventId: cursor })
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

  it('sends a change that commits the moment it is open, in rooms no stream held before', async () => {
    const created = await database.sql<{ id: string }[]>`
      insert into rooms (name, created_by) select 'prompt-' || g, 'ops' from generate_series(1, 30) g returning id`
    const roomIds = created.map((row) => Number(row.id))
    const stream = openMultiStream(server.url, roomIds, { token: await server.token('prompt') })
    streams.push(stream)
    // The messages commit as soon as the client sees the stream open, while the stream
    // joins its rooms one by one, reading the cursor of each it is the first to join.
    await stream.opened
    await database.sql`insert into messages (room_id, user_id, user_name, body)
                       select unnest(${roomIds}::bigint[]), 'ops', 'Ops', 'prompt'`
    await until(() => stream.messages.length === roomIds.length, 'a message in every room', 15_000)
    expect(stream.messages.map((m) => m.room_id).sort((a, b) => a - b)).toEqual(roomIds.sort((a, b) => a - b))
  })

  it('answers 404 for a room the caller may not see, and 400 for a malformed list or cursor', async () => {
    const open = await createRoom(server, 'multi-open')
    const hidden = await server.request('/rooms', {
      as: 'owner',
      method: 'POST',
      body: JSON.stringify({ name: 'multi-hidden', visibility: 'private' }),
    })
    const hiddenId = ((await hidden.json()) as { id: number }).id
    const refused = await server.request(`/stream?rooms=${open},${hiddenId}`, { as: 'stranger' })
    expect([refused.status, await errorCode(refused)]).toEqual([404, 'room_not_found'])
    const malformed = await server.request('/stream?rooms=1,abc')
    expect([malformed.status, await errorCode(malformed)]).toEqual([400, 'invalid_id'])
    const badCursor = await server.request(`/stream?rooms=${open}`, { headers: { 'last-event-id': 'x:1' } })
    expect([badCursor.status, await errorCode(badCursor)]).toEqual([400, 'validation_failed'])
  })

  it('refuses more than 50 rooms on one stream with 400', async () => {
    const ids = Array.from({ length: 51 }, (_, i) => i + 1).join(',')
    const response = await server.request(`/stream?rooms=${ids}`)
    expect([response.status, await errorCode(response)]).toEqual([400, 'validation_failed'])
  })
})
