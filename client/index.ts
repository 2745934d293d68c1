import { createRest } from './rest.js'
import { openStream } from './stream.js'
import type { StreamHandlers, StreamOptions, UserStreamHandlers, UserStreamOptions } from './stream-api.js'
import { createTransport, type RequestOptions, type TransportOptions } from './transport.js'

export type ClientOptions = TransportOptions

export type ParleyClient = ReturnType<typeof createClient>

/**
 * A Parley client for browsers and Node 20: typed REST calls, and streams that resume where
 * they stopped after every drop. `getToken` is asked for the bearer token (and for a new
 * one when the server says it expired).
 */
export function createClient(options: ClientOptions) {
  const transport = createTransport(options)
  const rest = createRest(transport)
  return {
    ...rest,
    rooms: {
      ...rest.rooms,
      /** A room's stream: its history events from `options.after[id]` on (or live), and its presence, typing, reads. */
      stream: (id: number, handlers: StreamHandlers, streamOptions?: StreamOptions) =>
        openStream(transport, { roomIds: [id], multi: false }, handlers, streamOptions),
    },
    /** One stream for up to 50 rooms, each resumed by its own cursor. */
    stream: (roomIds: number[], handlers: StreamHandlers, streamOptions?: StreamOptions) =>
      openStream(transport, { roomIds, multi: true }, handlers, streamOptions),
    me: {
      /**
       * The caller's own stream: mentions, direct messages, rooms added to and removed from
       * (each resumed by the user's cursor), and unread counts. `after` is a cursor it sent.
       */
      stream: (handlers: UserStreamHandlers, streamOptions?: UserStreamOptions) =>
        openStream(transport, { user: true }, handlers, streamOptions),
    },
    /**
     * Any call by path, with the client's token handling and errors, and `timeout` and
     * `signal` as every call takes them: the JSON answer, undefined for 204.
     */
    request: <T = unknown>(method: string, path: string, request?: RequestOptions) =>
      transport.json<T>(method, path, request),
  }
}

export { ParleyError, type ParleyErrorCode, StreamClosedError } from './errors.js'
export { backoffDelay, retryAfterDelay, DEFAULT_BACKOFF, type BackoffPolicy } from './backoff.js'
export { createSseParser, type SseEvent } from './sse-parser.js'
export type {
  EventHandlers,
  EventMeta,
  ParleyEventName,
  ParleyEvents,
  UserEventHandlers,
  UserEvents,
} from './events.js'
export type { StreamPosition } from './cursors.js'
export type { CallbackFailure } from './listeners.js'
export type {
  CloseReason,
  ParleyStream,
  ParleyUserStream,
  StreamCallbacks,
  StateChange,
  StreamHandlers,
  StreamOptions,
  StreamState,
  UserPosition,
  UserStreamHandlers,
  UserStreamOptions,
} from './stream-api.js'
export type { CallOptions, GetToken, RequestOptions } from './transport.js'
export type * from './rest.js'
export type {
  LobbyPage,
  LobbyRoom,
  Member,
  Mention,
  Message,
  MessagePage,
  Reaction,
  ReactionPage,
  ReadMark,
  Room,
  RoomRole,
  StreamTicket,
} from '../src/wire.js'
