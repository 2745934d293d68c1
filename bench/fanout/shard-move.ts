import postgres, { type Sql } from 'postgres'
import { runMigrations } from '../../src/db/migrate.js'
import { addShard } from '../../src/shards/catalog.js'
import { moveRoom } from '../../src/shards/move.js'

export interface MovePoint {
  /** Messages in the room moved (besides those its writer added). */
  messages: number
  /** Writes to the room waited this long: from the move taking its locks to releasing them. */
  pauseMs: number
  /** The longest a writer's single insert into the room took while it moved. */
  writerMaxMs: number
  /** The writer's inserts stored (all moved with the room; the one that waited is refused). */
  writes: number
  /** Rows of every table copied. */
  rows: number
}

/** Room sizes moved, one room each. */
export const MOVE_SIZES = [1_000, 10_000, 100_000, 1_000_000]
const WRITER_GAP_MS = 5

/** A catalog database named `name` on the server of `url`, migrated: its URL and a client. */
export async function createCatalog(url: string, name: string): Promise<{ url: string; catalog: Sql }> {
  const catalogUrl = url.replace(/\/[^/?]+(\?|$)/, `/${name}$1`)
  const admin = postgres(url, { max: 1, onnotice: () => {} })
  await admin.unsafe(`create database ${name}`)
  await admin.end()
  await runMigrations(catalogUrl, 'catalog')
  return { url: catalogUrl, catalog: postgres(catalogUrl, { max: 2, onnotice: () => {} }) }
}

/**
 * The pause of moving a room between two shards (src/shards/move.ts): a catalog on the first
 * instance, both instances added as shards; for each size, a room of that many messages
 * (inserted through the triggers) on the first, a writer inserting into it one message at a
 * time, and the room moved to the second while the writer runs, until its insert is refused.
 */
export async function measureMoves(
  urls: [string, string],
  log: (line: string) => void,
  sizes = MOVE_SIZES,
): Promise<MovePoint[]> {
  const { catalog } = await createCatalog(urls[0], 'parley_catalog')
  const first = postgres(urls[0], { max: 2, onnotice: () => {}, connection: { synchronous_commit: 'off' } })
  try {
    await addShard(catalog, { name: 'one', url: urls[0] })
    await addShard(catalog, { name: 'two', url: urls[1] })
    // Past the ids of the rooms the scenario made on each instance without the catalog.
    await catalog`select setval('room_ids', 1000000)`
    const points: MovePoint[] = []
    for (const messages of sizes) {
      // The room goes to the shard with fewer rooms: one, since every room moved went to two.
      const [placed] = await catalog<
        { roomId: string }[]
      >`select room_id as "roomId" from parley_place_room()`
      const roomId = Number(placed!.roomId)
      await first`insert into rooms (id, name, created_by) values (${roomId}, ${`moved ${roomId}`}, 'bench')`
      await first`insert into messages (room_id, user_id, user_name, body)
                  select ${roomId}, 'bench', 'Bench', 'message ' || g from generate_series(1, ${messages}::int) g`
      let moving = true
      let writerMaxMs = 0
      let writes = 0
      const writer = (async () => {
        while (moving || writes === 0) {
          const started = performance.now()
          try {
            await first`insert into messages (room_id, user_id, user_name, body) values (${roomId}, 'writer', 'Writer', 'live')`
            writes++
          } catch {
            writerMaxMs = Math.max(writerMaxMs, performance.now() - started)
            return
          }
          writerMaxMs = Math.max(writerMaxMs, performance.now() - started)
          await new Promise((resolve) => setTimeout(resolve, WRITER_GAP_MS))
        }
      })()
      while (writes < 3) await new Promise((resolve) => setTimeout(resolve, WRITER_GAP_MS))
      const moved = await moveRoom(catalog, roomId, 'two')
      moving = false
      // The writer's next insert meets the room gone, if the one that waited was not refused already.
      await writer
      const rows = Object.values(moved.rows).reduce((sum, n) => sum + n, 0)
      points.push({ messages, pauseMs: moved.pauseMs, writerMaxMs, writes, rows })
      log(
        `  shards: moved a room of ${messages} messages (${rows} rows): writes paused ${moved.pauseMs.toFixed(0)} ms,` +
          ` the writer's longest insert ${writerMaxMs.toFixed(0)} ms`,
      )
    }
    return points
  } finally {
    await Promise.all([catalog.end({ timeout: 1 }), first.end({ timeout: 1 })])
  }
}
