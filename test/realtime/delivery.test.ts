import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { createRoom, postMessage, startTestServer, type TestServer } from '../support/server.js'
import { openStream, type StreamClient } from '../support/sse.js'
import { until } from '../support/wait.js'

let database: TestDatabase
let server: TestServer
const streams: StreamClient[] = []

beforeAll(async () => {
  database = await createTestDatabase()
  server = await startTestServer(database, { LISTENER_PROBE_MS: '500' })
})

afterAll(async () => {
  for (const stream of streams) stream.close()
  await server?.close()
  await database?.drop()
})

async function subscribeMany(roomIds: number[], lastEventId?: number) {
  const token = await server.token('watcher')
  const opened = roomIds.map((roomId) => {
    const stream = openStream(server.url, roomId, { token, lastEventId })
    streams.push(stream)
    return stream
  })
  await Promise.all(opened.map((stream) => stream.opened))
  return opened
}

async function waitForSubscribers(roomId: number, count: number) {
  await until(() => server.hub.subscriberCount(roomId) === count, `${count} subscribers in room ${roomId}`)
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)

function insertSql(roomId: number, count: number, writer: string) {
  return (async () => {
    for (let i = 0; i < count; i++) {
      await database.sql`insert into messages (room_id, user_id, user_name, body) values (${roomId}, ${writer}, ${writer}, ${`${writer}-${i}`})`
    }
  })()
}

describe('live delivery', () => {
  it('replays exactly the missed messages after Last-Event-ID while inserts continue', async () => {
    const roomId = await createRoom(server, 'resume')
    const [first] = await subscribeMany([roomId])
    await waitForSubscribers(roomId, 1)
    const writing = Promise.all([insertSql(roomId, 100, 'w1'), insertSql(roomId, 100, 'w2')])
    await until(() => first!.messages.length >= 20, 'the first 20 messages')
    first!.close()
    const k = first!.messages.at(-1)!.seq
    expect(first!.seqs()).toEqual(range(1, k))

    const [resumed] = await subscribeMany([roomId], k)
    await writing
    await resumed!.waitFor(200 - k)
    await new Promise((resolve) => setImmediate(resolve))
    expect(resumed!.seqs()).toEqual(range(k + 1, 200))
  })

  it('resumes by the last_event_id query parameter too', async () => {
    const roomId = await createRoom(server, 'resume-query')
    for (let i = 0; i < 5; i++) await postMessage(server, roomId, `m${i}`)
    const token = await server.token('watcher')
    const response = await fetch(`${server.url}/rooms/${roomId}/stream?last_event_id=3&access_token=${token}`)
    const reader = response.body!.getReader()
    let text = ''
    while (!text.includes('id: 5\n')) text += new TextDecoder().decode((await reader.read()).value)
    await reader.cancel()
    expect([...text.matchAll(/^id: (\d+)$/gm)].map((match) => Number(match[1]))).toEqual([4, 5])
  })

  it('holds exactly one LISTEN connection for 200 subscribers in 20 rooms', async () => {
    const roomIds: number[] = []
    for (let i = 0; i < 20; i++) roomIds.push(await createRoom(server, `many-${i}`))
    await subscribeMany(roomIds.flatMap((roomId) => Array<number>(10).fill(roomId)))
    for (const roomId of roomIds) await waitForSubscribers(roomId, 10)
    const [activity] = await database.sql<{ listeners: number; total: number }[]>`
      select count(*) filter (where application_name = 'parley-listener')::int as listeners,
             count(*) filter (where application_name like 'parley%')::int as total
      from pg_stat_activity where datname = current_database()`
    expect(activity!.listeners).toBe(1)
    // The pool's connections plus the listener: nothing grows with subscribers.
    expect(activity!.total).toBeLessThanOrEqual(5 + 1)
  })

  it('loses nothing when the listener is killed while 4 writers insert 500 messages', async () => {
    const roomIds = [await createRoom(server, 'killed-a'), await createRoom(server, 'killed-b')]
    const watchers = await subscribeMany([...roomIds, ...roomIds, ...roomIds])
    for (const roomId of roomIds) await waitForSubscribers(roomId, 3)
    const writing = Promise.all([
      insertSql(roomIds[0]!, 125, 'w1'),
      insertSql(roomIds[0]!, 125, 'w2'),
      insertSql(roomIds[1]!, 125, 'w3'),
      insertSql(roomIds[1]!, 125, 'w4'),
    ])
    await until(() => watchers.every((stream) => stream.messages.length >= 10), 'some deliveries')
    const killed = await database.sql`
      select pg_terminate_backend(pid) from pg_stat_activity
      where datname = current_database() and application_name = 'parley-listener'`
    expect(killed.length).toBe(1)
    await writing
    for (const stream of watchers) await stream.waitFor(250, 15_000)

    // Rows committed while nobody listens raise no notification that arrives: only the
    // catch-up after the reconnect can deliver them.
    await until(() => server.hub.isListening(), 'the listener to be back')
    await database.sql.begin(async (tx) => {
      await tx`select pg_terminate_backend(pid) from pg_stat_activity
               where datname = current_database() and application_name = 'parley-listener'`
      await tx`insert into messages (room_id, user_id, user_name, body)
               select r, 'ops', 'Ops', 'while away' from unnest(${roomIds}::bigint[]) r, generate_series(1, 10)`
    })
    for (const stream of watchers) await stream.waitFor(260, 15_000)
    for (const stream of watchers) expect(stream.seqs()).toEqual(range(1, 260))
    expect(server.hub.stats().reconnects).toBeGreaterThanOrEqual(2)
  })

  it('gives each of 30 subscribers exactly its room’s messages under 10 concurrent writers', async () => {
    const roomIds = [
      await createRoom(server, 'conc-a'),
      await createRoom(server, 'conc-b'),
      await createRoom(server, 'conc-c'),
    ]
    const watchers = await subscribeMany(range(0, 29).map((i) => roomIds[i % 3]!))
    for (const roomId of roomIds) await waitForSubscribers(roomId, 10)
    await Promise.all(
      range(0, 9).map(async (writer) => {
        for (let i = 0; i < 100; i++) {
          const roomId = roomIds[(writer + i) % 3]!
          const response = await postMessage(server, roomId, `w${writer}-${i}`, `writer-${writer}`)
          expect(response.status).toBe(201)
        }
      }),
    )
    const [counts] = await database.sql<{ a: number; b: number; c: number }[]>`
      select (select last_seq from rooms where id = ${roomIds[0]!})::int as a,
             (select last_seq from rooms where id = ${roomIds[1]!})::int as b,
             (select last_seq from rooms where id = ${roomIds[2]!})::int as c`
    const expected = [counts!.a, counts!.b, counts!.c]
    expect(expected.reduce((sum, n) => sum + n)).toBe(1000)
    for (const [i, stream] of watchers.entries()) {
      const roomIndex = i % 3
      await stream.waitFor(expected[roomIndex]!)
      expect(stream.seqs()).toEqual(range(1, expected[roomIndex]!))
      expect(new Set(stream.messages.map((m) => m.room_id))).toEqual(new Set([roomIds[roomIndex]]))
    }
  })

  it('leaves zero subscribers after 1000 connect/disconnect cycles', async () => {
    const roomId = await createRoom(server, 'churn')
    const token = await server.token('churner')
    const baseline = server.hub.stats()
    for (let batch = 0; batch < 50; batch++) {
      await Promise.all(
        range(1, 20).map(async () => {
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
