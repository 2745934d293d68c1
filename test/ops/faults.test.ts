import { chmod, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { EventSource } from 'eventsource'
import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { databaseUrl, type EmbeddedDatabase, startEmbeddedPostgres } from '../../src/db/embedded.js'
import { runMigrations } from '../../src/db/migrate.js'
import type { TestDatabase } from '../support/database.js'
import { useTestServer } from '../support/fixtures.js'
import { range } from '../support/range.js'
import { createRoom, errorCode, postMessage, startTestServer, type TestServer } from '../support/server.js'
import { until } from '../support/wait.js'

interface Watcher {
  seqs: number[]
  /** How many times the stream opened: more than 1 means EventSource reconnected. */
  opens(): number
  opened: Promise<void>
  close(): void
}

/** A real SSE client that also counts its (re)connections, which test/support's client does not expose. */
function watch(baseUrl: string, roomId: number, token: string): Watcher {
  const source = new EventSource(`${baseUrl}/rooms/${roomId}/stream`, {
    fetch: (input, init) => {
      const headers = new Headers(init?.headers)
      headers.set('authorization', `Bearer ${token}`)
      return fetch(input, { ...init, headers })
    },
  })
  const seqs: number[] = []
  let opens = 0
  source.addEventListener('message', (event) => seqs.push((JSON.parse(event.data) as { seq: number }).seq))
  const opened = new Promise<void>((resolve) => {
    source.addEventListener('open', () => {
      opens++
      resolve()
    })
  })
  return { seqs, opens: () => opens, opened, close: () => source.close() }
}

async function watchRoom(server: TestServer, roomId: number, count: number, watchers: Watcher[]) {
  const token = await server.token('watcher')
  const opened = range(1, count).map(() => watch(server.url, roomId, token))
  watchers.push(...opened)
  await Promise.all(opened.map((watcher) => watcher.opened))
  await until(() => server.hub.subscriberCount(roomId) === count, `${count} subscribers`)
  return opened
}

async function status(server: TestServer, path: string) {
  return (await server.request(path, { as: null })).status
}

/** Posts and measures how long the answer took; the request is aborted after `limitMs`. */
async function timedPost(server: TestServer, roomId: number, body: string, limitMs: number) {
  const started = Date.now()
  const response = await server.request(`/rooms/${roomId}/messages`, {
    method: 'POST',
    body: JSON.stringify({ body }),
    signal: AbortSignal.timeout(limitMs),
  })
  return { status: response.status, code: await errorCode(response), ms: Date.now() - started }
}

describe('a PostgreSQL restart under a running server', () => {
  const APP_ROLE = 'parley_app'
  let root: string
  let dir: string
  let embedded: EmbeddedDatabase
  let database: TestDatabase
  let server: TestServer
  const watchers: Watcher[] = []

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'parley-faults-pg-'))
    // As root, PostgreSQL runs as the postgres user and must reach the directory.
    await chmod(root, 0o755)
    dir = join(root, 'pg')
    embedded = await startEmbeddedPostgres({ dir, persistent: true })
    const admin = postgres(embedded.url, { max: 1, onnotice: () => {} })
    // The server logs in as its own role, so the test can hold it off after the restart.
    await admin.unsafe(`create role ${APP_ROLE} login superuser password '${APP_ROLE}'`)
    await admin.unsafe('create database parley_faults')
    await admin.end()
    const ownerUrl = databaseUrl(embedded.url, 'parley_faults')
    await runMigrations(ownerUrl)
    const appUrl = new URL(ownerUrl)
    appUrl.username = APP_ROLE
    appUrl.password = APP_ROLE
    const sql = postgres(ownerUrl, { max: 2, onnotice: () => {} })
    database = { url: appUrl.toString(), sql, drop: () => sql.end({ timeout: 1 }) }
    server = await startTestServer(database, { LISTENER_PROBE_MS: '300' })
  })

  afterAll(async () => {
    for (const watcher of watchers) watcher.close()
    await server?.close()
    await database?.drop()
    await embedded?.stop()
    if (root) await rm(root, { recursive: true, force: true })
  })

  it('answers 503 while PostgreSQL is down and, after it restarts, delivers every message once to the same streams', async () => {
    const roomId = await createRoom(server, 'restart')
    const streams = await watchRoom(server, roomId, 2, watchers)
    expect((await postMessage(server, roomId, 'before the outage')).status).toBe(201)
    await until(() => streams.every((stream) => stream.seqs.length === 1), 'the first message')

    // Existing sessions keep working; only new logins of the server's role are refused.
    await database.sql.unsafe(`alter role ${APP_ROLE} nologin`)
    const port = embedded.port
    await embedded.stop()

    expect(await status(server, '/healthz')).toBe(200)
    expect(await status(server, '/readyz')).toBe(503)
    for (let attempt = 1; attempt <= 3; attempt++) {
      const answer = await timedPost(server, roomId, `during the outage ${attempt}`, 6_000)
      expect(answer).toMatchObject({ status: 503, code: 'database_unavailable' })
      expect(answer.ms).toBeLessThan(6_000)
    }
    const listing = await server.request(`/rooms/${roomId}/messages`)
    expect(listing.status).toBe(503)
    expect(await errorCode(listing)).toBe('database_unavailable')

    embedded = await startEmbeddedPostgres({ dir, port, persistent: true })
    // While the server's role cannot log in, its listener is certainly still reconnecting:
    // these rows raise notifications nobody hears, so only the catch-up can deliver them.
    const direct = postgres(databaseUrl(embedded.url, 'parley_faults'), { max: 1, onnotice: () => {} })
    try {
      for (let i = 1; i <= 3; i++) {
        await direct`insert into messages (room_id, user_id, user_name, body) values (${roomId}, 'ops', 'Ops', ${`while reconnecting ${i}`})`
      }
      expect(server.listener.isListening()).toBe(false)
      await direct.unsafe(`alter role ${APP_ROLE} login`)
    } finally {
      await direct.end()
    }

    await until(async () => (await status(server, '/readyz')) === 200, 'readiness after the restart', 15_000)
    // Before anything new is posted: a later notification would deliver these rows too.
    await until(() => streams.every((stream) => stream.seqs.length >= 4), 'the caught-up rows', 10_000)
    for (let i = 1; i <= 3; i++) {
      expect((await postMessage(server, roomId, `after the restart ${i}`)).status).toBe(201)
    }
    await until(() => streams.every((stream) => stream.seqs.length >= 7), 'all 7 messages', 10_000)
    for (const stream of streams) {
      expect(stream.seqs).toEqual(range(1, 7))
      expect(stream.opens()).toBe(1)
    }
    expect(server.hub.subscriberCount(roomId)).toBe(2)
    expect(server.listener.reconnects()).toBeGreaterThanOrEqual(1)
  })
})

