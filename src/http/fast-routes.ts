import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http'
import type { z } from '@hono/zod-openapi'
import { HTTPException } from 'hono/http-exception'
import type { AppDeps } from './app.js'
import { identify } from './authenticate.js'
import {
  logRequest,
  MAX_REQUEST_BYTES,
  PRIVATE_JSON_HEADERS,
  payloadTooLarge,
  requestIdOf,
  requireShortUrl,
  toValidationError,
} from './conventions.js'
import { ApiError, renderError } from './errors.js'
import { openUserStream, UserStreamQuery } from './routes/me.js'
import { PostMessageBody, postRequestOf } from './routes/messages.js'
import {
  lastEventId,
  MultiStreamQuery,
  multiStreamTarget,
  openRoomStream,
  parseUserAfter,
  RoomStreamQuery,
  roomStreamTarget,
  type StreamCall,
} from './routes/stream.js'
import { RoomIdParams } from './schemas.js'

/**
 * The hot routes, served straight from Node's request and response, in front of Hono:
 * posting a message and opening a stream are most of what a busy server does, and Hono's
 * path through @hono/node-server builds a web Request for them (a URL, Headers, an
 * AbortSignal, a ReadableStream of the body), runs the middleware chain and builds a
 * Response, which cost more than the rest of the request together. Each route here is
 * the OpenAPI route of the same path (routes/messages.ts, stream.ts, me.ts) spelled
 * against Node: the same schemas, authentication, error renderer, domain call and answer,
 * and the conventions every request gets (conventions.ts). Anything else, and any request
 * these patterns do not match exactly (an encoded path, HEAD), falls through to Hono.
 */

interface HotRequest {
  req: IncomingMessage
  res: ServerResponse
  requestId: string
  /** The path's parameter, when the pattern has one. */
  param: string | undefined
  query: URLSearchParams
}

/** A JSON answer; undefined when a stream has taken over the response. */
type Answer = { status: number; body: unknown } | undefined

interface HotRoute {
  method: 'GET' | 'POST'
  pattern: RegExp
  /** The route's name in logs and metrics, as Hono names it. */
  route: string
  serve: (request: HotRequest) => Promise<Answer>
}

/** What a JSON body's Content-Type may be (the rule @hono/zod-openapi applies to a JSON body). */
const JSON_MEDIA_TYPE = /^application\/([a-z-.]+\+)?json(;\s*[a-zA-Z0-9-]+=([^;]+))*$/i

export function serveHotRoutes(deps: AppDeps, fallThrough: RequestListener): RequestListener {
  const { auth, tickets, posting, userFeed, logger, metrics } = deps
  const redeemTicket = (ticket: string) => tickets.redeem(ticket)
  /** What opening a stream takes of its request, and no more: an open stream keeps it. */
  async function streamCall({ req, res, requestId, query }: HotRequest): Promise<StreamCall> {
    const credentials = {
      header: req.headers.authorization,
      query: (name: string) => query.get(name) ?? undefined,
    }
    return { req, res, requestId, identity: await identify(auth, credentials, redeemTicket) }
  }

  const routes: HotRoute[] = [
    {
      method: 'POST',
      pattern: /^\/rooms\/([^/%]+)\/messages$/,
      route: '/rooms/:id/messages',
      async serve({ req, param }) {
        if (Number(req.headers['content-length']) > MAX_REQUEST_BYTES) throw payloadTooLarge()
        const identity = await identify(auth, { header: req.headers.authorization })
        const { id } = parse(RoomIdParams, { id: param }, 'param')
        const body = parse(PostMessageBody, await readJson(req), 'json')
        const { message, created } = await posting.post(postRequestOf(id, body, identity))
        return { status: created ? 201 : 200, body: message }
      },
    },
    {
      method: 'GET',
      pattern: /^\/rooms\/([^/%]+)\/stream$/,
      route: '/rooms/:id/stream',
      async serve(request) {
        const call = await streamCall(request)
        const query = parse(RoomStreamQuery, queryObject(request.query), 'query')
        const { id } = parse(RoomIdParams, { id: request.param }, 'param')
        const target = roomStreamTarget(id, lastEventId(request.req.headers, query.last_event_id))
        await openRoomStream(deps, call, target)
        return undefined
      },
    },
    {
      method: 'GET',
      pattern: /^\/stream$/,
      route: '/stream',
      async serve(request) {
        const call = await streamCall(request)
        const query = parse(MultiStreamQuery, queryObject(request.query), 'query')
        const target = multiStreamTarget(query.rooms, lastEventId(request.req.headers, query.last_event_id))
        await openRoomStream(deps, call, target)
        return undefined
      },
    },
    {
      method: 'GET',
      pattern: /^\/me\/stream$/,
      route: '/me/stream',
      async serve(request) {
        const call = await streamCall(request)
        const query = parse(UserStreamQuery, queryObject(request.query), 'query')
        const after = parseUserAfter(lastEventId(request.req.headers, query.last_event_id))
        await openUserStream(userFeed, call, after)
        return undefined
      },
    },
  ]

  async function serve(
    route: HotRoute,
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    search: string,
  ) {
    const started = performance.now()
    const requestId = requestIdOf(req)
    let status = 200
    try {
      requireShortUrl(req.url)
      const param = route.pattern.exec(path)?.[1]
      const answer = await route.serve({ req, res, requestId, param, query: new URLSearchParams(search) })
      if (answer) status = sendJson(res, requestId, answer.status, answer.body)
    } catch (error) {
      const rendered = renderError(error, logger, requestId)
      status = sendJson(res, requestId, rendered.status, rendered.body, rendered.headers)
    }
    logRequest(logger, metrics, {
      requestId,
      method: route.method,
      route: route.route,
      path,
      status,
      started,
    })
  }

  return (req, res) => {
    const url = req.url ?? ''
    const mark = url.indexOf('?')
    const path = mark === -1 ? url : url.slice(0, mark)
    const route = routes.find((candidate) => candidate.method === req.method && candidate.pattern.test(path))
    if (!route) return fallThrough(req, res)
    void serve(route, req, res, path, mark === -1 ? '' : url.slice(mark + 1))
  }
}

