import { type SQL, sql } from 'drizzle-orm'
import type { Db } from '../db/client.js'
import { isUniqueViolation } from '../db/errors.js'
import { isoTimestamp, type RowOf } from '../db/sql.js'
import type { LobbyRoom, Room } from '../wire.js'
import { readableRooms, type Viewer } from './access.js'
import { ChatError } from './errors.js'

// Every figure is a column the message triggers keep (sql/messages.sql): reading a room
// never counts its messages, whatever their number.
const roomColumns = sql`
  r.id, r.name, r.visibility, r.kind, r.created_by, ${isoTimestamp('r.created_at')} as created_at, r.last_seq,
  r.message_count, ${isoTimestamp('r.last_message_at')} as last_message_at, r.last_cursor as cursor,
  r.slow_mode_seconds`

/** The one mapper from a room row (roomColumns) to its JSON. */
function toRoom(row: RowOf<Room>): Room {
  return {
    id: Number(row.id),
    name: row.name,
    visibility: row.visibility,
    kind: row.kind,
    created_by: row.created_by,
    created_at: row.created_at,
    last_seq: Number(row.last_seq),
    message_count: Number(row.message_count),
    last_message_at: row.last_message_at,
    cursor: Number(row.cursor),
    slow_mode_seconds: Number(row.slow_mode_seconds),
  }
}

/** Where a page of the lobby starts: after the room of this activity time and id. */
export interface LobbyCursor {
  /** The room's last activity, to the microsecond, as PostgreSQL wrote it. */
  activity: string
  id: number
}

const CURSOR = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z)\|([1-9]\d{0,15})$/

export function encodeLobbyCursor(cursor: LobbyCursor): string {
  return Buffer.from(`${cursor.activity}|${cursor.id}`).toString('base64url')
}

/** The cursor an earlier page handed out, or undefined when `text` is not one. */
export function parseLobbyCursor(text: string): LobbyCursor | undefined {
  const match = CURSOR.exec(Buffer.from(text, 'base64url').toString('utf8'))
  if (!match || encodeLobbyCursor({ activity: match[1]!, id: Number(match[2]) }) !== text) return undefined
  return { activity: match[1]!, id: Number(match[2]) }
}

export interface LobbyPage {
  limit: number
  after?: LobbyCursor
  /** Only rooms whose name contains this, ignoring case. */
  q?: string
  /** Only rooms of this kind. */
  kind?: 'room' | 'dm'
}

const activity = sql.raw('coalesce(r.last_message_at, r.created_at)')

/**
 * A user's unread_count and mention_count of room `r`, whose read mark is `rr` (left
 * joined): the one definition the lobby and the user stream share.
 *
 * Unread is others' messages after the read mark. Posting moves the author's mark to their
 * message (sql/messages.sql), so none of the user's own messages is after it, and in a room
 * without holes in seq (message_count = last_seq) that is last_seq − mark. Only a room
 * whose messages were deleted by hand is counted, and only after the mark.
 */
export function unreadColumns(userId: SQL) {
  return sql`
      case when r.message_count = r.last_seq then greatest(r.last_seq - coalesce(rr.last_read_seq, 0), 0)
        else (select count(*) from messages m where m.room_id = r.id and m.user_id <> ${userId}
              and m.seq > coalesce(rr.last_read_seq, 0))
      end as unread_count,
      (select count(*) from message_mentions mm where mm.user_id = ${userId} and mm.room_id = r.id
         and mm.seq > coalesce(rr.last_read_seq, 0)) as mention_count`
}

/**
 * A page of the rooms the viewer may read, most recently active first (a room without
 * messages by its creation), with the viewer's unread and mention counts (unreadColumns),
 * and the cursor of the next page if there is one. Over shards, each is asked for the same
 * page and the pages are merged: (activity, id) orders rooms the same way on every shard,
 * and room ids are unique across them, so one cursor resumes them all.
 */
export async function listRooms(dbs: Db | Db[], viewer: Viewer, page: LobbyPage) {
  const pages = await Promise.all([dbs].flat().map((db) => lobbyRows(db, viewer, page)))
  const rows = pages.flat().sort((a, b) => compareDesc(a.activity, b.activity) || b.id - a.id)
  const rooms = rows.slice(0, page.limit).map(({ activity: _, ...room }) => room)
  const last = rows.length > page.limit ? rows[page.limit - 1] : undefined
  const nextCursor = last ? encodeLobbyCursor({ activity: last.activity, id: last.id }) : null
  return { rooms, nextCursor }
}

