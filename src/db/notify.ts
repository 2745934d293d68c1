import { sql } from 'drizzle-orm'
import { type RoomEventName, roomEvents, type StreamEventData } from '../wire.js'
import type { Db } from './client.js'

// The NOTIFY channels between the database and every Parley instance, and the one place
// their payloads are written and read. The triggers in sql/ send on the first two; a test
// checks that they name the same channels. Any role that can connect may NOTIFY on any
// channel, so every payload is parsed as hostile input: what does not parse is dropped.

export const channels = {
  /** A room's history changed, up to change cursor `<room_id>:<cursor>` (sql/messages.sql). */
  messages: 'parley_messages',
  /** A membership row was deleted: `<room_id>:<user_id>` (sql/members.sql). */
  members: 'parley_members',
  /** An ephemeral room event, JSON (publishRoomEvent). */
  events: 'parley_events',
  /** A user has events up to a cursor: `<md5 of user_id>:<cursor>` (sql/user-events.sql). */
  users: 'parley_users',
  /** A room's log has entries up to a cursor: `<room_id>:<cursor>` (sql/room-log.sql). */
  roomLog: 'parley_room_log',
  /** A listener's heartbeat to itself, sent through the pool: `<listener id>:<n>` (realtime/listener.ts). */
  heartbeat: 'parley_heartbeat',
} as const

export type Channel = (typeof channels)[keyof typeof channels]

const ID = /^[1-9][0-9]{0,15}$/

function parseId(text: string): number | undefined {
  if (!ID.test(text)) return undefined
  const id = Number(text)
  return Number.isSafeInteger(id) ? id : undefined
}

/** `<room_id>:<rest>`, the shape of both trigger payloads, with a valid room id. */
function splitRoomPayload(payload: string): { roomId: number; rest: string } | undefined {
  const colon = payload.indexOf(':')
  const roomId = colon > 0 ? parseId(payload.slice(0, colon)) : undefined
  return roomId === undefined ? undefined : { roomId, rest: payload.slice(colon + 1) }
}

export interface MessageNotice {
  roomId: number
  cursor: number
}

export function parseMessageNotice(payload: string): MessageNotice | undefined {
  const parts = splitRoomPayload(payload)
  const cursor = parts && parseId(parts.rest)
  return parts && cursor !== undefined ? { roomId: parts.roomId, cursor } : undefined
}

export interface MemberNotice {
  roomId: number
  userId: string
}

export function parseMemberNotice(payload: string): MemberNotice | undefined {
  const parts = splitRoomPayload(payload)
  return parts && parts.rest !== '' ? { roomId: parts.roomId, userId: parts.rest } : undefined
}

export type RoomEvent = {
  [Name in RoomEventName]: {
    roomId: number
    event: Name
    data: StreamEventData<Name>
    /** This user's own streams are skipped (a typist does not hear their own typing). */
    exceptUserId?: string
  }
}[RoomEventName]

export function encodeRoomEvent({ roomId, event, data, exceptUserId }: RoomEvent): string {
  return JSON.stringify({ room_id: roomId, event, data, except_user_id: exceptUserId })
}

/**
 * A room event as Parley publishes it, or undefined: unknown event names, data of another
 * shape and extra fields are all refused, so nothing a notification carries reaches a
 * frame unvalidated.
 */
export function parseRoomEvent(payload: string): RoomEvent | undefined {
  let value: unknown
  try {
    value = JSON.parse(payload)
  } catch {
    return undefined
  }
  if (typeof value !== 'object' || value === null) return undefined
  const { room_id, event, data, except_user_id, ...rest } = value as Record<string, unknown>
  if (Object.keys(rest).length > 0 || typeof room_id !== 'number' || !Number.isSafeInteger(room_id)) {
    return undefined
  }
  if (except_user_id !== undefined && typeof except_user_id !== 'string') return undefined
  if (typeof event !== 'string' || !Object.hasOwn(roomEvents, event)) return undefined
  const name = event as RoomEventName
  const parsed = roomEvents[name].safeParse(data)
  if (!parsed.success) return undefined
  return { roomId: room_id, event: name, data: parsed.data, exceptUserId: except_user_id } as RoomEvent
}

/** Anything that can run a statement: the pool or a transaction. */
type Executor = Pick<Db, 'execute'>

/**
 * Announces an ephemeral event to the room's streams on every instance. It is a NOTIFY,
 * not a row: nothing is stored. Inside a transaction it is sent only if that commits.
 */
export async function publishRoomEvent(db: Executor, event: RoomEvent): Promise<void> {
  await db.execute(sql`select pg_notify(${channels.events}, ${encodeRoomEvent(event)})`)
}

export interface UserNotice {
  /** The md5 of the user id, in hex. */
  userKey: string
  cursor: number
}

const USER_NOTICE = /^([0-9a-f]{32}):([1-9][0-9]{0,15})$/

/** `<md5 of user_id>:<cursor>`, or undefined for anything else. */
export function parseUserNotice(payload: string): UserNotice | undefined {
  const match = USER_NOTICE.exec(payload)
  const cursor = match ? Number(match[2]) : NaN
  return match && Number.isSafeInteger(cursor) ? { userKey: match[1]!, cursor } : undefined
}

const HEARTBEAT = /^([0-9a-f]{32}):([0-9]{1,15})$/

export const encodeHeartbeat = (listenerId: string, n: number) => `${listenerId}:${n}`

/** `<listener id>:<n>`, or undefined for anything else. */
export function parseHeartbeat(payload: string): { listenerId: string; n: number } | undefined {
  const match = HEARTBEAT.exec(payload)
  return match ? { listenerId: match[1]!, n: Number(match[2]) } : undefined
}
