import type { Sql } from 'postgres'
import { fetchChangesAfter } from '../chat/changes.js'
import type { Db } from '../db/client.js'
import { isoText } from '../db/sql.js'
import { eventOfChange, eventOfLog, type Lane, type LogEntry, type WebhookEvent } from './events.js'

// The statements of delivery. A lane is one ordered queue: an endpoint's view of one room's
// change log or room log (see webhook_lanes in src/db/schema.ts). What is still to send is
// read from the room's own logs after the lane's cursor; nothing is copied into an outbox.

/** A lane an instance holds, and what it needs to deliver it. */
export interface ClaimedLane {
  endpointId: number
  roomId: number
  lane: Lane
  cursor: number
  attempts: number
  /** The claim's number: only it may move the lane's cursor. */
  lease: number
  url: string
  events: string[]
  /** The current secret first, then the previous one while a rotation's grace lasts. */
  secrets: string[]
}

// Lanes with something to send, due, not held, of enabled endpoints, in rooms their owners
// may still follow (sql/webhooks.sql). Picked with SKIP LOCKED, so instances claiming at
// once take different lanes, and held by a lease past the claim's commit.
const CLAIM = `
  with picked as (
    select l.endpoint_id, l.room_id, l.lane from webhook_lanes l
      join webhook_endpoints e on e.id = l.endpoint_id
      join rooms r on r.id = l.room_id
      left join room_log_heads h on h.room_id = l.room_id
     where e.enabled and l.next_attempt_at <= now() and l.lease_until < now()
       and l.cursor < case l.lane when 'changes' then r.last_cursor else coalesce(h.last_cursor, 0) end
       and exists (select 1 from parley_webhook_rooms(e.owner_id, e.owner_admin) f where f.id = l.room_id)
     order by l.next_attempt_at
     limit $1
     for update of l skip locked
  )
  update webhook_lanes l
     set lease_until = now() + $2 * interval '1 millisecond', lease = l.lease + 1
    from picked p, webhook_endpoints e
   where l.endpoint_id = p.endpoint_id and l.room_id = p.room_id and l.lane = p.lane and e.id = l.endpoint_id
  returning l.endpoint_id, l.room_id, l.lane, l.cursor, l.attempts, l.lease, e.url, e.events, e.secret,
            case when e.previous_secret_expires_at > now() then e.previous_secret end as previous_secret`

type ClaimRow = {
  endpoint_id: string
  room_id: string
  lane: Lane
  cursor: string
  attempts: number
  lease: string
  url: string
  events: string[]
  secret: string
  previous_secret: string | null
}

export async function claimLanes(sql: Sql, limit: number, leaseMs: number): Promise<ClaimedLane[]> {
  const rows = (await sql.unsafe(CLAIM, [limit, leaseMs], { prepare: true })) as unknown as ClaimRow[]
  return rows.map((row) => ({
    endpointId: Number(row.endpoint_id),
    roomId: Number(row.room_id),
    lane: row.lane,
    cursor: Number(row.cursor),
    attempts: row.attempts,
    lease: Number(row.lease),
    url: row.url,
    events: row.events,
    secrets: row.previous_secret ? [row.secret, row.previous_secret] : [row.secret],
  }))
}

// Endpoints that follow every room their owner manages get a lane for a room they had
// none for: one created since (from its start), or one its owner has come to manage (from
// its present).
const DISCOVER = `
  insert into webhook_lanes (endpoint_id, room_id, lane, cursor)
  select e.id, r.id, l.lane,
         case when r.created_at >= e.created_at then 0
              when l.lane = 'changes' then r.last_cursor
              else coalesce(h.last_cursor, 0) end
    from webhook_endpoints e
    cross join lateral parley_webhook_rooms(e.owner_id, e.owner_admin) r
    cross join (values ('changes'), ('log')) as l(lane)
    left join room_log_heads h on h.room_id = r.id
   where e.rooms is null and e.enabled
     and not exists (select 1 from webhook_lanes w
                      where w.endpoint_id = e.id and w.room_id = r.id and w.lane = l.lane)
  on conflict do nothing`

