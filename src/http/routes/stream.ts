import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response'
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi'
import type { Context } from 'hono'
import type { Refusal } from '../../realtime/admission.js'
import { parseRoomCursors, parseSingleCursor } from '../../stream-cursor.js'
import type { AppDeps } from '../app.js'
import type { AppEnv } from '../env.js'
import { ApiError } from '../errors.js'
import { requireReadableRoom } from '../guards.js'
import {
  bearerSecurity,
  ErrorSchema,
  errorResponses,
  jsonContent,
  notFoundResponse,
  RoomIdParams,
} from '../schemas.js'

export const MAX_ROOMS_PER_STREAM = 50

export const accessToken = z
  .string()
  .optional()
  .openapi({
    description:
      'Discouraged: the token itself, which proxies, access logs and browser history may keep. Prefer `ticket`',
    param: { deprecated: true },
  })

export const streamTicket = z.string().optional().openapi({
  description:
    'The preferred way for clients (EventSource) that cannot send headers: a single-use ticket from `POST /stream-tickets`. Without an Authorization header it is spent by this request, whatever its answer',
})

export const eventStream = (description: string) => ({
  description,
  content: { 'text/event-stream': { schema: z.string() } },
})

/** What a stream request may be refused with before it opens: too many streams. */
export const streamRefusals = {
  429: jsonContent(
    ErrorSchema,
    'The caller has MAX_STREAMS_PER_USER streams open (too_many_streams); see Retry-After',
  ),
  503: jsonContent(
    ErrorSchema,
    'This server has MAX_STREAMS streams open (too_many_streams); see Retry-After',
  ),
}

const roomStream = createRoute({
  method: 'get',
  path: '/rooms/{id}/stream',
  summary: "Server-Sent Events: the room's new messages and events, live; resumes after Last-Event-ID",
  security: bearerSecurity,
  request: {
    params: RoomIdParams,
    query: z.object({
      ticket: streamTicket,
      access_token: accessToken,
      last_event_id: z.string().optional().openapi({
        description:
          "Replay the room's changes after this change cursor (an earlier `id:`) first; a Last-Event-ID header takes precedence",
      }),
    }),
  },
  responses: {
    200: eventStream(
      "`retry:` first; `id: <change cursor>` frames of the room's history (`event: message`, `edit`, `delete`, `reaction`); `presence`, `typing`, `read` events without `id:`; `: ping` heartbeats; `expired`, `removed` or `shutdown` before the server closes it",
    ),
    ...errorResponses,
    ...notFoundResponse,
    ...streamRefusals,
  },
})

const multiStream = createRoute({
  method: 'get',
  path: '/stream',
  summary: 'Server-Sent Events of several rooms on one connection',
  security: bearerSecurity,
  request: {
    query: z.object({
      rooms: z.string().openapi({ description: 'Room ids, comma-separated', example: '1,2,3' }),
      ticket: streamTicket,
      access_token: accessToken,
      last_event_id: z.string().optional().openapi({
        description:
          'A cursor `room:cursor,room:cursor` from an earlier `id:`; a Last-Event-ID header takes precedence',
      }),
    }),
  },
  responses: {
    200: eventStream('As the room stream, but each `id:` is a cursor `room:cursor,…` covering every room'),
    ...errorResponses,
    ...notFoundResponse,
    ...streamRefusals,
  },
})

const badCursor = () =>
  new ApiError(400, 'validation_failed', 'Last-Event-ID must be an id this stream sent earlier')

/** The Last-Event-ID header (what EventSource sends on reconnect) wins over the query parameter. */
export function lastEventId(c: Context<AppEnv>): string | undefined {
  const header = c.env.incoming.headers['last-event-id']
  const fromHeader = typeof header === 'string' ? header.trim() : undefined
  return fromHeader || c.req.query('last_event_id')?.trim() || undefined
}

/** A single cursor sent back as Last-Event-ID; 400 when it is not one this server sends. */
export function parseSeq(value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  const cursor = parseSingleCursor(value)
  if (cursor === undefined) throw badCursor()
  return cursor
}

function parseRoomList(text: string): number[] {
  const ids = text.split(',').map((part) => part.trim())
  if (ids.some((id) => !/^[1-9][0-9]{0,14}$/.test(id))) {
    throw new ApiError(400, 'invalid_id', 'rooms must be a comma-separated list of room ids')
  }
  const unique = [...new Set(ids.map(Number))]
  if (unique.length > MAX_ROOMS_PER_STREAM) {
    throw new ApiError(400, 'validation_failed', `At most ${MAX_ROOMS_PER_STREAM} rooms per stream`)
  }
  return unique
}

export function refuseStream(refusal: Refusal): ApiError {
  return refusal === 'server_full'
    ? new ApiError(503, 'too_many_streams', 'This server has no room for another stream; retry shortly', {
        'Retry-After': '5',
      })
    : new ApiError(429, 'too_many_streams', 'You have too many open streams; close one first', {
        'Retry-After': '5',
      })
}

export function registerStream(app: OpenAPIHono<AppEnv>, deps: AppDeps) {
  app.openapi(roomStream, async (c) => {
    const { id } = c.req.valid('param')
    const afterSeq = parseSeq(lastEventId(c))
    return startStream(c, deps, [id], afterSeq === undefined ? undefined : new Map([[id, afterSeq]]), false)
  })

  app.openapi(multiStream, async (c) => {
    const roomIds = parseRoomList(c.req.valid('query').rooms)
    const cursorText = lastEventId(c)
    const cursors = cursorText === undefined ? undefined : parseRoomCursors(cursorText)
    if (cursorText !== undefined && !cursors) throw badCursor()
    return startStream(c, deps, roomIds, cursors, true)
  })
}

/**
 * Parses and checks, then hands over: every room must be readable (404 before any byte of
 * stream), and the stream's life from admission on belongs to the stream session.
 */
async function startStream(
  c: Context<AppEnv>,
  { db, roomSessions }: AppDeps,
  roomIds: number[],
  resumeFrom: Map<number, number> | undefined,
  multi: boolean,
) {
  const identity = c.get('identity')
  async function authorize() {
    for (const roomId of roomIds) {
      // Shared with identical checks in flight: the hub asks again once the stream joins.
      await requireReadableRoom(db, roomId, identity, { shared: true })
    }
    // A member can be removed from a private room, and anyone banned from any room: every
    // room is asked again, but an admin may read them all whatever happens.
    return new Set(identity.isAdmin ? [] : roomIds)
  }
  const { incoming: req, outgoing: res } = c.env
  const requestId = c.get('requestId')
  const request = { req, res, identity, requestId, roomIds, resumeFrom, multi, authorize }
  const refusal = await roomSessions.open(request)
  if (refusal) throw refuseStream(refusal)
  return RESPONSE_ALREADY_SENT as never
}
