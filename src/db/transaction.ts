import type { ReservedSql, Sql } from 'postgres'

/**
 * Runs `work` in a transaction on a connection reserved for it, for work that needs more
 * than one statement (an advisory lock, then reads that must see what the lock's holder
 * committed). Not sql.begin: postgres.js 3.4.9 can write sql.begin's BEGIN on a pooled
 * connection without reserving it (porsager/postgres issues 823 and 1189), and the pool
 * then runs unrelated queries inside that transaction. sql.reserve() takes a connection
 * out of the pool before anything is sent on it. The same release crashes the process when
 * the backend of a reserved connection dies before its ROLLBACK is written (porsager/postgres
 * issue 1208); patches/postgres+3.4.9.patch makes that write fail like any other instead.
 */
export async function inReservedTransaction<T>(sql: Sql, work: (tx: ReservedSql) => Promise<T>): Promise<T> {
  const tx = await sql.reserve()
  try {
    await tx`begin`
    try {
      const result = await work(tx)
      await tx`commit`
      return result
    } catch (error) {
      await tx`rollback`.catch(() => {})
      throw error
    }
  } finally {
    tx.release()
  }
}
