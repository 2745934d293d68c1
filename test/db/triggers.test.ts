import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { until } from '../support/wait.js'

let database: TestDatabase

beforeAll(async () => {
  database = await createTestDatabase()
})

afterAll(async () => {
  await database?.drop()
})

let roomCounter = 0
async function newRoom(purpose: string): Promise<number> {
  const [room] = await database.sql<{ id: string }[]>`
    insert into rooms (name, created_by) values (${`${purpose}-${++roomCounter}`}, 'test') returning id`
  return Number(room?.id)
}

/** A psql-style insert without a seq; returns the seq the trigger assigned. */
async function insertMessage(
  sql: postgres.Sql | postgres.TransactionSql,
  roomId: number,
  body = 'hello',
): Promise<number> {
  const [row] = await sql<{ seq: string }[]>`
    insert into messages (room_id, user_id, user_name, body) values (${roomId}, 'ops', 'Ops', ${body}) returning seq`
  return Number(row?.seq)
}

async function storedSeqs(roomId: number): Promise<number[]> {
  const rows = await database.sql<
    { seq: string }[]
  >`select seq from messages where room_id = ${roomId} order by seq`
  return rows.map((row) => Number(row.seq))
}

async function lastSeq(roomId: number): Promise<number> {
  const [room] = await database.sql<{ last_seq: string }[]>`select last_seq from rooms where id = ${roomId}`
  return Number(room?.last_seq)
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)

describe('messages_assign_seq', () => {
  it('numbers inserts without a seq 1, 2, 3 in each room independently', async () => {
    const first = await newRoom('independent')
    const second = await newRoom('independent')
    const assigned: number[] = []
    for (const roomId of [first, first, second, first, second, second]) {
      assigned.push(await insertMessage(database.sql, roomId))
    }
    expect(assigned).toEqual([1, 2, 1, 3, 2, 3])
    expect([await lastSeq(first), await lastSeq(second)]).toEqual([3, 3])
  })

  it('replaces a seq supplied by the insert', async () => {
    const roomId = await newRoom('supplied')
    const rows = await database.sql<{ seq: string }[]>`
      insert into messages (room_id, seq, user_id, user_name, body)
      values (${roomId}, 999, 'ops', 'Ops', 'one'), (${roomId}, 1, 'ops', 'Ops', 'two')
      returning seq`
    expect(rows.map((row) => Number(row.seq))).toEqual([1, 2])
    expect(await lastSeq(roomId)).toBe(2)
  })

  it('rejects an insert into a room that does not exist with SQLSTATE 23503', async () => {
    await expect(insertMessage(database.sql, 987_654_321)).rejects.toMatchObject({ code: '23503' })
  })

  it('gives 20 connections inserting 25 messages each into one room exactly the seqs 1 to 500', async () => {
    const roomId = await newRoom('contended')
    const clients = Array.from({ length: 20 }, () => postgres(database.url, { max: 1, onnotice: () => {} }))
    try {
      // Connect every client first so that the inserts really overlap.
      await Promise.all(clients.map((sql) => sql`select 1`))
      const perConnection = await Promise.all(
        clients.map(async (sql, connection) => {
          const seqs: number[] = []
          for (let i = 0; i < 25; i++) seqs.push(await insertMessage(sql, roomId, `c${connection}-${i}`))
          return seqs
        }),
      )
      expect(await storedSeqs(roomId)).toEqual(range(1, 500))
      expect(await lastSeq(roomId)).toBe(500)
      expect(perConnection.flat().sort((a, b) => a - b)).toEqual(range(1, 500))
      // Each connection's own inserts commit in order, so their seqs only grow.
      for (const seqs of perConnection) expect(seqs).toEqual([...seqs].sort((a, b) => a - b))
    } finally {
      await Promise.all(clients.map((sql) => sql.end({ timeout: 1 })))
    }
  })

  it('leaves no gap after a rolled-back insert', async () => {
    const roomId = await newRoom('rollback')
    expect(await insertMessage(database.sql, roomId)).toBe(1)
    let seqInsideTransaction: number | undefined
    await expect(
      database.sql.begin(async (tx) => {
        seqInsideTransaction = await insertMessage(tx, roomId)
        throw new Error('roll back')
      }),
    ).rejects.toThrow('roll back')
    expect(seqInsideTransaction).toBe(2)
    expect(await lastSeq(roomId)).toBe(1)
    expect(await insertMessage(database.sql, roomId)).toBe(2)
    expect(await storedSeqs(roomId)).toEqual([1, 2])
  })

  it('leaves no gap after an insert that fails a constraint checked after the trigger', async () => {
    const roomId = await newRoom('failed')
    expect(await insertMessage(database.sql, roomId)).toBe(1)
    await expect(
      database.sql`insert into messages (room_id, user_id, user_name, body) values (${roomId}, 'ops', 'Ops', null)`,
    ).rejects.toMatchObject({ code: '23502' })
    expect(await insertMessage(database.sql, roomId)).toBe(2)
    expect(await storedSeqs(roomId)).toEqual([1, 2])
  })
})

