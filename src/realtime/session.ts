import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Logger } from 'pino'
import type { Identity } from '../auth/jwt.js'
import type { Admission, Refusal } from './admission.js'
import type { Hub } from './hub.js'
import type { Presence } from './presence.js'
import { openEventStream } from './sse.js'
import type { Stream } from './streams.js'

export interface StreamSessionOptions {
  hub: Hub
  admission: Admission
  presence: Presence
  logger: Logger
  /** The `retry:` hint sent first on every stream. */
  retryMs: number
}

/** A stream the HTTP layer has parsed. */
export interface StreamRequest {
  req: IncomingMessage
  res: ServerResponse
  identity: Identity
  requestId: string
  roomIds: number[]
  /** Per room, the seq to replay after; rooms not in it start live. */
  resumeFrom?: Map<number, number>
  /** A multi-room stream: every `id:` is a cursor of all its rooms. */
  multi: boolean
  /**
   * Decides access to every room, throwing to refuse the stream; resolves with the rooms
   * whose access is asked again once the stream joins them (private rooms).
   */
  authorize: () => Promise<ReadonlySet<number>>
}

export type StreamSessions = ReturnType<typeof createStreamSessions>

/**
 * The life of one stream, from admission to its close: takes a slot, writes the headers,
 * joins its rooms one by one (replay, then live), enters presence in each, and on close
 * gives back exactly what it took, once, whoever closes it (the client, the hub, shutdown).
 */
export function createStreamSessions({ hub, admission, presence, logger, retryMs }: StreamSessionOptions) {
  /**
   * Opens the stream, or says why it was refused (before any byte is written). The slot is
   * taken before access is decided, so a user's stream setups in flight count against the
   * per-user cap as much as open streams do. Resolves once every room has been joined or
   * the stream has ended.
   */
  async function open(request: StreamRequest): Promise<Refusal | undefined> {
    const { req, res, identity, requestId, roomIds, resumeFrom } = request
    const refusal = admission.admit(identity.userId)
    if (refusal) return refusal
    let recheck: ReadonlySet<number>
    try {
      recheck = await request.authorize()
    } catch (error) {
      admission.release(identity.userId)
      throw error
    }
    // A client that gave up during the access checks has already had its 'close' event,
    // which would never fire again for the handlers below: admitting it would leak the
    // stream, its slot and its presence forever.
    if (res.destroyed || res.closed || !res.socket || res.socket.destroyed) {
      admission.release(identity.userId)
      return undefined
    }

    const stream: Stream = {
      res,
      userId: identity.userId,
      isAdmin: identity.isAdmin,
      expiresAt: identity.expiresAt,
      bytes: 0,
      closed: false,
      roomIds,
      guarded: recheck.size > 0 ? [...recheck] : undefined,
      cursors: request.multi
        ? new Map(roomIds.map((roomId) => [roomId, resumeFrom?.get(roomId) ?? 0]))
        : undefined,
    }
    const opened = Date.now()
    const resume = resumeFrom && Object.fromEntries(resumeFrom)
    logger.info({ requestId, rooms: roomIds, userId: stream.userId, resume }, 'stream opened')
    openEventStream(res, retryMs)

    // What an open stream keeps alive is kept small: these two closures and `stream`, times
    // every connection. The rooms entered so far are roomIds' first `entered`.
    let entered = 0
    res.on('close', () => {
      hub.unsubscribe(stream)
      admission.release(stream.userId)
      for (let i = 0; i < entered; i++) presence.leave(roomIds[i]!, stream.userId)
      const ms = Date.now() - opened
      logger.info(
        { requestId, rooms: roomIds, userId: stream.userId, ms, bytes: stream.bytes },
        'stream closed',
      )
    })
    // A client resetting its socket mid-write surfaces here; 'close' follows and cleans up.
    const forget = () => hub.unsubscribe(stream)
    res.on('error', forget)
    req.on('error', forget)
    try {
      for (const roomId of roomIds) {
        await hub.subscribe(stream, roomId, resumeFrom?.get(roomId))
        if (stream.closed) break
        presence.enter(roomId, identity.userId, identity.userName)
        entered++
      }
    } catch (error) {
      // Headers are sent: the client sees the stream end and reconnects with its Last-Event-ID.
      logger.warn({ err: error, rooms: roomIds }, 'stream could not start')
      res.end()
    }
    return undefined
  }

  return { open }
}
