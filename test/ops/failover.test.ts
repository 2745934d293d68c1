import { OpenAPIHono } from '@hono/zod-openapi'
import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { databaseErrorCode, isDatabaseUnavailable } from '../../src/db/errors.js'
import { channels, parseMessageNotice } from '../../src/db/notify.js'
import type { AppDeps } from '../../src/http/app.js'
import type { AppEnv } from '../../src/http/env.js'
import { registerHealth } from '../../src/http/routes/health.js'
import { createListener, type Listener } from '../../src/realtime/listener.js'
import { type Cluster, clusterTestsRun, startCluster } from '../../harness/cluster.js'
import type { TestDatabase } from '../support/database.js'
import { createRoom, postMessage, startTestServer, type TestServer } from '../support/server.js'
import { openStream, type StreamClient } from '../support/sse.js'
import { until } from '../support/wait.js'

// A primary and a streaming standby of the machine's PostgreSQL; Parley is given both
// hosts in one DATABASE_URL and must follow the primary when the standby is promoted.

const runs = clusterTestsRun()
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** The cluster's database in the shape the server harness takes; a failover keeps no one to drop it. */
function clusterDatabase(cluster: Cluster): TestDatabase {
  const sql = postgres(cluster.url, { max: 2, target_session_attrs: 'primary', onnotice: () => {} })
  return { url: cluster.url, sql, drop: () => sql.end({ timeout: 1 }) }
}

