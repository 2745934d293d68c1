import type { Logger } from 'pino'
import type { Sql } from 'postgres'
import { repeatEvery } from '../repeat.js'

export interface RetentionOptions {
  sql: Sql
  logger: Logger
  /** Changes, user events, room log entries, mentions, audit entries and resolved reports older than this are deleted. */
  retentionMs: number
  /** Webhook delivery attempts older than this are deleted (default: retentionMs). */
  webhookLogMs?: number
  /** How often the sweep runs. */
  everyMs: number
  /** Rows deleted per statement. */
  batch?: number
}

export type Retention = ReturnType<typeof createRetention>

/** What one sweep deleted, by table. */
export interface SweepCounts {
  changes: number
  userEvents: number
  mentions: number
  rateBuckets: number
  streamTickets: number
  roomLog: number
  webhookDeliveries: number
  auditEntries: number
  reports: number
  restrictions: number
  postMarks: number
}

// Each statement deletes at most `batch` rows, picked with SKIP LOCKED, so it never holds
// many locks for long and instances sweeping at once take different rows instead of
// queueing on each other. A table is swept until a batch comes back short.

// A room's pruned cursor moves in the transaction that deletes its changes, so a resuming
// stream that reads it after reading the changes knows whether its page was complete. The
// rooms are locked in id order, as writers lock them, so a sweep never deadlocks a post.
const DELETE_CHANGES = `
  with doomed as (
    select room_id, cursor from message_changes
     where created_at < now() - $1 * interval '1 millisecond'
     order by created_at limit $2 for update skip locked
  ), gone as (
    delete from message_changes c using doomed d
     where c.room_id = d.room_id and c.cursor = d.cursor
    returning c.room_id, c.cursor
  )
  select room_id as id, max(cursor) as cursor, count(*) as n from gone group by room_id`

const MARK_ROOMS = `
  with locked as (
    select r.id from rooms r where r.id = any($1::bigint[]) order by r.id for update
  )
  update rooms r set pruned_cursor = greatest(r.pruned_cursor, t.cursor)
    from unnest($1::bigint[], $2::bigint[]) as t(id, cursor)
   where r.id = t.id and r.id in (select id from locked)`

const DELETE_USER_EVENTS = `
  with doomed as (
    select user_id, cursor from user_events
     where created_at < now() - $1 * interval '1 millisecond'
     order by created_at limit $2 for update skip locked
  ), gone as (
    delete from user_events e using doomed d
     where e.user_id = d.user_id and e.cursor = d.cursor
    returning e.user_id, e.cursor
  )
  select user_id as id, max(cursor) as cursor, count(*) as n from gone group by user_id`

// Feeds are locked in user id order, as the event triggers lock them (sql/user-events.sql).
const MARK_FEEDS = `
  with locked as (
    select f.user_id from user_feeds f where f.user_id = any($1::text[]) order by f.user_id for update
  )
  update user_feeds f set pruned_cursor = greatest(f.pruned_cursor, t.cursor)
    from unnest($1::text[], $2::bigint[]) as t(user_id, cursor)
   where f.user_id = t.user_id and f.user_id in (select user_id from locked)`

// Mentions are walked from the oldest message id on: ids grow with time, so once the
// oldest batch holds no message older than the window there is nothing more to find. (An
// id taken by a transaction that committed late may hold older ones back a moment.)
const DELETE_MENTIONS = `
  with oldest as (
    select user_id, message_id from message_mentions
     order by message_id limit $2 for update skip locked
  )
  delete from message_mentions x
   using oldest o join messages m on m.id = o.message_id
   where x.user_id = o.user_id and x.message_id = o.message_id
     and (m.created_at < now() - $1 * interval '1 millisecond' or m.deleted_at is not null)`

// Every limit's window is at most a day: a bucket idle that long is full again, which is
// what a missing bucket is.
const DELETE_RATE_BUCKETS = `
  delete from rate_buckets b using (
    select user_id, action from rate_buckets where at < now() - interval '1 day'
     order by at limit $1 for update skip locked) o
   where b.user_id = o.user_id and b.action = o.action`

const DELETE_STREAM_TICKETS = `
  delete from stream_tickets where hash in (
    select hash from stream_tickets where expires_at <= now()
     order by expires_at limit $1 for update skip locked)`

// The room log (sql/room-log.sql) and the webhook delivery log: only webhooks read them, and
// a webhook lane that fell behind the window goes on from what is left.
const DELETE_ROOM_LOG = `
  delete from room_log l using (
    select room_id, cursor from room_log where created_at < now() - $1 * interval '1 millisecond'
     order by created_at limit $2 for update skip locked) o
   where l.room_id = o.room_id and l.cursor = o.cursor`

const DELETE_WEBHOOK_DELIVERIES = `
  delete from webhook_deliveries where id in (
    select id from webhook_deliveries where created_at < now() - $1 * interval '1 millisecond'
     order by created_at limit $2 for update skip locked)`

