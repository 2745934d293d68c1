import { connect, type Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { useTestServer } from '../support/fixtures.js'
import { createRoom, errorCode } from '../support/server.js'
import { openStream, type StreamClient } from '../support/sse.js'
import { until } from '../support/wait.js'

const { server, database } = useTestServer({ env: { STREAM_BUFFER_BYTES: '65536' } })
const streams: StreamClient[] = []
const sockets: Socket[] = []

afterEach(() => {
  for (const stream of streams.splice(0)) stream.close()
  for (const socket of sockets.splice(0)) socket.destroy()
})

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)

async function watch(roomId: number, as: string) {
  const stream = openStream(server.url, roomId, { token: await server.token(as) })
  streams.push(stream)
  await stream.opened
  return stream
}

const typingOf = (stream: StreamClient) =>
  stream.events.filter((event) => event.type === 'typing').map((event) => JSON.parse(event.data).state)

describe('typing', () => {
  it('sends at most one frame per typist per interval however on and off alternate, and the last state wins', async () => {
    const roomId = await createRoom(server, 'typing-flood')
    const watcher = await watch(roomId, 'watcher')
    await until(() => server.hub.subscriberCount(roomId) === 1, 'the watcher to join')
    for (let i = 0; i < 10; i++) {
      for (const state of ['on', 'off']) {
        const response = await server.request(`/rooms/${roomId}/typing`, {
          method: 'POST',
          body: JSON.stringify({ state }),
          as: 'typist',
        })
        expect(response.status).toBe(204)
      }
    }
    await until(() => typingOf(watcher).length >= 1, 'the first typing frame')
    expect(typingOf(watcher)).toEqual(['on'])
    // The interval (TYPING_THROTTLE_MS, 2 s by default) ends with the newest state.
    await until(() => typingOf(watcher).length >= 2, 'the trailing typing frame', 5_000)
    expect(typingOf(watcher)).toEqual(['on', 'off'])
  })
})

describe('room creation', () => {
  it('is limited per user per hour (ROOMS_PER_HOUR, 50 by default) with 429 and Retry-After', async () => {
    for (let i = 0; i < 50; i++) await createRoom(server, `quota-${i}`, 'builder')
    const refused = await server.request('/rooms', {
      method: 'POST',
      body: JSON.stringify({ name: 'quota-50' }),
      as: 'builder',
    })
    expect([refused.status, await errorCode(refused)]).toEqual([429, 'rate_limited'])
    // A bucket of 50 refilled over the hour: the next room may come in 3600 / 50 s.
    const wait = Number(refused.headers.get('retry-after'))
    expect(wait).toBeGreaterThan(60)
    expect(wait).toBeLessThanOrEqual(72)
    await createRoom(server, 'quota-someone-else', 'another-builder')
  })
})

describe('stream setups', () => {
  it('count against MAX_STREAMS_PER_USER before access is decided: past the cap even a hidden room answers 429', async () => {
    const open = await createRoom(server, 'setups-open', 'owner')
    const hidden = await server.request('/rooms', {
      method: 'POST',
      body: JSON.stringify({ name: 'setups-hidden', visibility: 'private' }),
      as: 'owner',
    })
    const hiddenId = ((await hidden.json()) as { id: number }).id
    const held: StreamClient[] = []
    for (let i = 0; i < 20; i++) held.push(await watch(open, 'hoarder'))
    const token = await server.token('hoarder')
    for (const path of [
      `/rooms/${hiddenId}/stream`,
      '/rooms/999999/stream',
      `/stream?rooms=${open},${hiddenId}`,
    ]) {
      const response = await fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${token}` } })
      expect([path, response.status, await errorCode(response)]).toEqual([path, 429, 'too_many_streams'])
    }
    held[0]!.close()
    await until(() => server.admission.open() === 19, 'a slot to free up')
    const stranger = await fetch(`${server.url}/rooms/${hiddenId}/stream`, {
      headers: { authorization: `Bearer ${token}` },
    })
    expect([stranger.status, await errorCode(stranger)]).toEqual([404, 'room_not_found'])
    await until(() => server.admission.open() === 19, 'the refused setup to give its slot back')
  })
})

describe('replay', () => {
  it('stays within STREAM_BUFFER_BYTES for a client that reads slowly, which gets all of it and then live messages', async () => {
    const roomId = await createRoom(server, 'long-replay')
    // About 10 MB of history: far more than the buffer bound and the kernel's socket buffers.
    await database.sql`insert into messages (room_id, user_id, user_name, body)
      select ${roomId}, 'ops', 'Ops', repeat('x', 8192) from generate_series(1, 1200)`
    const token = await server.token('slow-reader')
    const socket = connect(server.port, '127.0.0.1')
    sockets.push(socket)
    const chunks: Buffer[] = []
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    socket.pause()
    socket.write(
      `GET /rooms/${roomId}/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\n` +
        'Last-Event-ID: 0\r\n\r\n',
    )
    await until(() => server.hub.stats().streams === 1, 'the stream to start replaying')
    // A client that does not read for a while is not dropped during its replay…
    await expect(until(() => server.streams.stats().dropped > 0, 'a drop', 1_500)).rejects.toThrow(
      /Timed out/,
    )
    socket.resume()
    const seqs = () =>
      [
        ...Buffer.concat(chunks)
          .toString('utf8')
          .matchAll(/^id: (\d+)$/gm),
      ].map((m) => Number(m[1]))
    // …and, once it reads, gets the whole history in order, then live messages.
    await until(() => seqs().length === 1200, 'the whole replay', 30_000)
    await until(() => server.hub.subscriberCount(roomId) === 1, 'the stream to go live')
    await database.sql`insert into messages (room_id, user_id, user_name, body) values (${roomId}, 'ops', 'Ops', 'live')`
    await until(() => seqs().length === 1201, 'the live message')
    expect(seqs()).toEqual(range(1, 1201))
    expect(server.streams.stats().dropped).toBe(0)
  })
})
