import type { Restriction, Room } from '../../src/wire.js'
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
import { tokenFor } from '../support/room-access.js'
import { openMultiStream, openStream, type StreamClient } from '../support/sse.js'
import { until } from '../support/wait.js'

// A ban (src/chat/restrictions.ts, sql/access.sql, sql/moderation.sql): the room answers
// the banned user as it answers a stranger to a private room, everywhere a read or a write
// is, and their streams of it close at once, public rooms included.

const { server, database } = useTestServer({ env: { RATE_LIMIT_MODERATION: '10000' } })
const { call, makeRoom, post } = moderationFixtures({ database: () => database, server: () => server })

const clients: { close(): void }[] = []
afterEach(() => {
  for (const client of clients.splice(0)) client.close()
})

async function streamOf(user: string, roomId: number): Promise<StreamClient> {
  const stream = openStream(server.url, roomId, { token: await tokenFor(user), reconnect: false })
  clients.push(stream)
  await stream.opened
  return stream
}

const ban = (roomId: number, userId: string, body: object = {}, as = MODERATOR) =>
  call(as, 'PUT', `/rooms/${roomId}/bans/${userId}`, body)

describe('a ban', () => {
  it("closes the banned user's streams of a public room with removed, though they were never a member", async () => {
    const room = await makeRoom('public', { members: [] })
    const [single, multi] = [
      await streamOf('vic', room.id),
      openMultiStream(server.url, [room.id], { token: await tokenFor('vic'), reconnect: false }),
    ]
    clients.push(multi)
    const bystander = await streamOf('bea', room.id)
    await multi.opened
    await until(() => server.hub.subscriberCount(room.id) === 3, 'three streams to join')

    expect(await verdict(await ban(room.id, 'vic', { reason: 'spam' }))).toBe('201')
    await until(() => single.events.some((event) => event.type === 'removed'), 'the single stream to be told')
    await until(
      () => multi.events.some((event) => event.type === 'removed'),
      'the multi-room stream to be told',
    )
    await post(room.id, 'after the ban', OWNER)
    await bystander.waitFor(1)
    expect(single.messages).toEqual([])
    expect(multi.messages).toEqual([])
    expect(single.events.filter((event) => event.type === 'removed').map((event) => event.data)).toEqual([
      JSON.stringify({ room_id: room.id }),
    ])
  })

  it('answers the banned user 404 everywhere, as for a room that does not exist', async () => {
    const room = await makeRoom('public', { members: ['vic'] })
    const seq = (await post(room.id, 'find me, @vic', OWNER)).seq
    await ban(room.id, 'vic')
    const paths: [string, string, unknown?][] = [
      ['GET', `/rooms/${room.id}`],
      ['GET', `/rooms/${room.id}/messages`],
      ['POST', `/rooms/${room.id}/messages`, { body: 'let me in' }],
      ['GET', `/rooms/${room.id}/messages/${seq}`],
      ['PUT', `/rooms/${room.id}/messages/${seq}/reactions/%F0%9F%91%8D`],
      ['GET', `/rooms/${room.id}/stream`],
      ['GET', `/stream?rooms=${room.id}`],
      ['POST', `/rooms/${room.id}/join`],
      ['GET', `/rooms/${room.id}/members`],
      ['POST', `/rooms/${room.id}/read`, { seq }],
      ['POST', `/rooms/${room.id}/typing`, { state: 'on' }],
      ['POST', `/rooms/${room.id}/messages/${seq}/reports`, { reason: 'x' }],
      ['GET', `/search?q=find&room=${room.id}`],
    ]
    for (const [method, path, body] of paths) {
      expect(`${method} ${path} ${await verdict(await call('vic', method, path, body))}`).toBe(
        `${method} ${path} 404 room_not_found`,
      )
    }
    const lobby = (await (await call('vic', 'GET', '/rooms')).json()) as { rooms: Room[] }
    expect(lobby.rooms.map((listed) => listed.id)).not.toContain(room.id)
    const search = (await (await call('vic', 'GET', '/search?q=find')).json()) as { results: unknown[] }
    expect(search.results).toEqual([])
    const mentions = (await (await call('vic', 'GET', '/mentions')).json()) as { mentions: unknown[] }
    expect(mentions.mentions).toEqual([])
  })

  it('removes the user from the room, tells their own stream, and lifting it lets them rejoin', async () => {
    const room = await makeRoom('public', { members: ['vic'] })
    const own = openUserStream(server, 'vic')
    clients.push(own)
    await own.opened
    await ban(room.id, 'vic')
    await own.waitFor('removed')
    expect(own.events.map((event) => [event.type, event.data])).toEqual([['removed', { room_id: room.id }]])
    const members =
      await database.sql`select user_id from room_members where room_id = ${room.id} order by user_id`
    expect(members.map((row) => row.user_id)).toEqual([MODERATOR, OWNER])

    expect(await verdict(await call(MODERATOR, 'DELETE', `/rooms/${room.id}/bans/vic`))).toBe('204')
    expect(await verdict(await call('vic', 'POST', `/rooms/${room.id}/join`))).toBe('201')
    expect(await verdict(await call(MODERATOR, 'DELETE', `/rooms/${room.id}/bans/vic`))).toBe(
      '404 ban_not_found',
    )
  })

  it('ends by itself when its time is up, with no sweep', async () => {
    const room = await makeRoom('private', { members: [MEMBER] })
    const response = await ban(room.id, 'vic', { duration_seconds: 1 })
    const banned = (await response.json()) as Restriction
    expect(Date.parse(banned.until!) - Date.parse(banned.created_at)).toBe(1000)
    await database.sql`insert into room_members (room_id, user_id) values (${room.id}, 'vic')`
    expect(await verdict(await call('vic', 'GET', `/rooms/${room.id}`))).toBe('404 room_not_found')
    await until(
      async () => (await call('vic', 'GET', `/rooms/${room.id}`)).status === 200,
      'the ban to end',
      5_000,
    )
    expect(await database.sql`select user_id from room_bans where room_id = ${room.id}`).toHaveLength(1)
  })

  it('takes effect live when inserted with psql, closing the stream on the spot', async () => {
    const room = await makeRoom('public', { members: [] })
    const stream = await streamOf('vic', room.id)
    await until(() => server.hub.subscriberCount(room.id) === 1, 'the stream to join')
    await database.sql`insert into room_bans (room_id, user_id, reason) values (${room.id}, 'vic', 'by hand')`
    await until(() => stream.events.some((event) => event.type === 'removed'), 'the stream to be told')
    const [entry] =
      await database.sql`select action, actor_id, target_id, reason from moderation_log where room_id = ${room.id} and action = 'ban'`
    // A psql action's actor is the database role it ran as.
    const [{ role }] = (await database.sql`select current_user as role`) as unknown as [{ role: string }]
    expect(entry).toEqual({ action: 'ban', actor_id: role, target_id: 'vic', reason: 'by hand' })
  })

  it('keeps streams that open as the ban commits from delivering anything after it', async () => {
    const room = await makeRoom('public', { members: [] })
    const token = await tokenFor('vic')
    const streams = Array.from({ length: 5 }, () => {
      const stream = openStream(server.url, room.id, { token, reconnect: false })
      clients.push(stream)
      return {
        stream,
        state: stream.opened.then(
          () => 'open' as const,
          () => 'refused' as const,
        ),
      }
    })
    await database.sql`insert into room_bans (room_id, user_id) values (${room.id}, 'vic')`
    await post(room.id, 'after', OWNER)
    const states = await Promise.all(streams.map((entry) => entry.state))
    const open = streams.filter((_, i) => states[i] === 'open').map((entry) => entry.stream)
    await until(
      () => open.every((stream) => stream.events.some((event) => event.type === 'removed')),
      'every open stream to be told',
    )
    for (const stream of open) expect(stream.messages).toEqual([])
  })

  it('is listed, newest first, a page at a time, and replaced by banning again', async () => {
    const room = await makeRoom('public')
    for (const user of ['u1', 'u2', 'u3'])
      expect(await verdict(await ban(room.id, user, { reason: user }))).toBe('201')
    expect(await verdict(await ban(room.id, 'u1', { reason: 'again', duration_seconds: 60 }))).toBe('200')
    const first = (await (await call(MODERATOR, 'GET', `/rooms/${room.id}/bans?limit=2`)).json()) as {
      bans: Restriction[]
      next_cursor: string
    }
    const second = (await (
      await call(MODERATOR, 'GET', `/rooms/${room.id}/bans?limit=2&cursor=${first.next_cursor}`)
    ).json()) as { bans: Restriction[]; next_cursor: string | null }
    expect(
      [...first.bans, ...second.bans].map((listed) => [listed.user_id, listed.reason, listed.created_by]),
    ).toEqual([
      ['u1', 'again', MODERATOR],
      ['u3', 'u3', MODERATOR],
      ['u2', 'u2', MODERATOR],
    ])
    expect(second.next_cursor).toBeNull()
  })
})
