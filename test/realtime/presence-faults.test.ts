import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { type ParleyProcess, startParleyProcess } from '../support/process.js'
import { range } from '../support/range.js'
import { signTestToken } from '../support/server.js'
import { eventsOf, openStream, type StreamClient } from '../support/sse.js'
import { until } from '../support/wait.js'

// A pool connection's backend can die under any statement: a failover, an administrator's
// pg_terminate_backend, a crashed backend. Presence then loses that batch, never the
// process, and the next batch writes it again. Each server here is a real `node src/main.ts`
// process, so a crash is an exit, not an error some test runner catches.

let database: TestDatabase
let instance: ParleyProcess | undefined
const streams: StreamClient[] = []

beforeAll(async () => {
  database = await createTestDatabase()
})

afterEach(async () => {
  for (const stream of streams.splice(0)) stream.close()
  if (instance && instance.exit === undefined) {
    instance.child.kill('SIGKILL')
    await instance.exited
  }
  instance = undefined
})

afterAll(async () => {
  await database?.drop()
})

async function start(env: Record<string, string>): Promise<ParleyProcess> {
  instance = await startParleyProcess(database.url, { MIGRATE_ON_START: 'false', ...env })
  return instance
}

async function api(server: ParleyProcess, path: string, as: string, body?: unknown) {
  return fetch(`${server.url}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: {
      authorization: `Bearer ${await signTestToken({ sub: as, name: as.toUpperCase() })}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
}

async function createRoom(server: ParleyProcess, name: string): Promise<number> {
  const response = await api(server, '/rooms', 'owner', { name })
  expect(response.status).toBe(201)
  return ((await response.json()) as { id: number }).id
}

/** The room's head count by GET /rooms/:id/presence, or undefined while the server cannot answer. */
async function presentCount(server: ParleyProcess, roomId: number): Promise<number | undefined> {
  const response = await api(server, `/rooms/${roomId}/presence?limit=1`, 'owner').catch(() => undefined)
  if (response?.status !== 200) return undefined
  return ((await response.json()) as { count: number }).count
}

/** A stream that closes on its first error instead of reconnecting, closed after the test. */
async function watch(server: ParleyProcess, roomId: number, user: string): Promise<StreamClient> {
  const token = await signTestToken({ sub: user, name: user.toUpperCase() })
  const stream = openStream(server.url, roomId, { token, reconnect: false })
  streams.push(stream)
  return stream
}

/** A condition for `until` that fails at once, with the server's output, if the server has exited. */
function alive(server: ParleyProcess, condition: () => boolean | Promise<boolean>) {
  return async () => {
    if (server.exit) throw new Error(`the server exited ${JSON.stringify(server.exit)}:\n${server.stderr()}`)
    return condition()
  }
}

const failedBatches = (server: ParleyProcess) =>
  server.logs().filter((line) => line.msg === 'presence update failed; retrying with the next batch').length

/**
 * Opens a stream and waits until the room announces its user, again if the server answers
 * 503 or ends the stream while its pool still finds a connection the storm killed (a real
 * client reconnects then; this one does not): the user is in once this resolves.
 */
async function arrive(server: ParleyProcess, roomId: number, user: string): Promise<void> {
  const announced = (stream: StreamClient) =>
    (eventsOf(stream, 'presence') as { joined: { user_id: string }[] }[]).some((frame) =>
      frame.joined.some((person) => person.user_id === user),
    )
  await until(
    alive(server, async () => {
      const stream = await watch(server, roomId, user)
      if (!(await stream.opened.then(() => true).catch(() => false))) return false
      const deadline = Date.now() + 5_000
      while (!announced(stream) && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 20))
      if (announced(stream)) return true
      stream.close()
      return false
    }),
    `${user} to get in`,
    20_000,
  )
}

const lastCount = (stream: StreamClient) =>
  (eventsOf(stream, 'presence') as { count: number }[]).at(-1)?.count

/**
 * Terminates the server's pool connections (never its LISTEN connection) in this test's
 * database: all of them, or those running a statement. Not a connection still starting up
 * (no statement of ours yet, or the driver's own array-types query): postgres.js 3.4.9 drops
 * the promise of that query, so its failure is an unhandled rejection that ends the process,
 * a separate driver defect this test is not about.
 */
async function killPool(which: 'all' | 'busy'): Promise<number> {
  const rows = await database.sql<{ gone: boolean }[]>`
    select pg_terminate_backend(pid) as gone from pg_stat_activity
    where datname = current_database() and application_name = 'parley'
      and query <> '' and query not like '%pg_catalog.pg_type%'
      and (${which} = 'all' or state <> 'idle')`
  return rows.filter((row) => row.gone).length
}

