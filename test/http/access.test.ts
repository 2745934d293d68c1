import type { Message } from '../../src/wire.js'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import {
  accessFixtures,
  ADMIN,
  type EndpointName,
  ENDPOINTS,
  FORBIDDEN,
  MEMBER,
  NOT_FOUND,
  OTHER_MEMBER,
  outcome,
  OWNER,
  STRANGER,
  tokenFor,
} from '../support/room-access.js'
import { useTestServer } from '../support/fixtures.js'
import { errorCode, signTestToken } from '../support/server.js'
import { until } from '../support/wait.js'

// Who may call which room route, as status codes and error codes. What access means for
// the rooms and streams themselves is in test/chat/access and test/chat/members.
const { server, database } = useTestServer()
const { api, makeRoom, roomIdsSeenBy, memberIds, callEndpoint, subscribe, closeClients } = accessFixtures({
  database: () => database,
  server: () => server,
})

afterEach(closeClients)

afterAll(async () => {
  closeClients()
})

const MISSING_ROOM = 987_654_321

type Role = 'owner' | 'member' | 'non-member' | 'admin'
const USER: Record<Role, string> = { owner: OWNER, member: MEMBER, 'non-member': STRANGER, admin: ADMIN }
const WHO: Record<Role, string> = {
  owner: 'an owner',
  member: 'a member',
  'non-member': 'a non-member',
  admin: 'an admin',
}

async function messageCount(roomId: number): Promise<number> {
  const rows = await database.sql`select count(*)::int as n from messages where room_id = ${roomId}`
  return Number(rows[0]?.n)
}

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
    const response = await fetch(
      `${server.url}/rooms/${hidden.id}/stream?access_token=${token}&last_event_id=0`,
    )
    expect(response.status).toBe(404)
    expect(response.headers.get('content-type')).toMatch(/^application\/json/)
    expect(await errorCode(response)).toBe('room_not_found')
    expect(server.hub.subscriberCount(hidden.id)).toBe(0)
  })
})

describe('an admin', () => {
  it('may read, post to, stream and manage a private room it is not a member of', async () => {
    const room = await makeRoom('private')
    const token = await tokenFor(ADMIN)
    const stream = subscribe(server, room.id, token)
    await stream.opened
    await until(() => server.hub.subscriberCount(room.id) === 1, 'the admin to subscribe')

    const posted = await api(ADMIN, 'POST', `/rooms/${room.id}/messages`, {
      body: { body: 'from the admin' },
    })
    expect(posted.status).toBe(201)
    const message = (await posted.json()) as Message
    await stream.waitFor(1)
    expect(stream.messages).toEqual([message])
    const page = await api(ADMIN, 'GET', `/rooms/${room.id}/messages`)
    expect(((await page.json()) as { messages: Message[] }).messages).toEqual([message])

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
