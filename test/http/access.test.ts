import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { MessageView } from '../../src/chat/messages.js'
import type { MemberView } from '../../src/chat/members.js'
import type { RoomView } from '../../src/chat/rooms.js'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { errorCode, signTestToken, startTestServer, type TestServer } from '../support/server.js'
import { openStream, type StreamClient } from '../support/sse.js'
import { until } from '../support/wait.js'

// Two instances on this file's database: A answers most requests, B shows that a removal
// made through A (or with SQL) reaches streams held by another process.
let database: TestDatabase
let a: TestServer
let b: TestServer
const openClients: { close(): void }[] = []

beforeAll(async () => {
  database = await createTestDatabase()
  a = await startTestServer(database)
  b = await startTestServer(database)
})

afterEach(() => {
  for (const client of openClients.splice(0)) client.close()
})

afterAll(async () => {
  for (const client of openClients) client.close()
  await a?.close()
  await b?.close()
  await database?.drop()
})

const OWNER = 'olive'
const MEMBER = 'mia'
const OTHER_MEMBER = 'max'
const STRANGER = 'nick'
const ADMIN = 'ada'
const MISSING_ROOM = 987_654_321

type Role = 'owner' | 'member' | 'non-member' | 'admin'
const USER: Record<Role, string> = { owner: OWNER, member: MEMBER, 'non-member': STRANGER, admin: ADMIN }
const WHO: Record<Role, string> = {
  owner: 'an owner',
  member: 'a member',
  'non-member': 'a non-member',
  admin: 'an admin',
}

const tokens = new Map<string, Promise<string>>()
/** A token for `user`; ADMIN's carries `roles: ["admin"]`, everyone else's no roles at all. */
function tokenFor(user: string): Promise<string> {
  let token = tokens.get(user)
  if (!token) {
    token = signTestToken(user === ADMIN ? { sub: user, name: 'Ada', roles: ['admin'] } : { sub: user })
    tokens.set(user, token)
  }
  return token
}

interface CallOptions {
  body?: unknown
  headers?: Record<string, string>
  on?: TestServer
  token?: string
}

async function api(user: string, method: string, path: string, options: CallOptions = {}) {
  const headers = new Headers(options.headers)
  headers.set('authorization', `Bearer ${options.token ?? (await tokenFor(user))}`)
  if (options.body !== undefined) headers.set('content-type', 'application/json')
  const body = options.body === undefined ? undefined : JSON.stringify(options.body)
  return fetch(`${(options.on ?? a).url}${path}`, { method, headers, body })
}

/** "200", "204", or "404 room_not_found": the status, plus the error code of an error. */
async function outcome(response: Response): Promise<string> {
  if (response.status < 400) {
    await response.body?.cancel()
    return String(response.status)
  }
  return `${response.status} ${await errorCode(response)}`
}

let roomCount = 0
/** A fresh room owned by `owner`, with `members` added by the owner. */
async function makeRoom(
  visibility: 'public' | 'private',
  { owner = OWNER, members = [MEMBER, OTHER_MEMBER] } = {},
): Promise<RoomView> {
  const name = `${visibility} room ${++roomCount} of ${owner}`
  const created = await api(owner, 'POST', '/rooms', { body: { name, visibility } })
  expect(created.status).toBe(201)
  const room = (await created.json()) as RoomView
  for (const user_id of members) {
    const added = await api(owner, 'POST', `/rooms/${room.id}/members`, { body: { user_id } })
    expect(added.status).toBe(201)
  }
  return room
}

async function roomIdsSeenBy(user: string, token?: string): Promise<number[]> {
  const response = await api(user, 'GET', '/rooms', { token })
  expect(response.status).toBe(200)
  return ((await response.json()) as { rooms: RoomView[] }).rooms.map((room) => room.id)
}

async function memberIds(roomId: number): Promise<string[]> {
  const response = await api(ADMIN, 'GET', `/rooms/${roomId}/members`)
  expect(response.status).toBe(200)
  return ((await response.json()) as { members: MemberView[] }).members.map((member) => member.user_id)
}

