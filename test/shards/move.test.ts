import type postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runMigrations } from '../../src/db/migrate.js'
import { addShard } from '../../src/shards/catalog.js'
import { moveRoom, ROOM_TABLES } from '../../src/shards/move.js'
import { createTestDatabase, type TestDatabase } from '../support/database.js'

// Moving a room between two shards (databases of the test server) while it is written to.

let catalog: TestDatabase
let shards: Record<'a' | 'b', TestDatabase>

beforeAll(async () => {
  const [c, a, b] = await Promise.all([
    createTestDatabase({ migrate: false }),
    createTestDatabase({ migrate: false }),
    createTestDatabase({ migrate: false }),
  ])
  catalog = c
  shards = { a, b }
  await runMigrations(catalog.url, 'catalog')
  await addShard(catalog.sql, { name: 'a', url: a.url })
  await addShard(catalog.sql, { name: 'b', url: b.url })
}, 60_000)

afterAll(async () => {
  await Promise.all([catalog, shards?.a, shards?.b].map((database) => database?.drop()))
})

/** A room on shard a with members, 200 messages (a reply, a mention, an edit, a reaction, a delete), a ban and read marks. */
async function busyRoom(): Promise<number> {
  const [placed] = await catalog.sql<{ roomId: string }[]>`
    insert into room_shards (room_id, shard_id)
    select nextval('room_ids'), id from shards where name = 'a' returning room_id as "roomId"`
  const roomId = Number(placed!.roomId)
  const sql = shards.a.sql
  await sql`insert into rooms (id, name, created_by, visibility) values (${roomId}, ${`room ${roomId}`}, 'ann', 'private')`
  await sql`insert into room_members (room_id, user_id, role, user_name)
            values (${roomId}, 'ann', 'owner', 'Ann'), (${roomId}, 'bob', 'member', 'Bob')`
  await sql`insert into messages (room_id, user_id, user_name, body)
            select ${roomId}, 'ann', 'Ann', 'message ' || g from generate_series(1, 200) g`
  await sql`insert into messages (room_id, user_id, user_name, body, reply_to) values (${roomId}, 'bob', 'Bob', 'hi @ann', 1)`
  await sql`update messages set body = 'edited' where room_id = ${roomId} and seq = 2`
  await sql`insert into message_reactions (room_id, seq, user_id, emoji) values (${roomId}, 3, 'bob', '👍')`
  await sql`update messages set deleted_at = now() where room_id = ${roomId} and seq = 4`
  await sql`insert into room_bans (room_id, user_id, created_by) values (${roomId}, 'eve', 'ann')`
  await sql`insert into parley_instances (id) values (${`instance-${roomId}`})`
  await sql`insert into stream_presence (instance_id, room_id, user_id, user_name)
            values (${`instance-${roomId}`}, ${roomId}, 'bob', 'Bob')`
  return roomId
}

/** Every row of the room on a shard, table by table, as JSON (generated columns included). */
async function roomRows(sql: postgres.Sql, roomId: number) {
  const rows: Record<string, unknown[]> = {}
  for (const table of ROOM_TABLES) {
    const key = table === 'rooms' ? 'id' : 'room_id'
    const found = await sql.unsafe<{ row: unknown }[]>(
      `select to_jsonb(t) as row from ${table} t where ${key} = ${roomId} order by to_jsonb(t)::text`,
    )
    rows[table] = found.map(({ row }) => row)
  }
  return rows
}

const shardOf = async (roomId: number) =>
  (
    await catalog.sql<{ name: string }[]>`
      select s.name from room_shards r join shards s on s.id = r.shard_id where r.room_id = ${roomId}`
  )[0]?.name

