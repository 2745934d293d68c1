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
  role: RoomRole | null
  canManage: boolean
}

// Prepared: every request to a room runs this.
const accessStatement = preparedPerDb((db: Db) =>
  db
    .select({ visibility: rooms.visibility, role: roomMembers.role })
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

const inFlight = new WeakMap<Db, Map<string, Promise<AccessRow | undefined>>>()

/**
 * The room's visibility and the user's role in it, shared by the same question asked again
 * while it is being answered: a reconnect storm asks it once per (room, user), not once
 * per stream. A shared answer may predate the asking, so only a caller that asks again
 * afresh before it reveals anything may take one (see readableRoom).
 */
function sharedRoomAndRole(db: Db, roomId: number, userId: string): Promise<AccessRow | undefined> {
  let pending = inFlight.get(db)
  if (!pending) inFlight.set(db, (pending = new Map()))
  const key = `${roomId}\0${userId}`
  let answer = pending.get(key)
  if (!answer) {
    const asked = pending
    answer = roomAndRole(db, roomId, userId).finally(() => asked.delete(key))
    asked.set(key, answer)
  }
  return answer
}

/**
 * The viewer's access to a room, or undefined when the room does not exist or is private
 * and the viewer is neither a member nor an admin: callers answer both with the same 404,
 * so a private room's existence does not leak.
 *
 * With `shared`, the answer may come from the same question already being answered, and
 * so may predate a removal: only the stream's opening takes it, because the hub asks again
 * afresh before it writes anything of a private room.
 */
export async function readableRoom(
  db: Db,
  roomId: number,
  viewer: Viewer,
  { shared = false } = {},
): Promise<RoomAccess | undefined> {
  if (!Number.isSafeInteger(roomId)) return undefined
  const row = await (shared ? sharedRoomAndRole : roomAndRole)(db, roomId, viewer.userId)
  if (!row) return undefined
  if (row.visibility === 'private' && !row.role && !viewer.isAdmin) return undefined
  return {
    roomId,
    visibility: row.visibility,
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
