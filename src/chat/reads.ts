import { sql } from 'drizzle-orm'
import type { Db } from '../db/client.js'
import { publishRoomEvent } from '../db/notify.js'
import { isoTimestamp, type RowOf } from '../db/sql.js'
import type { ReadMark } from '../wire.js'

/**
 * Records that `userId` has read room `roomId` up to `seq` (capped at the room's last seq).
 * The mark never moves backwards; when it moves, the room's streams hear `read`, announced
 * once the mark is stored. Returns the user's mark after the call. One statement, then
 * the announcement: no transaction is held on the shared pool.
 */
export async function markRead(db: Db, roomId: number, userId: string, seq: number): Promise<number> {
  const [row] = await db.execute<{ moved: string | null; mark: string | null }>(sql`
    with moved as (
      insert into room_reads (room_id, user_id, last_read_seq)
      select id, ${userId}, least(${seq}, last_seq) from rooms where id = ${roomId}
      on conflict (room_id, user_id) do update
        set last_read_seq = excluded.last_read_seq, updated_at = now()
        where room_reads.last_read_seq < excluded.last_read_seq
      returning last_read_seq)
    select (select last_read_seq from moved) as moved,
      coalesce((select last_read_seq from moved),
        (select last_read_seq from room_reads where room_id = ${roomId} and user_id = ${userId})) as mark`)
  const mark = Number(row?.mark ?? 0)
  if (row?.moved != null) {
    await publishRoomEvent(db, {
      roomId,
      event: 'read',
      data: { room_id: roomId, user_id: userId, seq: mark },
    })
  }
  return mark
}

/** Every member's read mark (0 if none yet), plus anyone else who has read the room. */
export async function listReads(db: Db, roomId: number): Promise<ReadMark[]> {
  const rows = await db.execute<RowOf<ReadMark>>(sql`
    select coalesce(m.user_id, r.user_id) as user_id, coalesce(r.last_read_seq, 0) as seq,
      ${isoTimestamp('r.updated_at')} as updated_at
    from (select user_id from room_members where room_id = ${roomId}) m
    full join (select * from room_reads where room_id = ${roomId}) r on r.user_id = m.user_id
    order by 1`)
  return rows.map((row) => ({ ...row, seq: Number(row.seq) }))
}
