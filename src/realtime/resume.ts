import { fetchChangesAfter, lastCursor, type PageBound, prunedCursor } from '../chat/changes.js'
import type { Db } from '../db/client.js'
import type { RoomDelivery, RoomStream } from './delivery.js'
import type { RecentChanges } from './recent.js'
import { type HistoryFrame, toHistoryFrame } from './sse.js'

interface ReplayPage {
  frames: HistoryFrame[]
  through: number
  /** Changes after the cursor read from were deleted by the retention sweep: the page is not whole. */
  tooOld: boolean
}

/** What resuming needs of a room the hub delivers. */
export interface ResumableRoom {
  readonly id: number
  /** The database holding the room: its shard's, when rooms are spread over several. */
  readonly db: Db
  /** The change cursor delivered to the room's live streams. */
  readonly cursor: number
  /** The newest delivered changes, which resumes inside it are served from. */
  readonly recent: RecentChanges
  /** Replay reads in flight, by the cursor they read after: resumes from the same point share one. */
  readonly replays: Map<number, Promise<ReplayPage>>
}

export interface ResumeOptions<Room extends ResumableRoom> {
  delivery: RoomDelivery
  /** What one page read from the database may hold. */
  pageBound: PageBound
  /**
   * Resolves once the hub has delivered the room up to a point another instance already
   * delivered; rejects when it could not.
   */
  deliveredUpTo: (room: Room) => Promise<void>
}

/**
 * Bringing a joining stream from its Last-Event-ID up to the room's live cursor: from the
 * room's recent window when it covers the point (no query), otherwise in pages read from
 * the database, each read once for every stream resuming from the same point.
 */
export function createResume<Room extends ResumableRoom>(options: ResumeOptions<Room>) {
  const { delivery, pageBound } = options
  const counters = { resumedFromMemory: 0, replayQueries: 0, reloads: 0 }

  /**
   * The room's changes after `cursor` up to the room's cursor now, read once for every
   * stream resuming from that same point meanwhile (a storm's streams of one room left at
   * the same frame), as frames built once.
   */
  function readReplay(room: Room, cursor: number): Promise<ReplayPage> {
    let read = room.replays.get(cursor)
    if (!read) {
      counters.replayQueries++
      read = readPage(room, cursor).then((page) => {
        // The streams resuming from here after this read is done find it in the window.
        if (!page.tooOld) room.recent.prepend(page.frames, cursor, page.through)
        return page
      })
      const forget = () => room.replays.delete(cursor)
      read.then(forget, forget)
      room.replays.set(cursor, read)
    }
    return read
  }

  /**
   * A page of changes, then the room's pruned cursor: the sweep moves it in the transaction
   * that deletes, so if it is still at or below `cursor` after the page was read, nothing
   * the page should hold had been deleted when it was read.
   */
  async function readPage(room: Room, cursor: number): Promise<ReplayPage> {
    const page = await fetchChangesAfter(room.db, room.id, cursor, pageBound, room.cursor)
    const tooOld = (await prunedCursor(room.db, room.id)) > cursor
    return { frames: page.changes.map(toHistoryFrame), through: page.through, tooOld }
  }

  /**
   * Replays the room's changes after `afterCursor` (none: the stream starts live) to the
   * stream, then calls `join` in the same tick as the last check that the stream has
   * reached the room's cursor. The cursor only moves together with a write to every joined
   * stream, so nothing is skipped or sent twice. A stream resuming from before what the
   * database keeps, or from beyond anything it holds (its history went back in a failover,
   * or the id was made up), is sent `reload` instead, and joins live at the room's cursor,
   * in the same tick.
   */
  async function catchUp(stream: RoomStream, room: Room, afterCursor: number | undefined, join: () => void) {
    if (afterCursor !== undefined && afterCursor > room.cursor) {
      // Joining below the resume point would send this stream what it already has.
      await options.deliveredUpTo(room)
      if (afterCursor > room.cursor && afterCursor > (await lastCursor(room.db, room.id))) {
        counters.reloads++
        delivery.sendReload(stream, room.id, room.cursor, 'history_changed')
        join()
        return
      }
    }
    let cursor = Math.min(afterCursor ?? room.cursor, room.cursor)
    while (!stream.closed && cursor < room.cursor) {
      if (room.recent.covers(cursor)) {
        // Served from memory, in the same tick as the join below: no query, no gap.
        delivery.sendRecent(stream, room.id, room.recent.after(cursor))
        counters.resumedFromMemory++
        break
      }
      const page = await readReplay(room, cursor)
      if (page.tooOld) {
        counters.reloads++
        delivery.sendReload(stream, room.id, room.cursor)
        break
      }
      if (page.frames.length > 0) await delivery.replay(stream, room.id, page.frames)
      cursor = page.through
    }
    // No await between the loop's last check and this call.
    join()
  }

  return { catchUp, stats: () => ({ ...counters }) }
}

export type { ReplayPage }
