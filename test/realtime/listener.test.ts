import { afterAll, describe, expect, it } from 'vitest'
import { deliveryFixtures } from '../support/delivery.js'
import { useTestServer } from '../support/fixtures.js'
import { range } from '../support/range.js'
import { createRoom } from '../support/server.js'
import { until } from '../support/wait.js'

// The LISTEN connection's life (src/realtime/listener.ts): killed, it reconnects, and the
// catch-up delivers what was committed while nobody listened.

const { server, database } = useTestServer({ env: { LISTENER_PROBE_MS: '500' } })
const { subscribeMany, waitForSubscribers, insertSql, closeStreams } = deliveryFixtures({
  server: () => server,
  database: () => database,
})

afterAll(async () => {
  closeStreams()
})

describe('the LISTEN connection', () => {
  it('loses nothing when the listener is killed while 4 writers insert 500 messages', async () => {
    const roomIds = [await createRoom(server, 'killed-a'), await createRoom(server, 'killed-b')]
    const watchers = await subscribeMany([...roomIds, ...roomIds, ...roomIds])
    for (const roomId of roomIds) await waitForSubscribers(roomId, 3)
    const writing = Promise.all([
      insertSql(roomIds[0]!, 125, 'w1'),
      insertSql(roomIds[0]!, 125, 'w2'),
      insertSql(roomIds[1]!, 125, 'w3'),
      insertSql(roomIds[1]!, 125, 'w4'),
    ])
    await until(() => watchers.every((stream) => stream.messages.length >= 10), 'some deliveries')
    const killed = await database.sql`
      select pg_terminate_backend(pid) from pg_stat_activity
      where datname = current_database() and application_name = 'parley-listener'`
    expect(killed.length).toBe(1)
    await writing
    for (const stream of watchers) await stream.waitFor(250, 15_000)

    // Rows committed while nobody listens raise no notification that arrives: only the
    // catch-up after the reconnect can deliver them.
    await until(() => server.listener.isListening(), 'the listener to be back')
    await database.sql.begin(async (tx) => {
      await tx`select pg_terminate_backend(pid) from pg_stat_activity
               where datname = current_database() and application_name = 'parley-listener'`
      await tx`insert into messages (room_id, user_id, user_name, body)
               select r, 'ops', 'Ops', 'while away' from unnest(${roomIds}::bigint[]) r, generate_series(1, 10)`
    })
    for (const stream of watchers) await stream.waitFor(260, 15_000)
    for (const stream of watchers) expect(stream.seqs()).toEqual(range(1, 260))
    expect(server.listener.reconnects()).toBeGreaterThanOrEqual(2)
  })
})
