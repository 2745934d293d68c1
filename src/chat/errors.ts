/** What the chat domain refuses, in its own words; the HTTP layer maps each code to a status. */
export type ChatErrorCode =
  | 'room_not_found'
  | 'message_not_found'
  | 'message_deleted'
  | 'too_many_reactions'
  | 'forbidden'
  | 'name_taken'
  | 'client_id_reused'
  | 'rate_limited'
  | 'dm_with_self'
  | 'invalid_query'
  | 'query_too_broad'
  | 'search_busy'
  | 'search_timeout'
  | 'search_cancelled'
  | 'webhook_not_found'
  | 'too_many_webhooks'
  | 'invalid_url'
  | 'url_not_allowed'
  | 'muted'
  | 'slow_mode'
  | 'ban_not_found'
  | 'mute_not_found'
  | 'report_not_found'

export class ChatError extends Error {
  constructor(
    readonly code: ChatErrorCode,
    message: string,
    /** For `rate_limited`, `slow_mode` and `search_busy`: the seconds to wait. */
    readonly retryAfterSeconds?: number,
    /** For `muted`: when the mute ends, null when only lifting it does. */
    readonly until?: string | null,
  ) {
    super(message)
  }
}

export const roomNotFound = (id: number | string) =>
  new ChatError('room_not_found', `Room ${id} does not exist`)

export const messageNotFound = (seq: number) =>
  new ChatError('message_not_found', `Message ${seq} does not exist in this room`)

export const messageDeleted = (seq: number) => new ChatError('message_deleted', `Message ${seq} was deleted`)

export const mutedUntil = (until: string | null) =>
  new ChatError(
    'muted',
    until === null
      ? 'You are muted in this room until a moderator lifts it'
      : `You are muted in this room until ${until}`,
    undefined,
    until,
  )
