import { EventSource } from 'eventsource'
import { afterEach, describe, expect, it } from 'vitest'
import { useTestServer } from '../support/fixtures.js'
import { createRoom, postMessage } from '../support/server.js'
import { until } from '../support/wait.js'

// A stream resuming from a cursor older than what the retention sweep kept cannot be
// replayed: it gets `event: reload` (no `id:`) and goes on live from the present.

const DAY = 86_400_000
const { server, database } = useTestServer({ env: { RETENTION_SWEEP_MS: String(DAY) } })
const sources: EventSource[] = []
afterEach(() => {
  for (const source of sources.splice(0)) source.close()
})

const TYPES = ['message', 'edit', 'delete', 'reaction', 'reload', 'mention', 'added']

/** Every event of the stream at `path`, in arrival order, as `type id data`. */
async function record(path: string, as: string, lastEventId?: string) {
  const seen: string[] = []
  const token = await server.token(as)
  const source = new EventSource(`${server.url}${path}`, {
    fetch: (input, init) => {
      const headers = new Headers(init?.headers)
      headers.set('authorization', `Bearer ${token}`)
      if (lastEventId !== undefined) headers.set('last-event-id', lastEventId)
      return fetch(input, { ...init, headers })
    },
  })
  sources.push(source)
  for (const type of TYPES) {
    source.addEventListener(type, (event) => {
      const data = JSON.parse(event.data) as { body?: string; message?: { body: string } }
      const shown = type === 'reload' ? event.data : (data.message?.body ?? data.body ?? '')
      seen.push(`${type} ${event.lastEventId || '-'} ${shown}`)
    })
  }
  await new Promise<void>((resolve) => source.addEventListener('open', () => resolve(), { once: true }))
  return seen
}

async function post(roomId: number, body: string, as = 'alice') {
  const response = await postMessage(server, roomId, body, as)
  expect(response.status).toBe(201)
}

/** Ages every change of the room past the 30-day window and sweeps. */
async function ageRoomChanges(roomId: number) {
  await database.sql`update message_changes set created_at = now() - interval '31 days' where room_id = ${roomId}`
  await server.retention.sweep()
}

describe('resuming from before the retention window', () => {
  it('sends a room stream reload, then live changes from the present', async () => {
    const roomId = await createRoom(server, 'reload-room')
    await post(roomId, 'one')
    await post(roomId, 'two')
    await server.request(`/rooms/${roomId}/messages/1`, { method: 'PATCH', body: '{"body":"one!"}' }) // 3
    await post(roomId, 'three') // 4
    await ageRoomChanges(roomId)

    const stale = await record(`/rooms/${roomId}/stream`, 'reader', '1')
    const fresh = await record(`/rooms/${roomId}/stream`, 'reader', '3')
    await post(roomId, 'four') // 5
    await until(() => stale.length === 2 && fresh.length === 2, 'the new message on both streams')

    expect(stale).toEqual([
      `reload - {"room_id":${roomId},"reason":"cursor_too_old","cursor":4}`,
      'message 5 four',
    ])
    // At the pruned cursor nothing was lost: the replay is exact.
    expect(fresh).toEqual(['message 4 three', 'message 5 four'])
  })

  it("moves a multi-room stream's cursor of that room to the present", async () => {
    const pruned = await createRoom(server, 'reload-multi-pruned')
    const kept = await createRoom(server, 'reload-multi-kept')
    await post(pruned, 'a1')
    await server.request(`/rooms/${pruned}/messages/1`, { method: 'PATCH', body: '{"body":"a1!"}' }) // 2
    await post(kept, 'b1')
    await ageRoomChanges(pruned)

    const seen = await record(`/stream?rooms=${pruned},${kept}`, 'reader', `${pruned}:1,${kept}:0`)
    await until(() => seen.length === 2, 'the reload and the replay of the kept room')
    await post(pruned, 'a2')
    await until(() => seen.length === 3, 'the live message')

    expect(seen).toEqual([
      `reload - {"room_id":${pruned},"reason":"cursor_too_old","cursor":2}`,
      `message ${pruned}:2,${kept}:1 b1`,
      `message ${pruned}:3,${kept}:1 a2`,
    ])
  })

  it('sends a user stream reload, then live events from the present', async () => {
    const roomId = await createRoom(server, 'reload-user')
    await server.request(`/rooms/${roomId}/join`, { method: 'POST', as: 'uma' }) // uma's 1: added
    await post(roomId, 'hello @uma') // 2
    await database.sql`update user_events set created_at = now() - interval '31 days' where user_id = 'uma'`
    await server.retention.sweep()

    const seen = await record('/me/stream', 'uma', '0')
    await post(roomId, 'again @uma') // 3
    await until(() => seen.length === 2, 'the reload and the new mention')

    expect(seen).toEqual(['reload - {"reason":"cursor_too_old","cursor":2}', 'mention 3 again @uma'])
  })
})

// A cursor beyond anything the database holds names changes it never had: its history went
// back (a failover to a standby that lacked the last commits) or the id was made up. Joined
// live as it was, the stream would skip the changes that reuse those cursors.
describe('resuming from beyond the database', () => {
  it('sends a room stream reload with history_changed, then every new change', async () => {
    const roomId = await createRoom(server, 'ahead-room')
    await post(roomId, 'one')
    await post(roomId, 'two')

    const ahead = await record(`/rooms/${roomId}/stream`, 'reader', '5')
    const exact = await record(`/rooms/${roomId}/stream`, 'reader', '2')
    await post(roomId, 'three') // 3
    await until(() => ahead.length === 2 && exact.length === 1, 'the new message on both streams')

    expect(ahead).toEqual([
      `reload - {"room_id":${roomId},"reason":"history_changed","cursor":2}`,
      'message 3 three',
    ])
    expect(exact).toEqual(['message 3 three'])
  })

  it('sends a user stream reload with history_changed, then every new event', async () => {
    const roomId = await createRoom(server, 'ahead-user')
    await server.request(`/rooms/${roomId}/join`, { method: 'POST', as: 'ulla' }) // ulla's 1: added
    const seen = await record('/me/stream', 'ulla', '7')
    await post(roomId, 'hi @ulla') // 2
    await until(() => seen.length === 2, 'the reload and the mention')

    expect(seen).toEqual(['reload - {"reason":"history_changed","cursor":1}', 'mention 2 hi @ulla'])
  })

  it('reloads a user stream at its cursor when it opened, not at one its first read finds', async () => {
    const roomId = await createRoom(server, 'ahead-while-opening')
    await server.request(`/rooms/${roomId}/join`, { method: 'POST', as: 'una' }) // una's 1: added
    // The stream's first read waits behind this transaction, which names una and commits
    // only once the client has seen the stream open.
    let opened!: () => void
    const open = new Promise<void>((resolve) => (opened = resolve))
    let inserted!: () => void
    const written = new Promise<void>((resolve) => (inserted = resolve))
    const committed = database.sql.begin(async (tx) => {
      await tx`lock table room_members in access exclusive mode`
      await tx`insert into messages (room_id, user_id, user_name, body) values (${roomId}, 'psql', 'psql', 'by hand @una')`
      inserted()
      await open
    })
    await written
    const seen = await record('/me/stream', 'una', '9')
    opened()
    await committed
    await until(() => seen.length === 2, 'the reload and the mention')

    expect(seen).toEqual(['reload - {"reason":"history_changed","cursor":1}', 'mention 2 by hand @una'])
  })
})
