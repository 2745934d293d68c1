import { backoffDelay, DEFAULT_BACKOFF, retryAfterDelay } from './backoff.js'
import { createCursors, createUserCursor, type StreamCursors, type StreamPosition } from './cursors.js'
import { ParleyError, StreamClosedError } from './errors.js'
import { HISTORY_EVENTS, roomOf, USER_EVENTS } from './events.js'
import { createListeners } from './listeners.js'
import { createSseParser, type SseEvent } from './sse-parser.js'
import type {
  CloseReason,
  ParleyStream,
  ParleyUserStream,
  StateChange,
  StreamHandlers,
  StreamOptions,
  StreamState,
  UserPosition,
  UserStreamHandlers,
  UserStreamOptions,
} from './stream-api.js'
import type { Transport } from './transport.js'

export type * from './stream-api.js'

/**
 * Rooms' streams (one room, or several on one connection), or the user's own stream
 * (GET /me/stream), whose one cursor is kept under USER_CURSOR.
 */
export type StreamTarget = RoomsTarget | { user: true }
type RoomsTarget = { roomIds: number[]; multi: boolean; user?: false }

export const USER_CURSOR = 0

/** What a connection's end asks for next. */
type Next =
  | { retry: 'now' | 'backoff'; error?: unknown }
  | { retry: 'after'; seconds: number; error: unknown }
  | { stop: CloseReason; error?: unknown }

type Waiter = { resolve(): void; reject(error: StreamClosedError): void }

/** A connection that stayed open this long was a success: the next failure backs off from the start. */
const STABLE_MS = 10_000

