import { and, asc, eq, sql } from 'drizzle-orm'
import type { Db } from '../db/client.js'
import { type MemberRow, roomMembers } from '../db/schema.js'
import type { Member, RoomRole } from '../wire.js'
import { actedBy } from './actor.js'

export const toMember = (row: Pick<MemberRow, 'userId' | 'role' | 'addedAt'>): Member => ({
  user_id: row.userId,
  role: row.role,
  added_at: row.addedAt.toISOString(),
})

export function listMembers(db: Db, roomId: number) {
  return db
    .select()
    .from(roomMembers)
    .where(eq(roomMembers.roomId, roomId))
    .orderBy(asc(roomMembers.addedAt), asc(roomMembers.userId))
}

/**
 * Adds `userId` with `role`, or gives an existing member that role (`created: false`), in
 * one statement that names `actor` for the audit log (appointing and dismissing moderators).
 */
export async function putMember(db: Db, roomId: number, userId: string, role: RoomRole, actor: string) {
  const rows = await db.execute<{ user_id: string; role: RoomRole; added_at: string; created: boolean }>(sql`
    insert into room_members as m (room_id, user_id, role)
    select ${roomId}, ${userId}, ${role} from ${actedBy(actor)}
    on conflict (room_id, user_id) do update set role = excluded.role
    -- xmax = 0 only on a row this statement inserted, not on one it updated.
    returning m.user_id, m.role, m.added_at, xmax = 0 as created`)
  const row = rows[0]
  if (!row) throw new Error('upsert returned no row')
  return {
    member: { userId: row.user_id, role: row.role, addedAt: new Date(row.added_at) },
    created: row.created,
  }
}

/** Adds `userId` as a member unless it already belongs to the room (then `created: false`). */
export async function joinRoom(db: Db, roomId: number, userId: string) {
  const [inserted] = await db
    .insert(roomMembers)
    .values({ roomId, userId, role: 'member' })
    .onConflictDoNothing()
    .returning()
  if (inserted) return { member: inserted, created: true }
  const [existing] = await db
    .select()
    .from(roomMembers)
    .where(and(eq(roomMembers.roomId, roomId), eq(roomMembers.userId, userId)))
  if (!existing) throw new Error('membership vanished while joining')
  return { member: existing, created: false }
}

/** Removes a member; the database trigger tells every instance to close its streams. */
export async function removeMember(db: Db, roomId: number, userId: string): Promise<boolean> {
  const deleted = await db
    .delete(roomMembers)
    .where(and(eq(roomMembers.roomId, roomId), eq(roomMembers.userId, userId)))
    .returning({ userId: roomMembers.userId })
  return deleted.length > 0
}