// Moderation (sql/moderation.sql): audit entries and resolved reports are kept for the
// window like changes; an open report waits for a moderator however old it is. Bans and
// mutes that ended and slow mode's slots older than its longest interval (six hours) are
// over already: deleting them changes no answer, and lifting a ban that ended is not
// audited.
const DELETE_AUDIT = `
  delete from moderation_log where id in (
    select id from moderation_log where created_at < now() - $1 * interval '1 millisecond'
     order by created_at limit $2 for update skip locked)`

const DELETE_REPORTS = `
  delete from room_reports where id in (
    select id from room_reports where resolved_at < now() - $1 * interval '1 millisecond'
     order by resolved_at limit $2 for update skip locked)`

const deleteEnded = (table: string) => `
  delete from ${table} x using (
    select room_id, user_id from ${table} where not parley_in_force(until)
     order by until limit $1 for update skip locked) o
   where x.room_id = o.room_id and x.user_id = o.user_id`

const DELETE_POST_MARKS = `
  delete from room_post_marks x using (
    select room_id, user_id from room_post_marks where posted_at < now() - interval '1 day'
     order by posted_at limit $1 for update skip locked) o
   where x.room_id = o.room_id and x.user_id = o.user_id`

type Pruned = { id: string; cursor: string; n: string }

/**
 * Keeps the tables that grow with use within the retention window: changes and user
 * events (a stream resuming from before what is kept is told to reload), mentions of old
 * messages, idle rate-limit buckets, expired stream tickets, and moderation's audit log,
 * resolved reports, ended bans and mutes and stale slow-mode slots. user_feeds rows stay:
 * a user's cursor must never start again from 0.
 */
export function createRetention({
  sql,
  logger,
  retentionMs,
  webhookLogMs = retentionMs,
  everyMs,
  batch = 1_000,
}: RetentionOptions) {
  let running: Promise<SweepCounts> | undefined
  let stopped = false

  /** Runs `statement` until a batch comes back short; the rows it deleted. */
  async function drain(statement: () => Promise<number>): Promise<number> {
    let total = 0
    for (;;) {
      const n = await statement()
      total += n
      if (n < batch || stopped) return total
    }
  }

  /** A batch of changes or events, and the pruned cursors of their rooms or users, in one transaction. */
  function pruneBatch(remove: string, mark: string): () => Promise<number> {
    return () =>
      sql.begin(async (tx) => {
        const pruned = (await tx.unsafe(remove, [retentionMs, batch])) as unknown as Pruned[]
        if (pruned.length === 0) return 0
        await tx.unsafe(mark, [pruned.map((row) => row.id), pruned.map((row) => row.cursor)])
        return pruned.reduce((sum, row) => sum + Number(row.n), 0)
      })
  }

  const deleted = async (statement: string, params: unknown[]) =>
    (await sql.unsafe(statement, params as never[])).count

  async function sweepOnce(): Promise<SweepCounts> {
    return {
      changes: await drain(pruneBatch(DELETE_CHANGES, MARK_ROOMS)),
      userEvents: await drain(pruneBatch(DELETE_USER_EVENTS, MARK_FEEDS)),
      mentions: await drain(() => deleted(DELETE_MENTIONS, [retentionMs, batch])),
      rateBuckets: await drain(() => deleted(DELETE_RATE_BUCKETS, [batch])),
      streamTickets: await drain(() => deleted(DELETE_STREAM_TICKETS, [batch])),
      roomLog: await drain(() => deleted(DELETE_ROOM_LOG, [retentionMs, batch])),
      webhookDeliveries: await drain(() => deleted(DELETE_WEBHOOK_DELIVERIES, [webhookLogMs, batch])),
      auditEntries: await drain(() => deleted(DELETE_AUDIT, [retentionMs, batch])),
      reports: await drain(() => deleted(DELETE_REPORTS, [retentionMs, batch])),
      restrictions:
        (await drain(() => deleted(deleteEnded('room_bans'), [batch]))) +
        (await drain(() => deleted(deleteEnded('room_mutes'), [batch]))),
      postMarks: await drain(() => deleted(DELETE_POST_MARKS, [batch])),
    }
  }

  /** One sweep of every table; a sweep already running is joined, not doubled. */
  function sweep(): Promise<SweepCounts> {
    running ??= sweepOnce().finally(() => (running = undefined))
    return running
  }

  const repeating = repeatEvery(everyMs, sweep, (error) =>
    logger.warn({ err: error }, 'retention sweep failed; retrying at the next interval'),
  )

  return {
    sweep,
    start: repeating.start,
    /** Stops scheduling and waits for a sweep in progress to end its current batch. */
    async stop(): Promise<void> {
      stopped = true
      await repeating.stop()
      await running?.catch(() => {})
    },
  }
}
