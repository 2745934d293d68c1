import { sql } from 'drizzle-orm'
import type { Db } from '../db/client.js'
import { databaseErrorCode } from '../db/errors.js'
import { isoTimestamp } from '../db/sql.js'
import { roomMembers, rooms } from '../db/schema.js'
import { type Viewer, visibleTo } from './access.js'

export interface RoomView {
  id: number
  name: string
  visibility: 'public' | 'private'
  created_by: string
  created_at: string
  last_seq: number
  message_count: number
  last_message_at: string | null
}

export class RoomNameTakenError extends Error {}

// message_count counts rows (a hand-deleted message leaves a hole in seq); both
// subqueries are index scans on (room_id, seq).
const roomColumns = sql`
  r.id, r.name, r.visibility, r.created_by, ${isoTimestamp('r.created_at')} as created_at, r.last_seq,
  (select count(*) from messages m where m.room_id = r.id)::int as message_count,
  (select ${isoTimestamp('m.created_at')} from messages m where m.room_id = r.id order by m.seq desc limit 1) as last_message_at`

interface RoomRecord extends Record<string, unknown> {
  id: string | number
  name: string
  visibility: 'public' | 'private'
  created_by: string
  created_at: string
  last_seq: string | number
  message_count: number
  last_message_at: string | null
}

function toRoomView(row: RoomRecord): RoomView {
  return {
    id: Number(row.id),
    name: row.name,
    visibility: row.visibility,
    created_by: row.created_by,
    created_at: row.created_at,
    last_seq: Number(row.last_seq),
    message_count: Number(row.message_count),
    last_message_at: row.last_message_at,
  }
}

/** The rooms the viewer may read, most recently active first (rooms without messages by creation). */
export async function listRooms(db: Db, viewer: Viewer): Promise<(RoomView & { unread_count: number })[]> {
  // Unread: others' messages after the viewer's read mark (own messages are never unread).
  const rows = await db.execute<RoomRecord & { unread_count: number }>(sql`
    select ${roomColumns},
      (select count(*) from messages m
        where m.room_id = r.id and m.user_id <> ${viewer.userId}
          and m.seq > coalesce((select rr.last_read_seq from room_reads rr
                                where rr.room_id = r.id and rr.user_id = ${viewer.userId}), 0))::int as unread_count
    from rooms r
    where ${visibleTo(viewer)}
    order by coalesce((select max(m.created_at) from messages m where m.room_id = r.id), r.created_at) desc, r.id desc`)
  return rows.map((row) => ({ ...toRoomView(row), unread_count: Number(row.unread_count) }))
}

export async function getRoom(db: Db, id: number): Promise<RoomView | undefined> {
  if (!Number.isSafeInteger(id)) return undefined
  const rows = await db.execute<RoomRecord>(sql`select ${roomColumns} from rooms r where r.id = ${id}`)
  return rows[0] && toRoomView(rows[0])
}

export interface NewRoom {
  name: string
  createdBy: string
  visibility: 'public' | 'private'
}

/** Creates a room with its creator as owner, in one transaction. */
export async function createRoom(db: Db, input: NewRoom): Promise<RoomView> {
  try {
    const row = await db.transaction(async (tx) => {
      const [room] = await tx.insert(rooms).values(input).returning()
      if (!room) throw new Error('insert returned no row')
      await tx.insert(roomMembers).values({ roomId: room.id, userId: input.createdBy, role: 'owner' })
      return room
    })
    return {
      id: row.id,
      name: row.name,
      visibility: row.visibility,
      created_by: row.createdBy,
      created_at: row.createdAt.toISOString(),
      last_seq: row.lastSeq,
      message_count: 0,
      last_message_at: null,
    }
  } catch (error) {
    if (databaseErrorCode(error) === '23505') throw new RoomNameTakenError(input.name)
    throw error
  }
}

/** Creates the `general` room on an empty database, so a first start has somewhere to talk. */
export async function ensureDefaultRoom(db: Db): Promise<void> {
  await db.execute(sql`insert into rooms (name, created_by)
    select 'general', 'parley' where not exists (select 1 from rooms)
    on conflict do nothing`)
}
