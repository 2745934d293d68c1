import { type Agent, type ClientRequest, type IncomingMessage, request } from 'node:http'
import { isStaleKeepAlive } from './keep-alive.js'
import { createSseParser, type SseEvent } from '../../client/sse-parser.js'

export type { SseEvent }

export type SseEnd =
  /** The server ended the response. */
  | { reason: 'ended' }
  /** The server answered something other than 200. */
  | { reason: 'status'; status: number; body: string }
  /** The connection failed or was reset. */
  | { reason: 'error'; error: Error }

export interface SseStreamOptions {
  url: URL
  headers?: Record<string, string>
  /** Sent as the Last-Event-ID header when set. */
  lastEventId?: string
  agent?: Agent
  onOpen?: () => void
  onEvent: (event: SseEvent) => void
  /** Called once when the stream ends by itself; never after close(). */
  onEnd: (end: SseEnd) => void
}

export interface SseStream {
  /** The id of the last event received in full (or the one it was opened with). */
  readonly lastEventId: string | undefined
  /** Stops reading the socket, so the server's writes back up as they would behind a slow client. */
  pause(): void
  resume(): void
  /** Destroys the connection; onEnd is not called. */
  close(): void
}

/**
 * A minimal SSE client on node:http, one request per stream and no reconnection of its own:
 * the caller decides when and how to come back. Cheaper per event than `eventsource` over
 * fetch, which matters with thousands of streams in one process.
 */
export function openSseStream(options: SseStreamOptions): SseStream {
  let closed = false
  let response: IncomingMessage | undefined
  let lastEventId = options.lastEventId
  const parser = createSseParser({
    event(event) {
      if (event.id !== undefined) lastEventId = event.id
      if (!closed) options.onEvent(event)
    },
  })

  const end = (result: SseEnd) => {
    if (closed) return
    closed = true
    options.onEnd(result)
  }

  const headers: Record<string, string> = { accept: 'text/event-stream', ...options.headers }
  if (options.lastEventId !== undefined) headers['last-event-id'] = options.lastEventId
  const send = (retry: boolean): ClientRequest => {
    const req = request(options.url, { agent: options.agent, headers })
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (retry && !closed && response === undefined && isStaleKeepAlive(req, error)) current = send(false)
      else end({ reason: 'error', error })
    })
    req.on('response', (res) => {
      response = res
      res.setEncoding('utf8')
      if (res.statusCode !== 200) {
        let body = ''
        res.on('data', (chunk: string) => (body += chunk))
        res.on('end', () => end({ reason: 'status', status: res.statusCode ?? 0, body }))
        return
      }
      options.onOpen?.()
      res.on('data', (chunk: string) => parser.feed(chunk))
      res.on('end', () => end({ reason: 'ended' }))
      res.on('error', (error) => end({ reason: 'error', error }))
      // A connection reset mid-stream may close the response without 'end' or 'error'.
      res.on('close', () => end({ reason: 'error', error: new Error('connection closed mid-stream') }))
    })
    req.end()
    return req
  }
  let current = send(true)

  return {
    get lastEventId() {
      return lastEventId
    },
    pause: () => response?.pause(),
    resume: () => response?.resume(),
    close() {
      closed = true
      current.destroy()
    },
  }
}
