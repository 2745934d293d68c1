import { afterAll, describe, expect, it } from 'vitest'
import { useTestServer } from '../support/fixtures.js'
import { createRoom, postMessage, type TestServer } from '../support/server.js'
import { eventsOf, openStream, type StreamClient } from '../support/sse.js'
import { until } from '../support/wait.js'

// Read marks (src/chat/reads.ts): marked on one instance, announced on the other's streams.

const [serverA, serverB] = useTestServer({ instances: 2 }).servers
const streams: StreamClient[] = []

afterAll(() => {
  for (const stream of streams) stream.close()
})

async function watch(server: TestServer, roomId: number, user: string) {
  const stream = openStream(server.url, roomId, { token: await server.token(user, user.toUpperCase()) })
  streams.push(stream)
  await stream.opened
  return stream
}

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
        // Posting marks the room read up to the author's message.
        { user_id: 'amy', seq: 4, updated_at: expect.any(String) },
        { user_id: 'ben', seq: 4, updated_at: expect.any(String) },
      ],
    })
  })
})
