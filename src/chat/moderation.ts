import { sql } from 'drizzle-orm'
import type { Db } from '../db/client.js'
import type { RoomRole } from '../wire.js'
import type { RoomAccess, Viewer } from './access.js'
import { actedBy } from './actor.js'
import { ChatError } from './errors.js'
import { getRoom } from './rooms.js'

// What a room's moderators do besides bans and mutes (restrictions.ts) and reports
// (reports.ts): dismiss moderators (appointing one is members.ts's putMember), set slow
// mode, delete someone's messages. The audit log is written by the triggers of
// sql/moderation.sql; a statement that acts names its actor (actor.ts), which they read.

/** Sets a moderator back to member; false when `userId` is not a moderator of the room. */
export async function dismissModerator(db: Db, roomId: number, userId: string, actor: string) {
  const rows = await db.execute(sql`
    update room_members m set role = 'member' from ${actedBy(actor)}
     where m.room_id = ${roomId} and m.user_id = ${userId} and m.role = 'moderator'
    returning m.user_id`)
  return rows.length > 0
}

/** The role `userId` holds in the room, or null for someone who is not a member. */
export async function roleOf(db: Db, roomId: number, userId: string): Promise<RoomRole | null> {
  const rows = await db.execute<{ role: RoomRole }>(
    sql`select role from room_members where room_id = ${roomId} and user_id = ${userId}`,
  )
  return rows[0]?.role ?? null
}

/**
 * Refuses (403) what a moderator may not do to `targetId`: act on themselves, on an owner
 * (an owner is made a member first, by another owner), or, unless they manage the room
 * (owners and admins), on another moderator.
 */
export async function requireTargetable(
  db: Db,
  access: RoomAccess,
  viewer: Viewer,
  targetId: string,
  what: string,
): Promise<void> {
  if (targetId === viewer.userId) throw new ChatError('forbidden', `You cannot ${what} yourself`)
  const role = await roleOf(db, access.roomId, targetId)
  if (role === 'owner') throw new ChatError('forbidden', `${targetId} is an owner of this room`)
  if (role === 'moderator' && !access.canManage) {
    throw new ChatError('forbidden', `Only the room's owners and admins may ${what} a moderator`)
  }
}

/** Sets the room's slow mode (0 turns it off) and answers the room. */
export async function setSlowMode(db: Db, roomId: number, seconds: number, actor: string) {
  await db.execute(sql`
    update rooms r set slow_mode_seconds = ${seconds} from ${actedBy(actor)} where r.id = ${roomId}`)
  const room = await getRoom(db, roomId)
  if (!room) throw new ChatError('room_not_found', `Room ${roomId} does not exist`)
  return room
}

/**
 * Deletes up to `limit` of `userId`'s messages in the room, oldest first, each the tombstone
 * a single delete leaves (numbered, announced, replayed), and says whether any are left.
 * The messages are locked in seq order before the first is deleted, and each delete then
 * locks the room, so the call takes its locks in the order every writer does (message rows,
 * then the room). One audit entry holds them all (sql/moderation.sql).
 */
export async function deleteUserMessages(
  db: Db,
  roomId: number,
  userId: string,
  limit: number,
  actor: string,
): Promise<{ deleted: number[]; hasMore: boolean }> {
  const rows = await db.execute<{ seq: string | null; left_before: string }>(sql`
    with doomed as materialized (
      select seq from messages
       where room_id = ${roomId} and user_id = ${userId} and deleted_at is null
       order by seq limit ${limit}
         for update
    ), left_before as (
      select count(*) as n from (
        select 1 from messages
         where room_id = ${roomId} and user_id = ${userId} and deleted_at is null
         limit ${limit + 1}) l
    ), gone as (
      update messages m set deleted_at = now()
        from doomed d, ${actedBy(actor)}
       where m.room_id = ${roomId} and m.seq = d.seq and (select count(*) from doomed) >= 0
      returning m.seq
    )
    select g.seq, l.n as left_before from left_before l left join gone g on true order by g.seq`)
  const deleted = rows.filter((row) => row.seq !== null).map((row) => Number(row.seq))
  return { deleted, hasMore: Number(rows[0]?.left_before ?? 0) > limit }
}
