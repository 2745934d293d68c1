import type { LobbyRoom, Room } from '../../src/wire.js'
import { describe, expect, it } from 'vitest'
import { expectError } from '../support/api.js'
import { useTestServer } from '../support/fixtures.js'
import { postMessage, signTestToken } from '../support/server.js'

// Direct messages (src/chat/dms.ts): one private room per pair, whoever asks first, with
// members that never change.

const { server, database } = useTestServer()

function openDm(as: string, body: unknown) {
  return server.request('/dms', { method: 'POST', body: JSON.stringify(body), as })
}

async function dmLobby(as: string): Promise<LobbyRoom[]> {
  const response = await server.request('/rooms?kind=dm', { as })
  expect(response.status).toBe(200)
  return ((await response.json()) as { rooms: LobbyRoom[] }).rooms
}

describe('POST /dms', () => {
  it('creates a private two-person room once, and either person gets it back', async () => {
    const first = await openDm('dora', { user_id: 'dmitri', user_name: 'Dmitri' })
    expect(first.status).toBe(201)
    const room = (await first.json()) as Room
    expect(room).toMatchObject({ kind: 'dm', visibility: 'private', created_by: 'dora' })

    const again = await openDm('dora', { user_id: 'dmitri' })
    expect(again.status).toBe(200)
    expect(((await again.json()) as Room).id).toBe(room.id)
    const theirs = await openDm('dmitri', { user_id: 'dora' })
    expect(theirs.status).toBe(200)
    expect(((await theirs.json()) as Room).id).toBe(room.id)

    const members = await server.request(`/rooms/${room.id}/members`, { as: 'dmitri' })
    const listed = ((await members.json()) as { members: { user_id: string }[] }).members
    expect(listed.map((member) => member.user_id).sort()).toEqual(['dmitri', 'dora'])
  })

  it('gives two people who start a conversation with each other at the same moment one room', async () => {
    for (let round = 0; round < 5; round++) {
      const [a, b] = [`race-a-${round}`, `race-b-${round}`]
      const answers = await Promise.all([
        openDm(a, { user_id: b }),
        openDm(b, { user_id: a }),
        openDm(a, { user_id: b }),
        openDm(b, { user_id: a }),
      ])
      const rooms = await Promise.all(answers.map(async (answer) => ((await answer.json()) as Room).id))
      expect(new Set(rooms).size).toBe(1)
      expect(answers.map((answer) => answer.status).filter((status) => status === 201)).toHaveLength(1)
      const [row] = await database.sql<{ count: string }[]>`
        select count(*) from room_members where room_id = ${rooms[0]!}`
      expect(Number(row?.count)).toBe(2)
    }
  })

  it('lists direct messages under kind=dm with the other person, each seeing the other', async () => {
    await openDm('lena', { user_id: 'lars', user_name: 'Lars L.' })
    expect((await dmLobby('lena')).map((room) => room.other_user)).toEqual([
      { user_id: 'lars', user_name: 'Lars L.' },
    ])
    expect((await dmLobby('lars')).map((room) => room.other_user)).toEqual([
      { user_id: 'lena', user_name: 'lena' },
    ])
    // The other person's own name replaces the one they were given once they open it.
    const token = await server.token('lars', 'Lars Larsen')
    const renamed = await fetch(`${server.url}/dms`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ user_id: 'lena' }),
    })
    expect(renamed.status).toBe(200)
    expect((await dmLobby('lena'))[0]!.other_user).toEqual({ user_id: 'lars', user_name: 'Lars Larsen' })

    const rooms = await server.request('/rooms?kind=room', { as: 'lena' })
    const listed = ((await rooms.json()) as { rooms: LobbyRoom[] }).rooms
    expect(listed.map((room) => [room.kind, room.other_user])).toEqual(listed.map(() => ['room', null]))
  })

  it('hides a conversation from everyone else', async () => {
    const room = (await (await openDm('pia', { user_id: 'paul' })).json()) as Room
    await expectError(await server.request(`/rooms/${room.id}`, { as: 'nosy' }), 404, 'room_not_found')
    await expectError(await postMessage(server, room.id, 'hello?', 'nosy'), 404, 'room_not_found')
    await expectError(
      await server.request(`/rooms/${room.id}/join`, { method: 'POST', as: 'nosy' }),
      404,
      'room_not_found',
    )
    expect(await dmLobby('nosy')).toEqual([])
  })

  it('never changes its members: no one joins, is added, removed or leaves', async () => {
    const room = (await (await openDm('ola', { user_id: 'otto' })).json()) as Room
    const add = await server.request(`/rooms/${room.id}/members`, {
      method: 'POST',
      body: JSON.stringify({ user_id: 'third' }),
      as: 'ola',
    })
    await expectError(add, 403, 'forbidden')
    await expectError(
      await server.request(`/rooms/${room.id}/members/otto`, { method: 'DELETE', as: 'ola' }),
      403,
      'forbidden',
    )
    await expectError(
      await server.request(`/rooms/${room.id}/members/ola`, { method: 'DELETE', as: 'ola' }),
      403,
      'forbidden',
    )
    const [row] = await database.sql<{ count: string }[]>`
      select count(*) from room_members where room_id = ${room.id}`
    expect(Number(row?.count)).toBe(2)
  })

  it('refuses a conversation with oneself and bad input with 400', async () => {
    await expectError(await openDm('solo', { user_id: 'solo' }), 400, 'dm_with_self')
    await expectError(await openDm('solo', { user_id: '   ' }), 400, 'validation_failed')
    await expectError(await openDm('solo', { user_id: 'x'.repeat(201) }), 400, 'validation_failed')
    await expectError(await openDm('solo', {}), 400, 'validation_failed')
    await expectError(await openDm('solo', { user_id: 'b\u0000c' }), 400, 'validation_failed')
  })

  it('counts new conversations against the room creation quota, but not reopening one', async () => {
    const responses = []
    for (let i = 0; i < 55; i++) responses.push((await openDm('chatty', { user_id: `peer-${i}` })).status)
    expect(responses).toContain(429)
    const limit = responses.indexOf(429)
    expect(responses.slice(0, limit)).toEqual(responses.slice(0, limit).map(() => 201))
    expect((await openDm('chatty', { user_id: 'peer-0' })).status).toBe(200)
  })
})

describe('GET /rooms and direct messages', () => {
  it('lists a conversation only to its two people, even to an admin', async () => {
    const room = (await (await openDm('kim', { user_id: 'kai' })).json()) as Room
    const admin = await signTestToken({ sub: 'boss', roles: ['admin'] })
    const asAdmin = (query: string) =>
      fetch(`${server.url}/rooms${query}`, { headers: { authorization: `Bearer ${admin}` } })
    for (const query of ['?kind=dm', '', '?limit=200']) {
      const listed = ((await (await asAdmin(query)).json()) as { rooms: LobbyRoom[] }).rooms
      expect(listed.map((listedRoom) => listedRoom.id)).not.toContain(room.id)
    }
    // An admin may still open it, as any room.
    expect(
      (await fetch(`${server.url}/rooms/${room.id}`, { headers: { authorization: `Bearer ${admin}` } }))
        .status,
    ).toBe(200)
    expect((await dmLobby('kim')).map((listed) => listed.id)).toContain(room.id)
  })
})
