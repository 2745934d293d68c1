import { connect, type Socket } from 'node:net'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { createRoom, errorCode, postMessage, startTestServer, type TestServer } from '../support/server.js'
import { openStream, type StreamClient } from '../support/sse.js'
import { until } from '../support/wait.js'

let database: TestDatabase
const servers: TestServer[] = []
const streams: StreamClient[] = []
const sockets: Socket[] = []

beforeAll(async () => {
  database = await createTestDatabase()
})

afterEach(async () => {
  for (const stream of streams.splice(0)) stream.close()
  for (const socket of sockets.splice(0)) socket.destroy()
  for (const server of servers.splice(0)) await server.close()
})

afterAll(async () => {
  await database?.drop()
})

async function serverWith(env: Record<string, string>) {
  const server = await startTestServer(database, env)
  servers.push(server)
  return server
}

async function subscribe(server: TestServer, roomId: number, as: string, lastEventId?: number) {
  const stream = openStream(server.url, roomId, { token: await server.token(as), lastEventId })
  streams.push(stream)
  await stream.opened
  return stream
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)

/** A raw TCP client: it sends `request` as given and collects every byte it is allowed to read. */
function rawRequest(server: TestServer, request: string) {
  const socket = connect(server.port, '127.0.0.1')
  sockets.push(socket)
  const chunks: Buffer[] = []
  let closed = false
  socket.on('data', (chunk: Buffer) => chunks.push(chunk))
  socket.on('error', () => {})
  socket.on('close', () => (closed = true))
  socket.write(request)
  return {
    socket,
    received: () => Buffer.concat(chunks),
    isClosed: () => closed,
  }
}

function streamRequest(server: TestServer, roomId: number, token: string) {
  return rawRequest(
    server,
    `GET /rooms/${roomId}/stream HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\n` +
      `Authorization: Bearer ${token}\r\nAccept: text/event-stream\r\n\r\n`,
  )
}

/** The seqs of the complete message frames in a raw chunked SSE response, possibly cut off mid-chunk. */
function completeFrameSeqs(raw: Buffer): number[] {
  let pos = raw.indexOf('\r\n\r\n') + 4
  const parts: Buffer[] = []
  while (pos < raw.length) {
    const lineEnd = raw.indexOf('\r\n', pos)
    if (lineEnd < 0) break
    const size = Number.parseInt(raw.toString('latin1', pos, lineEnd), 16)
    if (size === 0) break
    parts.push(raw.subarray(lineEnd + 2, Math.min(lineEnd + 2 + size, raw.length)))
    pos = lineEnd + 2 + size + 2
  }
  const frames = Buffer.concat(parts).toString('utf8').split('\n\n').slice(0, -1)
  const seqs: number[] = []
  for (const frame of frames) {
    const match = /^id: (\d+)\nevent: message\ndata: (.*)$/.exec(frame)
    if (!match) continue
    expect((JSON.parse(match[2]!) as { seq: number }).seq).toBe(Number(match[1]))
    seqs.push(Number(match[1]))
  }
  return seqs
}

async function insertBig(roomId: number, count: number, bytes: number) {
  const body = 'x'.repeat(bytes)
  // One statement per row: each commit is its own notification, as from many writers.
  for (let i = 0; i < count; i++) {
    await database.sql`insert into messages (room_id, user_id, user_name, body) values (${roomId}, 'ops', 'Ops', ${body})`
  }
}

describe('a subscriber that stops reading', () => {
  it('is disconnected once its buffer passes STREAM_BUFFER_BYTES while the others receive everything', async () => {
    const server = await serverWith({ STREAM_BUFFER_BYTES: '65536' })
    const roomId = await createRoom(server, 'slow-subscriber')
    const normal = await subscribe(server, roomId, 'reader')
    const stalled = streamRequest(server, roomId, await server.token('staller'))
    stalled.socket.pause()
    await until(() => server.hub.subscriberCount(roomId) === 2, 'both subscribers')
    const rssBefore = process.memoryUsage().rss

    await insertBig(roomId, 200, 60 * 1024)

    await until(() => server.hub.stats().dropped >= 1, 'the stalled subscriber to be dropped')
    await until(() => server.hub.subscriberCount(roomId) === 1, 'one subscriber left')
    // The slot is only released when the connection is gone, not merely unsubscribed.
    await until(() => server.admission.open() === 1, 'the stalled stream to release its slot')
    await normal.waitFor(200, 20_000)
    expect(normal.seqs()).toEqual(range(1, 200))
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(256 * 1024 * 1024)

    // Whatever reached the stalled client is a gap-free prefix; it resumes after its last whole frame.
    stalled.socket.resume()
    await until(() => stalled.isClosed(), 'the stalled connection to close')
    const prefix = completeFrameSeqs(stalled.received())
    const last = prefix.at(-1) ?? 0
    expect(last).toBeLessThan(200)
    expect(prefix).toEqual(range(1, last))
    const resumed = await subscribe(server, roomId, 'staller', last)
    await resumed.waitFor(200 - last, 20_000)
    expect(resumed.seqs()).toEqual(range(last + 1, 200))
  })
})

