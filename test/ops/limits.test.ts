import { connect } from 'node:net'
import { describe, expect, it } from 'vitest'
import { useServerPerTest } from '../support/fixtures.js'
import { range } from '../support/range.js'
import { createRoom, errorCode, postMessage, type TestServer } from '../support/server.js'
import { until } from '../support/wait.js'

// What a server does at the edges of its resources: a subscriber too slow for its buffer,
// requests too large, a client that resets its socket. Stream admission is in
// test/realtime/admission, the message rate limit in test/chat/rate-limit.

const { database, serverWith, subscribe, track } = useServerPerTest()

/** A raw TCP client: it sends `request` as given and collects every byte it is allowed to read. */
function rawRequest(server: TestServer, request: string) {
  const socket = track(connect(server.port, '127.0.0.1'))
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

    await until(() => server.streams.stats().dropped >= 1, 'the stalled subscriber to be dropped')
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
