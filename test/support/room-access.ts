import type { Member, Room } from '../../src/wire.js'
import { expect } from 'vitest'
import type { TestDatabase } from './database.js'
import { errorCode, signTestToken, type TestServer } from './server.js'
import { openStream, type StreamClient } from './sse.js'

// The cast and the calls of the access tests: who owns, belongs to, or merely visits a
// room, and how each of them calls the API.

export const OWNER = 'olive'
export const MEMBER = 'mia'
export const OTHER_MEMBER = 'max'
export const STRANGER = 'nick'
export const ADMIN = 'ada'

export const NOT_FOUND = '404 room_not_found'
export const FORBIDDEN = '403 forbidden'

const tokens = new Map<string, Promise<string>>()
/** A token for `user`; ADMIN's carries `roles: ["admin"]`, everyone else's no roles at all. */
export function tokenFor(user: string): Promise<string> {
  let token = tokens.get(user)
  if (!token) {
    token = signTestToken(user === ADMIN ? { sub: user, name: 'Ada', roles: ['admin'] } : { sub: user })
    tokens.set(user, token)
  }
  return token
}

/** "200", "204", or "404 room_not_found": the status, plus the error code of an error. */
export async function outcome(response: Response): Promise<string> {
  if (response.status < 400) {
    await response.body?.cancel()
    return String(response.status)
  }
  return `${response.status} ${await errorCode(response)}`
}

interface Endpoint {
  method: string
  path: (roomId: number, caller: string) => string
  body?: unknown
  headers?: Record<string, string>
}

export const ENDPOINTS = {
  'GET /rooms/:id': { method: 'GET', path: (id) => `/rooms/${id}` },
  'GET /rooms/:id/messages': { method: 'GET', path: (id) => `/rooms/${id}/messages` },
  'POST /rooms/:id/messages': { method: 'POST', path: (id) => `/rooms/${id}/messages`, body: { body: 'hi' } },
  'GET /rooms/:id/stream': { method: 'GET', path: (id) => `/rooms/${id}/stream` },
  'GET /rooms/:id/stream with Last-Event-ID': {
    method: 'GET',
    path: (id) => `/rooms/${id}/stream`,
    headers: { 'last-event-id': '0' },
  },
  'GET /rooms/:id/stream?last_event_id=0': {
    method: 'GET',
    path: (id) => `/rooms/${id}/stream?last_event_id=0`,
  },
  'GET /rooms/:id/members': { method: 'GET', path: (id) => `/rooms/${id}/members` },
  'POST /rooms/:id/members': {
    method: 'POST',
    path: (id) => `/rooms/${id}/members`,
    body: { user_id: 'newcomer' },
  },
  'DELETE another member': { method: 'DELETE', path: (id) => `/rooms/${id}/members/${OTHER_MEMBER}` },
  'DELETE oneself': { method: 'DELETE', path: (id, caller) => `/rooms/${id}/members/${caller}` },
  'POST /rooms/:id/join': { method: 'POST', path: (id) => `/rooms/${id}/join` },
} satisfies Record<string, Endpoint>

export type EndpointName = keyof typeof ENDPOINTS

export interface CallOptions {
  body?: unknown
  headers?: Record<string, string>
  on?: TestServer
  token?: string
}

export interface AccessContext {
  /** The file's database and the instance that answers unless a call says `on`; set in `beforeAll`. */
  database(): TestDatabase
  server(): TestServer
}

/** The calls of the access tests, bound to the file's database and default instance. */
export function accessFixtures({ database, server }: AccessContext) {
  const clients: { close(): void }[] = []
  let roomCount = 0

  async function api(user: string, method: string, path: string, options: CallOptions = {}) {
    const headers = new Headers(options.headers)
    headers.set('authorization', `Bearer ${options.token ?? (await tokenFor(user))}`)
    if (options.body !== undefined) headers.set('content-type', 'application/json')
    const body = options.body === undefined ? undefined : JSON.stringify(options.body)
    return fetch(`${(options.on ?? server()).url}${path}`, { method, headers, body })
  }

  /**
   * A fresh room owned by `owner`, with `members`. The room and its members are inserted
   * with SQL, as an operator would: the matrix needs more rooms and members of one owner
   * than ROOMS_PER_HOUR and RATE_LIMIT_MEMBERSHIPS let anyone create over HTTP.
   */
  async function makeRoom(
    visibility: 'public' | 'private',
    { owner = OWNER, members = [MEMBER, OTHER_MEMBER] } = {},
  ): Promise<Room> {
    const name = `${visibility} room ${++roomCount} of ${owner}`
    const sql = database().sql
    const [inserted] = await sql<{ id: string }[]>`
      insert into rooms (name, created_by, visibility) values (${name}, ${owner}, ${visibility}) returning id`
    await sql`insert into room_members (room_id, user_id, role) values (${inserted!.id}, ${owner}, 'owner')`
    const created = await api(owner, 'GET', `/rooms/${inserted!.id}`)
    expect(created.status).toBe(200)
    const room = (await created.json()) as Room
    for (const userId of members) {
      await sql`insert into room_members (room_id, user_id, role) values (${room.id}, ${userId}, 'member')`
    }
    return room
  }

  async function roomIdsSeenBy(user: string, token?: string): Promise<number[]> {
    const response = await api(user, 'GET', '/rooms', { token })
    expect(response.status).toBe(200)
    return ((await response.json()) as { rooms: Room[] }).rooms.map((room) => room.id)
  }

  async function memberIds(roomId: number): Promise<string[]> {
    const response = await api(ADMIN, 'GET', `/rooms/${roomId}/members`)
    expect(response.status).toBe(200)
    return ((await response.json()) as { members: Member[] }).members.map((member) => member.user_id)
  }

  function callEndpoint(name: EndpointName, roomId: number, user: string, on = server()) {
    const endpoint: Endpoint = ENDPOINTS[name]
    const { method, body, headers } = endpoint
    return api(user, method, endpoint.path(roomId, user), { body, headers, on })
  }

  function subscribe(on: TestServer, roomId: number, token: string): StreamClient {
    return track(openStream(on.url, roomId, { token, reconnect: false }))
  }

  async function insertWithSql(roomId: number, body: string) {
    await database()
      .sql`insert into messages (room_id, user_id, user_name, body) values (${roomId}, 'ops', 'Ops', ${body})`
  }

  /** Closes `client` at `closeClients`. */
  function track<T extends { close(): void }>(client: T): T {
    clients.push(client)
    return client
  }

  function closeClients() {
    for (const client of clients.splice(0)) client.close()
  }

  return {
    api,
    makeRoom,
    roomIdsSeenBy,
    memberIds,
    callEndpoint,
    subscribe,
    insertWithSql,
    track,
    closeClients,
  }
}
