// @ts-check
// One stream per open room, from the client library (parley-client.js): it opens each
// connection with the token in its Authorization header, never in a URL, resumes after
// the last change received (each change to the room's history carries the room's change
// cursor), renews the token when the stream says it expired, and backs off with jitter
// between attempts. This file only translates its events for the room view.

import { client } from './api.js'

/** @typedef {import('./parley-client.js').ParleyEvents} ParleyEvents */
/** @typedef {'connecting' | 'live' | 'reconnecting'} Status */

/**
 * What the room view does with its stream's events.
 * @typedef {object} RoomStreamHandlers
 * @property {(message: ParleyEvents['message']) => void} message a new message
 * @property {(message: ParleyEvents['edit']) => void} edit the message as it is after an edit
 * @property {(data: ParleyEvents['delete']) => void} delete
 * @property {(data: ParleyEvents['reaction']) => void} reaction
 * @property {(data: ParleyEvents['presence']) => void} presence
 * @property {(data: ParleyEvents['typing']) => void} typing
 * @property {(data: ParleyEvents['read']) => void} read
 * @property {() => void} open each time a connection opens: what was missed meanwhile is asked for
 * @property {(status: Status) => void} status
 * @property {(reason: 'removed' | 'not_found' | 'unauthorized') => void} gone the room is lost
 *   for good, or the token is refused even when renewed
 * @property {() => void} reload the room's history since the view loaded it is no longer kept
 *   on the server (the stream resumed from too old a cursor): load it again
 */

/** @type {Record<'connecting' | 'open' | 'reconnecting', Status>} */
const STATUS = { connecting: 'connecting', open: 'live', reconnecting: 'reconnecting' }

/**
 * Connects to room `roomId`'s stream, replaying every change after cursor `afterCursor` first.
 * @param {number} roomId
 * @param {number} afterCursor
 * @param {RoomStreamHandlers} handlers
 */
export function connectRoomStream(roomId, afterCursor, handlers) {
  const stream = client.rooms.stream(
    roomId,
    {
      message: (message) => handlers.message(message),
      edit: (message) => handlers.edit(message),
      delete: (data) => handlers.delete(data),
      reaction: (data) => handlers.reaction(data),
      presence: (data) => handlers.presence(data),
      typing: (data) => handlers.typing(data),
      read: (data) => handlers.read(data),
      reload: () => handlers.reload(),
      state(state, { reason }) {
        if (state !== 'closed') {
          handlers.status(STATUS[state])
          if (state === 'open') handlers.open()
        } else if (reason !== 'closed') {
          handlers.gone(reason === 'removed' || reason === 'unauthorized' ? reason : 'not_found')
        }
      },
    },
    { after: { [roomId]: afterCursor } },
  )
  return { stop: () => stream.close(), lastEventId: () => Number(stream.lastEventId) }
}
