import { sql } from 'drizzle-orm'
import type { Db } from '../db/client.js'
import { isoTimestamp, type RowOf } from '../db/sql.js'
import type { AuditEntry } from '../wire.js'

// The moderation audit log, written only by the triggers of sql/moderation.sql.

type AuditRow = RowOf<Omit<AuditEntry, 'seqs'>> & { seqs: string[] | null }

const toEntry = (row: AuditRow): AuditEntry => ({
  id: Number(row.id),
  room_id: Number(row.room_id),
  action: row.action,
  actor_id: row.actor_id,
  target_id: row.target_id,
  reason: row.reason,
  until: row.until,
  seconds: row.seconds === null ? null : Number(row.seconds),
  seqs: row.seqs === null ? null : row.seqs.map(Number),
  report_id: row.report_id === null ? null : Number(row.report_id),
  created_at: row.created_at,
})

/** A page of the room's audit log, the newest first; `before` is the previous page's last id. */
export async function listAudit(db: Db, roomId: number, page: { limit: number; before?: number }) {
  const before = page.before === undefined ? sql`` : sql`and l.id < ${page.before}`
  const rows = await db.execute<AuditRow>(sql`
    select l.id, l.room_id, l.action, l.actor_id, l.target_id, l.reason,
           ${isoTimestamp('l.until')} as until, l.seconds, l.seqs::text[] as seqs, l.report_id,
           ${isoTimestamp('l.created_at')} as created_at
      from moderation_log l
     where l.room_id = ${roomId} ${before}
     order by l.id desc limit ${page.limit + 1}`)
  const entries = rows.slice(0, page.limit).map(toEntry)
  return { entries, nextCursor: rows.length > page.limit ? String(entries.at(-1)!.id) : null }
}
