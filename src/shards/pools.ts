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
  /** Pools made by `open`, one per shard, replaced when the shard's address changes. */
  function perShard(open: (shard: Shard) => ShardDb) {
    const held = new Map<number, { url: string; pool: ShardDb }>()
    return {
      of(shard: Shard): ShardDb {
        const kept = held.get(shard.id)
        if (kept?.url === shard.url) return kept.pool
        if (kept) void kept.pool.sql.end({ timeout: 30 })
        const pool = open(shard)
        held.set(shard.id, { url: shard.url, pool })
        return pool
      },
      async end(): Promise<void> {
        await Promise.all([...held.values()].map(({ pool }) => pool.sql.end({ timeout: 5 })))
        held.clear()
      },
    }
  }
  const pools = perShard((shard) =>
    createDb(shard.url, { applicationName: `parley-${shard.name}`, ...options }),
  )
  const searchPools = perShard((shard) => {
    if (!search) throw new Error('no search pools were asked for')
    return createSearchPool(shard.url, { pooler: options.pooler, ...search })
  })
  const forShard = pools.of

  /** A shard's search pool, with its statement timeout. */
  const searchOf = (shard: Shard): Db => searchPools.of(shard).db

  return {
    forShard,
    searchOf,
    /** The shard holding `roomId` and its pool, or undefined when no shard holds it. */
    async forRoom(roomId: number): Promise<(ShardDb & { shard: Shard }) | undefined> {
      const shard = await directory.shardOf(roomId)
      return shard && { shard, ...forShard(shard) }
    },
    async end(): Promise<void> {
      await Promise.all([pools.end(), searchPools.end()])
    },
  }
}
