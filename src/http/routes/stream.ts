import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http'
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response'
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi'
import type { Context } from 'hono'
import type { Identity } from '../../auth/jwt.js'
import type { Refusal } from '../../realtime/admission.js'
import { parseRoomCursors, parseSingleCursor, parseUserPosition } from '../../stream-cursor.js'
import type { AppDeps } from '../app.js'
import type { AppEnv } from '../env.js'
import { ApiError } from '../errors.js'
import { requireReadableRoom, requireRoomDb } from '../guards.js'
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

export const RoomStreamQuery = z.object({
  ticket: streamTicket,
  access_token: accessToken,
  last_event_id: z.string().optional().openapi({
    description:
      "Replay the room's changes after this change cursor (an earlier `id:`) first; a Last-Event-ID header takes precedence",
  }),
})

export const MultiStreamQuery = z.object({
  rooms: z.string().openapi({ description: 'Room ids, comma-separated', example: '1,2,3' }),
  ticket: streamTicket,
  access_token: accessToken,
  last_event_id: z.string().optional().openapi({
    description:
      'A cursor `room:cursor,room:cursor` from an earlier `id:`; a Last-Event-ID header takes precedence',
  }),
})

const roomStream = createRoute({
  method: 'get',
  path: '/rooms/{id}/stream',
  summary: "Server-Sent Events: the room's new messages and events, live; resumes after Last-Event-ID",
  security: bearerSecurity,
  request: { params: RoomIdParams, query: RoomStreamQuery },
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
  request: { query: MultiStreamQuery },
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
export function lastEventId(headers: IncomingHttpHeaders, fromQuery: string | undefined): string | undefined {
  const header = headers['last-event-id']
  const fromHeader = typeof header === 'string' ? header.trim() : undefined
  return fromHeader || fromQuery?.trim() || undefined
}

/** A Last-Event-ID as `parse` reads it; undefined when none was sent, 400 when it is not one this server sends. */
function parseLastEventId<T>(
  value: string | undefined,
  parse: (text: string) => T | undefined,
): T | undefined {
  if (value === undefined) return undefined
  const parsed = parse(value)
  if (parsed === undefined) throw badCursor()
  return parsed
}

/** A single cursor sent back as Last-Event-ID. */
export const parseSeq = (value: string | undefined) => parseLastEventId(value, parseSingleCursor)

/** A user stream's Last-Event-ID (stream-cursor.ts: parseUserPosition). */
export const parseUserAfter = (value: string | undefined) => parseLastEventId(value, parseUserPosition)

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

/** The rooms a stream reads and where each resumes, as a request's path, query and headers ask. */
export interface StreamTarget {
  roomIds: number[]
  resumeFrom: Map<number, number> | undefined
  multi: boolean
}

/** GET /rooms/{id}/stream: one room, resuming after its change cursor. */
export function roomStreamTarget(id: number, cursorText: string | undefined): StreamTarget {
  const afterSeq = parseSeq(cursorText)
  return {
    roomIds: [id],
    resumeFrom: afterSeq === undefined ? undefined : new Map([[id, afterSeq]]),
    multi: false,
  }
}

/** GET /stream?rooms=…: several rooms, resuming after a cursor of each. */
export function multiStreamTarget(rooms: string, cursorText: string | undefined): StreamTarget {
  const roomIds = parseRoomList(rooms)
  const resumeFrom = parseLastEventId(cursorText, parseRoomCursors)
  return { roomIds, resumeFrom, multi: true }
}

/** A stream request's connection, caller and id: what opening it takes besides its target. */
export interface StreamCall {
  req: IncomingMessage
  res: ServerResponse
  identity: Identity
  requestId: string
}

export function streamCallOf(c: Context<AppEnv>): StreamCall {
  const { incoming: req, outgoing: res } = c.env
  return { req, res, identity: c.get('identity'), requestId: c.get('requestId') }
}

export function registerStream(app: OpenAPIHono<AppEnv>, deps: AppDeps) {
  app.openapi(roomStream, async (c) => {
    const { id } = c.req.valid('param')
    const target = roomStreamTarget(
      id,
      lastEventId(c.env.incoming.headers, c.req.valid('query').last_event_id),
    )
    await openRoomStream(deps, streamCallOf(c), target)
    return RESPONSE_ALREADY_SENT as never
  })

  app.openapi(multiStream, async (c) => {
    const { rooms, last_event_id } = c.req.valid('query')
    const target = multiStreamTarget(rooms, lastEventId(c.env.incoming.headers, last_event_id))
    await openRoomStream(deps, streamCallOf(c), target)
    return RESPONSE_ALREADY_SENT as never
  })
}

/**
 * Checks, then hands over: every room must be readable (404 before any byte of stream), and
 * the stream's life from admission on belongs to the stream session. Resolves once the
 * stream is under way or has ended; throws what refused it.
 */
export async function openRoomStream(
  { roomDb, roomSessions }: Pick<AppDeps, 'roomDb' | 'roomSessions'>,
  { req, res, identity, requestId }: StreamCall,
  { roomIds, resumeFrom, multi }: StreamTarget,
): Promise<void> {
  async function authorize() {
    for (const roomId of roomIds) {
      // Shared with identical checks in flight: the hub asks again once the stream joins.
      await requireReadableRoom(await requireRoomDb(roomDb, roomId), roomId, identity, { shared: true })
    }
    // A member can be removed from a private room, and anyone banned from any room: every
    // room is asked again, but an admin may read them all whatever happens.
    return new Set(identity.isAdmin ? [] : roomIds)
  }
  const refusal = await roomSessions.open({
    req,
    res,
    identity,
    requestId,
    roomIds,
    resumeFrom,
    multi,
    authorize,
  })
  if (refusal) throw refuseStream(refusal)
}
