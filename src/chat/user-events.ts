import { sql } from 'drizzle-orm'
import type { Db } from '../db/client.js'
import type { UserEventData, UserEventName } from '../wire.js'
import { readableRooms, type Viewer } from './access.js'
import { type MessageRecord, messageColumns, toMessage } from './messages.js'
import { REPORT_COLUMNS, type ReportRow, toReport } from './reports.js'
import { unreadColumns } from './rooms.js'

/** One of a user's events as their stream sends it: `id:` its cursor. */
export type UserEvent = {
  [Name in UserEventName]: { cursor: number; event: Name; data: UserEventData<Name> }
}[UserEventName]

type EventRow = { [K in keyof MessageRecord]: MessageRecord[K] | null } & {
  pruned_cursor: string
  last_cursor: string
  cursor: string | null
  kind: UserEventName
  event_room_id: string | null
  event_seq: string | null
  webhook_id: string | null
  room_name: string | null
  room_kind: 'room' | 'dm' | null
  readable: boolean
  /** For a report: the report as it is now, when the viewer still moderates the room. */
  report: ReportRow | null
}

/** The user's newest event cursor, and the newest the retention sweep deleted. */
export async function userFeedCursors(db: Db, userId: string): Promise<{ last: number; pruned: number }> {
  const rows = await db.execute<{ last_cursor: string; pruned_cursor: string }>(
    sql`select last_cursor, pruned_cursor from user_feeds where user_id = ${userId}`,
  )
  return { last: Number(rows[0]?.last_cursor ?? 0), pruned: Number(rows[0]?.pruned_cursor ?? 0) }
}

/**
 * Why the events after `after` cannot be read from a feed with these cursors: deleted by
 * the retention sweep, or `after` is beyond every event it holds. Undefined when they can.
 */
export function unreadableAfter(
  after: number,
  feed: { last: number; pruned: number },
): 'cursor_too_old' | 'history_changed' | undefined {
  if (feed.pruned > after) return 'cursor_too_old'
  if (after > feed.last) return 'history_changed'
  return undefined
}

/**
 * Which of a database's user events a feed reads: all of them on one database; over shards,
 * a shard's are of its rooms, and DATABASE_URL's own are the user's own (a webhook disabled),
 * so a database that is both reads each event once.
 */
export type UserEventKinds = 'all' | 'rooms' | 'own'

export type UserEventPage =
  | { tooOld: false; events: UserEvent[]; reached: number; more: boolean }
  /**
   * The events after `after` cannot be read: deleted by the retention sweep
   * (`cursor_too_old`), or `after` is beyond every event the database holds, its history
   * having gone back in a failover (`history_changed`). The user's cursor is `present`.
   */
  | { tooOld: true; reason: 'cursor_too_old' | 'history_changed'; present: number }

/**
 * The viewer's events after `after`, in cursor order, at most `limit`, and the cursor the
 * answer reaches (which passes the events it leaves out). The rules of the rooms hold at
 * the time of reading: a mention, a direct message or an invitation of a room the viewer
 * may no longer read is skipped, and so is a report of a room the viewer no longer
 * moderates. A removal is always told; it names only the room. The user's pruned cursor is
 * read by the same statement, so `tooOld` says whether any event the page should hold had
 * been deleted.
 */
