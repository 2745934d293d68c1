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
  const rows = await mentionRows(db, viewer, page)
  const mentions = rows.slice(0, page.limit)
  const last = rows.length > page.limit ? mentions.at(-1) : undefined
  return { mentions, nextBefore: last?.message.id }
}

async function mentionRows(db: Db, viewer: Viewer, page: MentionPage): Promise<Mention[]> {
  const before = page.before === undefined ? sql`` : sql`and mm.message_id < ${page.before}`
  const rows = await db.execute<MessageRecord & { room_name: string; room_kind: 'room' | 'dm' }>(sql`
    select ${messageColumns}, r.name as room_name, r.kind as room_kind
      from message_mentions mm
      join messages m on m.room_id = mm.room_id and m.seq = mm.seq
      join ${readableRooms(viewer)} r on r.id = mm.room_id
     where mm.user_id = ${viewer.userId} ${before}
     order by mm.message_id desc
     limit ${page.limit + 1}`)
  return rows.map((row) => ({
    message: toMessage(row),
    room: { id: Number(row.room_id), name: row.room_name, kind: row.room_kind },
  }))
}

/** Where each shard's next page of mentions ends: shard id → the message id it ends before, 0 once it has no more. */
export type MentionPositions = Map<number, number>

/**
 * listMentions over shards. A shard's mentions come in message id order, which is time order
 * within the shard but not across shards (each allocates ids from a range of its own), so
 * the shards' lists are merged by time, each taken from its head on, and the cursor keeps
 * each shard's own position. Each shard reads at most a page and a row more.
 */
export async function listMentionsOver(
  shards: { id: number; db: Db }[],
  viewer: Viewer,
  page: { limit: number; positions?: MentionPositions },
) {
  const asked = shards.filter((shard) => page.positions?.get(shard.id) !== 0)
  const lists = await Promise.all(
    asked.map(async (shard) => ({
      shard: shard.id,
      rows: await mentionRows(shard.db, viewer, { limit: page.limit, before: page.positions?.get(shard.id) }),
      taken: 0,
    })),
  )
  const mentions: Mention[] = []
  while (mentions.length < page.limit) {
    let newest: (typeof lists)[number] | undefined
    for (const list of lists) {
      const head = list.rows[list.taken]
      if (head && (!newest || isNewer(head, newest.rows[newest.taken]!))) newest = list
    }
    if (!newest) break
    mentions.push(newest.rows[newest.taken++]!)
  }
  const positions: MentionPositions = new Map(page.positions)
  for (const list of lists) {
    const more = list.rows.length > list.taken
    if (!more) positions.set(list.shard, 0)
    else if (list.taken > 0) positions.set(list.shard, list.rows[list.taken - 1]!.message.id)
  }
  const done = shards.every((shard) => positions.get(shard.id) === 0)
  return { mentions, next: done ? undefined : positions }
}

const isNewer = (a: Mention, b: Mention) =>
  a.message.created_at > b.message.created_at ||
  (a.message.created_at === b.message.created_at && a.message.id > b.message.id)
