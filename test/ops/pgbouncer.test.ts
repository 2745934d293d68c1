import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config.js'
import type { Message } from '../../src/wire.js'
import { useTestDatabase } from '../support/fixtures.js'
import { type PgBouncer, pgbouncerTestsRun, startPgBouncer } from '../support/pgbouncer.js'
import { startParleyProcess } from '../support/process.js'
import { createRoom, postMessage, startTestServer, type TestServer } from '../support/server.js'
import { openStream, type StreamClient } from '../support/sse.js'

// Parley with its pools behind a stock PgBouncer in transaction mode and its LISTEN
// connection on PostgreSQL directly; and refusing to start when LISTEN would go through it.

describe.runIf(pgbouncerTestsRun())('behind PgBouncer in transaction mode', () => {
  const database = useTestDatabase()
  let bouncer: PgBouncer
  let server: TestServer
  /** A second instance on the same pooler: streams and writers on both. */
  let other: TestServer
  const streams: StreamClient[] = []

  beforeAll(async () => {
    bouncer = await startPgBouncer(database.url)
    const env = { DATABASE_POOLER: 'transaction', LISTEN_DATABASE_URL: database.url }
    server = await startTestServer({ ...database, url: bouncer.url }, env)
    other = await startTestServer({ ...database, url: bouncer.url }, env)
  })
  afterAll(async () => {
    for (const stream of streams) stream.close()
    await Promise.all([server?.close(), other?.close()])
    await bouncer?.stop()
  })

  async function subscribe(roomId: number, as: string, on = server) {
    const stream = openStream(on.url, roomId, { token: await on.token(as) })
    streams.push(stream)
    await stream.opened
    return stream
  }

  it('delivers posts over HTTP on two instances and rows inserted with psql exactly once, in order', async () => {
    const roomId = await createRoom(server, 'pooled')
    const subscribers = await Promise.all(
      [server, server, other, other].map((on, i) => subscribe(roomId, `reader${i}`, on)),
    )
    // Posts from several people on both instances, and psql inserts, all at once, keep
    // several pool connections, and so several server connections of PgBouncer, busy.
    const http = Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        postMessage(i % 2 ? other : server, roomId, `http ${i}`, `poster${i % 8}`),
      ),
    )
    const psql = (async () => {
      for (let i = 0; i < 10; i++) {
        await database.sql`
          insert into messages (room_id, user_id, user_name, body) values (${roomId}, 'ops', 'Ops', ${`psql ${i}`})`
      }
    })()
    const [posted] = await Promise.all([http, psql])
    expect(posted.map((response) => response.status)).toEqual(Array(40).fill(201))
    expect((await postMessage(other, roomId, 'marker')).status).toBe(201)
    const all = Array.from({ length: 51 }, (_, i) => i + 1)
    for (const stream of subscribers) {
      await stream.waitFor(51)
      // Nothing lost, nothing twice, in order, on every stream of both instances.
      expect(stream.seqs()).toEqual(all)
      expect(stream.messages.at(-1)!.body).toBe('marker')
    }
  })

  it('leaves no prepared statement on the server connections PgBouncer shares', async () => {
    const roomId = await createRoom(server, 'prepared')
    const stream = await subscribe(roomId, 'alice')
    await Promise.all(Array.from({ length: 20 }, (_, i) => postMessage(server, roomId, `m${i}`, `p${i}`)))
    expect((await server.request('/rooms')).status).toBe(200)
    await stream.waitFor(20)
    expect(await preparedOnServerConnections(bouncer.url)).toEqual(Array(POOL_SIZE).fill(0))
  })

  it('answers search, the lobby and history through the pooler', async () => {
    const roomId = await createRoom(server, 'searchable')
    for (const body of ['the quick brown fox', 'a lazy dog', 'another quick fox']) {
      expect((await postMessage(server, roomId, body)).status).toBe(201)
    }
    const search = await server.request(`/search?q=fox&room=${roomId}&sort=recent`)
    expect(search.status).toBe(200)
    const { results } = (await search.json()) as { results: { message: Message }[] }
    expect(results.map((result) => result.message.body)).toEqual(['another quick fox', 'the quick brown fox'])

    const lobby = await server.request('/rooms')
    expect(lobby.status).toBe(200)
    const { rooms } = (await lobby.json()) as { rooms: { id: number }[] }
    expect(rooms.map((room) => room.id)).toContain(roomId)

    const history = await server.request(`/rooms/${roomId}/messages`)
    expect(history.status).toBe(200)
    const { messages } = (await history.json()) as { messages: Message[] }
    expect(messages.map((message) => message.body)).toEqual([
      'the quick brown fox',
      'a lazy dog',
      'another quick fox',
    ])
  })

  it('is refused by PgBouncer without DATABASE_POOLER=transaction', async () => {
    await expect(
      startTestServer({ ...database, url: bouncer.url }, { LISTEN_DATABASE_URL: database.url }),
    ).rejects.toThrow(/unsupported startup parameter: jit/)
  })

  it('refuses to start, naming LISTEN_DATABASE_URL, when LISTEN would go through the pooler', async () => {
    const started = startParleyProcess(bouncer.url, {
      DATABASE_POOLER: 'transaction',
      LISTEN_DATABASE_URL: bouncer.url,
      MIGRATE_ON_START: 'false',
    })
    await expect(started).rejects.toThrow(/exited \{"code":1,"signal":null\} before listening/)
    await expect(started).rejects.toThrow(
      /Refusing to start: LISTEN on 127\.0\.0\.1:\d+\/parley_test_\w+ heard nothing.*set LISTEN_DATABASE_URL/,
    )
  })

  it('starts as a process, migrating on the direct address, with the pool through the pooler', async () => {
    const parley = await startParleyProcess(bouncer.url, {
      DATABASE_POOLER: 'transaction',
      LISTEN_DATABASE_URL: database.url,
    })
    try {
      const ready = await fetch(`${parley.url}/readyz`)
      expect(ready.status).toBe(200)
    } finally {
      await parley.stop()
    }
  })
})

