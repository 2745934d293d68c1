import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import postgres from 'postgres'
import { runMigrations } from '../../src/db/migrate.js'
import { createListener, type Listener } from '../../src/realtime/listener.js'
import { addShard, setShardState } from '../../src/shards/catalog.js'
import { createDirectory, type Directory } from '../../src/shards/directory.js'
import { createShardPools } from '../../src/shards/pools.js'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { until } from '../support/wait.js'

// The directory reads which shard holds a room from the catalog; it cares about databases,
// not instances, so its shards here are databases of the test server.

let catalog: TestDatabase
let shardA: TestDatabase
let shardB: TestDatabase
let directory: Directory
let listener: Listener
/** Queries the directory's own catalog pool has sent. */
let catalogQueries = 0
let directoryPool: postgres.Sql

beforeAll(async () => {
  ;[catalog, shardA, shardB] = await Promise.all([
    createTestDatabase({ migrate: false }),
    createTestDatabase({ migrate: false }),
    createTestDatabase({ migrate: false }),
  ])
  await runMigrations(catalog.url, 'catalog')
  await addShard(catalog.sql, { name: 'a', url: shardA.url })
  await addShard(catalog.sql, { name: 'b', url: shardB.url })
  directoryPool = postgres(catalog.url, { max: 2, onnotice: () => {}, debug: () => catalogQueries++ })
  directory = createDirectory({ catalog: directoryPool })
  listener = createListener({
    url: catalog.url,
    consumers: [directory.listens],
    probeMs: 200,
    pool: directoryPool,
    applicationName: 'directory-test-listener',
    onDown: () => {},
  })
  await listener.start()
}, 60_000)

afterAll(async () => {
  await listener?.stop()
  await directoryPool?.end({ timeout: 1 })
  await Promise.all([catalog, shardA, shardB].map((database) => database?.drop()))
})

const shardNameOf = async (roomId: number) => (await directory.shardOf(roomId))?.name

/** Moves a room in the catalog as an operator's psql would, optionally with the triggers off. */
async function move(roomId: number, to: 'a' | 'b', { silently = false } = {}) {
  await catalog.sql.begin(async (tx) => {
    if (silently) await tx`set local session_replication_role = replica`
    await tx`update room_shards set shard_id = (select id from shards where name = ${to}) where room_id = ${roomId}`
  })
}

describe('the shard directory', () => {
  it('migrates each shard it adds with Parley schema, and places rooms on the open shard with the fewest', async () => {
    const { count } = (await shardB.sql<{ count: string }[]>`select count(*) from rooms`)[0]!
    expect(count).toBe('0')

    const placed = []
    for (let i = 0; i < 4; i++) placed.push(await directory.placeRoom())
    expect(placed.map((room) => room.shard.name)).toEqual(['a', 'b', 'a', 'b'])
    const ids = placed.map((room) => room.roomId)
    expect(ids).toEqual([...ids].sort((x, y) => x - y))
    expect(new Set(ids).size).toBe(4)

    await setShardState(catalog.sql, 'b', 'closed')
    await until(
      async () => (await directory.shards()).find((shard) => shard.name === 'b')?.state === 'closed',
    )
    expect((await directory.placeRoom()).shard.name).toBe('a')
    await setShardState(catalog.sql, 'b', 'open')
    expect((await directory.placeRoom()).shard.name).toBe('b')
  })

  it('places a burst of 100 rooms at once with unique ids, spread over the open shards and counted exactly', async () => {
    const placed = await Promise.all(Array.from({ length: 100 }, () => directory.placeRoom()))
    expect(new Set(placed.map((room) => room.roomId)).size).toBe(100)
    const perShard = await catalog.sql<{ name: string; roomCount: string; counted: string }[]>`
      select s.name, s.room_count as "roomCount", (select count(*) from room_shards r where r.shard_id = s.id) as counted
        from shards s order by s.name`
    for (const shard of perShard) expect(shard.roomCount).toBe(shard.counted)
    const onA = placed.filter((room) => room.shard.name === 'a').length
    expect(onA).toBeGreaterThan(10)
    expect(onA).toBeLessThan(90)
  })

  it('refuses to place a room when no shard is open', async () => {
    await setShardState(catalog.sql, 'a', 'closed')
    await setShardState(catalog.sql, 'b', 'draining')
    try {
      await expect(directory.placeRoom()).rejects.toThrow(/no shard is open/)
    } finally {
      await setShardState(catalog.sql, 'a', 'open')
      await setShardState(catalog.sql, 'b', 'open')
    }
  })

  it('keeps where a room is, and forgets it when the catalog says the room moved', async () => {
    const { roomId } = await directory.placeRoom()
    const first = (await shardNameOf(roomId)) as 'a' | 'b'
    const other = first === 'a' ? 'b' : 'a'

    // Moved with the catalog's trigger off, nobody is told: the directory keeps its answer.
    await move(roomId, other, { silently: true })
    expect(await shardNameOf(roomId)).toBe(first)

    await move(roomId, first, { silently: true })
    await move(roomId, other)
    await until(async () => (await shardNameOf(roomId)) === other, 'the move to be heard')
  })

  it('forgets everything when its LISTEN connection on the catalog was lost, since a move may have gone unheard', async () => {
    const { roomId } = await directory.placeRoom()
    const first = (await shardNameOf(roomId)) as 'a' | 'b'
    const other = first === 'a' ? 'b' : 'a'
    await move(roomId, other, { silently: true })
    expect(await shardNameOf(roomId)).toBe(first)

    const reconnects = listener.reconnects()
    await catalog.sql`
      select pg_terminate_backend(pid) from pg_stat_activity
       where application_name = 'directory-test-listener' and datname = current_database()`
    await until(() => listener.reconnects() > reconnects && listener.isListening(), 'the listener to return')
    expect(await shardNameOf(roomId)).toBe(other)
  })

  it('asks the catalog once for the rooms looked up in the same moment', async () => {
    const rooms = await Promise.all(Array.from({ length: 50 }, () => directory.placeRoom()))
    // Placing remembered them; a new directory on the same pool knows none of them.
    const fresh = createDirectory({ catalog: directoryPool })
    await fresh.shards()
    const before = catalogQueries
    const found = await Promise.all(rooms.map((room) => fresh.shardOf(room.roomId)))
    expect(found.map((shard) => shard?.name)).toEqual(rooms.map((room) => room.shard.name))
    expect(catalogQueries - before).toBe(1)
  })

  it('answers no shard for a room the catalog does not hold, and finds it once placed by hand', async () => {
    const { roomId } = (await catalog.sql<{ roomId: string }[]>`select nextval('room_ids') as "roomId"`)[0]!
    expect(await directory.shardOf(Number(roomId))).toBeUndefined()
    await catalog.sql`
      insert into room_shards (room_id, shard_id) select ${roomId}, id from shards where name = 'b'`
    expect(await shardNameOf(Number(roomId))).toBe('b')
  })

  it("gives a room's reads and writes the pool of the shard that holds it", async () => {
    const pools = createShardPools(directory, { max: 1 })
    try {
      const { roomId, shard } = await directory.placeRoom()
      const routed = await pools.forRoom(roomId)
      const { database } = (
        await routed!.sql<{ database: string }[]>`select current_database() as database`
      )[0]!
      const expected = shard.name === 'a' ? shardA.url : shardB.url
      expect(expected.endsWith(`/${database}`)).toBe(true)
      expect(await pools.forRoom(Number.MAX_SAFE_INTEGER)).toBeUndefined()
    } finally {
      await pools.end()
    }
  })
})
