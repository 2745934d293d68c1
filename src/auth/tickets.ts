import { createHash, randomBytes } from 'node:crypto'
import { and, eq, gt, sql } from 'drizzle-orm'
import type { Logger } from 'pino'
import { ChatError } from '../chat/errors.js'
import { createGroupCommit } from '../chat/group-commit.js'
import { type RateLimit, requireToken, takeTokens } from '../chat/rate-limit.js'
import type { Db } from '../db/client.js'
import { isDatabaseUnavailable } from '../db/errors.js'
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

export interface TicketDeskOptions {
  db: Db
  logger: Logger
  /** RATE_LIMIT_TICKETS per window, per user. */
  limit: RateLimit
}

export type TicketDesk = ReturnType<typeof createTicketDesk>

/**
 * Tickets bought and redeemed at about the same moment are done together, as posts are
 * (chat/group-commit.ts): a reconnect storm of EventSource clients costs the database two
 * statements per batch to sell (the rate limit, then the insert) and one to redeem, not
 * two transactions per stream. A ticket presented twice in one batch opens one stream.
 */
export function createTicketDesk({ db, logger, limit }: TicketDeskOptions) {
  const sell = createGroupCommit<Identity, StreamTicket>({
    logger,
    batchMax: 500,
    batchMs: 0,
    together: (identities) => sellTogether(db, identities, limit),
    alone: async (identity) => {
      await requireToken(db, 'ticket', identity.userId, limit, TOO_MANY)
      return issueStreamTicket(db, identity)
    },
    failsEveryRequest: isDatabaseUnavailable,
  })
  const redeem = createGroupCommit<string, Identity | undefined>({
    logger,
    batchMax: 500,
    batchMs: 0,
    together: (tickets) => redeemTogether(db, tickets),
    alone: (ticket) => redeemStreamTicket(db, ticket),
    failsEveryRequest: isDatabaseUnavailable,
  })
  return {
    /** A new ticket for `identity`, or `rate_limited` past RATE_LIMIT_TICKETS. */
    issue: (identity: Identity) => sell.submit(identity),
    /** The identity a ticket was bought with, spending it; undefined when unknown, used or expired. */
    redeem: (ticket: string) =>
      TICKET_FORMAT.test(ticket) ? redeem.submit(ticket) : Promise.resolve(undefined),
    stats: () => ({ sold: sell.stats(), redeemed: redeem.stats() }),
  }
}

const TOO_MANY = 'Too many stream tickets'

/** One rate-limit take for every buyer in the batch, then one insert of the tickets granted. */
async function sellTogether(
  db: Db,
  identities: Identity[],
  limit: RateLimit,
): Promise<PromiseSettledResult<StreamTicket>[]> {
  const asked = new Map<string, number>()
  for (const { userId } of identities) asked.set(userId, (asked.get(userId) ?? 0) + 1)
  const grants = await takeTokens(
    db,
    'ticket',
    [...asked].map(([userId, n]) => ({ userId, n })),
    limit,
  )
  const left = new Map([...grants].map(([userId, grant]) => [userId, grant.granted]))
  const sold = identities.map((identity) => {
    const granted = left.get(identity.userId) ?? 0
    left.set(identity.userId, granted - 1)
    return granted > 0 ? { identity, ticket: randomBytes(32).toString('base64url') } : undefined
  })
  const rows = sold.filter((sale) => sale !== undefined)
  const expiry = new Map<string, string>()
  if (rows.length > 0) {
    const inserted = await db.execute<{ hash: string; expires_at: string }>(sql`
      with swept as (
        delete from stream_tickets where hash in (
          select hash from stream_tickets where expires_at <= now()
          limit ${SWEEP_BATCH} for update skip locked))
      insert into stream_tickets (hash, user_id, user_name, is_admin, token_expires_at, expires_at)
      select t.hash, t.user_id, t.user_name, t.is_admin, t.token_expires_at,
             least(now() + make_interval(secs => ${TICKET_TTL_S}), t.token_expires_at)
        from json_to_recordset(${JSON.stringify(
          rows.map(({ identity, ticket }) => ({
            hash: hashTicket(ticket),
            user_id: identity.userId,
            user_name: identity.userName,
            is_admin: identity.isAdmin,
            token_expires_at: new Date(identity.expiresAt).toISOString(),
          })),
        )}::json) as t(hash text, user_id text, user_name text, is_admin boolean, token_expires_at timestamptz)
      returning hash, ${isoTimestamp('expires_at')} as expires_at`)
    for (const row of inserted) expiry.set(row.hash, row.expires_at)
  }
  return sold.map((sale, i): PromiseSettledResult<StreamTicket> => {
    if (!sale) {
      const wait = Math.max(1, grants.get(identities[i]!.userId)?.waitSeconds ?? 1)
      const reason = new ChatError('rate_limited', `${TOO_MANY}; try again in ${wait} s`, wait)
      return { status: 'rejected', reason }
    }
    const expiresAt = expiry.get(hashTicket(sale.ticket))
    return expiresAt === undefined
      ? { status: 'rejected', reason: new Error('a sold ticket was not stored') }
      : { status: 'fulfilled', value: { ticket: sale.ticket, expires_at: expiresAt } }
  })
}

/** One delete for the batch; a ticket presented twice goes to the first who presented it. */
async function redeemTogether(
  db: Db,
  tickets: string[],
): Promise<PromiseSettledResult<Identity | undefined>[]> {
  const hashes = tickets.map(hashTicket)
  const rows = await db.execute<{
    hash: string
    user_id: string
    user_name: string
    is_admin: boolean
    token_expires_at: string
  }>(sql`
    delete from stream_tickets
     where hash = any(${`{${[...new Set(hashes)].join(',')}}`}::text[]) and expires_at > now()
    returning hash, user_id, user_name, is_admin, ${isoTimestamp('token_expires_at')} as token_expires_at`)
  const byHash = new Map(rows.map((row) => [row.hash, row]))
  return hashes.map((hash) => {
    const row = byHash.get(hash)
    byHash.delete(hash)
    const identity = row && {
      userId: row.user_id,
      userName: row.user_name,
      isAdmin: row.is_admin,
      expiresAt: Date.parse(row.token_expires_at),
    }
    return { status: 'fulfilled', value: identity }
  })
}
