import { sql } from 'drizzle-orm'
import type { Db } from '../db/client.js'
import { constraintName, isForeignKeyViolation } from '../db/errors.js'
import { isoTimestamp } from '../db/sql.js'
import type { Message, Reaction, ReactionPage } from '../wire.js'
import { ChatError, messageDeleted, messageNotFound } from './errors.js'
import { findMessage, type MessageRecord, messageColumns, toMessage } from './messages.js'
import { actedBy } from './actor.js'

// Edits, deletes and reactions. Each is one statement on the message's row or a reaction
// row; the triggers in sql/messages.sql number it with the room's change cursor and ring
// the room's doorbell, exactly as for the same change made with psql. When the statement
// touches nothing, the message is read to say why.

/** The message, or why it cannot be changed: missing (404) or a tombstone (409). */
async function liveMessage(db: Db, roomId: number, seq: number): Promise<Message> {
  const message = await findMessage(db, roomId, seq)
  if (!message) throw messageNotFound(seq)
  if (message.deleted_at !== null) throw messageDeleted(seq)
  return message
}

/** The author replaces the body; edited_at is set by the trigger when the body changes. */
export async function editMessage(
  db: Db,
  roomId: number,
  seq: number,
  editor: { userId: string },
  body: string,
): Promise<Message> {
  const rows = await db.execute<MessageRecord>(sql`
    update messages m set body = ${body}
     where m.room_id = ${roomId} and m.seq = ${seq} and m.user_id = ${editor.userId} and m.deleted_at is null
    returning ${messageColumns}`)
  if (rows[0]) return toMessage(rows[0])
  await liveMessage(db, roomId, seq)
  throw new ChatError('forbidden', 'Only the author may edit a message')
}

/**
 * Leaves a tombstone (deleted_at set, body and reactions cleared by the trigger). The
 * author, the room's owners and moderators and admins may; deleting a tombstone again
 * changes nothing. The statement names who deletes (actedBy), for the audit log's trigger.
 */
export async function deleteMessage(
  db: Db,
  roomId: number,
  seq: number,
  deleter: { userId: string; canModerate: boolean },
): Promise<void> {
  const rows = await db.execute(sql`
    update messages m set deleted_at = now()
      from ${actedBy(deleter.userId)}
     where m.room_id = ${roomId} and m.seq = ${seq} and m.deleted_at is null
       and (m.user_id = ${deleter.userId} or ${deleter.canModerate})
    returning m.id`)
  if (rows.length > 0) return
  const message = await findMessage(db, roomId, seq)
  if (!message) throw messageNotFound(seq)
  if (message.deleted_at !== null) return
  throw new ChatError('forbidden', "Only the author and the room's moderators may delete a message")
}

/** One user's reaction with one emoji to one message. */
export interface ReactionKey {
  roomId: number
  seq: number
  userId: string
  emoji: string
}

/** The refusals the reaction trigger raises (sql/messages.sql), by constraint name. */
function reactionRefusal(constraint: string | undefined, seq: number): ChatError | undefined {
  switch (constraint) {
    case 'message_reactions_message_deleted':
      return messageDeleted(seq)
    case 'message_reactions_per_message':
      return new ChatError('too_many_reactions', `Message ${seq} has as many different reactions as it may`)
    case 'message_reactions_per_user':
      return new ChatError('too_many_reactions', `You have as many reactions to message ${seq} as one may`)
  }
  return undefined
}

/** Adds the user's reaction; adding it again changes nothing. Answers the message after it. */
export async function addReaction(db: Db, { roomId, seq, userId, emoji }: ReactionKey): Promise<Message> {
  try {
    await db.execute(sql`
      insert into message_reactions (room_id, seq, user_id, emoji)
      values (${roomId}, ${seq}, ${userId}, ${emoji})
      on conflict do nothing`)
  } catch (error) {
    if (isForeignKeyViolation(error)) throw messageNotFound(seq)
    const refusal = reactionRefusal(constraintName(error), seq)
    if (refusal) throw refusal
    throw error
  }
  return liveMessage(db, roomId, seq)
}

/** Removes the user's reaction; removing an absent one changes nothing. Answers the message after it. */
export async function removeReaction(db: Db, { roomId, seq, userId, emoji }: ReactionKey): Promise<Message> {
  await liveMessage(db, roomId, seq)
  await db.execute(sql`
    delete from message_reactions
     where room_id = ${roomId} and seq = ${seq} and user_id = ${userId} and emoji = ${emoji}`)
  return liveMessage(db, roomId, seq)
}

/** Where a page of a message's reactions starts: after the reaction of this time, emoji and user. */
export interface ReactionCursor {
  /** When it was added, to the microsecond, as PostgreSQL wrote it. */
  at: string
  emoji: string
  userId: string
}

const REACTION_AT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/

export function encodeReactionCursor(cursor: ReactionCursor): string {
  return Buffer.from(JSON.stringify([cursor.at, cursor.emoji, cursor.userId])).toString('base64url')
}

/** The cursor an earlier page handed out, or undefined when `text` is not one. */
export function parseReactionCursor(text: string): ReactionCursor | undefined {
  let parts: unknown
  try {
    parts = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'))
  } catch {
    return undefined
  }
  if (!Array.isArray(parts) || parts.length !== 3 || !parts.every((part) => typeof part === 'string'))
    return undefined
  const [at, emoji, userId] = parts as [string, string, string]
  if (!REACTION_AT.test(at)) return undefined
  const cursor = { at, emoji, userId }
  return encodeReactionCursor(cursor) === text ? cursor : undefined
}

/**
 * A page of who reacted to the message with what, oldest first (by time, then emoji, then
 * user: the order is total, so a page never repeats or skips a reaction), and the cursor of
 * the next page if there is one.
 */
export async function listReactions(
  db: Db,
  roomId: number,
  seq: number,
  page: { limit: number; after?: ReactionCursor },
): Promise<ReactionPage> {
  if (!(await findMessage(db, roomId, seq))) throw messageNotFound(seq)
  const after = page.after
    ? sql`and (created_at, emoji, user_id) > (${page.after.at}::timestamptz, ${page.after.emoji}, ${page.after.userId})`
    : sql``
  const rows = await db.execute<Reaction & { at: string }>(sql`
    select emoji, user_id, ${isoTimestamp('created_at')} as created_at,
           to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as at
      from message_reactions
     where room_id = ${roomId} and seq = ${seq} ${after}
     order by created_at, emoji, user_id
     limit ${page.limit + 1}`)
  const reactions = rows.slice(0, page.limit)
  const last = rows.length > page.limit ? reactions.at(-1) : undefined
  return {
    reactions: reactions.map(({ emoji, user_id, created_at }) => ({ emoji, user_id, created_at })),
    next_cursor: last ? encodeReactionCursor({ at: last.at, emoji: last.emoji, userId: last.user_id }) : null,
  }
}
