import { sql } from 'drizzle-orm'
import type { Db } from '../db/client.js'
import { isUniqueViolation } from '../db/errors.js'
import { isoTimestamp, type RowOf } from '../db/sql.js'
import type { LobbyRoom, Room } from '../wire.js'
import { type Viewer, visibleTo } from './access.js'
import { ChatError } from './errors.js'

// message_count counts rows (a hand-deleted message leaves a hole in seq); both
// subqueries are index scans on (room_id, seq).
const roomColumns = sql`
  r.id, r.name, r.visibility, r.created_by, ${isoTimestamp('r.created_at')} as created_at, r.last_seq,
  (select count(*) from messages m where m.room_id = r.id)::int as message_count,
  (select ${isoTimestamp('m.created_at')} from messages m where m.room_id = r.id order by m.seq desc limit 1) as last_message_at`

/** The one mapper from a room row (roomColumns) to its JSON. */
function toRoom(row: RowOf<Room>): Room {
  return {
    ...row,
    id: Number(row.id),
    last_seq: Number(row.last_seq),
    message_count: Number(row.message_count),
  }
}

/** The rooms the viewer may read, most recently active first (rooms without messages by creation). */
export async function listRooms(db: Db, viewer: Viewer): Promise<LobbyRoom[]> {
  // Unread: others' messages after the viewer's read mark (own messages are never unread).
  const rows = await db.execute<RowOf<LobbyRoom>>(sql`
    select ${roomColumns},
      (select count(*) from messages m
        where m.room_id = r.id and m.user_id <> ${viewer.userId}
          and m.seq > coalesce((select rr.last_read_seq from room_reads rr
                                where rr.room_id = r.id and rr.user_id = ${viewer.userId}), 0))::int as unread_count
    from rooms r
    where ${visibleTo(viewer)}
    order by coalesce((select max(m.created_at) from messages m where m.room_id = r.id), r.created_at) desc, r.id desc`)
  return rows.map((row) => ({ ...toRoom(row), unread_count: Number(row.unread_count) }))
}

/** Anything that can run a statement: the pool or a transaction. */
type Executor = Pick<Db, 'execute'>

export async function getRoom(db: Executor, id: number): Promise<Room | undefined> {
  if (!Number.isSafeInteger(id)) return undefined
  const rows = await db.execute<RowOf<Room>>(sql`select ${roomColumns} from rooms r where r.id = ${id}`)
  return rows[0] && toRoom(rows[0])
}

export interface NewRoom {
  name: string
  createdBy: string
  visibility: 'public' | 'private'
}

/** Creates a room with its creator as owner, in one statement (no transaction on the shared pool). */
export async function createRoom(db: Db, input: NewRoom): Promise<Room> {
  try {
    const rows = await db.execute<RowOf<Room>>(sql`
      with r as (
        insert into rooms (name, created_by, visibility)
        values (${input.name}, ${input.createdBy}, ${input.visibility})
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
