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
  /** The page was cut short by its bound: there may be more. */
  full: boolean
}

type ChangeRow = { [K in keyof MessageRecord]: MessageRecord[K] | null } & {
  cursor: string
  kind: 'message' | 'edit' | 'delete' | 'reaction'
  change_seq: string
  candidates: string
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
//
// A page is bounded by bytes as well as rows ($5): the changes are first picked by cursor
// with their sizes alone (octet_length reads a stored value's size without detoasting
// it), and only those within the budget are read whole, so a room of huge messages costs
// a reader about the budget, not `limit` times the largest message. The first change is
// always taken, however large.
const CHANGES_AFTER = `
  with candidates as (
    (select m.created_cursor as cursor, 'message' as kind, m.seq as change_seq,
            octet_length(m.body) as bytes
       from messages m
      where m.room_id = $1 and m.created_cursor > $2 and m.created_cursor <= $3
      order by m.created_cursor limit $4)
    union all
    (select c.cursor, c.kind, c.seq,
            coalesce(octet_length(m.body), 0) + coalesce(octet_length(c.reactions::text), 0)
       from message_changes c
       left join messages m on m.room_id = c.room_id and m.seq = c.seq
      where c.room_id = $1 and c.cursor > $2 and c.cursor <= $3
      order by c.cursor limit $4)
  ), page as (
    select cursor, kind, change_seq, sum(bytes) over (order by cursor) - bytes as bytes_before,
           count(*) over () as candidates
      from candidates
     order by cursor limit $4
  )
  select p.cursor, p.kind, p.change_seq, p.candidates,
         c.user_id as actor, c.emoji, c.action, c.reactions as totals, ${MESSAGE_COLUMNS}
    from page p
    left join message_changes c on p.kind <> 'message' and c.room_id = $1 and c.cursor = p.cursor
    left join messages m on m.room_id = $1 and m.seq = p.change_seq
   where p.bytes_before < $5
   order by p.cursor`

/** What a page may hold: at most `rows` changes, and past `bytes` of bodies no further change. */
export interface PageBound {
  rows: number
  bytes: number
}

/**
 * The changes of a room with `after < cursor <= upto`, in cursor order, within `bound`:
 * what a stream delivers live and replays after a Last-Event-ID.
 */
export async function fetchChangesAfter(
  db: Db,
  roomId: number,
  after: number,
  bound: PageBound,
  upto?: number,
): Promise<ChangePage> {
  // Prepared by text on each connection: the hub runs it for every batch of every room.
  const rows = (await db.$client.unsafe(
    CHANGES_AFTER,
    [roomId, after, upto ?? Number.MAX_SAFE_INTEGER, bound.rows, bound.bytes],
    { prepare: true },
  )) as unknown as ChangeRow[]
  const changes: HistoryChange[] = []
  for (const row of rows) {
    const change = toChange(roomId, row)
    if (change) changes.push(change)
  }
  const last = rows.at(-1)?.cursor
  const candidates = Number(rows[0]?.candidates ?? 0)
  // Cut short by rows or by bytes: there may be more after the last change read.
  const full = candidates === bound.rows || rows.length < candidates
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
