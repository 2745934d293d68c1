import { encodeRoomCursors } from '../stream-cursor.js'
import { encodeEventFrame, encodeHistoryFrame, type HistoryFrame } from './sse.js'
import type { Stream, Streams } from './streams.js'

/** A stream of one or several rooms. */
export interface RoomStream extends Stream {
  /** The rooms it receives. */
  roomIds: number[]
  /**
   * Its rooms, for a user who is not an admin (a removal or a ban can take any room away):
   * access is checked again on the way in and after a listener outage.
   */
  guarded?: number[]
  /**
   * Only for a stream of several rooms: the change cursor sent last per room. Its `id:` is
   * the whole map, so one Last-Event-ID resumes every room where it stopped.
   */
  cursors?: Map<number, number>
}

export type RoomDelivery = ReturnType<typeof createRoomDelivery>

/** Writing rooms' history to their streams: live, from a room's recent window, and replayed. */
export function createRoomDelivery(streams: Streams) {
  /**
   * Frames of one room's changes for one stream: each id is the change's cursor, or on a
   * multi-room stream the cursor of every room, moved to this change.
   */
  function framesFor(stream: RoomStream, roomId: number, frames: HistoryFrame[]): string {
    const cursors = stream.cursors
    let text = ''
    for (const frame of frames) {
      if (cursors) cursors.set(roomId, frame.cursor)
      text += encodeHistoryFrame(frame, cursors ? encodeRoomCursors(cursors) : frame.cursor)
    }
    return text
  }

  return {
    /** A batch of one room's changes: built once, the same bytes to every single-room stream. */
    deliver(audience: Iterable<RoomStream>, roomId: number, frames: HistoryFrame[]): void {
      let shared: Buffer | undefined
      for (const stream of audience) {
        if (stream.cursors) streams.send(stream, framesFor(stream, roomId, frames))
        else streams.send(stream, (shared ??= Buffer.from(framesFor(stream, roomId, frames))))
      }
    },

    /** Changes from a room's recent window to one joining stream, in one write. */
    sendRecent(stream: RoomStream, roomId: number, recent: HistoryFrame[]): void {
      const text = framesFor(stream, roomId, recent)
      if (text) streams.send(stream, text)
    },

    /** A room's history for one joining stream, in slices paced by the client's reading. */
    async replay(stream: RoomStream, roomId: number, frames: HistoryFrame[]): Promise<void> {
      let slice = ''
      for (const frame of frames) {
        slice += framesFor(stream, roomId, [frame])
        if (slice.length < streams.pacedSliceChars) continue
        await streams.sendPaced(stream, slice)
        slice = ''
      }
      if (slice) await streams.sendPaced(stream, slice)
    },

    /**
     * Tells a stream that the room's history since its cursor cannot be sent (no longer kept,
     * or gone back under it): it goes on live after `cursor`, which a multi-room stream's
     * next `id:` carries for the room.
     */
    sendReload(
      stream: RoomStream,
      roomId: number,
      cursor: number,
      reason: 'cursor_too_old' | 'history_changed' = 'cursor_too_old',
    ): void {
      stream.cursors?.set(roomId, cursor)
      streams.send(stream, encodeEventFrame('reload', { room_id: roomId, reason, cursor }))
    },

    /** An ephemeral event (no `id:`, so resume is undisturbed), except to `exceptUserId`'s streams. */
    broadcast(audience: Iterable<RoomStream>, frame: Buffer, exceptUserId?: string): void {
      for (const stream of audience) if (stream.userId !== exceptUserId) streams.send(stream, frame)
    },
  }
}
