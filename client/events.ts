import type { z } from 'zod'
import type {
  HistoryEventData,
  HistoryEventName,
  StreamEventData,
  StreamEventName,
  UserEventData,
  UserEventName,
  unreadEvent,
} from '../src/wire.js'

/** Every event a stream delivers, by name, with its data as the server's schemas type it. */
export type ParleyEvents = { [Name in HistoryEventName]: HistoryEventData<Name> } & {
  [Name in StreamEventName]: StreamEventData<Name>
}

export type ParleyEventName = keyof ParleyEvents

/** The names of the events that change a room's history and carry its change cursor. */
export const HISTORY_EVENTS: ReadonlySet<string> = new Set<HistoryEventName>([
  'message',
  'edit',
  'delete',
  'reaction',
])

/** The events of the user's own stream (GET /me/stream). */
export type UserEvents = { [Name in UserEventName]: UserEventData<Name> } & {
  unread: z.infer<typeof unreadEvent>
  expired: StreamEventData<'expired'>
  shutdown: StreamEventData<'shutdown'>
  reload: StreamEventData<'reload'>
}

/** The user's stream's events that carry its cursor. */
export const USER_EVENTS: ReadonlySet<string> = new Set<UserEventName>([
  'mention',
  'dm',
  'added',
  'removed',
  'webhook_disabled',
])

export interface EventMeta {
  /** The frame's `id:`: the room's change cursor, or a multi-room cursor `1:5,2:9`; history events only. */
  id?: string
  /** The room the event belongs to, when its data names it (every event but presence and the closing ones). */
  roomId?: number
}

export type EventHandlers = {
  [Name in ParleyEventName]?: (data: ParleyEvents[Name], meta: EventMeta) => void
}

export type UserEventHandlers = {
  [Name in keyof UserEvents]?: (data: UserEvents[Name], meta: EventMeta) => void
}

/** The room an event's data names, if any: as `room_id`, or as the `room` of a user event. */
export function roomOf(data: unknown): number | undefined {
  const named = data as { room_id?: unknown; room?: { id?: unknown } } | null
  const roomId = named?.room_id ?? named?.room?.id
  return typeof roomId === 'number' ? roomId : undefined
}
