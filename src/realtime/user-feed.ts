import { createHash } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Logger } from 'pino'
import type { Identity } from '../auth/jwt.js'
import { memberRooms, unreadCounts, userCursor, userEventsAfter } from '../chat/user-events.js'
import type { Db } from '../db/client.js'
import { parseUserNotice } from '../db/notify.js'
import type { Admission, Refusal } from './admission.js'
import { encodeEventFrame, encodeFrame, openEventStream, PING_FRAME } from './sse.js'

export interface UserFeedOptions {
  db: Db
  admission: Admission
  logger: Logger
  heartbeatMs: number
  retryMs: number
  /** A stream whose unsent bytes pass this is closed; its client resumes by Last-Event-ID. */
  maxBufferBytes: number
  /** Events read per query. */
  batchSize?: number
  /** How long room activity is gathered before the unread counts it changed are read. */
  unreadWaitMs?: number
}

interface Subscriber {
  res: ServerResponse
  identity: Identity
  /** The cursor of the last event written, or undefined until the starting point is known. */
  delivered: number | undefined
  reading: boolean
  /** A notice arrived while reading: read again once done. */
  again: boolean
  closed: boolean
  /** The rooms the user is a member of, whose unread counts the stream follows. */
  rooms: Set<number>
  /** Per room, the counts last sent, "unread:mentions". */
  sentCounts: Map<number, string>
}

export interface UserStreamRequest {
  req: IncomingMessage
  res: ServerResponse
  identity: Identity
  requestId: string
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
  const { db, admission, logger } = options
  const batchSize = options.batchSize ?? 200
  const byUser = new Map<string, Set<Subscriber>>()
  const byRoom = new Map<number, Set<Subscriber>>()
  const unreadWaitMs = options.unreadWaitMs ?? 100
  // Rooms with activity not yet read back into unread counts, and the timer that will.
  const active = new Set<number>()
  let unreadTimer: NodeJS.Timeout | undefined
  let stopping = false

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

  /** A room's history changed or a read mark moved in it: its followers' counts may have. */
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
        const { userId } = subscriber.identity
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
          write(subscriber, encodeFrame('unread', JSON.stringify(data)))
        }
      }
    } catch (error) {
      logger.warn({ err: error }, 'unread counts could not be read')
    }
  }

  const heartbeat = setInterval(() => {
    const now = Date.now()
    for (const subscribers of byUser.values()) {
      for (const subscriber of subscribers) {
        if (subscriber.identity.expiresAt <= now) {
          end(subscriber, encodeEventFrame('expired', { reason: 'token_expired' }))
        } else write(subscriber, PING_FRAME)
      }
    }
  }, options.heartbeatMs)
  heartbeat.unref()

  function write(subscriber: Subscriber, frame: string | Buffer): void {
    if (subscriber.closed) return
    subscriber.res.write(frame)
    if (subscriber.res.writableLength > options.maxBufferBytes) {
      logger.warn({ userId: subscriber.identity.userId }, 'user stream too far behind; closing it')
      end(subscriber)
    }
  }

  function end(subscriber: Subscriber, frame?: Buffer): void {
    if (subscriber.closed) return
    if (frame) subscriber.res.write(frame)
    subscriber.closed = true
    subscriber.res.end()
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
          const page = await userEventsAfter(db, subscriber.identity, subscriber.delivered, batchSize)
          for (const event of page.events) {
            write(subscriber, encodeFrame(event.event, JSON.stringify(event.data), event.cursor))
            if (event.event === 'added') follow(subscriber, event.data.room.id)
            if (event.event === 'removed') unfollow(subscriber, event.data.room_id)
          }
          subscriber.delivered = page.reached
          more = page.more
        }
      } while (subscriber.again && !subscriber.closed)
    } catch (error) {
      // The client resumes from its Last-Event-ID, the last frame it received.
      logger.warn({ err: error, userId: subscriber.identity.userId }, 'user stream could not read its events')
      end(subscriber)
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

  /** After LISTEN is back: notices sent meanwhile are lost, so every stream reads. */
  function onListen(): void {
    for (const subscribers of byUser.values()) for (const subscriber of subscribers) void read(subscriber)
  }

  async function open(request: UserStreamRequest): Promise<Refusal | undefined> {
    const { req, res, identity, requestId } = request
    if (stopping) return 'server_full'
    const refusal = admission.admit(identity.userId)
    if (refusal) return refusal
    if (res.destroyed || !res.socket || res.socket.destroyed) {
      admission.release(identity.userId)
      return undefined
    }
    const key = userKey(identity.userId)
    const subscriber: Subscriber = {
      res,
      identity,
      delivered: undefined,
      reading: false,
      again: false,
      closed: false,
      rooms: new Set(),
      sentCounts: new Map(),
    }
    // Registered before the starting point is read, so no notice is missed in between.
    let subscribers = byUser.get(key)
    if (!subscribers) byUser.set(key, (subscribers = new Set()))
    subscribers.add(subscriber)
    const opened = Date.now()
    logger.info({ requestId, userId: identity.userId, resume: request.after }, 'user stream opened')
    res.on('close', () => {
      subscriber.closed = true
      subscribers.delete(subscriber)
      if (subscribers.size === 0 && byUser.get(key) === subscribers) byUser.delete(key)
      for (const roomId of [...subscriber.rooms]) unfollow(subscriber, roomId)
      admission.release(identity.userId)
      logger.info({ requestId, userId: identity.userId, ms: Date.now() - opened }, 'user stream closed')
    })
    const forget = () => end(subscriber)
    res.on('error', forget)
    req.on('error', forget)
    openEventStream(res, options.retryMs)
    try {
      const [cursor, rooms] = await Promise.all([
        request.after ?? userCursor(db, identity.userId),
        memberRooms(db, identity.userId),
      ])
      if (!subscriber.closed) for (const roomId of rooms) follow(subscriber, roomId)
      subscriber.delivered = cursor
      await read(subscriber)
    } catch (error) {
      logger.warn({ err: error, userId: identity.userId }, 'user stream could not start')
      end(subscriber)
    }
    return undefined
  }

  /** Ends every stream with `event: shutdown`, so clients reconnect elsewhere. */
  function stop(): void {
    stopping = true
    clearInterval(heartbeat)
    clearTimeout(unreadTimer)
    const frame = encodeEventFrame('shutdown', { reason: 'server_shutdown' }, options.retryMs)
    for (const subscribers of byUser.values()) for (const subscriber of subscribers) end(subscriber, frame)
  }

  const openStreams = () => [...byUser.values()].reduce((sum, subscribers) => sum + subscribers.size, 0)

  return { open, onNotice, onListen, onRoomActivity, stop, openStreams }
}

export type UserFeed = ReturnType<typeof createUserFeed>
