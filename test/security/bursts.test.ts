import { describe, expect, it } from 'vitest'
import { useTestServer } from '../support/fixtures.js'
import { range } from '../support/range.js'
import { createRoom, postMessage, type TestServer } from '../support/server.js'

// Every per-user limit holds against a burst of parallel requests, sent to one instance or
// split over two: a burst of N never admits more than the limit, whatever N. The window is
// an hour here, so that no token is refilled while a burst is under way and the counts are
// exact.

const { servers } = useTestServer({ instances: 2, env: { RATE_LIMIT_WINDOW_MS: '3600000' } })

/** `count` requests at once, alternating between the two instances; their statuses, counted. */
async function burst(count: number, send: (server: TestServer, i: number) => Promise<Response>) {
  const responses = await Promise.all(range(0, count - 1).map((i) => send(servers[i % 2]!, i)))
  const statuses: Record<number, number> = {}
  for (const response of responses) statuses[response.status] = (statuses[response.status] ?? 0) + 1
  return statuses
}

const json = (body: unknown) => ({ method: 'POST', body: JSON.stringify(body) })

describe('a burst of parallel requests over two instances', () => {
  it('creates exactly ROOMS_PER_HOUR (50) of 80 rooms', async () => {
    const statuses = await burst(80, (server, i) =>
      server.request('/rooms', { ...json({ name: `burst-room-${i}` }), as: 'room-burster' }),
    )
    expect(statuses).toEqual({ 201: 50, 429: 30 })
  })

  it('opens exactly ROOMS_PER_HOUR (50) of 80 direct conversations', async () => {
    const statuses = await burst(80, (server, i) =>
      server.request('/dms', { ...json({ user_id: `friend-${i}` }), as: 'dm-burster' }),
    )
    expect(statuses).toEqual({ 201: 50, 429: 30 })
  })

  it('posts exactly RATE_LIMIT_MESSAGES (20) of 100 messages', async () => {
    const [a] = servers
    const roomId = await createRoom(a, 'burst-posts', 'post-owner')
    const statuses = await burst(100, (server, i) =>
      postMessage(server, roomId, `burst ${i}`, 'post-burster'),
    )
    expect(statuses).toEqual({ 201: 20, 429: 80 })
  })

  it('takes exactly RATE_LIMIT_CHANGES (60) of 150 edits', async () => {
    const [a] = servers
    const roomId = await createRoom(a, 'burst-edits', 'edit-burster')
    const posted = (await (await postMessage(a, roomId, 'to be edited', 'edit-burster')).json()) as {
      seq: number
    }
    const statuses = await burst(150, (server, i) =>
      server.request(`/rooms/${roomId}/messages/${posted.seq}`, {
        method: 'PATCH',
        body: JSON.stringify({ body: `edit ${i}` }),
        as: 'edit-burster',
      }),
    )
    expect(statuses).toEqual({ 200: 60, 429: 90 })
  })

  it('changes exactly RATE_LIMIT_MEMBERSHIPS (100) of 150 memberships', async () => {
    const [a] = servers
    const roomId = await createRoom(a, 'burst-members', 'member-burster')
    const statuses = await burst(150, (server, i) =>
      server.request(`/rooms/${roomId}/members`, {
        ...json({ user_id: `invitee-${i}` }),
        as: 'member-burster',
      }),
    )
    expect(statuses).toEqual({ 201: 100, 429: 50 })
  })

  it('sells exactly RATE_LIMIT_TICKETS (60) of 100 stream tickets', async () => {
    const statuses = await burst(100, (server) =>
      server.request('/stream-tickets', { ...json({}), as: 'ticket-burster' }),
    )
    expect(statuses).toEqual({ 201: 60, 429: 40 })
  })
})
