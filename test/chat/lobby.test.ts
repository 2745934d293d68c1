import { describe, expect, it } from 'vitest'
import type { LobbyPage, Room } from '../../src/wire.js'
import { useTestServer } from '../support/fixtures.js'
import { createRoom, errorCode, postMessage } from '../support/server.js'

// The lobby's figures come from counters the triggers keep, and it is read a page at a time.

const { server, database } = useTestServer()

async function page(query: string, as = 'alice'): Promise<LobbyPage> {
  const response = await server.request(`/rooms${query}`, { as })
  expect(response.status).toBe(200)
  return (await response.json()) as LobbyPage
}

async function room(id: number): Promise<Room> {
  return (await (await server.request(`/rooms/${id}`)).json()) as Room
}

async function counted(roomId: number) {
  const [row] = await database.sql<{ n: number; last: Date | null }[]>`
    select count(*)::int as n, (select created_at from messages where room_id = ${roomId}
      order by seq desc limit 1) as last from messages where room_id = ${roomId}`
  return { message_count: row!.n, last_message_at: row!.last?.toISOString() ?? null }
}

const insert = (roomId: number, userId: string, count = 1) => database.sql`
  insert into messages (room_id, user_id, user_name, body)
  select ${roomId}, ${userId}, ${userId}, 'psql ' || i from generate_series(1, ${count}) i`

async function unreadOf(roomId: number, as: string): Promise<number> {
  const { rooms } = await page(`?q=${encodeURIComponent(`counter-${roomId}`)}`, as)
  return rooms.find((r) => r.id === roomId)?.unread_count ?? -1
}

describe('the counters', () => {
  it('follow inserts with psql, single and bulk hand deletes, exactly as counting would', async () => {
    const roomId = await createRoom(server, 'counters')
    await insert(roomId, 'ops', 30)
    await postMessage(server, roomId, 'over HTTP', 'poster')
    expect(await room(roomId)).toMatchObject({ ...(await counted(roomId)), last_seq: 31 })
    await database.sql`delete from messages where room_id = ${roomId} and seq = 31`
    expect(await room(roomId)).toMatchObject(await counted(roomId))
    await database.sql`delete from messages where room_id = ${roomId} and seq between 5 and 25`
    expect(await room(roomId)).toMatchObject({ ...(await counted(roomId)), message_count: 9, last_seq: 31 })
    await database.sql`delete from messages where room_id = ${roomId}`
    expect(await room(roomId)).toMatchObject({ message_count: 0, last_message_at: null, last_seq: 31 })
  })
})

describe('unread_count', () => {
  it('is the others’ messages after the read mark, and posting (over HTTP or psql) moves the author’s mark', async () => {
    const roomId = await createRoom(server, 'unread', 'carol')
    await database.sql`update rooms set name = ${`counter-${roomId}`} where id = ${roomId}`
    await insert(roomId, 'dave', 3)
    expect(await unreadOf(roomId, 'erin')).toBe(3)
    await postMessage(server, roomId, 'erin has seen it', 'erin')
    expect(await unreadOf(roomId, 'erin')).toBe(0)
    expect(await unreadOf(roomId, 'dave')).toBe(1)
    await insert(roomId, 'dave', 2)
    expect(await unreadOf(roomId, 'erin')).toBe(2)
    expect(await unreadOf(roomId, 'dave')).toBe(0)
  })

  it('stays exact in a room with messages deleted by hand', async () => {
    const roomId = await createRoom(server, 'unread-holes', 'carol')
    await database.sql`update rooms set name = ${`counter-${roomId}`} where id = ${roomId}`
    await insert(roomId, 'dave', 5)
    await postMessage(server, roomId, 'mine', 'frank')
    await insert(roomId, 'dave', 4)
    await database.sql`delete from messages where room_id = ${roomId} and seq in (2, 8)`
    expect(await unreadOf(roomId, 'frank')).toBe(3)
    expect(await unreadOf(roomId, 'gina')).toBe(8)
  })

  it('does not count an edit, a reaction or a tombstone as anything new', async () => {
    const roomId = await createRoom(server, 'unread-changes', 'carol')
    await database.sql`update rooms set name = ${`counter-${roomId}`} where id = ${roomId}`
    await insert(roomId, 'dave', 2)
    await server.request(`/rooms/${roomId}/read`, { method: 'POST', body: '{"seq":2}', as: 'hank' })
    await database.sql`update messages set body = 'edited' where room_id = ${roomId} and seq = 1`
    await database.sql`insert into message_reactions (room_id, seq, user_id, emoji) values (${roomId}, 2, 'dave', '👍')`
    await database.sql`update messages set deleted_at = now() where room_id = ${roomId} and seq = 2`
    expect(await unreadOf(roomId, 'hank')).toBe(0)
    expect(await room(roomId)).toMatchObject({ last_seq: 2, message_count: 2, cursor: 5 })
  })
})

describe('GET /rooms pages', () => {
  it('cover every visible room once, most recently active first, and end with next_cursor null', async () => {
    const ids: number[] = []
    for (let i = 0; i < 7; i++) ids.push(await createRoom(server, `paged-${i}`, 'pager'))
    const hidden = await server.request('/rooms', {
      method: 'POST',
      body: JSON.stringify({ name: 'paged-hidden', visibility: 'private' }),
      as: 'pager',
    })
    expect(hidden.status).toBe(201)
    await postMessage(server, ids[2]!, 'wake up', 'pager')
    const seen: number[] = []
    let cursor: string | null = null
    let pages = 0
    do {
      const query: string = `?limit=3&q=paged-${cursor ? `&cursor=${cursor}` : ''}`
      const next: LobbyPage = await page(query, 'stranger')
      seen.push(...next.rooms.map((r) => r.id))
      cursor = next.next_cursor
      pages++
    } while (cursor)
    expect(pages).toBe(3)
    expect(seen).toEqual([ids[2], ids[6], ids[5], ids[4], ids[3], ids[1], ids[0]])
  })

  it('filter by name with % and _ taken literally', async () => {
    const literal = await createRoom(server, 'odd 100%_done', 'pager')
    await createRoom(server, 'odd 100x-done', 'pager')
    const { rooms } = await page(`?q=${encodeURIComponent('100%_')}`)
    expect(rooms.map((r) => r.id)).toEqual([literal])
  })

  it('refuse a cursor they did not hand out with 400', async () => {
    for (const cursor of ['nope', Buffer.from('2026-01-01T00:00:00.000000Z|0').toString('base64url')]) {
      const response = await server.request(`/rooms?cursor=${cursor}`)
      expect([response.status, await errorCode(response)]).toEqual([400, 'validation_failed'])
    }
  })
})
