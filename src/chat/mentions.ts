import { sql } from 'drizzle-orm'
import type { Db } from '../db/client.js'
import type { Mention } from '../wire.js'
import { readableRooms, type Viewer } from './access.js'
import { type MessageRecord, messageColumns, toMessage } from './messages.js'

export interface MentionPage {
  limit: number
  /** Only mentions in messages older than this message id (the previous page's last). */
  before?: number
}

/**
 * A page of the messages that mention the viewer, newest first, across the rooms the viewer
 * may read now: someone removed from a private room no longer sees what was said there.
 * Walks the viewer's mentions by message id through their primary key.
 */
export async function listMentions(db: Db, viewer: Viewer, page: MentionPage) {
  const before = page.before === undefined ? sql`` : sql`and mm.message_id < ${page.before}`
  const rows = await db.execute<MessageRecord & { room_name: string; room_kind: 'room' | 'dm' }>(sql`
    select ${messageColumns}, r.name as room_name, r.kind as room_kind
      from message_mentions mm
      join messages m on m.room_id = mm.room_id and m.seq = mm.seq
      join ${readableRooms(viewer)} r on r.id = mm.room_id
     where mm.user_id = ${viewer.userId} ${before}
     order by mm.message_id desc
     limit ${page.limit + 1}`)
  const mentions: Mention[] = rows.slice(0, page.limit).map((row) => ({
    message: toMessage(row),
    room: { id: Number(row.room_id), name: row.room_name, kind: row.room_kind },
  }))
  const last = rows.length > page.limit ? mentions.at(-1) : undefined
  return { mentions, nextBefore: last?.message.id }
}
