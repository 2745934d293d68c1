import { sql } from 'drizzle-orm'
import type { Db } from '../db/client.js'
import { constraintName, isForeignKeyViolation } from '../db/errors.js'
import { isoTimestamp } from '../db/sql.js'
import type { Message, Reaction } from '../wire.js'
import { ChatError, messageDeleted, messageNotFound } from './errors.js'
import { findMessage, type MessageRecord, messageColumns, toMessage } from './messages.js'

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
 * author, the room's owners and admins may; deleting a tombstone again changes nothing.
 */
export async function deleteMessage(
  db: Db,
  roomId: number,
  seq: number,
  deleter: { userId: string; canManage: boolean },
): Promise<void> {
  const rows = await db.execute(sql`
    update messages m set deleted_at = now()
     where m.room_id = ${roomId} and m.seq = ${seq} and m.deleted_at is null
       and (m.user_id = ${deleter.userId} or ${deleter.canManage})
    returning m.id`)
  if (rows.length > 0) return
  const message = await findMessage(db, roomId, seq)
  if (!message) throw messageNotFound(seq)
  if (message.deleted_at !== null) return
  throw new ChatError('forbidden', "Only the author and the room's owners may delete a message")
}

/** One user's reaction with one emoji to one message. */
export interface ReactionKey {
  roomId: number
  seq: number
  userId: string
  emoji: string
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
    if (constraintName(error) === 'message_reactions_message_deleted') throw messageDeleted(seq)
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

/** Who reacted to the message with what, oldest first. */
export async function listReactions(db: Db, roomId: number, seq: number): Promise<Reaction[]> {
  if (!(await findMessage(db, roomId, seq))) throw messageNotFound(seq)
  return db.execute<Reaction>(sql`
    select emoji, user_id, ${isoTimestamp('created_at')} as created_at
      from message_reactions
     where room_id = ${roomId} and seq = ${seq}
     order by created_at, emoji, user_id`)
}
