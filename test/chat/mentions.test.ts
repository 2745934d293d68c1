import type { LobbyRoom, Mention, Message } from '../../src/wire.js'
import { describe, expect, it } from 'vitest'
import { expectCreated, expectError } from '../support/api.js'
import { useTestServer } from '../support/fixtures.js'
import { postMessage } from '../support/server.js'

// Mentions (sql/mentions.sql, src/chat/mentions.ts): @user_id in a body, recorded by the
// database whoever writes the row, for people who may read the room.

const { server, database } = useTestServer()

async function newRoom(name: string, visibility: 'public' | 'private' = 'public', as = 'alice') {
  const response = await server.request('/rooms', {
    method: 'POST',
    body: JSON.stringify({ name, visibility }),
    as,
  })
  expect(response.status).toBe(201)
  return ((await response.json()) as { id: number }).id
}

async function addMember(roomId: number, userId: string, as = 'alice') {
  const response = await server.request(`/rooms/${roomId}/members`, {
    method: 'POST',
    body: JSON.stringify({ user_id: userId }),
    as,
  })
  expect(response.status).toBeLessThan(300)
}

async function mentionsOf(
  as: string,
  query = '',
): Promise<{ mentions: Mention[]; next_cursor: string | null }> {
  const response = await server.request(`/mentions${query}`, { as })
  expect(response.status).toBe(200)
  return (await response.json()) as { mentions: Mention[]; next_cursor: string | null }
}

async function lobbyRoom(as: string, roomId: number): Promise<LobbyRoom | undefined> {
  const response = await server.request('/rooms?limit=200', { as })
  return ((await response.json()) as { rooms: LobbyRoom[] }).rooms.find((room) => room.id === roomId)
}

async function mentionsStored(roomId: number, seq: number) {
  const rows = await database.sql<{ user_id: string }[]>`
    select user_id from message_mentions where room_id = ${roomId} and seq = ${seq} order by user_id`
  return rows.map((row) => row.user_id)
}

/** A public room mentions only people it knows: these join it. */
async function join(roomId: number, ...users: string[]) {
  for (const user of users) {
    const response = await server.request(`/rooms/${roomId}/join`, { method: 'POST', as: user })
    expect(response.status).toBe(201)
  }
}

