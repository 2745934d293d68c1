import { describe, expect, it } from 'vitest'
import { useTestServer } from '../support/fixtures.js'
import { ADMIN, MEMBER, MODERATOR, moderationFixtures, OWNER, verdict } from '../support/moderation.js'
import { STRANGER } from '../support/room-access.js'

// Who may call which moderation route, as status and error codes: a stranger to a private
// room and anyone banned from a room get the 404 of a room that does not exist, readers who
// do not moderate get 403, moderators, owners and admins are served; appointing and
// dismissing moderators takes an owner or an admin.

const { server, database } = useTestServer({ env: { RATE_LIMIT_MODERATION: '10000' } })
const { call, makeRoom } = moderationFixtures({ database: () => database, server: () => server })

const BANNED = 'bart'
/** Banned and muted in every room of the matrix, so lifting has something to lift. */
const ALREADY_BANNED = 'betty'
const ALREADY_MUTED = 'mutt'

interface Endpoint {
  method: string
  path: (roomId: number, reportId: number) => string
  body?: unknown
}

const ENDPOINTS = {
  'PUT moderators/:user_id': { method: 'PUT', path: (id) => `/rooms/${id}/moderators/newmod` },
  'DELETE moderators/:user_id': { method: 'DELETE', path: (id) => `/rooms/${id}/moderators/${MODERATOR}` },
  'PUT bans/:user_id': {
    method: 'PUT',
    path: (id) => `/rooms/${id}/bans/troll`,
    body: { reason: 'spam', duration_seconds: 60 },
  },
  'DELETE bans/:user_id': { method: 'DELETE', path: (id) => `/rooms/${id}/bans/${ALREADY_BANNED}` },
  'GET bans': { method: 'GET', path: (id) => `/rooms/${id}/bans` },
  'PUT mutes/:user_id': { method: 'PUT', path: (id) => `/rooms/${id}/mutes/troll`, body: {} },
  'DELETE mutes/:user_id': { method: 'DELETE', path: (id) => `/rooms/${id}/mutes/${ALREADY_MUTED}` },
  'GET mutes': { method: 'GET', path: (id) => `/rooms/${id}/mutes` },
  'PUT slow-mode': { method: 'PUT', path: (id) => `/rooms/${id}/slow-mode`, body: { seconds: 5 } },
  "DELETE a user's messages": { method: 'DELETE', path: (id) => `/rooms/${id}/users/${MEMBER}/messages` },
  "DELETE another's message": { method: 'DELETE', path: (id) => `/rooms/${id}/messages/1` },
  'POST a report': {
    method: 'POST',
    path: (id) => `/rooms/${id}/messages/1/reports`,
    body: { reason: 'rude' },
  },
  'GET reports': { method: 'GET', path: (id) => `/rooms/${id}/reports` },
  'POST resolve': {
    method: 'POST',
    path: (id, reportId) => `/rooms/${id}/reports/${reportId}/resolve`,
    body: { resolution: 'dismissed' },
  },
  'GET audit': { method: 'GET', path: (id) => `/rooms/${id}/audit` },
} satisfies Record<string, Endpoint>

type Caller = 'stranger' | 'member' | 'moderator' | 'owner' | 'admin' | 'banned'
const USER: Record<Caller, string> = {
  stranger: STRANGER,
  member: MEMBER,
  moderator: MODERATOR,
  owner: OWNER,
  admin: ADMIN,
  banned: BANNED,
}

const F = '403 forbidden'
const N = '404 room_not_found'

// [endpoint, stranger (public, private), member, moderator, owner, admin]; anyone banned gets N.
const MATRIX: [keyof typeof ENDPOINTS, [string, string], string, string, string, string][] = [
  ['PUT moderators/:user_id', [F, N], F, F, '201', '201'],
  ['DELETE moderators/:user_id', [F, N], F, F, '204', '204'],
  ['PUT bans/:user_id', [F, N], F, '201', '201', '201'],
  ['DELETE bans/:user_id', [F, N], F, '204', '204', '204'],
  ['GET bans', [F, N], F, '200', '200', '200'],
  ['PUT mutes/:user_id', [F, N], F, '201', '201', '201'],
  ['DELETE mutes/:user_id', [F, N], F, '204', '204', '204'],
  ['GET mutes', [F, N], F, '200', '200', '200'],
  ['PUT slow-mode', [F, N], F, '200', '200', '200'],
  ["DELETE a user's messages", [F, N], F, '200', '200', '200'],
  ["DELETE another's message", [F, N], F, '204', '204', '204'],
  ['POST a report', ['201', N], '201', '201', '201', '201'],
  ['GET reports', [F, N], F, '200', '200', '200'],
  ['POST resolve', [F, N], F, '200', '200', '200'],
  ['GET audit', [F, N], F, '200', '200', '200'],
]

const CASES = MATRIX.flatMap(([endpoint, [inPublic, inPrivate], member, moderator, owner, admin]) =>
  (['public', 'private'] as const).flatMap((visibility) => {
    const expected: Record<Caller, string> = {
      stranger: visibility === 'public' ? inPublic : inPrivate,
      member,
      moderator,
      owner,
      admin,
      banned: N,
    }
    return (Object.keys(expected) as Caller[]).map(
      (caller) => [endpoint, caller, visibility, expected[caller]] as const,
    )
  }),
)

