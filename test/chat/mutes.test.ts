import type { Message, Restriction } from '../../src/wire.js'
import { describe, expect, it } from 'vitest'
import { useTestServer } from '../support/fixtures.js'
import { MEMBER, MODERATOR, moderationFixtures, OWNER, verdict } from '../support/moderation.js'
import { until } from '../support/wait.js'

// A mute (src/chat/restrictions.ts, parley_mute_of in sql/moderation.sql): the muted user
// reads, but may not post, reply, edit or react until it ends; each attempt is a 403
// `muted` that says when. The posting limit is lifted, so that only the mute refuses.

const { server, database } = useTestServer({
  env: { RATE_LIMIT_MODERATION: '10000', RATE_LIMIT_MESSAGES: '0' },
})
const { call, makeRoom, post } = moderationFixtures({ database: () => database, server: () => server })

const mute = (roomId: number, userId: string, body: object = {}) =>
  call(MODERATOR, 'PUT', `/rooms/${roomId}/mutes/${userId}`, body)

async function errorOf(response: Response) {
  return { status: response.status, body: (await response.json()) as unknown }
}

describe('a mute', () => {
  it('lets the user read but not post, reply, edit or react, saying until when', async () => {
    const room = await makeRoom('public')
    const own = await post(room.id, 'mine, before the mute', MEMBER)
    const response = await mute(room.id, MEMBER, { duration_seconds: 600, reason: 'cool off' })
    expect(response.status).toBe(201)
    const { until: ends } = (await response.json()) as Restriction
    const refused = {
      status: 403,
      body: { error: { code: 'muted', message: `You are muted in this room until ${ends}`, until: ends } },
    }
    const attempts = [
      call(MEMBER, 'POST', `/rooms/${room.id}/messages`, { body: 'hello?' }),
      call(MEMBER, 'POST', `/rooms/${room.id}/messages`, { body: 'a reply', reply_to: own.seq }),
      call(MEMBER, 'PATCH', `/rooms/${room.id}/messages/${own.seq}`, { body: 'edited' }),
      call(MEMBER, 'PUT', `/rooms/${room.id}/messages/${own.seq}/reactions/%F0%9F%91%8D`),
    ]
    for (const attempt of await Promise.all(attempts)) expect(await errorOf(attempt)).toEqual(refused)
    expect(await verdict(await call(MEMBER, 'GET', `/rooms/${room.id}/messages`))).toBe('200')
    expect(await verdict(await call(MEMBER, 'DELETE', `/rooms/${room.id}/messages/${own.seq}`))).toBe('204')
    const [{ n }] = await database.sql<[{ n: number }]>`
      select count(*)::int as n from messages where room_id = ${room.id}`
    expect(n).toBe(1)
  })

  it('refuses every post of a burst, posted together in one batch', async () => {
    const room = await makeRoom('public')
    await mute(room.id, MEMBER)
    const responses = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        call(MEMBER, 'POST', `/rooms/${room.id}/messages`, { body: `burst ${i}` }),
      ),
    )
    const refused = {
      status: 403,
      body: { error: { code: 'muted', message: expect.any(String), until: null } },
    }
    for (const response of responses) expect(await errorOf(response)).toEqual(refused)
  })

  it('ends by itself when its time is up, and when lifted', async () => {
    const room = await makeRoom('public')
    await mute(room.id, MEMBER, { duration_seconds: 1 })
    expect(await verdict(await call(MEMBER, 'POST', `/rooms/${room.id}/messages`, { body: 'now?' }))).toBe(
      '403 muted',
    )
    await until(
      async () => (await call(MEMBER, 'POST', `/rooms/${room.id}/messages`, { body: 'now!' })).status === 201,
      'the mute to end',
      5_000,
    )
    await mute(room.id, MEMBER)
    expect(await verdict(await call(MODERATOR, 'DELETE', `/rooms/${room.id}/mutes/${MEMBER}`))).toBe('204')
    expect(await verdict(await call(MEMBER, 'POST', `/rooms/${room.id}/messages`, { body: 'back' }))).toBe(
      '201',
    )
  })

  it('holds for a mute inserted with psql, and never for an admin', async () => {
    const room = await makeRoom('public')
    await database.sql`insert into room_mutes (room_id, user_id) values (${room.id}, ${MEMBER}), (${room.id}, 'ada')`
    expect(await verdict(await call(MEMBER, 'POST', `/rooms/${room.id}/messages`, { body: 'x' }))).toBe(
      '403 muted',
    )
    const posted = await call('ada', 'POST', `/rooms/${room.id}/messages`, { body: 'admins speak' })
    expect(((await posted.json()) as Message).body).toBe('admins speak')
    const mutes = (await (await call(OWNER, 'GET', `/rooms/${room.id}/mutes`)).json()) as {
      mutes: Restriction[]
    }
    // Made with psql: by the database role (postgres on the machine's server, parley embedded).
    const [{ role }] = (await database.sql`select current_user as role`) as unknown as [{ role: string }]
    expect(mutes.mutes.map((listed) => [listed.user_id, listed.created_by]).sort()).toEqual([
      ['ada', role],
      [MEMBER, role],
    ])
  })
})
