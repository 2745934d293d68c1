import type { Message } from '../../src/wire.js'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { EventSource } from 'eventsource'
import { describe, expect, it } from 'vitest'
import { createTestDatabase } from '../support/database.js'
import { type Instance, useInstanceFleet } from '../support/instances.js'
import { single, scrape, waitForOpenStreams } from '../support/metrics.js'
import { range } from '../support/range.js'
import { until } from '../support/wait.js'

// Several real processes on one database: each delivers every row, and one's death costs
// its clients nothing they cannot resume elsewhere. Shutdown and observability have files
// of their own.

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

const {
  startInstance,
  killAll,
  listenerCount,
  tokenFor,
  api,
  createRoom,
  post,
  insertSql,
  subscribe,
  track,
} = useInstanceFleet()

/** A real SSE client that records its errors and, unlike the harness's, stops at the first. */
function openStreamStoppingOnError(instance: Instance, roomId: number, token: string) {
  const source = new EventSource(`${instance.url}/rooms/${roomId}/stream`, {
    fetch: (input, init) => {
      const headers = new Headers(init?.headers)
      headers.set('authorization', `Bearer ${token}`)
      return fetch(input, { ...init, headers })
    },
  })
  const stream = {
    messages: [] as Message[],
    errors: 0,
    opened: new Promise<void>((resolve) => source.addEventListener('open', () => resolve(), { once: true })),
    seqs: () => stream.messages.map((message) => message.seq),
    isClosed: () => source.readyState === EventSource.CLOSED,
    close: () => source.close(),
  }
  source.addEventListener('message', (event) => stream.messages.push(JSON.parse(event.data) as Message))
  source.addEventListener('error', () => {
    stream.errors++
    source.close()
  })
  return track(stream)
}

describe('several instances on one database', () => {
  it('delivers POSTs to either instance and psql inserts to every subscriber of both, once each and in seq order', async () => {
    const [a, b] = await Promise.all([startInstance(), startInstance()])
    const roomId = await createRoom(a, 'one-service')
    const token = await tokenFor('watcher')
    const onA = range(1, 3).map(() => subscribe(a, roomId, token))
    const onB = range(1, 3).map(() => subscribe(b, roomId, token))
    await Promise.all([waitForOpenStreams(a, 3), waitForOpenStreams(b, 3)])

    const first = await post(a, roomId, 'posted to A', 'alice')
    const second = await post(b, roomId, 'posted to B', 'bob')
    await insertSql(roomId, 'inserted with SQL')
    for (const stream of [...onA, ...onB]) await stream.waitFor(3)
    // A last message closes the batch: a duplicate of the first three would arrive before it.
    await insertSql(roomId, 'end marker')
    for (const stream of [...onA, ...onB]) {
      await stream.waitFor(4)
      expect(stream.seqs()).toEqual([1, 2, 3, 4])
      expect(stream.messages[0]).toEqual(first)
      expect(stream.messages[1]).toEqual(second)
      expect(stream.messages.slice(2).map((message) => [message.user_id, message.body])).toEqual([
        ['ops', 'inserted with SQL'],
        ['ops', 'end marker'],
      ])
    }

    expect(await listenerCount()).toBe(2)
    expect(single(await scrape(a), 'parley_listener_up')).toBe(1)
    expect(single(await scrape(b), 'parley_listener_up')).toBe(1)
  })

  it('keeps serving from B when A is killed, and a client of A resumes on B with exactly what it missed', async () => {
    const [a, b] = await Promise.all([startInstance(), startInstance()])
    const roomId = await createRoom(b, 'survivor')
    const token = await tokenFor('watcher')
    const onA = range(1, 3).map(() => openStreamStoppingOnError(a, roomId, token))
    const onB = range(1, 3).map(() => subscribe(b, roomId, token))
    await Promise.all([waitForOpenStreams(a, 3), waitForOpenStreams(b, 3)])
    await post(a, roomId, 'before 1', 'carol')
    await post(b, roomId, 'before 2', 'dave')
    for (const stream of onB) await stream.waitFor(2)
    await until(() => onA.every((stream) => stream.messages.length === 2), 'A’s clients to get 2 messages')

    a.child.kill('SIGKILL')
    await a.exited
    expect(a.exit).toEqual({ code: null, signal: 'SIGKILL' })
    await until(() => onA.every((stream) => stream.errors === 1), 'every client of A to see its stream fail')
    for (const stream of onA) expect(stream.isClosed()).toBe(true)
    // The kernel closes a killed process's sockets, so PostgreSQL ends A's LISTEN session.
    await until(async () => (await listenerCount()) === 1, 'only B’s LISTEN connection to remain')

    await post(b, roomId, 'after 1', 'dave')
    await insertSql(roomId, 'after 2')
    for (const stream of onB) await stream.waitFor(4)
    for (const stream of onA) expect(stream.seqs()).toEqual([1, 2])

    const movedFromA = onA[0]!
    const resumed = subscribe(b, roomId, token, movedFromA.seqs().at(-1))
    await resumed.waitFor(2)
    await post(b, roomId, 'after 3', 'dave')
    await resumed.waitFor(3)
    expect(resumed.seqs()).toEqual([3, 4, 5])
    expect(resumed.messages.map((message) => message.body)).toEqual(['after 1', 'after 2', 'after 3'])
    for (const stream of onB) {
      await stream.waitFor(5)
      expect(stream.seqs()).toEqual([1, 2, 3, 4, 5])
    }
  })

  it('starts three instances at once on an empty database: migrations run once, under the lock, and all serve', async () => {
    const fresh = await createTestDatabase({ migrate: false })
    try {
      const started = await Promise.all(range(1, 3).map(() => startInstance({ DATABASE_URL: fresh.url })))
      for (const instance of started) {
        const response = await api(instance, '/rooms', 'alice')
        expect(response.status).toBe(200)
        expect(await response.json()).toEqual({ rooms: [], next_cursor: null })
      }
      const journal = JSON.parse(readFileSync(`${ROOT}/drizzle/meta/_journal.json`, 'utf8')) as {
        entries: { tag: string }[]
      }
      const applied = await fresh.sql<
        { n: number }[]
      >`select count(*)::int as n from drizzle.__drizzle_migrations`
      expect(applied[0]!.n).toBe(journal.entries.length)
      // The triggers were installed: the seq comes from the database.
      const roomId = await createRoom(started[1]!, 'after-migrations')
      expect((await post(started[2]!, roomId, 'first', 'alice')).seq).toBe(1)
      for (const instance of started) expect(instance.stderr()).toBe('')
    } finally {
      await killAll()
      await fresh.drop()
    }
  })
})
