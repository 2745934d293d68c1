import type { Room } from '../../src/wire.js'
import { describe, expect, it } from 'vitest'
import { useTestServer } from '../support/fixtures.js'
import { MEMBER, MODERATOR, moderationFixtures, OWNER, verdict } from '../support/moderation.js'
import { range } from '../support/range.js'

// Slow mode (parley_pace_posts in sql/moderation.sql, asked in posting's batch statement):
// one post per user per interval, decided in the database under the slot's row lock, so a
// burst over two instances is admitted exactly once; owners, moderators and admins are
// exempt. The posting limit is lifted here so that only slow mode refuses.

const { servers, database } = useTestServer({
  instances: 2,
  env: { RATE_LIMIT_MESSAGES: '0', RATE_LIMIT_MODERATION: '10000' },
})
const [a, b] = servers
const { call, makeRoom } = moderationFixtures({ database: () => database, server: () => a })

/** `count` posts of `user` at once, alternating between the instances; their statuses, counted. */
async function burst(roomId: number, user: string, count: number) {
  const responses = await Promise.all(
    range(0, count - 1).map((i) =>
      call(user, 'POST', `/rooms/${roomId}/messages`, { body: `burst ${i}` }, i % 2 ? b : a),
    ),
  )
  const statuses: Record<number, number> = {}
  for (const response of responses) statuses[response.status] = (statuses[response.status] ?? 0) + 1
  return { statuses, responses }
}

describe('slow mode', () => {
  it('is set by a moderator, shown on the room and audited', async () => {
    const room = await makeRoom('public')
    const response = await call(MODERATOR, 'PUT', `/rooms/${room.id}/slow-mode`, { seconds: 30 })
    expect(((await response.json()) as Room).slow_mode_seconds).toBe(30)
    expect(((await (await call(MEMBER, 'GET', `/rooms/${room.id}`)).json()) as Room).slow_mode_seconds).toBe(
      30,
    )
    const [entry] = await database.sql`
      select actor_id, seconds from moderation_log where room_id = ${room.id} and action = 'slow_mode'`
    expect(entry).toEqual({ actor_id: MODERATOR, seconds: 30 })
  })

  it('admits exactly one of 100 parallel posts over two instances, and says when to try again', async () => {
    const room = await makeRoom('public', { slowModeSeconds: 3600 })
    const { statuses, responses } = await burst(room.id, MEMBER, 100)
    expect(statuses).toEqual({ 201: 1, 429: 99 })
    const refused = responses.find((response) => response.status === 429)!
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(3500)
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('slow_mode')
    const [{ n }] = await database.sql<[{ n: number }]>`
      select count(*)::int as n from messages where room_id = ${room.id}`
    expect(n).toBe(1)
  })

  it('admits one post per interval, each user on their own', async () => {
    const room = await makeRoom('public', { slowModeSeconds: 1, members: [MEMBER, 'mo'] })
    const first = await burst(room.id, MEMBER, 20)
    const other = await burst(room.id, 'mo', 20)
    expect([first.statuses, other.statuses]).toEqual([
      { 201: 1, 429: 19 },
      { 201: 1, 429: 19 },
    ])
    // The slot is free again one second after the admitted post, not before.
    await database.sql`update room_post_marks set posted_at = posted_at - interval '1 second'
      where room_id = ${room.id} and user_id = ${MEMBER}`
    expect((await burst(room.id, MEMBER, 20)).statuses).toEqual({ 201: 1, 429: 19 })
  })

  it('exempts owners, moderators and admins, and gives a refused post its slot back', async () => {
    const room = await makeRoom('public', { slowModeSeconds: 3600 })
    for (const user of [OWNER, MODERATOR, 'ada']) {
      expect(`${user} ${JSON.stringify((await burst(room.id, user, 5)).statuses)}`).toBe(`${user} {"201":5}`)
    }
    // A reply to nothing fails, and takes no slot.
    expect(
      await verdict(await call(MEMBER, 'POST', `/rooms/${room.id}/messages`, { body: 'x', reply_to: 999 })),
    ).toBe('404 message_not_found')
    expect(await verdict(await call(MEMBER, 'POST', `/rooms/${room.id}/messages`, { body: 'first' }))).toBe(
      '201',
    )
  })

  it('turned off, lets everyone post again at once', async () => {
    const room = await makeRoom('public', { slowModeSeconds: 3600 })
    expect((await burst(room.id, MEMBER, 3)).statuses).toEqual({ 201: 1, 429: 2 })
    await call(OWNER, 'PUT', `/rooms/${room.id}/slow-mode`, { seconds: 0 })
    expect((await burst(room.id, MEMBER, 3)).statuses).toEqual({ 201: 3 })
  })
})
