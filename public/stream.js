// One EventSource per open room. EventSource reconnects by itself after a dropped
// connection (sending Last-Event-ID); it gives up (readyState CLOSED) on any answer other
// than a stream, such as a 401 once the token in its URL has expired. Then we get a fresh
// token and open a new one that resumes after the last seq received, so nothing is missed.

import { api, ApiError, currentSession, refreshToken } from './api.js'

const MAX_BACKOFF_MS = 15_000

/**
 * Connects to room `roomId`'s stream, replaying everything after `afterSeq` first.
 * handlers: message(msg), event(type, data) for presence/typing/read/open,
 * status('connecting' | 'live' | 'reconnecting'), gone(reason) when the room is lost for good.
 */
export function connectRoomStream(roomId, afterSeq, handlers) {
  let lastSeq = afterSeq
  let source
  let stopped = false
  let failures = 0
  let retryTimer

  function open() {
    const url = new URL(`/rooms/${roomId}/stream`, window.location.origin)
    url.searchParams.set('access_token', currentSession()?.token ?? '')
    url.searchParams.set('last_event_id', String(lastSeq))
    source = new EventSource(url)
    handlers.status(failures > 0 ? 'reconnecting' : 'connecting')

    source.addEventListener('open', () => {
      failures = 0
      handlers.status('live')
      handlers.event('open')
    })
    source.addEventListener('message', (event) => {
      const message = JSON.parse(event.data)
      if (message.seq > lastSeq) lastSeq = message.seq
      handlers.message(message)
    })
    for (const type of ['presence', 'typing', 'read']) {
      source.addEventListener(type, (event) => handlers.event(type, JSON.parse(event.data)))
    }
    // The server closes the stream right after these; reopen with a new token at once.
    source.addEventListener('expired', () => replace({ freshToken: true }))
    source.addEventListener('removed', () => finish('removed'))
    source.addEventListener('shutdown', () => handlers.status('reconnecting'))
    source.addEventListener('error', () => {
      if (stopped) return
      handlers.status('reconnecting')
      if (source.readyState === EventSource.CLOSED) replace({ freshToken: false })
    })
  }

  /** Closes the current EventSource and opens another once we know why it failed. */
  async function replace({ freshToken }) {
    source.close()
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
  return { stop, lastSeq: () => lastSeq }
}
