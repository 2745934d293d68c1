import postgres from 'postgres'
import { describe, expect, inject, it } from 'vitest'
import { useTestServer } from '../support/fixtures.js'
import { openMultiStream, openStream } from '../support/sse.js'
import { until } from '../support/wait.js'

const { server, database } = useTestServer({ env: { LISTENER_PROBE_MS: '200' } })

async function privateRoom(name: string, members: string[]): Promise<number> {
  const created = await server.request('/rooms', {
    method: 'POST',
    body: JSON.stringify({ name, visibility: 'private' }),
    as: 'owner',
  })
  const { id } = (await created.json()) as { id: number }
  for (const user_id of members) {
    const added = await server.request(`/rooms/${id}/members`, {
      method: 'POST',
      body: JSON.stringify({ user_id }),
      as: 'owner',
    })
    expect(added.status).toBe(201)
  }
  return id
}

/**
 * Runs `whileDown` while the server's LISTEN connection is gone and cannot come back: the
 * database refuses new connections (the connections already open keep working), and the
 * listener's backend is terminated.
 */
async function withListenerDown(whileDown: (sql: postgres.ReservedSql) => Promise<void>): Promise<void> {
  const sql = await database.sql.reserve()
  // A database cannot refuse connections to itself; the server's own database does it.
  const admin = postgres(inject('adminUrl'), { max: 1, onnotice: () => {} })
  const [row] = await sql<{ name: string }[]>`select current_database() as name`
  const name = row!.name
  try {
    await admin.unsafe(`alter database "${name}" with allow_connections false`)
    await sql`select pg_terminate_backend(pid) from pg_stat_activity
      where datname = current_database() and application_name = 'parley-listener'`
    await until(() => !server.listener.isListening(), 'the listener to notice it is down')
    await whileDown(sql)
  } finally {
    await admin.unsafe(`alter database "${name}" with allow_connections true`)
    await admin.end()
    sql.release()
  }
  await until(() => server.listener.isListening(), 'the listener to be back', 15_000)
}

describe('a member removed while the listener is down', () => {
  it('is closed with event: removed after the reconnect and never gets what was posted after the removal', async () => {
    const roomId = await privateRoom('outage-removal', ['bob', 'carol'])
    const bob = openStream(server.url, roomId, { token: await server.token('bob'), reconnect: false })
    const carol = openStream(server.url, roomId, { token: await server.token('carol'), reconnect: false })
    await Promise.all([bob.opened, carol.opened])
    await until(() => server.hub.subscriberCount(roomId) === 2, 'both streams to join')

    await withListenerDown(async (sql) => {
      await sql`delete from room_members where room_id = ${roomId} and user_id = 'bob'`
      await sql`insert into messages (room_id, user_id, user_name, body)
        values (${roomId}, 'owner', 'Owner', 'after bob left')`
    })

    await carol.waitFor(1)
    await until(() => bob.events.some((event) => event.type === 'removed'), 'bob to be told removed')
    expect(carol.messages.map((message) => message.body)).toEqual(['after bob left'])
    expect(bob.messages).toEqual([])
    expect(bob.events.filter((event) => event.type === 'removed').map((event) => event.data)).toEqual([
      JSON.stringify({ room_id: roomId }),
    ])
    bob.close()
    carol.close()
  })

  it('is closed on a multi-room stream too, which keeps nothing of the private room', async () => {
    const secret = await privateRoom('outage-multi-private', ['dave'])
    const open = await server.request('/rooms', {
      method: 'POST',
      body: JSON.stringify({ name: 'outage-multi-public' }),
      as: 'owner',
    })
    const lobby = ((await open.json()) as { id: number }).id
    const dave = openMultiStream(server.url, [lobby, secret], {
      token: await server.token('dave'),
      reconnect: false,
    })
    await dave.opened
    await until(() => server.hub.subscriberCount(secret) === 1, 'dave to join the private room')

    await withListenerDown(async (sql) => {
      await sql`delete from room_members where room_id = ${secret} and user_id = 'dave'`
      await sql`insert into messages (room_id, user_id, user_name, body)
        values (${secret}, 'owner', 'Owner', 'secret after dave left')`
    })

    await until(() => dave.events.some((event) => event.type === 'removed'), 'dave to be told removed')
    expect(dave.messages).toEqual([])
    dave.close()
  })
})
