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
import type { Transport } from './transport.js'

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

export function createRest({ json }: Transport) {
  return {
    rooms: {
      list: (options: LobbyOptions = {}) =>
        json<LobbyPage>('GET', '/rooms', { query: { ...options, cursor: options.cursor ?? undefined } }),
      create: (input: CreateRoomInput) => json<Room>('POST', '/rooms', { body: input }),
      get: (id: number) => json<Room>('GET', room(id)),
      join: (id: number) => json<Member>('POST', `${room(id)}/join`),
      presence: (id: number, options: PresenceOptions = {}) =>
        json<Presence>('GET', `${room(id)}/presence`, { query: options }),
      typing: (id: number, state: TypingState) =>
        json<void>('POST', `${room(id)}/typing`, { body: { state } satisfies z.input<typeof TypingBody> }),
      markRead: (id: number, seq: number) =>
        json<ReadAnswer>('POST', `${room(id)}/read`, { body: { seq } satisfies z.input<typeof ReadBody> }),
      reads: (id: number) => json<{ reads: ReadMark[] }>('GET', `${room(id)}/reads`),
    },
    messages: {
      list: (roomId: number, options: MessagesOptions = {}) =>
        json<MessagePage>('GET', `${room(roomId)}/messages`, { query: options }),
      get: (roomId: number, seq: number) => json<Message>('GET', message(roomId, seq)),
      post: (roomId: number, input: PostMessageInput) =>
        json<Message>('POST', `${room(roomId)}/messages`, { body: input }),
      edit: (roomId: number, seq: number, input: EditMessageInput) =>
        json<Message>('PATCH', message(roomId, seq), { body: input }),
      delete: (roomId: number, seq: number) => json<void>('DELETE', message(roomId, seq)),
      replies: (roomId: number, seq: number, options: RepliesOptions = {}) =>
        json<MessagePage>('GET', `${message(roomId, seq)}/replies`, { query: options }),
    },
    reactions: {
      add: (roomId: number, seq: number, emoji: string) => json<Message>('PUT', reaction(roomId, seq, emoji)),
      remove: (roomId: number, seq: number, emoji: string) =>
        json<Message>('DELETE', reaction(roomId, seq, emoji)),
      /** A page of who reacted with what, oldest first; pass its `next_cursor` as `cursor` for the next. */
      list: (roomId: number, seq: number, options: ReactionsOptions = {}) =>
        json<ReactionPage>('GET', `${message(roomId, seq)}/reactions`, {
          query: { ...options, cursor: options.cursor ?? undefined },
        }),
    },
    members: {
      list: (roomId: number) => json<{ members: Member[] }>('GET', `${room(roomId)}/members`),
      add: (roomId: number, input: AddMemberInput) =>
        json<Member>('POST', `${room(roomId)}/members`, { body: input }),
      remove: (roomId: number, userId: string) =>
        json<void>('DELETE', `${room(roomId)}/members/${encodeURIComponent(userId)}`),
    },
    dms: {
      /** The direct-message room with another user, created the first time either asks. */
      open: (input: OpenDmInput) => json<Room>('POST', '/dms', { body: input }),
    },
    mentions: {
      list: (options: MentionsOptions = {}) =>
        json<MentionPage>('GET', '/mentions', { query: { ...options, cursor: options.cursor ?? undefined } }),
    },
    streamTickets: {
      create: () => json<StreamTicket>('POST', '/stream-tickets'),
    },
    /** Development sign-in (absent, 404 not_found, in production): a one-hour token for a name. */
    devToken: (input: DevTokenInput) =>
      json<DevTokenAnswer>('POST', '/dev/token', { body: input, auth: false }),
    health: () => json<Health>('GET', '/healthz', { auth: false }),
    /** 503 (a ParleyError) while the database or the LISTEN connection is down. */
    ready: () => json<Health>('GET', '/readyz', { auth: false }),
  }
}