export async function userEventsAfter(
  db: Db,
  viewer: Viewer,
  after: number,
  limit: number,
  kinds: UserEventKinds = 'all',
): Promise<UserEventPage> {
  const ofKinds = kinds === 'all' ? sql`` : sql`and (e.kind = 'webhook_disabled') = ${kinds === 'own'}`
  const rows = await db.execute<EventRow>(sql`
    select f.pruned_cursor, f.last_cursor, e.*
      from (select coalesce(max(pruned_cursor), 0) as pruned_cursor, coalesce(max(last_cursor), 0) as last_cursor
              from user_feeds where user_id = ${viewer.userId}) f
      left join lateral (
        select e.cursor, e.kind, e.room_id as event_room_id, e.seq as event_seq, e.webhook_id,
               r.name as room_name, r.kind as room_kind,
               exists (select 1 from ${readableRooms(viewer)} rr where rr.id = e.room_id) as readable,
               (select to_json(x) from (select ${REPORT_COLUMNS} from room_reports x where x.id = e.report_id) x
                 where ${viewer.isAdmin}::boolean or exists (
                   select 1 from room_members mm where mm.room_id = e.room_id and mm.user_id = ${viewer.userId}
                      and mm.role in ('owner', 'moderator'))) as report,
               ${messageColumns}
          from user_events e
          left join rooms r on r.id = e.room_id
          left join messages m on m.room_id = e.room_id and m.seq = e.seq
         where e.user_id = ${viewer.userId} and e.cursor > ${after} ${ofKinds}
         order by e.cursor
         limit ${limit}) e on true
     order by e.cursor`)
  const feed = rows[0]
  const present = Number(feed?.last_cursor ?? 0)
  const reason = unreadableAfter(after, { last: present, pruned: Number(feed?.pruned_cursor ?? 0) })
  if (reason) return { tooOld: true, reason, present }
  const found = rows.filter((row) => row.cursor !== null)
  const events: UserEvent[] = []
  for (const row of found) {
    const event = toUserEvent(row)
    if (event) events.push(event)
  }
  const last = found.at(-1)
  return { tooOld: false, events, reached: last ? Number(last.cursor) : after, more: found.length === limit }
}

function toUserEvent(row: EventRow): UserEvent | undefined {
  const cursor = Number(row.cursor)
  if (row.kind === 'webhook_disabled')
    return { cursor, event: row.kind, data: { webhook_id: Number(row.webhook_id) } }
  const roomId = Number(row.event_room_id)
  if (row.kind === 'removed') return { cursor, event: 'removed', data: { room_id: roomId } }
  if (!row.readable || row.room_name === null || row.room_kind === null) return undefined
  const room = { id: roomId, name: row.room_name, kind: row.room_kind }
  if (row.kind === 'added') return { cursor, event: 'added', data: { room } }
  if (row.kind === 'report') {
    return row.report ? { cursor, event: 'report', data: { room, report: toReport(row.report) } } : undefined
  }
  if (row.id === null) return undefined
  const message = toMessage(row as MessageRecord)
  return { cursor, event: row.kind, data: { room, message } }
}

/** The rooms `userId` is a member of: those whose unread counts their stream follows. */
export async function memberRooms(db: Db, userId: string): Promise<number[]> {
  const rows = await db.execute<{ room_id: string }>(
    sql`select room_id from room_members where user_id = ${userId}`,
  )
  return rows.map((row) => Number(row.room_id))
}

export interface UnreadCounts {
  roomId: number
  userId: string
  unreadCount: number
  mentionCount: number
}

/** The unread and mention counts of each (room, user) pair, in one query. */
export async function unreadCounts(
  db: Db,
  pairs: { roomId: number; userId: string }[],
): Promise<UnreadCounts[]> {
  if (pairs.length === 0) return []
  const rows = await db.execute<{
    room_id: string
    user_id: string
    unread_count: string
    mention_count: string
  }>(sql`
    select t.room_id, t.user_id, ${unreadColumns(sql.raw('t.user_id'))}
      from json_to_recordset(${JSON.stringify(pairs.map((pair) => ({ room_id: pair.roomId, user_id: pair.userId })))}::text::json)
             as t(room_id bigint, user_id text)
      join rooms r on r.id = t.room_id
      left join room_reads rr on rr.room_id = t.room_id and rr.user_id = t.user_id`)
  return rows.map((row) => ({
    roomId: Number(row.room_id),
    userId: row.user_id,
    unreadCount: Number(row.unread_count),
    mentionCount: Number(row.mention_count),
  }))
}
