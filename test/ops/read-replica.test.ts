import { execFile } from 'node:child_process'
import { dirname, join } from 'node:path'
import { promisify } from 'node:util'
import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Cluster, clusterTestsRun, postgresBinaries, startCluster } from '../../harness/cluster.js'
import type { Message } from '../../src/wire.js'
import type { TestDatabase } from '../support/database.js'
import { samples, scrape, single } from '../support/metrics.js'
import { createRoom, postMessage, startTestServer, type TestServer } from '../support/server.js'
import { openStream } from '../support/sse.js'
import { until } from '../support/wait.js'

// A primary and an asynchronous streaming standby of the machine's PostgreSQL; Parley writes
// to the primary and is given the standby as READ_DATABASE_URL.

const runs = clusterTestsRun()
const run = promisify(execFile)
const LAG_BOUND_MS = 1_500

/** The read pool's counters, from /metrics. */
async function figures(server: TestServer) {
  const text = await scrape(server)
  const fallbacks = (reason: string) =>
    samples(text, 'parley_replica_fallbacks_total').find((sample) => sample.labels.reason === reason)
      ?.value ?? 0
  return {
    served: single(text, 'parley_replica_reads_total'),
    behind: fallbacks('behind'),
    down: fallbacks('down'),
  }
}

async function replicaGauge(server: TestServer, name: string): Promise<number | undefined> {
  return samples(await scrape(server), name).find((sample) => sample.labels.replica === '1')?.value
}

async function getJson<T>(server: TestServer, path: string, as = 'alice'): Promise<T> {
  const response = await server.request(path, { as })
  expect(response.status, `GET ${path}`).toBe(200)
  return (await response.json()) as T
}

interface Page {
  messages: Message[]
  cursor: number
}

