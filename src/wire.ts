import { z } from 'zod'

// Every JSON shape Parley sends, written once. The REST answers, the OpenAPI document and
// the `data:` of every stream event are built from these schemas, and the types below are
// inferred from them. Plain zod with `.meta({ id })`, so a client may import this module
// without the server's dependencies.

const timestamp = z.string().datetime()
const roomId = z.number().int()

export const MessageSchema = z
  .object({
    id: z.number().int(),
    room_id: roomId,
    seq: z.number().int(),
    user_id: z.string(),
    user_name: z.string(),
    body: z.string().meta({ description: 'Empty once the message is deleted' }),
    created_at: timestamp,
    edited_at: timestamp.nullable().meta({ description: 'When the body was last edited; null if never' }),
    deleted_at: timestamp
      .nullable()
      .meta({ description: 'Set once deleted: the message stays as a tombstone, without body or reactions' }),
    reactions: z
      .record(z.string(), z.number().int())
      .meta({ description: 'How many people reacted with each emoji', example: { '👍': 2 } }),
    reply_to: z.number().int().nullable().meta({ description: 'The seq of the message this one replies to' }),
    reply_count: z.number().int(),
    mentions: z.array(z.string()).meta({
      description: 'The users named as @user_id in the body who may read the room, in order of first mention',
    }),
    bot: z.boolean().meta({ description: 'Posted by a bot: its token carried `"bot": true`' }),
  })
  .meta({ id: 'Message' })

export const MessagePageSchema = z
  .object({
    messages: z.array(MessageSchema),
    has_more: z.boolean(),
    cursor: z.number().int().meta({
      description:
        "The room's change cursor this page is consistent with: open the stream with it as Last-Event-ID to miss and repeat nothing",
    }),
  })
  .meta({ id: 'MessagePage' })

export const SearchResultSchema = z
  .object({
    message: MessageSchema,
    room: z.object({ id: roomId, name: z.string() }),
    snippet: z.string().meta({
      description:
        'The matching part of the body as HTML: text escaped, every match in <mark>…</mark>; safe to render as HTML',
      example: 'we <mark>deployed</mark> the fix',
    }),
  })
  .meta({ id: 'SearchResult' })

export const SearchPageSchema = z
  .object({
    results: z.array(SearchResultSchema),
    next_cursor: z.string().nullable().meta({
      description: 'Pass as `cursor` (with the same query) for the next page; null on the last page',
    }),
  })
  .meta({ id: 'SearchPage' })

export const ReactionSchema = z
  .object({ emoji: z.string(), user_id: z.string(), created_at: timestamp })
  .meta({ id: 'Reaction' })

export const ReactionPageSchema = z
  .object({
    reactions: z.array(ReactionSchema),
    next_cursor: z
      .string()
      .nullable()
      .meta({ description: 'Pass as `cursor` for the next page; null on the last page' }),
  })
  .meta({ id: 'ReactionPage' })

export const RoomSchema = z
  .object({
    id: roomId,
    name: z.string(),
    visibility: z.enum(['public', 'private']),
    kind: z
      .enum(['room', 'dm'])
      .meta({ description: 'dm: a private room of two people whose members never change' }),
    created_by: z.string(),
    created_at: timestamp,
    last_seq: z.number().int(),
    message_count: z.number().int(),
    last_message_at: timestamp.nullable(),
    cursor: z.number().int().meta({
      description:
        "The room's change cursor this answer is consistent with: a stream opened with it as Last-Event-ID misses and repeats nothing",
    }),
    slow_mode_seconds: z.number().int().meta({
      description: "The least time between two of one user's posts, moderators exempt; 0 when off",
    }),
  })
  .meta({ id: 'Room' })

export const PersonSchema = z.object({ user_id: z.string(), user_name: z.string() }).meta({ id: 'Person' })

export const LobbyRoomSchema = RoomSchema.extend({
  unread_count: z.number().int().meta({ description: "Others' messages after the caller's read mark" }),
  mention_count: z
    .number()
    .int()
    .meta({ description: "Messages after the caller's read mark that mention the caller" }),
  other_user: PersonSchema.nullable().meta({ description: 'For a direct message, the other person' }),
}).meta({ id: 'LobbyRoom' })

export const LobbyPageSchema = z
  .object({
    rooms: z.array(LobbyRoomSchema),
    next_cursor: z
      .string()
      .nullable()
      .meta({ description: 'Pass as `cursor` for the next page; null on the last page' }),
  })
  .meta({ id: 'LobbyPage' })

export const RoomRoleSchema = z.enum(['owner', 'moderator', 'member'])

export const MemberSchema = z
  .object({ user_id: z.string(), role: RoomRoleSchema, added_at: timestamp })
  .meta({ id: 'Member' })

