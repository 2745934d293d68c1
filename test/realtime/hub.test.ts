import { afterAll, describe, expect, it } from 'vitest'
import { deliveryFixtures } from '../support/delivery.js'
import { useTestServer } from '../support/fixtures.js'
import { range } from '../support/range.js'
import { createRoom, postMessage } from '../support/server.js'
import { until } from '../support/wait.js'

// The hub (src/realtime/hub.ts): rows reach their room's streams live, once and in order,
// a resumed stream gets exactly what it missed, and all of it runs on one LISTEN connection.

const { server, database } = useTestServer()
const { subscribe, subscribeMany, waitForSubscribers, insertSql, closeStreams } = deliveryFixtures({
  server: () => server,
  database: () => database,
})

afterAll(async () => {
  closeStreams()
})

describe('live delivery', () => {
  it('delivers a POSTed message and a psql-style insert live, with the REST JSON', async () => {
    const roomId = await createRoom(server, 'live')
    const stream = await subscribe(roomId)
    const posted = await (await postMessage(server, roomId, 'over http')).json()
    await database.sql`insert into messages (room_id, user_id, user_name, body) values (${roomId}, 'ops', 'Ops', 'from psql')`
    await stream.waitFor(2)
    expect(stream.messages[0]).toEqual(posted)
    expect(stream.messages[1]).toMatchObject({
      room_id: roomId,
      seq: 2,
      user_id: 'ops',
      user_name: 'Ops',
      body: 'from psql',
    })
  })

  it('delivers a 1 MB body inserted with SQL whole', async () => {
    const roomId = await createRoom(server, 'big')
    const stream = await subscribe(roomId)
    const body = 'x'.repeat(1024 * 1024 - 3) + '😀!'
    await database.sql`insert into messages (room_id, user_id, user_name, body) values (${roomId}, 'ops', 'Ops', ${body})`
    await stream.waitFor(1)
    expect(stream.messages[0]?.body).toBe(body)
  })
})

describe('resuming a stream', () => {
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
})

describe('fan-out', () => {
  it('keeps rooms apart: subscribers of one room never see another room', async () => {
    const roomA = await createRoom(server, 'isolation-a')
    const roomB = await createRoom(server, 'isolation-b')
    const streamA = await subscribe(roomA)
    const streamB = await subscribe(roomB)
    for (let i = 1; i <= 5; i++) {
      await postMessage(server, roomA, `a${i}`, 'writer-a')
      await postMessage(server, roomB, `b${i}`, 'writer-b')
    }
    await streamA.waitFor(5)
    await streamB.waitFor(5)
    expect(streamA.messages.map((m) => m.body)).toEqual(['a1', 'a2', 'a3', 'a4', 'a5'])
    expect(streamB.messages.map((m) => m.body)).toEqual(['b1', 'b2', 'b3', 'b4', 'b5'])
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
          // A new user every 10 posts: the default rate limit is 20 messages per 10 s per user.
          const as = `writer-${writer}-${Math.floor(i / 10)}`
          const response = await postMessage(server, roomId, `w${writer}-${i}`, as)
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
})
