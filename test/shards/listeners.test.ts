import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clusterTestsRun, type Instance, startInstance } from '../../harness/cluster.js'
import { channels } from '../../src/db/notify.js'
import { runMigrations } from '../../src/db/migrate.js'
import type { ListenerConsumer } from '../../src/realtime/listener.js'
import { createListener, type Listener } from '../../src/realtime/listener.js'
import { addShard } from '../../src/shards/catalog.js'
import { createDirectory } from '../../src/shards/directory.js'
import { createShardListeners, type ShardListeners } from '../../src/shards/listeners.js'
import { createShardPools, type ShardPools } from '../../src/shards/pools.js'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { until } from '../support/wait.js'

// Shards on PostgreSQL instances of their own (two, then three), so that one can die while
// the others live.

const runs = clusterTestsRun()

describe.skipIf(!runs)('listening on every shard', () => {
  let catalog: TestDatabase
  let instances: Instance[] = []
  let directoryPool: postgres.Sql
  let catalogListener: Listener
  let pools: ShardPools
  let listeners: ShardListeners
  /** Doorbells heard, by room. */
  const heard = new Map<number, number[]>()
  let listens = 0
  const consumer: ListenerConsumer = {
    channels: {
      [channels.messages]: (payload) => {
        const [room, cursor] = payload.split(':').map(Number)
        heard.set(room!, [...(heard.get(room!) ?? []), cursor!])
      },
    },
    onListen: () => listens++,
  }
  const directory = () => createDirectory({ catalog: directoryPool })
  let dir: ReturnType<typeof directory>

  beforeAll(async () => {
    ;[catalog, ...instances] = await Promise.all([
      createTestDatabase({ migrate: false }),
      startInstance(),
      startInstance(),
    ] as const)
    await runMigrations(catalog.url, 'catalog')
    await addShard(catalog.sql, { name: 'one', url: instances[0]!.url })
    await addShard(catalog.sql, { name: 'two', url: instances[1]!.url })
    directoryPool = postgres(catalog.url, { max: 2, onnotice: () => {} })
    dir = directory()
    catalogListener = createListener({
      url: catalog.url,
      consumers: [dir.listens],
      probeMs: 200,
      pool: directoryPool,
      onDown: () => {},
    })
    await catalogListener.start()
    pools = createShardPools(dir, { max: 2 })
    listeners = createShardListeners({
      directory: dir,
      pools,
      consumers: [() => consumer],
      probeMs: 200,
      onDown: () => {},
    })
    await listeners.start()
  }, 120_000)

  afterAll(async () => {
    await listeners?.stop()
    await catalogListener?.stop()
    await pools?.end()
    await directoryPool?.end({ timeout: 1 })
    await Promise.all([catalog?.drop(), ...instances.map((instance) => instance.stop())])
  })

  /** Creates a room where the catalog places it, and posts to it by hand as psql would. */
  async function roomWithMessage() {
    const { roomId, shard } = await dir.placeRoom()
    const { sql } = pools.forShard(shard)
    await sql`insert into rooms (id, name, created_by) values (${roomId}, ${`room ${roomId}`}, 'tester')`
    await sql`insert into messages (room_id, user_id, user_name, body) values (${roomId}, 'tester', 'Tester', 'hello')`
    return { roomId, shard }
  }

  it("hears each room's doorbell from the shard that holds it", async () => {
    const first = await roomWithMessage()
    const second = await roomWithMessage()
    expect(new Set([first.shard.name, second.shard.name])).toEqual(new Set(['one', 'two']))
    await until(() => heard.has(first.roomId) && heard.has(second.roomId), 'both doorbells')
    expect(heard.get(first.roomId)).toEqual([1])
    expect(heard.get(second.roomId)).toEqual([1])
    expect(listeners.readiness()).toEqual({ one: true, two: true })
  })

  it('keeps hearing the other shard while one is down, says which, and hears the fallen one again once it is back', async () => {
    const onOne = await roomWithMessage()
    const onTwo = await roomWithMessage()
    const [up, down] = onOne.shard.name === 'one' ? [onTwo, onOne] : [onOne, onTwo]
    const downInstance = instances[down.shard.name === 'one' ? 0 : 1]!
    // The instances commit without waiting for the disk; what the test wrote must survive the crash.
    await pools.forShard(down.shard).sql`checkpoint`
    await downInstance.kill()
    const listensBefore = listens
    try {
      await until(() => listeners.readiness()[down.shard.name] === false, 'the fallen shard to be reported')
      expect(listeners.readiness()[up.shard.name]).toBe(true)
      await pools.forShard(up.shard).sql`
        insert into messages (room_id, user_id, user_name, body) values (${up.roomId}, 'tester', 'Tester', 'still here')`
      await until(() => heard.get(up.roomId)?.length === 2, "the live shard's doorbell")
    } finally {
      await downInstance.resume()
    }
    await until(() => listeners.readiness()[down.shard.name] === true, 'the shard to be heard again', 20_000)
    expect(listens).toBeGreaterThan(listensBefore)
    await pools.forShard(down.shard).sql`
      insert into messages (room_id, user_id, user_name, body) values (${down.roomId}, 'tester', 'Tester', 'back')`
    await until(() => heard.get(down.roomId)?.length === 2, "the returned shard's doorbell", 20_000)
  })

  it("listens on a third instance added to the catalog while it runs, hears its rooms' doorbells, and lets it go when removed", async () => {
    const third = await startInstance()
    instances.push(third)
    await addShard(catalog.sql, { name: 'three', url: third.url })
    await until(() => listeners.readiness().three === true, 'the new shard to be heard')
    // The two others hold more rooms, so the next one is placed on the new shard.
    const room = await roomWithMessage()
    expect(room.shard.name).toBe('three')
    await until(() => heard.get(room.roomId)?.length === 1, "the new shard's doorbell")
    expect(listeners.readiness()).toEqual({ one: true, two: true, three: true })

    await catalog.sql`delete from room_shards where shard_id = ${room.shard.id}`
    await catalog.sql`delete from shards where name = 'three'`
    await until(() => listeners.readiness().three === undefined, 'the removed shard to be let go')
  }, 60_000)
})

describe('listening on every shard, after a start that failed', () => {
  it('still follows the catalog: a shard added later is listened to', async () => {
    const [catalog, shard] = await Promise.all([
      createTestDatabase({ migrate: false }),
      createTestDatabase({ migrate: false }),
    ])
    await runMigrations(catalog.url, 'catalog')
    const pool = postgres(catalog.url, { max: 2, onnotice: () => {} })
    const dir = createDirectory({ catalog: pool })
    const catalogListener = createListener({
      url: catalog.url,
      consumers: [dir.listens],
      probeMs: 200,
      pool,
      onDown: () => {},
    })
    const pools = createShardPools(dir, { max: 1 })
    const listeners = createShardListeners({
      directory: dir,
      pools,
      consumers: [],
      probeMs: 200,
      onDown: () => {},
    })
    try {
      // The catalog cannot be read at the start.
      await catalog.sql`alter table shards rename to shards_away`
      await catalogListener.start()
      await expect(listeners.start()).rejects.toThrow(/shards/)
      await catalog.sql`alter table shards_away rename to shards`

      await addShard(catalog.sql, { name: 'late', url: shard.url })
      await until(
        () => listeners.readiness().late === true,
        'the shard added after the failed start to be heard',
      )
    } finally {
      await listeners.stop()
      await catalogListener.stop()
      await pools.end()
      await pool.end({ timeout: 1 })
      await Promise.all([catalog.drop(), shard.drop()])
    }
  }, 60_000)
})
