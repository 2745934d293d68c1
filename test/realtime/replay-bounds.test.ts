import { connect } from 'node:net'
import { describe, expect, it } from 'vitest'
import { useServerPerTest } from '../support/fixtures.js'
import { createRoom } from '../support/server.js'
import { until } from '../support/wait.js'

// A replay is read from the database in pages bounded by bytes as well as rows, so a client
// that asks for a room's whole history of huge messages and then stops reading costs the
// server about its buffer bound, not the room's history.

const { database, serverWith, track } = useServerPerTest()

const MESSAGES = 200
const MESSAGE_BYTES = 256 * 1024

describe('a replay of huge messages to a client that stops reading', () => {
  it('holds about the buffer bound, not the room history', async () => {
    const server = await serverWith({})
    const roomId = await createRoom(server, 'huge-history')
    // Written by hand, past the HTTP body limit, as an import from another system could.
    await database.sql`insert into messages (room_id, user_id, user_name, body)
      select ${roomId}, 'ops', 'Ops', repeat('x', ${MESSAGE_BYTES}) from generate_series(1, ${MESSAGES})`

    const socket = track(connect(server.port, '127.0.0.1'))
    let received = 0
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length
      // Reads what the kernel takes at once, then nothing more.
      if (received > 64 * 1024) socket.pause()
    })
    socket.on('error', () => {})
    global.gc?.()
    const before = process.memoryUsage()
    socket.write(
      `GET /rooms/${roomId}/stream HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\n` +
        `Authorization: Bearer ${await server.token('reader')}\r\nLast-Event-ID: 0\r\n\r\n`,
    )
    await until(() => received > 64 * 1024, 'the replay to start')

    // The server fills the kernel's buffers and then waits; whatever it holds meanwhile is
    // sampled for a while, the peak kept.
    let peak = 0
    const sampleUntil = Date.now() + 3_000
    await until(() => {
      const now = process.memoryUsage()
      peak = Math.max(peak, now.rss - before.rss)
      return Date.now() > sampleUntil
    }, 'the sampling to end')
    const history = MESSAGES * MESSAGE_BYTES
    console.log(
      `stalled replay: server grew by ${(peak / 2 ** 20).toFixed(1)} MB for a history of ${history / 2 ** 20} MB`,
    )
    // Held whole, the history costs about three times its size (rows, strings, frames): the old
    // pages grew the server by 146 MB here. Bounded pages cost about the buffer bound, plus
    // what the collector has not reclaimed yet (20–26 MB measured).
    expect(peak).toBeLessThan(history)
  })
})
