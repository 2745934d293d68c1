import { sql } from 'drizzle-orm'
import type { Db } from './client.js'

/**
 * A timestamptz column rendered by PostgreSQL exactly as JavaScript's toISOString() would
 * (UTC, milliseconds, `Z`), for raw queries whose rows bypass drizzle's Date mapping.
 */
export const isoTimestamp = (column: string) => sql.raw(isoText(column))

/** isoTimestamp as SQL text, for statements written as text. */
export const isoText = (column: string) =>
  `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`

/** A raw SQL row shaped like the JSON `T`: int8 columns arrive as strings until mapped. */
export type RowOf<T> = {
  [K in keyof T]: T[K] extends number
    ? number | string
    : T[K] extends number | null
      ? number | string | null
      : T[K]
}

/**
 * One prepared statement per pool, built on first use. Named drizzle statements let
 * postgres.js keep them per connection; unnamed ones cost a parse-and-describe round trip
 * on every call, which halved the hub's fetch rate under load.
 */
export function preparedPerDb<T>(prepare: (db: Db) => T): (db: Db) => T {
  const statements = new WeakMap<Db, T>()
  return (db) => {
    let statement = statements.get(db)
    if (!statement) {
      statement = prepare(db)
      statements.set(db, statement)
    }
    return statement
  }
}