describe('mentions', () => {
  it('records @user_id in order of first mention, once each, never the author or an e-mail address', async () => {
    const room = await newRoom('mention-parse')
    await join(room, 'bob', 'carol-c', 'dave')
    const message = await expectCreated(
      await postMessage(
        server,
        room,
        '@bob and @carol-c, mail me at x@bob.example; @bob again, @alice, (@dave.)',
      ),
    )
    expect(message.mentions).toEqual(['bob', 'carol-c', 'dave'])
    expect(await mentionsStored(room, message.seq)).toEqual(['bob', 'carol-c', 'dave'])
  })

  it('counts a psql insert, shows it in the lobby until read, and lists it in GET /mentions', async () => {
    const room = await newRoom('mention-psql')
    await join(room, 'erin')
    await database.sql`insert into messages (room_id, user_id, user_name, body)
      values (${room}, 'ops', 'Ops', 'hey @erin, look')`
    expect((await lobbyRoom('erin', room))?.mention_count).toBe(1)
    const listed = await mentionsOf('erin')
    expect(listed.mentions[0]).toMatchObject({
      message: { body: 'hey @erin, look', mentions: ['erin'] },
      room: { id: room, name: 'mention-psql', kind: 'room' },
    })
    const read = await server.request(`/rooms/${room}/read`, {
      method: 'POST',
      body: JSON.stringify({ seq: 1 }),
      as: 'erin',
    })
    expect(read.status).toBe(200)
    expect((await lobbyRoom('erin', room))?.mention_count).toBe(0)
    // Read or not, it stays in the list of mentions.
    expect((await mentionsOf('erin')).mentions).toHaveLength(1)
  })

  it('names only members in a private room, and a removed member no longer sees the mention', async () => {
    const room = await newRoom('mention-private', 'private')
    await addMember(room, 'mia')
    const message = await expectCreated(await postMessage(server, room, 'ping @mia and @nick'))
    expect(message.mentions).toEqual(['mia'])
    expect((await mentionsOf('nick')).mentions).toEqual([])
    expect((await mentionsOf('mia')).mentions.map((mention) => mention.room.id)).toEqual([room])

    const removed = await server.request(`/rooms/${room}/members/mia`, { method: 'DELETE', as: 'alice' })
    expect(removed.status).toBe(204)
    expect((await mentionsOf('mia')).mentions).toEqual([])
  })

  it('follows edits and deletes, over HTTP and with psql', async () => {
    const room = await newRoom('mention-edits')
    await join(room, 'fay', 'gus', 'hal', 'ivy')
    const message = await expectCreated(await postMessage(server, room, 'for @fay'))
    const edit = await server.request(`/rooms/${room}/messages/${message.seq}`, {
      method: 'PATCH',
      body: JSON.stringify({ body: 'for @gus instead' }),
      as: 'alice',
    })
    expect(((await edit.json()) as Message).mentions).toEqual(['gus'])
    expect((await mentionsOf('fay')).mentions).toEqual([])
    expect((await mentionsOf('gus')).mentions).toHaveLength(1)

    await database.sql`update messages set body = 'now @hal' where room_id = ${room} and seq = ${message.seq}`
    expect(await mentionsStored(room, message.seq)).toEqual(['hal'])

    const deleted = await server.request(`/rooms/${room}/messages/${message.seq}`, {
      method: 'DELETE',
      as: 'alice',
    })
    expect(deleted.status).toBe(204)
    expect(await mentionsStored(room, message.seq)).toEqual([])
    expect((await mentionsOf('hal')).mentions).toEqual([])

    const again = await expectCreated(await postMessage(server, room, 'and @ivy'))
    await database.sql`delete from messages where room_id = ${room} and seq = ${again.seq}`
    expect((await mentionsOf('ivy')).mentions).toEqual([])
  })

  it('pages newest first with an opaque cursor, and refuses a cursor it did not hand out', async () => {
    const room = await newRoom('mention-pages')
    await join(room, 'jo')
    await database.sql`insert into messages (room_id, user_id, user_name, body)
      select ${room}, 'ops', 'Ops', 'n' || g || ' @jo' from generate_series(1, 5) g`
    const first = await mentionsOf('jo', '?limit=2')
    const second = await mentionsOf('jo', `?limit=2&cursor=${first.next_cursor}`)
    const third = await mentionsOf('jo', `?limit=2&cursor=${second.next_cursor}`)
    const bodies = [...first.mentions, ...second.mentions, ...third.mentions].map((m) => m.message.body)
    expect(bodies).toEqual(['n5 @jo', 'n4 @jo', 'n3 @jo', 'n2 @jo', 'n1 @jo'])
    expect(third.next_cursor).toBeNull()

    // The last ones have the shape of a cursor over shards: one this database never hands out,
    // and malformed ones.
    const shaped = ['1.5,2.0', '1.5,2', '0.5', '1.-1', '1.5,1.5'].map((text) =>
      Buffer.from(text).toString('base64url'),
    )
    for (const cursor of ['abc', '%00', Buffer.from('-1').toString('base64url'), 'x'.repeat(41), ...shaped]) {
      await expectError(
        await server.request(`/mentions?cursor=${cursor}`, { as: 'jo' }),
        400,
        'validation_failed',
      )
    }
    await expectError(await server.request('/mentions?limit=0', { as: 'jo' }), 400, 'validation_failed')
    await expectError(await server.request('/mentions?limit=101', { as: 'jo' }), 400, 'validation_failed')
  })
})
