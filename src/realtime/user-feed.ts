import { createHash } from 'node:crypto'
import type { Logger } from 'pino'
import {
  memberRooms,
  type UserEventKinds,
  unreadableAfter,
  userEventsAfter,
  userFeedCursors,
} from '../chat/user-events.js'
import type { Db } from '../db/client.js'
import { channels, parseMessageNotice, parseRoomEvent, parseUserNotice } from '../db/notify.js'
import type { Refusal } from './admission.js'
import type { ListenerConsumer } from './listener.js'
import { encodeUserPosition, USER_HOME } from '../stream-cursor.js'
import { encodeEventFrame, encodeFrame } from './sse.js'
import { type CountedStream, createUnreadCounts } from './unread-counts.js'
import type { StreamRequest, Streams } from './streams.js'

export interface UserFeedOptions {
  db: Db
  logger: Logger
  /** The process's streams: a user stream is admitted, written, kept alive and closed there. */
  streams: Streams
  /**
   * Over shards: every shard, by catalog id. Each numbers the events of its rooms, and
   * DATABASE_URL then numbers only the user's own (a webhook disabled).
   */
  shards?: () => Promise<{ id: number; db: Db }[]>
  /** Events read per query. */
  batchSize?: number
  /** How long room activity is gathered before the unread counts it changed are read. */
  unreadWaitMs?: number
}

/** Where a stream stands on one place that numbers the user's events. */
interface Place {
  /** The cursor of the last event written there. */
  delivered: number
  reading: boolean
  /** A notice arrived while reading: read again once done. */
  again: boolean
}

interface Subscriber extends CountedStream {
  /** By place (stream-cursor.ts: USER_HOME, or a shard's id); empty until the starting point is known. */
  places: Map<number, Place>
  started: boolean
}

export interface UserStreamRequest extends Omit<StreamRequest, 'log'> {
  /** Replay the user's events after this position (parseUserPosition); without it the stream starts live. */
  after?: Map<number, number>
}

/** A place's database and which of its events are the feed's. */
interface Source {
  key: number
  db: Db
  kinds: UserEventKinds
}

export const userKey = (userId: string) => createHash('md5').update(userId).digest('hex')

/**
 * GET /me/stream: each user's own events across rooms (mentions, direct messages, being
 * added or removed), numbered per user by the database and announced on parley_users.
 * A notice only says "this user has events up to N"; each subscriber reads what it has not
 * written yet, one read at a time per place, so frames go out in cursor order, each once,
 * whatever order notices arrive in and however many are lost while the listener is down.
 *
 * Over shards each shard numbers the events of its rooms, and the stream's position holds
 * one cursor per place (stream-cursor.ts): order holds within a shard, as it holds within
 * a room, and a resume replays each place after its own cursor.
 */
