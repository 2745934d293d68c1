import type { Message } from '../../src/wire.js'
import { describe, expect, it } from 'vitest'
import { getRoom, lobby } from '../support/api.js'
import { useTestServer } from '../support/fixtures.js'
import { createRoom, postMessage } from '../support/server.js'

// What src/chat/rooms.ts reports about rooms: the lobby's order and each room's counts.

const { server, database } = useTestServer()

/** The lobby's order restricted to `ids`: other tests' rooms share the database. */
async function lobbyOrderOf(ids: number[]): Promise<number[]> {
  return (await lobby(server)).map((room) => room.id).filter((id) => ids.includes(id))
}

async function insertDirectly(roomId: number, body: string) {
  await database.sql`insert into messages (room_id, user_id, user_name, body) values (${roomId}, 'ops', 'Ops', ${body})`
}

describe('GET /rooms', () => {
  it('lists rooms without messages newest first, and a room moves to the front when it gets a message', async () => {
    const a = await createRoom(server, 'order-a')
    const b = await createRoom(server, 'order-b')
    const c = await createRoom(server, 'order-c')
    expect(await lobbyOrderOf([a, b, c])).toEqual([c, b, a])

    expect((await postMessage(server, a, 'wake up')).status).toBe(201)
    expect(await lobbyOrderOf([a, b, c])).toEqual([a, c, b])

    await insertDirectly(b, 'from psql')
    expect(await lobbyOrderOf([a, b, c])).toEqual([b, a, c])

    // A room created after the last message is more recent activity than that message.
    const d = await createRoom(server, 'order-d')
    expect(await lobbyOrderOf([a, b, c, d])).toEqual([d, b, a, c])

    expect((await postMessage(server, c, 'me too')).status).toBe(201)
    expect(await lobbyOrderOf([a, b, c, d])).toEqual([c, d, b, a])
  })

  it('reports message_count, last_seq and last_message_at after posts and after a direct SQL insert', async () => {
    const id = await createRoom(server, 'counted')
    const posted: Message[] = []
    for (const body of ['one', 'two', 'three']) {
      const response = await postMessage(server, id, body)
      expect(response.status).toBe(201)
      posted.push((await response.json()) as Message)
    }
    expect(await getRoom(server, id)).toMatchObject({
      last_seq: 3,
      message_count: 3,
      last_message_at: posted[2]?.created_at,
    })

    await insertDirectly(id, 'four')
    const page = await server.request(`/rooms/${id}/messages?after=3`)
    const [inserted] = ((await page.json()) as { messages: Message[] }).messages
    expect(inserted).toMatchObject({ seq: 4, body: 'four', user_id: 'ops' })
    const room = await getRoom(server, id)
    expect(room).toMatchObject({ last_seq: 4, message_count: 4, last_message_at: inserted?.created_at })
    // The lobby adds the caller's unread count: ops's message is unread, alice's own are not.
    expect((await lobby(server)).find((listed) => listed.id === id)).toEqual({
      ...room,
      unread_count: 1,
      mention_count: 0,
      other_user: null,
    })
  })

  it('counts rows, not seqs, after a message is deleted by hand', async () => {
    const id = await createRoom(server, 'pruned')
    for (const body of ['keep', 'delete me', 'keep too'])
      expect((await postMessage(server, id, body)).status).toBe(201)
    await database.sql`delete from messages where room_id = ${id} and seq = 2`
    expect(await getRoom(server, id)).toMatchObject({ last_seq: 3, message_count: 2 })
  })
})
