import { drizzle } from 'drizzle-orm/postgres-js'
import postgres from 'postgres'
import type { Db } from './client.js'
import * as schema from './schema.js'

export interface SearchPoolOptions {
  max: number
  /** PostgreSQL cancels any statement of the pool running longer than this. */
  statementTimeoutMs: number
}

/** The application_name of the search pool's connections, as pg_stat_activity shows it. */
export const SEARCH_APPLICATION_NAME = 'parley-search'

/**
 * The pool searches run on, apart from the query pool: a search over many rooms can take
 * seconds, and sharing the query pool let a few of them hold every connection while a room
 * read waited behind them. statement_timeout is sent as a startup parameter, so it holds for
 * every statement on these connections without a transaction around each search. The other
 * options are createDb's (client.ts), for the same reasons.
 */
export function createSearchPool(url: string, { max, statementTimeoutMs }: SearchPoolOptions) {
  const sql = postgres(url, {
    max,
    onnotice: () => {},
    connection: {
      application_name: SEARCH_APPLICATION_NAME,
      jit: 'off',
      statement_timeout: statementTimeoutMs,
    },
    connect_timeout: 5,
  })
  const db: Db = drizzle(sql, { schema })
  return { db, sql }
}