describe('moving a room to another shard', () => {
  it('copies every row of the room as it was, removes it from the old shard and repoints the catalog', async () => {
    const roomId = await busyRoom()
    const before = await roomRows(shards.a.sql, roomId)
    expect(before.messages).toHaveLength(201)
    expect(before.message_changes!.length).toBeGreaterThan(0)
    expect(before.message_mentions).toHaveLength(1)

    const moved = await moveRoom(catalog.sql, roomId, 'b')
    expect(moved).toMatchObject({ roomId, from: 'a', to: 'b', rows: { messages: 201, room_members: 2 } })
    expect(moved.pauseMs).toBeGreaterThan(0)

    expect(await roomRows(shards.b.sql, roomId)).toEqual(before)
    for (const rows of Object.values(await roomRows(shards.a.sql, roomId))) expect(rows).toEqual([])
    // Presence is not moved (each instance writes its own again), nor left referring to nothing.
    const [present] = await shards.a.sql<{ count: number }[]>`
      select count(*)::int as count from stream_presence where room_id = ${roomId}`
    expect(present!.count).toBe(0)
    expect(await shardOf(roomId)).toBe('b')

    // The triggers take over on the new shard where the old one stopped.
    const [room] = await shards.b.sql<{ lastSeq: string; lastCursor: string }[]>`
      select last_seq as "lastSeq", last_cursor as "lastCursor" from rooms where id = ${roomId}`
    const [next] = await shards.b.sql<{ id: string; seq: string; cursor: string }[]>`
      insert into messages (room_id, user_id, user_name, body) values (${roomId}, 'ann', 'Ann', 'after the move')
      returning id, seq, created_cursor as cursor`
    expect(next!.seq).toBe(String(Number(room!.lastSeq) + 1))
    expect(next!.cursor).toBe(String(Number(room!.lastCursor) + 1))
    // Each shard allocates message ids from a range of its own, so the copied ids never collide.
    const idsOfB = BigInt(next!.id) >> 44n
    expect(idsOfB).toBe(2n)
  })

  it('makes writes to the room wait while it moves; a write that waited fails on the old shard, and none is lost', async () => {
    const roomId = await busyRoom()
    const writer = shards.a.sql
    const outcomes: ('stored' | 'refused')[] = []
    let moving = true
    const writing = (async () => {
      for (let i = 0; moving || i < 3; i++) {
        const result = await writer`
          insert into messages (room_id, user_id, user_name, body) values (${roomId}, 'bob', 'Bob', ${`live ${i}`})`
          .then(() => 'stored' as const)
          .catch((error: Error) => {
            expect(error.message).toMatch(new RegExp(`room ${roomId} does not exist`))
            return 'refused' as const
          })
        outcomes.push(result)
        if (result === 'refused') return
      }
    })()
    while (outcomes.length < 3) await new Promise((resolve) => setTimeout(resolve, 5))
    const moved = await moveRoom(catalog.sql, roomId, 'b')
    moving = false
    await writing
    expect(outcomes.at(-1)).toBe('refused')
    const stored = outcomes.filter((outcome) => outcome === 'stored').length
    const [counted] = await shards.b.sql<{ live: number }[]>`
      select count(*)::int as live from messages where room_id = ${roomId} and body like 'live %'`
    expect(counted!.live).toBe(stored)
    expect(moved.rows.messages).toBe(201 + stored)
  })

  it('copies the history before the pause, then what was written, edited and deleted meanwhile, in a transaction', async () => {
    const roomId = await busyRoom()
    const sql = shards.a.sql
    let before: Awaited<ReturnType<typeof roomRows>> | undefined
    const moved = await moveRoom(catalog.sql, roomId, 'b', {
      // Between the first copy and the pause: every kind of change to the large tables,
      // some inside a subtransaction, and the hand deletes only a comparison of keys finds.
      async beforePause() {
        await sql`insert into messages (room_id, user_id, user_name, body) values (${roomId}, 'bob', 'Bob', 'new @ann')`
        await sql`update messages set body = 'edited again' where room_id = ${roomId} and seq = 2`
        await sql`delete from message_reactions where room_id = ${roomId} and seq = 3`
        await sql`insert into message_reactions (room_id, seq, user_id, emoji) values (${roomId}, 5, 'ann', '🎉')`
        await sql.begin(async (tx) => {
          await tx.savepoint(async (inner) => {
            await inner`update messages set body = 'in a savepoint' where room_id = ${roomId} and seq = 6`
          })
        })
        await sql`delete from messages where room_id = ${roomId} and seq in (7, 8)`
        await sql`delete from message_changes where room_id = ${roomId} and cursor = 1`
        before = await roomRows(sql, roomId)
      },
    })
    expect(before!.messages).toHaveLength(200)
    expect(moved.rows.messages).toBe(200)
    expect(await roomRows(shards.b.sql, roomId)).toEqual(before)
    for (const rows of Object.values(await roomRows(sql, roomId))) expect(rows).toEqual([])
  })

  it('refuses a move it cannot make, and leaves the room where it was', async () => {
    const roomId = await busyRoom()
    await expect(moveRoom(catalog.sql, roomId, 'a')).rejects.toThrow(/on a already/)
    await expect(moveRoom(catalog.sql, roomId, 'nowhere')).rejects.toThrow(/no shard named nowhere/)
    await expect(moveRoom(catalog.sql, 999_999_999, 'b')).rejects.toThrow(/no shard holds room/)
    await shards.b.sql`insert into rooms (id, name, created_by) values (${roomId}, 'squatter', 'eve')`
    await expect(moveRoom(catalog.sql, roomId, 'b')).rejects.toThrow(/b holds a room/)
    expect(await shardOf(roomId)).toBe('a')
    expect((await roomRows(shards.a.sql, roomId)).messages).toHaveLength(201)
  })
})