async function messageCount(roomId: number): Promise<number> {
  const rows = await database.sql`select count(*)::int as n from messages where room_id = ${roomId}`
  return Number(rows[0]?.n)
}

interface RawStream {
  response: Response
  /** Everything received so far. */
  text: string
  /** The server ended the stream. */
  ended: boolean
  close(): void
}

/** A stream read byte by byte with fetch, because the shared SSE client ignores `event: removed`. */
async function openRawStream(server: TestServer, roomId: number, user: string, headers = {}) {
  const controller = new AbortController()
  const response = await fetch(`${server.url}/rooms/${roomId}/stream`, {
    headers: { authorization: `Bearer ${await tokenFor(user)}`, ...headers },
    signal: controller.signal,
  })
  const stream: RawStream = { response, text: '', ended: false, close: () => controller.abort() }
  openClients.push(stream)
  const reader = response.body?.getReader()
  const decoder = new TextDecoder()
  void (async () => {
    for (;;) {
      const { value, done } = (await reader?.read()) ?? { done: true, value: undefined }
      if (done) break
      stream.text += decoder.decode(value, { stream: true })
    }
    stream.ended = true
  })().catch(() => {}) // aborted by close()
  return stream
}

/**
 * The `message` and `removed` events received, in order. Other events (presence and the
 * like) come and go with other features and say nothing about access.
 */
const accessEvents = (text: string) =>
  [...text.matchAll(/^event: (message|removed)$/gm)].map((match) => match[1])

const removedFrame = (roomId: number) => `event: removed\ndata: {"room_id":${roomId}}\n\n`

function subscribe(server: TestServer, roomId: number, token: string): StreamClient {
  const stream = openStream(server.url, roomId, { token, reconnect: false })
  openClients.push(stream)
  return stream
}

async function insertWithSql(roomId: number, body: string) {
  await database.sql`insert into messages (room_id, user_id, user_name, body) values (${roomId}, 'ops', 'Ops', ${body})`
}

interface Endpoint {
  method: string
  path: (roomId: number, caller: string) => string
  body?: unknown
  headers?: Record<string, string>
}

