import type { Db } from '../db/client.js'
import { isoText } from '../db/sql.js'
import type { HistoryEventData, HistoryEventName, Message } from '../wire.js'
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
  emoji_count: number | null
  tombstone: Tombstone | null
  tombstone_created_at: string | null
  tombstone_edited_at: string | null
  tombstone_deleted_at: string | null
}

/** What the delete of a message deleted by hand keeps of it (sql/messages.sql). */
interface Tombstone {
  id: number
  user_id: string
  user_name: string
  reply_to: number | null
  reply_count: number
  /** Absent from tombstones kept before messages carried it. */
  bot?: boolean
}

// New messages are numbered in the messages table itself (created_cursor) and every other
// change in message_changes, so an insert writes one row. Both are read by cursor through
// their (room_id, cursor) indexes and merged. New messages and edits render the message
// as it is now: a tombstone once deleted. A message deleted by hand has no row left, so
// its delete change keeps its insert cursor and its tombstone, and its insert and edits
// are replayed from those: a resumed stream gets the same cursors and events as a live one.
// A reaction carries its emoji's count after it.
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
            coalesce(octet_length(m.body), 0)
       from message_changes c
       left join messages m on m.room_id = c.room_id and m.seq = c.seq
      where c.room_id = $1 and c.cursor > $2 and c.cursor <= $3
      order by c.cursor limit $4)
    union all
    (select g.message_cursor, 'message', g.seq, 0
       from message_changes g
      where g.room_id = $1 and g.message_cursor > $2 and g.message_cursor <= $3
      order by g.message_cursor limit $4)
  ), page as (
    select cursor, kind, change_seq, sum(bytes) over (order by cursor) - bytes as bytes_before,
           count(*) over () as candidates
      from candidates
     order by cursor limit $4
  )
  select p.cursor, p.kind, p.change_seq, p.candidates,
         c.user_id as actor, c.emoji, c.action, c.count as emoji_count, ${MESSAGE_COLUMNS},
         g.tombstone, ${isoText("(g.tombstone ->> 'created_at')::timestamptz")} as tombstone_created_at,
         ${isoText("(g.tombstone ->> 'edited_at')::timestamptz")} as tombstone_edited_at,
         ${isoText("(g.tombstone ->> 'deleted_at')::timestamptz")} as tombstone_deleted_at
    from page p
    left join message_changes c on p.kind <> 'message' and c.room_id = $1 and c.cursor = p.cursor
    left join messages m on m.room_id = $1 and m.seq = p.change_seq
    left join message_changes g
      on m.id is null and p.kind in ('message', 'edit') and g.room_id = $1 and g.seq = p.change_seq
         and g.tombstone is not null
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
  const message = row.id === null ? tombstoneOf(roomId, seq, row) : toMessage(row as MessageRecord)
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
          count: row.emoji_count ?? 0,
        },
      }
  }
}

/** A message deleted by hand, as its tombstone: what a live stream's message showed, emptied. */
function tombstoneOf(roomId: number, seq: number, row: ChangeRow): Message | undefined {
  const kept = row.tombstone
  if (!kept || row.tombstone_created_at === null) return undefined
  return toMessage({
    id: kept.id,
    room_id: roomId,
    seq,
    user_id: kept.user_id,
    user_name: kept.user_name,
    body: '',
    created_at: row.tombstone_created_at,
    edited_at: row.tombstone_edited_at,
    deleted_at: row.tombstone_deleted_at,
    reactions: {},
    reply_to: kept.reply_to,
    reply_count: kept.reply_count,
    mentions: [],
    bot: kept.bot ?? false,
  })
}

/** The room's change cursor: the newest change the database holds (0 for an unknown room). */
export async function lastCursor(db: Db, roomId: number): Promise<number> {
  const rows = (await db.$client.unsafe('select last_cursor from rooms where id = $1', [roomId], {
    prepare: true,
  })) as unknown as { last_cursor: string }[]
  return Number(rows[0]?.last_cursor ?? 0)
}

/**
 * The highest change cursor of the room the retention sweep deleted: a replay after a
 * cursor below it would miss changes. Read after a page of changes, it says whether that
 * page was complete, since the sweep moves it in the transaction that deletes.
 */
export async function prunedCursor(db: Db, roomId: number): Promise<number> {
  const rows = (await db.$client.unsafe('select pruned_cursor from rooms where id = $1', [roomId], {
    prepare: true,
  })) as unknown as { pruned_cursor: string }[]
  return Number(rows[0]?.pruned_cursor ?? 0)
}
