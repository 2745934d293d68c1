import { describe, expect, it } from 'vitest'
import { recordStream, testClient } from '../support/client-stream.js'
import { useTestServer } from '../support/fixtures.js'
import { range } from '../support/range.js'
import { startRelay } from '../support/relay.js'
import { until } from '../support/wait.js'

describe('the client library streams under faults', () => {
  const { server, database, startServer } = useTestServer()

  it('waits out Retry-After at the per-user stream limit, then gets in once a stream closes', async () => {
    const room = await testClient(server, 'alice').rooms.create({ name: 'faults-user-cap' })
    const erin = testClient(server, 'erin')
    const held = Array.from({ length: 20 }, () => recordStream(erin, room.id))
    for (const watcher of held) await watcher.waitOpen()

    const extra = recordStream(erin, room.id, { random: () => 0 })
    await until(() => extra.states.includes('reconnecting'), 'the refusal')
    expect(extra.changes.at(-1)).toMatchObject({
      delayMs: 5_000,
      error: { status: 429, code: 'too_many_streams' },
    })
    held[0]!.stream.close()
    await until(() => extra.stream.state === 'open', 'the extra stream to get in', 15_000)
    expect(extra.states).toEqual(['connecting', 'reconnecting', 'open'])
    for (const watcher of [...held, extra]) watcher.stream.close()
  })

  it('backs off while the server is full (503), honouring Retry-After', async () => {
    const full = await startServer({ MAX_STREAMS: '2' })
    try {
      const room = await testClient(full, 'alice').rooms.create({ name: 'faults-server-cap' })
      const first = recordStream(testClient(full, 'u1'), room.id)
      const second = recordStream(testClient(full, 'u2'), room.id)
      await first.waitOpen()
      await second.waitOpen()
      const third = recordStream(testClient(full, 'u3'), room.id, { random: () => 0.5 })
      await until(() => third.states.includes('reconnecting'), 'the refusal')
      // Retry-After's 5 s, plus half of the jitter's share (capped at the policy's 500 ms).
      expect(third.changes.at(-1)).toMatchObject({
        delayMs: 5_250,
        error: { status: 503, code: 'too_many_streams' },
      })
      first.stream.close()
      await until(() => third.stream.state === 'open', 'a free slot', 15_000)
      for (const watcher of [second, third]) watcher.stream.close()
    } finally {
      await full.close()
    }
  })

  it('never lets two clients miss or repeat a message while the listener is killed and their connections cut', async () => {
    const relay = await startRelay(server.port)
    try {
      const room = await testClient(server, 'alice').rooms.create({ name: 'faults-two-clients' })
      const watchers = ['bob', 'carol'].map((user) =>
        recordStream(testClient(server, user, relay.url), room.id),
      )
      for (const watcher of watchers) await watcher.waitOpen()
      const posters = range(1, 8).map((n) => testClient(server, `writer-${n}`))
      const writing = (async () => {
        for (let round = 0; round < 10; round++) {
          await Promise.all(
            posters.map((poster, n) => poster.messages.post(room.id, { body: `${round}/${n}` })),
          )
        }
      })()
      await until(() => watchers.every((watcher) => watcher.seqs.length >= 10), 'some deliveries')
      const killed = await database.sql`
        select pg_terminate_backend(pid) from pg_stat_activity
        where datname = current_database() and application_name = 'parley-listener'`
      expect(killed.length).toBe(1)
      const drops = () =>
        watchers.map((watcher) => watcher.states.filter((state) => state === 'reconnecting').length)
      // Each cut drops both live connections; the next waits until both are back.
      const cut = async () => {
        const before = drops()
        relay.cut()
        await until(() => drops().every((count, i) => count > before[i]!), 'both clients to notice the cut')
        for (const watcher of watchers) await watcher.waitOpen()
      }
      await cut()
      await until(() => watchers.every((watcher) => watcher.seqs.length >= 40), 'more deliveries')
      await cut()
      await writing
      for (const watcher of watchers) await watcher.waitForSeqs(80)
      for (const watcher of watchers) expect(watcher.seqs).toEqual(range(1, 80))
      for (const watcher of watchers)
        expect(watcher.states.filter((state) => state === 'reconnecting').length).toBeGreaterThanOrEqual(2)
      for (const watcher of watchers) watcher.stream.close()
    } finally {
      await relay.close()
    }
  })

  it('keeps doubling its backoff over connections that drop as soon as they open, and starts over after one that lasted', async () => {
    const relay = await startRelay(server.port)
    try {
      const room = await testClient(server, 'alice').rooms.create({ name: 'faults-flapping' })
      let clock = 0
      const watcher = recordStream(testClient(server, 'bob', relay.url), room.id, {
        random: () => 0.5,
        now: () => clock,
        backoff: { baseMs: 100, capMs: 5_000 },
      })
      const dropOnceOpen = async (lasting: number) => {
        await watcher.waitOpen()
        clock += lasting
        relay.cut()
        await until(() => watcher.stream.state === 'reconnecting', 'the drop')
      }
      for (const lasting of [0, 0, 0, 10_000]) await dropOnceOpen(lasting)
      await watcher.waitOpen()
      expect(watcher.changes.flatMap((change) => change.delayMs ?? [])).toEqual([50, 100, 200, 50])
      watcher.stream.close()
    } finally {
      await relay.close()
    }
  })
})
