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
  return secondsUntilBelow(db, 'messages where user_id = $1', userId, limit)
}

/** The same for edits and reactions: the user's recent changes to history are the record. */
export function secondsUntilChangeAllowed(db: Db, userId: string, limit: RateLimit): Promise<number> {
  return secondsUntilBelow(db, 'message_changes where user_id = $1', userId, limit)
}

/** The same for creating rooms: the rooms the user created recently are the record. */
export function secondsUntilRoomAllowed(db: Db, userId: string, limit: RateLimit): Promise<number> {
  return secondsUntilBelow(db, 'rooms where created_by = $1', userId, limit)
}

/**
 * Refuses with `rate_limited` when `userId` has created `perHour` rooms (direct messages
 * included) in the last hour; 0 turns the limit off.
 */
export async function requireRoomAllowed(db: Db, userId: string, perHour: number): Promise<void> {
  const wait = await secondsUntilRoomAllowed(db, userId, { count: perHour, windowMs: 3_600_000 })
  if (wait > 0) throw new ChatError('rate_limited', `Too many new rooms; try again in ${wait} s`, wait)
}

/**
 * The window of a rate limit, the one definition of it that these checks and posting's batch
 * statement (src/chat/posting.ts) share, as SQL text: a one-row subquery of `n`, how many of
 * `rows` (`<table> where <the user's rows>`) were created in the last `windowMs`
 * milliseconds, counted up to `count` since more cannot change the answer, and `wait_ms`,
 * how long until the oldest of those leaves the window. `count` and `windowMs` are SQL text
 * too, such as parameters (`$2`).
 */
export function windowSql(rows: string, count: string, windowMs: string): string {
  const window = `${windowMs}::int * interval '1 millisecond'`
  return `(
    select count(*)::int as n,
           extract(epoch from (coalesce(min(created_at), now()) + ${window} - now())) * 1000 as wait_ms
      from (select created_at from ${rows} and created_at > now() - ${window}
             order by created_at desc limit greatest(${count}::int, 1)) in_window)`
}

/** `rows` is `<table> where <the user's rows>`, the user's id in it `$1`. */
async function secondsUntilBelow(db: Db, rows: string, userId: string, limit: RateLimit): Promise<number> {
  if (limit.count === 0) return 0
  const [row] = (await db.$client.unsafe(
    `select w.n, w.wait_ms from ${windowSql(rows, '$2', '$3')} w`,
    [userId, limit.count, limit.windowMs],
    { prepare: true },
  )) as unknown as { n: number; wait_ms: string | number }[]
  const waitMs = row && row.n >= limit.count ? Number(row.wait_ms) : 0
  return waitMs > 0 ? Math.ceil(waitMs / 1000) : 0
}
