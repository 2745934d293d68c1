import type { AuditEntry } from '../../src/wire.js'
import { afterEach, describe, expect, it } from 'vitest'
import { useTestServer } from '../support/fixtures.js'
import { MEMBER, MODERATOR, moderationFixtures, OWNER, verdict } from '../support/moderation.js'
import { openStream, type StreamClient } from '../support/sse.js'
import { tokenFor } from '../support/room-access.js'
import { until } from '../support/wait.js'

// The audit log (sql/moderation.sql's triggers, GET /rooms/:id/audit), deleting a user's
// messages in bulk, and how long moderation's rows are kept (src/chat/retention.ts).

const DAY = 86_400_000
const { server, database } = useTestServer({
  env: {
    RATE_LIMIT_MODERATION: '10000',
    RATE_LIMIT_MESSAGES: '0',
    RETENTION_MS: String(30 * DAY),
    RETENTION_SWEEP_MS: String(DAY),
  },
})
const { call, makeRoom, post, auditLines } = moderationFixtures({
  database: () => database,
  server: () => server,
})

/** The role the tests' SQL runs as (postgres on the machine's server, parley on the embedded one): a psql action's actor. */
async function databaseRole(): Promise<string> {
  const [row] = (await database.sql`select current_user as role`) as unknown as [{ role: string }]
  return row.role
}

const clients: StreamClient[] = []
afterEach(() => {
  for (const client of clients.splice(0)) client.close()
})

/** Inserts `count` messages of `user` with one statement, as psql would. */
const insertMessages = (roomId: number, user: string, count: number) =>
  database.sql`insert into messages (room_id, user_id, user_name, body)
    select ${roomId}, ${user}, ${user}, 'message ' || n from generate_series(1, ${count}) n`

describe('the audit log', () => {
  it('records every moderation action with who, whom and why, the newest first', async () => {
    const room = await makeRoom('public')
    const theirs = await post(room.id, 'rude', MEMBER)
    const filed = await call(MODERATOR, 'POST', `/rooms/${room.id}/messages/${theirs.seq}/reports`, {
      reason: 'rude',
    })
    const reportId = ((await filed.json()) as { id: number }).id
    const steps: [string, string, unknown?][] = [
      ['PUT', `/rooms/${room.id}/moderators/mods2`],
      ['DELETE', `/rooms/${room.id}/moderators/mods2`],
      ['PUT', `/rooms/${room.id}/bans/troll`, { reason: 'spam', duration_seconds: 60 }],
      ['DELETE', `/rooms/${room.id}/bans/troll`],
      ['PUT', `/rooms/${room.id}/mutes/${MEMBER}`, { reason: 'shouting' }],
      ['DELETE', `/rooms/${room.id}/mutes/${MEMBER}`],
      ['PUT', `/rooms/${room.id}/slow-mode`, { seconds: 10 }],
      ['DELETE', `/rooms/${room.id}/messages/${theirs.seq}`],
      ['POST', `/rooms/${room.id}/reports/${reportId}/resolve`, { resolution: 'actioned' }],
    ]
    for (const [method, path, body] of steps) {
      expect(`${method} ${path} ${await verdict(await call(OWNER, method, path, body))}`).toMatch(/ 20[014]$/)
    }
    // The owner's own message, deleted by the owner, is no moderation action.
    const mine = await post(room.id, 'oops', OWNER)
    await call(OWNER, 'DELETE', `/rooms/${room.id}/messages/${mine.seq}`)

    const response = await call(MODERATOR, 'GET', `/rooms/${room.id}/audit`)
    const { entries } = (await response.json()) as { entries: AuditEntry[] }
    const role = await databaseRole()
    expect(
      entries.reverse().map((entry) => [entry.action, entry.actor_id, entry.target_id, entry.reason]),
    ).toEqual([
      // The room was made with SQL: its moderator's appointment is the database role's.
      ['appoint', role, MODERATOR, null],
      ['appoint', OWNER, 'mods2', null],
      ['dismiss', OWNER, 'mods2', null],
      ['ban', OWNER, 'troll', 'spam'],
      ['unban', OWNER, 'troll', null],
      ['mute', OWNER, MEMBER, 'shouting'],
      ['unmute', OWNER, MEMBER, null],
      ['slow_mode', OWNER, null, null],
      ['message_deleted', OWNER, MEMBER, null],
      ['report_resolved', OWNER, MEMBER, 'actioned'],
    ])
    const ban = entries.find((entry) => entry.action === 'ban')!
    expect(Date.parse(ban.until!) - Date.parse(ban.created_at)).toBeGreaterThanOrEqual(59_000)
    expect(entries.find((entry) => entry.action === 'slow_mode')!.seconds).toBe(10)
    expect(entries.find((entry) => entry.action === 'message_deleted')!.seqs).toEqual([theirs.seq])
    expect(entries.find((entry) => entry.action === 'report_resolved')!.report_id).toBe(reportId)
  })

  it('is paged, the newest first', async () => {
    const room = await makeRoom('public')
    for (const seconds of [1, 2, 3, 4]) await call(OWNER, 'PUT', `/rooms/${room.id}/slow-mode`, { seconds })
    const read = async (cursor?: string) =>
      (await (
        await call(OWNER, 'GET', `/rooms/${room.id}/audit?limit=3${cursor ? `&cursor=${cursor}` : ''}`)
      ).json()) as { entries: AuditEntry[]; next_cursor: string | null }
    const first = await read()
    const second = await read(first.next_cursor!)
    expect([...first.entries, ...second.entries].map((entry) => entry.seconds ?? entry.action)).toEqual([
      4,
      3,
      2,
      1,
      'appoint',
    ])
    expect(second.next_cursor).toBeNull()
  })
})

