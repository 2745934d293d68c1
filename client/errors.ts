import type { ErrorCode } from '../src/http/errors.js'
import type { CloseReason } from './stream-api.js'

/**
 * A code the API sends, or `http_error` for an answer that is not the API's error JSON (a
 * proxy's 502 page, say).
 */
export type ParleyErrorCode = ErrorCode | 'http_error'

/** Every refusal of the API: its `error.code`, the HTTP status and the message. */
export class ParleyError extends Error {
  override readonly name = 'ParleyError'

  constructor(
    readonly status: number,
    readonly code: ParleyErrorCode,
    message: string,
    /** Seconds to wait before trying again, from Retry-After (429, 503). */
    readonly retryAfter?: number,
  ) {
    super(message)
  }
}

/** Reads the API's `{"error":{"code","message"}}` (or whatever came instead) into a ParleyError. */
export async function toParleyError(response: Response): Promise<ParleyError> {
  const body = (await response.json().catch(() => undefined)) as
    { error?: { code?: unknown; message?: unknown } } | undefined
  const code = typeof body?.error?.code === 'string' ? (body.error.code as ErrorCode) : 'http_error'
  const message =
    typeof body?.error?.message === 'string' ? body.error.message : `The server answered ${response.status}`
  return new ParleyError(response.status, code, message, parseRetryAfter(response.headers.get('retry-after')))
}

/** Retry-After in seconds; the HTTP-date form is read too, as the time left until it. */
export function parseRetryAfter(header: string | null, now = Date.now()): number | undefined {
  if (header === null || header.trim() === '') return undefined
  const seconds = Number(header)
  if (Number.isFinite(seconds)) return Math.max(0, seconds)
  const date = Date.parse(header)
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - now) / 1000))
}

/**
 * What `stream.opened()` rejects with when the stream closes for good before it opens:
 * `reason` as the `closed` state change gives it, and the refusal, if any, as `cause`.
 */
export class StreamClosedError extends Error {
  override readonly name = 'StreamClosedError'

  constructor(
    readonly reason: CloseReason,
    cause?: unknown,
  ) {
    super(`The stream closed (${reason})`, cause === undefined ? undefined : { cause })
  }
}
