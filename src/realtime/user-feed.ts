import { createHash } from 'node:crypto'
import type { Logger } from 'pino'
import {
  memberRooms,
  unreadableAfter,
  unreadCounts,
  userEventsAfter,
  userFeedCursors,
} from '../chat/user-events.js'
import type { Db } from '../db/client.js'
import { channels, parseMessageNotice, parseRoomEvent, parseUserNotice } from '../db/notify.js'
import type { Refusal } from './admission.js'
import type { ListenerConsumer } from './listener.js'
import { encodeEventFrame, encodeFrame } from './sse.js'
import type { Stream, StreamRequest, Streams } from './streams.js'

export interface UserFeedOptions {
  db: Db
  logger: Logger
  /** The process's streams: a user stream is admitted, written, kept alive and closed there. */
  streams: Streams
  /** Events read per query. */
  batchSize?: number
  /** How long room activity is gathered before the unread counts it changed are read. */
  unreadWaitMs?: number
}

interface Subscriber extends Stream {
  /** The cursor of the last event written, or undefined until the starting point is known. */
  delivered: number | undefined
  reading: boolean
  /** A notice arrived while reading: read again once done. */
  again: boolean
  /** The rooms the user is a member of, whose unread counts the stream follows. */
  rooms: Set<number>
  /** Per room, the counts last sent, "unread:mentions". */
  sentCounts: Map<number, string>
}

export interface UserStreamRequest extends Omit<StreamRequest, 'log'> {
  /** Replay the user's events after this cursor; without it the stream starts live. */
  after?: number
}

export const userKey = (userId: string) => createHash('md5').update(userId).digest('hex')

/**
 * GET /me/stream: each user's own events across rooms (mentions, direct messages, being
 * added or removed), numbered per user by the database and announced on parley_users.
 * A notice only says "this user has events up to N"; each subscriber reads what it has not
 * written yet, one read at a time, so frames go out in cursor order, each once, whatever
 * order notices arrive in and however many are lost while the listener is down.
 */
