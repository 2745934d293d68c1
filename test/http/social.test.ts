import { describe, expect, it } from 'vitest'
import { useTestServer } from '../support/fixtures.js'
import { createRoom, errorCode } from '../support/server.js'

// The HTTP surface of presence, typing and read marks (src/http/routes/social.ts).

const { server } = useTestServer()

describe('typing', () => {
  it('rejects a state other than on or off', async () => {
    const roomId = await createRoom(server, 'typing-bad')
    const response = await server.request(`/rooms/${roomId}/typing`, {
      method: 'POST',
      body: '{"state":"maybe"}',
    })
    expect(response.status).toBe(400)
    expect(await errorCode(response)).toBe('validation_failed')
  })
})

describe('presence, typing and receipts of a private room', () => {
  it('answer 404 room_not_found to a non-member, like a room that does not exist', async () => {
    const created = await server.request('/rooms', {
      as: 'keeper',
      method: 'POST',
      body: JSON.stringify({ name: 'social-hidden', visibility: 'private' }),
    })
    const roomId = ((await created.json()) as { id: number }).id
    const calls: [string, string, string?][] = [
      ['GET', `/rooms/${roomId}/presence`],
      ['POST', `/rooms/${roomId}/typing`, '{"state":"on"}'],
      ['POST', `/rooms/${roomId}/read`, '{"seq":1}'],
      ['GET', `/rooms/${roomId}/reads`],
    ]
    for (const [method, path, body] of calls) {
      const response = await server.request(path, { as: 'stranger', method, body })
      expect([path, response.status, await errorCode(response)]).toEqual([path, 404, 'room_not_found'])
      const member = await server.request(path, { as: 'keeper', method, body })
      expect([path, member.status]).toEqual([path, method === 'GET' || path.endsWith('/read') ? 200 : 204])
    }
  })

  it('answers 400 to a read mark that is not a non-negative integer', async () => {
    const roomId = await createRoom(server, 'read-bad')
    for (const body of ['{"seq":-1}', '{"seq":"x"}', '{"seq":1.5}', '{}']) {
      const response = await server.request(`/rooms/${roomId}/read`, { method: 'POST', body })
      expect([body, response.status, await errorCode(response)]).toEqual([body, 400, 'validation_failed'])
    }
  })
})
