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

export function createErrorHandler(logger: Logger) {
  return function handleError(error: Error, c: Context): Response {
    if (error instanceof ApiError) {
      for (const [name, value] of Object.entries(error.headers)) c.header(name, value)
      return c.json(errorBody(error.code, error.message), error.status)
    }
    if (error instanceof ChatError) {
      if (error.retryAfterSeconds !== undefined) c.header('Retry-After', String(error.retryAfterSeconds))
      return c.json(errorBody(error.code, error.message, error.until), chatStatus[error.code])
    }
    if (error instanceof HTTPException) return renderHttpException(error, c)
    if (isDataException(error)) {
      logger.info({ requestId: c.get('requestId'), code: databaseErrorCode(error) }, 'refused a value')
      return c.json(
        errorBody('validation_failed', 'A value in the request is out of range or malformed'),
        400,
      )
    }
    if (isDatabaseUnavailable(error)) {
      logger.warn({ requestId: c.get('requestId'), err: error }, 'database unavailable')
      c.header('Retry-After', '2')
      return c.json(errorBody('database_unavailable', 'The database is unavailable; try again shortly'), 503)
    }
    logger.error({ requestId: c.get('requestId'), err: error }, 'unhandled error')
    return c.json(errorBody('internal_error', 'Something went wrong on our side'), 500)
  }
}

function renderHttpException(error: HTTPException, c: Context): Response {
  const status = error.status as ContentfulStatusCode
  if (status === 415) {
    return c.json(errorBody('unsupported_media_type', 'Send the request body as application/json'), 415)
  }
  if (status === 413) return c.json(errorBody('payload_too_large', 'The request body is too large'), 413)
  if (status === 400 && /json/i.test(error.message)) {
    return c.json(errorBody('invalid_json', 'The request body is not valid JSON'), 400)
  }
  if (status === 401) {
    c.header('WWW-Authenticate', 'Bearer')
    return c.json(errorBody('unauthorized', error.message || 'Authentication required'), 401)
  }
  return c.json(
    errorBody(status === 404 ? 'not_found' : 'bad_request', error.message || 'Bad request'),
    status,
  )
}