export function createUserFeed(options: UserFeedOptions) {
  const { db, logger, streams } = options
  const batchSize = options.batchSize ?? 200
  const byUser = new Map<string, Set<Subscriber>>()
  const byRoom = new Map<number, Set<Subscriber>>()
  const unreadWaitMs = options.unreadWaitMs ?? 100
  // Rooms with activity not yet read back into unread counts, and the timer that will.
  const active = new Set<number>()
  let unreadTimer: NodeJS.Timeout | undefined

  function follow(subscriber: Subscriber, roomId: number): void {
    subscriber.rooms.add(roomId)
    let followers = byRoom.get(roomId)
    if (!followers) byRoom.set(roomId, (followers = new Set()))
    followers.add(subscriber)
  }

  function unfollow(subscriber: Subscriber, roomId: number): void {
    subscriber.rooms.delete(roomId)
    subscriber.sentCounts.delete(roomId)
    const followers = byRoom.get(roomId)
    followers?.delete(subscriber)
    if (followers?.size === 0) byRoom.delete(roomId)
  }

  function onRoomActivity(roomId: number): void {
    if (!byRoom.has(roomId)) return
    active.add(roomId)
    unreadTimer ??= setTimeout(() => void sendUnreadCounts(), unreadWaitMs)
  }

  /** One query for every (room, user) pair the gathered activity concerns on this instance. */
  async function sendUnreadCounts(): Promise<void> {
    unreadTimer = undefined
    const pairs = new Map<string, { roomId: number; userId: string }>()
    for (const roomId of active) {
      for (const subscriber of byRoom.get(roomId) ?? []) {
        const { userId } = subscriber
        pairs.set(`${roomId}\0${userId}`, { roomId, userId })
      }
    }
    active.clear()
    try {
      for (const counts of await unreadCounts(db, [...pairs.values()])) {
        const text = `${counts.unreadCount}:${counts.mentionCount}`
        for (const subscriber of byUser.get(userKey(counts.userId)) ?? []) {
          if (!subscriber.rooms.has(counts.roomId) || subscriber.sentCounts.get(counts.roomId) === text)
            continue
          subscriber.sentCounts.set(counts.roomId, text)
          const data = {
            room_id: counts.roomId,
            unread_count: counts.unreadCount,
            mention_count: counts.mentionCount,
          }
          streams.send(subscriber, encodeFrame('unread', JSON.stringify(data)))
        }
      }
    } catch (error) {
      logger.warn({ err: error }, 'unread counts could not be read')
    }
  }

  async function read(subscriber: Subscriber): Promise<void> {
    if (subscriber.reading || subscriber.delivered === undefined) {
      subscriber.again = true
      return
    }
    subscriber.reading = true
    try {
      do {
        subscriber.again = false
        let more = true
        while (more && !subscriber.closed) {
          const page = await userEventsAfter(db, subscriber, subscriber.delivered, batchSize)
          if (page.tooOld) {
            // What happened since its cursor cannot be read: it goes on from the present.
            const reload = { reason: page.reason, cursor: page.present }
            streams.send(subscriber, encodeEventFrame('reload', reload))
            subscriber.delivered = page.present
            continue
          }
          for (const event of page.events) {
            streams.send(subscriber, encodeFrame(event.event, JSON.stringify(event.data), event.cursor))
            if (event.event === 'added') follow(subscriber, event.data.room.id)
            if (event.event === 'removed') unfollow(subscriber, event.data.room_id)
          }
          subscriber.delivered = page.reached
          more = page.more
        }
      } while (subscriber.again && !subscriber.closed)
    } catch (error) {
      // The client resumes from its Last-Event-ID, the last frame it received.
      logger.warn({ err: error, userId: subscriber.userId }, 'user stream could not read its events')
      streams.close(subscriber)
    } finally {
      subscriber.reading = false
    }
  }

  function onNotice(payload: string): void {
    const notice = parseUserNotice(payload)
    const subscribers = notice && byUser.get(notice.userKey)
    if (!subscribers) return
    for (const subscriber of subscribers) {
      if (subscriber.delivered === undefined || subscriber.delivered < notice.cursor) void read(subscriber)
    }
  }

  /**
   * After LISTEN is back: notices sent meanwhile are lost, so every stream reads. One whose
   * cursor is beyond the user's on a new history (a failover lost the last commits) is sent
   * `reload` by that read.
   */
  function onListen(): void {
    for (const subscribers of byUser.values()) for (const subscriber of subscribers) void read(subscriber)
  }

  function open(request: UserStreamRequest): Promise<Refusal | undefined> {
    // The closures below outlive the request: they keep `after` and `key`, not `request`.
    const { after } = request
    const key = userKey(request.identity.userId)
    let startAt = 0
    let reload: 'cursor_too_old' | 'history_changed' | undefined
    return streams.open<Subscriber>(
      { ...request, log: { userStream: true, resume: after } },
      {
        async create(base) {
          // The starting point is read before the headers go out: an event that commits
          // once the client sees the stream open is after it, so it is sent. A resume
          // that cannot be served (its events swept, or beyond every event the database
          // holds) is told so and starts there too, not wherever a later read finds the
          // user's cursor.
          const feed = await userFeedCursors(db, base.userId)
          reload = after === undefined ? undefined : unreadableAfter(after, feed)
          startAt = after === undefined || reload ? feed.last : after
          const subscriber: Subscriber = Object.assign(base, {
            delivered: undefined,
            reading: false,
            again: false,
            rooms: new Set<number>(),
            sentCounts: new Map<number, string>(),
            detach() {
              const subscribers = byUser.get(key)
              subscribers?.delete(subscriber)
              if (subscribers?.size === 0) byUser.delete(key)
              for (const roomId of [...subscriber.rooms]) unfollow(subscriber, roomId)
            },
          })
          return subscriber
        },
        async start(subscriber) {
          // Registered before reading from the starting point, so no notice is missed meanwhile.
          let subscribers = byUser.get(key)
          if (!subscribers) byUser.set(key, (subscribers = new Set()))
          subscribers.add(subscriber)
          const rooms = await memberRooms(db, subscriber.userId)
          if (subscriber.closed) return
          for (const roomId of rooms) follow(subscriber, roomId)
          if (reload)
            streams.send(subscriber, encodeEventFrame('reload', { reason: reload, cursor: startAt }))
          subscriber.delivered = startAt
          await read(subscriber)
        },
      },
    )
  }

  /** What the user feed hears on the process's LISTEN connection. */
  const listens: ListenerConsumer = {
    channels: {
      [channels.users]: onNotice,
      // A room's history changed, or (below) a read mark moved: its followers' counts may have.
      [channels.messages]: (payload) => {
        const notice = byRoom.size > 0 ? parseMessageNotice(payload) : undefined
        if (notice) onRoomActivity(notice.roomId)
      },
      [channels.events]: (payload) => {
        const event = byRoom.size > 0 ? parseRoomEvent(payload) : undefined
        if (event?.event === 'read') onRoomActivity(event.roomId)
      },
    },
    onListen,
  }

  /** Stops the unread counts; the streams themselves are closed with every other. */
  function stop(): void {
    clearTimeout(unreadTimer)
  }

  const openStreams = () => [...byUser.values()].reduce((sum, subscribers) => sum + subscribers.size, 0)

  return { open, listens, stop, openStreams }
}

export type UserFeed = ReturnType<typeof createUserFeed>
