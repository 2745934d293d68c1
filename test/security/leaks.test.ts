import { Writable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createAuth } from '../../src/auth/jwt.js'
import { resolveConfig } from '../../src/config.js'
import { createLogger } from '../../src/logger.js'
import { type ParleyServer, startServer } from '../../src/server.js'
import { useTestDatabase } from '../support/fixtures.js'
import { signTestToken, TEST_SECRET } from '../support/server.js'
import { openStream } from '../support/sse.js'
import { until } from '../support/wait.js'

const METRICS_TOKEN = 'metrics-token-for-the-scraper'

// Its own server, with a logger whose lines the tests read.
const database = useTestDatabase()
let server: ParleyServer
const logLines: string[] = []

beforeAll(async () => {
  const config = resolveConfig({ PORT: '0', LOG_LEVEL: 'info', DB_POOL_MAX: '5', METRICS_TOKEN })
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logLines.push(...chunk.toString('utf8').split('\n').filter(Boolean))
      done()
    },
  })
  const logger = createLogger(config.LOG_LEVEL, sink)
  const auth = createAuth({ key: { kind: 'secret', secret: TEST_SECRET } })
  server = await startServer({ config, databaseUrl: database.url, logger, auth })
})

afterAll(async () => {
  await server?.close()
})

async function call(path: string, init: RequestInit & { as?: string } = {}) {
  const token = await signTestToken({ sub: init.as ?? 'alice' })
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
  return fetch(`${server.url}${path}`, { ...init, headers: { ...headers, ...init.headers } })
}

async function newRoom(name: string, visibility: 'public' | 'private') {
  const response = await call('/rooms', { method: 'POST', body: JSON.stringify({ name, visibility }) })
  return ((await response.json()) as { id: number }).id
}

describe('a database error', () => {
  it('is logged with its query and code but without the values of the statement', async () => {
    const roomId = await newRoom('leaky', 'public')
    // A constraint Parley does not know, as a DBA might add: the insert fails unexpectedly.
    await database.sql`alter table messages add constraint no_pineapple check (body not like '%pineapple%')`
    try {
      const response = await call(`/rooms/${roomId}/messages`, {
        method: 'POST',
        body: JSON.stringify({ body: 'my pineapple-secret-4711', client_id: 'client-id-0815' }),
      })
      expect(response.status).toBe(500)
      await until(() => logLines.some((line) => line.includes('unhandled error')), 'the error to be logged')
      const logged = logLines.find((line) => line.includes('unhandled error'))!
      expect(logged).toContain('23514')
      expect(logged).toContain('no_pineapple')
      expect(logged).toContain('insert into messages')
      for (const line of logLines) {
        expect(line).not.toContain('pineapple-secret-4711')
        expect(line).not.toContain('client-id-0815')
      }
    } finally {
      await database.sql`alter table messages drop constraint no_pineapple`
    }
  })
})

describe('/metrics', () => {
  it('needs METRICS_TOKEN when it is set', async () => {
    const anonymous = await fetch(`${server.url}/metrics`)
    expect([anonymous.status, anonymous.headers.get('www-authenticate')]).toEqual([401, 'Bearer'])
    const wrong = await fetch(`${server.url}/metrics`, { headers: { authorization: 'Bearer nope' } })
    expect(wrong.status).toBe(401)
    const right = await fetch(`${server.url}/metrics`, {
      headers: { authorization: `Bearer ${METRICS_TOKEN}` },
    })
    expect(right.status).toBe(200)
  })

  it('labels the streams of public rooms and never a private room', async () => {
    const open = await newRoom('metric-public', 'public')
    const hidden = await newRoom('metric-private', 'private')
    const token = await signTestToken({ sub: 'alice' })
    const streams = [open, hidden].map((roomId) => openStream(server.url, roomId, { token }))
    await Promise.all(streams.map((stream) => stream.opened))
    await until(() => server.hub.subscriberCount(hidden) === 1 && server.hub.subscriberCount(open) === 1)
    const text = await (
      await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })
    ).text()
    expect(text).toContain(`parley_room_streams{room_id="${open}"} 1`)
    expect(text).not.toContain(`room_id="${hidden}"`)
    for (const stream of streams) stream.close()
  })
})

describe('JSON answers', () => {
  it.each([
    ['a list', '/rooms', 200],
    ['an error', '/rooms/999999', 404],
    ['a route that does not exist', '/nowhere', 404],
  ])('carry nosniff and no-store: %s', async (_what, path, status) => {
    const response = await call(path)
    expect(response.status).toBe(status)
    expect(response.headers.get('x-content-type-options')).toBe('nosniff')
    expect(response.headers.get('cache-control')).toBe('no-store')
  })
})
