import type { Message, MessagePage, Room } from '../../src/wire.js'
import { expect } from 'vitest'
import type { TestServer } from './server.js'

// REST reads and answer checks that the HTTP tests and the chat tests share.

/** Expects exactly `status` with the error shape `{ error: { code, message } }`. */
export async function expectError(response: Response, status: number, code: string) {
  expect({ status: response.status, body: await response.json() }).toEqual({
    status,
    body: { error: { code, message: expect.any(String) } },
  })
}

/** Expects 201 and returns the created message. */
export async function expectCreated(response: Response): Promise<Message> {
  const body = await response.json()
  expect({ status: response.status, body }).toMatchObject({ status: 201 })
  return body as Message
}

/** GET /rooms/:id, which must answer 200. */
export async function getRoom(server: TestServer, id: number): Promise<Room> {
  const response = await server.request(`/rooms/${id}`)
  expect(response.status).toBe(200)
  return (await response.json()) as Room
}

/** GET /rooms as the default user, which must answer 200. */
export async function lobby(server: TestServer): Promise<Room[]> {
  const response = await server.request('/rooms')
  expect(response.status).toBe(200)
  return ((await response.json()) as { rooms: Room[] }).rooms
}

export async function lastSeq(server: TestServer, roomId: number): Promise<number> {
  const response = await server.request(`/rooms/${roomId}`)
  return ((await response.json()) as Room).last_seq
}

/** GET /rooms/:id/messages with `query`, which must answer 200. */
export async function readPage(server: TestServer, roomId: number, query = ''): Promise<MessagePage> {
  const response = await server.request(`/rooms/${roomId}/messages${query}`)
  expect(response.status).toBe(200)
  return (await response.json()) as MessagePage
}

export const seqsOf = (page: MessagePage) => page.messages.map((message) => message.seq)
