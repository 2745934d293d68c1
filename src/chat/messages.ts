import { and, asc, desc, eq, gt, lt, lte, sql } from 'drizzle-orm'
import type { Db } from '../db/client.js'
import { isForeignKeyViolation, isUniqueViolation } from '../db/errors.js'
import { type MessageRow, messages } from '../db/schema.js'
import { preparedPerDb } from '../db/sql.js'
import type { Message } from '../wire.js'
import { ChatError, roomNotFound } from './errors.js'

/** The one JSON shape of a message, shared by the REST API and the stream. */
export function toMessage(row: MessageRow): Message {
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
 * same user returns the stored message instead (`created: false`); the same `clientId`
 * in another room is a client bug and raises `client_id_reused`.
 */
export async function postMessage(
  db: Db,
  input: NewMessage,
): Promise<{ message: MessageRow; created: boolean }> {
  if (input.clientId !== undefined) {
    const original = await findByClientId(db, input.userId, input.clientId)
    if (original) return retried(original, input)
  }
  // Not ON CONFLICT DO NOTHING: the seq trigger runs before the conflict is found, so a
  // skipped row would still advance rooms.last_seq and leave a gap. A failing INSERT rolls
  // the trigger's increment back with it; this path is only taken by concurrent retries.
  try {
    const [message] = await db
      .insert(messages)
      .values({ ...input, seq: 0 })
      .returning()
    if (!message) throw new Error('insert returned no row')
    return { message, created: true }
  } catch (error) {
    // The seq trigger raises foreign_key_violation for a room that does not exist (any more).
    if (isForeignKeyViolation(error)) throw roomNotFound(input.roomId)
    if (input.clientId === undefined || !isUniqueViolation(error)) throw error
    const original = await findByClientId(db, input.userId, input.clientId)
    if (!original) throw error
    return retried(original, input)
  }
}

async function findByClientId(db: Db, userId: string, clientId: string): Promise<MessageRow | undefined> {
  const [row] = await db
    .select()
    .from(messages)
    .where(and(eq(messages.userId, userId), eq(messages.clientId, clientId)))
  return row
}

function retried(original: MessageRow, input: NewMessage) {
  if (original.roomId !== input.roomId) {
    throw new ChatError('client_id_reused', 'This client_id was already used for a message in another room')
  }
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

// Prepared: the hub runs this for every batch of every room.
const fetchStatement = preparedPerDb((db: Db) =>
  db
    .select()
    .from(messages)
    .where(
      and(
        eq(messages.roomId, sql.placeholder('roomId')),
        gt(messages.seq, sql.placeholder('after')),
        lte(messages.seq, sql.placeholder('upto')),
      ),
    )
    .orderBy(asc(messages.seq))
    .limit(sql.placeholder('limit'))
    .prepare('parley_fetch_messages_after'),
)

/** Messages of a room with `afterSeq < seq <= uptoSeq`, in order: what the stream delivers and replays. */
export function fetchMessagesAfter(
  db: Db,
  roomId: number,
  afterSeq: number,
  limit: number,
  uptoSeq = Number.MAX_SAFE_INTEGER,
): Promise<MessageRow[]> {
  return fetchStatement(db).execute({ roomId, after: afterSeq, upto: uptoSeq, limit })
}
