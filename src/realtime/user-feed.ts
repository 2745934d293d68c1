import { createHash } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Logger } from 'pino'
import type { Identity } from '../auth/jwt.js'
import { userCursor, userEventsAfter } from '../chat/user-events.js'
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
  let stopping = false

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
      admission.release(identity.userId)
      logger.info({ requestId, userId: identity.userId, ms: Date.now() - opened }, 'user stream closed')
    })
    const forget = () => end(subscriber)
    res.on('error', forget)
    req.on('error', forget)
    openEventStream(res, options.retryMs)
    try {
      subscriber.delivered = request.after ?? (await userCursor(db, identity.userId))
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
    const frame = encodeEventFrame('shutdown', { reason: 'server_shutdown' }, options.retryMs)
    for (const subscribers of byUser.values()) for (const subscriber of subscribers) end(subscriber, frame)
  }

  const openStreams = () => [...byUser.values()].reduce((sum, subscribers) => sum + subscribers.size, 0)

  return { open, onNotice, onListen, stop, openStreams }
}

export type UserFeed = ReturnType<typeof createUserFeed>