export async function discoverLanes(sql: Sql): Promise<number> {
  return (await sql.unsafe(DISCOVER, [], { prepare: true })).count
}

/** The rooms some enabled endpoint has a lane of: the only ones whose changes wake a claim. */
export async function followedRooms(sql: Sql): Promise<Set<number>> {
  const rows = (await sql.unsafe(
    `select distinct l.room_id from webhook_lanes l
       join webhook_endpoints e on e.id = l.endpoint_id and e.enabled`,
    [],
    { prepare: true },
  )) as unknown as { room_id: string }[]
  return new Set(rows.map((row) => Number(row.room_id)))
}

export interface LanePage {
  events: WebhookEvent[]
  /** The position the page reaches, past entries that are no event. */
  through: number
}

const LOG_AFTER = `
  select cursor, kind, user_id, role, ${isoText('created_at')} as created_at
    from room_log where room_id = $1 and cursor > $2 order by cursor limit $3`

const CHANGE_TIMES = `
  select cursor, ${isoText('created_at')} as at from message_changes where room_id = $1 and cursor = any($2::bigint[])`

/**
 * The lane's next entries after `after`, in order, as events: the room's changes as its
 * stream renders them (chat/changes.ts), with the time each happened, or its log entries.
 */
export async function readLane(db: Db, lane: ClaimedLane, after: number, limit: number): Promise<LanePage> {
  const sql = db.$client
  if (lane.lane === 'log') {
    const rows = (await sql.unsafe(LOG_AFTER, [lane.roomId, after, limit], { prepare: true })) as unknown as {
      cursor: string
      kind: string
      user_id: string
      role: string | null
      created_at: string
    }[]
    const entries: LogEntry[] = rows.map((row) => ({
      cursor: Number(row.cursor),
      kind: row.kind,
      userId: row.user_id,
      role: row.role,
      createdAt: row.created_at,
    }))
    return {
      events: entries.map((entry) => eventOfLog(lane.roomId, entry)),
      through: entries.at(-1)?.cursor ?? after,
    }
  }
  const page = await fetchChangesAfter(db, lane.roomId, after, { rows: limit, bytes: 1024 * 1024 })
  // A new message carries its time; the other changes' times are read, only when there are any.
  const others = page.changes.filter((change) => change.event !== 'message').map((change) => change.cursor)
  const rows =
    others.length === 0
      ? []
      : ((await sql.unsafe(CHANGE_TIMES, [lane.roomId, others] as never[], { prepare: true })) as unknown as {
          cursor: string
          at: string
        }[])
  const times = new Map(rows.map((row) => [Number(row.cursor), row.at]))
  const now = new Date().toISOString()
  return {
    events: page.changes.map((change) => {
      const at = change.event === 'message' ? change.data.created_at : times.get(change.cursor)
      return eventOfChange(lane.roomId, change, at ?? now)
    }),
    through: page.through,
  }
}

/** One attempt at one event, as the delivery log keeps it. */
export interface AttemptRecord {
  messageId: string
  type: string
  attempt: number
  status: number | null
  latencyMs: number
  error: string | null
}

// A delivered event: the lane moves past it (unless another instance now holds it, or the
// endpoint was disabled meanwhile), the attempt is logged (unless the endpoint was deleted
// meanwhile), and the endpoint is failing no more.
// Its commit does not wait for the disk (synchronous_commit off, for this transaction only):
// a crash may lose the last moves of a cursor, and the events they passed are sent again,
// which at least once allows; waiting for the flush once per event halved the throughput.
const DELIVERED = `
  with unflushed as (
    select set_config('synchronous_commit', 'off', true)
  ), moved as (
    update webhook_lanes l
       set cursor = greatest(l.cursor, $5), attempts = 0, next_attempt_at = now(),
           lease_until = now() + $6 * interval '1 millisecond'
     where l.endpoint_id = $1 and l.room_id = $2 and l.lane = $3 and l.lease = $4
       and exists (select 1 from webhook_endpoints e where e.id = $1 and e.enabled)
    returning 1
  ), logged as (
    insert into webhook_deliveries (endpoint_id, message_id, type, room_id, attempt, status, latency_ms)
    select $1, $7, $8, $2, $9, $10, $11 from webhook_endpoints where id = $1
  ), healed as (
    update webhook_endpoints set failing_since = null where id = $1 and failing_since is not null
  )
  select count(*)::int as moved from moved, unflushed`

