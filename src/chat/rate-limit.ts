import { sql } from 'drizzle-orm'
import type { Db } from '../db/client.js'

export interface RateLimit {
  messages: number
  windowMs: number
}

/**
 * How long `userId` must wait before posting again, in seconds, or 0 if they may post now.
 * The user's own recent messages are the record, so every instance sees the same count
 * without any extra state; concurrent posts of one user may overshoot by their number.
 */
export async function secondsUntilAllowed(db: Db, userId: string, limit: RateLimit): Promise<number> {
  if (limit.messages === 0) return 0
  const rows = await db.execute<{ wait_ms: number | null }>(sql`
    select extract(epoch from (min(created_at) + ${limit.windowMs} * interval '1 millisecond' - now())) * 1000 as wait_ms
    from (
      select created_at from messages
      where user_id = ${userId} and created_at > now() - ${limit.windowMs} * interval '1 millisecond'
      order by created_at desc
      limit ${limit.messages}
    ) recent
    having count(*) >= ${limit.messages}`)
  const waitMs = Number(rows[0]?.wait_ms ?? 0)
  return waitMs > 0 ? Math.ceil(waitMs / 1000) : 0
}
