import { connect } from 'node:net'
import { describe, expect, it } from 'vitest'
import { useServerPerTest } from '../support/fixtures.js'
import { createRoom, type TestServer } from '../support/server.js'
import { until } from '../support/wait.js'

// A user's own stream (GET /me/stream) lives by the same rules as a room's: a client that
// stops reading is cut at STREAM_BUFFER_BYTES, and its admission slot comes back.

const { database, serverWith, track } = useServerPerTest()

/** GET /me/stream over a raw socket that the test can stop reading. */
function rawUserStream(server: TestServer, token: string) {
  const socket = track(connect(server.port, '127.0.0.1'))
  let received = 0
  let closed = false
  socket.on('data', (chunk: Buffer) => (received += chunk.length))
  socket.on('error', () => {})
  socket.on('close', () => (closed = true))
  socket.write(
    `GET /me/stream HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\n` +
      `Authorization: Bearer ${token}\r\nAccept: text/event-stream\r\n\r\n`,
  )
  return { socket, received: () => received, isClosed: () => closed }
}

describe('a user stream that stops reading', () => {
  it('is cut once its buffer passes STREAM_BUFFER_BYTES, and its slot is freed', async () => {
    const server = await serverWith({ STREAM_BUFFER_BYTES: '65536' })
    const roomId = await createRoom(server, 'mentions-flood')
    // A public room's mentions count for the people it knows: the staller joins it.
    const joined = await server.request(`/rooms/${roomId}/join`, { method: 'POST', as: 'staller' })
    expect(joined.status).toBe(201)
    const stalled = rawUserStream(server, await server.token('staller'))
    await until(() => stalled.received() > 0, 'the user stream to open')
    expect(server.admission.open()).toBe(1)
    stalled.socket.pause()

    // Each mention is an event carrying its 60 KB message: far more than the bound and
    // the socket's own buffers together.
    const body = `@staller ${'x'.repeat(60 * 1024)}`
    for (let i = 0; i < 200; i++) {
      await database.sql`insert into messages (room_id, user_id, user_name, body)
        values (${roomId}, 'ops', 'Ops', ${body})`
    }

    await until(() => server.streams.stats().dropped >= 1, 'the stalled user stream to be dropped')
    await until(() => server.admission.open() === 0, 'its slot to be released')
    stalled.socket.resume()
    await until(() => stalled.isClosed(), 'the stalled connection to close')
  })
})
