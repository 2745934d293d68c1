import type { OpenAPIHono } from '@hono/zod-openapi'
import type { AppEnv } from './env.js'

// What every operation may answer whatever its route says, added to the document in one
// place so that no route can forget it: the answers of the middleware that runs before any
// route (body and URL limits, the JSON content type, authentication), and the headers that
// go with 401, 429 and 503. Each operation also gets an operationId, so generated clients
// name their methods the same way every time.

type Json = Record<string, unknown>
type Operation = Json & { responses?: Record<string, Json>; requestBody?: Json; security?: unknown[] }

const errorContent = { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } }

const retryAfter = {
  'Retry-After': {
    description: 'Seconds to wait before trying again',
    schema: { type: 'integer', minimum: 0 },
  },
}

const wwwAuthenticate = {
  'WWW-Authenticate': { description: 'Always `Bearer`', schema: { type: 'string', const: 'Bearer' } },
}

const answers = {
  413: 'The request body is larger than the server takes (payload_too_large)',
  414: 'The URL is longer than the server takes (uri_too_long)',
  415: 'The request body is not sent as application/json (unsupported_media_type)',
} as const

/** `GET /rooms/{id}/messages` → `getRoomsByIdMessages`. */
export function operationId(method: string, path: string): string {
  const words = path
    .split('/')
    .filter(Boolean)
    .map((part) => (part.startsWith('{') ? `by_${part.slice(1, -1)}` : part))
    .flatMap((part) => part.split(/[^a-zA-Z0-9]+/))
    .filter(Boolean)
  return [method, ...words]
    .map((word, i) => (i === 0 ? word : word[0]!.toUpperCase() + word.slice(1)))
    .join('')
}

/** Adds to `operation` what every operation may answer (see above). */
function complete(method: string, path: string, operation: Operation): void {
  operation.operationId ??= operationId(method, path)
  const responses = (operation.responses ??= {})
  responses[414] ??= { description: answers[414], content: errorContent }
  if (operation.requestBody) {
    responses[413] ??= { description: answers[413], content: errorContent }
    responses[415] ??= { description: answers[415], content: errorContent }
  }
  for (const [status, headers] of [
    ['401', wwwAuthenticate],
    ['429', retryAfter],
    ['503', retryAfter],
  ] as const) {
    const response = responses[status]
    if (response) response.headers = { ...headers, ...(response.headers as Json | undefined) }
  }
}

/** Serves `/openapi.json`: the routes' own document, completed. */
export function registerOpenApiDocument(
  app: OpenAPIHono<AppEnv>,
  info: Json & { title: string; version: string },
) {
  let document: Json | undefined
  app.get('/openapi.json', (c) => {
    document ??= completeDocument(app.getOpenAPI31Document({ openapi: '3.1.0', info }) as unknown as Json)
    return c.json(document)
  })
}

function completeDocument(document: Json): Json {
  const paths = (document.paths ?? {}) as Record<string, Record<string, Operation>>
  for (const [path, item] of Object.entries(paths)) {
    for (const [method, operation] of Object.entries(item)) {
      if (['get', 'put', 'post', 'delete', 'patch', 'head'].includes(method))
        complete(method, path, operation)
    }
  }
  return document
}
