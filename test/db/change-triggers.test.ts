import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { range } from '../support/range.js'

// The change cursor as the triggers keep it, for writers that are not Parley: every
// change numbered once, gaplessly, in commit order, and concurrent writers of every kind
// never deadlock and never lose a reaction.

let database: TestDatabase

beforeAll(async () => {
  database = await createTestDatabase()
})

afterAll(async () => {
  await database?.drop()
})

async function newRoom(name: string): Promise<number> {
  const [room] = await database.sql<{ id: string }[]>`
    insert into rooms (name, created_by) values (${name}, 'test') returning id`
  return Number(room?.id)
}

/** Every cursor the room's changes hold: new messages' and the others'. */
async function cursorsOf(roomId: number): Promise<number[]> {
  const rows = await database.sql<{ cursor: string }[]>`
    select created_cursor as cursor from messages where room_id = ${roomId}
    union all select cursor from message_changes where room_id = ${roomId}
    order by 1`
  return rows.map((row) => Number(row.cursor))
}

describe('the change triggers', () => {
  it('number posts, edits, reactions and deletes from 20 connections at once gaplessly, without deadlock', async () => {
    const roomId = await newRoom('busy')
    await database.sql`insert into messages (room_id, user_id, user_name, body)
                       select ${roomId}, 'seed', 'Seed', 's' || i from generate_series(1, 5) i`
    const clients = range(1, 20).map(() => postgres(database.url, { max: 1, onnotice: () => {} }))
    try {
      await Promise.all(
        clients.map(async (sql, i) => {
          for (let round = 0; round < 10; round++) {
            const seq = 1 + ((i + round) % 5)
            await sql`insert into message_reactions (room_id, seq, user_id, emoji)
                      values (${roomId}, ${seq}, ${`u${i}`}, ${round % 2 ? '👍' : '🎉'}) on conflict do nothing`
            await sql`update messages set body = ${`by ${i} in ${round}`} where room_id = ${roomId} and seq = ${seq}`
            await sql`insert into messages (room_id, user_id, user_name, body, reply_to)
                      values (${roomId}, ${`u${i}`}, 'U', 'reply', ${seq})`
          }
        }),
      )
    } finally {
      await Promise.all(clients.map((sql) => sql.end()))
    }
    const [room] = await database.sql`select last_seq, last_cursor from rooms where id = ${roomId}`
    expect(Number(room?.last_seq)).toBe(5 + 200)
    expect(await cursorsOf(roomId)).toEqual(range(1, Number(room?.last_cursor)))
    // Each message's totals are its reaction rows, and its reply count its replies.
    const wrong = await database.sql`
      select m.seq from messages m
      where m.room_id = ${roomId} and (
        m.reactions <> coalesce((select jsonb_object_agg(emoji, n) from (
          select emoji, count(*)::int as n from message_reactions r
          where r.room_id = m.room_id and r.seq = m.seq group by emoji) t), '{}')
        or m.reply_count <> (select count(*) from messages c where c.room_id = m.room_id and c.reply_to = m.seq))`
    expect(wrong).toEqual([])
  })

  it('makes a tombstone of deleted_at, clears its reactions and refuses new ones', async () => {
    const roomId = await newRoom('tombstone')
    await database.sql`insert into messages (room_id, user_id, user_name, body) values (${roomId}, 'a', 'A', 'x')`
    await database.sql`insert into message_reactions (room_id, seq, user_id, emoji) values (${roomId}, 1, 'b', '👍')`
    await database.sql`update messages set deleted_at = now() where room_id = ${roomId} and seq = 1`
    // A tombstone stays one, whatever an UPDATE tries.
    await database.sql`update messages set body = 'back', deleted_at = null where room_id = ${roomId} and seq = 1`
    const [message] = await database.sql`
      select body, deleted_at is not null as deleted, reactions from messages where room_id = ${roomId}`
    expect(message).toEqual({ body: '', deleted: true, reactions: {} })
    await expect(
      database.sql`insert into message_reactions (room_id, seq, user_id, emoji) values (${roomId}, 1, 'b', '🎉')`,
    ).rejects.toMatchObject({ constraint_name: 'message_reactions_message_deleted' })
    const changes = await database.sql`
      select cursor::int, kind from message_changes where room_id = ${roomId} order by cursor`
    expect(changes).toEqual([
      { cursor: 2, kind: 'reaction' },
      { cursor: 3, kind: 'delete' },
    ])
  })

  it('refuses to move a message to another seq or room', async () => {
    const roomId = await newRoom('fixed')
    await database.sql`insert into messages (room_id, user_id, user_name, body) values (${roomId}, 'a', 'A', 'x')`
    await expect(database.sql`update messages set seq = 7 where room_id = ${roomId}`).rejects.toMatchObject({
      code: '23514',
    })
  })
})
