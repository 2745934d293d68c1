import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Logger } from 'pino'
import type { Identity } from '../auth/jwt.js'
import type { Admission, Refusal } from './admission.js'
import { encodeEventFrame, openEventStream, PING_FRAME } from './sse.js'

/**
 * One open SSE connection, of any kind (a room, several rooms, a user's own stream). What
 * it reads differs; how it is admitted, written to, kept alive and closed does not, and
 * lives here once.
 */
export interface Stream {
  readonly res: ServerResponse
  readonly userId: string
  readonly isAdmin: boolean
  /** Token expiry in epoch ms: the stream is told `expired` and closed then. */
  readonly expiresAt: number
  bytes: number
  closed: boolean
  /** Its owner forgets it: called once, when it closes for whatever reason. */
  detach: () => void
}

/**
 * The fields every stream starts with; a kind of stream adds its own with
 * `Object.assign(base, { … })`. Not with a spread: V8 gives each object made by
 * `{ ...base, more }` a hidden class of its own, half a kilobyte per open stream.
 */
export type StreamBase = Omit<Stream, 'detach'>

/** A stream the HTTP layer has parsed and checked. */
export interface StreamRequest {
  req: IncomingMessage
  res: ServerResponse
  identity: Identity
  requestId: string
  /** What the open and close log lines say of it besides the user. */
  log: Record<string, unknown>
}

/** How one kind of stream is set up, fed and forgotten. */
export interface StreamKind<S extends Stream> {
  /**
   * Builds the stream once it has a slot: may check access (throwing refuses it, before any
   * byte is written).
   */
  create(base: StreamBase): Promise<S> | S
  /** Starts feeding it, after its headers went out; resolves once it is under way. */
  start(stream: S): Promise<void>
}

export interface StreamsOptions {
  admission: Admission
  logger: Logger
  heartbeatMs: number
  /** The `retry:` hint sent first on every stream. */
  retryMs: number
  /** A stream whose unsent bytes pass this is dropped; its client resumes by Last-Event-ID. */
  maxBufferBytes: number
}

/** A client that reads nothing of a paced write (a replay) for this long is dropped like a stalled one. */
const PACED_STALL_MS = 30_000

export type Streams = ReturnType<typeof createStreams>

/**
 * Every open stream of this process: admission, headers, writes bounded per stream,
 * heartbeats, token expiry, shutdown, and one close path that gives back exactly what the
 * stream took, once, whoever closes it (the client, the server, an overflow, shutdown).
 *
 * Writes are never awaited: one slow client must never hold up a room. Instead each
 * stream's unsent bytes are bounded; past the bound it is dropped and resumes from the
 * database by Last-Event-ID.
 */
