import { expect } from 'vitest'
import type { TestServer } from './server.js'

// How the authentication tests call a server and read its verdict.

/** GET /rooms with exactly `authorization` (or no Authorization header at all). */
export function getRooms(target: TestServer, authorization?: string): Promise<Response> {
  return target.request('/rooms', { as: null, headers: authorization ? { authorization } : {} })
}

export const bearer = (token: string) => `Bearer ${token}`

/** Expects 401 with `WWW-Authenticate: Bearer` and a non-empty message, and returns the message. */
export async function expectUnauthorized(response: Response): Promise<string> {
  expect(response.status).toBe(401)
  expect(response.headers.get('www-authenticate')).toBe('Bearer')
  const body = (await response.json()) as { error: { message: string } }
  expect(body).toEqual({ error: { code: 'unauthorized', message: expect.any(String) } })
  expect(body.error.message.length).toBeGreaterThan(0)
  return body.error.message
}

/** Expects 200 with a room list. */
export async function expectRooms(response: Response) {
  expect(response.status).toBe(200)
  expect(await response.json()).toEqual({ rooms: expect.any(Array), next_cursor: null })
}