/** A room of the matrix: a message of someone else's (seq 1) reported once, someone banned and someone muted. */
async function matrixRoom(visibility: 'public' | 'private') {
  const room = await makeRoom(visibility)
  const sql = database.sql
  await sql`insert into messages (room_id, user_id, user_name, body) values (${room.id}, 'ann', 'Ann', 'hello')`
  const [report] = await sql<{ id: string }[]>`
    insert into room_reports (room_id, seq, author_id, body, reporter_id, reason)
    values (${room.id}, 1, 'ann', 'hello', 'someone', 'rude') returning id`
  await sql`insert into room_bans (room_id, user_id, created_by) values
    (${room.id}, ${BANNED}, ${OWNER}), (${room.id}, ${ALREADY_BANNED}, ${OWNER})`
  await sql`insert into room_mutes (room_id, user_id, created_by) values (${room.id}, ${ALREADY_MUTED}, ${OWNER})`
  return { roomId: room.id, reportId: Number(report!.id) }
}

describe('the moderation access matrix', () => {
  it.each(CASES)('%s by the %s of a %s room answers %s', async (endpoint, caller, visibility, expected) => {
    const { roomId, reportId } = await matrixRoom(visibility)
    const { method, path, body } = ENDPOINTS[endpoint] as Endpoint
    expect(await verdict(await call(USER[caller], method, path(roomId, reportId), body))).toBe(expected)
  })
})

describe('who a moderator may act on', () => {
  it.each([
    ['bans', 'an owner', OWNER, MODERATOR, '403 forbidden'],
    ['bans', 'another moderator', 'other-mod', MODERATOR, '403 forbidden'],
    ['bans', 'themselves', MODERATOR, MODERATOR, '403 forbidden'],
    ['bans', 'a moderator, as the owner', 'other-mod', OWNER, '201'],
    ['bans', 'a moderator, as an admin', 'other-mod', ADMIN, '201'],
    ['mutes', 'an owner', OWNER, MODERATOR, '403 forbidden'],
    ['mutes', 'another moderator', 'other-mod', MODERATOR, '403 forbidden'],
    ['mutes', 'a moderator, as the owner', 'other-mod', OWNER, '201'],
  ])('%s %s: %s', async (what, _, target, caller, expected) => {
    const room = await makeRoom('public')
    await database.sql`insert into room_members (room_id, user_id, role) values (${room.id}, 'other-mod', 'moderator')`
    expect(await verdict(await call(caller, 'PUT', `/rooms/${room.id}/${what}/${target}`, {}))).toBe(expected)
  })

  it('may not make an owner a moderator, nor ban anyone in a direct message', async () => {
    const room = await makeRoom('public')
    expect(await verdict(await call(ADMIN, 'PUT', `/rooms/${room.id}/moderators/${OWNER}`))).toBe(F)
    const dm = await call(MEMBER, 'POST', '/dms', { user_id: 'dora' })
    const { id } = (await dm.json()) as { id: number }
    expect(await verdict(await call(ADMIN, 'PUT', `/rooms/${id}/bans/dora`, {}))).toBe(F)
    expect(await verdict(await call(ADMIN, 'PUT', `/rooms/${id}/slow-mode`, { seconds: 5 }))).toBe(F)
  })

  it('answers a missing ban, mute, moderator or report with its own 404', async () => {
    const room = await makeRoom('public')
    expect(
      await Promise.all([
        call(OWNER, 'DELETE', `/rooms/${room.id}/bans/nobody`).then(verdict),
        call(OWNER, 'DELETE', `/rooms/${room.id}/mutes/nobody`).then(verdict),
        call(OWNER, 'DELETE', `/rooms/${room.id}/moderators/${MEMBER}`).then(verdict),
        call(OWNER, 'POST', `/rooms/${room.id}/reports/99999/resolve`, { resolution: 'dismissed' }).then(
          verdict,
        ),
        call(OWNER, 'POST', `/rooms/${room.id}/messages/99/reports`, { reason: 'x' }).then(verdict),
      ]),
    ).toEqual([
      '404 ban_not_found',
      '404 mute_not_found',
      '404 member_not_found',
      '404 report_not_found',
      '404 message_not_found',
    ])
  })

  it('refuses bad input with 400', async () => {
    const room = await makeRoom('public')
    expect(
      await Promise.all([
        call(OWNER, 'PUT', `/rooms/${room.id}/bans/x`, { duration_seconds: 0 }).then(verdict),
        call(OWNER, 'PUT', `/rooms/${room.id}/bans/x`, { reason: 'a'.repeat(501) }).then(verdict),
        call(OWNER, 'PUT', `/rooms/${room.id}/slow-mode`, { seconds: 21_601 }).then(verdict),
        call(OWNER, 'PUT', `/rooms/${room.id}/slow-mode`, {}).then(verdict),
        call(OWNER, 'DELETE', `/rooms/${room.id}/users/x/messages?limit=1001`).then(verdict),
        call(OWNER, 'POST', `/rooms/${room.id}/messages/1/reports`, { reason: ' ' }).then(verdict),
        call(OWNER, 'POST', `/rooms/${room.id}/reports/1/resolve`, { resolution: 'maybe' }).then(verdict),
        call(OWNER, 'GET', `/rooms/${room.id}/bans?cursor=nonsense`).then(verdict),
        call(OWNER, 'GET', `/rooms/${room.id}/audit?cursor=-1`).then(verdict),
      ]),
    ).toEqual(Array(9).fill('400 validation_failed'))
  })
})
