import { createHash } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import type { StreamTicket } from '../../src/wire.js'
import { createRoom, errorCode, postMessage, signTestToken, type TestServer } from '../support/server.js'
import { useTestServer } from '../support/fixtures.js'
import { openMultiStream, openStream, type StreamClient } from '../support/sse.js'
import { until } from '../support/wait.js'

// Two instances on one database: a ticket is a row there, not a process's memory.
const { database, servers } = useTestServer({ instances: 2 })
const [a, b] = servers
const clients: StreamClient[] = []

afterEach(() => {
  for (const client of clients.splice(0)) client.close()
})

const SPENT = 'The stream ticket is unknown, already used or expired'

/** POST /stream-tickets as `as`, or with `token` when given. */
async function buyTicket(server: TestServer, as = 'alice', token?: string): Promise<StreamTicket> {
  const headers = token === undefined ? undefined : { authorization: `Bearer ${token}` }
  const response = await server.request('/stream-tickets', { method: 'POST', as, headers })
  expect(response.status).toBe(201)
  return (await response.json()) as StreamTicket
}

/** A stream request with `ticket` in its URL and no token; a stream that opens is closed at once. */
async function presentTicket(
  server: TestServer,
  path: string,
  ticket: string,
  headers?: Record<string, string>,
) {
  const url = new URL(`${server.url}${path}`)
  url.searchParams.set('ticket', ticket)
  const aborter = new AbortController()
  const response = await fetch(url, { headers, signal: aborter.signal })
  if (response.status === 200) aborter.abort()
  return response
}

async function expectSpent(response: Response) {
  expect(response.status).toBe(401)
  expect(response.headers.get('www-authenticate')).toBe('Bearer')
  expect(await response.json()).toEqual({ error: { code: 'unauthorized', message: SPENT } })
}

