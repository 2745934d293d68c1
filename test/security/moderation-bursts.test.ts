import { describe, expect, it } from 'vitest'
import { useTestServer } from '../support/fixtures.js'
import { MEMBER, moderationFixtures } from '../support/moderation.js'
import { range } from '../support/range.js'
import type { TestServer } from '../support/server.js'

// Every moderation write holds its per-user limit against a burst of 100 parallel requests
// split over two instances: RATE_LIMIT_MODERATION (60) for moderators' actions,
// RATE_LIMIT_REPORTS (10) for reports. The window is an hour, so no token is refilled while
// a burst is under way and the counts are exact. Each burst is by a user of its own.

const { servers, database } = useTestServer({ instances: 2, env: { RATE_LIMIT_WINDOW_MS: '3600000' } })
const { call, makeRoom } = moderationFixtures({ database: () => database, server: () => servers[0] })

let actors = 0

/** A public room and a fresh user with `role` in it. */
async function roomWith(role: 'owner' | 'moderator') {
  const room = await makeRoom('public')
  const actor = `${role}-${++actors}`
  await database.sql`insert into room_members (room_id, user_id, role) values (${room.id}, ${actor}, ${role})`
  return { roomId: room.id, actor }
}

/** 100 requests at once by `actor`, alternating between the instances; their statuses, counted. */
async function burst(actor: string, request: (i: number) => [string, string, unknown?]) {
  const responses = await Promise.all(
    range(0, 99).map((i) => {
      const [method, path, body] = request(i)
      return call(actor, method, path, body, servers[i % 2] as TestServer)
    }),
  )
  const statuses: Record<number, number> = {}
  for (const response of responses) {
    statuses[response.status] = (statuses[response.status] ?? 0) + 1
    await response.body?.cancel()
  }
  return statuses
}

/** Rows for 100 targets, inserted with SQL beforehand, so that each request has its own to act on. */
const targets = range(0, 99).map((i) => `target-${i}`)

describe('a burst of 100 moderation requests over two instances', () => {
  it('appoints exactly 60 moderators', async () => {
    const { roomId, actor } = await roomWith('owner')
    expect(await burst(actor, (i) => ['PUT', `/rooms/${roomId}/moderators/${targets[i]}`])).toEqual({
      201: 60,
      429: 40,
    })
  })

  it('dismisses exactly 60 moderators', async () => {
    const { roomId, actor } = await roomWith('owner')
    await database.sql`insert into room_members (room_id, user_id, role)
      select ${roomId}, t, 'moderator' from unnest(${targets}::text[]) t`
    expect(await burst(actor, (i) => ['DELETE', `/rooms/${roomId}/moderators/${targets[i]}`])).toEqual({
      204: 60,
      429: 40,
    })
  })

  it.each(['bans', 'mutes'])('imposes exactly 60 %s, and lifts exactly 60', async (what) => {
    const { roomId, actor } = await roomWith('moderator')
    expect(await burst(actor, (i) => ['PUT', `/rooms/${roomId}/${what}/${targets[i]}`, {}])).toEqual({
      201: 60,
      429: 40,
    })
    await database.sql`insert into ${database.sql(`room_${what}`)} (room_id, user_id)
      select ${roomId}, t from unnest(${targets}::text[]) t on conflict do nothing`
    const lifter = `lifter-${++actors}`
    await database.sql`insert into room_members (room_id, user_id, role) values (${roomId}, ${lifter}, 'moderator')`
    expect(await burst(lifter, (i) => ['DELETE', `/rooms/${roomId}/${what}/${targets[i]}`])).toEqual({
      204: 60,
      429: 40,
    })
  })

  it('sets slow mode exactly 60 times', async () => {
    const { roomId, actor } = await roomWith('moderator')
    expect(await burst(actor, (i) => ['PUT', `/rooms/${roomId}/slow-mode`, { seconds: i }])).toEqual({
      200: 60,
      429: 40,
    })
  })

  it("deletes exactly 60 users' messages", async () => {
    const { roomId, actor } = await roomWith('moderator')
    expect(await burst(actor, (i) => ['DELETE', `/rooms/${roomId}/users/${targets[i]}/messages`])).toEqual({
      200: 60,
      429: 40,
    })
  })

  it('resolves exactly 60 reports', async () => {
    const { roomId, actor } = await roomWith('moderator')
    await database.sql`insert into messages (room_id, user_id, user_name, body) values (${roomId}, ${MEMBER}, 'Mia', 'x')`
    const ids = await database.sql<{ id: string }[]>`
      insert into room_reports (room_id, seq, author_id, body, reporter_id, reason)
      select ${roomId}, 1, ${MEMBER}, 'x', t, 'rude' from unnest(${targets}::text[]) t returning id`
    expect(
      await burst(actor, (i) => [
        'POST',
        `/rooms/${roomId}/reports/${ids[i]!.id}/resolve`,
        { resolution: 'dismissed' },
      ]),
    ).toEqual({ 200: 60, 429: 40 })
  })

  it('files exactly RATE_LIMIT_REPORTS (10) reports', async () => {
    const { roomId } = await roomWith('moderator')
    await database.sql`insert into messages (room_id, user_id, user_name, body)
      select ${roomId}, ${MEMBER}, 'Mia', 'message ' || n from generate_series(1, 100) n`
    expect(
      await burst('report-burster', (i) => [
        'POST',
        `/rooms/${roomId}/messages/${i + 1}/reports`,
        { reason: 'rude' },
      ]),
    ).toEqual({ 201: 10, 429: 90 })
  })
})