describe('stream admission', () => {
  it('refuses the stream past MAX_STREAMS with 503 and Retry-After, and admits again after one closes', async () => {
    const server = await serverWith({ MAX_STREAMS: '3' })
    const roomId = await createRoom(server, 'max-streams')
    const open = [
      await subscribe(server, roomId, 'u1'),
      await subscribe(server, roomId, 'u2'),
      await subscribe(server, roomId, 'u3'),
    ]

    const refused = await server.request(`/rooms/${roomId}/stream`, { as: 'u4' })
    expect(refused.status).toBe(503)
    expect(refused.headers.get('retry-after')).toBe('5')
    expect(await errorCode(refused)).toBe('too_many_streams')

    open[0]!.close()
    await until(() => server.admission.open() === 2, 'the closed stream to release its slot')
    const admitted = await subscribe(server, roomId, 'u4')
    await postMessage(server, roomId, 'after the release')
    await admitted.waitFor(1)
    expect(admitted.seqs()).toEqual([1])
  })

  it('keeps no slot, subscriber or presence for stream requests abandoned before they start', async () => {
    const server = await serverWith({ MAX_STREAMS_PER_USER: '5', DB_POOL_MAX: '30' })
    const roomId = await createRoom(server, 'abandoned')
    const waitingOnLock = async () => {
      const [row] = await database.sql<{ n: number }[]>`select count(*)::int as n from pg_stat_activity
        where datname = current_database() and wait_event_type = 'Lock'`
      return row!.n
    }
    const token = await server.token('quitter')
    // Hold the access check (it reads room_members) until every client has given up.
    await database.sql.begin(async (tx) => {
      await tx`lock table room_members in access exclusive mode`
      await Promise.all(
        range(1, 20).map(async () => {
          const socket = connect(server.port, '127.0.0.1')
          socket.on('error', () => {})
          socket.write(
            `GET /rooms/${roomId}/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n\r\n`,
          )
          await until(async () => (await waitingOnLock()) >= 1, 'the request to reach the access check')
          socket.destroy()
        }),
      )
      await until(async () => (await waitingOnLock()) >= 20, 'every request to wait on the lock')
    })
    await until(
      () => server.admission.open() === 0 && server.hub.stats().streams === 0,
      'every abandoned request to be forgotten',
    )
    await until(async () => (await server.presence.list(roomId)).length === 0, 'no one to be present')
    const stream = await subscribe(server, roomId, 'quitter')
    await postMessage(server, roomId, 'still welcome')
    await stream.waitFor(1)
  })

  it('refuses a user’s stream past MAX_STREAMS_PER_USER with 429 while another user is admitted', async () => {
    const server = await serverWith({ MAX_STREAMS_PER_USER: '2' })
    const roomId = await createRoom(server, 'per-user')
    await subscribe(server, roomId, 'greedy')
    await subscribe(server, roomId, 'greedy')

    const refused = await server.request(`/rooms/${roomId}/stream`, { as: 'greedy' })
    expect(refused.status).toBe(429)
    expect(refused.headers.get('retry-after')).toBe('5')
    expect(await errorCode(refused)).toBe('too_many_streams')

    const other = await subscribe(server, roomId, 'modest')
    await until(() => server.hub.subscriberCount(roomId) === 3, 'three subscribers')
    await postMessage(server, roomId, 'hello')
    await other.waitFor(1)
    expect(other.seqs()).toEqual([1])
  })
})