/** PgBouncer's default_pool_size: at most this many server connections per database and user. */
const POOL_SIZE = 20

/**
 * The protocol-level prepared statements of every server connection of PgBouncer's pool:
 * POOL_SIZE transactions held open at once get every one of them (new ones hold none).
 */
async function preparedOnServerConnections(url: string): Promise<number[]> {
  const sql = postgres(url, { max: POOL_SIZE, prepare: false, fetch_types: false, onnotice: () => {} })
  let arrived = 0
  let release = () => {}
  const all = new Promise<void>((resolve) => (release = resolve))
  try {
    return await Promise.all(
      Array.from({ length: POOL_SIZE }, () =>
        sql.begin(async (tx) => {
          const [row] = await tx<{ n: number }[]>`
            select count(*)::int as n from pg_prepared_statements where not from_sql`
          if (++arrived === POOL_SIZE) release()
          await all
          return row!.n
        }),
      ),
    )
  } finally {
    await sql.end({ timeout: 1 })
  }
}

describe('the pooler settings', () => {
  it('refuse DATABASE_POOLER=transaction without a direct LISTEN_DATABASE_URL', () => {
    expect(() =>
      loadConfig({ DATABASE_URL: 'postgres://parley@pooler:6432/parley', DATABASE_POOLER: 'transaction' }),
    ).toThrow('Refusing to start: DATABASE_POOLER=transaction needs LISTEN_DATABASE_URL')
  })

  it('refuse LISTEN_DATABASE_URL without DATABASE_URL', () => {
    expect(() => loadConfig({ LISTEN_DATABASE_URL: 'postgres://parley@db:5432/parley' })).toThrow(
      'Invalid configuration: LISTEN_DATABASE_URL needs DATABASE_URL',
    )
  })
})
