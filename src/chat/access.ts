import { and, eq, sql } from 'drizzle-orm'
import type { Db } from '../db/client.js'
import { roomMembers, rooms } from '../db/schema.js'
import { preparedPerDb } from '../db/sql.js'
import type { RoomRole } from '../wire.js'

/** Who is asking: the token's user and whether it is an admin. */
export interface Viewer {
  userId: string
  isAdmin: boolean
}

export interface RoomAccess {
  roomId: number
  visibility: 'public' | 'private'
  kind: 'room' | 'dm'
  role: RoomRole | null
  canManage: boolean
}

// Prepared: every request to a room runs this.
const accessStatement = preparedPerDb((db: Db) =>
  db
    .select({ visibility: rooms.visibility, kind: rooms.kind, role: roomMembers.role })
    .from(rooms)
    .leftJoin(
      roomMembers,
      and(eq(roomMembers.roomId, rooms.id), eq(roomMembers.userId, sql.placeholder('userId'))),
    )
    .where(eq(rooms.id, sql.placeholder('roomId')))
    .prepare('parley_room_access'),
)

async function roomAndRole(db: Db, roomId: number, userId: string): Promise<AccessRow | undefined> {
  const rows = await accessStatement(db).execute({ roomId, userId })
  return rows[0]
}

type AccessRow = Awaited<ReturnType<ReturnType<typeof accessStatement>['execute']>>[number]

interface Batch {
  questions: Map<string, { roomId: number; userId: string }>
  answer: Promise<Map<string, AccessRow>>
}

const batches = new WeakMap<Db, Batch>()
const MAX_BATCH = 5_000
// Long enough to gather a burst of connections, short beside a stream's setup.
const BATCH_WAIT_MS = 5

/**
 * The room's visibility and the user's role in it, asked together with every other such
 * question of the same tick in one query: a reconnect storm of thousands of streams costs
 * a few queries, not one per stream. The query is sent after everyone in the batch asked,
 * so no answer predates its question; still only the stream's opening uses it (see
 * readableRoom), since the hub asks a private room's access afresh anyway.
 */
async function batchedRoomAndRole(db: Db, roomId: number, userId: string): Promise<AccessRow | undefined> {
  const key = `${roomId}\0${userId}`
  let batch = batches.get(db)
  // Two parameters a question, and PostgreSQL takes at most 65,535 in one statement.
  if (!batch || batch.questions.size >= MAX_BATCH) {
    const questions = new Map<string, { roomId: number; userId: string }>()
    const answer = new Promise<void>((resolve) => setTimeout(resolve, BATCH_WAIT_MS)).then(async () => {
      if (batches.get(db) === current) batches.delete(db)
      const asked = [...questions.values()]
      const pairs = sql.join(
        asked.map((q) => sql`(${q.roomId}::bigint, ${q.userId}::text)`),
        sql`, `,
      )
      const rows = await db.execute<{ room_id: string; user_id: string } & AccessRow>(sql`
        select t.room_id, t.user_id, r.visibility, r.kind, m.role
        from (values ${pairs}) as t(room_id, user_id)
        join rooms r on r.id = t.room_id
        left join room_members m on m.room_id = t.room_id and m.user_id = t.user_id`)
      return new Map(
        rows.map((row) => [
          `${row.room_id}\0${row.user_id}`,
          { visibility: row.visibility, kind: row.kind, role: row.role },
        ]),
      )
    })
    const current: Batch = { questions, answer }
    batch = current
    batches.set(db, batch)
  }
  batch.questions.set(key, { roomId, userId })
  return (await batch.answer).get(key)
}

/**
 * The viewer's access to a room, or undefined when the room does not exist or is private
 * and the viewer is neither a member nor an admin: callers answer both with the same 404,
 * so a private room's existence does not leak.
 *
 * With `shared`, the question is asked in one query with the others of the same tick.
 */
export async function readableRoom(
  db: Db,
  roomId: number,
  viewer: Viewer,
  { shared = false } = {},
): Promise<RoomAccess | undefined> {
  if (!Number.isSafeInteger(roomId)) return undefined
  const row = await (shared ? batchedRoomAndRole : roomAndRole)(db, roomId, viewer.userId)
  if (!row) return undefined
  if (row.visibility === 'private' && !row.role && !viewer.isAdmin) return undefined
  return {
    roomId,
    visibility: row.visibility,
    kind: row.kind,
    role: row.role,
    canManage: row.role === 'owner' || viewer.isAdmin,
  }
}

/** The SQL condition "the viewer may read room r", for lists. */
export function visibleTo(viewer: Viewer) {
  if (viewer.isAdmin) return sql`true`
  return sql`(r.visibility = 'public' or exists (
    select 1 from room_members m where m.room_id = r.id and m.user_id = ${viewer.userId}))`
}
