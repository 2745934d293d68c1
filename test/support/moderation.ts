import type { Message, Room } from '../../src/wire.js'
import { EventSource } from 'eventsource'
import { expect } from 'vitest'
import type { TestDatabase } from './database.js'
import { ADMIN, MEMBER, OWNER, tokenFor } from './room-access.js'
import type { TestServer } from './server.js'
import { until } from './wait.js'

// The cast and calls of the moderation tests: a room with an owner, a moderator and a
// member, made with SQL (as the access tests make theirs), and the REST calls each of
// them makes.

export const MODERATOR = 'moe'
export { ADMIN, MEMBER, OWNER }

export interface ModerationContext {
  database(): TestDatabase
  server(): TestServer
}

/** "200", "204", or "403 forbidden": the status, plus the error code of an error. */
export async function verdict(response: Response): Promise<string> {
  if (response.status < 400) {
    await response.body?.cancel()
    return String(response.status)
  }
  const body = (await response.json()) as { error: { code: string } }
  return `${response.status} ${body.error.code}`
}

export function moderationFixtures({ database, server }: ModerationContext) {
  let rooms = 0

  /** `user` calls `path` with a JSON `body` (if any) on `on` (the file's server by default). */
  async function call(user: string, method: string, path: string, body?: unknown, on = server()) {
    const headers = new Headers({ authorization: `Bearer ${await tokenFor(user)}` })
    if (body !== undefined) headers.set('content-type', 'application/json')
    return fetch(`${on.url}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    })
  }

  /**
   * A fresh room owned by OWNER, with MODERATOR as moderator and `members` as members,
   * inserted with SQL like an operator would (the tests need more rooms than one user may
   * create over HTTP).
   */
  async function makeRoom(
    visibility: 'public' | 'private' = 'public',
    { members = [MEMBER], slowModeSeconds = 0 } = {},
  ): Promise<Room> {
    const sql = database().sql
    const [room] = await sql<{ id: string }[]>`
      insert into rooms (name, created_by, visibility, slow_mode_seconds)
      values (${`moderated ${visibility} room ${++rooms}`}, ${OWNER}, ${visibility}, ${slowModeSeconds})
      returning id`
    const id = Number(room!.id)
    await sql`insert into room_members (room_id, user_id, role)
      values (${id}, ${OWNER}, 'owner'), (${id}, ${MODERATOR}, 'moderator')`
    for (const userId of members) {
      await sql`insert into room_members (room_id, user_id, role) values (${id}, ${userId}, 'member')`
    }
    const response = await call(OWNER, 'GET', `/rooms/${id}`)
    expect(response.status).toBe(200)
    return (await response.json()) as Room
  }

  /** Posts as `user`; the message, which must be created. */
  async function post(roomId: number, body: string, user: string, on = server()): Promise<Message> {
    const response = await call(user, 'POST', `/rooms/${roomId}/messages`, { body }, on)
    expect(response.status).toBe(201)
    return (await response.json()) as Message
  }

  /** The room's audit log as `action target by actor` lines, oldest first. */
  async function auditLines(roomId: number): Promise<string[]> {
    const rows = await database().sql<{ action: string; actor_id: string; target_id: string | null }[]>`
      select action, actor_id, target_id from moderation_log where room_id = ${roomId} order by id`
    return rows.map((row) => `${row.action} ${row.target_id ?? '-'} by ${row.actor_id}`)
  }

  return { call, makeRoom, post, auditLines }
}

export interface UserStreamEvent {
  type: string
  id: string
  data: Record<string, unknown>
}

/** GET /me/stream of `user` on `server`, recording every event but `unread`. */
export function openUserStream(server: TestServer, user: string) {
  const events: UserStreamEvent[] = []
  const source = new EventSource(`${server.url}/me/stream`, {
    fetch: async (input, init) => {
      const headers = new Headers(init?.headers)
      headers.set('authorization', `Bearer ${await tokenFor(user)}`)
      return fetch(input, { ...init, headers })
    },
  })
  for (const type of ['mention', 'dm', 'added', 'removed', 'report']) {
    source.addEventListener(type, (event) => {
      events.push({ type, id: event.lastEventId, data: JSON.parse(event.data) as Record<string, unknown> })
    })
  }
  const opened = new Promise<void>((resolve) =>
    source.addEventListener('open', () => resolve(), { once: true }),
  )
  return {
    events,
    opened,
    waitFor: (type: string, count = 1) =>
      until(() => events.filter((event) => event.type === type).length >= count, `${count} ${type} events`),
    close: () => source.close(),
  }
}