describe('the message rate limit', () => {
  it('answers 429 rate_limited with Retry-After past the limit, per user, and admits again after it', async () => {
    const server = await serverWith({ RATE_LIMIT_MESSAGES: '5', RATE_LIMIT_WINDOW_MS: '3000' })
    const roomId = await createRoom(server, 'rate-limit')
    const statuses: number[] = []
    for (let i = 1; i <= 5; i++) statuses.push((await postMessage(server, roomId, `m${i}`, 'chatty')).status)
    expect(statuses).toEqual([201, 201, 201, 201, 201])

    const limited = await postMessage(server, roomId, 'one too many', 'chatty')
    const limitedAt = Date.now()
    expect(limited.status).toBe(429)
    expect(await errorCode(limited)).toBe('rate_limited')
    const retryAfter = limited.headers.get('retry-after') ?? ''
    expect(retryAfter).toMatch(/^[1-3]$/)

    expect((await postMessage(server, roomId, 'someone else', 'quiet')).status).toBe(201)

    // Waiting for the clock to pass the announced time is the behaviour under test.
    await until(() => Date.now() >= limitedAt + Number(retryAfter) * 1000, 'Retry-After to pass', 4_000)
    expect((await postMessage(server, roomId, 'patient', 'chatty')).status).toBe(201)
    const { messages } = (await (await server.request(`/rooms/${roomId}/messages`)).json()) as {
      messages: { seq: number; body: string }[]
    }
    expect(messages.map((m) => m.body)).toEqual(['m1', 'm2', 'm3', 'm4', 'm5', 'someone else', 'patient'])
  })

  it('never limits messages inserted with SQL', async () => {
    const server = await serverWith({ RATE_LIMIT_MESSAGES: '5', RATE_LIMIT_WINDOW_MS: '3000' })
    const roomId = await createRoom(server, 'rate-limit-sql')
    for (let i = 0; i < 20; i++) {
      await database.sql`insert into messages (room_id, user_id, user_name, body) values (${roomId}, 'ops', 'Ops', ${`bulk ${i}`})`
    }
    const [room] = await database.sql<
      { last_seq: number }[]
    >`select last_seq::int from rooms where id = ${roomId}`
    expect(room!.last_seq).toBe(20)
  })
})

describe('abusive requests', () => {
  it('answers 431 to a 64 KB header and keeps serving', async () => {
    const server = await serverWith({})
    const client = rawRequest(
      server,
      `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`,
    )
    await until(() => client.isClosed(), 'the connection to close')
    expect(client.received().toString('latin1')).toMatch(/^HTTP\/1\.1 431 /)
    expect((await server.request('/healthz', { as: null })).status).toBe(200)
  })

  it('answers 414 uri_too_long to a 5000-character query', async () => {
    const server = await serverWith({})
    const response = await server.request(`/rooms?filler=${'q'.repeat(5000)}`)
    expect(response.status).toBe(414)
    expect(await errorCode(response)).toBe('uri_too_long')
  })

  it('answers 413 payload_too_large to a body over 64 KB, with or without Content-Length', async () => {
    const server = await serverWith({})
    const roomId = await createRoom(server, 'big-body')
    const body = JSON.stringify({ body: 'b'.repeat(70 * 1024) })

    const declared = await server.request(`/rooms/${roomId}/messages`, { method: 'POST', body })
    expect(declared.status).toBe(413)
    expect(await errorCode(declared)).toBe('payload_too_large')

    const bytes = new TextEncoder().encode(body)
    const chunked = await server.request(`/rooms/${roomId}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: new ReadableStream({
        start(controller) {
          for (let at = 0; at < bytes.length; at += 8192) controller.enqueue(bytes.subarray(at, at + 8192))
          controller.close()
        },
      }),
      duplex: 'half',
    } as RequestInit)
    expect(chunked.status).toBe(413)
    expect(await errorCode(chunked)).toBe('payload_too_large')

    const [room] = await database.sql<
      { last_seq: number }[]
    >`select last_seq::int from rooms where id = ${roomId}`
    expect(room!.last_seq).toBe(0)
  })

  it('survives a stream client resetting its socket mid-write and removes its subscriber', async () => {
    const server = await serverWith({})
    const roomId = await createRoom(server, 'reset')
    const watcher = await subscribe(server, roomId, 'watcher')
    const rude = streamRequest(server, roomId, await server.token('rude'))
    await until(() => server.hub.subscriberCount(roomId) === 2, 'both subscribers')

    const writing = insertBig(roomId, 50, 32 * 1024)
    await until(() => rude.received().length > 64 * 1024, 'the rude client to be receiving')
    rude.socket.resetAndDestroy()
    await writing

    await until(() => server.hub.subscriberCount(roomId) === 1, 'the reset subscriber to be removed')
    await until(() => server.admission.open() === 1, 'the reset stream to release its slot')
    await watcher.waitFor(50)
    expect(watcher.seqs()).toEqual(range(1, 50))
    expect((await server.request('/healthz', { as: null })).status).toBe(200)
    expect((await postMessage(server, roomId, 'still serving')).status).toBe(201)
  })
})
