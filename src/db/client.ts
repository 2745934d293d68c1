import { drizzle } from 'drizzle-orm/postgres-js'
import postgres from 'postgres'
import * as schema from './schema.js'

export type Db = ReturnType<typeof createDb>['db']

export interface DbOptions {
  max?: number
  applicationName?: string
}

/** The query pool, wrapped by drizzle. Drizzle replaces the client's type parsers, so nothing else shares it. */
export function createDb(url: string, { max = 10, applicationName = 'parley' }: DbOptions = {}) {
  const sql = postgres(url, {
    max,
    onnotice: () => {},
    connection: { application_name: applicationName },
    // Fail fast while the database is unreachable instead of queueing requests behind a reconnect.
    connect_timeout: 5,
  })
  return { db: drizzle(sql, { schema }), sql }
}
