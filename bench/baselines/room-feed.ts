import type postgres from 'postgres'
import { fetchAfter, lastSeq, MESSAGES_CHANNEL, type MessageRow } from './messages.js'

interface FeedRoom {
  cursor: number
  dirty: boolean
  fetching: boolean
}

export interface RoomFeed {
  /** Starts delivering the room's new rows from its current last seq on. */
  watch(roomId: number): Promise<void>
  unwatch(roomId: number): void
}

/**
 * The one-LISTEN-connection pattern at its simplest, shared by the raw and naive baselines:
 * a notification marks its room dirty, and each dirty room's new rows are read once
 * (notifications arriving meanwhile coalesce into the next read) and handed to `onRows`.
 */
export async function createRoomFeed(
  sql: postgres.Sql,
  onRows: (roomId: number, rows: MessageRow[]) => void,
): Promise<RoomFeed> {
  const rooms = new Map<number, FeedRoom>()

  async function flush(roomId: number, room: FeedRoom): Promise<void> {
    room.fetching = true
    try {
      while (room.dirty) {
        room.dirty = false
        const rows = await fetchAfter(sql, roomId, room.cursor)
        const last = rows.at(-1)
        if (!last) continue
        room.cursor = Number(last.seq)
        onRows(roomId, rows)
      }
    } finally {
      room.fetching = false
    }
  }

  await sql.listen(MESSAGES_CHANNEL, (payload) => {
    const colon = payload.indexOf(':')
    const roomId = Number(payload.slice(0, colon))
    const room = rooms.get(roomId)
    if (!room || Number(payload.slice(colon + 1)) <= room.cursor) return
    room.dirty = true
    if (!room.fetching && room.cursor >= 0) void flush(roomId, room)
  })

  return {
    async watch(roomId) {
      if (rooms.has(roomId)) return
      // Registered before the cursor is read, so a notification racing the read is kept.
      const room: FeedRoom = { cursor: -1, dirty: false, fetching: false }
      rooms.set(roomId, room)
      room.cursor = await lastSeq(sql, roomId)
      if (room.dirty) void flush(roomId, room)
    },
    unwatch: (roomId) => void rooms.delete(roomId),
  }
}
