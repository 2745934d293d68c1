// Connection-level failures from postgres.js and server states that mean "try again later".
const UNAVAILABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'CONNECT_TIMEOUT',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '53300', // too_many_connections
  '28000', // invalid_authorization_specification: the role may not log in (right now)
  '55000', // object_not_in_prerequisite_state: e.g. the database does not accept connections
  '25006', // read_only_sql_transaction: a write reached a standby, during a failover or switchover
])

/** A string field of the postgres.js error under drizzle's wrapper, if any. */
function databaseErrorField(error: unknown, field: 'code' | 'constraint_name'): string | undefined {
  let current: unknown = error
  for (let depth = 0; depth < 4 && current instanceof Error; depth++) {
    const value = (current as Partial<Record<typeof field, unknown>>)[field]
    if (typeof value === 'string') return value
    current = current.cause
  }
  return undefined
}

export const databaseErrorCode = (error: unknown) => databaseErrorField(error, 'code')

/** The constraint a database error names, if any (a trigger may name its own). */
export const constraintName = (error: unknown) => databaseErrorField(error, 'constraint_name')

export function isDatabaseUnavailable(error: unknown): boolean {
  const code = databaseErrorCode(error)
  return code !== undefined && (UNAVAILABLE.has(code) || code.startsWith('08'))
}

/** A unique constraint refused the row (23505). */
export const isUniqueViolation = (error: unknown) => databaseErrorCode(error) === '23505'

/** A referenced row does not exist (23503); the seq trigger raises it for a missing room too. */
export const isForeignKeyViolation = (error: unknown) => databaseErrorCode(error) === '23503'

/**
 * PostgreSQL could not take a value the caller sent (SQLSTATE class 22, data exception: a
 * NUL in text, a date out of range, a number beyond its type). The caller's mistake, so
 * every query may pass such values through and the one error handler answers 400.
 */
export const isDataException = (error: unknown) => databaseErrorCode(error)?.startsWith('22') === true

/**
 * A statement was cancelled (57014): by statement_timeout, or by a cancel request such as
 * the one postgres.js's `query.cancel()` sends.
 */
export const isQueryCanceled = (error: unknown) => databaseErrorCode(error) === '57014'

/**
 * A statement that returned without the answer its caller counts on (a row for every
 * request it was sent). What it did is unknown, as when a connection breaks mid-statement,
 * so it is reported the same way: the database is unavailable, try again.
 */
export class IncompleteAnswerError extends Error {
  /** connection_failure, which isDatabaseUnavailable() reads. */
  readonly code = '08006'
}
