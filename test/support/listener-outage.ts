import postgres from 'postgres'
import { inject } from 'vitest'
import type { TestDatabase } from './database.js'
import type { TestServer } from './server.js'
import { until } from './wait.js'

/**
 * Runs `whileDown` while the LISTEN connections of `servers` are gone and cannot come back:
 * the database refuses new connections (those already open keep working, `whileDown`'s own
 * included), and every listener's backend is terminated. Resolves once all listen again.
 */
export async function withListenersDown(
  database: TestDatabase,
  servers: TestServer[],
  whileDown: (sql: postgres.ReservedSql) => Promise<void>,
): Promise<void> {
  const sql = await database.sql.reserve()
  // A database cannot refuse connections to itself; the server's own database does it.
  const admin = postgres(inject('adminUrl'), { max: 1, onnotice: () => {} })
  const [row] = await sql<{ name: string }[]>`select current_database() as name`
  const name = row!.name
  try {
    await admin.unsafe(`alter database "${name}" with allow_connections false`)
    await sql`select pg_terminate_backend(pid) from pg_stat_activity
      where datname = current_database() and application_name = 'parley-listener'`
    await until(() => servers.every((server) => !server.listener.isListening()), 'the listeners to notice')
    await whileDown(sql)
  } finally {
    await admin.unsafe(`alter database "${name}" with allow_connections true`)
    await admin.end()
    sql.release()
  }
  await until(
    () => servers.every((server) => server.listener.isListening()),
    'the listeners to be back',
    15_000,
  )
}
