import { eq, inArray } from 'drizzle-orm'
import type { Logger } from 'pino'
import { type ChangePage, fetchChangesAfter, lastCursor } from '../chat/changes.js'
import type { Db } from '../db/client.js'
import { channels, parseMemberNotice, parseMessageNotice, parseRoomEvent } from '../db/notify.js'
import { rooms as roomsTable } from '../db/schema.js'
import { createRoomDelivery, type RoomStream } from './delivery.js'
import type { ListenerConsumer } from './listener.js'
import { createRecentChanges, type RecentChanges } from './recent.js'
import { createResume, type ReplayPage } from './resume.js'
import { encodeEventFrame, type HistoryFrame, toHistoryFrame } from './sse.js'
import type { Streams } from './streams.js'

interface Room {
  id: number
  /** The database holding the room, known once `ready`; another after the room moves shard. */
  db: Db
  streams: Set<RoomStream>
  /** The change cursor delivered to `streams`; -1 until read from the database. */
  cursor: number
  ready: Promise<void>
  /** Streams replaying history before they join `streams`; the room stays while any do. */
  joining: Set<RoomStream>
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

export interface HubOptions {
  db: Db
  /**
   * The database of a room, when rooms are spread over shards (src/shards/): `db` holds
   * those it does not name.
   */
  roomDb?: (roomId: number) => Promise<Db | undefined>
  logger: Logger
  /** The process's streams: the hub writes to and closes those of rooms. */
  streams: Streams
  /**
   * A stream's buffer bound. A room's recent window holds a quarter of it, so a resume from
   * there is one write well within it, and a page read from the database about as much.
   */
  maxBufferBytes: number
  batchSize?: number
  /** Called once per delivered new message with seconds since its created_at. */
  observeLag?: (seconds: number) => void
  /**
   * Whether the stream's user may still read the room: asked when a member is removed or a
   * user banned, and before a guarded room's first frame is written to a stream joining it.
   */
  mayRead: (roomId: number, stream: RoomStream) => Promise<boolean>
}

export type Hub = ReturnType<typeof createHub>

/**
 * Rooms → streams, fed by the process's LISTEN connection (`listens` says what it hears).
 * A notification only says "room R has news": the hub reads the rows after the room's
 * cursor once, builds each frame once and writes the same bytes to every stream, so the
 * database stays the source of truth and a lost notification only delays delivery until
 * the next one or a reconnect.
 */
export function createHub(options: HubOptions) {
  const { db, logger } = options
  const dbOf = async (roomId: number): Promise<Db> => (await options.roomDb?.(roomId)) ?? db
  const batchSize = options.batchSize ?? 500
  // A quarter of the buffer bound, so a resume from the window is one write well within it.
  const recentBytes = Math.min(256 * 1024, Math.floor(options.maxBufferBytes / 4))
  const rooms = new Map<number, Room>()
  /** The database cursors of rooms not held here, being read for streams about to start. */
  const coldReads = new Map<number, Promise<number | undefined>>()
  const streams = new Set<RoomStream>()
  const counters = { notifications: 0, delivered: 0, refused: 0, historyReloads: 0 }
  const delivery = createRoomDelivery(options.streams)
  // Pages of changes are bounded by bytes too, so huge messages cost about the bound.
  const pageBound = { rows: batchSize, bytes: options.maxBufferBytes }
  const resume = createResume<Room>({ delivery, pageBound, deliveredUpTo })
  let stopped = false
  /**
   * From a (re-)LISTEN until every guarded stream of its rooms has been checked again: the
   * database whose connection came back (undefined: every room's), and the catch-up under way.
   */
  const rechecking = new Map<Db | undefined, object>()
  const checkedAgain = (room: Room) => rechecking.has(undefined) || rechecking.has(room.db)

  /**
   * Whatever was committed while nobody listened is read from each room's cursor on. So
   * were removals and bans, whose notifications were lost: before the catch-up delivers
   * anything, every guarded stream is checked again, and closed if it may no longer read.
   * On a new history (a promoted standby), each room's delivered changes are checked
   * against it first. With rooms over shards, only the rooms of the shard `on` whose LISTEN
   * connection came back: another shard's rooms lost nothing.
   */
  async function catchUp(newHistory: boolean, on?: Db): Promise<void> {
    const round = {}
    rechecking.set(on, round)
    const held = [...rooms.values()].filter((room) => on === undefined || room.db === on)
    try {
      await recheckGuardedStreams(on === undefined ? undefined : new Set(held.map((room) => room.id)))
      if (newHistory) await Promise.all(held.map(checkHistory))
    } finally {
      // A later catch-up of the same rooms is under way: it delivers once it is done.
      if (rechecking.get(on) === round) {
        rechecking.delete(on)
        for (const room of rooms.values()) {
          if ((on === undefined || room.db === on) && !checkedAgain(room)) markDirty(room)
        }
      }
    }
  }

  /** Asks again of every guarded stream's rooms (those of `roomIds`) whether it may read them. */
  async function recheckGuardedStreams(roomIds?: Set<number>): Promise<void> {
    // One question per (room, user) however many tabs; an admin may read every room.
    const answers = new Map<string, Promise<boolean | undefined>>()
    const checks = [...streams].flatMap((stream) =>
      (stream.guarded ?? [])
        .filter((roomId) => roomIds === undefined || roomIds.has(roomId))
        .map(async (roomId) => {
          const key = `${roomId}:${stream.isAdmin ? '' : stream.userId}`
          let answer = answers.get(key)
          if (!answer) {
            answer = options.mayRead(roomId, stream).catch(() => undefined)
            answers.set(key, answer)
          }
          const allowed = await answer
          if (allowed === false) closeRemoved(stream, roomId)
          // A check that failed says nothing of access: the stream is closed without
          // `removed`, reconnects, and is checked on the way in.
          else if (allowed === undefined) options.streams.close(stream)
        }),
    )
    await Promise.all(checks)
  }

  /**
   * After a failover to a standby that lacked the last commits, the cursors this instance
   * delivered may name changes the new primary never had, and its next changes reuse them.
   * What the room's recent window holds, as delivered, is compared with what the database
   * holds at the same cursors now: where they differ, or the database's cursor is behind
   * the room's, each of the room's streams is sent `reload` and goes on from the last change
   * the two share, with every change after it. Changes before the window are not compared:
   * only the last commits can be lost.
   */
  async function checkHistory(room: Room): Promise<void> {
    while (room.fetching) await new Promise((resolve) => room.fetched.push(resolve))
    if (room.cursor < 0) return
    const delivered = room.recent.after(room.recent.from())
    const bound = { rows: delivered.length + 1, bytes: Number.MAX_SAFE_INTEGER }
    let present = 0
    let held: ChangePage | undefined
    // Just after a promotion the pool may still be finding the new primary: try for a while.
    for (let attempt = 0; !held && !stopped; attempt++) {
      try {
        ;[present, held] = await Promise.all([
          lastCursor(room.db, room.id),
          fetchChangesAfter(room.db, room.id, room.recent.from(), bound, room.cursor),
        ])
      } catch (error) {
        if (attempt < HISTORY_CHECK_ATTEMPTS - 1) {
          await new Promise((resolve) => setTimeout(resolve, Math.min(1_000, 100 * 2 ** attempt)))
          continue
        }
        // Unchecked, the room's streams cannot be trusted: they reconnect and resume from their cursors.
        logger.warn({ err: error, roomId: room.id }, 'the room could not be checked against the new history')
        for (const stream of [...room.streams, ...room.joining]) options.streams.close(stream)
        return
      }
    }
    if (!held) return
    const kept = new Map(
      held.changes.map((change) => [change.cursor, changeIdentity(toHistoryFrame(change))]),
    )
    const same =
      present >= room.cursor &&
      kept.size === delivered.length &&
      delivered.every((frame) => kept.get(frame.cursor) === changeIdentity(frame))
    if (same) return
    // The streams go back to the last change both histories share, not to the database's
    // cursor: changes the new primary took since its promotion are after it, and are sent.
    let shared = room.recent.from()
    for (const frame of delivered) {
      if (kept.get(frame.cursor) !== changeIdentity(frame)) break
      shared = frame.cursor
    }
    logger.warn(
      { roomId: room.id, delivered: room.cursor, shared, present, streams: room.streams.size },
      'the database lost changes of the room that were delivered; its streams reload',
    )
    counters.historyReloads += room.streams.size
    room.cursor = shared
    room.recent = createRecentChanges(recentBytes, shared)
    for (const stream of room.streams) delivery.sendReload(stream, room.id, shared, 'history_changed')
    // Streams still replaying may have been sent what is gone: they resume, and are told then.
    for (const stream of room.joining) options.streams.close(stream)
    // The catch-up marks every room dirty once the checks are done: what follows `shared` is read then.
  }

  function onMessage(payload: string): void {
    counters.notifications++
    const notice = parseMessageNotice(payload)
    const room = notice && rooms.get(notice.roomId)
    if (room && notice.cursor > room.cursor) markDirty(room)
  }

  function onRoomEvent(payload: string): void {
    const event = parseRoomEvent(payload)
    if (!event) {
      counters.refused++
      return
    }
    const room = rooms.get(event.roomId)
    if (!room) return
    // While access is being checked again, events go only to streams that need no check.
    const audience = checkedAgain(room)
      ? [...room.streams].filter((stream) => !stream.guarded?.includes(room.id))
      : room.streams
    delivery.broadcast(audience, encodeEventFrame(event.event, event.data), event.exceptUserId)
  }

  /** Closes the removed or banned user's streams of the room, on this instance, unless they may still read it. */
  async function onMemberRemoved(payload: string): Promise<void> {
    const notice = parseMemberNotice(payload)
    const room = notice && rooms.get(notice.roomId)
    if (!room) return
    const { userId } = notice
    const affected = [...room.streams, ...room.joining].filter((stream) => stream.userId === userId)
    for (const stream of affected) {
      const allowed = await options.mayRead(room.id, stream).catch(() => false)
      if (!allowed) closeRemoved(stream, room.id)
    }
  }

  function markDirty(room: Room): void {
    room.dirty = true
    if (!room.fetching && room.cursor >= 0 && !checkedAgain(room)) void flush(room)
  }

  /** Fetches and delivers until the room has no news; notifications during a fetch coalesce. */
  async function flush(room: Room): Promise<void> {
    room.fetching = true
    try {
      while (room.dirty) {
        room.dirty = false
        const page = await fetchChangesAfter(room.db, room.id, room.cursor, pageBound)
        if (page.full) room.dirty = true
        const frames = page.changes.map(toHistoryFrame)
        delivery.deliver(room.streams, room.id, frames)
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

  function openRoom(id: number): Room {
    const room: Room = {
      id,
      db,
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
    room.ready = dbOf(id)
      .then((found) => {
        room.db = found
        return found
          .select({ lastCursor: roomsTable.lastCursor, visibility: roomsTable.visibility })
          .from(roomsTable)
          .where(eq(roomsTable.id, id))
      })
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
   * changes after it, then joins live delivery at exactly the room's cursor (see resume.ts).
   *
   * For a guarded room (any room, unless the user is an admin), access is asked again once
   * the stream is among the room's joining streams and before anything of the room is
   * written: a removal or a ban that commits after that check is announced to this instance
   * and closes the stream; one that committed before it is seen by it.
   */
  async function subscribe(stream: RoomStream, roomId: number, afterCursor?: number): Promise<void> {
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
      await resume.catchUp(stream, room, afterCursor, () => {
        room.joining.delete(stream)
        if (stream.closed) return
        if (stopped) throw new Error('the hub stopped while the stream was starting')
        room.streams.add(stream)
        stream.cursors?.set(room.id, Math.max(stream.cursors.get(room.id) ?? 0, room.cursor))
      })
    } catch (error) {
      if (rooms.get(room.id) === room && room.cursor < 0) rooms.delete(room.id)
      throw error
    } finally {
      room.joining.delete(stream)
      forgetIfEmpty(room)
    }
  }

  /**
   * Where a stream without Last-Event-ID starts in each of `roomIds`: a room held here at
   * its cursor, any other at the cursor the database has. Asked before the stream's headers
   * go out, so a change that commits once the client sees the stream open comes after it,
   * even in a room whose cursor is read only when the stream joins it.
   */
  async function startingCursors(roomIds: readonly number[]): Promise<Map<number, number>> {
    const cursors = new Map<number, number>()
    // A room gone meanwhile has no cursor: the stream's join finds it gone.
    const keep = (id: number, cursor: number | undefined) => {
      if (cursor !== undefined) cursors.set(id, cursor)
    }
    const reads: Promise<void>[] = []
    const unread: number[] = []
    for (const id of roomIds) {
      const room = rooms.get(id)
      const reading = coldReads.get(id)
      if (room && room.cursor >= 0) cursors.set(id, room.cursor)
      else if (reading) reads.push(reading.then((cursor) => keep(id, cursor)))
      else unread.push(id)
    }
    if (unread.length > 0) {
      // One query for the rooms no stream is reading yet; a crowd arriving at once shares it.
      const rows = readCursors(unread)
      for (const id of unread) {
        const reading = rows.then((found) => found.get(id))
        coldReads.set(id, reading)
        const forget = () => {
          if (coldReads.get(id) === reading) coldReads.delete(id)
        }
        reading.then(forget, forget)
        reads.push(reading.then((cursor) => keep(id, cursor)))
      }
    }
    await Promise.all(reads)
    return cursors
  }

  /** The cursors the databases have for `roomIds`: one query per database holding any of them. */
  async function readCursors(roomIds: number[]): Promise<Map<number, number>> {
    const byDb = new Map<Db, number[]>()
    if (!options.roomDb) byDb.set(db, roomIds)
    else {
      const dbs = await Promise.all(roomIds.map(dbOf))
      for (const [i, id] of roomIds.entries()) {
        const held = byDb.get(dbs[i]!)
        if (held) held.push(id)
        else byDb.set(dbs[i]!, [id])
      }
    }
    const found = await Promise.all(
      [...byDb].map(([held, ids]) =>
        held
          .select({ id: roomsTable.id, lastCursor: roomsTable.lastCursor })
          .from(roomsTable)
          .where(inArray(roomsTable.id, ids)),
      ),
    )
    return new Map(found.flat().map((row) => [row.id, row.lastCursor]))
  }

  /**
   * Asks again where `roomId` is held (every room's, without one), after the directory said
   * it moved or may have: a room now on another shard goes on from its cursor there, where
   * the move copied its changes as they were, so its streams see neither a gap nor a repeat.
   */
  async function relocate(roomId?: number): Promise<void> {
    const held = roomId === undefined ? [...rooms.values()] : [rooms.get(roomId)]
    await Promise.all(
      held.map(async (room) => {
        if (!room) return
        try {
          await room.ready
          const found = await dbOf(room.id)
          if (found === room.db) return
          room.db = found
          markDirty(room)
        } catch (error) {
          logger.warn({ err: error, roomId: room.id }, "finding the room's shard failed; retrying")
          setTimeout(() => void relocate(room.id), 1_000).unref()
        }
      }),
    )
  }

  function observeLag(page: ChangePage, observe: (seconds: number) => void): void {
    const now = Date.now()
    for (const change of page.changes) {
      if (change.event === 'message') observe((now - Date.parse(change.data.created_at)) / 1000)
    }
  }

  /** Forgets a stream that closed in every room it was in. */
  function unsubscribe(stream: RoomStream): void {
    streams.delete(stream)
    for (const roomId of stream.roomIds) {
      const room = rooms.get(roomId)
      if (!room) continue
      room.streams.delete(stream)
      forgetIfEmpty(room)
    }
  }

  /** Ends a stream that may no longer read the room, telling it why. */
  function closeRemoved(stream: RoomStream, roomId: number): void {
    options.streams.close(stream, encodeEventFrame('removed', { room_id: roomId }))
  }

  /** What the hub hears on the process's LISTEN connection. */
  const listens: ListenerConsumer = {
    channels: {
      [channels.messages]: onMessage,
      [channels.members]: (payload) => void onMemberRemoved(payload),
      [channels.events]: onRoomEvent,
    },
    onListen: (newHistory) => void catchUp(newHistory),
  }

  return {
    listens,
    /** What a shard's LISTEN connection feeds: the same channels; only its rooms are caught up. */
    listensOn: (shard: { db: Db }): ListenerConsumer => ({
      channels: listens.channels,
      onListen: (newHistory) => void catchUp(newHistory, shard.db),
    }),
    /** Stops delivering: streams still starting end, and their clients reconnect elsewhere. */
    stop(): void {
      stopped = true
      for (const room of rooms.values()) settleFetched(room, false)
    },
    subscribe,
    startingCursors,
    relocate,
    unsubscribe,
    subscriberCount: (roomId: number) => rooms.get(roomId)?.streams.size ?? 0,
    stats() {
      let subscribers = 0
      for (const room of rooms.values()) subscribers += room.streams.size
      return { rooms: rooms.size, streams: streams.size, subscribers, ...counters, ...resume.stats() }
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

/** Reads of a room's history after a failover, about 10 s of them, before its streams are ended instead. */
const HISTORY_CHECK_ATTEMPTS = 14

/**
 * What names a change however its message changed since: a message or edit is delivered as
 * the message was then and read back as it is now (edited, deleted), so those are named by
 * the message's id and creation time, which no later change alters; the rest by their data.
 */
function changeIdentity(frame: HistoryFrame): string {
  if (frame.event !== 'message' && frame.event !== 'edit') return `${frame.event}:${frame.json}`
  const message = JSON.parse(frame.json) as { id: number; created_at: string }
  return `${frame.event}:${message.id}:${message.created_at}`
}
