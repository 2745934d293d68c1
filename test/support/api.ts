import { expect } from 'vitest'
import type { MessageView } from '../../src/chat/messages.js'
import type { RoomView } from '../../src/chat/rooms.js'
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
export async function expectCreated(response: Response): Promise<MessageView> {
  const body = await response.json()
  expect({ status: response.status, body }).toMatchObject({ status: 201 })
  return body as MessageView
}

/** GET /rooms/:id, which must answer 200. */
export async function getRoom(server: TestServer, id: number): Promise<RoomView> {
  const response = await server.request(`/rooms/${id}`)
  expect(response.status).toBe(200)
  return (await response.json()) as RoomView
}

/** GET /rooms as the default user, which must answer 200. */
export async function lobby(server: TestServer): Promise<RoomView[]> {
  const response = await server.request('/rooms')
  expect(response.status).toBe(200)
  return ((await response.json()) as { rooms: RoomView[] }).rooms
}

export async function lastSeq(server: TestServer, roomId: number): Promise<number> {
  const response = await server.request(`/rooms/${roomId}`)
  return ((await response.json()) as RoomView).last_seq
}

export interface MessagePage {
  messages: MessageView[]
  has_more: boolean
}

/** GET /rooms/:id/messages with `query`, which must answer 200. */
export async function readPage(server: TestServer, roomId: number, query = ''): Promise<MessagePage> {
  const response = await server.request(`/rooms/${roomId}/messages${query}`)
  expect(response.status).toBe(200)
  return (await response.json()) as MessagePage
}

export const seqsOf = (page: MessagePage) => page.messages.map((message) => message.seq)
