import { and, asc, desc, eq, gt, lt } from 'drizzle-orm'
import type { Db } from '../db/client.js'
import { type MessageRow, messages } from '../db/schema.js'

export interface MessageView {
  id: number
  room_id: number
  seq: number
  user_id: string
  user_name: string
  body: string
  created_at: string
}

/** The one JSON shape of a message, shared by the REST API and the stream. */
export function toMessageView(row: MessageRow): MessageView {
  return {
    id: row.id,
    room_id: row.roomId,
    seq: row.seq,
    user_id: row.userId,
    user_name: row.userName,
    body: row.body,
    created_at: row.createdAt.toISOString(),
  }
}

export interface NewMessage {
  roomId: number
  userId: string
  userName: string
  body: string
  clientId?: string
}

/**
 * Inserts a message; seq comes from the database trigger. A retried `clientId` from the
 * same user returns the stored message instead (`created: false`).
 */
export async function postMessage(
  db: Db,
  input: NewMessage,
): Promise<{ message: MessageRow; created: boolean }> {
  const inserted = await db
    .insert(messages)
    .values({ ...input, seq: 0 })
    .onConflictDoNothing({ target: [messages.userId, messages.clientId] })
    .returning()
  const message = inserted[0]
  if (message) return { message, created: true }
  const [original] = await db
    .select()
    .from(messages)
    .where(and(eq(messages.userId, input.userId), eq(messages.clientId, input.clientId ?? '')))
  if (!original) throw new Error('client_id conflict without a stored message')
  return { message: original, created: false }
}

export interface Page {
  limit: number
  before?: number
  after?: number
}

/** A page of a room's messages in ascending seq; `after` reads forward, otherwise the latest before `before`. */
export async function listMessages(db: Db, roomId: number, page: Page) {
  const take = page.limit + 1
  const inRoom = eq(messages.roomId, roomId)
  let rows: MessageRow[]
  if (page.after !== undefined) {
    const bounds = [inRoom, gt(messages.seq, page.after)]
    if (page.before !== undefined) bounds.push(lt(messages.seq, page.before))
    rows = await db
      .select()
      .from(messages)
      .where(and(...bounds))
      .orderBy(asc(messages.seq))
      .limit(take)
    const hasMore = rows.length > page.limit
    return { rows: rows.slice(0, page.limit), hasMore }
  }
  const bounds = page.before === undefined ? inRoom : and(inRoom, lt(messages.seq, page.before))
  rows = await db.select().from(messages).where(bounds).orderBy(desc(messages.seq)).limit(take)
  const hasMore = rows.length > page.limit
  return { rows: rows.slice(0, page.limit).reverse(), hasMore }
}

/** Messages of a room with `afterSeq < seq <= uptoSeq`, in order: what the stream delivers and replays. */
export function fetchMessagesAfter(
  db: Db,
  roomId: number,
  afterSeq: number,
  limit: number,
  uptoSeq?: number,
) {
  const bounds = [eq(messages.roomId, roomId), gt(messages.seq, afterSeq)]
  if (uptoSeq !== undefined) bounds.push(lt(messages.seq, uptoSeq + 1))
  return db
    .select()
    .from(messages)
    .where(and(...bounds))
    .orderBy(asc(messages.seq))
    .limit(limit)
}
