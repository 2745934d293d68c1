import { describe, expect, it } from 'vitest'
import { clusterTestsRun } from '../../harness/cluster.js'
import { expectError } from '../support/api.js'
import { useShardedServer } from '../support/shards.js'
import { until } from '../support/wait.js'

// Requests to a Parley server with rooms on two PostgreSQL instances of the test's own:
// each room's on its shard, and what spans rooms (the lobby, search, mentions, direct
// messages, per-user limits, retention) over both.

describe.skipIf(!clusterTestsRun())('requests over two shards', () => {
  const { catalog, shardSql, server, startServer, placeRoom, insert, stream, pages } = useShardedServer()

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

  it('gives a pair one direct message across shards, even when both open it at once', async () => {
    const opens = await Promise.all(
      Array.from({ length: 20 }, (_, n) =>
        server.request('/dms', {
          method: 'POST',
          body: JSON.stringify({ user_id: n % 2 ? 'gus' : 'hal' }),
          as: n % 2 ? 'hal' : 'gus',
        }),
      ),
    )
    expect(opens.map((response) => response.status).every((status) => status === 200 || status === 201)).toBe(
      true,
    )
    const ids = new Set(
      await Promise.all(opens.map(async (response) => ((await response.json()) as { id: number }).id)),
    )
    expect(ids.size).toBe(1)
    const [id] = [...ids]
    const held = await Promise.all(
      [...shardSql.values()].map(
        (sql) => sql<{ id: string }[]>`select id from rooms where kind = 'dm' and dm_low = 'gus'`,
      ),
    )
    expect(held.flat().map((row) => Number(row.id))).toEqual([id])
    const posted = await server.request(`/rooms/${id}/messages`, {
      method: 'POST',
      body: JSON.stringify({ body: 'psst' }),
      as: 'gus',
    })
    expect(posted.status).toBe(201)
    const dms = await pages<{ id: number }>('/rooms?kind=dm&limit=5', 'rooms', 'hal')
    expect(dms.map((room) => room.id)).toEqual([id])
    expect((await server.request(`/rooms/${id}/messages`, { as: 'ivy' })).status).toBe(404)
    const self = await server.request('/dms', {
      method: 'POST',
      body: JSON.stringify({ user_id: 'gus' }),
      as: 'gus',
    })
    expect(self.status).toBe(400)
  })

  it("takes a public room's name once across shards, whoever asks for it at once", async () => {
    const [before] = await catalog.sql<{ count: number }[]>`select count(*)::int as count from room_shards`
    const created = await Promise.all(
      Array.from({ length: 100 }, (_, n) =>
        server.request('/rooms', {
          method: 'POST',
          body: JSON.stringify({ name: 'plaza' }),
          as: `maker${n}`,
        }),
      ),
    )
    const statuses = created.map((response) => response.status)
    expect(statuses.filter((status) => status === 201)).toHaveLength(1)
    expect(statuses.filter((status) => status === 409)).toHaveLength(99)
    const held = await Promise.all(
      [...shardSql.values()].map((sql) => sql`select id from rooms where name = 'plaza'`),
    )
    expect(held.flat()).toHaveLength(1)
    // The refused placements were taken back; a private room may share the name.
    const [after] = await catalog.sql<{ count: number }[]>`select count(*)::int as count from room_shards`
    expect(after!.count).toBe(before!.count + 1)
    const hidden = await server.request('/rooms', {
      method: 'POST',
      body: JSON.stringify({ name: 'plaza', visibility: 'private' }),
      as: 'maker0',
    })
    expect(hidden.status).toBe(201)
  })

  it('refuses to register a webhook, which would never be delivered, with a clear 501', async () => {
    const room = await placeRoom()
    const refused = await server.request('/webhooks', {
      method: 'POST',
      body: JSON.stringify({
        url: 'https://example.com/hook',
        rooms: [room.roomId],
        events: ['message.created'],
      }),
      as: 'admin',
    })
    await expectError(refused, 501, 'webhooks_unavailable')
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
    const sweeping = await startServer({ RETENTION_SWEEP_MS: '100' })
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

  it('forgets in the catalog a room deleted by hand on its shard, and a placement whose room was never made', async () => {
    const created = await server.request('/rooms', {
      method: 'POST',
      body: JSON.stringify({ name: 'short-lived' }),
      as: 'ned',
    })
    const { id: deletedId } = (await created.json()) as { id: number }
    const [shardOf] = await catalog.sql<{ name: string }[]>`
      select s.name from room_shards r join shards s on s.id = r.shard_id where r.room_id = ${deletedId}`
    await shardSql.get(shardOf!.name)!`delete from rooms where id = ${deletedId}`
    const [orphan] = await catalog.sql<
      { roomId: string }[]
    >`select room_id as "roomId" from parley_place_room()`
    const kept = await placeRoom('two')
    const fresh = await catalog.sql<{ roomId: string }[]>`select room_id as "roomId" from parley_place_room()`
    const old = [deletedId, Number(orphan!.roomId), kept.roomId]
    await catalog.sql`
      update room_shards set placed_at = now() - interval '2 hours' where room_id = any(${old}::bigint[])`
    const sweeping = await startServer({ RETENTION_SWEEP_MS: '100' })
    try {
      await until(async () => {
        const left =
          await catalog.sql`select 1 from room_shards where room_id = any(${old.slice(0, 2)}::bigint[])`
        return left.length === 0
      }, 'the placements of rooms no shard holds deleted')
      // The room that exists stays, and so does a placement too young to tell.
      const [stays] = await catalog.sql<{ count: number }[]>`
        select count(*)::int as count from room_shards
         where room_id = any(${[kept.roomId, Number(fresh[0]!.roomId)]}::bigint[])`
      expect(stays!.count).toBe(2)
      // Its name is free again.
      const again = await server.request('/rooms', {
        method: 'POST',
        body: JSON.stringify({ name: 'short-lived' }),
        as: 'ned',
      })
      expect(again.status).toBe(201)
    } finally {
      await sweeping.close()
    }
  })
})
