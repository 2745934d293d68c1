import { eq } from 'drizzle-orm'
import type { Logger } from 'pino'
import { type ChangePage, fetchChangesAfter } from '../chat/changes.js'
import type { Db } from '../db/client.js'
import { channels, parseMemberNotice, parseMessageNotice, parseRoomEvent } from '../db/notify.js'
import { rooms as roomsTable } from '../db/schema.js'
import { createListener } from './listener.js'
import { createRecentChanges, type RecentChanges } from './recent.js'
import { encodeEventFrame, type HistoryFrame, toHistoryFrame } from './sse.js'
import { createStreamWriter, type Stream, startStreamTimers } from './streams.js'

interface Room {
  id: number
  streams: Set<Stream>
  /** The change cursor delivered to `streams`; -1 until read from the database. */
  cursor: number
  ready: Promise<void>
  /** Streams replaying history before they join `streams`; the room stays while any do. */
  joining: Set<Stream>
  /** A notification arrived that the running or next fetch must cover. */
  dirty: boolean
  fetching: boolean
  /** Known once the cursor is read; only public rooms are named in metrics. */
  public: boolean
  /** The newest delivered changes, which resumes inside it are served from; empty until the cursor is read. */
  recent: RecentChanges
  /** Replay reads in flight, by the cursor they read after: resumes from the same point share one. */
  replays: Map<number, Promise<ReplayPage>>
  /** Called when the running fetch loop ends: true when it read everything up to its end. */
  fetched: ((ok: boolean) => void)[]
}

interface ReplayPage {
  frames: HistoryFrame[]
  through: number
}

export interface HubOptions {
  db: Db
  databaseUrl: string
  logger: Logger
  heartbeatMs: number
  probeMs: number
  /** A stream whose unsent bytes exceed this is disconnected; it resumes by Last-Event-ID. */
  maxBufferBytes: number
  batchSize?: number
  /** Called once per delivered new message with seconds since its created_at. */
  observeLag?: (seconds: number) => void
  /**
   * Whether the stream's user may still read the room: asked when a member is removed, and
   * before a private room's first frame is written to a stream joining it.
   */
  mayRead: (roomId: number, stream: Stream) => Promise<boolean>
  /**
   * Others served by the same LISTEN connection (the process holds one): their channels,
   * and what they do each time LISTEN is established, when notices may have been lost.
   */
  alsoListening?: { channels: Record<string, (payload: string) => void>; onListen: () => void }
  /** Told of every room whose history changed or whose read marks moved, as the listener hears it. */
  onRoomActivity?: (roomId: number) => void
}

export type Hub = ReturnType<typeof createHub>

/**
 * Rooms → streams, fed by the one LISTEN connection. A notification only says "room R
 * has news": the hub reads the rows after the room's cursor once, builds each frame once
 * and writes the same bytes to every stream, so the database stays the source of truth
 * and a lost notification only delays delivery until the next one or a reconnect.
 */
