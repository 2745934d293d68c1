import { type SQL, sql } from 'drizzle-orm'
import type { Db } from '../db/client.js'
import { constraintName, isForeignKeyViolation, isUniqueViolation } from '../db/errors.js'
import { isoText, type RowOf } from '../db/sql.js'
import type { Message } from '../wire.js'
import { ChatError, messageNotFound, roomNotFound } from './errors.js'

/** A message row `m` as the fields of its JSON, for statements written by hand. */
export const MESSAGE_COLUMNS = `m.id, m.room_id, m.seq, m.user_id, m.user_name, m.body,
  ${isoText('m.created_at')} as created_at, ${isoText('m.edited_at')} as edited_at,
  ${isoText('m.deleted_at')} as deleted_at, m.reactions, m.reply_to, m.reply_count, m.mentions, m.bot`

/** MESSAGE_COLUMNS for drizzle's sql templates. */
export const messageColumns = sql.raw(MESSAGE_COLUMNS)

export type MessageRecord = RowOf<Message>

/** The one JSON shape of a message, shared by the REST API and the stream. */
export function toMessage(row: MessageRecord): Message {
  return {
    id: Number(row.id),
    room_id: Number(row.room_id),
    seq: Number(row.seq),
    user_id: row.user_id,
    user_name: row.user_name,
    body: row.body,
    created_at: row.created_at,
    edited_at: row.edited_at,
    deleted_at: row.deleted_at,
    reactions: row.reactions,
    reply_to: row.reply_to === null ? null : Number(row.reply_to),
    reply_count: Number(row.reply_count),
    mentions: row.mentions,
    bot: row.bot,
  }
}

export interface NewMessage {
  roomId: number
  userId: string
  userName: string
  body: string
  clientId?: string
  /** The seq of the message of the same room this one replies to. */
  replyTo?: number
  /** Posted by a bot (its token's `bot` claim). */
  bot?: boolean
}

/**
 * Inserts a message; seq and its change cursor come from the database trigger. A retried
 * `clientId` from the same user returns the stored message instead (`created: false`);
 * the same `clientId` in another room is a client bug and raises `client_id_reused`.
 */
export async function postMessage(
  db: Db,
  input: NewMessage,
): Promise<{ message: Message; created: boolean }> {
  if (input.clientId !== undefined) {
    const original = await findByClientId(db, input.userId, input.clientId)
    if (original) return retried(original, input)
  }
  // Not ON CONFLICT DO NOTHING: the seq trigger runs before the conflict is found, so a
  // skipped row would still advance rooms.last_seq and leave a gap. A failing INSERT rolls
  // the trigger's increment back with it; this path is only taken by concurrent retries.
  try {
    const rows = await db.execute<MessageRecord>(sql`
      insert into messages as m (room_id, seq, created_cursor, user_id, user_name, body, client_id, reply_to, bot)
      values (${input.roomId}, 0, 0, ${input.userId}, ${input.userName}, ${input.body},
              ${input.clientId ?? null}, ${input.replyTo ?? null}, ${input.bot ?? false})
      returning ${messageColumns}`)
    const row = rows[0]
    if (!row) throw new Error('insert returned no row')
    return { message: toMessage(row), created: true }
  } catch (error) {
    // The seq trigger raises foreign_key_violation for a missing room or replied-to message.
    if (isForeignKeyViolation(error)) {
      if (constraintName(error) === 'messages_reply_to_exists') throw messageNotFound(input.replyTo ?? 0)
      throw roomNotFound(input.roomId)
    }
    if (input.clientId === undefined || !isUniqueViolation(error)) throw error
    const original = await findByClientId(db, input.userId, input.clientId)
    if (!original) throw error
    return retried(original, input)
  }
}

/** The message `userId` posted with `clientId`, in whichever room. */
export async function findByClientId(db: Db, userId: string, clientId: string): Promise<Message | undefined> {
  const rows = await db.execute<MessageRecord>(sql`
    select ${messageColumns} from messages m where m.user_id = ${userId} and m.client_id = ${clientId}`)
  return rows[0] && toMessage(rows[0])
}

/** A retried post's answer: the original, unless the client_id was used in another room. */
export function retried(original: Message, input: NewMessage) {
  if (original.room_id !== input.roomId) {
    throw new ChatError('client_id_reused', 'This client_id was already used for a message in another room')
  }
  return { message: original, created: false }
}

/** One message of a room, tombstones included. */
export async function findMessage(db: Db, roomId: number, seq: number): Promise<Message | undefined> {
  const rows = await db.execute<MessageRecord>(sql`
    select ${messageColumns} from messages m where m.room_id = ${roomId} and m.seq = ${seq}`)
  return rows[0] && toMessage(rows[0])
}

export interface Page {
  limit: number
  before?: number
  after?: number
}

export interface MessagePage {
  messages: Message[]
  hasMore: boolean
  /** The room's change cursor in the same snapshot as the page. */
  cursor: number
}

/** A page of a room's messages in ascending seq; `after` reads forward, otherwise the latest before `before`. */
export function listMessages(db: Db, roomId: number, page: Page): Promise<MessagePage> {
  const bounds: SQL[] = []
  if (page.after !== undefined) bounds.push(sql`and m.seq > ${page.after}`)
  if (page.before !== undefined) bounds.push(sql`and m.seq < ${page.before}`)
  return pageOfRoom(db, roomId, sql.join(bounds, sql` `), page.limit, page.after === undefined)
}

/** A page of the replies to message `seq`, in seq order, after `after`. */
export function listReplies(
  db: Db,
  roomId: number,
  seq: number,
  page: { limit: number; after?: number },
): Promise<MessagePage> {
  const bounds = sql`and m.reply_to = ${seq} and m.seq > ${page.after ?? 0}`
  return pageOfRoom(db, roomId, bounds, page.limit, false)
}

/**
 * Messages of a room within `bounds`, the first `limit` by seq (or the last, with
 * `latest`), ascending, and the room's change cursor: one statement, so one snapshot, so a
 * stream resuming after that cursor misses nothing the page does not show and repeats
 * nothing it does.
 */
async function pageOfRoom(db: Db, roomId: number, bounds: SQL, limit: number, latest: boolean) {
  const order = latest ? sql`desc` : sql`asc`
  const rows = await db.execute<
    (MessageRecord | { [K in keyof MessageRecord]: null }) & { page_cursor: string }
  >(sql`
    select r.last_cursor as page_cursor, p.*
    from rooms r
    left join lateral (
      select ${messageColumns} from messages m
      where m.room_id = r.id ${bounds}
      order by m.seq ${order}
      limit ${limit + 1}
    ) p on true
    where r.id = ${roomId}
    order by p.seq asc`)
  const cursor = Number(rows[0]?.page_cursor ?? 0)
  const found = rows.filter((row): row is MessageRecord & { page_cursor: string } => row.id !== null)
  const hasMore = found.length > limit
  const kept = hasMore ? (latest ? found.slice(1) : found.slice(0, limit)) : found
  return { messages: kept.map(toMessage), hasMore, cursor }
}
