import type { HistoryChange } from '../chat/changes.js'
import type { HistoryEventName } from '../wire.js'

/**
 * Where an endpoint's events come from, each an ordered log of the room: `changes` is its
 * change cursor (messages, edits, deletes, reactions: what its stream sends), `log` its
 * room_log (members added and removed: sql/room-log.sql).
 */
export type Lane = 'changes' | 'log'
export const LANES: readonly Lane[] = ['changes', 'log']

type Source = { lane: 'changes'; event: HistoryEventName } | { lane: 'log'; kind: string }

/**
 * Every event type an endpoint may ask for, and which entry of which lane it is. Adding
 * one is one line: a ban becomes `'member.banned': { lane: 'log', kind: 'member_banned' }`
 * once the room log records bans.
 */
export const WEBHOOK_EVENTS = {
  'message.created': { lane: 'changes', event: 'message' },
  'message.edited': { lane: 'changes', event: 'edit' },
  'message.deleted': { lane: 'changes', event: 'delete' },
  'message.reaction': { lane: 'changes', event: 'reaction' },
  'member.added': { lane: 'log', kind: 'member_added' },
  'member.removed': { lane: 'log', kind: 'member_removed' },
} as const satisfies Record<string, Source>

export type WebhookEventType = keyof typeof WEBHOOK_EVENTS
export const webhookEventTypes = Object.keys(WEBHOOK_EVENTS) as [WebhookEventType, ...WebhookEventType[]]

const byChange = new Map<string, WebhookEventType>()
const byLogKind = new Map<string, WebhookEventType>()
for (const [type, source] of Object.entries(WEBHOOK_EVENTS) as [WebhookEventType, Source][]) {
  if (source.lane === 'changes') byChange.set(source.event, type)
  else byLogKind.set(source.kind, type)
}

/** One room-log entry (sql/room-log.sql). */
export interface LogEntry {
  cursor: number
  kind: string
  userId: string
  role: string | null
  createdAt: string
}

/** What an endpoint is sent for one entry of a lane, before it is signed. */
export interface WebhookEvent {
  /** The entry's position in its lane: the room's change cursor, or its log cursor. */
  cursor: number
  /** Undefined for an entry no event type names: passed over, never sent. */
  type: WebhookEventType | undefined
  payload: WebhookPayload
}

/**
 * The body, as Standard Webhooks recommends it: `type`, `timestamp` (when it happened) and
 * `data`; `room_id` and `cursor` say where it belongs, `cursor` ordering each family of
 * events within the room (message.* by the room's change cursor, the stream's `id:`;
 * member.* by the room's log cursor).
 */
export interface WebhookPayload {
  type: string
  timestamp: string
  room_id: number
  cursor: number
  data: unknown
  /** Set when `data` was too large to send and only names what changed. */
  truncated?: true
}

export function eventOfChange(roomId: number, change: HistoryChange, timestamp: string): WebhookEvent {
  const type = byChange.get(change.event)
  return {
    cursor: change.cursor,
    type,
    payload: {
      type: type ?? change.event,
      timestamp,
      room_id: roomId,
      cursor: change.cursor,
      data: change.data,
    },
  }
}

export function eventOfLog(roomId: number, entry: LogEntry): WebhookEvent {
  const type = byLogKind.get(entry.kind)
  const data = { room_id: roomId, user_id: entry.userId, role: entry.role }
  return {
    cursor: entry.cursor,
    type,
    payload: {
      type: type ?? entry.kind,
      timestamp: entry.createdAt,
      room_id: roomId,
      cursor: entry.cursor,
      data,
    },
  }
}

/**
 * The JSON body of `payload`, within `maxBytes`: a payload too large (a long message with
 * every field) is sent with only the message's room and seq, and `truncated: true`, so the
 * receiver fetches it over the API.
 */
export function encodePayload(payload: WebhookPayload, maxBytes: number): string {
  const body = JSON.stringify(payload)
  if (Buffer.byteLength(body) <= maxBytes) return body
  const data = payload.data as { room_id?: unknown; seq?: unknown; user_id?: unknown }
  return JSON.stringify({
    ...payload,
    data: { room_id: data.room_id, seq: data.seq, user_id: data.user_id },
    truncated: true,
  })
}

/** The webhook-id of an entry: the same for every attempt, unique per endpoint, room, lane and position. */
export const webhookMessageId = (endpointId: number, roomId: number, lane: Lane, cursor: number) =>
  `parley_${endpointId}_${roomId}_${lane === 'changes' ? 'c' : 'l'}${cursor}`