export function createUserFeed(options: UserFeedOptions) {
  const { db, logger, streams } = options
  const batchSize = options.batchSize ?? 200
  const places = options.shards ? 'shards' : 'one'
  const home: Source = { key: USER_HOME, db, kinds: options.shards ? 'own' : 'all' }
  const shardSource = (shard: { id: number; db: Db }): Source => ({
    key: shard.id,
    db: shard.db,
    kinds: 'rooms',
  })
  const byUser = new Map<string, Set<Subscriber>>()
  const unread = createUnreadCounts({ streams, logger, waitMs: options.unreadWaitMs ?? 100 })

  /**
   * DATABASE_URL and every shard the catalog holds now (one it removed is not asked again),
   * each with the user's cursors there.
   */
  async function feedsOf(userId: string) {
    const every = options.shards ? [home, ...(await options.shards()).map(shardSource)] : [home]
    const feeds = await Promise.all(every.map((source) => userFeedCursors(source.db, userId)))
    return every.map((source, index) => ({ source, feed: feeds[index]! }))
  }

  /** What the stream has delivered at each place, with `cursor` at place `key` if given. */
  function deliveredOf(subscriber: Subscriber, key?: number, cursor?: number): Map<number, number> {
    const position = new Map([...subscriber.places].map(([place, { delivered }]) => [place, delivered]))
    if (key !== undefined && cursor !== undefined) position.set(key, cursor)
    return position
  }

  /** A position as `reload` and GET /me/cursor give it: the lone cursor on one database, the text over shards. */
  function cursorOf(position: ReadonlyMap<number, number>): number | string {
    const text = encodeUserPosition(position, places)
    return places === 'one' ? Number(text) : text
  }

  /**
   * Writes what place `source` holds for the subscriber past its cursor there. A place the
   * stream has no cursor for (a shard added since it opened) is read from its start.
   */
  async function read(subscriber: Subscriber, source: Source): Promise<void> {
    if (!subscriber.started) return
    let place = subscriber.places.get(source.key)
    if (!place) subscriber.places.set(source.key, (place = { delivered: 0, reading: false, again: false }))
    if (place.reading) {
      place.again = true
      return
    }
    place.reading = true
    try {
      do {
        place.again = false
        let more = true
        while (more && !subscriber.closed) {
          const page = await userEventsAfter(source.db, subscriber, place.delivered, batchSize, source.kinds)
          if (page.tooOld) {
            // What happened since its cursor cannot be read: it goes on from the present.
            place.delivered = page.present
            const reload = { reason: page.reason, cursor: cursorOf(deliveredOf(subscriber)) }
            streams.send(subscriber, encodeEventFrame('reload', reload))
            continue
          }
          for (const event of page.events) {
            const id = encodeUserPosition(deliveredOf(subscriber, source.key, event.cursor), places)
            streams.send(subscriber, encodeFrame(event.event, JSON.stringify(event.data), id))
            if (event.event === 'added') unread.follow(subscriber, event.data.room.id)
            if (event.event === 'removed') unread.unfollow(subscriber, event.data.room_id)
          }
          place.delivered = page.reached
          more = page.more
        }
      } while (place.again && !subscriber.closed)
    } catch (error) {
      // The client resumes from its Last-Event-ID, the last frame it received.
      logger.warn({ err: error, userId: subscriber.userId }, 'user stream could not read its events')
      streams.close(subscriber)
    } finally {
      place.reading = false
    }
  }

  function onNotice(source: Source, payload: string): void {
    const notice = parseUserNotice(payload)
    const subscribers = notice && byUser.get(notice.userKey)
    if (!subscribers) return
    for (const subscriber of subscribers) {
      const delivered = subscriber.places.get(source.key)?.delivered
      if (delivered === undefined || delivered < notice.cursor) void read(subscriber, source)
    }
  }

  /**
   * After LISTEN is back: notices sent meanwhile are lost, so every stream reads that place.
   * One whose cursor is beyond the user's on a new history (a failover lost the last commits)
   * is sent `reload` by that read.
   */
  function onListen(source: Source): void {
    for (const subscribers of byUser.values()) {
      for (const subscriber of subscribers) void read(subscriber, source)
    }
  }

  function open(request: UserStreamRequest): Promise<Refusal | undefined> {
    // The closures below outlive the request: they keep `after` and `key`, not `request`.
    const { after } = request
    const key = userKey(request.identity.userId)
    let reload: 'cursor_too_old' | 'history_changed' | undefined
    let opening: Source[] = []
    return streams.open<Subscriber>(
      { ...request, log: { userStream: true, resume: after && encodeUserPosition(after, places) } },
      {
        async create(base) {
          // The starting point is read before the headers go out: an event that commits
          // once the client sees the stream open is after it, so it is sent. A resume
          // that cannot be served (its events swept, or beyond every event the database
          // holds) is told so and starts there too, not wherever a later read finds the
          // user's cursor. A place the position does not name is read from its start.
          const feeds = await feedsOf(base.userId)
          opening = feeds.map(({ source }) => source)
          const subscriber: Subscriber = Object.assign(base, {
            places: new Map<number, Place>(),
            started: false,
            rooms: new Set<number>(),
            sentCounts: new Map<number, string>(),
            detach() {
              const subscribers = byUser.get(key)
              subscribers?.delete(subscriber)
              if (subscribers?.size === 0) byUser.delete(key)
              for (const roomId of [...subscriber.rooms]) unread.unfollow(subscriber, roomId)
            },
          })
          for (const { source, feed } of feeds) {
            const asked = after && (after.get(source.key) ?? 0)
            const refused = asked === undefined ? undefined : unreadableAfter(asked, feed)
            reload ??= refused
            const delivered = asked === undefined || refused ? feed.last : asked
            subscriber.places.set(source.key, { delivered, reading: false, again: false })
          }
          return subscriber
        },
        async start(subscriber) {
          // Registered before reading from the starting point, so no notice is missed meanwhile.
          let subscribers = byUser.get(key)
          if (!subscribers) byUser.set(key, (subscribers = new Set()))
          subscribers.add(subscriber)
          const withRooms = opening.filter((source) => source.kinds !== 'own')
          const rooms = await Promise.all(
            withRooms.map((source) => memberRooms(source.db, subscriber.userId)),
          )
          if (subscriber.closed) return
          for (const roomId of rooms.flat()) unread.follow(subscriber, roomId)
          if (reload) {
            streams.send(
              subscriber,
              encodeEventFrame('reload', { reason: reload, cursor: cursorOf(deliveredOf(subscriber)) }),
            )
          }
          subscriber.started = true
          await Promise.all(opening.map((source) => read(subscriber, source)))
        },
      },
    )
  }

  /**
   * What a LISTEN connection on `source` feeds: notices of the user events it numbers, and,
   * where rooms live, their activity (a history changed, a read mark moved), which may
   * change their followers' unread counts.
   */
  function listensTo(source: Source): ListenerConsumer {
    const onUsers = { [channels.users]: (payload: string) => onNotice(source, payload) }
    const roomActivity = {
      [channels.messages]: (payload: string) => {
        const notice = unread.following() ? parseMessageNotice(payload) : undefined
        if (notice) unread.touched(source.db, notice.roomId)
      },
      [channels.events]: (payload: string) => {
        const event = unread.following() ? parseRoomEvent(payload) : undefined
        if (event?.event === 'read') unread.touched(source.db, event.roomId)
      },
    }
    const channelsHeard = source.kinds === 'own' ? onUsers : { ...onUsers, ...roomActivity }
    return { channels: channelsHeard, onListen: () => onListen(source) }
  }

  /** What a shard's LISTEN connection feeds (src/shards/listeners.ts). */
  function listensOn(shard: { id: number; db: Db }): ListenerConsumer {
    return listensTo(shardSource(shard))
  }

  /**
   * The user's position now: open GET /me/stream with it as Last-Event-ID and nothing after
   * it is missed. The lone cursor on one database.
   */
  async function position(userId: string): Promise<number | string> {
    return cursorOf(new Map((await feedsOf(userId)).map(({ source, feed }) => [source.key, feed.last])))
  }

  const openStreams = () => [...byUser.values()].reduce((sum, subscribers) => sum + subscribers.size, 0)

  /** Stops the unread counts; the streams themselves are closed with every other. */
  return { open, listens: listensTo(home), listensOn, position, stop: unread.stop, openStreams }
}

export type UserFeed = ReturnType<typeof createUserFeed>
