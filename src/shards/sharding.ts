import postgres from 'postgres'
import { ChatError } from '../chat/errors.js'
import type { Db, DbOptions } from '../db/client.js'
import type { SearchPoolOptions } from '../db/search-pool.js'
import { createListener, type ListenerConsumer } from '../realtime/listener.js'
import { createCatalogSweep } from './catalog-sweep.js'
import { createDirectory, DIRECTORY_CHANNEL } from './directory.js'
import { createShardListeners, type ShardConsumer, type ShardListeners } from './listeners.js'
import { createShardPools } from './pools.js'

export interface ShardingOptions {
  /** CATALOG_DATABASE_URL. */
  catalogUrl: string
  /** Each shard's query pool. */
  pool: DbOptions
  /** Each shard's search pool. */
  search: SearchPoolOptions
  probeMs: number
  /** How often the catalog's rows of rooms no shard holds are looked for (RETENTION_SWEEP_MS). */
  sweepMs: number
  onDown: (what: string, error: Error) => void
  /** Work in the background failed: `what` says which. */
  onError: (error: unknown, what: string) => void
}

/** What follows rooms from shard to shard: told a room moved, or that any may have. */
export interface RoomFollower {
  relocate(roomId?: number): unknown
}

export type Sharding = ReturnType<typeof createSharding>

/**
 * A process's view of rooms spread over shards: the catalog's directory (with its own LISTEN
 * connection on the catalog), a pool per shard, and, once `listen` is called, a LISTEN
 * connection per shard feeding the given consumers. A room's queries go to its shard; a room
 * the catalog does not name does not exist. What belongs to users rather than rooms (their
 * limits, tickets, their own events) stays on the process's own database (`DATABASE_URL`).
 */
export function createSharding(options: ShardingOptions) {
  const catalog = postgres(options.catalogUrl, {
    max: 2,
    onnotice: () => {},
    connection: { application_name: 'parley-catalog' },
  })
  const directory = createDirectory({ catalog })
  const pools = createShardPools(directory, options.pool, options.search)
  const followers: RoomFollower[] = []
  // After the directory forgot what moved: a room's move, or everything after a reconnect.
  const following: ListenerConsumer = {
    channels: {
      [DIRECTORY_CHANNEL]: (payload) => {
        const [kind, id] = payload.split(':')
        // A shard's address may have changed, and with it the pool its rooms are read through.
        const roomId = kind === 'room' && /^\d+$/.test(id ?? '') ? Number(id) : undefined
        for (const follower of followers) follower.relocate(roomId)
      },
    },
    onListen: () => {
      for (const follower of followers) follower.relocate()
    },
  }
  const catalogListener = createListener({
    url: options.catalogUrl,
    consumers: [directory.listens, following],
    probeMs: options.probeMs,
    pool: catalog,
    applicationName: 'parley-catalog-listener',
    onDown: (error) => options.onDown('catalog', error),
  })
  let listeners: ShardListeners | undefined
  const everyShard = async (): Promise<{ id: number; db: Db }[]> =>
    (await directory.shards()).map((shard) => ({ id: shard.id, db: pools.forShard(shard).db }))
  const sweep = createCatalogSweep({
    catalog,
    everyShard,
    everyMs: options.sweepMs,
    onError: (error) => options.onError(error, 'the catalog sweep failed'),
  })

  /**
   * A new room's id and shard (directory.ts: placeRoom), and the pool to create it with;
   * `release` takes the placement back when the room could not be created. A public room's
   * name is recorded with it, once across shards: a name taken already is `name_taken`.
   */
  async function placeRoom(publicName?: string) {
    const { roomId, shard } = await directory.placeRoom()
    const release = async () => {
      await catalog`delete from room_shards where room_id = ${roomId}`
    }
    if (publicName !== undefined) {
      const [named] = await catalog`
        insert into public_room_names (name, room_id) values (${publicName}, ${roomId})
        on conflict do nothing returning room_id`.catch(async (error: unknown) => {
        await release()
        throw error
      })
      if (!named) {
        await release()
        throw new ChatError('name_taken', `A room named "${publicName}" exists`)
      }
    }
    return { roomId, db: pools.forShard(shard).db, release }
  }

  return {
    directory,
    /**
     * The pool of the shard holding `roomId`; undefined when the catalog names no shard for
     * it. `fresh` asks the catalog, not the cache: a write found the room gone.
     */
    async roomDb(roomId: number, { fresh = false } = {}): Promise<Db | undefined> {
      if (fresh) directory.forget(roomId)
      return (await pools.forRoom(roomId))?.db
    },
    /** Calls `watcher` whenever the catalog's shards may have changed. */
    watchShards: (watcher: () => void) => directory.watchShards(watcher),
    /** Every shard's catalog id and pool: what a read across rooms (the lobby, mentions) asks and merges. */
    everyShard,
    /** The search pools of every shard, or of the one holding `roomId`: what a search asks and merges. */
    async searchPools(roomId?: number): Promise<Db[]> {
      const shards = roomId === undefined ? await directory.shards() : [await directory.shardOf(roomId)]
      return shards.flatMap((shard) => (shard ? [pools.searchOf(shard)] : []))
    },
    placeRoom,
    /**
     * The room of a direct message between `a` and `b`: the one the catalog records for the
     * pair, or else a new placement, recorded for the pair unless someone else's was first
     * (then this one is taken back). `beforePlacing` is asked before placing, and may refuse.
     */
    async placeDm(a: string, b: string, beforePlacing: () => Promise<void>): Promise<number> {
      const recorded = () => catalog<{ roomId: string }[]>`
        select room_id as "roomId" from dm_rooms
         where dm_low = least(${a}::text, ${b}::text) and dm_high = greatest(${a}::text, ${b}::text)`
      const [found] = await recorded()
      if (found) return Number(found.roomId)
      await beforePlacing()
      const placed = await placeRoom()
      const [mine] = await catalog`
        insert into dm_rooms (dm_low, dm_high, room_id)
        values (least(${a}::text, ${b}::text), greatest(${a}::text, ${b}::text), ${placed.roomId})
        on conflict do nothing returning room_id`
      if (mine) return placed.roomId
      await placed.release()
      const [first] = await recorded()
      if (!first) throw new Error('a direct message was neither placed nor found')
      return Number(first.roomId)
    },
    /**
     * Starts hearing the catalog and every shard: `consumers` get each shard's notifications,
     * and `moved` are told when a room moved.
     */
    async listen(consumers: ShardConsumer[], moved: RoomFollower[]): Promise<void> {
      followers.push(...moved)
      await catalogListener.start()
      listeners = createShardListeners({
        directory,
        pools,
        consumers,
        probeMs: options.probeMs,
        onDown: (shard, error) => options.onDown(`shard ${shard.name}`, error),
        onError: (error) => options.onError(error, 'following the shards of the catalog failed'),
      })
      await listeners.start()
      sweep.start()
    },
    /** Whether the catalog and each shard are heard: `catalog`, then `shard <name>`. */
    readiness(): Record<string, boolean> {
      const shards = Object.entries(listeners?.readiness() ?? {})
      return {
        catalog: catalogListener.isReady(),
        ...Object.fromEntries(shards.map(([name, ready]) => [`shard ${name}`, ready])),
      }
    },
    /** Stops listening; the pools stay for the requests still running. */
    async stop(): Promise<void> {
      await sweep.stop()
      await listeners?.stop()
      await catalogListener.stop()
    },
    /** Ends the pools, once nothing runs on them. */
    async end(): Promise<void> {
      await pools.end()
      await catalog.end({ timeout: 5 })
    },
  }
}
