import { afterAll, describe, expect, it } from 'vitest'
import {
  accessFixtures,
  ADMIN,
  FORBIDDEN,
  MEMBER,
  NOT_FOUND,
  OTHER_MEMBER,
  outcome,
  OWNER,
  STRANGER,
} from '../support/room-access.js'
import { useTestServer } from '../support/fixtures.js'

// Who may edit, delete, react to and read around a message written by MEMBER: strangers
// to a private room learn nothing (404, as for a missing room), readers who may not act
// get 403.

const { server, database } = useTestServer()
const { api, makeRoom, closeClients } = accessFixtures({ database: () => database, server: () => server })

afterAll(async () => {
  closeClients()
})

type Action = 'edit' | 'delete' | 'react' | 'unreact' | 'reactions' | 'replies' | 'message'

const CALLS: Record<Action, { method: string; path: (roomId: number) => string; body?: unknown }> = {
  edit: { method: 'PATCH', path: (id) => `/rooms/${id}/messages/1`, body: { body: 'changed' } },
  delete: { method: 'DELETE', path: (id) => `/rooms/${id}/messages/1` },
  react: { method: 'PUT', path: (id) => `/rooms/${id}/messages/1/reactions/%F0%9F%91%8D` },
  unreact: { method: 'DELETE', path: (id) => `/rooms/${id}/messages/1/reactions/%F0%9F%91%8D` },
  reactions: { method: 'GET', path: (id) => `/rooms/${id}/messages/1/reactions` },
  replies: { method: 'GET', path: (id) => `/rooms/${id}/messages/1/replies` },
  message: { method: 'GET', path: (id) => `/rooms/${id}/messages/1` },
}

// [action, caller, public room, private room]; the message is MEMBER's.
const MATRIX: [Action, string, string, string][] = [
  ['edit', MEMBER, '200', '200'],
  ['edit', OTHER_MEMBER, FORBIDDEN, FORBIDDEN],
  ['edit', OWNER, FORBIDDEN, FORBIDDEN],
  ['edit', ADMIN, FORBIDDEN, FORBIDDEN],
  ['edit', STRANGER, FORBIDDEN, NOT_FOUND],
  ['delete', MEMBER, '204', '204'],
  ['delete', OTHER_MEMBER, FORBIDDEN, FORBIDDEN],
  ['delete', OWNER, '204', '204'],
  ['delete', ADMIN, '204', '204'],
  ['delete', STRANGER, FORBIDDEN, NOT_FOUND],
  ...(['react', 'unreact', 'reactions', 'replies', 'message'] as const).flatMap(
    (action): [Action, string, string, string][] => [
      [action, MEMBER, '200', '200'],
      [action, OTHER_MEMBER, '200', '200'],
      [action, ADMIN, '200', '200'],
      [action, STRANGER, '200', NOT_FOUND],
    ],
  ),
]

/** A room with one message by MEMBER, inserted with SQL: the matrix posts more than the rate limit allows. */
async function roomWithMessage(visibility: 'public' | 'private') {
  const room = await makeRoom(visibility)
  await database.sql`
    insert into messages (room_id, user_id, user_name, body) values (${room.id}, ${MEMBER}, 'Mia', 'mine')`
  return room.id
}

describe('who may change a message', () => {
  it.each(MATRIX)('%s by %s: public %s, private %s', async (action, caller, inPublic, inPrivate) => {
    const call = CALLS[action]
    const answers = []
    for (const visibility of ['public', 'private'] as const) {
      const roomId = await roomWithMessage(visibility)
      answers.push(await outcome(await api(caller, call.method, call.path(roomId), { body: call.body })))
    }
    expect(answers).toEqual([inPublic, inPrivate])
  })

  it('answers a stranger to a private room as for a missing room, whether the message exists or not', async () => {
    const roomId = await roomWithMessage('private')
    for (const call of Object.values(CALLS)) {
      const paths = [
        call.path(roomId),
        call.path(roomId).replace('/messages/1', '/messages/99'),
        call.path(987_654_321),
      ]
      const answers = []
      for (const path of paths)
        answers.push(await outcome(await api(STRANGER, call.method, path, { body: call.body })))
      expect(answers).toEqual([NOT_FOUND, NOT_FOUND, NOT_FOUND])
    }
  })
})
