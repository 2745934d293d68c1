import type { Context } from 'hono'
import { HTTPException } from 'hono/http-exception'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import type { Logger } from 'pino'
import { ChatError, type ChatErrorCode } from '../chat/errors.js'
import { databaseErrorCode, isDataException, isDatabaseUnavailable } from '../db/errors.js'

export const errorCodes = [
  'bad_request',
  'invalid_json',
  'validation_failed',
  'invalid_id',
  'body_required',
  'body_too_long',
  'invalid_body',
  'unauthorized',
  'forbidden',
  'member_not_found',
  'not_found',
  'room_not_found',
  'message_not_found',
  'message_deleted',
  'too_many_reactions',
  'invalid_emoji',
  'invalid_query',
  'query_too_broad',
  'search_busy',
  'search_timeout',
  'search_cancelled',
  'name_taken',
  'client_id_reused',
  'payload_too_large',
  'uri_too_long',
  'unsupported_media_type',
  'rate_limited',
  'dm_with_self',
  'webhook_not_found',
  'too_many_webhooks',
  'invalid_url',
  'url_not_allowed',
  'muted',
  'slow_mode',
  'ban_not_found',
  'mute_not_found',
  'report_not_found',
  'too_many_streams',
  'database_unavailable',
  'webhooks_unavailable',
  'internal_error',
] as const

export type ErrorCode = (typeof errorCodes)[number]

/** The one error type routes throw; `handleError` renders it. */
export class ApiError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: ErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message)
  }
}

/** 429 with the seconds to wait in Retry-After. */
export const rateLimited = (message: string, waitSeconds: number) =>
  new ApiError(429, 'rate_limited', message, { 'Retry-After': String(waitSeconds) })

/** The status of each refusal of the chat domain. */
const chatStatus: Record<ChatErrorCode, ContentfulStatusCode> = {
  room_not_found: 404,
  message_not_found: 404,
  message_deleted: 409,
  too_many_reactions: 409,
  forbidden: 403,
  name_taken: 409,
  client_id_reused: 409,
  rate_limited: 429,
  dm_with_self: 400,
  invalid_query: 400,
  query_too_broad: 400,
  search_busy: 503,
  search_timeout: 504,
  // Nobody reads it: the client went away. 499 is the status proxies log for that.
  search_cancelled: 499 as ContentfulStatusCode,
  webhook_not_found: 404,
  too_many_webhooks: 409,
  invalid_url: 400,
  url_not_allowed: 422,
  muted: 403,
  slow_mode: 429,
  ban_not_found: 404,
  mute_not_found: 404,
  report_not_found: 404,
}

export function errorBody(code: ErrorCode, message: string, until?: string | null) {
  return { error: until === undefined ? { code, message } : { code, message, until } }
}

/** An error as the client sees it: the status, the JSON body and any extra headers. */
export interface RenderedError {
  status: ContentfulStatusCode
  body: ReturnType<typeof errorBody>
  headers: Record<string, string>
}

/**
 * The one place an error becomes an answer, for Hono's routes (`createErrorHandler`) and
 * for the routes served before Hono (http/fast-routes.ts) alike; unexpected errors are
 * logged with the request id.
 */
export function renderError(error: unknown, logger: Logger, requestId: string | undefined): RenderedError {
  const answer = (status: ContentfulStatusCode, body: RenderedError['body'], headers = {}) => ({
    status,
    body,
    headers,
  })
  if (error instanceof ApiError)
    return answer(error.status, errorBody(error.code, error.message), error.headers)
  if (error instanceof ChatError) {
    const headers =
      error.retryAfterSeconds === undefined ? {} : { 'Retry-After': String(error.retryAfterSeconds) }
    return answer(chatStatus[error.code], errorBody(error.code, error.message, error.until), headers)
  }
  if (error instanceof HTTPException) return renderHttpException(error)
  if (isDataException(error)) {
    logger.info({ requestId, code: databaseErrorCode(error) }, 'refused a value')
    return answer(400, errorBody('validation_failed', 'A value in the request is out of range or malformed'))
  }
  if (isDatabaseUnavailable(error)) {
    logger.warn({ requestId, err: error }, 'database unavailable')
    return answer(503, errorBody('database_unavailable', 'The database is unavailable; try again shortly'), {
      'Retry-After': '2',
    })
  }
  logger.error({ requestId, err: error }, 'unhandled error')
  return answer(500, errorBody('internal_error', 'Something went wrong on our side'))
}

export function createErrorHandler(logger: Logger) {
  return function handleError(error: Error, c: Context): Response {
    const { status, body, headers } = renderError(error, logger, c.get('requestId'))
    for (const [name, value] of Object.entries(headers)) c.header(name, value)
    return c.json(body, status)
  }
}

function renderHttpException(error: HTTPException): RenderedError {
  const status = error.status as ContentfulStatusCode
  const answer = (code: ErrorCode, message: string, headers = {}) => ({
    status,
    body: errorBody(code, message),
    headers,
  })
  if (status === 415) return answer('unsupported_media_type', 'Send the request body as application/json')
  if (status === 413) return answer('payload_too_large', 'The request body is too large')
  if (status === 400 && /json/i.test(error.message))
    return answer('invalid_json', 'The request body is not valid JSON')
  if (status === 401) {
    return answer('unauthorized', error.message || 'Authentication required', {
      'WWW-Authenticate': 'Bearer',
    })
  }
  return answer(status === 404 ? 'not_found' : 'bad_request', error.message || 'Bad request')
}
