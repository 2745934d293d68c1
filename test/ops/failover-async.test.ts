import { EventSource } from 'eventsource'
import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Cluster, clusterTestsRun, startCluster } from '../../harness/cluster.js'
import type { TestDatabase } from '../support/database.js'
import { createRoom, postMessage, startTestServer, type TestServer } from '../support/server.js'
import { until } from '../support/wait.js'

// With asynchronous replication a promoted standby may lack the last commits, whose cursors
// clients already saw; the new primary then numbers its next changes with those cursors.
// Here the standby stops receiving, three messages are posted and delivered in one room,
// and the primary dies: every stream of that room must get `reload` and then exactly the
// new primary's history, and every stream of the other room nothing but its messages.

const runs = clusterTestsRun()
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

interface Recorder {
  /** `reload <data>` and `<room> <body>` entries, in arrival order. */
  seen: string[]
  close(): void
}

async function record(server: TestServer, path: string, as: string): Promise<Recorder> {
  const seen: string[] = []
  const token = await server.token(as)
  const source = new EventSource(`${server.url}${path}`, {
    fetch: (input, init) => {
      const headers = new Headers(init?.headers)
      headers.set('authorization', `Bearer ${token}`)
      return fetch(input, { ...init, headers })
    },
  })
  source.addEventListener('message', (event) => {
    const data = JSON.parse(event.data) as { room_id: number; body: string }
    seen.push(`${data.room_id} ${data.body}`)
  })
  source.addEventListener('reload', (event) => seen.push(`reload ${event.data}`))
  await new Promise<void>((resolve) => source.addEventListener('open', () => resolve(), { once: true }))
  return { seen, close: () => source.close() }
}

describe.skipIf(!runs)('failover with asynchronous replication that loses the last commits', () => {
  let cluster: Cluster
  let database: TestDatabase
  const servers: TestServer[] = []

  beforeAll(async () => {
    cluster = await startCluster({ synchronous: false })
    const sql = postgres(cluster.url, { max: 2, target_session_attrs: 'primary', onnotice: () => {} })
    database = { url: cluster.url, sql, drop: () => sql.end({ timeout: 1 }) }
    const env = { LISTENER_PROBE_MS: '300' }
    servers.push(await startTestServer(database, env), await startTestServer(database, env))
  }, 60_000)

  afterAll(async () => {
    try {
      await Promise.race([Promise.all(servers.map((server) => server.close())), pause(10_000)])
      await database?.drop()
    } finally {
      await cluster?.stop()
    }
  })

  it('sends reload to exactly the streams of the room whose delivered changes were lost', async () => {
    const [a, b] = servers as [TestServer, TestServer]
    const lossy = await createRoom(a, 'lossy')
    const kept = await createRoom(a, 'kept')
    const post = async (server: TestServer, roomId: number, body: string) => {
      const response = await postMessage(server, roomId, body, 'alice')
      expect(response.status).toBe(201)
    }
    await post(a, lossy, 'l1')
    await post(a, kept, 'k1')
    // Opened without a position, the streams start live: l1 and k1 are before them.

    const streams = {
      lossyA: await record(a, `/rooms/${lossy}/stream`, 'reader'),
      lossyB: await record(b, `/rooms/${lossy}/stream`, 'reader'),
      keptB: await record(b, `/rooms/${kept}/stream`, 'reader'),
      bothA: await record(a, `/stream?rooms=${lossy},${kept}`, 'reader'),
    }
    await post(b, lossy, 'l2')
    await post(b, kept, 'k2')
    await until(
      () => Object.values(streams).every((stream) => stream.seen.length >= 1),
      'the first deliveries',
    )
    await until(() => streams.bothA.seen.length === 2, 'both rooms on the multi-room stream')

    // The standby has everything so far, then stops receiving: what follows exists only on the primary.
    const standby = postgres(cluster.standbyUrl, { max: 1, onnotice: () => {} })
    const primary = postgres(cluster.primaryUrl, { max: 1, onnotice: () => {} })
    try {
      const [{ lsn }] = (await primary`select pg_current_wal_lsn()::text as lsn`) as unknown as [
        { lsn: string },
      ]
      await until(async () => {
        const [row] = await standby<{ caught: boolean }[]>`
          select pg_last_wal_replay_lsn() >= ${lsn}::pg_lsn as caught`
        return row!.caught
      }, 'the standby to replay everything so far')
      await standby`alter system set primary_conninfo = ''`
      await standby`select pg_reload_conf()`
      await until(async () => {
        const [row] = await standby<{ n: number }[]>`select count(*)::int as n from pg_stat_wal_receiver`
        return row!.n === 0
      }, 'the standby to stop receiving')
    } finally {
      await primary.end({ timeout: 1 })
    }
    const [before] = await database.sql<
      { cursor: string }[]
    >`select last_cursor as cursor from rooms where id = ${lossy}`
    for (const body of ['lost 1', 'lost 2', 'lost 3']) await post(a, lossy, body)
    await until(
      () =>
        [streams.lossyA, streams.lossyB, streams.bothA].every((s) =>
          s.seen.some((e) => e.endsWith('lost 3')),
        ),
      'the doomed messages delivered',
    )

    await cluster.killPrimary()
    await cluster.promoteStandby()
    const promotedAt = Date.now()
    try {
      // The new primary numbers its next changes of the lossy room with the lost cursors.
      for (const body of ['new 1', 'new 2']) {
        await standby`insert into messages (room_id, user_id, user_name, body) values (${lossy}, 'psql', 'psql', ${body})`
      }
      await standby`insert into messages (room_id, user_id, user_name, body) values (${kept}, 'psql', 'psql', 'k3')`
    } finally {
      await standby.end({ timeout: 1 })
    }
    await post(a, lossy, 'new 3')
    await post(b, kept, 'k4')

    const reload = `reload {"room_id":${lossy},"reason":"history_changed","cursor":${Number(before!.cursor)}}`
    const lossyRoom = [`${lossy} l2`, `${lossy} lost 1`, `${lossy} lost 2`, `${lossy} lost 3`, reload]
    const lossyAfter = [`${lossy} new 1`, `${lossy} new 2`, `${lossy} new 3`]
    const keptRoom = [`${kept} k2`, `${kept} k3`, `${kept} k4`]
    await until(
      () =>
        streams.keptB.seen.length === 3 &&
        [streams.lossyA, streams.lossyB].every((stream) => stream.seen.length === 8) &&
        streams.bothA.seen.length === 11,
      'every stream to deliver after the promotion',
      20_000,
    ).catch(() => {})
    console.log(`async failover: promotion to every stream delivering again: ${Date.now() - promotedAt} ms`)

    // On the multi-room stream the kept room's changes interleave; each room's own order is exact.
    const of = (seen: string[], roomId: number) =>
      seen.filter((entry) => entry.startsWith(`${roomId} `) || entry.includes(`"room_id":${roomId},`))
    expect(streams.lossyA.seen).toEqual([...lossyRoom, ...lossyAfter])
    expect(streams.lossyB.seen).toEqual([...lossyRoom, ...lossyAfter])
    expect(of(streams.bothA.seen, lossy)).toEqual([...lossyRoom, ...lossyAfter])
    expect(of(streams.bothA.seen, kept)).toEqual(keptRoom)
    expect(streams.bothA.seen).toHaveLength(11)
    expect(streams.keptB.seen).toEqual(keptRoom)
    for (const stream of Object.values(streams)) stream.close()
  }, 90_000)
})