describe('messages_notify', () => {
  it('notifies "<room_id>:<seq>" for a 1 MB body inserted directly, and stores the body whole', async () => {
    const roomId = await newRoom('megabyte')
    const payloads: string[] = []
    const { unlisten } = await database.sql.listen('parley_messages', (payload) => {
      if (payload.startsWith(`${roomId}:`)) payloads.push(payload)
    })
    try {
      const body = '0123456789abcdef'.repeat(65_536)
      expect(Buffer.byteLength(body)).toBe(1_048_576)
      expect(await insertMessage(database.sql, roomId, body)).toBe(1)
      await until(() => payloads.length > 0, 'the notification')
      expect(payloads).toEqual([`${roomId}:1`])
      expect(Buffer.byteLength(payloads[0] ?? '')).toBeLessThan(8000)

      const [stored] = await database.sql<{ body: string; bytes: number }[]>`
        select body, octet_length(body) as bytes from messages where room_id = ${roomId}`
      expect(stored?.bytes).toBe(1_048_576)
      expect(stored?.body === body).toBe(true)
    } finally {
      await unlisten()
    }
  })

  it('rings each room once per statement, with its newest cursor, for a multi-row insert', async () => {
    const [first, second] = [await newRoom('batch-a'), await newRoom('batch-b')]
    const payloads: string[] = []
    const { unlisten } = await database.sql.listen('parley_messages', (payload) => {
      if (payload.startsWith(`${first}:`) || payload.startsWith(`${second}:`)) payloads.push(payload)
    })
    try {
      await database.sql`
        insert into messages (room_id, user_id, user_name, body)
        select case when n <= 5 then ${first}::bigint else ${second}::bigint end, 'ops', 'Ops', 'm' || n
        from generate_series(1, 8) n order by n`
      // Notifications arrive in commit order: a later single insert's comes after the batch's.
      await database.sql`insert into messages (room_id, user_id, user_name, body) values (${first}, 'ops', 'Ops', 'one')`
      await until(() => payloads.length >= 3, 'three notifications')
      expect(payloads.slice(0, 2).sort()).toEqual([`${first}:5`, `${second}:3`].sort())
      expect(payloads.slice(2)).toEqual([`${first}:6`])
    } finally {
      await unlisten()
    }
  })

  it('sends nothing for a rolled-back insert', async () => {
    const roomId = await newRoom('silent')
    const payloads: string[] = []
    const { unlisten } = await database.sql.listen('parley_messages', (payload) => {
      if (payload.startsWith(`${roomId}:`)) payloads.push(payload)
    })
    try {
      await expect(
        database.sql.begin(async (tx) => {
          await insertMessage(tx, roomId, 'never')
          throw new Error('roll back')
        }),
      ).rejects.toThrow('roll back')
      // The committed insert after it is the marker: notifications arrive in commit order.
      await insertMessage(database.sql, roomId, 'kept')
      await until(() => payloads.length > 0, 'the notification')
      expect(payloads).toEqual([`${roomId}:1`])
    } finally {
      await unlisten()
    }
  })
})
