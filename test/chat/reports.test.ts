import type { Report } from '../../src/wire.js'
import { afterEach, describe, expect, it } from 'vitest'
import { useTestServer } from '../support/fixtures.js'
import {
  MEMBER,
  MODERATOR,
  moderationFixtures,
  openUserStream,
  OWNER,
  verdict,
} from '../support/moderation.js'

// Reports (src/chat/reports.ts, sql/moderation.sql): any reader reports a message, once
// while the report is open; the room's owners and moderators hear of it on their own
// stream, list the open ones and resolve them, which the audit log records.

const { server, database } = useTestServer({ env: { RATE_LIMIT_MODERATION: '10000' } })
const { call, makeRoom, post } = moderationFixtures({ database: () => database, server: () => server })

const clients: { close(): void }[] = []
afterEach(() => {
  for (const client of clients.splice(0)) client.close()
})

const report = (roomId: number, seq: number, as: string, reason = 'rude') =>
  call(as, 'POST', `/rooms/${roomId}/messages/${seq}/reports`, { reason })

describe('a report', () => {
  it('keeps the message as reported and is filed once while open', async () => {
    const room = await makeRoom('public')
    const message = await post(room.id, 'something rude', MEMBER)
    const first = await report(room.id, message.seq, 'rita')
    expect(first.status).toBe(201)
    const filed = (await first.json()) as Report
    expect(filed).toEqual({
      id: expect.any(Number),
      room_id: room.id,
      seq: message.seq,
      author_id: MEMBER,
      body: 'something rude',
      reporter_id: 'rita',
      reason: 'rude',
      created_at: expect.any(String),
      resolved_at: null,
      resolved_by: null,
      resolution: null,
      note: null,
    })
    await call(MEMBER, 'PATCH', `/rooms/${room.id}/messages/${message.seq}`, { body: 'something nice' })
    const again = await Promise.all([
      report(room.id, message.seq, 'rita'),
      report(room.id, message.seq, 'rita'),
    ])
    expect(again.map((response) => response.status)).toEqual([200, 200])
    expect(((await again[0]!.json()) as Report).id).toBe(filed.id)
    expect(await verdict(await report(room.id, message.seq, 'rex'))).toBe('201')

    await call(MEMBER, 'DELETE', `/rooms/${room.id}/messages/${message.seq}`)
    expect(await verdict(await report(room.id, message.seq, 'ruth'))).toBe('409 message_deleted')
    const listed = (await (await call(MODERATOR, 'GET', `/rooms/${room.id}/reports`)).json()) as {
      reports: Report[]
    }
    expect(listed.reports.map((open) => [open.reporter_id, open.body])).toEqual([
      ['rita', 'something rude'],
      ['rex', 'something nice'],
    ])
  })

  it("reaches each owner's and moderator's own stream, and no one else's", async () => {
    const room = await makeRoom('public')
    const message = await post(room.id, 'spam spam', MEMBER)
    const streams = [OWNER, MODERATOR, MEMBER].map((user) => openUserStream(server, user))
    clients.push(...streams)
    await Promise.all(streams.map((stream) => stream.opened))
    const filed = (await (await report(room.id, message.seq, 'rita', 'spam')).json()) as Report
    const [owner, moderator, member] = streams
    await Promise.all([owner!.waitFor('report'), moderator!.waitFor('report')])
    const expected = { room: { id: room.id, name: room.name, kind: 'room' }, report: filed }
    expect(owner!.events.map((event) => event.data)).toEqual([expected])
    expect(moderator!.events.map((event) => event.data)).toEqual([expected])
    // A later event of the member's own, then the certainty that nothing came before it.
    await call(OWNER, 'DELETE', `/rooms/${room.id}/members/${MEMBER}`)
    await member!.waitFor('removed')
    expect(member!.events.map((event) => event.type)).toEqual(['removed'])
  })

  it('is listed to moderators oldest first, a page at a time, until resolved', async () => {
    const room = await makeRoom('public')
    const message = await post(room.id, 'hmm', MEMBER)
    const ids: number[] = []
    for (const reporter of ['r1', 'r2', 'r3']) {
      ids.push(((await (await report(room.id, message.seq, reporter)).json()) as Report).id)
    }
    const page = async (cursor?: string) =>
      (await (
        await call(MODERATOR, 'GET', `/rooms/${room.id}/reports?limit=2${cursor ? `&cursor=${cursor}` : ''}`)
      ).json()) as { reports: Report[]; next_cursor: string | null }
    const first = await page()
    const second = await page(first.next_cursor!)
    expect([...first.reports, ...second.reports].map((open) => open.id)).toEqual(ids)
    expect(second.next_cursor).toBeNull()

    const resolved = await call(MODERATOR, 'POST', `/rooms/${room.id}/reports/${ids[1]}/resolve`, {
      resolution: 'actioned',
      note: 'warned them',
    })
    expect((await resolved.json()) as Report).toMatchObject({
      resolved_by: MODERATOR,
      resolution: 'actioned',
      note: 'warned them',
    })
    const twice = await call(OWNER, 'POST', `/rooms/${room.id}/reports/${ids[1]}/resolve`, {
      resolution: 'dismissed',
    })
    expect((await twice.json()) as Report).toMatchObject({ resolved_by: MODERATOR, resolution: 'actioned' })
    expect((await page()).reports.map((open) => open.id)).toEqual([ids[0], ids[2]])
    const [entry] = await database.sql`
      select actor_id, target_id, reason, report_id from moderation_log
       where room_id = ${room.id} and action = 'report_resolved'`
    expect(entry).toEqual({
      actor_id: MODERATOR,
      target_id: MEMBER,
      reason: 'actioned: warned them',
      report_id: String(ids[1]),
    })
  })
})
