import { type RoomAccess, readableRoom, type Viewer } from '../chat/access.js'
import { mutedUntil, roomNotFound } from '../chat/errors.js'
import type { Db } from '../db/client.js'
import { ApiError } from './errors.js'

/** The database holding room `id`; 404 room_not_found when none does (the sharding catalog names no such room). */
export async function requireRoomDb(
  roomDb: (roomId: number) => Promise<Db | undefined>,
  id: number,
): Promise<Db> {
  const db = await roomDb(id)
  if (!db) throw roomNotFound(id)
  return db
}

/** The caller's access to room `id`; 404 room_not_found when it is missing or hidden from them. */
export async function requireReadableRoom(
  db: Db,
  id: number,
  viewer: Viewer,
  options?: { shared?: boolean },
): Promise<RoomAccess> {
  const access = await readableRoom(db, id, viewer, options)
  if (!access) throw roomNotFound(id)
  return access
}

/** As requireReadableRoom, and 403 unless the caller owns the room or is an admin. */
export async function requireManagedRoom(db: Db, id: number, viewer: Viewer): Promise<RoomAccess> {
  const access = await requireReadableRoom(db, id, viewer)
  if (!access.canManage) throw new ApiError(403, 'forbidden', 'Only the room’s owners and admins may do this')
  return access
}

/** 403 for a direct message: its two members are fixed, whoever asks. */
export function requireChangeableMembers(access: RoomAccess): void {
  if (access.kind === 'dm') throw new ApiError(403, 'forbidden', 'A direct message’s members never change')
}

/** As requireReadableRoom, and 403 unless the caller moderates the room (owners, moderators, admins). */
export async function requireModeratedRoom(db: Db, id: number, viewer: Viewer): Promise<RoomAccess> {
  const access = await requireReadableRoom(db, id, viewer)
  if (!access.canModerate) {
    throw new ApiError(403, 'forbidden', 'Only the room’s owners, moderators and admins may do this')
  }
  return access
}

/** 403 `muted` while the caller is muted in the room, saying until when. */
export function requireUnmuted(access: RoomAccess): void {
  if (access.muted) throw mutedUntil(access.muted.until)
}
