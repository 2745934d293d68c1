import type { z } from 'zod'
import type { DevToken, DevTokenBody } from '../src/http/routes/dev.js'
import type { OpenDmBody } from '../src/http/routes/dms.js'
import type { HealthStatus } from '../src/http/routes/health.js'
import type { AddMemberBody } from '../src/http/routes/members.js'
import type { MentionsQuery } from '../src/http/routes/mentions.js'
import type { EditBody, ReactionsQuery } from '../src/http/routes/message-changes.js'
import type { MessagesQuery, PostMessageBody, RepliesQuery } from '../src/http/routes/messages.js'
import type { CreateRoomBody, LobbyQuery } from '../src/http/routes/rooms.js'
import type { PresenceQuery, ReadBody, TypingBody } from '../src/http/routes/social.js'
import type {
  LobbyPage,
  Member,
  MentionPageSchema,
  Message,
  MessagePage,
  PresenceSchema,
  ReactionPage,
  ReadMark,
  Room,
  StreamTicket,
} from '../src/wire.js'
import type { CallOptions, RequestOptions, Transport } from './transport.js'

// Every endpoint of the API, typed by the zod schemas the server validates and answers with:
// request bodies are the schemas' input types, answers the wire types.

export type CreateRoomInput = z.input<typeof CreateRoomBody>
export type PostMessageInput = z.input<typeof PostMessageBody>
export type EditMessageInput = z.input<typeof EditBody>
export type AddMemberInput = z.input<typeof AddMemberBody>
export type OpenDmInput = z.input<typeof OpenDmBody>
export type TypingState = z.input<typeof TypingBody>['state']
export type DevTokenInput = z.input<typeof DevTokenBody>
export type DevTokenAnswer = z.infer<typeof DevToken>
export type Health = z.infer<typeof HealthStatus>
export type Presence = z.infer<typeof PresenceSchema>
export type MentionPage = z.infer<typeof MentionPageSchema>
export type ReadAnswer = Pick<ReadMark, 'user_id' | 'seq'>

/** Query strings arrive as text; these are the values they parse to. */
export type LobbyOptions = Partial<Omit<z.output<typeof LobbyQuery>, 'cursor'>> & {
  cursor?: LobbyPage['next_cursor']
}
export type MentionsOptions = Partial<Omit<z.output<typeof MentionsQuery>, 'cursor'>> & {
  cursor?: MentionPage['next_cursor']
}
export type MessagesOptions = Partial<z.output<typeof MessagesQuery>>
export type RepliesOptions = Partial<z.output<typeof RepliesQuery>>
export type ReactionsOptions = Partial<Omit<z.output<typeof ReactionsQuery>, 'cursor'>> & {
  cursor?: ReactionPage['next_cursor']
}
export type PresenceOptions = Partial<z.output<typeof PresenceQuery>>

const room = (id: number) => `/rooms/${encodeURIComponent(id)}`
const message = (roomId: number, seq: number) => `${room(roomId)}/messages/${encodeURIComponent(seq)}`
const reaction = (roomId: number, seq: number, emoji: string) =>
  `${message(roomId, seq)}/reactions/${encodeURIComponent(emoji)}`

/**
 * Every call takes, last, its `CallOptions`: `{ timeout, signal }`, so that an application
 * can bound a call or abort it (a view closed while it loads).
 */
