import type { ServerResponse } from 'node:http'
import { eq } from 'drizzle-orm'
import type { Logger } from 'pino'
import { fetchMessagesAfter } from '../chat/messages.js'
import type { Db } from '../db/client.js'
import { rooms as roomsTable } from '../db/schema.js'
import { createListener } from './listener.js'
import { encodeEventFrame, encodeMessageFrame, PING_FRAME } from './sse.js'

export const MESSAGES_CHANNEL = 'parley_messages'
export const MEMBERS_CHANNEL = 'parley_members'

/** One open stream. Created by the stream route, owned by the hub until it closes. */
export interface Subscriber {
  res: ServerResponse
  roomId: number
  userId: string
  isAdmin: boolean
  /** Token expiry in epoch ms: the stream is told `expired` and closed then. */
  expiresAt: number
  bytes: number
  closed: boolean
}

interface Room {
  id: number
  subscribers: Set<Subscriber>
  /** The highest seq delivered to `subscribers`; -1 until read from the database. */
  cursor: number
  ready: Promise<void>
  /** Subscribers replaying history before they join `subscribers`; the room stays while any do. */
  joining: Set<Subscriber>
  /** A notification arrived that the running or next fetch must cover. */
  dirty: boolean
  fetching: boolean
}

export interface HubOptions {
  db: Db
  databaseUrl: string
  logger: Logger
  heartbeatMs: number
  probeMs: number
  /** A subscriber whose unsent bytes exceed this is disconnected; it resumes by Last-Event-ID. */
  maxBufferBytes?: number
  batchSize?: number
  /** Called once per delivered message with seconds since its created_at. */
  observeLag?: (seconds: number) => void
  /** Whether the subscriber may still read the room; asked when a member is removed. */
  mayRead: (roomId: number, subscriber: Subscriber) => Promise<boolean>
}

export type Hub = ReturnType<typeof createHub>

/**
 * Rooms → subscribers, fed by the one LISTEN connection. A notification only says "room R
 * has news": the hub reads the rows after the room's cursor once, builds each frame once
 * and writes the same bytes to every subscriber, so the database stays the source of truth
 * and a lost notification only delays delivery until the next one or a reconnect.
 */
