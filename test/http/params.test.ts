import { describe, expect, it } from 'vitest'
import { useTestServer } from '../support/fixtures.js'
import { createRoom } from '../support/server.js'

const { server } = useTestServer()

async function error(response: Response) {
  return {
    status: response.status,
    ...((await response.json()) as { error: { code: string; message: string } }).error,
  }
}

describe('a bad path parameter', () => {
  it('is named in its error: the room id', async () => {
    expect(await error(await server.request('/rooms/abc/members'))).toEqual({
      status: 400,
      code: 'invalid_id',
      message: 'The room id must be a positive integer',
    })
  })

  it('is named in its error: a user_id, not "the room id"', async () => {
    const roomId = await createRoom(server, 'params-user')
    const response = await server.request(`/rooms/${roomId}/members/${'u'.repeat(201)}`, { method: 'DELETE' })
    expect(await error(response)).toEqual({
      status: 400,
      code: 'invalid_id',
      message: 'The user_id must be at most 200 characters',
    })
  })
})
