import { createDb, type DbOptions } from '../db/client.js'
import type { Directory, Shard } from './directory.js'

type ShardDb = ReturnType<typeof createDb>

export type ShardPools = ReturnType<typeof createShardPools>

/**
 * A query pool per shard, opened on first use: what a room's reads and writes go through.
 * A shard whose address changed in the catalog gets a new pool; the old one ends once its
 * queries have.
 */
export function createShardPools(directory: Directory, options: DbOptions = {}) {
  const pools = new Map<number, { url: string; db: ShardDb }>()

  function forShard(shard: Shard): ShardDb {
    const open = pools.get(shard.id)
    if (open?.url === shard.url) return open.db
    if (open) void open.db.sql.end({ timeout: 30 })
    const db = createDb(shard.url, { applicationName: `parley-${shard.name}`, ...options })
    pools.set(shard.id, { url: shard.url, db })
    return db
  }

  return {
    forShard,
    /** The shard holding `roomId` and its pool, or undefined when no shard holds it. */
    async forRoom(roomId: number): Promise<(ShardDb & { shard: Shard }) | undefined> {
      const shard = await directory.shardOf(roomId)
      return shard && { shard, ...forShard(shard) }
    },
    async end(): Promise<void> {
      await Promise.all([...pools.values()].map(({ db }) => db.sql.end({ timeout: 5 })))
      pools.clear()
    },
  }
}
