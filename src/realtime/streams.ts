import type { ServerResponse } from 'node:http'
import { encodeRoomCursors } from '../stream-cursor.js'
import { encodeEventFrame, encodeHistoryFrame, type HistoryFrame, PING_FRAME } from './sse.js'

/** One open SSE connection. Opened by a stream session, owned by the hub until it closes. */
export interface Stream {
  res: ServerResponse
  userId: string
  isAdmin: boolean
  /** Token expiry in epoch ms: the stream is told `expired` and closed then. */
  expiresAt: number
  bytes: number
  closed: boolean
  /** The rooms it receives. */
  roomIds: number[]
  /** Its private rooms, for a user who is not an admin: access is checked again on the way in and after a listener outage. */
  guarded?: number[]
  /**
   * Only for a stream of several rooms: the change cursor sent last per room. Its `id:` is
   * the whole map, so one Last-Event-ID resumes every room where it stopped.
   */
  cursors?: Map<number, number>
}

/** A joining client that reads nothing of its replay for this long is dropped like a stalled one. */
const REPLAY_STALL_MS = 30_000

export interface StreamWriterOptions {
  maxBufferBytes: number
  /** Called when a stream is dropped for falling behind. */
  onDrop: (stream: Stream) => void
}

/**
 * Writing to streams. Writes are never awaited: one slow client must never hold up a room.
 * Instead each stream's unsent bytes are bounded; past the bound it is dropped and resumes
 * from the database by Last-Event-ID.
 */
export function createStreamWriter({ maxBufferBytes, onDrop }: StreamWriterOptions) {
  function send(stream: Stream, bytes: Buffer | string): void {
    if (stream.closed) return
    if (stream.res.writableLength > maxBufferBytes) {
      // Not end(): it waits for the client to read what is queued, which a stalled client never
      // does, so the buffer, the socket and its admission slot would be held forever.
      onDrop(stream)
      stream.res.destroy()
      return
    }
    stream.bytes += bytes.length
    stream.res.write(bytes)
  }

  /**
   * Frames of one room's changes for one stream: each id is the change's cursor, or on a
   * multi-room stream the cursor of every room, moved to this change.
   */
  function framesFor(stream: Stream, roomId: number, frames: HistoryFrame[]): string {
    const cursors = stream.cursors
    let text = ''
    for (const frame of frames) {
      if (cursors) cursors.set(roomId, frame.cursor)
      text += encodeHistoryFrame(frame, cursors ? encodeRoomCursors(cursors) : frame.cursor)
    }
    return text
  }

  /** A batch of one room's changes: built once, the same bytes to every single-room stream. */
  function deliver(streams: Iterable<Stream>, roomId: number, frames: HistoryFrame[]): void {
    let shared: Buffer | undefined
    for (const stream of streams) {
      if (stream.cursors) send(stream, framesFor(stream, roomId, frames))
      else send(stream, (shared ??= Buffer.from(framesFor(stream, roomId, frames))))
    }
  }

  /** Changes from a room's recent window to one joining stream, in one write. */
  function sendRecent(stream: Stream, roomId: number, recent: HistoryFrame[]): void {
    const text = framesFor(stream, roomId, recent)
    if (text) send(stream, text)
  }

  // Replay leaves in slices of a quarter of the bound and waits whenever half of it is
  // queued, so the queue stays under the bound (one frame larger than it aside) and a
  // heartbeat or the first live frame after the replay never finds it full.
  const replaySliceChars = Math.min(64 * 1024, Math.floor(maxBufferBytes / 4))

  /**
   * A room's history for one joining stream. Unlike live delivery it may wait for the
   * client to read, so a replay of any length stays within the buffer bound.
   */
  async function replay(stream: Stream, roomId: number, frames: HistoryFrame[]): Promise<void> {
    let slice = ''
    for (const frame of frames) {
      slice += framesFor(stream, roomId, [frame])
      if (slice.length < replaySliceChars) continue
      await writeReplay(stream, slice)
      slice = ''
    }
    if (slice) await writeReplay(stream, slice)
  }

  async function writeReplay(stream: Stream, text: string): Promise<void> {
    if (stream.closed) return
    stream.bytes += text.length
    stream.res.write(text)
    // 'drain' comes only after a write that returned false, so only then is it waited for.
    if (stream.res.writableNeedDrain && stream.res.writableLength > maxBufferBytes / 2) {
      await drainedOrDropped(stream)
    }
  }

  function drainedOrDropped(stream: Stream): Promise<void> {
    const { res } = stream
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer)
        res.off('drain', done)
        res.off('close', done)
        resolve()
      }
      const timer = setTimeout(() => {
        onDrop(stream)
        res.destroy()
        done()
      }, REPLAY_STALL_MS)
      res.on('drain', done)
      res.on('close', done)
    })
  }

  /** An ephemeral event (no `id:`, so resume is undisturbed), except to `exceptUserId`'s streams. */
  function broadcast(streams: Iterable<Stream>, frame: Buffer, exceptUserId?: string): void {
    for (const stream of streams) if (stream.userId !== exceptUserId) send(stream, frame)
  }

  return { send, deliver, sendRecent, replay, broadcast }
}

export type StreamWriter = ReturnType<typeof createStreamWriter>

/**
 * One timer for all streams: heartbeats, and closing streams whose token expired.
 * Heartbeats are spread over the interval, a slice of the streams per tick, because
 * pinging 10,000 sockets at once is a burst of 10,000 writes that stalls delivery.
 */
export function startStreamTimers(
  streams: Set<Stream>,
  writer: StreamWriter,
  heartbeatMs: number,
  close: (stream: Stream, lastFrame?: Buffer) => void,
): () => void {
  const tickMs = Math.min(1_000, heartbeatMs)
  const expiredFrame = encodeEventFrame('expired', { reason: 'token_expired' })
  // A live iterator: streams added or removed meanwhile are visited or skipped correctly.
  let due = streams.values()
  let untilExpiryCheck = 0
  // Each tick earns streams × tick / interval pings; the remainder is carried (in integer
  // stream-milliseconds), since rounding each tick's share up pinged a lone stream every
  // tick instead of every interval.
  let credit = 0
  const timer = setInterval(() => {
    credit = Math.min(credit + streams.size * tickMs, streams.size * heartbeatMs)
    const quota = Math.floor(credit / heartbeatMs)
    credit -= quota * heartbeatMs
    for (let left = quota; left > 0; left--) {
      let next = due.next()
      if (next.done) {
        due = streams.values()
        next = due.next()
        if (next.done) break
      }
      writer.send(next.value, PING_FRAME)
    }
    untilExpiryCheck -= tickMs
    if (untilExpiryCheck > 0) return
    untilExpiryCheck = 1_000
    const now = Date.now()
    for (const stream of [...streams]) if (stream.expiresAt <= now) close(stream, expiredFrame)
  }, tickMs)
  timer.unref()
  return () => clearInterval(timer)
}
