import type { BackoffPolicy } from './backoff.js'
import type { StreamPosition } from './cursors.js'
import type { EventHandlers, UserEventHandlers } from './events.js'
import type { CallbackFailure } from './listeners.js'

// What an application sees of a stream: its states, callbacks, options and methods.

export type StreamState = 'connecting' | 'open' | 'reconnecting' | 'closed'

/**
 * Why a stream closed for good: close() was called, the caller was removed from the room,
 * the room is not there, a renewed token was refused too, or the server refused the stream.
 */
export type CloseReason = 'closed' | 'removed' | 'not_found' | 'unauthorized' | 'refused'

export interface StateChange {
  /** With `reconnecting`: how long until the next attempt. */
  delayMs?: number
  /** With `reconnecting`: what ended the last attempt; with `closed`: what refused the stream. */
  error?: unknown
  /** With `closed`. */
  reason?: CloseReason
}

/**
 * `reload` is called when the stream resumed from a cursor older than what the server keeps
 * (its RETENTION_MS): what changed in room `room_id` since (on the user's stream: in the
 * user's events) cannot be replayed. Load the room's history again (GET /rooms/:id/messages);
 * the stream goes on live from the present, and its saved cursor has moved there.
 */
export interface StreamHandlers extends EventHandlers, StreamCallbacks {}

export interface UserStreamHandlers extends UserEventHandlers, StreamCallbacks {}

export interface StreamCallbacks {
  /** Every change of state, the first one after the stream has been returned. */
  state?(state: StreamState, change: StateChange): void
  /** A callback of the stream's threw `error` (without one, it goes to console.error). */
  error?(error: unknown, failure: CallbackFailure): void
}

export interface StreamOptions {
  /**
   * Resume after this position instead of starting live: a stream's `position` or
   * `lastEventId`, or a room's `cursor` (from GET /rooms/:id or a page of messages) by room id.
   */
  after?: StreamPosition
  backoff?: Partial<BackoffPolicy>
  /** Math.random unless given (tests make the jitter deterministic with their own). */
  random?: () => number
  /** The clock (Date.now unless given): how long a connection lasted decides whether backoff starts over. */
  now?: () => number
  /**
   * Reconnect when nothing arrives for this long, heartbeats included (the server pings
   * every 15 s by default): a connection can die without either end hearing of it.
   * 0 turns it off. Default 45 000.
   */
  idleTimeoutMs?: number
}

/** A room's stream or several rooms' one; ParleyUserStream is the user's own. */
export interface ParleyStream<Handlers = StreamHandlers, Position = Record<number, number>> {
  readonly state: StreamState
  /** The Last-Event-ID the next connection will send: where it resumes. `after` takes it back. */
  readonly lastEventId: string | undefined
  /** Where it resumes, as `after` takes it: by room id (the user's stream: its cursor). */
  readonly position: Position
  /**
   * Resolves once the stream is open (at once if it is), rejects with a StreamClosedError
   * if it closes for good first.
   */
  opened(): Promise<void>
  /** Adds a callback, as if given when the stream was opened; returns what removes it. */
  on<Name extends keyof Handlers & string>(name: Name, handler: NonNullable<Handlers[Name]>): () => void
  off<Name extends keyof Handlers & string>(name: Name, handler: NonNullable<Handlers[Name]>): void
  close(): void
}

/** The user's position: their event cursor, or over shards a text of one cursor per shard. */
export type UserPosition = number | string

/** `after`: the user's position, as the stream's `position` (or `lastEventId`) gives it. */
export type UserStreamOptions = Omit<StreamOptions, 'after'> & { after?: UserPosition }

export type ParleyUserStream = ParleyStream<UserStreamHandlers, UserPosition | undefined>
