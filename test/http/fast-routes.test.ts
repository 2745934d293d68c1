import { connect } from 'node:net'
import { describe, expect, it } from 'vitest'
import { useTestServer } from '../support/fixtures.js'
import { createRoom } from '../support/server.js'
import { until } from '../support/wait.js'

// The hot routes are served before Hono (src/http/fast-routes.ts). A path spelled with a
// percent-encoded digit is the same route to Hono but not to them, so every request below
// is sent both ways, and the two answers must be the same.

const { server } = useTestServer()

let roomCounter = 0
const newRoom = (purpose: string) => createRoom(server, `${purpose}-${++roomCounter}`)

/** `/rooms/12/…` and `/rooms/%312/…`: the hot route's spelling and one only Hono serves. */
const spellings = (roomId: number | string, rest: string) => [
  `/rooms/${roomId}/${rest}`,
  `/rooms/%${String(roomId).charCodeAt(0).toString(16)}${String(roomId).slice(1)}/${rest}`,
]

async function answer(response: Response) {
  const headers = Object.fromEntries(
    [...response.headers].filter(
      ([name]) => !['date', 'x-request-id', 'keep-alive', 'connection'].includes(name),
    ),
  )
  return { status: response.status, headers, body: await response.text() }
}

async function expectSameAnswers(paths: string[], init: RequestInit & { as?: string | null }) {
  const [hot, hono] = await Promise.all(paths.map(async (path) => answer(await server.request(path, init))))
  expect(hot).toEqual(hono)
  return hot!
}

describe('the hot routes', () => {
  it('answer every refusal of a post exactly as Hono’s route does', async () => {
    const roomId = await newRoom('refusals')
    const paths = spellings(roomId, 'messages')
    const cases: [RequestInit & { as?: string | null }, number][] = [
      [{ method: 'POST', body: '{"body":"x"}', headers: { 'content-type': 'text/plain' } }, 415],
      [
        { method: 'POST', body: 'body=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } },
        415,
      ],
      [{ method: 'POST', body: '{"body": "unterminated' }, 400],
      [{ method: 'POST', body: '{"body":""}' }, 400],
      [{ method: 'POST', body: JSON.stringify({ body: 'x'.repeat(2001) }) }, 422],
      [{ method: 'POST', body: JSON.stringify({ body: 'x'.repeat(70 * 1024) }) }, 413],
      [{ method: 'POST', body: '{"body":"x"}', as: null }, 401],
      [{ method: 'POST', body: '{"body":"x"}', headers: { authorization: 'Basic abc' } }, 401],
    ]
    for (const [init, status] of cases) expect((await expectSameAnswers(paths, init)).status).toBe(status)
    expect(
      (await expectSameAnswers(spellings(999_999, 'messages'), { method: 'POST', body: '{"body":"x"}' }))
        .status,
    ).toBe(404)
  })

  it('answer a post as Hono does, X-Request-Id and private JSON headers included', async () => {
    const roomId = await newRoom('answer')
    const [hot, hono] = spellings(roomId, 'messages')
    const init = (n: number) => ({
      method: 'POST',
      body: JSON.stringify({ body: 'same', client_id: `c-${n}` }),
      headers: { 'x-request-id': `req-${n}` },
    })
    const a = await server.request(hot!, init(1))
    const b = await server.request(hono!, init(2))
    expect([a.status, b.status]).toEqual([201, 201])
    expect([a.headers.get('x-request-id'), b.headers.get('x-request-id')]).toEqual(['req-1', 'req-2'])
    const first = await answer(a)
    const second = await answer(b)
    expect(first.headers).toEqual(second.headers)
    expect(first.headers).toMatchObject({
      'content-type': 'application/json',
      'x-content-type-options': 'nosniff',
      'cache-control': 'no-store',
    })
    // The same message but for what makes each one itself.
    const same = (body: string) => ({ ...JSON.parse(body), id: 0, seq: 0, created_at: '', client_id: '' })
    expect(same(second.body)).toEqual(same(first.body))
  })

  it('refuse a stream as Hono’s route does: a bad cursor, a missing room, no token', async () => {
    const roomId = await newRoom('stream-refusals')
    for (const [path, as, status] of [
      [`stream?last_event_id=nope`, 'alice', 400],
      [`stream?access_token=`, null, 401],
    ] as const) {
      expect((await expectSameAnswers(spellings(roomId, path), { as })).status).toBe(status)
    }
    expect((await expectSameAnswers(spellings(999_999, 'stream'), {})).status).toBe(404)
  })

  it('hold the rate limit against 100 parallel posts from one user', async () => {
    const roomId = await newRoom('burst')
    const statuses = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        server
          .request(`/rooms/${roomId}/messages`, {
            method: 'POST',
            body: JSON.stringify({ body: `m${i}` }),
            as: 'burst',
          })
          .then((response) => response.status),
      ),
    )
    expect(statuses.filter((status) => status === 201)).toHaveLength(20)
    expect(statuses.filter((status) => status === 429)).toHaveLength(80)
  })

  it('answer 413 to a chunked body past 64 KB at once and close the connection', async () => {
    const roomId = await newRoom('chunked')
    const token = await server.token('alice')
    const socket = connect(server.port, '127.0.0.1')
    let received = ''
    socket.on('data', (chunk) => (received += chunk.toString('latin1')))
    socket.on('error', () => {})
    socket.write(
      `POST /rooms/${roomId}/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n` +
        'Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n',
    )
    // 80 KB of a body that never ends: the answer cannot wait for its end.
    for (let i = 0; i < 10; i++) socket.write(`2000\r\n${'x'.repeat(0x2000)}\r\n`)
    await until(() => socket.destroyed || received.includes('payload_too_large'), 'the 413')
    expect(received).toMatch(/^HTTP\/1\.1 413 /)
    await until(() => socket.readableEnded || socket.destroyed, 'the server to close the connection')
    socket.destroy()
  })
})