export function createHub(options: HubOptions) {
  const { db, logger } = options
  const batchSize = options.batchSize ?? 500
  // A quarter of the buffer bound, so a resume from the window is one write well within it.
  const recentBytes = Math.min(256 * 1024, Math.floor(options.maxBufferBytes / 4))
  const rooms = new Map<number, Room>()
  const streams = new Set<Stream>()
  const counters = {
    notifications: 0,
    delivered: 0,
    dropped: 0,
    reconnects: 0,
    refused: 0,
    /** Resumes served from a room's recent window, and replay queries made for the others. */
    resumedFromMemory: 0,
    replayQueries: 0,
  }
  const writer = createStreamWriter({
    maxBufferBytes: options.maxBufferBytes,
    onDrop: (stream) => {
      counters.dropped++
      unsubscribe(stream)
    },
  })
  let stopTimers = () => {}
  let stopped = false
  /** Set from a (re-)LISTEN until every private room's streams have been checked again. */
  let recheckingAccess = false
  let recheckRound = 0

  const listener = createListener({
    url: options.databaseUrl,
    channels: {
      [channels.messages]: onMessage,
      [channels.members]: (payload) => void onMemberRemoved(payload),
      [channels.events]: onRoomEvent,
      ...options.alsoListening?.channels,
    },
    probeMs: options.probeMs,
    onListen: () => {
      void catchUp()
      options.alsoListening?.onListen()
    },
    onDown: (error) => {
      counters.reconnects++
      logger.warn({ err: error.message }, 'listener connection lost; reconnecting')
    },
  })

  /**
   * Whatever was committed while nobody listened is read from each room's cursor on. So
   * were removals, whose notifications were lost: before the catch-up delivers anything,
   * every stream of a private room is checked again, and closed if it may no longer read.
   */
  async function catchUp(): Promise<void> {
    const round = ++recheckRound
    recheckingAccess = true
    try {
      await recheckPrivateStreams()
    } finally {
      if (round === recheckRound) {
        recheckingAccess = false
        for (const room of rooms.values()) markDirty(room)
      }
    }
  }

  async function recheckPrivateStreams(): Promise<void> {
    // One question per (room, user) however many tabs; an admin may read every room.
    const answers = new Map<string, Promise<boolean>>()
    const checks = [...streams].flatMap((stream) =>
      (stream.guarded ?? []).map(async (roomId) => {
        const key = `${roomId}:${stream.isAdmin ? '' : stream.userId}`
        let answer = answers.get(key)
        if (!answer) {
          // A check that fails closes the stream: it reconnects and is checked on the way in.
          answer = options.mayRead(roomId, stream).catch(() => false)
          answers.set(key, answer)
        }
        if (!(await answer)) closeRemoved(stream, roomId)
      }),
    )
    await Promise.all(checks)
  }

  function onMessage(payload: string): void {
    counters.notifications++
    const notice = parseMessageNotice(payload)
    if (notice) options.onRoomActivity?.(notice.roomId)
    const room = notice && rooms.get(notice.roomId)
    if (room && notice.cursor > room.cursor) markDirty(room)
  }

  function onRoomEvent(payload: string): void {
    const event = parseRoomEvent(payload)
    if (!event) {
      counters.refused++
      return
    }
    if (event.event === 'read') options.onRoomActivity?.(event.roomId)
    const room = rooms.get(event.roomId)
    if (!room) return
    // While access is being checked again, a private room's events wait for nobody.
    const audience = recheckingAccess
      ? [...room.streams].filter((stream) => !stream.guarded?.includes(room.id))
      : room.streams
    writer.broadcast(audience, encodeEventFrame(event.event, event.data), event.exceptUserId)
  }

  /** Closes the removed user's streams of the room, on this instance, unless they may still read it. */
  async function onMemberRemoved(payload: string): Promise<void> {
    const notice = parseMemberNotice(payload)
    const room = notice && rooms.get(notice.roomId)
    if (!room) return
    const { userId } = notice
    const affected = [...room.streams, ...room.joining].filter((stream) => stream.userId === userId)
    const frame = encodeEventFrame('removed', { room_id: room.id })
    for (const stream of affected) {
      const allowed = await options.mayRead(room.id, stream).catch(() => false)
      if (!allowed) close(stream, frame)
    }
  }

  function markDirty(room: Room): void {
    room.dirty = true
    if (!room.fetching && room.cursor >= 0 && !recheckingAccess) void flush(room)
  }

  /** Fetches and delivers until the room has no news; notifications during a fetch coalesce. */
  async function flush(room: Room): Promise<void> {
    room.fetching = true
    try {
      while (room.dirty) {
        room.dirty = false
        const page = await fetchChangesAfter(db, room.id, room.cursor, batchSize)
        if (page.full) room.dirty = true
        const frames = page.changes.map(toHistoryFrame)
        writer.deliver(room.streams, room.id, frames)
        room.recent.append(frames)
        counters.delivered += frames.length * room.streams.size
        room.cursor = page.through
        if (options.observeLag) observeLag(page, options.observeLag)
      }
      settleFetched(room, true)
    } catch (error) {
      logger.warn({ err: error, roomId: room.id }, 'fetching new messages failed; retrying')
      room.dirty = true
      const retry = setTimeout(() => markDirty(room), 1_000)
      retry.unref()
      settleFetched(room, false)
    } finally {
      room.fetching = false
      forgetIfEmpty(room)
    }
  }

  function settleFetched(room: Room, ok: boolean): void {
    const waiting = room.fetched
    room.fetched = []
    for (const resolve of waiting) resolve(ok)
  }

  /**
   * Waits until this instance has delivered the room up to `cursor`, a point another
   * instance already delivered (a client hopping from a faster instance): a fetch that starts
   * now sees every change up to it. Throws if that fetch failed, so the stream ends and its
   * client retries; a point the database never reached (a forged one) ends the wait too,
   * and the stream joins live.
   */
  async function deliveredUpTo(room: Room): Promise<void> {
    const ok = await new Promise<boolean>((resolve) => {
      room.fetched.push(resolve)
      markDirty(room)
    })
    if (!ok || stopped) throw new Error('the room could not be brought up to the resume point')
  }

  /**
   * The room's changes after `cursor` up to the room's cursor now, read once for every
   * stream resuming from that same point meanwhile (a storm's streams of one room left at
   * the same frame), as frames built once.
   */
  function readReplay(room: Room, cursor: number): Promise<ReplayPage> {
    let read = room.replays.get(cursor)
    if (!read) {
      counters.replayQueries++
      read = fetchChangesAfter(db, room.id, cursor, batchSize, room.cursor).then((page) => ({
        frames: page.changes.map(toHistoryFrame),
        through: page.through,
      }))
      const forget = () => room.replays.delete(cursor)
      read.then(forget, forget)
      room.replays.set(cursor, read)
    }
    return read
  }

  function openRoom(id: number): Room {
    const room: Room = {
      id,
      streams: new Set(),
      cursor: -1,
      ready: Promise.resolve(),
      joining: new Set(),
      dirty: false,
      fetching: false,
      public: false,
      recent: createRecentChanges(0, Number.POSITIVE_INFINITY),
      replays: new Map(),
      fetched: [],
    }
    // The room is registered before its cursor is read, so a notification racing the read
    // marks it dirty instead of being dropped.
    room.ready = db
      .select({ lastCursor: roomsTable.lastCursor, visibility: roomsTable.visibility })
      .from(roomsTable)
      .where(eq(roomsTable.id, id))
      .then(([row]) => {
        room.cursor = row?.lastCursor ?? 0
        room.public = row?.visibility === 'public'
        room.recent = createRecentChanges(recentBytes, room.cursor)
        if (room.dirty) markDirty(room)
      })
    rooms.set(id, room)
    return room
  }

  function forgetIfEmpty(room: Room): void {
    const idle = room.streams.size === 0 && room.joining.size === 0 && !room.fetching
    if (idle && rooms.get(room.id) === room) rooms.delete(room.id)
  }

  /**
   * Starts delivering room `roomId` to `stream`. With `afterCursor`, first replays the room's
   * changes after it (from the recent window or the database), then joins live delivery at
   * exactly the room's cursor: the check and the join happen in one tick, and the cursor
   * only moves together with a write to every joined stream, so nothing is skipped or sent
   * twice.
   *
   * For a private room (one of `stream.guarded`), access is asked again once the stream is
   * among the room's joining streams and before anything of the room is written: a removal
   * that commits after that check is announced to this instance and closes the stream; one
   * that committed before it is seen by it.
   */
  async function subscribe(stream: Stream, roomId: number, afterCursor?: number): Promise<void> {
    if (stopped) throw new Error('the hub is stopped')
    streams.add(stream)
    const room = rooms.get(roomId) ?? openRoom(roomId)
    room.joining.add(stream)
    try {
      await room.ready
      if (stream.guarded?.includes(room.id) && !(await options.mayRead(room.id, stream))) {
        closeRemoved(stream, room.id)
        return
      }
      // Joining below the resume point would send this stream what it already has.
      if (afterCursor !== undefined && afterCursor > room.cursor) await deliveredUpTo(room)
      let cursor = Math.min(afterCursor ?? room.cursor, room.cursor)
      while (!stream.closed && cursor < room.cursor) {
        if (room.recent.covers(cursor)) {
          // Served from memory, in the same tick as the join below: no query, no gap.
          writer.sendRecent(stream, room.id, room.recent.after(cursor))
          counters.resumedFromMemory++
          cursor = room.cursor
          break
        }
        const page = await readReplay(room, cursor)
        if (page.frames.length > 0) await writer.replay(stream, room.id, page.frames)
        cursor = page.through
      }
      // No await between the loop's last check and this line.
      room.joining.delete(stream)
      if (stream.closed) return
      if (stopped) throw new Error('the hub stopped while the stream was starting')
      room.streams.add(stream)
      stream.cursors?.set(room.id, Math.max(stream.cursors.get(room.id) ?? 0, room.cursor))
    } catch (error) {
      if (rooms.get(room.id) === room && room.cursor < 0) rooms.delete(room.id)
      throw error
    } finally {
      room.joining.delete(stream)
      forgetIfEmpty(room)
    }
  }

  function observeLag(page: ChangePage, observe: (seconds: number) => void): void {
    const now = Date.now()
    for (const change of page.changes) {
      if (change.event === 'message') observe((now - Date.parse(change.data.created_at)) / 1000)
    }
  }

  /** Forgets a stream that closed (or is being closed) in every room it was in. */
  function unsubscribe(stream: Stream): void {
    stream.closed = true
    streams.delete(stream)
    for (const roomId of stream.roomIds) {
      const room = rooms.get(roomId)
      if (!room) continue
      room.streams.delete(stream)
      forgetIfEmpty(room)
    }
  }

  /** Ends a stream that may no longer read the room, telling it why. */
  function closeRemoved(stream: Stream, roomId: number): void {
    close(stream, encodeEventFrame('removed', { room_id: roomId }))
  }

  /** Ends a stream from the server side, optionally with a last event. */
  function close(stream: Stream, lastFrame?: Buffer): void {
    if (stream.closed) return
    unsubscribe(stream)
    if (lastFrame) stream.res.end(lastFrame)
    else stream.res.end()
  }

  return {
    async start(): Promise<void> {
      stopTimers = startStreamTimers(streams, writer, options.heartbeatMs, close)
      await listener.start()
    },
    /** Tells every stream to reconnect elsewhere (after `retryMs`), closes them and releases the listener. */
    async stop(retryMs: number): Promise<void> {
      stopped = true
      stopTimers()
      const frame = encodeEventFrame('shutdown', { reason: 'server_shutdown' }, retryMs)
      for (const stream of [...streams]) close(stream, frame)
      for (const room of rooms.values()) settleFetched(room, false)
      await listener.stop()
    },
    subscribe,
    unsubscribe,
    close,
    isListening: () => listener.isListening(),
    subscriberCount: (roomId: number) => rooms.get(roomId)?.streams.size ?? 0,
    stats() {
      let subscribers = 0
      for (const room of rooms.values()) subscribers += room.streams.size
      return {
        rooms: rooms.size,
        streams: streams.size,
        subscribers,
        listening: listener.isListening(),
        ...counters,
      }
    },
    /** The `limit` public rooms with the most streams: a private room's audience is nobody's business. */
    topRooms(limit = 10) {
      return [...rooms.values()]
        .filter((room) => room.public)
        .map((room) => ({ roomId: room.id, subscribers: room.streams.size }))
        .sort((a, b) => b.subscribers - a.subscribers)
        .slice(0, limit)
    },
  }
}
