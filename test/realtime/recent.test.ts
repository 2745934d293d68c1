import { afterAll, describe, expect, it } from 'vitest'
import { useTestServer } from '../support/fixtures.js'
import { range } from '../support/range.js'
import { createRoom } from '../support/server.js'
import { openMultiStream, openStream, type StreamClient } from '../support/sse.js'
import { until } from '../support/wait.js'

// A resume inside a room's recent window is served from memory; one from further back reads
// the database. Both deliver exactly what was missed.

// A 64 KB buffer bound gives a 16 KB window: about 60 messages of the size below.
const { server, database, startServer } = useTestServer({ env: { STREAM_BUFFER_BYTES: '65536' } })
const streams: StreamClient[] = []

afterAll(async () => {
  for (const stream of streams) stream.close()
})

const insert = (roomId: number, count: number) => database.sql`
  insert into messages (room_id, user_id, user_name, body)
  select ${roomId}, 'ops', 'Ops', repeat('x', 100) || i from generate_series(1, ${count}) i`

async function live(roomId: number, as: string, lastEventId?: number) {
  const stream = openStream(server.url, roomId, { token: await server.token(as), lastEventId })
  streams.push(stream)
  await stream.opened
  return stream
}

describe('the recent window', () => {
  it('serves a resume inside it from memory, exactly, and one from further back from the database', async () => {
    const roomId = await createRoom(server, 'recent')
    await insert(roomId, 10)
    const keeper = await live(roomId, 'keeper')
    await until(() => server.hub.subscriberCount(roomId) === 1, 'the room to be open')
    await insert(roomId, 100)
    await keeper.waitFor(100)
    const before = server.hub.stats()
    const near = await live(roomId, 'near', 95)
    await near.waitFor(15)
    expect(near.seqs()).toEqual(range(96, 110))
    const afterNear = server.hub.stats()
    expect(afterNear.resumedFromMemory - before.resumedFromMemory).toBe(1)
    expect(afterNear.replayQueries - before.replayQueries).toBe(0)

    // A hand delete is a change like any other: the window keeps it, in order.
    await database.sql`delete from messages where room_id = ${roomId} and seq = 105`
    await until(() => near.changes.length === 16, 'the delete to be delivered')
    expect(near.changes.at(-1)).toEqual({ type: 'delete', id: '111', data: { room_id: roomId, seq: 105 } })
    const again = await live(roomId, 'again', 95)
    await until(() => again.changes.length === 16, 'the resume from memory')
    expect(again.changes).toEqual(near.changes)
    expect(server.hub.stats().resumedFromMemory - afterNear.resumedFromMemory).toBe(1)

    // From further back the database replays what live streams were sent: 105's row is gone,
    // but its delete kept it as a tombstone at its own cursor, then the delete.
    const far = await live(roomId, 'far', 5)
    await until(() => far.changes.length === 106, 'the replay from the database')
    expect(far.seqs()).toEqual(range(6, 110))
    expect(far.changes.slice(-16).map((change) => change.id)).toEqual(near.changes.map((change) => change.id))
    expect(far.changes.at(-1)).toEqual(near.changes.at(-1))
    expect(server.hub.stats().replayQueries - afterNear.replayQueries).toBe(1)

    await insert(roomId, 1)
    await Promise.all([near.waitFor(16), far.waitFor(106)])
    expect([near.changes.at(-1)?.id, far.changes.at(-1)?.id]).toEqual(['112', '112'])
  })

  it('resumes a multi-room stream from memory with every room’s cursor', async () => {
    const first = await createRoom(server, 'recent-multi-a')
    const second = await createRoom(server, 'recent-multi-b')
    const keeper = openMultiStream(server.url, [first, second], { token: await server.token('multi-keeper') })
    streams.push(keeper)
    await keeper.opened
    await until(() => server.hub.subscriberCount(second) === 1, 'both rooms to be open')
    await insert(first, 5)
    await insert(second, 5)
    await keeper.waitFor(10)

    const before = server.hub.stats()
    const resumed = openMultiStream(server.url, [first, second], {
      token: await server.token('multi-resumer'),
      lastEventId: `${first}:3,${second}:4`,
    })
    streams.push(resumed)
    await resumed.waitFor(3)
    expect(resumed.messages.map((m) => [m.room_id, m.seq])).toEqual([
      [first, 4],
      [first, 5],
      [second, 5],
    ])
    expect(resumed.lastEventId()).toBe(`${first}:5,${second}:5`)
    expect(server.hub.stats().replayQueries - before.replayQueries).toBe(0)
  })

  it('shares one database read among streams resuming together from the same point beyond the window', async () => {
    const roomId = await createRoom(server, 'recent-shared')
    await insert(roomId, 30)
    // A second instance has no window for the room yet: these resumes need the database.
    const cold = await startServer()
    try {
      const before = cold.hub.stats()
      // The read waits for this lock, so all the streams arrive while it is in flight.
      const resumers: StreamClient[] = []
      await database.sql.begin(async (tx) => {
        await tx`lock table messages in access exclusive mode`
        for (const i of range(1, 12)) {
          const token = await cold.token(`shared-${i}`)
          const stream = openStream(cold.url, roomId, { token, lastEventId: 10 })
          resumers.push(stream)
          streams.push(stream)
        }
        await until(() => cold.hub.stats().streams === 12, 'every stream to be joining')
      })
      for (const stream of resumers) await stream.waitFor(20)
      for (const stream of resumers) expect(stream.seqs()).toEqual(range(11, 30))
      expect(cold.hub.stats().replayQueries - before.replayQueries).toBe(1)
    } finally {
      await cold.close()
    }
  })

  it('keeps what a room opened cold read for its first resume, so the next resumes need no query', async () => {
    const roomId = await createRoom(server, 'recent-cold')
    await insert(roomId, 30)
    // As after a restart: an instance that has never opened the room, its window empty.
    const cold = await startServer()
    try {
      const before = cold.hub.stats()
      const resume = async (user: string, after: number) => {
        const stream = openStream(cold.url, roomId, { token: await cold.token(user), lastEventId: after })
        streams.push(stream)
        await stream.waitFor(30 - after)
        return stream.seqs()
      }
      expect(await resume('cold-first', 10)).toEqual(range(11, 30))
      expect(await resume('cold-second', 10)).toEqual(range(11, 30))
      expect(await resume('cold-third', 25)).toEqual(range(26, 30))
      const after = cold.hub.stats()
      expect(after.replayQueries - before.replayQueries).toBe(1)
      expect(after.resumedFromMemory - before.resumedFromMemory).toBe(2)
      // From before what was read, the database again.
      expect(await resume('cold-fourth', 5)).toEqual(range(6, 30))
      expect(cold.hub.stats().replayQueries - before.replayQueries).toBe(2)
    } finally {
      await cold.close()
    }
  })
})
