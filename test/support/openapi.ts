import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js'
import addFormats from 'ajv-formats'

// Checks a real answer against what /openapi.json says of its operation: the status is
// documented, the content type is one documented for it, the body validates (JSON Schema
// 2020-12, as OpenAPI 3.1 uses) against the documented schema, and every documented
// header is there. Objects are checked closed: a field the server sends but the document
// does not name is a lie by omission.

type Json = Record<string, unknown>

export interface DocumentedResponse {
  description?: string
  headers?: Record<string, { schema?: Json; required?: boolean }>
  content?: Record<string, { schema?: Json }>
}

export interface Operation {
  operationId: string
  method: string
  path: string
  security?: unknown[]
  parameters?: { name: string; in: string }[]
  requestBody?: Json
  responses: Record<string, DocumentedResponse>
}

export interface OpenApiDocument {
  openapi: string
  info: Json
  paths: Record<string, Record<string, Omit<Operation, 'method' | 'path'>>>
  components?: Json
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace']
const DOCUMENT_ID = 'https://parley.invalid/openapi.json'

/** Every operation of the document, with its method and path. */
export function operationsOf(document: OpenApiDocument): Operation[] {
  return Object.entries(document.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => METHODS.includes(method))
      .map(([method, operation]) => ({ ...operation, method, path })),
  )
}

/** The media type without its parameters: `application/json; charset=UTF-8` → `application/json`. */
export const mediaType = (contentType: string | null) => contentType?.split(';')[0]?.trim().toLowerCase()

/** A copy of `schema` in which every object schema that does not say otherwise takes no other field. */
function closed(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(closed)
  if (!schema || typeof schema !== 'object') return schema
  const copy = Object.fromEntries(Object.entries(schema).map(([key, value]) => [key, closed(value)])) as Json
  const isObject = copy.type === 'object' || (Array.isArray(copy.type) && copy.type.includes('object'))
  if (isObject && copy.properties && !('additionalProperties' in copy) && !('unevaluatedProperties' in copy))
    copy.additionalProperties = false
  return copy
}

const pointer = (...parts: string[]) =>
  parts.map((part) => part.replaceAll('~', '~0').replaceAll('/', '~1')).join('/')

/** Validators of every answer the document describes. */
export function createResponseChecker(document: OpenApiDocument) {
  // The document's own keywords (paths, info, example…) are not JSON Schema: not an error here.
  const ajv = new Ajv2020({ allErrors: true, strictSchema: false })
  addFormats.default(ajv)
  ajv.addSchema(closed({ ...document, $id: DOCUMENT_ID }) as Json)
  const compiled = new Map<string, ValidateFunction>()

  function validatorAt(...parts: string[]): ValidateFunction {
    const ref = `${DOCUMENT_ID}#/${pointer(...parts)}`
    let validate = compiled.get(ref)
    if (!validate) {
      validate = ajv.compile({ $ref: ref })
      compiled.set(ref, validate)
    }
    return validate
  }

  const problemsOf = (validate: ValidateFunction, value: unknown, dataVar = 'body') =>
    ajv.errorsText(validate(value) ? [] : validate.errors, { dataVar })

  /**
   * What is wrong with `response` as an answer of `operation`: an empty list when nothing
   * is. `body` is the text of the body, or undefined when it is a stream not to be read.
   */
  function check(operation: Operation, response: Response, body: string | undefined): string[] {
    const status = String(response.status)
    const documented = operation.responses[status]
    if (!documented) return [`status ${status} is not documented`]
    const problems: string[] = []
    for (const [name, header] of Object.entries(documented.headers ?? {})) {
      const value = response.headers.get(name)
      if (value === null) {
        problems.push(`header ${name} is documented but absent`)
        continue
      }
      const numeric = header.schema?.type === 'integer' || header.schema?.type === 'number'
      const validate = validatorAt(
        'paths',
        operation.path,
        operation.method,
        'responses',
        status,
        'headers',
        name,
        'schema',
      )
      const problem = problemsOf(validate, numeric && /^-?[0-9.]+$/.test(value) ? Number(value) : value, name)
      if (problem !== 'No errors') problems.push(`header ${name}: ${problem}`)
    }
    const type = mediaType(response.headers.get('content-type'))
    const content = documented.content ?? {}
    if (Object.keys(content).length === 0) {
      if (body) problems.push(`a body is sent (${type}) where none is documented`)
      return problems
    }
    if (!type || !(type in content)) {
      problems.push(`content type ${type} is not one of ${Object.keys(content).join(', ')}`)
      return problems
    }
    if (body === undefined || type !== 'application/json') return problems
    let value: unknown
    try {
      value = JSON.parse(body)
    } catch {
      return [...problems, `the body is not JSON: ${body.slice(0, 200)}`]
    }
    const validate = validatorAt(
      'paths',
      operation.path,
      operation.method,
      'responses',
      status,
      'content',
      type,
      'schema',
    )
    const problem = problemsOf(validate, value)
    if (problem !== 'No errors') problems.push(`${problem} in ${body.slice(0, 300)}`)
    return problems
  }

  return { check }
}

/**
 * The query parameters and headers of a request that `operation` does not document.
 * Authorization and Content-Type are documented by its security and its request body.
 */
export function undocumentedParameters(operation: Operation, url: URL, headers: Headers): string[] {
  const documented = new Set((operation.parameters ?? []).map((p) => `${p.in}:${p.name.toLowerCase()}`))
  const sent = [
    ...[...url.searchParams.keys()].map((name) => `query:${name.toLowerCase()}`),
    ...[...headers.keys()]
      .filter((name) => !['authorization', 'content-type'].includes(name))
      .map((name) => `header:${name}`),
  ]
  return sent.filter((parameter) => !documented.has(parameter))
}
