import { connect } from 'node:net'
import { describe, expect, it } from 'vitest'
import { useServerPerTest } from '../support/fixtures.js'
import { range } from '../support/range.js'
import { createRoom, errorCode, postMessage } from '../support/server.js'
import { until } from '../support/wait.js'

// Stream admission (src/realtime/admission.ts): MAX_STREAMS and MAX_STREAMS_PER_USER.

const { database, serverWith, subscribe } = useServerPerTest()

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
    // One stream per user: a slot an abandoned setup kept would refuse that user's next stream.
    const server = await serverWith({ MAX_STREAMS_PER_USER: '1', DB_POOL_MAX: '30' })
    const roomId = await createRoom(server, 'abandoned')
    const waitingOnLock = async () => {
      const [row] = await database.sql<{ n: number }[]>`select count(*)::int as n from pg_stat_activity
        where datname = current_database() and wait_event_type = 'Lock'`
      return row!.n
    }
    // Hold the access check (it reads room_members) until every client has given up.
    await database.sql.begin(async (tx) => {
      await tx`lock table room_members in access exclusive mode`
      const sockets = await Promise.all(
        range(1, 20).map(async (i) => {
          const token = await server.token(`quitter-${i}`)
          const socket = connect(server.port, '127.0.0.1')
          socket.on('error', () => {})
          socket.write(
            `GET /rooms/${roomId}/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n\r\n`,
          )
          return socket
        }),
      )
      // Every setup holds its slot and waits on the access check (batched into few queries).
      await until(() => server.admission.open() === 20, 'every request to be admitted')
      await until(async () => (await waitingOnLock()) >= 1, 'the access check to wait on the lock')
      for (const socket of sockets) socket.destroy()
      await until(() => sockets.every((socket) => socket.destroyed), 'every client to give up')
    })
    await until(
      () => server.admission.open() === 0 && server.hub.stats().streams === 0,
      'every abandoned request to be forgotten',
    )
    await until(
      async () => (await server.presence.list(roomId, { limit: 1 })).count === 0,
      'no one to be present',
    )
    const stream = await subscribe(server, roomId, 'quitter-1')
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
