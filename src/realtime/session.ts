import type { RoomStream } from './delivery.js'
import type { Hub } from './hub.js'
import type { Presence } from './presence.js'
import type { StreamRequest, Streams } from './streams.js'
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
   * whose access is asked again once the stream joins them (private rooms).
   */
  authorize: () => Promise<ReadonlySet<number>>
}

export type RoomSessions = ReturnType<typeof createRoomSessions>

/**
 * What a stream of rooms adds to every stream's life: it joins its rooms one by one
 * (replay, then live), enters presence in each, and on close leaves both.
 */
export function createRoomSessions({ streams, hub, presence }: RoomSessionOptions) {
  function open(request: RoomStreamRequest): Promise<Refusal | undefined> {
    const { roomIds, resumeFrom, identity } = request
    const resume = resumeFrom && Object.fromEntries(resumeFrom)
    // The rooms entered so far are roomIds' first `entered`.
    let entered = 0
    return streams.open<RoomStream>(
      { ...request, log: { rooms: roomIds, resume } },
      {
        async create(base) {
          const recheck = await request.authorize()
          const stream: RoomStream = {
            ...base,
            roomIds,
            guarded: recheck.size > 0 ? [...recheck] : undefined,
            cursors: request.multi
              ? new Map(roomIds.map((roomId) => [roomId, resumeFrom?.get(roomId) ?? 0]))
              : undefined,
            detach() {
              hub.unsubscribe(stream)
              for (let i = 0; i < entered; i++) presence.leave(roomIds[i]!, stream.userId)
            },
          }
          return stream
        },
        async start(stream) {
          for (const roomId of roomIds) {
            await hub.subscribe(stream, roomId, resumeFrom?.get(roomId))
            if (stream.closed) break
            presence.enter(roomId, identity.userId, identity.userName)
            entered++
          }
        },
      },
    )
  }

  return { open }
}
