import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clusterTestsRun, type Instance, startInstance } from '../../harness/cluster.js'
import { runMigrations } from '../../src/db/migrate.js'
import { addShard } from '../../src/shards/catalog.js'
import { moveRoom } from '../../src/shards/move.js'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { startTestServer, type TestServer } from '../support/server.js'
import { openMultiStream, type StreamClient } from '../support/sse.js'
import { until } from '../support/wait.js'

// A Parley server with rooms on two PostgreSQL instances of the test's own, named by a
// catalog: each room's stream reads the shard that holds it, follows it when it moves, and
// waits out its shard's outage while the other shard's rooms go on.

const runs = clusterTestsRun()

describe.skipIf(!runs)('a server over two shards', () => {
  let catalog: TestDatabase
  let home: TestDatabase
  let instances: Instance[] = []
  const shardSql = new Map<string, postgres.Sql>()
  let server: TestServer
  const streams: StreamClient[] = []

  beforeAll(async () => {
    ;[catalog, home, ...instances] = await Promise.all([
      createTestDatabase({ migrate: false }),
      createTestDatabase(),
      startInstance(),
      startInstance(),
    ] as const)
    await runMigrations(catalog.url, 'catalog')
    for (const [index, name] of ['one', 'two'].entries()) {
      await addShard(catalog.sql, { name, url: instances[index]!.url })
      shardSql.set(name, postgres(instances[index]!.url, { max: 2, onnotice: () => {} }))
    }
    server = await startTestServer(home, { CATALOG_DATABASE_URL: catalog.url, LISTENER_PROBE_MS: '200' })
  }, 120_000)

  afterAll(async () => {
    for (const stream of streams) stream.close()
    await server?.close()
    await Promise.all([...shardSql.values()].map((sql) => sql.end({ timeout: 1 })))
    await Promise.all([catalog?.drop(), home?.drop(), ...instances.map((instance) => instance.stop())])
  })

  /**
   * A public room, created on its shard as psql would: where the catalog places it, or on
   * `shard` (recorded by hand, as an operator would).
   */
  async function placeRoom(shard?: string): Promise<{ roomId: number; shard: string }> {
    const [placed] =
      shard === undefined
        ? await catalog.sql<{ roomId: string; shard: string }[]>`
            select p.room_id as "roomId", s.name as shard
              from parley_place_room() p join shards s on s.id = p.shard_id`
        : await catalog.sql<{ roomId: string; shard: string }[]>`
            insert into room_shards (room_id, shard_id)
            select nextval('room_ids'), id from shards where name = ${shard}
            returning room_id as "roomId", ${shard}::text as shard`
    const roomId = Number(placed!.roomId)
    await shardSql.get(placed!.shard)!`
      insert into rooms (id, name, created_by) values (${roomId}, ${`room ${roomId}`}, 'tester')`
    return { roomId, shard: placed!.shard }
  }

  async function insert(shard: string, roomId: number, body: string): Promise<void> {
    await shardSql.get(shard)!`
      insert into messages (room_id, user_id, user_name, body) values (${roomId}, 'tester', 'Tester', ${body})`
  }

  async function stream(roomIds: number[], as: string): Promise<StreamClient> {
    const opened = openMultiStream(server.url, roomIds, { token: await server.token(as) })
    streams.push(opened)
    await opened.opened
    return opened
  }

  /** Every item of a paged list, following `next_cursor` to its end. */
  async function pages<T>(path: string, field: string, as: string): Promise<T[]> {
    const items: T[] = []
    let cursor: string | null = null
    do {
      const response: Response = await server.request(
        cursor === null ? path : `${path}&cursor=${encodeURIComponent(cursor)}`,
        { as },
      )
      expect(response.status).toBe(200)
      const page = (await response.json()) as Record<string, unknown> & { next_cursor: string | null }
      items.push(...(page[field] as T[]))
      cursor = page.next_cursor
    } while (cursor !== null)
    return items
  }

  const bodiesIn = (opened: StreamClient, roomId: number) =>
    opened.messages.filter((message) => message.room_id === roomId).map((message) => message.body)

  it('streams each room from the shard that holds it, and refuses a room the catalog does not name', async () => {
    const first = await placeRoom()
    const second = await placeRoom()
    expect(new Set([first.shard, second.shard])).toEqual(new Set(['one', 'two']))
    const opened = await stream([first.roomId, second.roomId], 'ann')
    await insert(first.shard, first.roomId, 'on the first')
    await insert(second.shard, second.roomId, 'on the second')
    await until(() => opened.messages.length === 2, 'a message from each shard')
    expect(bodiesIn(opened, first.roomId)).toEqual(['on the first'])
    expect(bodiesIn(opened, second.roomId)).toEqual(['on the second'])

    const missing = await server.request('/stream?rooms=999999', { as: 'ann' })
    expect(missing.status).toBe(404)
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('room_not_found')
  })

  it('creates rooms on both shards over HTTP, and serves their posts, history and presence from each', async () => {
    const ids: number[] = []
    for (const name of ['north', 'south']) {
      const created = await server.request('/rooms', {
        method: 'POST',
        body: JSON.stringify({ name }),
        as: 'dee',
      })
      expect(created.status).toBe(201)
      ids.push(((await created.json()) as { id: number }).id)
    }
    const [held] = await catalog.sql<{ shards: string[] }[]>`
      select array_agg(s.name order by s.name) as shards
        from room_shards r join shards s on s.id = r.shard_id where r.room_id = any(${ids}::bigint[])`
    expect(held!.shards).toEqual(['one', 'two'])
    const opened = await stream(ids, 'dee')
    for (const id of ids) {
      const posted = await server.request(`/rooms/${id}/messages`, {
        method: 'POST',
        body: JSON.stringify({ body: `hello ${id}` }),
        as: 'dee',
      })
      expect(posted.status).toBe(201)
    }
    await until(() => opened.messages.length === 2, 'both posts streamed')
    for (const id of ids) {
      const page = (await (await server.request(`/rooms/${id}/messages`, { as: 'dee' })).json()) as {
        messages: { body: string }[]
      }
      expect(page.messages.map((message) => message.body)).toEqual([`hello ${id}`])
      await until(async () => {
        const roster = (await (await server.request(`/rooms/${id}/presence`, { as: 'dee' })).json()) as {
          count: number
        }
        return roster.count === 1
      }, `presence in room ${id}`)
    }
    expect((await server.request('/rooms/999999/messages', { as: 'dee' })).status).toBe(404)

    // The lobby and search merge the shards' pages, and one cursor resumes them all.
    const lobby = await pages<{ id: number }>('/rooms?limit=2', 'rooms', 'dee')
    expect(lobby.slice(0, 2).map((room) => room.id)).toEqual([ids[1], ids[0]])
    expect(new Set(lobby.map((room) => room.id)).size).toBe(lobby.length)
    const [placed] = await catalog.sql<{ count: number }[]>`select count(*)::int as count from room_shards`
    expect(lobby.length).toBe(placed!.count)
    const found = await pages<{ message: { body: string } }>('/search?q=hello&limit=1', 'results', 'dee')
    expect(found.map((result) => result.message.body)).toEqual([`hello ${ids[1]}`, `hello ${ids[0]}`])
  })

  it("lists a user's mentions from every shard newest first, one cursor resuming each shard where it stopped", async () => {
    const rooms = [await placeRoom('one'), await placeRoom('two')]
    // Posting makes eve known to each room, so that a mention of her there counts.
    for (const { roomId } of rooms) {
      const posted = await server.request(`/rooms/${roomId}/messages`, {
        method: 'POST',
        body: JSON.stringify({ body: 'hi' }),
        as: 'eve',
      })
      expect(posted.status).toBe(201)
    }
    // Alternating shards: shard two's message ids are all above shard one's.
    const said: string[] = []
    for (const n of [1, 2, 3, 4, 5]) {
      const { roomId, shard } = rooms[n % 2]!
      await insert(shard, roomId, `@eve number ${n}`)
      said.push(`@eve number ${n}`)
    }
    const mentions = await pages<{ message: { body: string } }>('/mentions?limit=2', 'mentions', 'eve')
    expect(mentions.map((mention) => mention.message.body)).toEqual(said.reverse())
  })

  it("holds a user's posting limit across shards: of 60 posts sent at once to rooms on both, 20 are stored", async () => {
    const rooms = [await placeRoom('one'), await placeRoom('two')]
    const statuses = await Promise.all(
      Array.from({ length: 60 }, async (_, n) => {
        const { roomId } = rooms[n % 2]!
        const response = await server.request(`/rooms/${roomId}/messages`, {
          method: 'POST',
          body: JSON.stringify({ body: `burst ${n}` }),
          as: 'fay',
        })
        return response.status
      }),
    )
    // RATE_LIMIT_MESSAGES, the default: 20 in a window, wherever they go.
    expect(statuses.filter((status) => status === 201)).toHaveLength(20)
    expect(statuses.filter((status) => status === 429)).toHaveLength(40)
  })

  it("sweeps every shard's tables past RETENTION_MS", async () => {
    const sweeping = await startTestServer(home, {
      CATALOG_DATABASE_URL: catalog.url,
      LISTENER_PROBE_MS: '200',
      RETENTION_SWEEP_MS: '100',
    })
    try {
      const rooms = [await placeRoom('one'), await placeRoom('two')]
      for (const { roomId, shard } of rooms) {
        await insert(shard, roomId, 'old news')
        await shardSql.get(shard)!`
          update message_changes set created_at = now() - interval '31 days' where room_id = ${roomId}`
      }
      await until(async () => {
        const left = await Promise.all(
          rooms.map(
            async ({ roomId, shard }) =>
              (await shardSql.get(shard)!`select 1 from message_changes where room_id = ${roomId}`).length,
          ),
        )
        return left.every((count) => count === 0)
      }, "each shard's old changes swept")
    } finally {
      await sweeping.close()
    }
  })

  it('follows a room moved to the other shard while its stream is open: no gap, no repeat, no reload', async () => {
    const moving = await placeRoom()
    const other = moving.shard === 'one' ? 'two' : 'one'
    const opened = await stream([moving.roomId], 'bea')
    for (const body of ['a', 'b', 'c']) await insert(moving.shard, moving.roomId, body)
    await until(() => opened.messages.length === 3, 'the messages before the move')

    await moveRoom(catalog.sql, moving.roomId, other)
    // Written where the room is now, as psql would: the stream hears it from that shard.
    for (const body of ['d', 'e']) await insert(other, moving.roomId, body)
    await until(() => opened.messages.length === 5, 'the messages after the move')
    expect(bodiesIn(opened, moving.roomId)).toEqual(['a', 'b', 'c', 'd', 'e'])
    expect(opened.seqs()).toEqual([1, 2, 3, 4, 5])
    expect(opened.events.map((event) => event.type)).not.toContain('reload')

    // Posts over HTTP go to the new shard too.
    const posted = await server.request(`/rooms/${moving.roomId}/messages`, {
      method: 'POST',
      body: JSON.stringify({ body: 'f' }),
      as: 'bea',
    })
    expect(posted.status).toBe(201)
    await until(() => opened.messages.length === 6, 'the post after the move')
    expect(opened.seqs()).toEqual([1, 2, 3, 4, 5, 6])
  })

  it('says which shard is down, keeps streaming the rooms of the other, and catches the fallen one up once back', async () => {
    const down = await placeRoom('one')
    const up = await placeRoom('two')
    const downInstance = instances[0]!
    const opened = await stream([up.roomId, down.roomId], 'cyd')
    // Joined to both rooms: a stream that opens while a shard of its rooms is down is refused
    // (503), and its client tries again.
    await until(
      () => server.hub.subscriberCount(up.roomId) === 1 && server.hub.subscriberCount(down.roomId) === 1,
      'the stream to join both rooms',
    )
    // The instances commit without waiting for the disk; the room must survive the crash.
    await shardSql.get(down.shard)!`checkpoint`
    await downInstance.kill()
    try {
      await until(async () => {
        const body = (await (await fetch(`${server.url}/readyz`)).json()) as {
          status: string
          checks: Record<string, boolean>
        }
        return body.status === 'degraded' && body.checks[`shard ${down.shard}`] === false
      }, 'readiness to name the fallen shard')
      expect((await server.request(`/rooms/${down.roomId}/messages`, { as: 'cyd' })).status).toBe(503)
      expect((await server.request(`/rooms/${up.roomId}/messages`, { as: 'cyd' })).status).toBe(200)
      await insert(up.shard, up.roomId, 'still here')
      await until(() => bodiesIn(opened, up.roomId).length === 1, "the live shard's room")
    } finally {
      await downInstance.resume()
    }
    await until(
      async () =>
        ((await (await fetch(`${server.url}/readyz`)).json()) as { status: string }).status === 'ok',
      'every shard heard again',
      20_000,
    )
    await insert(down.shard, down.roomId, 'back')
    await until(() => bodiesIn(opened, down.roomId).length === 1, "the returned shard's room", 20_000)
    expect(bodiesIn(opened, up.roomId)).toEqual(['still here'])
  }, 60_000)
})
