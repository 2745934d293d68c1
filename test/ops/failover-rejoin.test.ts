import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Cluster, clusterTestsRun, startCluster } from '../../harness/cluster.js'
import type { TestDatabase } from '../support/database.js'
import { createRoom, postMessage, startTestServer, type TestServer } from '../support/server.js'
import { openStream, type StreamClient } from '../support/sse.js'
import { until } from '../support/wait.js'

// After a failover the old primary comes back as a standby of the promoted server, while
// Parley keeps serving. It is still the first host in DATABASE_URL, so every connection
// Parley makes afresh knocks on it first and must move on to the primary.

const runs = clusterTestsRun()
const ENV = { LISTENER_PROBE_MS: '500', RATE_LIMIT_MESSAGES: '0' }
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

interface Writers {
  /** Seqs whose insert was acknowledged: a 201 over HTTP, or a row returned to psql. */
  acknowledged: number[]
  stop(): Promise<void>
}

/** Posts over HTTP, alternating instances, and inserts with SQL, each every 20 ms until stopped. */
function startWriters(servers: TestServer[], sql: postgres.Sql, roomId: number): Writers {
  const acknowledged: number[] = []
  let writing = true
  const http = (async () => {
    for (let n = 0; writing; n++) {
      const response = await postMessage(servers[n % servers.length]!, roomId, `http ${n}`).catch(
        () => undefined,
      )
      if (response?.status === 201) acknowledged.push(((await response.json()) as { seq: number }).seq)
      await pause(20)
    }
  })()
  const psql = (async () => {
    for (let n = 0; writing; n++) {
      const rows = await insert(sql, roomId, `sql ${n}`).catch(() => undefined)
      if (rows?.[0]) acknowledged.push(Number(rows[0].seq))
      await pause(20)
    }
  })()
  return {
    acknowledged,
    async stop() {
      writing = false
      await Promise.all([http, psql])
    },
  }
}

function insert(sql: postgres.Sql, roomId: number, body: string) {
  return sql<{ seq: string }[]>`
    insert into messages (room_id, user_id, user_name, body)
    values (${roomId}, 'psql', 'psql', ${body}) returning seq`
}

/** Inserts one message on the server at `url` alone and waits until every stream has it. */
async function deliveredEverywhere(url: string, roomId: number, body: string, streams: StreamClient[]) {
  const sql = postgres(url, { max: 1, onnotice: () => {} })
  const [row] = await insert(sql, roomId, body).finally(() => sql.end({ timeout: 1 }))
  const seq = Number(row!.seq)
  await Promise.all(streams.map((stream) => until(() => stream.seqs().includes(seq), body, 15_000)))
  return seq
}

describe.skipIf(!runs)('the old primary rejoining as a standby', () => {
  let cluster: Cluster
  let database: TestDatabase
  const servers: TestServer[] = []

  beforeAll(async () => {
    cluster = await startCluster({ synchronous: true })
    const sql = postgres(cluster.url, { max: 2, target_session_attrs: 'primary', onnotice: () => {} })
    database = { url: cluster.url, sql, drop: () => sql.end({ timeout: 1 }) }
    servers.push(await startTestServer(database, ENV), await startTestServer(database, ENV))
  })

  afterAll(async () => {
    try {
      // Bounded: a server still waiting on a dead host must not keep the cluster running.
      await Promise.race([Promise.all(servers.map((server) => server.close())), pause(10_000)])
      await database?.drop()
    } finally {
      await cluster?.stop()
    }
  })

  it('loses and repeats nothing on any stream, and never settles on the rejoined server', async () => {
    const [a, b] = servers as [TestServer, TestServer]
    const roomId = await createRoom(a, 'rejoin')
    const token = await a.token('alice')
    const streams = [a, a, b, b].map((server) => openStream(server.url, roomId, { token }))
    await Promise.all(streams.map((stream) => stream.opened))
    const writers = startWriters(servers, database.sql, roomId)
    await Promise.all(streams.map((stream) => stream.waitFor(20)))

    await cluster.killPrimary()
    await pause(1_000)
    await cluster.promoteStandby()
    const promotedAt = Date.now()
    await deliveredEverywhere(cluster.standbyUrl, roomId, 'after promotion', streams)
    console.log(`failover-rejoin: promotion to every stream delivering again: ${Date.now() - promotedAt} ms`)

    const rejoining = Date.now()
    await cluster.rejoinOldPrimaryAsStandby()
    console.log(`failover-rejoin: the old primary streams again after ${Date.now() - rejoining} ms`)
    // A third instance starts now: its pools and its listener connect afresh, knocking on
    // the rejoined server first. It writes its settings at start, so on a standby it would
    // not start at all; it then takes its share of posts and streams like the others.
    const c = await startTestServer(database, ENV)
    servers.push(c)
    const late = [openStream(c.url, roomId, { token, lastEventId: 0 }), openStream(c.url, roomId, { token })]
    streams.push(...late)
    await Promise.all(late.map((stream) => stream.opened))
    const afterRejoin = await deliveredEverywhere(cluster.standbyUrl, roomId, 'after rejoining', streams)
    await until(() => c.listener.isReady(), 'the third listener ready', 15_000)
    await until(() => writers.acknowledged.some((seq) => seq > afterRejoin), 'a write acknowledged', 15_000)
    for (const server of servers)
      expect((await postMessage(server, roomId, 'through the pool')).status).toBe(201)
    await pause(1_000)
    await writers.stop()

    const last = await deliveredEverywhere(cluster.standbyUrl, roomId, 'the end', streams)
    // The second of the late streams started where the room was when it opened.
    const lateStart = late[1]!.seqs()[0]!
    const committed = (
      await database.sql<{ seq: string }[]>`select seq from messages where room_id = ${roomId} order by seq`
    ).map((row) => Number(row.seq))
    expect(committed.at(-1)).toBe(last)
    expect(writers.acknowledged.filter((seq) => !committed.includes(seq))).toEqual([])
    for (const stream of streams) {
      expect(stream.seqs()).toEqual(
        stream === late[1] ? committed.filter((seq) => seq >= lateStart) : committed,
      )
      stream.close()
    }

    // A connection attempt that meets the standby leaves within milliseconds; one Parley
    // kept would have been there since before the marker.
    const rejoined = postgres(cluster.primaryUrl, { max: 1, onnotice: () => {} })
    try {
      const [state] = await rejoined<{ standby: boolean; parley: number }[]>`
        select pg_is_in_recovery() as standby,
          (select count(*)::int from pg_stat_activity
           where application_name like 'parley%' and backend_start < now() - interval '1 second') as parley`
      expect(state).toEqual({ standby: true, parley: 0 })
    } finally {
      await rejoined.end({ timeout: 1 })
    }
  })
})
