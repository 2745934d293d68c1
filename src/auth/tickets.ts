import { createHash, randomBytes } from 'node:crypto'
import { and, eq, gt, sql } from 'drizzle-orm'
import type { Db } from '../db/client.js'
import { streamTickets } from '../db/schema.js'
import { isoTimestamp, preparedPerDb } from '../db/sql.js'
import type { StreamTicket } from '../wire.js'
import type { Identity } from './jwt.js'

// A stream ticket stands in for the token in a stream's URL, where proxies, access logs and
// browser history keep what they see: it opens one stream, once, within seconds. Tickets
// live in the database, so one bought from any instance opens a stream on any other, and
// the delete that redeems one is what makes "once" hold across all of them.

export const TICKET_TTL_S = 30

/** Expired tickets deleted by each issue: bounded work that outpaces the tickets expiring. */
const SWEEP_BATCH = 100

/** 32 random bytes in base64url; anything else is refused without a query. */
const TICKET_FORMAT = /^[A-Za-z0-9_-]{43}$/

/**
 * A plain SHA-256 is enough: a ticket is 256 random bits, not a password, so there is
 * nothing to guess and no need for a slow hash.
 */
const hashTicket = (ticket: string) => createHash('sha256').update(ticket).digest('hex')

/**
 * A new ticket for `identity`, valid TICKET_TTL_S seconds and never past the token's own
 * expiry. The same statement sweeps a batch of expired tickets; SKIP LOCKED lets instances
 * issuing at once sweep different rows instead of waiting on each other.
 */
export async function issueStreamTicket(db: Db, identity: Identity): Promise<StreamTicket> {
  const ticket = randomBytes(32).toString('base64url')
  const tokenExpiresAt = new Date(identity.expiresAt).toISOString()
  const rows = await db.execute<{ expires_at: string }>(sql`
    with swept as (
      delete from stream_tickets where hash in (
        select hash from stream_tickets where expires_at <= now()
        limit ${SWEEP_BATCH} for update skip locked))
    insert into stream_tickets (hash, user_id, user_name, is_admin, token_expires_at, expires_at)
    values (${hashTicket(ticket)}, ${identity.userId}, ${identity.userName}, ${identity.isAdmin},
      ${tokenExpiresAt}::timestamptz,
      least(now() + make_interval(secs => ${TICKET_TTL_S}), ${tokenExpiresAt}::timestamptz))
    returning ${isoTimestamp('expires_at')} as expires_at`)
  return { ticket, expires_at: rows[0]!.expires_at }
}

// Prepared: every stream opened by the browser client runs this.
const redeemStatement = preparedPerDb((db: Db) =>
  db
    .delete(streamTickets)
    .where(and(eq(streamTickets.hash, sql.placeholder('hash')), gt(streamTickets.expiresAt, sql`now()`)))
    .returning({
      userId: streamTickets.userId,
      userName: streamTickets.userName,
      isAdmin: streamTickets.isAdmin,
      tokenExpiresAt: streamTickets.tokenExpiresAt,
    })
    .prepare('parley_redeem_stream_ticket'),
)

/**
 * The identity a ticket was bought with, consuming the ticket; undefined when it is
 * unknown, already used or expired. One statement: of any number of requests presenting
 * the same ticket, on any instances, exactly one gets the row.
 */
export async function redeemStreamTicket(db: Db, ticket: string): Promise<Identity | undefined> {
  if (!TICKET_FORMAT.test(ticket)) return undefined
  const [row] = await redeemStatement(db).execute({ hash: hashTicket(ticket) })
  if (!row) return undefined
  return {
    userId: row.userId,
    userName: row.userName,
    isAdmin: row.isAdmin,
    expiresAt: row.tokenExpiresAt.getTime(),
  }
}