describe('every server backend terminated', () => {
  const { server, database } = useTestServer({ env: { LISTENER_PROBE_MS: '300' } })
  const databaseName = () => new URL(database.url).pathname.slice(1)
  const watchers: Watcher[] = []

  afterAll(() => {
    for (const watcher of watchers) watcher.close()
  })

  it('recovers readiness and keeps its streams when the pool and the listener are all killed', async () => {
    const roomId = await createRoom(server, 'terminated')
    const streams = await watchRoom(server, roomId, 2, watchers)
    for (let i = 1; i <= 2; i++) expect((await postMessage(server, roomId, `before ${i}`)).status).toBe(201)
    await until(() => streams.every((stream) => stream.seqs.length === 2), 'the first messages')

    // The database refuses new connections until the rows below are committed, so the
    // listener is certainly still reconnecting then: only the catch-up can deliver them.
    const direct = await database.sql.reserve()
    const admin = postgres(inject('adminUrl'), { max: 1, onnotice: () => {} })
    let killed: { application_name: string; gone: boolean }[]
    try {
      await admin.unsafe(`alter database "${databaseName()}" allow_connections false`)
      killed = await direct<{ application_name: string; gone: boolean }[]>`
        select application_name, pg_terminate_backend(pid, 5000) as gone from pg_stat_activity
        where datname = current_database() and application_name like 'parley%' and pid <> pg_backend_pid()`
      await direct`insert into messages (room_id, user_id, user_name, body)
                   select ${roomId}, 'ops', 'Ops', 'while everything was down' from generate_series(1, 3)`
      expect(server.listener.isListening()).toBe(false)
    } finally {
      await admin.unsafe(`alter database "${databaseName()}" allow_connections true`)
      await admin.end()
      direct.release()
    }
    expect(killed.filter((row) => row.application_name === 'parley-listener')).toEqual([
      { application_name: 'parley-listener', gone: true },
    ])
    expect(killed.filter((row) => row.application_name === 'parley').length).toBeGreaterThanOrEqual(1)
    expect(killed.filter((row) => !row.gone)).toEqual([])

    await until(async () => (await status(server, '/readyz')) === 200, 'readiness after the kill', 10_000)
    // Before anything new is posted: a later notification would deliver these rows too.
    await until(() => streams.every((stream) => stream.seqs.length >= 5), 'the caught-up rows', 10_000)
    for (let i = 1; i <= 2; i++) expect((await postMessage(server, roomId, `after ${i}`)).status).toBe(201)
    await until(() => streams.every((stream) => stream.seqs.length >= 7), 'all 7 messages', 10_000)
    for (const stream of streams) {
      expect(stream.seqs).toEqual(range(1, 7))
      expect(stream.opens()).toBe(1)
    }
    const [activity] = await database.sql<{ listeners: number }[]>`
      select count(*)::int as listeners from pg_stat_activity
      where datname = current_database() and application_name = 'parley-listener'`
    expect(activity!.listeners).toBe(1)
  })
})