function parse<T extends z.ZodType>(schema: T, value: unknown, target: string): z.output<T> {
  const result = schema.safeParse(value)
  if (!result.success) throw toValidationError(result.error, target)
  return result.data
}

/** The query as Hono's validator sees it: a repeated name is an array of its values. */
function queryObject(query: URLSearchParams): Record<string, string | string[]> {
  const object: Record<string, string | string[]> = {}
  for (const name of new Set(query.keys())) {
    const values = query.getAll(name)
    object[name] = values.length === 1 ? values[0]! : values
  }
  return object
}

/**
 * The body as JSON: 415 unless declared JSON (or absent and empty), 413 past
 * MAX_REQUEST_BYTES, 400 invalid_json; the same HTTP errors Hono's validators raise.
 */
async function readJson(req: IncomingMessage): Promise<unknown> {
  const type = req.headers['content-type']
  const unsupported = () => new HTTPException(415, { message: 'Unsupported Media Type' })
  if (type !== undefined && !JSON_MEDIA_TYPE.test(type)) throw unsupported()
  const bytes = await readBody(req)
  if (type === undefined && bytes.length > 0) throw unsupported()
  try {
    return JSON.parse(decoder.decode(bytes)) as unknown
  } catch {
    throw new HTTPException(400, { message: 'Malformed JSON in request body' })
  }
}

const decoder = new TextDecoder()

function readBody(req: IncomingMessage): Promise<Buffer> {
  const endedEarly = () => new ApiError(400, 'bad_request', 'The request body ended early')
  // A client gone while the token was checked has had its 'close' already, which would never come again.
  if (req.destroyed) return Promise.reject(endedEarly())
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const onData = (chunk: Buffer) => {
      size += chunk.length
      if (size <= MAX_REQUEST_BYTES) return void chunks.push(chunk)
      // Answered at once, and the connection closed after the answer rather than read to the end.
      req.off('data', onData)
      reject(payloadTooLarge({ Connection: 'close' }))
    }
    const onEnd = () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks))
    req.on('data', onData)
    req.once('end', onEnd)
    req.once('close', () => {
      if (!req.readableEnded) reject(endedEarly())
    })
  })
}

/** Writes a JSON answer with the headers every JSON answer has; returns its status. */
function sendJson(
  res: ServerResponse,
  requestId: string,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): number {
  if (res.headersSent) return status
  const text = JSON.stringify(body)
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
    'X-Request-Id': requestId,
    ...PRIVATE_JSON_HEADERS,
    ...headers,
  })
  res.end(text)
  return status
}
