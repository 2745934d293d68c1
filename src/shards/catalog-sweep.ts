import type { Sql } from 'postgres'
import type { Db } from '../db/client.js'
import { repeatEvery } from '../repeat.js'

export interface CatalogSweepOptions {
  catalog: Sql
  everyShard: () => Promise<{ id: number; db: Db }[]>
  everyMs: number
  /** How old a placement must be before its room's absence counts: creating a room takes milliseconds. */
  graceMs?: number
  /** Rooms looked at per shard per sweep. */
  batch?: number
  onError: (error: unknown) => void
}

/**
 * The catalog's retention: a room deleted by hand on its shard, or a placement whose process
 * died before creating its room, leaves its `room_shards` row (and with it its public name
 * and its pair's direct message) behind. Each sweep looks at the next `batch` placements of
 * every shard, by room id, asks the shard which of those rooms exist, and deletes the rest,
 * still only where the catalog names that shard: a room moved away meanwhile keeps its row.
 * Every instance sweeps, as every instance sweeps the shards' tables; deleting twice is harmless.
 */
export function createCatalogSweep(options: CatalogSweepOptions) {
  const { catalog } = options
  const graceMs = options.graceMs ?? 3_600_000
  const batch = options.batch ?? 5_000
  // Where the walk of each shard's placements has reached; it starts over past the last.
  const reached = new Map<number, number>()

  async function sweepShard(shard: { id: number; db: Db }): Promise<number> {
    const after = reached.get(shard.id) ?? 0
    const placed = await catalog<{ roomId: string }[]>`
      select room_id as "roomId" from room_shards
       where shard_id = ${shard.id} and room_id > ${after}::bigint
         and placed_at < now() - ${graceMs}::int * interval '1 millisecond'
       order by room_id limit ${batch}::int`
    const ids = placed.map((row) => Number(row.roomId))
    reached.set(shard.id, ids.length < batch ? 0 : ids.at(-1)!)
    if (ids.length === 0) return 0
    const found = await shard.db.$client<
      { id: string }[]
    >`select id from rooms where id = any(${ids}::bigint[])`
    const present = new Set(found.map((row) => Number(row.id)))
    const gone = ids.filter((id) => !present.has(id))
    if (gone.length === 0) return 0
    const deleted = await catalog`
      delete from room_shards
       where shard_id = ${shard.id} and room_id = any(${gone}::bigint[])
         and placed_at < now() - ${graceMs}::int * interval '1 millisecond'`
    return deleted.count
  }

  /** One pass over every shard; the placements deleted. */
  async function sweepOnce(): Promise<number> {
    const counts = await Promise.all((await options.everyShard()).map(sweepShard))
    return counts.reduce((sum, count) => sum + count, 0)
  }

  const repeating = repeatEvery(options.everyMs, sweepOnce, options.onError)
  return { sweepOnce, start: repeating.start, stop: repeating.stop }
}
