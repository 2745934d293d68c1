import { sql as raw } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { markRead } from '../../src/chat/reads.js'
import { createRoom } from '../../src/chat/rooms.js'
import { createDb } from '../../src/db/client.js'
import { inReservedTransaction } from '../../src/db/transaction.js'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { range } from '../support/range.js'
import { until } from '../support/wait.js'

let database: TestDatabase

beforeAll(async () => {
  database = await createTestDatabase()
})

afterAll(async () => {
  await database?.drop()
})

describe('transactions on a small, busy pool', () => {
  it('never run unrelated queries inside a transaction nor leave one open', async () => {
    const { db, sql } = createDb(database.url, { max: 2, applicationName: 'parley-busy-pool' })
    try {
      const room = await createRoom(db, { name: 'busy', createdBy: 'owner', visibility: 'public' })
      await database.sql`insert into messages (room_id, user_id, user_name, body)
        select ${room.id}, 'ops', 'Ops', 'x' from generate_series(1, 50)`
      const failures: unknown[] = []
      const note = (work: Promise<unknown>) => work.catch((error: unknown) => failures.push(error))
      for (const round of range(1, 5)) {
        await Promise.all(
          range(1, 120).flatMap((i) => [
            note(db.execute(raw`select pg_sleep(0.001)`)),
            note(
              inReservedTransaction(sql, async (tx) => {
                await tx`select pg_advisory_xact_lock(${round * 1000 + (i % 7)})`
                const [row] = await tx<{ inside: boolean }[]>`select now() = statement_timestamp() as inside`
                // Inside a transaction now() is its start, earlier than this statement's.
                if (row?.inside) throw new Error('the statement ran outside the transaction')
              }),
            ),
            note(markRead(db, room.id, `reader-${i}`, i % 50)),
            note(
              createRoom(db, { name: `busy-${round}-${i}`, createdBy: `maker-${i}`, visibility: 'private' }),
            ),
          ]),
        )
      }
      expect(failures).toEqual([])
      const open = await database.sql<{ n: number }[]>`select count(*)::int as n from pg_stat_activity
        where application_name = 'parley-busy-pool' and state like 'idle in transaction%'`
      expect(open[0]!.n).toBe(0)
      const owners = await database.sql<{ n: number }[]>`select count(*)::int as n from rooms r
        where not exists (select 1 from room_members m where m.room_id = r.id and m.role = 'owner')`
      expect(owners[0]!.n).toBe(0)
    } finally {
      await sql.end({ timeout: 5 })
    }
  })
})

describe('a reserved transaction whose backend dies', () => {
  it('fails with the connection closed instead of crashing the process, and the pool recovers', async () => {
    const { db, sql } = createDb(database.url, { max: 2, applicationName: 'parley-dying-backend' })
    try {
      let pid: number | undefined
      const dying = inReservedTransaction(sql, async (tx) => {
        const [row] = await tx<{ pid: number }[]>`select pg_backend_pid() as pid`
        pid = row?.pid
        await tx`select pg_sleep(5)`
      })
      dying.catch(() => {})
      await until(() => pid !== undefined, 'the transaction to start')
      await database.sql`select pg_terminate_backend(${pid!})`
      // Its rollback goes to a connection that is gone: a rejection, not an uncaught TypeError.
      await expect(dying).rejects.toMatchObject({ code: expect.stringMatching(/CONNECTION|57P01/) })
      await until(async () => {
        const rows = await db.execute(raw`select 1 as one`).catch(() => [])
        return rows.length === 1
      }, 'the pool to answer again')
    } finally {
      await sql.end({ timeout: 1 })
    }
  })
})
