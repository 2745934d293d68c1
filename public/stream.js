// One EventSource per open room, opened with a single-use ticket from POST /stream-tickets,
// so that the token never appears in a URL (proxies, access logs and browser history keep
// those). A spent ticket opens nothing, so EventSource is never left to reconnect by itself:
// on any error, and when the server says the token expired, we close it, buy a new ticket
// (with a fresh token if need be) and open a new one that resumes after the last change
// received, so nothing is missed or repeated. Every change to the room's history (a new
// message, an edit, a delete, a reaction) comes with `id:` the room's change cursor after
// it; that, not a message's seq, is where a stream resumes.

import { api, ApiError, refreshToken } from './api.js'

const MAX_BACKOFF_MS = 15_000

const CHANGES = ['edit', 'delete', 'reaction']

/**
 * Connects to room `roomId`'s stream, replaying every change after cursor `afterCursor` first.
 * handlers: message(msg), change(type, data) for edit/delete/reaction, event(type, data) for
 * presence/typing/read/open, status('connecting' | 'live' | 'reconnecting'), gone(reason)
 * when the room is lost for good.
 */
export function connectRoomStream(roomId, afterCursor, handlers) {
  let lastEventId = afterCursor
  let source
  let stopped = false
  let failures = 0
  let retryTimer

  async function open() {
    handlers.status(failures > 0 ? 'reconnecting' : 'connecting')
    let ticket
    try {
      // api() sends the token in the Authorization header, and renews it after a 401.
      ticket = (await api('/stream-tickets', { method: 'POST' })).ticket
    } catch {
      if (!stopped) replace({ freshToken: false })
      return
    }
    if (stopped) return
    const url = new URL(`/rooms/${roomId}/stream`, window.location.origin)
    url.searchParams.set('ticket', ticket)
    url.searchParams.set('last_event_id', String(lastEventId))
    source = new EventSource(url)

    source.addEventListener('open', () => {
      failures = 0
      handlers.status('live')
      handlers.event('open')
    })
    source.addEventListener('message', (event) => {
      remember(event)
      handlers.message(JSON.parse(event.data))
    })
    for (const type of CHANGES) {
      source.addEventListener(type, (event) => {
        remember(event)
        handlers.change(type, JSON.parse(event.data))
      })
    }
    for (const type of ['presence', 'typing', 'read']) {
      source.addEventListener(type, (event) => handlers.event(type, JSON.parse(event.data)))
    }
    // The server closes the stream right after these; reopen with a new token at once.
    source.addEventListener('expired', () => replace({ freshToken: true }))
    source.addEventListener('removed', () => finish('removed'))
    source.addEventListener('shutdown', () => handlers.status('reconnecting'))
    // Left alone, EventSource would reconnect presenting the spent ticket.
    source.addEventListener('error', () => {
      if (!stopped) replace({ freshToken: false })
    })
  }

  /** Only history events carry an id; others repeat the last one, which changes nothing. */
  function remember(event) {
    const id = Number(event.lastEventId)
    if (Number.isSafeInteger(id) && id > lastEventId) lastEventId = id
  }

  /** Closes the current EventSource and opens another once we know why it failed. */
  async function replace({ freshToken }) {
    source?.close()
    handlers.status('reconnecting')
    failures++
    try {
      if (freshToken) await refreshToken()
      // A REST call tells us what the stream's failure did not: a 401 here refreshes the
      // token (api() does that), a 404 means the room is gone or hidden from us now.
      else await api(`/rooms/${roomId}`)
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) return finish('not_found')
    }
    if (stopped) return
    const delay = freshToken && failures === 1 ? 0 : Math.min(500 * 2 ** failures, MAX_BACKOFF_MS)
    retryTimer = setTimeout(open, delay)
  }

  function finish(reason) {
    stop()
    handlers.gone(reason)
  }

  function stop() {
    stopped = true
    clearTimeout(retryTimer)
    source?.close()
  }

  open()
  return { stop, lastEventId: () => lastEventId }
}
