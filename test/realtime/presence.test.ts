import { afterAll, describe, expect, it } from 'vitest'
import pino from 'pino'
import { createPresence } from '../../src/realtime/presence.js'
import { useTestServer } from '../support/fixtures.js'
import { range } from '../support/range.js'
import { createRoom, type TestServer } from '../support/server.js'
import { eventsOf, openStream, type StreamClient } from '../support/sse.js'
import { until } from '../support/wait.js'

// Presence costs each stream a frame per batch, not a frame per person.

interface PresenceFrame {
  joined: { user_id: string }[]
  left: { user_id: string }[]
  count: number
}

const { database, servers, startServer } = useTestServer({ instances: 2 })
const [server, other] = servers
const streams: StreamClient[] = []

afterAll(() => {
  for (const stream of streams) stream.close()
})

async function watch(on: TestServer, roomId: number, user: string) {
  const stream = openStream(on.url, roomId, { token: await on.token(user) })
  streams.push(stream)
  await stream.opened
  return stream
}

const framesOf = (stream: StreamClient) => eventsOf(stream, 'presence') as PresenceFrame[]

async function presentCount(roomId: number) {
  const response = await server.request(`/rooms/${roomId}/presence?limit=1`)
  return ((await response.json()) as { count: number }).count
}

describe('a crowd', () => {
  it('of 150 arriving and leaving at once costs each stream a few frames, carrying a count above PRESENCE_LIST_MAX', async () => {
    const roomId = await createRoom(server, 'crowd')
    const observer = await watch(other, roomId, 'observer')
    await until(async () => (await presentCount(roomId)) === 1, 'the observer to be present')
    const crowd = await Promise.all(range(1, 150).map((i) => watch(server, roomId, `person-${i}`)))
    await until(async () => (await presentCount(roomId)) === 151, 'the crowd to be present', 15_000)
    await until(() => framesOf(observer).at(-1)?.count === 151, 'the observer to hear the count')
    const arriving = framesOf(observer).length
    // The default batch is 500 ms: the crowd's arrival spans a few batches, not 150 frames.
    expect(arriving).toBeLessThanOrEqual(10)
    // Above 100 people the frames stop naming them.
    expect(framesOf(observer).at(-1)).toEqual({ joined: [], left: [], count: 151 })

    for (const stream of crowd) stream.close()
    await until(() => framesOf(observer).at(-1)?.count === 1, 'the crowd to be gone', 15_000)
    expect(framesOf(observer).length - arriving).toBeLessThanOrEqual(10)
    // A crowd that leaves together is not named to those who stay, whatever the count after.
    for (const frame of framesOf(observer))
      expect(frame.joined.length + frame.left.length).toBeLessThanOrEqual(100)
  })

  it('ends on the true count when two instances announce joins to one room at the same moment', async () => {
    const roomId = await createRoom(server, 'simultaneous')
    const observer = await watch(server, roomId, 'counting-observer')
    await until(() => framesOf(observer).at(-1)?.count === 1, 'the observer to be counted')
    // Both instances' batches queue behind this lock, and are released together.
    await database.sql.begin(async (tx) => {
      await tx`lock table stream_presence in share mode`
      await Promise.all([watch(server, roomId, 'left-door'), watch(other, roomId, 'right-door')])
      await until(async () => {
        const [row] = await database.sql<{ waiting: number }[]>`
          select count(*)::int as waiting from pg_stat_activity
          where datname = current_database() and wait_event_type = 'Lock' and query like '%parley_presence_write%'`
        return row!.waiting === 2
      }, 'both batches to wait')
    })
    await until(async () => (await presentCount(roomId)) === 3, 'all three present')
    await until(() => framesOf(observer).length >= 3, 'both join frames')
    // A later join marks the end: a frame with a stale count would arrive before its frame.
    await watch(server, roomId, 'late-door')
    const joinedLate = (frame: PresenceFrame) => frame.joined.some((user) => user.user_id === 'late-door')
    await until(() => framesOf(observer).some(joinedLate), 'the later join frame')
    const counts = framesOf(observer).map((frame) => frame.count)
    expect({ frames: counts.length, last: counts.slice(-2) }).toEqual({ frames: 4, last: [3, 4] })
  })

  it('leaving with a shutting-down instance is one frame per room, naming who left', async () => {
    const leaving = await startServer()
    const roomId = await createRoom(server, 'shutdown-crowd')
    const observer = await watch(other, roomId, 'watcher')
    await Promise.all(range(1, 30).map((i) => watch(leaving, roomId, `guest-${i}`)))
    await until(async () => (await presentCount(roomId)) === 31, 'the guests to be present', 15_000)
    await until(() => framesOf(observer).at(-1)?.count === 31, 'the observer to hear them')
    const before = framesOf(observer).length
    await leaving.close()
    await until(() => framesOf(observer).length > before, 'the leave frame')
    const frames = framesOf(observer).slice(before)
    expect(frames).toHaveLength(1)
    expect(frames[0]!.count).toBe(1)
    expect(frames[0]!.left.map((user) => user.user_id).sort()).toEqual(
      range(1, 30)
        .map((i) => `guest-${i}`)
        .sort(),
    )
  })
})

describe('GET /rooms/:id/presence', () => {
  it('pages through everyone present, each once, by user id', async () => {
    const roomId = await createRoom(server, 'paged-presence')
    await Promise.all(range(1, 7).map((i) => watch(i % 2 ? server : other, roomId, `p-${i}`)))
    await until(async () => (await presentCount(roomId)) === 7, 'seven present')
    const seen: string[] = []
    let cursor: string | null = null
    do {
      const response: Response = await server.request(
        `/rooms/${roomId}/presence?limit=3${cursor ? `&cursor=${cursor}` : ''}`,
      )
      const page = (await response.json()) as {
        users: { user_id: string }[]
        count: number
        next_cursor: string | null
      }
      expect(page.count).toBe(7)
      seen.push(...page.users.map((user) => user.user_id))
      cursor = page.next_cursor
    } while (cursor)
    expect(seen).toEqual(range(1, 7).map((i) => `p-${i}`))
  })
})

describe('a batch naming a room that is gone', () => {
  it('drops that join and writes the others, instead of failing every batch after it', async () => {
    const roomId = await createRoom(server, 'outlived')
    const presence = createPresence({
      sql: database.sql,
      logger: pino({ level: 'silent' }),
      ttlMs: 10_000,
      batchMs: 20,
      listMax: 50,
    })
    await presence.start()
    try {
      // Deleted, or moved to another shard, after its stream entered it.
      presence.enter(2 ** 40, 'ghost', 'Ghost')
      presence.enter(roomId, 'stays', 'Stays')
      await until(
        async () => (await presence.list(roomId, { limit: 5 })).count === 1,
        'the join that can be written',
      )
    } finally {
      await presence.stop()
    }
  })
})
