import { and, asc, eq, sql } from 'drizzle-orm'
import type { Db } from '../db/client.js'
import { type MemberRow, roomMembers } from '../db/schema.js'
import type { Member, RoomRole } from '../wire.js'

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

/** Adds `userId`, or sets the role of an existing member (`created: false`). */
export async function putMember(db: Db, roomId: number, userId: string, role: RoomRole) {
  const [row] = await db
    .insert(roomMembers)
    .values({ roomId, userId, role })
    .onConflictDoUpdate({ target: [roomMembers.roomId, roomMembers.userId], set: { role } })
    // xmax = 0 only on a row this statement inserted, not on one it updated.
    .returning({
      roomId: roomMembers.roomId,
      userId: roomMembers.userId,
      role: roomMembers.role,
      addedAt: roomMembers.addedAt,
      created: sql<boolean>`xmax = 0`,
    })
  if (!row) throw new Error('upsert returned no row')
  const { created, ...member } = row
  return { member, created }
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