export const ReadMarkSchema = z
  .object({ user_id: z.string(), seq: z.number().int(), updated_at: timestamp.nullable() })
  .meta({ id: 'ReadMark' })

export const PresentUserSchema = PersonSchema

export const PresenceSchema = z
  .object({
    users: z.array(PresentUserSchema),
    count: z.number().int().meta({ description: 'How many people are here, on every instance' }),
    next_cursor: z.string().nullable().meta({ description: 'Pass as `cursor` for the next page' }),
  })
  .meta({ id: 'Presence' })

export const StreamTicketSchema = z
  .object({
    ticket: z.string().meta({ description: 'Opens one stream as `?ticket=`, once, before `expires_at`' }),
    expires_at: timestamp,
  })
  .meta({ id: 'StreamTicket' })

const RoomRefSchema = z.object({ id: roomId, name: z.string(), kind: z.enum(['room', 'dm']) })

export const MentionSchema = z
  .object({
    message: MessageSchema,
    room: RoomRefSchema,
  })
  .meta({ id: 'Mention' })

export const MentionPageSchema = z
  .object({
    mentions: z.array(MentionSchema),
    next_cursor: z
      .string()
      .nullable()
      .meta({ description: 'Pass as `cursor` for the next page; null on the last page' }),
  })
  .meta({ id: 'MentionPage' })

const nextCursor = z
  .string()
  .nullable()
  .meta({ description: 'Pass as `cursor` for the next page; null on the last page' })

export const RestrictionSchema = z
  .object({
    room_id: roomId,
    user_id: z.string(),
    until: timestamp.nullable().meta({ description: 'When it ends; null: until lifted' }),
    reason: z.string().nullable(),
    created_by: z
      .string()
      .meta({ description: 'Who imposed it (a database role, for a row inserted with psql)' }),
    created_at: timestamp,
  })
  .meta({ id: 'Restriction' })

export const BanPageSchema = z
  .object({ bans: z.array(RestrictionSchema), next_cursor: nextCursor })
  .meta({ id: 'BanPage' })

export const MutePageSchema = z
  .object({ mutes: z.array(RestrictionSchema), next_cursor: nextCursor })
  .meta({ id: 'MutePage' })

export const ReportSchema = z
  .object({
    id: z.number().int(),
    room_id: roomId,
    seq: z.number().int(),
    author_id: z.string(),
    body: z.string().meta({ description: 'The body as it was when reported' }),
    reporter_id: z.string(),
    reason: z.string(),
    created_at: timestamp,
    resolved_at: timestamp.nullable(),
    resolved_by: z.string().nullable(),
    resolution: z.enum(['dismissed', 'actioned']).nullable(),
    note: z.string().nullable(),
  })
  .meta({ id: 'Report' })

export const ReportPageSchema = z
  .object({ reports: z.array(ReportSchema), next_cursor: nextCursor })
  .meta({ id: 'ReportPage' })

export const AuditActionSchema = z.enum([
  'appoint',
  'dismiss',
  'ban',
  'unban',
  'mute',
  'unmute',
  'slow_mode',
  'message_deleted',
  'report_resolved',
])

export const AuditEntrySchema = z
  .object({
    id: z.number().int(),
    room_id: roomId,
    action: AuditActionSchema,
    actor_id: z.string().meta({ description: 'Who acted: a user id, or a database role for psql' }),
    target_id: z.string().nullable().meta({ description: 'Whom it concerns' }),
    reason: z.string().nullable(),
    until: timestamp.nullable().meta({ description: "A ban's or a mute's end" }),
    seconds: z.number().int().nullable().meta({ description: "slow_mode's new interval" }),
    seqs: z.array(z.number().int()).nullable().meta({ description: "message_deleted's messages" }),
    report_id: z.number().int().nullable().meta({ description: "report_resolved's report" }),
    created_at: timestamp,
  })
  .meta({ id: 'AuditEntry' })

export const AuditPageSchema = z
  .object({ entries: z.array(AuditEntrySchema), next_cursor: nextCursor })
  .meta({ id: 'AuditPage' })

export type Message = z.infer<typeof MessageSchema>
export type MessagePage = z.infer<typeof MessagePageSchema>
export type SearchResult = z.infer<typeof SearchResultSchema>
export type SearchPage = z.infer<typeof SearchPageSchema>
export type Reaction = z.infer<typeof ReactionSchema>
export type ReactionPage = z.infer<typeof ReactionPageSchema>
export type Room = z.infer<typeof RoomSchema>
export type LobbyRoom = z.infer<typeof LobbyRoomSchema>
export type Person = z.infer<typeof PersonSchema>
export type Mention = z.infer<typeof MentionSchema>
export type LobbyPage = z.infer<typeof LobbyPageSchema>
export type RoomRole = z.infer<typeof RoomRoleSchema>
export type Member = z.infer<typeof MemberSchema>
export type ReadMark = z.infer<typeof ReadMarkSchema>
export type PresentUser = z.infer<typeof PresentUserSchema>
export type StreamTicket = z.infer<typeof StreamTicketSchema>
export type Restriction = z.infer<typeof RestrictionSchema>
export type Report = z.infer<typeof ReportSchema>
export type AuditEntry = z.infer<typeof AuditEntrySchema>