describe.skipIf(!runs)('failover with synchronous replication', () => {
  let cluster: Cluster
  let database: TestDatabase
  const servers: TestServer[] = []

  beforeAll(async () => {
    cluster = await startCluster({ synchronous: true })
    database = clusterDatabase(cluster)
    // Delivery is the subject: the posting limit is off so one writer can post throughout.
    const env = { LISTENER_PROBE_MS: '500', RATE_LIMIT_MESSAGES: '0' }
    servers.push(await startTestServer(database, env), await startTestServer(database, env))
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

  it('delivers every acknowledged message exactly once, in order, on every stream of both instances', async () => {
    const [a, b] = servers as [TestServer, TestServer]
    const roomId = await createRoom(a, 'failover')
    const token = await a.token('alice')
    const streams: StreamClient[] = [a, a, b, b].map((server) => openStream(server.url, roomId, { token }))
    await Promise.all(streams.map((stream) => stream.opened))

    const acknowledged: number[] = []
    let writing = true
    const httpWriter = (async () => {
      for (let n = 0; writing; n++) {
        const response = await postMessage(n % 2 ? b : a, roomId, `http ${n}`).catch(() => undefined)
        if (response?.status === 201) acknowledged.push(((await response.json()) as { seq: number }).seq)
        await pause(20)
      }
    })()
    const sqlWriter = (async () => {
      for (let n = 0; writing; n++) {
        const rows = await database.sql<{ seq: string }[]>`
          insert into messages (room_id, user_id, user_name, body)
          values (${roomId}, 'psql', 'psql', ${`sql ${n}`}) returning seq`.catch(() => undefined)
        if (rows?.[0]) acknowledged.push(Number(rows[0].seq))
        await pause(20)
      }
    })()

    await Promise.all(streams.map((stream) => stream.waitFor(20)))
    await cluster.killPrimary()
    // What a failover manager takes to decide, roughly; the writers keep trying meanwhile.
    await pause(1_000)
    await cluster.promoteStandby()
    const promotedAt = Date.now()
    // The first message written after promotion, straight to the new primary.
    const newPrimary = postgres(cluster.standbyUrl, { max: 1, onnotice: () => {} })
    const [first] = await newPrimary<{ seq: string }[]>`
      insert into messages (room_id, user_id, user_name, body)
      values (${roomId}, 'psql', 'psql', 'after promotion') returning seq`
    await newPrimary.end({ timeout: 1 })
    const seqAfterPromotion = Number(first?.seq)
    const recoveredMs = await Promise.all(
      streams.map(async (stream) => {
        await until(() => stream.seqs().includes(seqAfterPromotion), 'delivery after promotion', 15_000)
        return Date.now() - promotedAt
      }),
    )
    console.log(
      `failover: promotion to every stream delivering again: ${Math.max(...recoveredMs)} ms (per stream: ${recoveredMs.join(', ')} ms)`,
    )
    await pause(1_000)
    writing = false
    await Promise.all([httpWriter, sqlWriter])

    const [marker] = await database.sql<{ seq: string }[]>`
      insert into messages (room_id, user_id, user_name, body)
      values (${roomId}, 'psql', 'psql', 'the end') returning seq`
    const last = Number(marker?.seq)
    await Promise.all(
      streams.map((stream) => until(() => stream.seqs().includes(last), 'the final marker', 15_000)),
    )
    const committed = (
      await database.sql<{ seq: string }[]>`select seq from messages where room_id = ${roomId} order by seq`
    ).map((row) => Number(row.seq))
    const lost = acknowledged.filter((seq) => !committed.includes(seq))
    expect({ lost, acknowledgedAfterPromotion: acknowledged.some((seq) => seq > seqAfterPromotion) }).toEqual(
      {
        lost: [],
        acknowledgedAfterPromotion: true,
      },
    )
    for (const stream of streams) {
      expect(stream.seqs()).toEqual(committed)
      stream.close()
    }
    expect(Math.max(...recoveredMs)).toBeLessThanOrEqual(5_000)
  })
})

describe.skipIf(!runs)('a listener given a standby', () => {
  let cluster: Cluster
  let pool: postgres.Sql
  let listener: Listener | undefined

  beforeAll(async () => {
    cluster = await startCluster({ synchronous: false })
    pool = postgres(cluster.url, { max: 2, target_session_attrs: 'primary', onnotice: () => {} })
  })

  afterAll(async () => {
    await listener?.stop()
    await pool?.end({ timeout: 1 })
    await cluster?.stop()
  })

  it('reports it is in recovery and not ready, then listens and delivers once the standby is promoted', async () => {
    const heard: number[] = []
    listener = createListener({
      url: cluster.standbyUrl,
      consumers: [
        {
          channels: {
            [channels.messages]: (payload) => heard.push(parseMessageNotice(payload)?.cursor ?? 0),
          },
          onListen: () => {},
        },
      ],
      probeMs: 200,
      pool,
      onDown: () => {},
    })
    await listener.start()
    const app = new OpenAPIHono<AppEnv>()
    // The health route reads only these two of the application's dependencies.
    registerHealth(app, { pingDatabase: async () => true, listener } as unknown as AppDeps)

    expect({ inRecovery: listener.inRecovery(), ready: listener.isReady() }).toEqual({
      inRecovery: true,
      ready: false,
    })
    const standing = await app.request('/readyz')
    expect({ status: standing.status, body: await standing.json() }).toEqual({
      status: 503,
      body: { status: 'unavailable', checks: { database: true, listener: false } },
    })

    // A write that reaches the standby (a pool connection that has not yet moved) is a
    // database to try again shortly: 503 with Retry-After, never a 500.
    const onStandby = postgres(cluster.standbyUrl, { max: 1, onnotice: () => {} })
    const refused = await onStandby`create table read_only_probe (id int)`.catch((error: unknown) => error)
    await onStandby.end({ timeout: 1 })
    expect({ code: databaseErrorCode(refused), unavailable: isDatabaseUnavailable(refused) }).toEqual({
      code: '25006',
      unavailable: true,
    })

    await cluster.killPrimary()
    await cluster.promoteStandby()
    await until(() => listener!.isReady(), 'the listener on the promoted standby', 10_000)
    const ready = await app.request('/readyz')
    expect(ready.status).toBe(200)
    expect(listener.inRecovery()).toBe(false)

    const [room] = await pool<{ id: string }[]>`
      insert into rooms (name, created_by) values ('promoted', 'ops') returning id`
    await pool`insert into messages (room_id, user_id, user_name, body) values (${room!.id}, 'ops', 'Ops', 'hi')`
    await until(() => heard.includes(1), 'the notification of the first message')
  })
})
