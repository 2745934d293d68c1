/**
 * What stands between Parley's pools and PostgreSQL (DATABASE_POOLER): nothing, or a pooler
 * in transaction mode, such as PgBouncer's `pool_mode = transaction`.
 */
export type Pooler = 'none' | 'transaction'

/**
 * The postgres.js options of a pool that depend on the pooler. A transaction-mode pooler
 * hands each transaction to whichever server connection is free, so nothing may be tied to
 * one connection: PgBouncer refuses any startup parameter but a few (application_name
 * among them) with `unsupported startup parameter`, so `settings` are left out and whoever
 * needs one sets it inside its transaction; and a statement prepared on one server
 * connection would be executed on another, so nothing is prepared. postgres.js honours a
 * query's own `prepare: true` (and drizzle's `.prepare()`) only when the client allows it,
 * so this one option turns them all off.
 */
export function connectionOptions(
  pooler: Pooler,
  applicationName: string,
  settings: Record<string, string | number>,
) {
  const direct = pooler === 'none'
  return {
    prepare: direct,
    connection: direct
      ? { application_name: applicationName, ...settings }
      : { application_name: applicationName },
  }
}
