import type { Message } from '../../src/wire.js'
import { EventSource } from 'eventsource'
import { until } from './wait.js'

/** A change to a room's history as a stream delivered it: its event name, `id:` and data. */
export interface HistoryEvent {
  type: 'message' | 'edit' | 'delete' | 'reaction'
  id: string
  data: unknown
}

export interface StreamClient {
  messages: Message[]
  /** Every change to history (new messages included), in arrival order. */
  changes: HistoryEvent[]
  /** The `id:` of the latest change: a cursor, or a `room:cursor,…` map on a multi-room stream. */
  lastEventId(): string
  /** Every named event other than `message`, in arrival order. */
  events: { type: string; data: string }[]
  /** Resolves when the stream is open (headers received). */
  opened: Promise<void>
  seqs(): number[]
  waitFor(count: number, timeoutMs?: number): Promise<void>
  close(): void
}

export interface StreamOptions {
  /** The bearer token; leave it out to authenticate with `ticket` alone. */
  token?: string
  /** A stream ticket (POST /stream-tickets), sent as ?ticket=. */
  ticket?: string
  lastEventId?: number
  /** Pass the token as ?access_token= instead of the Authorization header. */
  tokenInQuery?: boolean
  /** Let EventSource reconnect by itself on errors (it does by default). */
  reconnect?: boolean
}

/** A real SSE client (the `eventsource` package) on a room's stream. */
export function openStream(baseUrl: string, roomId: number, options: StreamOptions): StreamClient {
  return openEventSource(`${baseUrl}/rooms/${roomId}/stream`, options)
}

/** The same on the multi-room stream, GET /stream?rooms=…; `lastEventId` may be a cursor. */
export function openMultiStream(
  baseUrl: string,
  roomIds: number[],
  options: Omit<StreamOptions, 'lastEventId'> & { lastEventId?: string },
): StreamClient {
  return openEventSource(`${baseUrl}/stream?rooms=${roomIds.join(',')}`, options)
}

function openEventSource(
  address: string,
  options: Omit<StreamOptions, 'lastEventId'> & { lastEventId?: number | string },
): StreamClient {
  const url = new URL(address)
  if (options.ticket !== undefined) url.searchParams.set('ticket', options.ticket)
  if (options.tokenInQuery) url.searchParams.set('access_token', options.token ?? '')
  let initialLastEventId = options.lastEventId
  const source = new EventSource(url, {
    fetch: (input, init) => {
      const headers = new Headers(init?.headers)
      if (options.token !== undefined && !options.tokenInQuery) {
        headers.set('authorization', `Bearer ${options.token}`)
      }
      if (initialLastEventId !== undefined && !headers.has('last-event-id')) {
        headers.set('last-event-id', String(initialLastEventId))
      }
      initialLastEventId = undefined
      return fetch(input, { ...init, headers })
    },
  })
  const messages: Message[] = []
  const changes: HistoryEvent[] = []
  const events: { type: string; data: string }[] = []
  let lastId = ''
  for (const type of ['message', 'edit', 'delete', 'reaction'] as const) {
    source.addEventListener(type, (event) => {
      const data = JSON.parse(event.data) as unknown
      if (type === 'message') messages.push(data as Message)
      changes.push({ type, id: event.lastEventId, data })
      lastId = event.lastEventId
    })
  }
  for (const type of ['expired', 'shutdown', 'removed', 'presence', 'typing', 'read']) {
    source.addEventListener(type, (event) => {
      events.push({ type, data: event.data })
      if (options.reconnect === false && ['expired', 'shutdown', 'removed'].includes(type)) source.close()
    })
  }
  const opened = new Promise<void>((resolve, reject) => {
    source.addEventListener('open', () => resolve(), { once: true })
    source.addEventListener(
      'error',
      (event) => reject(new Error(`stream failed: ${event.code ?? ''} ${event.message ?? ''}`)),
      { once: true },
    )
  })
  opened.catch(() => {})
  if (options.reconnect === false) source.addEventListener('error', () => source.close())
  return {
    messages,
    changes,
    lastEventId: () => lastId,
    events,
    opened,
    seqs: () => messages.map((message) => message.seq),
    waitFor: (count, timeoutMs = 10_000) =>
      until(() => messages.length >= count, `${count} messages (have ${messages.length})`, timeoutMs),
    close: () => source.close(),
  }
}

/** The parsed data of every `type` event the stream received, in arrival order. */
export const eventsOf = (stream: StreamClient, type: string) =>
  stream.events.filter((event) => event.type === type).map((event) => JSON.parse(event.data) as unknown)