/** Records a delivered event; false when the lane is no longer this claim's to move. */
export async function recordDelivered(
  sql: Sql,
  lane: ClaimedLane,
  cursor: number,
  leaseMs: number,
  record: AttemptRecord,
): Promise<boolean> {
  const params = [
    lane.endpointId,
    lane.roomId,
    lane.lane,
    lane.lease,
    cursor,
    leaseMs,
    record.messageId,
    record.type,
    record.attempt,
    record.status,
    record.latencyMs,
  ]
  const [row] = (await sql.unsafe(DELIVERED, params as never[], { prepare: true })) as unknown as {
    moved: number
  }[]
  return (row?.moved ?? 0) > 0
}

// A failed attempt: the lane waits until its next attempt, and lets go; the endpoint is
// failing since its first failure after a success.
const FAILED = `
  with failed as (
    update webhook_lanes l
       set cursor = greatest(l.cursor, $5), attempts = $8,
           next_attempt_at = now() + $11 * interval '1 millisecond', lease_until = '-infinity'
     where l.endpoint_id = $1 and l.room_id = $2 and l.lane = $3 and l.lease = $4
    returning l.next_attempt_at
  ), logged as (
    insert into webhook_deliveries
           (endpoint_id, message_id, type, room_id, attempt, status, latency_ms, error, next_attempt_at)
    select $1, $6, $7, $2, $8, $9, $10, $12, (select next_attempt_at from failed)
      from webhook_endpoints where id = $1
  )
  update webhook_endpoints set failing_since = coalesce(failing_since, now()) where id = $1
  returning now() - failing_since >= $13 * interval '1 millisecond' as exhausted`

/** Records a failed attempt; whether the endpoint has now failed for `disableAfterMs`. */
export async function recordFailed(
  sql: Sql,
  lane: ClaimedLane,
  passed: number,
  retryInMs: number,
  disableAfterMs: number,
  record: AttemptRecord,
): Promise<boolean> {
  const params = [
    lane.endpointId,
    lane.roomId,
    lane.lane,
    lane.lease,
    passed,
    record.messageId,
    record.type,
    record.attempt,
    record.status,
    record.latencyMs,
    Math.round(retryInMs),
    record.error,
    disableAfterMs,
  ]
  const [row] = (await sql.unsafe(FAILED, params as never[], { prepare: true })) as unknown as {
    exhausted: boolean
  }[]
  return row?.exhausted ?? false
}

/** Lets a lane go, past what it passed over. */
export async function releaseLane(sql: Sql, lane: ClaimedLane, passed: number): Promise<void> {
  await sql.unsafe(
    `update webhook_lanes set cursor = greatest(cursor, $5), lease_until = '-infinity'
      where endpoint_id = $1 and room_id = $2 and lane = $3 and lease = $4`,
    [lane.endpointId, lane.roomId, lane.lane, lane.lease, passed] as never[],
    { prepare: true },
  )
}

/** Disables an endpoint and tells its owner (sql/webhooks.sql); false if it was disabled already. */
export async function disableEndpoint(sql: Sql, endpointId: number, reason: string): Promise<boolean> {
  const [row] = await sql<
    { disabled: boolean }[]
  >`select parley_disable_webhook(${endpointId}, ${reason}) as disabled`
  return row?.disabled ?? false
}
