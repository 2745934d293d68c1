import type { Db } from '../db/client.js'
import type { HistoryEventData, HistoryEventName } from '../wire.js'
import { MESSAGE_COLUMNS, type MessageRecord, toMessage } from './messages.js'

/** One change to a room's history, as its stream event: numbered by the room's change cursor. */
export type HistoryChange = {
  [Name in HistoryEventName]: { cursor: number; event: Name; data: HistoryEventData<Name> }
}[HistoryEventName]

export interface ChangePage {
  changes: HistoryChange[]
  /**
   * The cursor the page reaches: its last row's when it is full, else `upto` (every change up
   * to it is here), else its last row's, else `after`.
   */
  through: number
  /** The page holds `limit` rows: there may be more. */
  full: boolean
}

type ChangeRow = { [K in keyof MessageRecord]: MessageRecord[K] | null } & {
  cursor: string
  kind: 'message' | 'edit' | 'delete' | 'reaction'
  change_seq: string
  actor: string | null
  emoji: string | null
  action: 'added' | 'removed' | null
  totals: Record<string, number> | null
}

// New messages are numbered in the messages table itself (created_cursor) and every other
// change in message_changes, so an insert writes one row. Both are read by cursor through
// their (room_id, cursor) indexes and merged. New messages and edits render the message
// as it is now: an edit of a message deleted by hand since has nothing to show, and is
// skipped (the delete follows it). A reaction carries the totals it left.
const CHANGES_AFTER = `
  select * from (
    (select m.created_cursor as cursor, 'message' as kind, m.seq as change_seq,
            null::text as actor, null::text as emoji, null::text as action, null::jsonb as totals,
            ${MESSAGE_COLUMNS}
       from messages m
      where m.room_id = $1 and m.created_cursor > $2 and m.created_cursor <= $3
      order by m.created_cursor limit $4)
    union all
    (select c.cursor, c.kind, c.seq, c.user_id, c.emoji, c.action, c.reactions, ${MESSAGE_COLUMNS}
       from message_changes c
       left join messages m on m.room_id = c.room_id and m.seq = c.seq
      where c.room_id = $1 and c.cursor > $2 and c.cursor <= $3
      order by c.cursor limit $4)
  ) changes
  order by cursor limit $4`

/**
 * The changes of a room with `after < cursor <= upto`, in cursor order, at most `limit`:
 * what a stream delivers live and replays after a Last-Event-ID.
 */
export async function fetchChangesAfter(
  db: Db,
  roomId: number,
  after: number,
  limit: number,
  upto?: number,
): Promise<ChangePage> {
  // Prepared by text on each connection: the hub runs it for every batch of every room.
  const rows = (await db.$client.unsafe(
    CHANGES_AFTER,
    [roomId, after, upto ?? Number.MAX_SAFE_INTEGER, limit],
    {
      prepare: true,
    },
  )) as unknown as ChangeRow[]
  const changes: HistoryChange[] = []
  for (const row of rows) {
    const change = toChange(roomId, row)
    if (change) changes.push(change)
  }
  const last = rows.at(-1)?.cursor
  const full = rows.length === limit
  const through = full || upto === undefined ? (last === undefined ? after : Number(last)) : upto
  return { changes, through, full }
}

function toChange(roomId: number, row: ChangeRow): HistoryChange | undefined {
  const cursor = Number(row.cursor)
  const seq = Number(row.change_seq)
  const message = row.id === null ? undefined : toMessage(row as MessageRecord)
  switch (row.kind) {
    case 'message':
      return message && { cursor, event: 'message', data: message }
    case 'edit':
      return message && { cursor, event: 'edit', data: message }
    case 'delete':
      return { cursor, event: 'delete', data: { room_id: roomId, seq } }
    case 'reaction':
      return {
        cursor,
        event: 'reaction',
        data: {
          room_id: roomId,
          seq,
          emoji: row.emoji ?? '',
          user_id: row.actor ?? '',
          action: row.action ?? 'added',
          reactions: row.totals ?? {},
        },
      }
  }
}