export function createStreams({ admission, logger, heartbeatMs, retryMs, maxBufferBytes }: StreamsOptions) {
  const open = new Set<Stream>()
  let dropped = 0
  let stopping = false

  /**
   * Opens a stream of `kind`, or says why it was refused (before any byte is written). The
   * slot is taken before access is decided, so a user's stream setups in flight count
   * against the per-user cap as much as open streams do. Resolves once the stream is under
   * way or has ended.
   */
  async function openStream<S extends Stream>(
    request: StreamRequest,
    kind: StreamKind<S>,
  ): Promise<Refusal | undefined> {
    const { req, res, identity, requestId } = request
    if (stopping) return 'server_full'
    const refusal = admission.admit(identity.userId)
    if (refusal) return refusal
    const base: StreamBase = {
      res,
      userId: identity.userId,
      isAdmin: identity.isAdmin,
      expiresAt: identity.expiresAt,
      bytes: 0,
      closed: false,
    }
    let stream: S
    try {
      stream = await kind.create(base)
    } catch (error) {
      admission.release(identity.userId)
      throw error
    }
    // A client that gave up during the setup has already had its 'close' event, which
    // would never fire again for the handlers below: admitting it would leak the stream
    // and its slot forever.
    if (stopping || res.destroyed || res.closed || !res.socket || res.socket.destroyed) {
      admission.release(identity.userId)
      return stopping ? 'server_full' : undefined
    }
    open.add(stream)
    const opened = Date.now()
    // The close handler keeps these small values alive, never `request` itself.
    const { log } = request
    logger.info({ requestId, userId: stream.userId, ...log }, 'stream opened')
    openEventStream(res, retryMs)
    res.on('close', () => {
      finish(stream)
      open.delete(stream)
      admission.release(stream.userId)
      const ms = Date.now() - opened
      logger.info({ requestId, userId: stream.userId, ...log, ms, bytes: stream.bytes }, 'stream closed')
    })
    // A client resetting its socket mid-write surfaces here; 'close' follows and cleans up.
    const forget = () => finish(stream)
    res.on('error', forget)
    req.on('error', forget)
    try {
      await kind.start(stream)
    } catch (error) {
      // Headers are sent: the client sees the stream end and reconnects with its Last-Event-ID.
      logger.warn({ err: error, userId: stream.userId, ...log }, 'stream could not start')
      close(stream)
    }
    return undefined
  }

  /** Marks the stream closed and lets its owner forget it, once. */
  function finish(stream: Stream): void {
    if (stream.closed) return
    stream.closed = true
    stream.detach()
  }

  /** Ends a stream from the server side, optionally with a last event. */
  function close(stream: Stream, lastFrame?: Buffer): void {
    if (stream.closed) return
    finish(stream)
    if (lastFrame) stream.res.end(lastFrame)
    else stream.res.end()
  }

  /**
   * Cuts a stream that fell behind. Not end(): it waits for the client to read what is
   * queued, which a stalled client never does, so the buffer, the socket and its admission
   * slot would be held forever.
   */
  function drop(stream: Stream): void {
    dropped++
    finish(stream)
    stream.res.destroy()
  }

  function send(stream: Stream, bytes: Buffer | string): void {
    if (stream.closed) return
    if (stream.res.writableLength > maxBufferBytes) {
      drop(stream)
      return
    }
    stream.bytes += bytes.length
    stream.res.write(bytes)
  }

  // Paced writes wait whenever half the bound is queued, so the queue stays under the
  // bound (one write larger than it aside) and a heartbeat or the first live frame after a
  // replay never finds it full.

  /**
   * A write that may wait for the client to read (a replay), unlike live delivery: a
   * replay of any length stays within the buffer bound.
   */
  async function sendPaced(stream: Stream, text: string): Promise<void> {
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
        drop(stream)
        done()
      }, PACED_STALL_MS)
      res.on('drain', done)
      res.on('close', done)
    })
  }

  const stopTimers = startStreamTimers(open, heartbeatMs, send, close)

  return {
    open: openStream,
    send,
    sendPaced,
    close,
    /** The size paced writes are cut into: a quarter of the bound. */
    pacedSliceChars: Math.min(64 * 1024, Math.floor(maxBufferBytes / 4)),
    /** Tells every stream to reconnect elsewhere (after `retryMs`) and closes it; refuses new ones. */
    stop(retryMs: number): void {
      stopping = true
      stopTimers()
      const frame = encodeEventFrame('shutdown', { reason: 'server_shutdown' }, retryMs)
      for (const stream of [...open]) close(stream, frame)
    },
    stats: () => ({ open: open.size, dropped }),
  }
}

/**
 * One timer for all streams: heartbeats, and closing streams whose token expired.
 * Heartbeats are spread over the interval, a slice of the streams per tick, because
 * pinging 10,000 sockets at once is a burst of 10,000 writes that stalls delivery.
 */
function startStreamTimers(
  streams: Set<Stream>,
  heartbeatMs: number,
  send: (stream: Stream, bytes: Buffer) => void,
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
      send(next.value, PING_FRAME)
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