export function openStream(
  transport: Transport,
  target: RoomsTarget,
  handlers: StreamHandlers,
  options?: StreamOptions,
): ParleyStream
export function openStream(
  transport: Transport,
  target: { user: true },
  handlers: UserStreamHandlers,
  options?: UserStreamOptions,
): ParleyUserStream
export function openStream(
  transport: Transport,
  target: StreamTarget,
  handlers: StreamHandlers | UserStreamHandlers,
  options: StreamOptions | UserStreamOptions = {},
): ParleyStream | ParleyUserStream {
  const policy = { ...DEFAULT_BACKOFF, ...options.backoff }
  const random = options.random ?? Math.random
  const now = options.now ?? Date.now
  const idleTimeoutMs = options.idleTimeoutMs ?? 45_000
  const multi = !target.user && target.multi
  const rooms = target.user ? [USER_CURSOR] : [...target.roomIds]
  const history = target.user ? USER_EVENTS : HISTORY_EVENTS
  const { after } = options
  const roomCursors = target.user
    ? undefined
    : createCursors(rooms, multi, after as StreamPosition | undefined)
  const cursors: StreamCursors = roomCursors ?? createUserCursor(after as UserPosition | undefined)
  const listeners = createListeners(handlers)
  let state: StreamState = 'connecting'
  let closed = false
  let closedError: StreamClosedError | undefined
  const waiters: Waiter[] = []
  let renew = false
  let connection: AbortController | undefined
  let wake: (() => void) | undefined

  function setState(next: StreamState, change: StateChange = {}) {
    if (state === next && next !== 'reconnecting') return
    state = next
    listeners.emit('state', next, change)
    if (next === 'open') for (const waiter of waiters.splice(0)) waiter.resolve()
  }

  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms)
      wake = () => {
        clearTimeout(timer)
        resolve()
      }
    })
  }

  /**
   * Failures in a row count on across connections that open and soon drop: a server that
   * accepts and then fails at once must not be retried at the first step's pace forever.
   */
  async function run() {
    let failures = 0
    if (closed) return
    listeners.emit('state', 'connecting', {})
    while (!closed) {
      let openedAt: number | undefined
      const next = await connect(() => (openedAt = now()))
      if (closed) return
      if ('stop' in next) return finish(next.stop, next.error)
      if (openedAt !== undefined && now() - openedAt >= STABLE_MS) failures = 0
      failures = next.retry === 'now' ? 0 : failures + 1
      const delayMs =
        next.retry === 'now'
          ? 0
          : next.retry === 'after'
            ? retryAfterDelay(next.seconds, policy, random)
            : backoffDelay(failures, policy, random)
      setState('reconnecting', next.error === undefined ? { delayMs } : { delayMs, error: next.error })
      if (delayMs > 0) await sleep(delayMs)
    }
  }

  /**
   * One connection, to the end of its body. It sends the token in the Authorization header,
   * as every call does: fetch can, so the token stays out of the URL without a stream ticket
   * (which EventSource needs), and a reconnect costs one request, not two and two writes.
   */
  async function connect(opened: () => void): Promise<Next> {
    const abort = new AbortController()
    connection = abort
    let ending: Next = { retry: 'backoff' }
    try {
      // After `expired` the token is renewed here, once, so the calls below must not renew
      // it again: either way, a 401 is then a renewed token refused.
      const renewed = renew
      if (renewed) await transport.token(true)
      renew = false
      await startFromKnownPoints(abort.signal, !renewed)
      const response = await transport.send(
        'GET',
        streamPath(),
        { query: streamQuery(), signal: abort.signal },
        !renewed,
      )
      opened()
      setState('open')
      await read(response, abort, (next) => (ending = next))
      return ending
    } catch (error) {
      if (closed) return { stop: 'closed' }
      // send() has renewed the token once already: a 401 now is final.
      const refused = error instanceof ParleyError && error.status === 401
      return refused ? { stop: 'unauthorized', error } : afterFailure(error)
    } finally {
      abort.abort()
    }
  }

  /**
   * A stream opened without `after` starts from the present as the server tells it, not
   * from "live": otherwise a connection dropped before its first event would reconnect live
   * and skip what was written meanwhile. Asked once per room (or user) without a cursor.
   */
  async function startFromKnownPoints(signal: AbortSignal, renewOn401: boolean): Promise<void> {
    for (const room of rooms) {
      if (cursors.get(room) !== undefined) continue
      const path = target.user ? '/me/cursor' : `/rooms/${room}`
      const { cursor } = await transport.json<{ cursor: number | string }>(
        'GET',
        path,
        { signal },
        renewOn401,
      )
      if (cursors.get(room) === undefined) cursors.moveTo(room, cursor)
    }
  }

  function streamPath(): string {
    if (target.user) return '/me/stream'
    return multi ? '/stream' : `/rooms/${rooms[0]}/stream`
  }

  /** The cursor goes in `last_event_id`, which the server reads like the Last-Event-ID header. */
  function streamQuery(): Record<string, string | undefined> {
    const last_event_id = cursors.lastEventId(rooms)
    return multi ? { rooms: rooms.join(','), last_event_id } : { last_event_id }
  }

  function afterFailure(error: unknown): Next {
    if (!(error instanceof ParleyError)) return { retry: 'backoff', error }
    if (error.status === 404) return { stop: 'not_found', error }
    if ((error.status === 429 || error.status === 503) && error.retryAfter !== undefined) {
      return { retry: 'after', seconds: error.retryAfter, error }
    }
    const transient = error.status === 408 || error.status === 429 || error.status >= 500
    return transient ? { retry: 'backoff', error } : { stop: 'refused', error }
  }

  /** Reads frames until the body ends, the connection idles out, or a closing event says what next. */
  async function read(response: Response, abort: AbortController, end: (next: Next) => void) {
    const reader = response.body?.getReader()
    if (!reader) return
    let idle: ReturnType<typeof setTimeout> | undefined
    const restartIdle = () => {
      clearTimeout(idle)
      if (idleTimeoutMs > 0) idle = setTimeout(() => abort.abort(), idleTimeoutMs)
    }
    const parser = createSseParser({
      activity: restartIdle,
      event: (event) => {
        const next = handle(event)
        if (next) {
          end(next)
          abort.abort()
        }
      },
    })
    const decoder = new TextDecoder()
    restartIdle()
    try {
      for (;;) {
        const { done, value } = await reader.read()
        if (done) break
        parser.feed(decoder.decode(value, { stream: true }))
      }
    } catch (error) {
      // Our own abort after a closing event ends the read; anything else is a dropped connection.
      if (!abort.signal.aborted) throw error
    } finally {
      clearTimeout(idle)
    }
  }

  /** Delivers one event; returns what to do next when it is one that ends the connection. */
  function handle(event: SseEvent): Next | undefined {
    let data: unknown
    try {
      data = JSON.parse(event.data)
    } catch {
      return undefined
    }
    const roomId = roomOf(data)
    if (history.has(event.event) && event.id !== undefined && !cursors.advance(event.id, roomId)) {
      return undefined
    }
    if (event.event === 'reload') moveToPresent(data, roomId)
    listeners.emit(event.event, data, { id: event.id, roomId })
    if (event.event === 'expired') {
      renew = true
      return { retry: 'now' }
    }
    if (event.event === 'shutdown') return { retry: 'backoff' }
    // On the user's stream, `removed` is news of a room, not the end of the stream.
    if (event.event === 'removed' && !target.user) return removedFrom(roomId)
    return undefined
  }

  /** The server goes on from `cursor`: the next connection resumes there, not from the cursor it refused. */
  function moveToPresent(data: unknown, roomId: number | undefined): void {
    const cursor = (data as { cursor?: unknown } | null)?.cursor
    const room = target.user ? USER_CURSOR : roomId
    const known = typeof cursor === 'number' || typeof cursor === 'string'
    if (known && room !== undefined) cursors.moveTo(room, cursor)
  }

  /** A multi-room stream goes on with its other rooms; a room's own stream ends for good. */
  function removedFrom(roomId: number | undefined): Next {
    const index = roomId === undefined ? -1 : rooms.indexOf(roomId)
    if (multi && index !== -1 && rooms.length > 1) {
      rooms.splice(index, 1)
      return { retry: 'now' }
    }
    return { stop: 'removed' }
  }

  function finish(reason: CloseReason, error?: unknown) {
    closed = true
    connection?.abort()
    closedError = new StreamClosedError(reason, error)
    for (const waiter of waiters.splice(0)) waiter.reject(closedError)
    setState('closed', error === undefined ? { reason } : { reason, error })
  }

  // The first state change waits until the caller holds the stream, so its callback may use it.
  queueMicrotask(() => void run().catch((error: unknown) => listeners.report(error, 'stream')))

  // One object serves both overloads: its position is the user's cursor or the rooms' map.
  const stream = {
    get state() {
      return state
    },
    get lastEventId() {
      return cursors.lastEventId(rooms)
    },
    get position() {
      return roomCursors ? roomCursors.position(rooms) : cursors.get(USER_CURSOR)
    },
    opened() {
      if (state === 'open') return Promise.resolve()
      if (closedError) return Promise.reject(closedError)
      return new Promise<void>((resolve, reject) => waiters.push({ resolve, reject }))
    },
    on: (name: string, handler: (...args: never[]) => unknown) => listeners.on(name, handler),
    off: (name: string, handler: (...args: never[]) => unknown) => listeners.off(name, handler),
    close() {
      if (closed) return
      finish('closed')
      wake?.()
    },
  }
  return stream as ParleyStream | ParleyUserStream
}
