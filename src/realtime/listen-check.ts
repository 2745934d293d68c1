import postgres from 'postgres'
import { primaryOnly } from '../db/url.js'

/** The channel the listener rings itself on, once, to know that it hears. */
export const CHECK_CHANNEL = 'parley_listen_check'

/**
 * Sends `payload` on CHECK_CHANNEL from a connection of its own to `url`, the listener's
 * address. Not from the listener's connection: through a pooler that may reach the very
 * server connection LISTEN ran on, and a session hears its own notifications.
 */
export async function ringListener(url: string, payload: string): Promise<void> {
  const sql = postgres(url, {
    // Among several hosts, the primary: a standby refuses NOTIFY.
    ...primaryOnly(url),
    max: 1,
    prepare: false,
    fetch_types: false,
    connect_timeout: 5,
    onnotice: () => {},
    connection: { application_name: 'parley-listen-check' },
  })
  try {
    await sql`select pg_notify(${CHECK_CHANNEL}, ${payload})`
  } finally {
    await sql.end({ timeout: 1 })
  }
}

/** A listener that connects and LISTENs but hears nothing: no retry mends it. */
export class UnheardError extends Error {}

/** Why the process must not go on with a listener that hears nothing, and what to change. */
export function unheardError(url: string, waitedMs: number): UnheardError {
  const { hostname, port, pathname } = new URL(url)
  return new UnheardError(
    `Refusing to start: LISTEN on ${hostname}:${port || 5432}${pathname} heard nothing; a notification ` +
      `sent to it through the same address did not arrive within ${waitedMs} ms. A pooler in transaction ` +
      'mode (such as PgBouncer with pool_mode = transaction) cannot carry LISTEN: set LISTEN_DATABASE_URL ' +
      "to PostgreSQL's own address.",
  )
}