describe("deleting a user's messages", () => {
  it('deletes up to 1000 a call, each a numbered live delete, and says when more are left', async () => {
    const room = await makeRoom('public', { members: ['spammer'] })
    await insertMessages(room.id, 'spammer', 1005)
    await post(room.id, 'innocent', MEMBER)
    const stream = openStream(server.url, room.id, { token: await tokenFor('watcher'), reconnect: false })
    clients.push(stream)
    await stream.opened
    await until(() => server.hub.subscriberCount(room.id) === 1, 'the watcher to join')

    const first = await call(MODERATOR, 'DELETE', `/rooms/${room.id}/users/spammer/messages`)
    const firstBody = (await first.json()) as { deleted: number[]; has_more: boolean }
    expect([
      firstBody.deleted.length,
      firstBody.deleted[0],
      firstBody.deleted.at(-1),
      firstBody.has_more,
    ]).toEqual([1000, 1, 1000, true])
    const second = (await (
      await call(MODERATOR, 'DELETE', `/rooms/${room.id}/users/spammer/messages`)
    ).json()) as {
      deleted: number[]
      has_more: boolean
    }
    expect(second).toEqual({ deleted: [1001, 1002, 1003, 1004, 1005], has_more: false })

    await until(() => stream.changes.length === 1005, 'every delete to arrive', 15_000)
    expect(stream.changes.map((change) => change.type)).toEqual(Array(1005).fill('delete'))
    expect(stream.changes.map((change) => Number(change.id))).toEqual(
      Array.from({ length: 1005 }, (_, i) => 1007 + i),
    )
    const [{ live }] = await database.sql<[{ live: number }]>`
      select count(*)::int as live from messages where room_id = ${room.id} and deleted_at is null`
    expect(live).toBe(1)
    const entries = await database.sql<{ n: number }[]>`
      select cardinality(seqs) as n from moderation_log where room_id = ${room.id} and action = 'message_deleted' order by id`
    expect(entries.map((entry) => entry.n)).toEqual([1000, 5])
    // A resumed stream gets the same deletes again.
    const resumed = openStream(server.url, room.id, {
      token: await tokenFor('watcher'),
      lastEventId: 1006,
      reconnect: false,
    })
    clients.push(resumed)
    await until(() => resumed.changes.length === 1005, 'the replay', 15_000)
    expect(resumed.changes.map((change) => change.id)).toEqual(stream.changes.map((change) => change.id))
  })
})

describe("moderation's retention", () => {
  it('deletes audit entries and resolved reports past the window, ended bans and stale slots, and keeps open reports', async () => {
    const room = await makeRoom('public', { slowModeSeconds: 5 })
    const message = await post(room.id, 'reported', MEMBER)
    await database.sql`insert into room_reports (room_id, seq, author_id, body, reporter_id, reason, resolved_at, resolved_by, resolution)
      values (${room.id}, ${message.seq}, ${MEMBER}, 'reported', 'old', 'x', now() - interval '31 days', ${OWNER}, 'dismissed'),
             (${room.id}, ${message.seq}, ${MEMBER}, 'reported', 'new', 'x', now() - interval '29 days', ${OWNER}, 'dismissed'),
             (${room.id}, ${message.seq}, ${MEMBER}, 'reported', 'open', 'x', null, null, null)`
    await database.sql`update room_reports set created_at = now() - interval '60 days' where room_id = ${room.id}`
    await database.sql`insert into room_bans (room_id, user_id, until) values
      (${room.id}, 'ended', now() - interval '1 second'), (${room.id}, 'forever', null)`
    await database.sql`update moderation_log set created_at = now() - interval '31 days'
      where room_id = ${room.id} and action = 'appoint'`
    await database.sql`update room_post_marks set posted_at = now() - interval '2 days' where room_id = ${room.id}`

    const counts = await server.retention.sweep()
    expect(counts).toMatchObject({ auditEntries: 1, reports: 1, restrictions: 1, postMarks: 1 })
    const reports =
      await database.sql`select reporter_id from room_reports where room_id = ${room.id} order by id`
    expect(reports.map((row) => row.reporter_id)).toEqual(['new', 'open'])
    const bans = await database.sql`select user_id from room_bans where room_id = ${room.id}`
    expect(bans.map((row) => row.user_id)).toEqual(['forever'])
    // Deleting a ban that had ended is nobody's action.
    const role = await databaseRole()
    expect(await auditLines(room.id)).toEqual([`ban ended by ${role}`, `ban forever by ${role}`])
  })
})
