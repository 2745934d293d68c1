// One stream per open room, from the client library (parley-client.js): it opens each
// connection with a single-use ticket, so the token never appears in a URL, resumes after
// the last change received (each change to the room's history carries the room's change
// cursor), renews the token when the stream says it expired, and backs off with jitter
// between attempts. This file only translates its events for the room view.

import { client } from './api.js'

const CHANGES = ['edit', 'delete', 'reaction']
const EVENTS = ['presence', 'typing', 'read']
const STATUS = { connecting: 'connecting', open: 'live', reconnecting: 'reconnecting' }

/**
 * Connects to room `roomId`'s stream, replaying every change after cursor `afterCursor` first.
 * handlers: message(msg), change(type, data) for edit/delete/reaction, event(type, data) for
 * presence/typing/read/open, status('connecting' | 'live' | 'reconnecting'), gone(reason)
 * when the room is lost for good ('removed' or 'not_found').
 */
export function connectRoomStream(roomId, afterCursor, handlers) {
  const listeners = {
    message: (message) => handlers.message(message),
    state(state, { reason }) {
      if (state !== 'closed') {
        handlers.status(STATUS[state])
        if (state === 'open') handlers.event('open')
      } else if (reason !== 'closed') {
        handlers.gone(reason === 'removed' ? 'removed' : 'not_found')
      }
    },
  }
  for (const type of CHANGES) listeners[type] = (data) => handlers.change(type, data)
  for (const type of EVENTS) listeners[type] = (data) => handlers.event(type, data)
  const stream = client.rooms.stream(roomId, listeners, { after: { [roomId]: afterCursor } })
  return { stop: () => stream.close(), lastEventId: () => Number(stream.lastEventId) }
}
