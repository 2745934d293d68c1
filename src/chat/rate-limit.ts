import { type SQL, sql } from 'drizzle-orm'
import type { Db } from '../db/client.js'
import { ChatError } from './errors.js'

export interface RateLimit {
  /** How many in the window; 0 turns the limit off. */
  count: number
  windowMs: number
}

/**
 * How long `userId` must wait before posting again, in seconds, or 0 if they may post now.
 * The user's own recent messages are the record, so every instance sees the same count
 * without any extra state; concurrent posts of one user may overshoot by their number.
 */
export function secondsUntilAllowed(db: Db, userId: string, limit: RateLimit): Promise<number> {
  return secondsUntilBelow(db, sql`messages where user_id = ${userId}`, limit)
}

/** The same for edits and reactions: the user's recent changes to history are the record. */
export function secondsUntilChangeAllowed(db: Db, userId: string, limit: RateLimit): Promise<number> {
  return secondsUntilBelow(db, sql`message_changes where user_id = ${userId}`, limit)
}

/** The same for creating rooms: the rooms the user created recently are the record. */
export function secondsUntilRoomAllowed(db: Db, userId: string, limit: RateLimit): Promise<number> {
  return secondsUntilBelow(db, sql`rooms where created_by = ${userId}`, limit)
}

/**
 * Refuses with `rate_limited` when `userId` has created `perHour` rooms (direct messages
 * included) in the last hour; 0 turns the limit off.
 */
export async function requireRoomAllowed(db: Db, userId: string, perHour: number): Promise<void> {
  const wait = await secondsUntilRoomAllowed(db, userId, { count: perHour, windowMs: 3_600_000 })
  if (wait > 0) throw new ChatError('rate_limited', `Too many new rooms; try again in ${wait} s`, wait)
}

/** `recent` is `<table> where <the user's rows>`; its rows' created_at are counted in the window. */
async function secondsUntilBelow(db: Db, recent: SQL, limit: RateLimit): Promise<number> {
  if (limit.count === 0) return 0
  const window = sql`${limit.windowMs} * interval '1 millisecond'`
  const rows = await db.execute<{ wait_ms: number | null }>(sql`
    select extract(epoch from (min(created_at) + ${window} - now())) * 1000 as wait_ms
    from (
      select created_at from ${recent} and created_at > now() - ${window}
      order by created_at desc
      limit ${limit.count}
    ) recent
    having count(*) >= ${limit.count}`)
  const waitMs = Number(rows[0]?.wait_ms ?? 0)
  return waitMs > 0 ? Math.ceil(waitMs / 1000) : 0
}
