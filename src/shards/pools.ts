import { createDb, type Db, type DbOptions } from '../db/client.js'
import { createSearchPool, type SearchPoolOptions } from '../db/search-pool.js'
import type { Directory, Shard } from './directory.js'

type ShardDb = ReturnType<typeof createDb>

export type ShardPools = ReturnType<typeof createShardPools>

/**
 * A query pool per shard, opened on first use: what a room's reads and writes go through;
 * and, given `search`, a search pool per shard with its statement timeout. A shard whose
 * address changed in the catalog gets new pools; the old ones end once their queries have.
 */
export function createShardPools(directory: Directory, options: DbOptions = {}, search?: SearchPoolOptions) {
  const pools = new Map<number, { url: string; db: ShardDb }>()
  const searchPools = new Map<number, { url: string; db: ShardDb }>()

  function forShard(shard: Shard): ShardDb {
    const open = pools.get(shard.id)
    if (open?.url === shard.url) return open.db
    if (open) void open.db.sql.end({ timeout: 30 })
    const db = createDb(shard.url, { applicationName: `parley-${shard.name}`, ...options })
    pools.set(shard.id, { url: shard.url, db })
    return db
  }

  function searchOf(shard: Shard): Db {
    if (!search) throw new Error('no search pools were asked for')
    const open = searchPools.get(shard.id)
    if (open?.url === shard.url) return open.db.db
    if (open) void open.db.sql.end({ timeout: 30 })
    const pool = createSearchPool(shard.url, { pooler: options.pooler, ...search })
    searchPools.set(shard.id, { url: shard.url, db: pool })
    return pool.db
  }

  return {
    forShard,
    searchOf,
    /** The shard holding `roomId` and its pool, or undefined when no shard holds it. */
    async forRoom(roomId: number): Promise<(ShardDb & { shard: Shard }) | undefined> {
      const shard = await directory.shardOf(roomId)
      return shard && { shard, ...forShard(shard) }
    },
    async end(): Promise<void> {
      const open = [...pools.values(), ...searchPools.values()]
      await Promise.all(open.map(({ db }) => db.sql.end({ timeout: 5 })))
      pools.clear()
      searchPools.clear()
    },
  }
}