/**
 * The events a room's streams carry besides messages, announced by any instance through
 * the database. Strict: a notification whose data has any other field is not Parley's.
 */
export const roomEvents = {
  // Who came and who went since the last frame, and how many are here now; above
  // PRESENCE_LIST_MAX people (or as many coming or going at once) the lists stay empty and
  // only the count tells.
  presence: z.strictObject({
    joined: z.array(PresentUserSchema.strict()),
    left: z.array(PresentUserSchema.strict()),
    count: z.number().int().min(0),
  }),
  typing: z.strictObject({
    room_id: roomId,
    user_id: z.string(),
    user_name: z.string(),
    state: z.enum(['on', 'off']),
  }),
  read: z.strictObject({ room_id: roomId, user_id: z.string(), seq: z.number().int() }),
}

/**
 * The events that change a room's history, each sent with `id:` the room's change cursor
 * after it, replayed in order after a Last-Event-ID. Built by this instance from the rows,
 * never from a notification's payload.
 */
export const historyEvents = {
  message: MessageSchema,
  edit: MessageSchema,
  delete: z.strictObject({ room_id: roomId, seq: z.number().int() }),
  reaction: z.strictObject({
    room_id: roomId,
    seq: z.number().int(),
    emoji: z.string(),
    user_id: z.string(),
    action: z.enum(['added', 'removed']),
    // The emoji's total just after the change (0 once its last reaction is removed): one
    // entry of the message's `reactions`, not the whole map, so a frame stays small.
    count: z.number().int().min(0),
  }),
}

/**
 * The events of a user's own stream (GET /me/stream), each sent with `id:` the user's
 * cursor after it, replayed in order after a Last-Event-ID.
 */
export const userEvents = {
  mention: z.strictObject({ room: RoomRefSchema, message: MessageSchema }),
  dm: z.strictObject({ room: RoomRefSchema, message: MessageSchema }),
  added: z.strictObject({ room: RoomRefSchema }),
  removed: z.strictObject({ room_id: roomId }),
  // One of the user's webhook endpoints kept failing and was disabled (docs/webhooks.md).
  webhook_disabled: z.strictObject({ webhook_id: z.number().int() }),
  // A message of a room the user moderates was reported (docs/moderation.md).
  report: z.strictObject({ room: RoomRefSchema, report: ReportSchema }),
}

/**
 * Sent on a user's stream without `id:` when their unread or mention count of a room they
 * are a member of changes: state, not history, so a reconnecting client reads GET /rooms.
 */
export const unreadEvent = z.strictObject({
  room_id: roomId,
  unread_count: z.number().int(),
  mention_count: z.number().int(),
})

export type UserEventName = keyof typeof userEvents
export type UserEventData<Name extends UserEventName> = z.infer<(typeof userEvents)[Name]>

export type HistoryEventName = keyof typeof historyEvents
export type HistoryEventData<Name extends HistoryEventName> = z.infer<(typeof historyEvents)[Name]>

/** The events that end a stream, sent by this instance just before it closes the connection. */
export const closingEvents = {
  removed: z.strictObject({ room_id: roomId }),
  expired: z.strictObject({ reason: z.literal('token_expired') }),
  shutdown: z.strictObject({ reason: z.literal('server_shutdown') }),
}

/**
 * Sent without `id:` when a stream's cursor cannot be resumed from: it is older than what
 * is kept (RETENTION_MS, `cursor_too_old`), or the database's history went back under it
 * (`history_changed`: a failover to a standby that lacked the last commits, a restored
 * backup), so the changes it names are gone or are other changes now. The stream goes on
 * live after `cursor`, the present; the client reloads the room (`room_id`) or, on a
 * user's stream (no `room_id`), what it shows of their events.
 */
export const resumeEvents = {
  reload: z.strictObject({
    room_id: roomId.optional(),
    reason: z.enum(['cursor_too_old', 'history_changed']),
    cursor: z.union([z.number().int(), z.string()]).meta({
      description:
        "The cursor the stream goes on from: a room's change cursor, or a user's position (GET /me/cursor)",
    }),
  }),
}

export const streamEvents = { ...roomEvents, ...closingEvents, ...resumeEvents }

export type RoomEventName = keyof typeof roomEvents
export type StreamEventName = keyof typeof streamEvents
export type StreamEventData<Name extends StreamEventName> = z.infer<(typeof streamEvents)[Name]>