describe.skipIf(!runs)('read replicas', () => {
  let cluster: Cluster
  let database: TestDatabase
  let standby: postgres.Sql
  let server: TestServer
  /** A second instance on the same primary and standby. */
  let other: TestServer

  /** Resolves once the standby has replayed all the primary has written, and Parley's probe saw it. */
  async function caughtUp() {
    const [{ lsn }] = (await database.sql`select pg_current_wal_lsn()::text as lsn`) as unknown as [
      { lsn: string },
    ]
    await until(async () => {
      const [row] = await standby`select pg_last_wal_replay_lsn() >= ${lsn}::pg_lsn as done`
      return row?.done === true
    }, 'the standby to replay')
    await until(
      async () => (await replicaGauge(server, 'parley_replica_lag_bytes')) === 0,
      'the probe to find the standby caught up',
    )
  }

  async function post(roomId: number, body: string, as = 'alice'): Promise<Message> {
    const response = await postMessage(server, roomId, body, as)
    expect(response.status).toBe(201)
    return (await response.json()) as Message
  }

  beforeAll(async () => {
    cluster = await startCluster({ synchronous: false })
    const sql = postgres(cluster.primaryUrl, { max: 2, onnotice: () => {} })
    database = { url: cluster.primaryUrl, sql, drop: () => sql.end({ timeout: 1 }) }
    standby = postgres(cluster.standbyUrl, { max: 1, onnotice: () => {} })
    const env = {
      READ_DATABASE_URL: cluster.standbyUrl,
      READ_MAX_LAG_MS: String(LAG_BOUND_MS),
      RATE_LIMIT_MESSAGES: '0',
    }
    server = await startTestServer(database, env)
    other = await startTestServer(database, env)
    await until(async () => (await replicaGauge(server, 'parley_replica_up')) === 1, 'the standby to be up')
  })

  afterAll(async () => {
    try {
      await Promise.all([server?.close(), other?.close()])
      await standby?.end({ timeout: 1 })
      await database?.drop()
    } finally {
      await cluster?.stop()
    }
  })

  it('serves history, reactions, the lobby, mentions and search from the standby while it replays', async () => {
    const roomId = await createRoom(server, 'replicated')
    // Bob posts first: a mention counts for someone the room knows.
    await post(roomId, 'bob arrives', 'bob')
    const first = await post(roomId, 'first words on the replica')
    await post(roomId, 'hello @bob from the replica')
    const put = await server.request(`/rooms/${roomId}/messages/${first.seq}/reactions/%F0%9F%91%8D`, {
      method: 'PUT',
    })
    expect(put.status).toBe(200)
    await caughtUp()

    const before = await figures(server)
    const page = await getJson<Page>(server, `/rooms/${roomId}/messages`)
    expect(page.messages.map((message) => message.seq)).toEqual([1, 2, 3])
    const again = await getJson<Page>(server, `/rooms/${roomId}/messages?min_cursor=${page.cursor}`)
    expect(again).toEqual(page)
    const reactions = await getJson<{ reactions: { emoji: string }[] }>(
      server,
      `/rooms/${roomId}/messages/${first.seq}/reactions`,
    )
    expect(reactions.reactions.map((reaction) => reaction.emoji)).toEqual(['👍'])
    const lobby = await getJson<{ rooms: { id: number }[] }>(server, '/rooms')
    expect(lobby.rooms.map((room) => room.id)).toContain(roomId)
    const mentions = await getJson<{ mentions: unknown[] }>(server, '/mentions', 'bob')
    expect(mentions.mentions).toHaveLength(1)
    const found = await getJson<{ results: unknown[] }>(server, `/search?q=replica&room=${roomId}`)
    expect(found.results).toHaveLength(2)

    const after = await figures(server)
    expect({ served: after.served - before.served, behind: after.behind, down: after.down }).toEqual({
      served: 6,
      behind: before.behind,
      down: before.down,
    })
    const onStandby = await standby<{ application_name: string }[]>`
      select distinct application_name from pg_stat_activity where datname = 'parley' order by 1`
    expect(onStandby.map((row) => row.application_name)).toEqual(
      expect.arrayContaining(['parley-read', 'parley-search']),
    )
  })

  it('delivers live on two instances while replay is paused, and no page trails a stream', async () => {
    const roomId = await createRoom(server, 'paused-live')
    const streams = await Promise.all(
      [server, server, other, other].map(async (on, i) => {
        const stream = openStream(on.url, roomId, { token: await on.token(`watcher${i}`) })
        await stream.opened
        return { on, stream }
      }),
    )
    await standby`select pg_wal_replay_pause()`
    try {
      // HTTP posts on both instances and psql inserts, at once, none of them on the standby.
      const http = Promise.all(
        Array.from({ length: 20 }, (_, i) => postMessage(i % 2 ? other : server, roomId, `http ${i}`)),
      )
      const psql = (async () => {
        for (let i = 0; i < 10; i++) {
          await database.sql`insert into messages (room_id, user_id, user_name, body)
            values (${roomId}, 'ops', 'Ops', ${`psql ${i}`})`
        }
      })()
      const [posted] = await Promise.all([http, psql])
      expect(posted.map((response) => response.status)).toEqual(Array(20).fill(201))
      const all = Array.from({ length: 30 }, (_, i) => i + 1)
      for (const { on, stream } of streams) {
        await stream.waitFor(30)
        expect(stream.seqs()).toEqual(all)
        // The page a client asks for with its stream's cursor is never older than the stream.
        const page = await getJson<Page>(on, `/rooms/${roomId}/messages?min_cursor=${stream.lastEventId()}`)
        expect(page.messages.at(-1)?.seq).toBe(30)
        stream.close()
      }
    } finally {
      await standby`select pg_wal_replay_resume()`
    }
  })

  it('answers a read the paused standby is behind on from the primary, never with an older page', async () => {
    const roomId = await createRoom(server, 'paused')
    await post(roomId, 'one')
    await post(roomId, 'two')
    await caughtUp()
    const held = await getJson<Page>(server, `/rooms/${roomId}/messages`)
    expect(held.messages.map((message) => message.seq)).toEqual([1, 2])

    await standby`select pg_wal_replay_pause()`
    await until(async () => {
      const [row] = await standby`select pg_get_wal_replay_pause_state() as state`
      return row?.state === 'paused'
    }, 'replay to pause')
    try {
      // The client follows the room's stream from the page it holds, so it holds what the
      // stream delivers: messages the standby has not replayed.
      const stream = openStream(server.url, roomId, {
        token: await server.token('alice'),
        lastEventId: held.cursor,
      })
      await post(roomId, 'three')
      const fourth = await post(roomId, 'four')
      await stream.waitFor(2)
      stream.close()
      const newest = Number(stream.lastEventId())

      const before = await figures(server)
      const fresh = await getJson<Page>(server, `/rooms/${roomId}/messages?min_cursor=${newest}`)
      expect({ seqs: fresh.messages.map((message) => message.seq), cursor: fresh.cursor }).toEqual({
        seqs: [1, 2, 3, 4],
        cursor: newest,
      })
      const forward = await getJson<Page>(server, `/rooms/${roomId}/messages?after=3`)
      expect(forward.messages.map((message) => message.seq)).toEqual([4])
      const reactions = await getJson<{ reactions: unknown[] }>(
        server,
        `/rooms/${roomId}/messages/${fourth.seq}/reactions`,
      )
      expect(reactions.reactions).toEqual([])
      // What the standby has, it still serves: the client named no newer position.
      const old = await getJson<Page>(server, `/rooms/${roomId}/messages?min_cursor=${held.cursor}`)
      expect(old).toEqual(held)
      const after = await figures(server)
      expect({ served: after.served - before.served, behind: after.behind - before.behind }).toEqual({
        served: 1,
        behind: 3,
      })

      // Without a position, past the lag bound: the lobby comes from the primary.
      await until(async () => {
        const lobby = await getJson<{ rooms: { id: number; last_seq: number }[] }>(server, '/rooms')
        return lobby.rooms.find((room) => room.id === roomId)?.last_seq === 4
      }, 'the lobby to show the newest messages')
      expect((await figures(server)).behind).toBeGreaterThan(after.behind)
    } finally {
      await standby`select pg_wal_replay_resume()`
    }
    await caughtUp()
    const before = await figures(server)
    await getJson(server, '/rooms')
    expect((await figures(server)).served).toBe(before.served + 1)
  })

  it('answers every read from the primary while the standby is stopped, and uses it again once back', async () => {
    const roomId = await createRoom(server, 'standby stopped')
    const message = await post(roomId, 'still here @bob')
    await caughtUp()
    const [{ data_directory: dataDir }] = (await standby`show data_directory`) as unknown as [
      { data_directory: string },
    ]
    const reads = [
      `/rooms/${roomId}/messages`,
      `/rooms/${roomId}/messages?min_cursor=${message.seq}`,
      `/rooms/${roomId}/messages/${message.seq}/reactions`,
      '/rooms',
      '/mentions',
      `/search?q=still&room=${roomId}`,
    ]
    const statuses = new Set<number>()
    let reading = true
    const reader = (async () => {
      while (reading) {
        for (const path of reads) statuses.add((await server.request(path, { as: 'bob' })).status)
      }
    })()
    // Read throughout the shutdown: connections it ends, then connections it refuses.
    await pgCtl(['-D', dataDir, '-m', 'fast', '-w', 'stop'])
    await until(async () => (await replicaGauge(server, 'parley_replica_up')) === 0, 'the standby to be down')
    reading = false
    await reader
    expect([...statuses]).toEqual([200])

    const before = await figures(server)
    for (const path of reads) expect((await server.request(path, { as: 'bob' })).status, path).toBe(200)
    const after = await figures(server)
    expect({ served: after.served, down: after.down - before.down }).toEqual({
      served: before.served,
      down: reads.length,
    })

    await pgCtl(['-D', dataDir, '-l', join(dirname(dataDir), 'standby-again.log'), '-w', 'start'])
    await until(async () => (await replicaGauge(server, 'parley_replica_up')) === 1, 'the standby to be back')
    await caughtUp()
    await getJson(server, '/rooms')
    expect((await figures(server)).served).toBe(after.served + 1)
  })
})

/** pg_ctl of the cluster's PostgreSQL, as the postgres user when we are root. */
async function pgCtl(args: string[]): Promise<void> {
  const path = join(postgresBinaries ?? '', 'pg_ctl')
  await (process.getuid?.() === 0 ? run('runuser', ['-u', 'postgres', '--', path, ...args]) : run(path, args))
}
