import { sql } from 'drizzle-orm'
import type { Db } from '../db/client.js'
import type { Report } from '../wire.js'
import { ChatError, messageDeleted, messageNotFound } from './errors.js'

// Reports of messages to a room's moderators. A report keeps the message as it was
// reported; filing one tells each owner and moderator on their own stream, and resolving
// one is audited (sql/moderation.sql, both for psql too).

const reportColumns = sql.raw(`x.id, x.room_id, x.seq, x.author_id, x.body, x.reporter_id, x.reason,
  to_char(x.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as created_at,
  to_char(x.resolved_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as resolved_at,
  x.resolved_by, x.resolution, x.note`)

/** The columns of a report row `x`, for statements elsewhere (the user stream's report events). */
export const REPORT_COLUMNS = reportColumns

export type ReportRow = Omit<Report, 'id' | 'room_id' | 'seq'> & { id: string; room_id: string; seq: string }

export const toReport = (row: ReportRow): Report => ({
  ...row,
  id: Number(row.id),
  room_id: Number(row.room_id),
  seq: Number(row.seq),
})

/** A page cursor of reports and audit entries: the last id of the page. */
export const parseIdCursor = (text: string) => (/^[1-9][0-9]{0,15}$/.test(text) ? Number(text) : undefined)

export interface NewReport {
  roomId: number
  seq: number
  reporterId: string
  reason: string
}

/**
 * Files a report of message `seq`, or answers the reporter's open report of it
 * (`created: false`): one open report per reporter and message. A deleted message has
 * nothing left to report.
 */
export async function fileReport(db: Db, input: NewReport): Promise<{ report: Report; created: boolean }> {
  // Of two reports of one message by one person at once, the second waits for the first
  // and does nothing, then finds it.
  const rows = await db.execute<ReportRow>(sql`
    insert into room_reports as x (room_id, seq, author_id, body, reporter_id, reason)
    select m.room_id, m.seq, m.user_id, m.body, ${input.reporterId}, ${input.reason}
      from messages m
     where m.room_id = ${input.roomId} and m.seq = ${input.seq} and m.deleted_at is null
    on conflict (room_id, seq, reporter_id) where resolved_at is null do nothing
    returning ${reportColumns}`)
  if (rows[0]) return { report: toReport(rows[0]), created: true }
  const report = await openReportOf(db, input)
  if (report) return { report, created: false }
  const message = await db.execute<{ deleted: boolean }>(sql`
    select deleted_at is not null as deleted from messages where room_id = ${input.roomId} and seq = ${input.seq}`)
  if (!message[0]) throw messageNotFound(input.seq)
  if (message[0].deleted) throw messageDeleted(input.seq)
  throw new Error('a report was neither filed nor found')
}

async function openReportOf(db: Db, input: NewReport): Promise<Report | undefined> {
  const rows = await db.execute<ReportRow>(sql`
    select ${reportColumns} from room_reports x
     where x.room_id = ${input.roomId} and x.seq = ${input.seq} and x.reporter_id = ${input.reporterId}
       and x.resolved_at is null`)
  return rows[0] && toReport(rows[0])
}

/** A page of the room's open reports, oldest first. */
export async function listOpenReports(db: Db, roomId: number, page: { limit: number; after?: number }) {
  const rows = await db.execute<ReportRow>(sql`
    select ${reportColumns} from room_reports x
     where x.room_id = ${roomId} and x.resolved_at is null and x.id > ${page.after ?? 0}
     order by x.id limit ${page.limit + 1}`)
  const reports = rows.slice(0, page.limit).map(toReport)
  return { reports, nextCursor: rows.length > page.limit ? String(reports.at(-1)!.id) : null }
}

export interface Resolution {
  roomId: number
  reportId: number
  by: string
  resolution: 'dismissed' | 'actioned'
  note?: string
}

/**
 * Resolves an open report; a report already resolved is answered as it is, its first
 * resolution standing. 404 for a report of another room.
 */
export async function resolveReport(db: Db, input: Resolution): Promise<Report> {
  const rows = await db.execute<ReportRow>(sql`
    update room_reports x
       set resolved_at = now(), resolved_by = ${input.by}, resolution = ${input.resolution},
           note = ${input.note ?? null}
     where x.id = ${input.reportId} and x.room_id = ${input.roomId} and x.resolved_at is null
    returning ${reportColumns}`)
  if (rows[0]) return toReport(rows[0])
  const found = await db.execute<ReportRow>(sql`
    select ${reportColumns} from room_reports x where x.id = ${input.reportId} and x.room_id = ${input.roomId}`)
  if (!found[0])
    throw new ChatError('report_not_found', `Report ${input.reportId} does not exist in this room`)
  return toReport(found[0])
}
