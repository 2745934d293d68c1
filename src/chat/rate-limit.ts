import type { Db } from '../db/client.js'
import { ChatError } from './errors.js'

export interface RateLimit {
  /** How many at once, and how many per window; 0 turns the limit off. */
  count: number
  windowMs: number
}

/** What a per-user limit counts: each is a bucket of its own. */
export type RateAction =
  'post' | 'change' | 'room' | 'member' | 'ticket' | 'webhook' | 'report' | 'moderation'

export interface Grant {
  /** How many of those asked for may go ahead. */
  granted: number
  /** When fewer than asked: the seconds until the next one may. */
  waitSeconds: number
}

// A token bucket per (user, action) in rate_buckets: it holds up to `count` tokens and
// refills at count / window, so a user may do `count` at once and then one every
// window / count. Taking is one upsert: ON CONFLICT DO UPDATE locks the bucket's row and
// computes from its latest committed state, so concurrent takes of one user, from one
// instance or several, queue on that row and never grant more than the bucket holds.
// A new bucket starts full. The proposed row's `granted` carries what is asked (at most
// `count`); the stored `granted` is what this take got, for RETURNING.
const REFILLED = `least($3::float8, b.tokens + greatest(0, extract(epoch from now() - b.at)) * 1000 * $3 / $4)`
const TAKE = `
  insert into rate_buckets as b (user_id, action, tokens, granted, at)
  select t.user_id, $2, $3::float8 - least(t.n, $3), least(t.n, $3), now()
    from json_to_recordset($1::text::json) as t(user_id text, n int)
  on conflict (user_id, action) do update
     set tokens = ${REFILLED} - least(excluded.granted, floor(${REFILLED})::int),
         granted = least(excluded.granted, floor(${REFILLED})::int),
         at = greatest(b.at, now())
  returning b.user_id, b.granted, b.tokens`

/**
 * Takes `n` tokens of `action` for each user, or as many as their buckets hold; says per
 * user how many were granted and, when not all, how long until the next one.
 */
export async function takeTokens(
  db: Db,
  action: RateAction,
  asks: { userId: string; n: number }[],
  limit: RateLimit,
): Promise<Map<string, Grant>> {
  const grants = new Map<string, Grant>()
  if (limit.count === 0) {
    for (const { userId, n } of asks) grants.set(userId, { granted: n, waitSeconds: 0 })
    return grants
  }
  const json = JSON.stringify(asks.map(({ userId, n }) => ({ user_id: userId, n })))
  const rows = (await db.$client.unsafe(TAKE, [json, action, limit.count, limit.windowMs], {
    prepare: true,
  })) as unknown as { user_id: string; granted: number; tokens: number }[]
  const perToken = limit.windowMs / limit.count
  for (const row of rows) {
    const asked = asks.find((ask) => ask.userId === row.user_id)?.n ?? 0
    const waitMs = row.granted < asked ? (1 - row.tokens) * perToken : 0
    grants.set(row.user_id, { granted: row.granted, waitSeconds: waitMs > 0 ? Math.ceil(waitMs / 1000) : 0 })
  }
  return grants
}

/** Takes one token of `action` for `userId`, or refuses with `rate_limited` and the wait. */
export async function requireToken(
  db: Db,
  action: RateAction,
  userId: string,
  limit: RateLimit,
  message: string,
): Promise<void> {
  const grant = (await takeTokens(db, action, [{ userId, n: 1 }], limit)).get(userId)
  if (grant && grant.granted < 1) {
    const wait = Math.max(1, grant.waitSeconds)
    throw new ChatError('rate_limited', `${message}; try again in ${wait} s`, wait)
  }
}

/** An hourly quota (ROOMS_PER_HOUR and the like) as a bucket. */
export const perHour = (count: number): RateLimit => ({ count, windowMs: 3_600_000 })

/** Refuses with `rate_limited` when `userId` has created `perHour` rooms (direct messages included) lately. */
export function requireRoomAllowed(db: Db, userId: string, roomsPerHour: number): Promise<void> {
  return requireToken(db, 'room', userId, perHour(roomsPerHour), 'Too many new rooms')
}
