import type { Logger } from 'pino'
import { unreadCounts } from '../chat/user-events.js'
import type { Db } from '../db/client.js'
import { encodeFrame } from './sse.js'
import type { Stream, Streams } from './streams.js'

/** A user stream as its unread counts see it. */
export interface CountedStream extends Stream {
  /** The rooms the user is a member of, whose unread counts the stream follows. */
  rooms: Set<number>
  /** Per room, the counts last sent, "unread:mentions". */
  sentCounts: Map<number, string>
}

export interface UnreadCountsOptions {
  streams: Streams
  logger: Logger
  /** How long room activity is gathered before the unread counts it changed are read. */
  waitMs: number
}

/**
 * The `unread` frames of user streams: each follows the rooms its user is a member of, and
 * activity there (a history changed, a read mark moved) is gathered for `waitMs`, then read
 * back in one query per database for every (room, user) pair it concerns on this instance.
 * A count is sent only when it changed.
 */
export function createUnreadCounts({ streams, logger, waitMs }: UnreadCountsOptions) {
  const byRoom = new Map<number, Set<CountedStream>>()
  // Rooms with activity not yet read back, by the database that announced it.
  const active = new Map<Db, Set<number>>()
  let timer: NodeJS.Timeout | undefined

  function follow(stream: CountedStream, roomId: number): void {
    stream.rooms.add(roomId)
    let followers = byRoom.get(roomId)
    if (!followers) byRoom.set(roomId, (followers = new Set()))
    followers.add(stream)
  }

  function unfollow(stream: CountedStream, roomId: number): void {
    stream.rooms.delete(roomId)
    stream.sentCounts.delete(roomId)
    const followers = byRoom.get(roomId)
    followers?.delete(stream)
    if (followers?.size === 0) byRoom.delete(roomId)
  }

  /** Room `roomId` of database `db` had activity: its followers' counts may have changed. */
  function touched(db: Db, roomId: number): void {
    if (!byRoom.has(roomId)) return
    let rooms = active.get(db)
    if (!rooms) active.set(db, (rooms = new Set()))
    rooms.add(roomId)
    timer ??= setTimeout(() => void sendAll(), waitMs)
  }

  async function sendAll(): Promise<void> {
    timer = undefined
    const gathered = [...active]
    active.clear()
    await Promise.all(gathered.map(([db, rooms]) => send(db, rooms)))
  }

  async function send(db: Db, rooms: Set<number>): Promise<void> {
    const pairs = new Map<string, { roomId: number; userId: string }>()
    for (const roomId of rooms) {
      for (const { userId } of byRoom.get(roomId) ?? []) pairs.set(`${roomId}\0${userId}`, { roomId, userId })
    }
    try {
      for (const counts of await unreadCounts(db, [...pairs.values()])) {
        const text = `${counts.unreadCount}:${counts.mentionCount}`
        for (const stream of byRoom.get(counts.roomId) ?? []) {
          if (stream.userId !== counts.userId || stream.sentCounts.get(counts.roomId) === text) continue
          stream.sentCounts.set(counts.roomId, text)
          const data = {
            room_id: counts.roomId,
            unread_count: counts.unreadCount,
            mention_count: counts.mentionCount,
          }
          streams.send(stream, encodeFrame('unread', JSON.stringify(data)))
        }
      }
    } catch (error) {
      logger.warn({ err: error }, 'unread counts could not be read')
    }
  }

  return {
    follow,
    unfollow,
    touched,
    /** Whether any stream follows a room: when none does, activity is not even parsed. */
    following: () => byRoom.size > 0,
    stop: () => clearTimeout(timer),
  }
}