const ENDPOINTS = {
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

type EndpointName = keyof typeof ENDPOINTS

function callEndpoint(name: EndpointName, roomId: number, user: string, on = a) {
  const endpoint: Endpoint = ENDPOINTS[name]
  const { method, body, headers } = endpoint
  return api(user, method, endpoint.path(roomId, user), { body, headers, on })
}

const NOT_FOUND = '404 room_not_found'
const FORBIDDEN = '403 forbidden'

// [endpoint, caller, answer in a public room, answer in a private room]. The caller is not
// a member unless it is the owner or a member; the admin's token has roles ["admin"].
const MATRIX: [EndpointName, Role, string, string][] = [
  ['GET /rooms/:id', 'owner', '200', '200'],
  ['GET /rooms/:id', 'member', '200', '200'],
  ['GET /rooms/:id', 'non-member', '200', NOT_FOUND],
  ['GET /rooms/:id', 'admin', '200', '200'],
  ['GET /rooms/:id/messages', 'owner', '200', '200'],
  ['GET /rooms/:id/messages', 'member', '200', '200'],
  ['GET /rooms/:id/messages', 'non-member', '200', NOT_FOUND],
  ['GET /rooms/:id/messages', 'admin', '200', '200'],
  ['POST /rooms/:id/messages', 'owner', '201', '201'],
  ['POST /rooms/:id/messages', 'member', '201', '201'],
  ['POST /rooms/:id/messages', 'non-member', '201', NOT_FOUND],
  ['POST /rooms/:id/messages', 'admin', '201', '201'],
  ['GET /rooms/:id/stream', 'owner', '200', '200'],
  ['GET /rooms/:id/stream', 'member', '200', '200'],
  ['GET /rooms/:id/stream', 'non-member', '200', NOT_FOUND],
  ['GET /rooms/:id/stream', 'admin', '200', '200'],
  ['GET /rooms/:id/stream with Last-Event-ID', 'owner', '200', '200'],
  ['GET /rooms/:id/stream with Last-Event-ID', 'member', '200', '200'],
  ['GET /rooms/:id/stream with Last-Event-ID', 'non-member', '200', NOT_FOUND],
  ['GET /rooms/:id/stream with Last-Event-ID', 'admin', '200', '200'],
  ['GET /rooms/:id/stream?last_event_id=0', 'owner', '200', '200'],
  ['GET /rooms/:id/stream?last_event_id=0', 'member', '200', '200'],
  ['GET /rooms/:id/stream?last_event_id=0', 'non-member', '200', NOT_FOUND],
  ['GET /rooms/:id/stream?last_event_id=0', 'admin', '200', '200'],
  ['GET /rooms/:id/members', 'owner', '200', '200'],
  ['GET /rooms/:id/members', 'member', '200', '200'],
  ['GET /rooms/:id/members', 'non-member', '200', NOT_FOUND],
  ['GET /rooms/:id/members', 'admin', '200', '200'],
  ['POST /rooms/:id/members', 'owner', '201', '201'],
  ['POST /rooms/:id/members', 'member', FORBIDDEN, FORBIDDEN],
  ['POST /rooms/:id/members', 'non-member', FORBIDDEN, NOT_FOUND],
  ['POST /rooms/:id/members', 'admin', '201', '201'],
  ['DELETE another member', 'owner', '204', '204'],
  ['DELETE another member', 'member', FORBIDDEN, FORBIDDEN],
  ['DELETE another member', 'non-member', FORBIDDEN, NOT_FOUND],
  ['DELETE another member', 'admin', '204', '204'],
  ['DELETE oneself', 'owner', '204', '204'],
  ['DELETE oneself', 'member', '204', '204'],
  // Not a member, so there is nothing to leave.
  ['DELETE oneself', 'non-member', '404 member_not_found', NOT_FOUND],
  ['DELETE oneself', 'admin', '404 member_not_found', '404 member_not_found'],
  ['POST /rooms/:id/join', 'owner', '200', '200'],
  ['POST /rooms/:id/join', 'member', '200', '200'],
  ['POST /rooms/:id/join', 'non-member', '201', NOT_FOUND],
  ['POST /rooms/:id/join', 'admin', '201', '201'],
]

// One case per cell: [endpoint, who, visibility, expected answer, role].
const CASES = MATRIX.flatMap(([endpoint, role, inPublic, inPrivate]) => [
  [endpoint, WHO[role], 'public', inPublic, role] as const,
  [endpoint, WHO[role], 'private', inPrivate, role] as const,
])

describe('the access matrix', () => {
  it.each(CASES)('%s by %s of a %s room answers %s', async (endpoint, _, visibility, expected, role) => {
    const room = await makeRoom(visibility)
    expect(await outcome(await callEndpoint(endpoint, room.id, USER[role]))).toBe(expected)
  })
})

describe('a private room, to a non-member', () => {
  it('does not betray its name: a public room of the same name can be created', async () => {
    const hidden = await makeRoom('private')
    const response = await api(STRANGER, 'POST', '/rooms', { body: { name: hidden.name } })
    expect(response.status).toBe(201)
    expect(await roomIdsSeenBy(OWNER)).toContain(hidden.id)
  })

  it('is left out of GET /rooms: neither its id nor its name appears', async () => {
    const hidden = await makeRoom('private')
    const open = await makeRoom('public')
    const response = await api(STRANGER, 'GET', '/rooms')
    expect(response.status).toBe(200)
    const text = await response.text()
    const ids = (JSON.parse(text) as { rooms: RoomView[] }).rooms.map((room) => room.id)
    expect(ids).toContain(open.id)
    expect(ids).not.toContain(hidden.id)
    expect(text).not.toContain(hidden.name)
    for (const user of [OWNER, MEMBER, ADMIN]) expect(await roomIdsSeenBy(user)).toContain(hidden.id)
  })

  it.each(Object.keys(ENDPOINTS) as EndpointName[])(
    '%s answers exactly as for a room that does not exist, and changes nothing',
    async (endpoint) => {
      const hidden = await makeRoom('private')
      const answer = async (roomId: number) => {
        const response = await callEndpoint(endpoint, roomId, STRANGER)
        const body = (await response.json()) as { error: { code: string; message: string } }
        return { response, body, message: body.error.message.replace(String(roomId), ':id') }
      }
      const forHidden = await answer(hidden.id)
      const forMissing = await answer(MISSING_ROOM)
      expect(forHidden.body).toEqual({ error: { code: 'room_not_found', message: expect.any(String) } })
      expect(forMissing.body.error.code).toBe('room_not_found')
      expect([forHidden.response.status, forMissing.response.status]).toEqual([404, 404])
      expect(forHidden.message).toBe(forMissing.message)
      expect(forHidden.body.error.message).not.toContain(hidden.name)
      expect(forHidden.response.headers.get('content-type')).toBe(
        forMissing.response.headers.get('content-type'),
      )
      expect(await memberIds(hidden.id)).toEqual([OWNER, MEMBER, OTHER_MEMBER])
      expect(await messageCount(hidden.id)).toBe(0)
    },
  )

  it('refuses the stream as JSON before it starts, with the token in the query too', async () => {
    const hidden = await makeRoom('private')
    const token = await tokenFor(STRANGER)
    const response = await fetch(`${a.url}/rooms/${hidden.id}/stream?access_token=${token}&last_event_id=0`)
    expect(response.status).toBe(404)
    expect(response.headers.get('content-type')).toMatch(/^application\/json/)
    expect(await errorCode(response)).toBe('room_not_found')
    expect(a.hub.subscriberCount(hidden.id)).toBe(0)
  })
})

describe('a row inserted with SQL into a private room', () => {
  it('reaches its members’ streams and nobody else’s', async () => {
    const room = await makeRoom('private')
    const elsewhere = await makeRoom('private', { owner: 'otto', members: [] })
    const member = subscribe(a, room.id, await tokenFor(MEMBER))
    const owner = subscribe(b, room.id, await tokenFor(OWNER))
    const outsider = subscribe(a, elsewhere.id, await tokenFor('otto'))
    await Promise.all([member.opened, owner.opened, outsider.opened])
    await until(() => a.hub.subscriberCount(room.id) === 1 && b.hub.subscriberCount(room.id) === 1)
    await until(() => a.hub.subscriberCount(elsewhere.id) === 1, 'the outsider to subscribe')
    expect(await outcome(await callEndpoint('GET /rooms/:id/stream', room.id, STRANGER))).toBe(NOT_FOUND)

    await insertWithSql(room.id, 'the secret plan')
    await insertWithSql(elsewhere.id, 'for otto only')
    await member.waitFor(1)
    await owner.waitFor(1)
    await outsider.waitFor(1)
    for (const stream of [member, owner]) {
      expect(stream.messages.map((m) => [m.room_id, m.seq, m.body])).toEqual([
        [room.id, 1, 'the secret plan'],
      ])
    }
    expect(outsider.messages.map((m) => [m.room_id, m.body])).toEqual([[elsewhere.id, 'for otto only']])
    const page = await api(STRANGER, 'GET', `/rooms/${room.id}/messages`)
    expect(await outcome(page)).toBe(NOT_FOUND)
  })
})

describe('removing a member', () => {
  it('closes the removed member’s stream of a private room on another instance with event: removed; the reconnect is 404', async () => {
    const room = await makeRoom('private')
    const stream = await openRawStream(b, room.id, MEMBER)
    expect(stream.response.status).toBe(200)
    await until(() => b.hub.subscriberCount(room.id) === 1, 'the member to subscribe on B')
    expect(
      (await api(OWNER, 'POST', `/rooms/${room.id}/messages`, { body: { body: 'before' } })).status,
    ).toBe(201)
    await until(() => stream.text.includes('id: 1\nevent: message'), 'the first message on B')

    expect((await api(OWNER, 'DELETE', `/rooms/${room.id}/members/${MEMBER}`)).status).toBe(204)
    await until(() => stream.ended, 'the stream on B to end', 3_000)
    expect(stream.text.endsWith(removedFrame(room.id))).toBe(true)
    expect(accessEvents(stream.text)).toEqual(['message', 'removed'])
    await until(() => b.hub.subscriberCount(room.id) === 0, 'B to forget the stream', 3_000)

    expect(await outcome(await callEndpoint('GET /rooms/:id/stream', room.id, MEMBER, b))).toBe(NOT_FOUND)
    const again = await api(MEMBER, 'GET', `/rooms/${room.id}/stream`, {
      on: b,
      headers: { 'last-event-id': '1' },
    })
    expect(await outcome(again)).toBe(NOT_FOUND)
    expect(await roomIdsSeenBy(MEMBER)).not.toContain(room.id)
  })

  it('closes the stream the same way when the row is deleted with SQL, on every instance, and only theirs', async () => {
    const room = await makeRoom('private')
    const onA = await openRawStream(a, room.id, MEMBER)
    const onB = await openRawStream(b, room.id, MEMBER)
    const owner = await openRawStream(b, room.id, OWNER)
    await until(() => a.hub.subscriberCount(room.id) === 1 && b.hub.subscriberCount(room.id) === 2)

    await database.sql`delete from room_members where room_id = ${room.id} and user_id = ${MEMBER}`
    await until(() => onA.ended && onB.ended, 'both of the member’s streams to end', 3_000)
    expect([onA.text, onB.text].map((text) => text.endsWith(removedFrame(room.id)))).toEqual([true, true])
    await until(() => a.hub.subscriberCount(room.id) === 0 && b.hub.subscriberCount(room.id) === 1)

    await insertWithSql(room.id, 'after the removal')
    await until(() => owner.text.includes('after the removal'), 'the owner’s stream to go on')
    expect(owner.ended).toBe(false)
    expect(accessEvents(owner.text)).toEqual(['message'])
    expect(await outcome(await callEndpoint('GET /rooms/:id', room.id, MEMBER))).toBe(NOT_FOUND)
  })

  it('closes a leaving member’s stream of a private room and hides the room from them', async () => {
    const room = await makeRoom('private')
    const stream = await openRawStream(b, room.id, MEMBER)
    await until(() => b.hub.subscriberCount(room.id) === 1, 'the member to subscribe')
    expect((await api(MEMBER, 'DELETE', `/rooms/${room.id}/members/${MEMBER}`)).status).toBe(204)
    await until(() => stream.ended, 'the stream to end', 3_000)
    expect(stream.text.endsWith(removedFrame(room.id))).toBe(true)
    expect(await memberIds(room.id)).toEqual([OWNER, OTHER_MEMBER])
    expect(await roomIdsSeenBy(MEMBER)).not.toContain(room.id)
  })

  it('does not close their stream of a public room, which they may still read', async () => {
    const open = await makeRoom('public')
    const closed = await makeRoom('private')
    const kept = await openRawStream(b, open.id, MEMBER)
    const ended = await openRawStream(b, closed.id, MEMBER)
    await until(() => b.hub.subscriberCount(open.id) === 1 && b.hub.subscriberCount(closed.id) === 1)

    expect((await api(OWNER, 'DELETE', `/rooms/${open.id}/members/${MEMBER}`)).status).toBe(204)
    expect((await api(OWNER, 'DELETE', `/rooms/${closed.id}/members/${MEMBER}`)).status).toBe(204)
    // Notified in commit order: B got the earlier removal before it acted on the later one.
    await until(() => ended.ended, 'the private room’s stream to end', 3_000)
    expect(
      (await api(OWNER, 'POST', `/rooms/${open.id}/messages`, { body: { body: 'still here' } })).status,
    ).toBe(201)
    await until(() => kept.text.includes('still here'), 'the public room’s message')
    expect(kept.ended).toBe(false)
    expect(accessEvents(kept.text)).toEqual(['message'])
    expect(b.hub.subscriberCount(open.id)).toBe(1)
    expect(await memberIds(open.id)).toEqual([OWNER, OTHER_MEMBER])
  })

  it('does not close an admin’s stream of a private room when the admin stops being a member', async () => {
    const room = await makeRoom('private', { members: [MEMBER, ADMIN] })
    const admin = await openRawStream(b, room.id, ADMIN)
    const member = await openRawStream(b, room.id, MEMBER)
    await until(() => b.hub.subscriberCount(room.id) === 2, 'both to subscribe')

    await database.sql`delete from room_members where room_id = ${room.id} and user_id = ${ADMIN}`
    await database.sql`delete from room_members where room_id = ${room.id} and user_id = ${MEMBER}`
    // Notified in commit order: B got the earlier removal before it acted on the later one.
    await until(() => member.ended, 'the member’s stream to end', 3_000)
    await insertWithSql(room.id, 'admins still see this')
    await until(() => admin.text.includes('admins still see this'), 'the message on the admin’s stream')
    expect(admin.ended).toBe(false)
    expect(accessEvents(admin.text)).toEqual(['message'])
  })
})

describe('an admin', () => {
  it('may read, post to, stream and manage a private room it is not a member of', async () => {
    const room = await makeRoom('private')
    const token = await tokenFor(ADMIN)
    const stream = subscribe(a, room.id, token)
    await stream.opened
    await until(() => a.hub.subscriberCount(room.id) === 1, 'the admin to subscribe')

    const posted = await api(ADMIN, 'POST', `/rooms/${room.id}/messages`, {
      body: { body: 'from the admin' },
    })
    expect(posted.status).toBe(201)
    const message = (await posted.json()) as MessageView
    await stream.waitFor(1)
    expect(stream.messages).toEqual([message])
    const page = await api(ADMIN, 'GET', `/rooms/${room.id}/messages`)
    expect(((await page.json()) as { messages: MessageView[] }).messages).toEqual([message])

    const added = await api(ADMIN, 'POST', `/rooms/${room.id}/members`, {
      body: { user_id: 'nina', role: 'owner' },
    })
    expect(added.status).toBe(201)
    expect(await outcome(await api('nina', 'GET', `/rooms/${room.id}`))).toBe('200')
    expect((await api(ADMIN, 'DELETE', `/rooms/${room.id}/members/${MEMBER}`)).status).toBe(204)
    expect(await memberIds(room.id)).toEqual([OWNER, OTHER_MEMBER, 'nina'])
    expect(await roomIdsSeenBy(ADMIN)).toContain(room.id)
  })

  it.each([
    ['a space-separated string "admin other"', 'admin other', 'an admin'],
    ['the string "other admin"', 'other admin', 'an admin'],
    ['an array ["admin"]', ['admin'], 'an admin'],
    ['the string "administrator"', 'administrator', 'no admin'],
    ['an array ["user", "moderator"]', ['user', 'moderator'], 'no admin'],
    ['absent', undefined, 'no admin'],
  ])('with a roles claim of %s, the caller is %s', async (_, roles, verdict) => {
    const isAdmin = verdict === 'an admin'
    const room = await makeRoom('private')
    const token = await signTestToken({ sub: 'sam', ...(roles === undefined ? {} : { roles }) })
    const call = (method: string, path: string, body?: unknown) => api('sam', method, path, { token, body })
    const expected = isAdmin ? ['200', '200', '201', '204'] : [NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND]
    expect([
      await outcome(await call('GET', `/rooms/${room.id}`)),
      await outcome(await call('GET', `/rooms/${room.id}/stream`)),
      await outcome(await call('POST', `/rooms/${room.id}/members`, { user_id: 'newcomer' })),
      await outcome(await call('DELETE', `/rooms/${room.id}/members/${OTHER_MEMBER}`)),
    ]).toEqual(expected)
    expect((await roomIdsSeenBy('sam', token)).includes(room.id)).toBe(isAdmin)
  })
})