export function createRest(transport: Transport) {
  const json = <T>(method: string, path: string, request: RequestOptions = {}, call: CallOptions = {}) =>
    transport.json<T>(method, path, { ...request, ...call })
  return {
    rooms: {
      list: (options: LobbyOptions = {}, call?: CallOptions) =>
        json<LobbyPage>(
          'GET',
          '/rooms',
          { query: { ...options, cursor: options.cursor ?? undefined } },
          call,
        ),
      create: (input: CreateRoomInput, call?: CallOptions) =>
        json<Room>('POST', '/rooms', { body: input }, call),
      get: (id: number, call?: CallOptions) => json<Room>('GET', room(id), {}, call),
      join: (id: number, call?: CallOptions) => json<Member>('POST', `${room(id)}/join`, {}, call),
      presence: (id: number, options: PresenceOptions = {}, call?: CallOptions) =>
        json<Presence>('GET', `${room(id)}/presence`, { query: options }, call),
      typing: (id: number, state: TypingState, call?: CallOptions) =>
        json<void>(
          'POST',
          `${room(id)}/typing`,
          { body: { state } satisfies z.input<typeof TypingBody> },
          call,
        ),
      markRead: (id: number, seq: number, call?: CallOptions) =>
        json<ReadAnswer>(
          'POST',
          `${room(id)}/read`,
          { body: { seq } satisfies z.input<typeof ReadBody> },
          call,
        ),
      reads: (id: number, call?: CallOptions) =>
        json<{ reads: ReadMark[] }>('GET', `${room(id)}/reads`, {}, call),
    },
    messages: {
      list: (roomId: number, options: MessagesOptions = {}, call?: CallOptions) =>
        json<MessagePage>('GET', `${room(roomId)}/messages`, { query: options }, call),
      get: (roomId: number, seq: number, call?: CallOptions) =>
        json<Message>('GET', message(roomId, seq), {}, call),
      post: (roomId: number, input: PostMessageInput, call?: CallOptions) =>
        json<Message>('POST', `${room(roomId)}/messages`, { body: input }, call),
      edit: (roomId: number, seq: number, input: EditMessageInput, call?: CallOptions) =>
        json<Message>('PATCH', message(roomId, seq), { body: input }, call),
      delete: (roomId: number, seq: number, call?: CallOptions) =>
        json<void>('DELETE', message(roomId, seq), {}, call),
      replies: (roomId: number, seq: number, options: RepliesOptions = {}, call?: CallOptions) =>
        json<MessagePage>('GET', `${message(roomId, seq)}/replies`, { query: options }, call),
    },
    reactions: {
      add: (roomId: number, seq: number, emoji: string, call?: CallOptions) =>
        json<Message>('PUT', reaction(roomId, seq, emoji), {}, call),
      remove: (roomId: number, seq: number, emoji: string, call?: CallOptions) =>
        json<Message>('DELETE', reaction(roomId, seq, emoji), {}, call),
      /** A page of who reacted with what, oldest first; pass its `next_cursor` as `cursor` for the next. */
      list: (roomId: number, seq: number, options: ReactionsOptions = {}, call?: CallOptions) =>
        json<ReactionPage>(
          'GET',
          `${message(roomId, seq)}/reactions`,
          { query: { ...options, cursor: options.cursor ?? undefined } },
          call,
        ),
    },
    members: {
      list: (roomId: number, call?: CallOptions) =>
        json<{ members: Member[] }>('GET', `${room(roomId)}/members`, {}, call),
      add: (roomId: number, input: AddMemberInput, call?: CallOptions) =>
        json<Member>('POST', `${room(roomId)}/members`, { body: input }, call),
      remove: (roomId: number, userId: string, call?: CallOptions) =>
        json<void>('DELETE', `${room(roomId)}/members/${encodeURIComponent(userId)}`, {}, call),
    },
    dms: {
      /** The direct-message room with another user, created the first time either asks. */
      open: (input: OpenDmInput, call?: CallOptions) => json<Room>('POST', '/dms', { body: input }, call),
    },
    mentions: {
      list: (options: MentionsOptions = {}, call?: CallOptions) =>
        json<MentionPage>(
          'GET',
          '/mentions',
          { query: { ...options, cursor: options.cursor ?? undefined } },
          call,
        ),
    },
    streamTickets: {
      create: (call?: CallOptions) => json<StreamTicket>('POST', '/stream-tickets', {}, call),
    },
    /** Development sign-in (absent, 404 not_found, in production): a one-hour token for a name. */
    devToken: (input: DevTokenInput, call?: CallOptions) =>
      json<DevTokenAnswer>('POST', '/dev/token', { body: input, auth: false }, call),
    health: (call?: CallOptions) => json<Health>('GET', '/healthz', { auth: false }, call),
    /** 503 (a ParleyError) while the database or the LISTEN connection is down. */
    ready: (call?: CallOptions) => json<Health>('GET', '/readyz', { auth: false }, call),
  }
}