export function createHub(options: HubOptions) {
  const { db, logger } = options
  const batchSize = options.batchSize ?? 500
  const maxBufferBytes = options.maxBufferBytes ?? 4 * 1024 * 1024
  const rooms = new Map<number, Room>()
  const counters = { notifications: 0, delivered: 0, dropped: 0, reconnects: 0 }
  let timers: NodeJS.Timeout[] = []
  let stopped = false

  const listener = createListener({
    url: options.databaseUrl,
    channels: { [MESSAGES_CHANNEL]: onNotify, [MEMBERS_CHANNEL]: (payload) => void onMemberRemoved(payload) },
    probeMs: options.probeMs,
    onListen: () => {
      // Whatever was committed while nobody listened is read from each room's cursor on.
      for (const room of rooms.values()) markDirty(room)
    },
    onDown: (error) => {
      counters.reconnects++
      logger.warn({ err: error.message }, 'listener connection lost; reconnecting')
    },
  })

  function onNotify(payload: string): void {
    counters.notifications++
    const colon = payload.indexOf(':')
    const room = rooms.get(Number(payload.slice(0, colon)))
    if (room && Number(payload.slice(colon + 1)) > room.cursor) markDirty(room)
  }

  /** Closes the removed user's streams of the room, on this instance, unless they may still read it. */
  async function onMemberRemoved(payload: string): Promise<void> {
    const colon = payload.indexOf(':')
    const room = rooms.get(Number(payload.slice(0, colon)))
    const userId = payload.slice(colon + 1)
    if (!room) return
    const affected = [...room.subscribers, ...room.joining].filter(
      (subscriber) => subscriber.userId === userId,
    )
    if (affected.length === 0) return
    const frame = encodeEventFrame('removed', { room_id: room.id })
    for (const subscriber of affected) {
      const allowed = await options.mayRead(room.id, subscriber).catch(() => false)
      if (!allowed) close(subscriber, frame)
    }
  }

  function markDirty(room: Room): void {
    room.dirty = true
    if (!room.fetching && room.cursor >= 0) void flush(room)
  }

  /** Fetches and delivers until the room has no news; notifications during a fetch coalesce. */
  async function flush(room: Room): Promise<void> {
    room.fetching = true
    try {
      while (room.dirty) {
        room.dirty = false
        const rows = await fetchMessagesAfter(db, room.id, room.cursor, batchSize)
        if (rows.length === batchSize) room.dirty = true
        const last = rows.at(-1)
        if (!last) continue
        let frames = ''
        for (const row of rows) frames += encodeMessageFrame(row)
        const bytes = Buffer.from(frames)
        for (const subscriber of room.subscribers) send(subscriber, bytes)
        counters.delivered += rows.length * room.subscribers.size
        room.cursor = last.seq
        if (options.observeLag) {
          const now = Date.now()
          for (const row of rows) options.observeLag((now - row.createdAt.getTime()) / 1000)
        }
      }
    } catch (error) {
      logger.warn({ err: error, roomId: room.id }, 'fetching new messages failed; retrying')
      room.dirty = true
      const retry = setTimeout(() => markDirty(room), 1_000)
      retry.unref()
    } finally {
      room.fetching = false
      forgetIfEmpty(room)
    }
  }

  /** Writes without awaiting: one slow client must never hold up the room. */
  function send(subscriber: Subscriber, bytes: Buffer): void {
    if (subscriber.closed) return
    if (subscriber.res.writableLength > maxBufferBytes) {
      counters.dropped++
      // Not end(): it waits for the client to read what is queued, which a stalled client never
      // does, so the buffer, the socket and its admission slot would be held forever.
      unsubscribe(subscriber)
      subscriber.res.destroy()
      return
    }
    subscriber.bytes += bytes.length
    subscriber.res.write(bytes)
  }

  function openRoom(id: number): Room {
    const room: Room = {
      id,
      subscribers: new Set(),
      cursor: -1,
      ready: Promise.resolve(),
      joining: new Set(),
      dirty: false,
      fetching: false,
    }
    // The room is registered before its cursor is read, so a notification racing the read
    // marks it dirty instead of being dropped.
    room.ready = db
      .select({ lastSeq: roomsTable.lastSeq })
      .from(roomsTable)
      .where(eq(roomsTable.id, id))
      .then(([row]) => {
        room.cursor = row?.lastSeq ?? 0
        if (room.dirty) void flush(room)
      })
    rooms.set(id, room)
    return room
  }

  function forgetIfEmpty(room: Room): void {
    if (
      room.subscribers.size === 0 &&
      room.joining.size === 0 &&
      !room.fetching &&
      rooms.get(room.id) === room
    ) {
      rooms.delete(room.id)
    }
  }

  /**
   * Starts delivery to `subscriber`. With `afterSeq`, first replays the room's messages after
   * it from the database, then joins live delivery at exactly the room's cursor: the check
   * and the join happen in one tick, and the cursor only moves together with a write to
   * every joined subscriber, so nothing is skipped or sent twice.
   */
  async function subscribe(subscriber: Subscriber, afterSeq?: number): Promise<void> {
    if (stopped) throw new Error('the hub is stopped')
    const room = rooms.get(subscriber.roomId) ?? openRoom(subscriber.roomId)
    room.joining.add(subscriber)
    try {
      await room.ready
      let cursor = afterSeq ?? room.cursor
      while (!subscriber.closed && cursor < room.cursor) {
        const target = room.cursor
        const rows = await fetchMessagesAfter(db, room.id, cursor, batchSize, target)
        let frames = ''
        for (const row of rows) frames += encodeMessageFrame(row)
        if (frames) send(subscriber, Buffer.from(frames))
        cursor = rows.length === batchSize ? (rows.at(-1)?.seq ?? target) : target
      }
      // No await between the loop's last check and this line.
      room.joining.delete(subscriber)
      if (!subscriber.closed) room.subscribers.add(subscriber)
    } catch (error) {
      if (rooms.get(room.id) === room && room.cursor < 0) rooms.delete(room.id)
      throw error
    } finally {
      room.joining.delete(subscriber)
      forgetIfEmpty(room)
    }
  }

  function unsubscribe(subscriber: Subscriber): void {
    subscriber.closed = true
    const room = rooms.get(subscriber.roomId)
    if (!room) return
    room.subscribers.delete(subscriber)
    forgetIfEmpty(room)
  }

  /** Ends a stream from the server side, optionally with a last event. */
  function close(subscriber: Subscriber, lastFrame?: Buffer): void {
    if (subscriber.closed) return
    unsubscribe(subscriber)
    if (lastFrame) subscriber.res.end(lastFrame)
    else subscriber.res.end()
  }

  function* allSubscribers(): Generator<Subscriber> {
    for (const room of rooms.values()) yield* room.subscribers
  }

  // One timer each for every subscriber: heartbeats, and closing streams whose token expired.
  function startTimers(): void {
    const heartbeat = setInterval(() => {
      for (const subscriber of allSubscribers()) send(subscriber, PING_FRAME)
    }, options.heartbeatMs)
    const expiry = setInterval(() => {
      const now = Date.now()
      const frame = encodeEventFrame('expired', { reason: 'token_expired' })
      for (const subscriber of [...allSubscribers()]) {
        if (subscriber.expiresAt <= now) close(subscriber, frame)
      }
    }, 1_000)
    heartbeat.unref()
    expiry.unref()
    timers = [heartbeat, expiry]
  }

  return {
    async start(): Promise<void> {
      startTimers()
      await listener.start()
    },
    /** Tells every stream to reconnect elsewhere, closes them and releases the listener. */
    async stop(retryMs = 1_000): Promise<void> {
      stopped = true
      for (const timer of timers) clearInterval(timer)
      const frame = encodeEventFrame('shutdown', { reason: 'server_shutdown' }, retryMs)
      for (const subscriber of [...allSubscribers()]) close(subscriber, frame)
      await listener.stop()
    },
    subscribe,
    unsubscribe,
    close,
    isListening: () => listener.isListening(),
    subscriberCount: (roomId: number) => rooms.get(roomId)?.subscribers.size ?? 0,
    stats() {
      let subscribers = 0
      for (const room of rooms.values()) subscribers += room.subscribers.size
      return { rooms: rooms.size, subscribers, listening: listener.isListening(), ...counters }
    },
    /** The `limit` rooms with the most subscribers. */
    topRooms(limit = 10) {
      return [...rooms.values()]
        .map((room) => ({ roomId: room.id, subscribers: room.subscribers.size }))
        .sort((a, b) => b.subscribers - a.subscribers)
        .slice(0, limit)
    },
  }
}
