import { describe, expect, it } from 'vitest'
import { useTestServer } from '../support/fixtures.js'
import { createRoom } from '../support/server.js'

// /openapi.json tells the whole truth: every status an operation can answer is documented,
// with the headers that go with it, and every operation has a stable operationId.

const { server } = useTestServer()

interface Operation {
  operationId?: string
  requestBody?: unknown
  security?: unknown[]
  responses: Record<string, { headers?: Record<string, unknown> }>
}

async function operations() {
  const response = await server.request('/openapi.json', { as: null })
  const document = (await response.json()) as { paths: Record<string, Record<string, Operation>> }
  return Object.entries(document.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, operation]) => ({ method, path, operation })),
  )
}

/** The path with every parameter filled in. */
const concrete = (path: string) => path.replace(/\{[^}]+\}/g, '1')

describe('/openapi.json', () => {
  it('gives every operation a unique operationId', async () => {
    const ids = (await operations()).map(({ operation }) => operation.operationId)
    expect(ids.filter((id) => typeof id !== 'string')).toEqual([])
    expect(new Set(ids).size).toBe(ids.length)
  })

  it('documents the answers every operation can get before its route runs, and their headers', async () => {
    const missing: string[] = []
    for (const { method, path, operation } of await operations()) {
      const expected = ['414', ...(operation.requestBody ? ['413', '415'] : [])]
      if (operation.security?.length) expected.push('401')
      for (const status of expected)
        if (!operation.responses[status]) missing.push(`${method} ${path} ${status}`)
      if (operation.responses['401'] && !operation.responses['401'].headers?.['WWW-Authenticate'])
        missing.push(`${method} ${path} 401 WWW-Authenticate`)
      for (const status of ['429', '503']) {
        if (operation.responses[status] && !operation.responses[status].headers?.['Retry-After'])
          missing.push(`${method} ${path} ${status} Retry-After`)
      }
    }
    expect(missing).toEqual([])
  })

  it('documents too_many_streams on every stream operation', async () => {
    const streams = (await operations()).filter(({ path }) => path.endsWith('stream'))
    expect(streams.map(({ path }) => path).sort()).toEqual(['/me/stream', '/rooms/{id}/stream', '/stream'])
    for (const { operation } of streams)
      expect(Object.keys(operation.responses)).toEqual(expect.arrayContaining(['429', '503']))
  })

  it('documents what the server really answers to a long URL, a wrong body type and a large body', async () => {
    const undocumented: string[] = []
    for (const { method, path, operation } of await operations()) {
      const long = await server.request(`${concrete(path)}?pad=${'x'.repeat(5000)}`, {
        method: method.toUpperCase(),
      })
      if (!operation.responses[String(long.status)]) undocumented.push(`${method} ${path} ${long.status}`)
      if (!operation.requestBody) continue
      const wrongType = await server.request(concrete(path), {
        method: method.toUpperCase(),
        body: 'name=x',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      })
      if (!operation.responses[String(wrongType.status)])
        undocumented.push(`${method} ${path} ${wrongType.status}`)
      const large = await server.request(concrete(path), {
        method: method.toUpperCase(),
        body: JSON.stringify({ body: 'x'.repeat(70 * 1024) }),
      })
      if (!operation.responses[String(large.status)]) undocumented.push(`${method} ${path} ${large.status}`)
    }
    expect(undocumented).toEqual([])
  })
})

describe('GET /rooms/:id/presence', () => {
  it('answers 400 to a cursor it never handed out, as every paged endpoint does', async () => {
    const roomId = await createRoom(server, 'presence-cursor')
    const response = await server.request(`/rooms/${roomId}/presence?cursor=garbage`)
    expect({ status: response.status, body: await response.json() }).toEqual({
      status: 400,
      body: { error: { code: 'validation_failed', message: expect.any(String) } },
    })
  })
})