/** Timestamps as lobbyRows writes them (fixed width, UTC) order as their text does. */
const compareDesc = (a: string, b: string) => (a < b ? 1 : a > b ? -1 : 0)

/** One database's part of a lobby page: up to `limit + 1` rooms after the cursor, with their activity. */
async function lobbyRows(db: Db, viewer: Viewer, page: LobbyPage) {
  const after = page.after
    ? sql`and (${activity}, r.id) < (${page.after.activity}::timestamptz, ${page.after.id})`
    : sql``
  const named = page.q ? sql`and r.name ilike ${`%${page.q.replace(/[\\%_]/g, '\\$&')}%`}` : sql``
  // Direct messages are listed to their two people only, admins included, and found from
  // the caller's memberships, so listing them costs what the caller belongs to, not what
  // the database holds.
  const mine = sql`r.id in (select room_id from room_members where user_id = ${viewer.userId})`
  const ofKind =
    page.kind === 'dm'
      ? sql`and r.kind = 'dm' and ${mine}`
      : page.kind === 'room'
        ? sql`and r.kind = 'room'`
        : sql`and (r.kind = 'room' or ${mine})`
  const rows = await db.execute<
    RowOf<Omit<LobbyRoom, 'other_user'>> & {
      activity: string
      other_id: string | null
      other_name: string | null
    }
  >(sql`
    select ${roomColumns},
      to_char(${activity} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as activity,
      ${unreadColumns(sql`${viewer.userId}`)},
      other.user_id as other_id, coalesce(other.user_name, other.user_id) as other_name
    from ${readableRooms(viewer)} r
    left join room_reads rr on rr.room_id = r.id and rr.user_id = ${viewer.userId}
    left join room_members other on r.kind = 'dm' and other.room_id = r.id
      and other.user_id = case when r.dm_low = ${viewer.userId} then r.dm_high else r.dm_low end
    where true ${after} ${named} ${ofKind}
    order by ${activity} desc, r.id desc
    limit ${page.limit + 1}`)
  return rows.map((row) => ({
    ...toRoom(row),
    unread_count: Number(row.unread_count),
    mention_count: Number(row.mention_count),
    other_user:
      row.other_id === null ? null : { user_id: row.other_id, user_name: row.other_name ?? row.other_id },
    activity: row.activity,
  }))
}

export async function getRoom(db: Db, id: number): Promise<Room | undefined> {
  if (!Number.isSafeInteger(id)) return undefined
  const rows = await db.execute<RowOf<Room>>(sql`select ${roomColumns} from rooms r where r.id = ${id}`)
  return rows[0] && toRoom(rows[0])
}

export interface NewRoom {
  name: string
  createdBy: string
  visibility: 'public' | 'private'
}

/**
 * Creates a room with its creator as owner, in one statement (no transaction on the shared
 * pool); with the id the catalog gave it when rooms are spread over shards.
 */
export async function createRoom(db: Db, input: NewRoom & { id?: number }): Promise<Room> {
  const id = input.id === undefined ? sql`default` : sql`${input.id}`
  try {
    const rows = await db.execute<RowOf<Room>>(sql`
      with r as (
        insert into rooms (id, name, created_by, visibility)
        values (${id}, ${input.name}, ${input.createdBy}, ${input.visibility})
        returning *),
      owner as (
        insert into room_members (room_id, user_id, role) select id, created_by, 'owner' from r)
      select ${roomColumns} from r`)
    const row = rows[0]
    if (!row) throw new Error('insert returned no row')
    return toRoom(row)
  } catch (error) {
    if (isUniqueViolation(error)) throw new ChatError('name_taken', `A room named "${input.name}" exists`)
    throw error
  }
}

/** Creates the `general` room on an empty database, so a first start has somewhere to talk. */
export async function ensureDefaultRoom(db: Db): Promise<void> {
  await db.execute(sql`insert into rooms (name, created_by)
    select 'general', 'parley' where not exists (select 1 from rooms)
    on conflict do nothing`)
}