/** Opens `client` and waits until `server` has joined it to every room of fresh `roomIds`. */
async function joined(client: StreamClient, server: TestServer, roomIds: number[]): Promise<StreamClient> {
  clients.push(client)
  await client.opened
  await until(() => roomIds.every((id) => server.hub.subscriberCount(id) === 1), 'the stream to join')
  return client
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex')

describe('POST /stream-tickets', () => {
  it('answers 201 with 32 random bytes in base64url, valid for 30 seconds', async () => {
    const before = Date.now()
    const first = await buyTicket(a)
    const response = await a.request('/stream-tickets', { method: 'POST', body: '{}' })
    expect(response.status).toBe(201)
    const second = (await response.json()) as StreamTicket
    expect(first).toEqual({
      ticket: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      expires_at: expect.any(String),
    })
    expect(Buffer.from(first.ticket, 'base64url')).toHaveLength(32)
    expect(second.ticket).not.toBe(first.ticket)
    const lifeMs = Date.parse(first.expires_at) - before
    expect(lifeMs).toBeGreaterThan(28_000)
    expect(lifeMs).toBeLessThanOrEqual(31_000)
  })

  it('never lets a ticket outlive the token that bought it', async () => {
    const token = await signTestToken({ sub: 'brief' }, '5s')
    const { expires_at } = await buyTicket(a, 'brief', token)
    const exp = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { exp: number }
    expect(Date.parse(expires_at)).toBe(exp.exp * 1000)
  })

  it('is bought with the Authorization header only, never with a token or ticket in the URL', async () => {
    const { ticket } = await buyTicket(a)
    for (const query of [`access_token=${await a.token('alice')}`, `ticket=${ticket}`, '']) {
      const response = await a.request(`/stream-tickets?${query}`, { method: 'POST', as: null })
      expect(response.status).toBe(401)
      expect(await errorCode(response)).toBe('unauthorized')
    }
  })
})

describe('?ticket= on the streams', () => {
  it('opens a room stream once; the same ticket again is 401', async () => {
    const roomId = await createRoom(a, 'ticket-room')
    const { ticket } = await buyTicket(a, 'bob')
    const stream = await joined(openStream(a.url, roomId, { ticket, reconnect: false }), a, [roomId])
    await postMessage(a, roomId, 'over a ticket')
    await stream.waitFor(1)
    expect(stream.messages.map((m) => [m.seq, m.body])).toEqual([[1, 'over a ticket']])
    await expectSpent(await presentTicket(a, `/rooms/${roomId}/stream`, ticket))
  })

  it('opens a multi-room stream once; the same ticket again is 401', async () => {
    const rooms = [await createRoom(a, 'ticket-multi-1'), await createRoom(a, 'ticket-multi-2')]
    const { ticket } = await buyTicket(a, 'bob')
    const stream = await joined(openMultiStream(a.url, rooms, { ticket, reconnect: false }), a, rooms)
    await postMessage(a, rooms[0]!, 'one')
    await postMessage(a, rooms[1]!, 'two')
    await stream.waitFor(2)
    // Rooms are delivered independently: their order on one stream is not promised.
    expect(stream.messages.map((m) => m.body).sort()).toEqual(['one', 'two'])
    await expectSpent(await presentTicket(a, `/stream?rooms=${rooms.join(',')}`, ticket))
  })

  it('refuses an expired ticket with 401', async () => {
    const roomId = await createRoom(a, 'ticket-expired')
    const { ticket } = await buyTicket(a, 'late-larry')
    await database.sql`update stream_tickets set expires_at = now() - interval '1 second'
      where user_id = 'late-larry'`
    await expectSpent(await presentTicket(a, `/rooms/${roomId}/stream`, ticket))
  })

  it.each([
    ['an unknown ticket', 'A'.repeat(43)],
    ['a malformed ticket', 'not a ticket'],
    ['an empty ticket', ''],
  ])('refuses %s with 401', async (_case, ticket) => {
    await expectSpent(await presentTicket(a, '/rooms/1/stream', ticket))
  })

  it('accepts a ticket once among many requests presenting it at the same time', async () => {
    const roomId = await createRoom(a, 'ticket-race')
    const { ticket } = await buyTicket(a, 'bob')
    const path = `/rooms/${roomId}/stream`
    const responses = await Promise.all(
      Array.from({ length: 8 }, (_, i) => presentTicket(i % 2 ? a : b, path, ticket)),
    )
    expect(responses.map((r) => r.status).sort()).toEqual([200, 401, 401, 401, 401, 401, 401, 401])
  })

  it('sells and redeems a storm of tickets in batches: each opens one stream, once', async () => {
    const roomId = await createRoom(a, 'ticket-storm')
    const path = `/rooms/${roomId}/stream`
    const before = a.tickets.stats()
    const users = Array.from({ length: 200 }, (_, i) => `storm-${i}`)
    const tickets = await Promise.all(users.map((user) => buyTicket(a, user)))
    const bought = a.tickets.stats()
    const opened = await Promise.all(tickets.map(({ ticket }) => presentTicket(a, path, ticket)))
    const again = await Promise.all(tickets.slice(0, 20).map(({ ticket }) => presentTicket(a, path, ticket)))
    const after = a.tickets.stats()

    expect(opened.map((response) => response.status)).toEqual(users.map(() => 200))
    expect(again.map((response) => response.status)).toEqual(again.map(() => 401))
    expect(new Set(tickets.map(({ ticket }) => ticket)).size).toBe(200)
    // Fewer batches (a rate-limit take and an insert to sell, a delete to redeem) than
    // tickets: here about 40 for 200 sold and 20 for 220 redeemed; one per ticket without.
    expect(bought.sold.requests - before.sold.requests).toBe(200)
    expect(bought.sold.batches - before.sold.batches).toBeLessThanOrEqual(100)
    expect(after.redeemed.requests - bought.redeemed.requests).toBe(220)
    expect(after.redeemed.batches - bought.redeemed.batches).toBeLessThanOrEqual(110)
  })

  it('takes the Authorization header over a ticket, which stays unspent', async () => {
    const roomId = await createRoom(a, 'ticket-and-header')
    const path = `/rooms/${roomId}/stream`
    const { ticket } = await buyTicket(a, 'bob')
    const withHeader = await presentTicket(a, path, ticket, {
      authorization: `Bearer ${await a.token('bob')}`,
    })
    expect(withHeader.status).toBe(200)
    const badHeader = await presentTicket(a, path, ticket, { authorization: 'Bearer not-a-token' })
    expect(badHeader.status).toBe(401)
    expect((await presentTicket(a, path, ticket)).status).toBe(200)
  })

  it('is not accepted outside the stream paths, and is not spent there', async () => {
    const roomId = await createRoom(a, 'ticket-elsewhere')
    const { ticket } = await buyTicket(a, 'bob')
    for (const path of ['/rooms', `/rooms/${roomId}`, `/rooms/${roomId}/messages`]) {
      const response = await a.request(`${path}?ticket=${ticket}`, { as: null })
      expect(response.status).toBe(401)
      expect(await errorCode(response)).toBe('unauthorized')
    }
    expect((await presentTicket(a, `/rooms/${roomId}/stream`, ticket)).status).toBe(200)
  })

  it('opens a stream on another instance, then is refused by both', async () => {
    const roomId = await createRoom(a, 'ticket-instances')
    const { ticket } = await buyTicket(a, 'bob')
    const stream = await joined(openStream(b.url, roomId, { ticket, reconnect: false }), b, [roomId])
    await postMessage(a, roomId, 'via b')
    await stream.waitFor(1)
    await expectSpent(await presentTicket(a, `/rooms/${roomId}/stream`, ticket))
    await expectSpent(await presentTicket(b, `/rooms/${roomId}/stream`, ticket))
  })
})

describe('the identity a ticket carries', () => {
  async function privateRoom(name: string): Promise<number> {
    const body = JSON.stringify({ name, visibility: 'private' })
    const response = await a.request('/rooms', { method: 'POST', body, as: 'olive' })
    expect(response.status).toBe(201)
    return ((await response.json()) as { id: number }).id
  }

  it("answers a private room's non-member 404, exactly as without a ticket", async () => {
    const roomId = await privateRoom('ticket-private')
    const { ticket } = await buyTicket(a, 'nick')
    const withTicket = await presentTicket(a, `/rooms/${roomId}/stream`, ticket)
    const withHeader = await a.request(`/rooms/${roomId}/stream`, { as: 'nick' })
    expect(withTicket.status).toBe(404)
    expect(withHeader.status).toBe(404)
    expect(await withTicket.json()).toEqual(await withHeader.json())
    expect(await errorCode(await a.request(`/rooms/${roomId}`, { as: 'nick' }))).toBe('room_not_found')
  })

  it("is the buyer's: user id, display name and admin role", async () => {
    const roomId = await privateRoom('ticket-admin')
    const token = await signTestToken({ sub: 'ada', name: 'Ada Admin', roles: ['admin'] })
    const { ticket } = await buyTicket(a, 'ada', token)
    await joined(openStream(a.url, roomId, { ticket, reconnect: false }), a, [roomId])
    await until(async () => {
      const response = await a.request(`/rooms/${roomId}/presence`, { as: 'olive' })
      const { users } = (await response.json()) as { users: { user_id: string; user_name: string }[] }
      return users.some((user) => user.user_id === 'ada' && user.user_name === 'Ada Admin')
    }, 'Ada Admin to be present')
  })

  it('ends its stream with event: expired when the token that bought it expires', async () => {
    const roomId = await createRoom(a, 'ticket-token-expiry')
    const token = await signTestToken({ sub: 'quick' }, '2s')
    const { ticket } = await buyTicket(a, 'quick', token)
    const stream = await joined(openStream(a.url, roomId, { ticket, reconnect: false }), a, [roomId])
    await until(() => stream.events.some((event) => event.type === 'expired'), 'event: expired', 8_000)
    expect(stream.events.find((event) => event.type === 'expired')?.data).toBe('{"reason":"token_expired"}')
  })
})

describe('the stream_tickets table', () => {
  it('holds a SHA-256 of each ticket and never the ticket itself', async () => {
    const tickets = await Promise.all([buyTicket(a, 'tess'), buyTicket(b, 'tess'), buyTicket(a, 'tess')])
    const rows = await database.sql<{ hash: string; row: string }[]>`
      select hash, t::text as row from stream_tickets t where user_id = 'tess'`
    expect(rows.map((row) => row.hash).sort()).toEqual(tickets.map(({ ticket }) => sha256(ticket)).sort())
    for (const { row } of rows) for (const { ticket } of tickets) expect(row).not.toContain(ticket)
  })

  it('deletes a ticket when it is used', async () => {
    const roomId = await createRoom(a, 'ticket-used-row')
    const { ticket } = await buyTicket(a, 'uma')
    expect((await presentTicket(a, `/rooms/${roomId}/stream`, ticket)).status).toBe(200)
    const left = await database.sql`select 1 from stream_tickets where user_id = 'uma'`
    expect(left).toHaveLength(0)
  })

  it('sweeps expired tickets when a new one is issued', async () => {
    await Promise.all(Array.from({ length: 5 }, () => buyTicket(a, 'sweepy')))
    await database.sql`update stream_tickets set expires_at = now() - interval '1 minute'
      where user_id = 'sweepy'`
    await buyTicket(b, 'someone-else')
    const left = await database.sql`select 1 from stream_tickets where user_id = 'sweepy'`
    expect(left).toHaveLength(0)
  })
})
