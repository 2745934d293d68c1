import type { OpenAPIHono } from '@hono/zod-openapi'
import type { AppEnv } from './env.js'

// What every operation may answer whatever its route says, added to the document in one
// place so that no route can forget it: the answers of the middleware that runs before any
// route (body and URL limits, the JSON content type, authentication), 503 from every
// operation that reads the database (all that need a token do), and the headers that go
// with 401 and with a refusal to come back later (429, 503). Every stream operation takes
// the Last-Event-ID header EventSource sends when it reconnects. Each operation also gets
// an operationId, so generated clients name their methods the same way every time, and
// an operation open to anyone says so with an empty security list.

type Json = Record<string, unknown>
type Answer = Json & { content?: Record<string, { schema?: { $ref?: string } }> }
type Operation = Json & {
  responses?: Record<string, Answer>
  requestBody?: Json
  security?: unknown[]
  parameters?: Json[]
}

/** The project's (LICENSE), by its SPDX identifier as OpenAPI 3.1 allows. */
const license = { name: 'MIT', identifier: 'MIT' }

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
  503: 'The database is unavailable (database_unavailable); see Retry-After',
} as const

const lastEventIdHeader = {
  name: 'Last-Event-ID',
  in: 'header',
  required: false,
  description:
    'The `id:` of the last event received, as EventSource sends it on reconnecting: the stream replays what came after it first. Takes precedence over `last_event_id`',
  schema: { type: 'string' },
}

const isError = (answer: Answer) =>
  answer.content?.['application/json']?.schema?.$ref === errorContent['application/json'].schema.$ref

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
  operation.security ??= []
  const responses = (operation.responses ??= {})
  responses[414] ??= { description: answers[414], content: errorContent }
  if (operation.requestBody) {
    responses[413] ??= { description: answers[413], content: errorContent }
    responses[415] ??= { description: answers[415], content: errorContent }
  }
  if (operation.security?.length) {
    const own = responses[503]
    if (!own) responses[503] = { description: answers[503], content: errorContent }
    else if (isError(own))
      own.description = `${String(own.description)}; or the database is unavailable (database_unavailable)`
  }
  if (Object.values(responses).some((answer) => answer.content?.['text/event-stream']))
    operation.parameters = [...(operation.parameters ?? []), lastEventIdHeader]
  for (const [status, headers] of [
    ['401', wwwAuthenticate],
    ['429', retryAfter],
    ['503', retryAfter],
  ] as const) {
    const answer = responses[status]
    if (answer) answer.headers = { ...headers, ...(answer.headers as Json | undefined) }
  }
}

/** Serves `/openapi.json`: the routes' own document, completed. */
export function registerOpenApiDocument(
  app: OpenAPIHono<AppEnv>,
  info: Json & { title: string; version: string },
) {
  let document: Json | undefined
  app.get('/openapi.json', (c) => {
    document ??= completeDocument(
      app.getOpenAPI31Document({
        openapi: '3.1.0',
        info: { ...info, license },
        // The API is served where this document is, whatever the host is called there.
        servers: [{ url: '/' }],
      }) as unknown as Json,
    )
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