describe('presence while the pool’s backends die', () => {
  it('loses a batch whose backend is terminated mid-statement, not the process, and writes it again', async () => {
    const server = await start({ PRESENCE_BATCH_MS: '20' })
    const roomId = await createRoom(server, 'one-dying-batch')
    const observer = await watch(server, roomId, 'observer')
    await until(() => lastCount(observer) === 1, 'the observer to be counted')

    // The batch announcing the newcomer waits inside its statement behind this lock; its
    // backend is terminated there, and only then is the lock released.
    let killed = 0
    await database.sql.begin(async (tx) => {
      await tx`lock table stream_presence in share mode`
      const newcomer = await watch(server, roomId, 'newcomer')
      await newcomer.opened
      await until(async () => {
        const [row] = await database.sql<{ waiting: number }[]>`
          select count(*)::int as waiting from pg_stat_activity
          where datname = current_database() and application_name = 'parley'
            and wait_event_type = 'Lock'`
        return row!.waiting === 1
      }, 'the batch to wait for the lock')
      killed = await killPool('busy')
    })
    expect(killed).toBe(1)

    await until(
      alive(server, () => lastCount(observer) === 2),
      'the newcomer to be announced by a later batch',
    )
    expect(await presentCount(server, roomId)).toBe(2)
    expect(failedBatches(server)).toBeGreaterThanOrEqual(1)
    expect(server.exit, server.stderr()).toBeUndefined()
  })

  it('keeps serving while its pool connections are killed under continuous batches, and ends on the true counts', async () => {
    const server = await start({ PRESENCE_BATCH_MS: '20', PRESENCE_TTL_MS: '3000', DB_POOL_MAX: '5' })
    const rooms = await Promise.all(range(1, 6).map((i) => createRoom(server, `storm-${i}`)))
    const observers = await Promise.all(rooms.map((roomId) => watch(server, roomId, `observer-${roomId}`)))
    await until(() => observers.every((observer) => lastCount(observer) === 1), 'every observer counted')

    // In every room, three doors through which 30 people keep arriving and leaving (one
    // stream each: the per-user stream cap stays on), so a presence batch is nearly always
    // being written.
    let stormy = true
    const churn = rooms.flatMap((roomId) =>
      range(0, 2).map(async (door) => {
        const open = new Map<string, StreamClient>()
        for (let turn = 0; stormy; turn++) {
          const user = `room-${roomId}-door-${door}-person-${(turn * 7) % 10}`
          const stream = open.get(user)
          if (stream) {
            stream.close()
            open.delete(user)
            continue
          }
          const opening = await watch(server, roomId, user)
          const opened = await opening.opened.then(() => true).catch(() => false)
          if (opened) open.set(user, opening)
        }
        for (const stream of open.values()) stream.close()
      }),
    )

    // Kills at uneven intervals, mostly of backends in the middle of a statement, until
    // enough batches have died under them.
    let kills = 0
    const stormStarted = Date.now()
    for (let round = 0; kills < 30 || failedBatches(server) < 8; round++) {
      if (server.exit || Date.now() - stormStarted > 20_000) break
      kills += await killPool(round % 4 === 3 ? 'all' : 'busy')
      await new Promise((resolve) => setTimeout(resolve, [3, 11, 23, 37][round % 4]))
    }
    stormy = false
    await Promise.all(churn)
    expect(server.exit, server.stderr()).toBeUndefined()
    expect(kills).toBeGreaterThanOrEqual(30)
    expect(failedBatches(server)).toBeGreaterThanOrEqual(8)

    // Everyone who churned has gone; a last, known crowd arrives after the storm.
    await Promise.all(
      rooms.flatMap((roomId, i) =>
        range(1, i + 2).map((n) => arrive(server, roomId, `stayer-${roomId}-${n}`)),
      ),
    )
    const expected = rooms.map((_, i) => i + 3)
    // A request may still meet a pool connection the storm killed (503); ask that room again.
    const settledCount = async (roomId: number) => {
      for (let attempt = 0; attempt < 5; attempt++) {
        const count = await presentCount(server, roomId)
        if (count !== undefined) return count
      }
      return undefined
    }
    const counts = async () => Promise.all(rooms.map(settledCount))
    let seen: (number | undefined)[] = []
    // On a timeout the assertions below say what was seen instead.
    await until(
      async () => (seen = await counts()).join() === expected.join(),
      'the head counts',
      15_000,
    ).catch(() => {})
    expect(server.exit, server.stderr()).toBeUndefined()
    expect(seen).toEqual(expected)
    await until(
      alive(server, () => observers.map((observer) => lastCount(observer)).join() === expected.join()),
      'every observer’s last frame to carry the true count',
    )
    const [open] = await database.sql<{ n: number }[]>`
      select count(*)::int as n from pg_stat_activity
      where datname = current_database() and state like 'idle in transaction%'`
    expect(open!.n).toBe(0)
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200)
    expect(server.exit, server.stderr()).toBeUndefined()
  }, 90_000)
})
