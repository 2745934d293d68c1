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
    body: z.string(),
    created_at: timestamp,
  })
  .meta({ id: 'Message' })

export const RoomSchema = z
  .object({
    id: roomId,
    name: z.string(),
    visibility: z.enum(['public', 'private']),
    created_by: z.string(),
    created_at: timestamp,
    last_seq: z.number().int(),
    message_count: z.number().int(),
    last_message_at: timestamp.nullable(),
  })
  .meta({ id: 'Room' })

export const LobbyRoomSchema = RoomSchema.extend({
  unread_count: z.number().int().meta({ description: "Others' messages after the caller's read mark" }),
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

export const RoomRoleSchema = z.enum(['owner', 'member'])

export const MemberSchema = z
  .object({ user_id: z.string(), role: RoomRoleSchema, added_at: timestamp })
  .meta({ id: 'Member' })

export const ReadMarkSchema = z
  .object({ user_id: z.string(), seq: z.number().int(), updated_at: timestamp.nullable() })
  .meta({ id: 'ReadMark' })

export const PresentUserSchema = z.object({ user_id: z.string(), user_name: z.string() })

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

export type Message = z.infer<typeof MessageSchema>
export type Room = z.infer<typeof RoomSchema>
export type LobbyRoom = z.infer<typeof LobbyRoomSchema>
export type LobbyPage = z.infer<typeof LobbyPageSchema>
export type RoomRole = z.infer<typeof RoomRoleSchema>
export type Member = z.infer<typeof MemberSchema>
export type ReadMark = z.infer<typeof ReadMarkSchema>
export type PresentUser = z.infer<typeof PresentUserSchema>
export type StreamTicket = z.infer<typeof StreamTicketSchema>

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

/** The events that end a stream, sent by this instance just before it closes the connection. */
export const closingEvents = {
  removed: z.strictObject({ room_id: roomId }),
  expired: z.strictObject({ reason: z.literal('token_expired') }),
  shutdown: z.strictObject({ reason: z.literal('server_shutdown') }),
}

export const streamEvents = { ...roomEvents, ...closingEvents }

export type RoomEventName = keyof typeof roomEvents
export type StreamEventName = keyof typeof streamEvents
export type StreamEventData<Name extends StreamEventName> = z.infer<(typeof streamEvents)[Name]>
