import { drizzle } from 'drizzle-orm/postgres-js'
import postgres from 'postgres'
import type { Db } from './client.js'
import { connectionOptions, type Pooler } from './pooler.js'
import { primaryOnly } from './url.js'
import * as schema from './schema.js'

export interface SearchPoolOptions {
  max: number
  /** PostgreSQL cancels any statement of the pool running longer than this. */
  statementTimeoutMs: number
  pooler?: Pooler
}

/** The application_name of the search pool's connections, as pg_stat_activity shows it. */
export const SEARCH_APPLICATION_NAME = 'parley-search'

/**
 * The pool searches run on, apart from the query pool: a search over many rooms can take
 * seconds, and sharing the query pool let a few of them hold every connection while a room
 * read waited behind them. statement_timeout is sent as a startup parameter, so it holds for
 * every statement on these connections without a transaction around each search (except
 * behind a transaction-mode pooler, which refuses it: see searchStatement). The other
 * options are createDb's (client.ts), for the same reasons.
 */
export function createSearchPool(
  url: string,
  { max, statementTimeoutMs, pooler = 'none' }: SearchPoolOptions,
) {
  const sql = postgres(url, {
    max,
    onnotice: () => {},
    ...connectionOptions(pooler, SEARCH_APPLICATION_NAME, {
      jit: 'off',
      statement_timeout: statementTimeoutMs,
    }),
    connect_timeout: 3,
    // Among several hosts, only the primary: a standby lags, and a search must see what the
    // caller has just seen.
    ...primaryOnly(url),
  })
  const db: Db = drizzle(sql, { schema })
  if (pooler === 'transaction') transactionSettings.set(db, statementTimeoutMs)
  return { db, sql }
}

/** The statement timeout of each search pool that must set it per transaction. */
const transactionSettings = new WeakMap<Db, number>()

export interface SearchStatement<Row> {
  rows: Promise<Row[]>
  /** Stops the statement in PostgreSQL (a cancel request), if it still runs. */
  cancel(): void
}

/**
 * Runs one statement of a search on the search pool. Behind a transaction-mode pooler the
 * connection's settings are gone (createSearchPool), so the statement runs in a transaction
 * that sets them first, for itself only (`set_config(…, true)`): the two are sent together.
 */
export function searchStatement<Row>(db: Db, text: string, params: unknown[]): SearchStatement<Row> {
  const timeoutMs = transactionSettings.get(db)
  if (timeoutMs === undefined) {
    const query = db.$client.unsafe(text, params as never[])
    return { rows: query as unknown as Promise<Row[]>, cancel: () => void query.cancel() }
  }
  let query: postgres.PendingQuery<postgres.Row[]> | undefined
  let cancelled = false
  const rows = db.$client.begin(async (tx) => {
    const settings = tx`select set_config('statement_timeout', ${String(timeoutMs)}, true), set_config('jit', 'off', true)`
    query = tx.unsafe(text, params as never[])
    if (cancelled) void query.cancel()
    const [, result] = await Promise.all([settings, query])
    return result as unknown as Row[]
  })
  return {
    rows: rows as Promise<Row[]>,
    cancel: () => {
      cancelled = true
      void query?.cancel()
    },
  }
}
