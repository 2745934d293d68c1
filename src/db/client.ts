import { drizzle } from 'drizzle-orm/postgres-js'
import postgres from 'postgres'
import { primaryOnly } from './url.js'
import { connectionOptions, type Pooler } from './pooler.js'
import * as schema from './schema.js'

export type Db = ReturnType<typeof createDb>['db']

export interface DbOptions {
  max?: number
  applicationName?: string
  pooler?: Pooler
}

/** The query pool, wrapped by drizzle. Drizzle replaces the client's type parsers, so nothing else shares it. */
export function createDb(
  url: string,
  { max = 10, applicationName = 'parley', pooler = 'none' }: DbOptions = {},
) {
  const sql = postgres(url, {
    max,
    onnotice: () => {},
    // JIT compilation pays off for long analytical queries, not for Parley's: it took a
    // common word's search over 3M messages from 71 ms to 286 ms (p50), compiling each time.
    // Behind a transaction-mode pooler it cannot be a startup parameter: see docs/configuration.md.
    ...connectionOptions(pooler, applicationName, { jit: 'off' }),
    // Fail fast while the database is unreachable instead of queueing requests behind a
    // reconnect, and let a host that swallows packets hold up the next one only briefly.
    connect_timeout: 3,
    // Among several hosts, only the primary: Parley writes, and a standby hears no NOTIFY.
    ...primaryOnly(url),
  })
  return { db: drizzle(sql, { schema }), sql }
}
