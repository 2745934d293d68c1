import { randomBytes } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import type { Logger } from 'pino'
import type { ZodError } from 'zod'
import type { Metrics } from '../metrics.js'
import { ApiError, type ErrorCode } from './errors.js'

/**
 * What every request gets whichever router serves it, Hono (http/app.ts) or the hot routes
 * in front of it (http/fast-routes.ts): its id, the bounds on its URL and body, the
 * validation error, the headers of a JSON answer and its log line.
 */

export const MAX_REQUEST_BYTES = 64 * 1024
export const MAX_URL_LENGTH = 4096

/**
 * Every JSON answer, errors included, is private to its caller and is JSON only: no cache
 * on the way keeps it, and no browser sniffs it into something it would render.
 */
export const PRIVATE_JSON_HEADERS = { 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-store' }

/**
 * The caller's X-Request-Id when it is sane, else a new one. Read from Node's request, not
 * a web Headers copy, which @hono/node-server would keep alive for a stream's whole life.
 */
export function requestIdOf(incoming: IncomingMessage): string {
  const given = incoming.headers['x-request-id']
  return typeof given === 'string' && /^[\w.:-]{1,200}$/.test(given) ? given : newRequestId()
}

const ID_BYTES = 16
let idPool = Buffer.alloc(0)
let idOffset = 0

/**
 * 32 random hex digits (the shape of nginx's `$request_id`), cut from a pool of random
 * bytes. One flat string: randomUUID() builds a rope of fifteen pieces, which an open
 * stream would keep for its whole life.
 */
function newRequestId(): string {
  if (idOffset === idPool.length) {
    idPool = randomBytes(ID_BYTES * 256)
    idOffset = 0
  }
  idOffset += ID_BYTES
  return idPool.toString('hex', idOffset - ID_BYTES, idOffset)
}

export function requireShortUrl(url: string | undefined): void {
  if ((url ?? '').length > MAX_URL_LENGTH) {
    throw new ApiError(414, 'uri_too_long', `The URL exceeds ${MAX_URL_LENGTH} characters`)
  }
}

export const payloadTooLarge = (headers: Record<string, string> = {}) =>
  new ApiError(413, 'payload_too_large', `The request body exceeds ${MAX_REQUEST_BYTES} bytes`, headers)

/** A schema's refusal of part of a request (`target`: param, query, json) as the one error shape. */
export function toValidationError(error: ZodError, target: string): ApiError {
  const first = error.issues.find((issue) => issue.code === 'custom' && issue.params?.code) ?? error.issues[0]
  // A plain .refine() raises a custom issue without params.
  const params: { status?: 400 | 422; code?: ErrorCode } = (first?.code === 'custom' && first.params) || {}
  const where = first?.path.length ? `${first.path.join('.')}: ` : ''
  const message = `${where}${first?.message ?? 'invalid request'}`
  if (params.code) return new ApiError(params.status ?? 400, params.code, message)
  if (target === 'param') {
    // Each path parameter is named in its error: `id` is always a room's.
    const name = first?.path[0] === 'id' ? 'room id' : String(first?.path[0] ?? 'path parameter')
    return new ApiError(400, 'invalid_id', `The ${name} ${first?.message ?? 'is invalid'}`)
  }
  return new ApiError(400, 'validation_failed', message)
}

export interface AnsweredRequest {
  requestId: string
  method: string
  /** The route's pattern (`/rooms/:id/messages`), or `unmatched`. */
  route: string
  path: string
  status: number
  /** performance.now() when the request arrived. */
  started: number
}

/**
 * One log line and one duration sample per request. Only the path is logged: query
 * strings may carry access tokens. Streams log their own open and close lines.
 */
export function logRequest(logger: Logger, metrics: Metrics, request: AnsweredRequest): void {
  const { requestId, method, route, path, status } = request
  const seconds = (performance.now() - request.started) / 1000
  metrics.observeRequest(method, route, status, seconds)
  if (route.endsWith('/stream') && status === 200) return
  logger.info({ requestId, method, path, status, ms: Math.round(seconds * 1000) }, 'request')
}
