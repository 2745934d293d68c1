import type { RoomStream } from './delivery.js'
import type { Hub } from './hub.js'
import type { Presence } from './presence.js'
import type { StreamBase, StreamRequest, Streams } from './streams.js'
import type { Refusal } from './admission.js'

export interface RoomSessionOptions {
  streams: Streams
  hub: Hub
  presence: Presence
}

/** A stream of rooms the HTTP layer has parsed. */
export interface RoomStreamRequest extends Omit<StreamRequest, 'log'> {
  roomIds: number[]
  /** Per room, the cursor to replay after; rooms not in it start live. */
  resumeFrom?: Map<number, number>
  /** A multi-room stream: every `id:` is a cursor of all its rooms. */
  multi: boolean
  /**
   * Decides access to every room, throwing to refuse the stream; resolves with the rooms
   * whose access is asked again once the stream joins them.
   */
  authorize: () => Promise<ReadonlySet<number>>
}

export type RoomSessions = ReturnType<typeof createRoomSessions>

/**
 * What a stream of rooms adds to every stream's life: it joins its rooms one by one
 * (replay, then live), enters presence in each, and on close leaves both.
 */
export function createRoomSessions({ streams, hub, presence }: RoomSessionOptions) {
  // An open stream keeps alive what its `detach` closes over, times every connection: it is
  // made in roomStream() below, so it holds the stream and nothing of the request (whose
  // authorize() holds the whole HTTP context).
  function roomStream(base: StreamBase, roomIds: number[], guarded: ReadonlySet<number>, multi: boolean) {
    const stream: RoomStream & { entered: number } = Object.assign(base, {
      roomIds,
      guarded: guarded.size > 0 ? [...guarded] : undefined,
      cursors: multi ? new Map() : undefined,
      // The rooms entered so far are roomIds' first `entered`.
      entered: 0,
      detach() {
        hub.unsubscribe(stream)
        for (let i = 0; i < stream.entered; i++) presence.leave(roomIds[i]!, stream.userId)
      },
    })
    return stream
  }

  function open(request: RoomStreamRequest): Promise<Refusal | undefined> {
    const { roomIds, resumeFrom, identity, multi } = request
    const resume = resumeFrom && Object.fromEntries(resumeFrom)
    let startAt: Map<number, number> | undefined
    return streams.open<ReturnType<typeof roomStream>>(
      {
        req: request.req,
        res: request.res,
        identity,
        requestId: request.requestId,
        log: { rooms: roomIds, resume },
      },
      {
        async create(base) {
          const stream = roomStream(base, roomIds, await request.authorize(), multi)
          for (const roomId of roomIds) stream.cursors?.set(roomId, resumeFrom?.get(roomId) ?? 0)
          // The rooms it starts live in start where they are now, before the headers go out.
          const live = roomIds.filter((roomId) => !resumeFrom?.has(roomId))
          if (live.length > 0) startAt = await hub.startingCursors(live)
          return stream
        },
        async start(stream) {
          for (const roomId of roomIds) {
            await hub.subscribe(stream, roomId, resumeFrom?.get(roomId) ?? startAt?.get(roomId))
            if (stream.closed) break
            presence.enter(roomId, identity.userId, identity.userName)
            stream.entered++
          }
        },
      },
    )
  }

  return { open }
}
