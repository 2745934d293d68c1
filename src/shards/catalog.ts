import postgres, { type Sql } from 'postgres'
import { runMigrations } from '../db/migrate.js'
import type { Shard, ShardState } from './directory.js'

// The operator's side of the catalog: what `npm run shards` and `npm run db:migrate` do.

/** A client for one command on the catalog (or on a shard). */
export const connectCatalog = (url: string): Sql =>
  postgres(url, { max: 1, onnotice: () => {}, connection: { application_name: 'parley-shards' } })

/** PostgreSQL itself on a shard, for what needs a session (LISTEN, migrations, COPY). */
export const directUrl = (shard: { url: string; listenUrl?: string | undefined }): string =>
  shard.listenUrl ?? shard.url

export interface ShardRow extends Shard {
  roomCount: number
}

type ShardRecord = Omit<ShardRow, 'listenUrl' | 'roomCount'> & { listenUrl: string | null; roomCount: string }

const toShardRow = (row: ShardRecord): ShardRow => ({
  ...row,
  listenUrl: row.listenUrl ?? undefined,
  roomCount: Number(row.roomCount),
})

const shardColumns = (catalog: Sql) =>
  catalog.unsafe(`s.id, s.name, s.url, s.listen_url as "listenUrl", s.state, s.room_count as "roomCount"`)

export async function listShards(catalog: Sql): Promise<ShardRow[]> {
  const rows = await catalog<ShardRecord[]>`select ${shardColumns(catalog)} from shards s order by s.id`
  return rows.map(toShardRow)
}

/**
 * Adds a shard: migrates its database first (through `listenUrl`, PostgreSQL itself, when
 * `url` is a pooler's), so no room is ever placed on a shard without Parley's schema, and
 * opens it to new rooms only once it allocates ids from its own range.
 */
export async function addShard(
  catalog: Sql,
  shard: { name: string; url: string; listenUrl?: string },
): Promise<ShardRow> {
  const url = directUrl(shard)
  await runMigrations(url)
  const [inserted] = await catalog<{ id: number }[]>`
    insert into shards (name, url, listen_url, state)
    values (${shard.name}, ${shard.url}, ${shard.listenUrl ?? null}, 'closed')
    returning id`
  const id = inserted!.id
  await claimRanges(url, id)
  await catalog`update shards set state = 'open' where id = ${id}`
  return (await listShards(catalog)).find((row) => row.id === id)!
}

async function claimRanges(url: string, shardId: number): Promise<void> {
  const shard = connectCatalog(url)
  try {
    await claimIdRanges(shard, shardId)
  } finally {
    await shard.end({ timeout: 5 })
  }
}

/** Opens a shard to new rooms, or closes it (it keeps its rooms). Returns false for an unknown name. */
export async function setShardState(catalog: Sql, name: string, state: ShardState): Promise<boolean> {
  const rows = await catalog`update shards set state = ${state} where name = ${name} returning id`
  return rows.length > 0
}

/** The shard holding a room, as `sql/room-shard.sql` finds it. */
export async function roomShard(catalog: Sql, roomId: number): Promise<ShardRow | undefined> {
  const [row] = await catalog<ShardRecord[]>`
    select ${shardColumns(catalog)} from room_shards r join shards s on s.id = r.shard_id
     where r.room_id = ${roomId}`
  return row && toShardRow(row)
}

/** Migrates the catalog, then every shard it names; returns the shards' names. */
export async function migrateCatalogAndShards(catalogUrl: string): Promise<string[]> {
  await runMigrations(catalogUrl, 'catalog')
  const catalog = connectCatalog(catalogUrl)
  try {
    const shards = await listShards(catalog)
    for (const shard of shards) {
      await runMigrations(directUrl(shard))
      await claimRanges(directUrl(shard), shard.id)
    }
    return shards.map((shard) => shard.name)
  } finally {
    await catalog.end({ timeout: 5 })
  }
}

/** Bits of an id below a shard's range: each shard allocates ids from shard id × 2^44 on. */
const RANGE_BITS = 44

/**
 * Makes a shard allocate the ids of every identity column but the room's (rooms come from the
 * catalog) from its own range, shard id × 2^44 on (17 trillion ids a shard, and every id
 * below 2^53, so JSON numbers hold them). Ids it allocated before, below its range, stay
 * unique too: no other shard's range starts below 2^44. Run when a shard is added and by
 * every migration, since a new table's sequence starts at 1.
 */
export async function claimIdRanges(shard: Sql, shardId: number): Promise<void> {
  const start = (BigInt(shardId) << BigInt(RANGE_BITS)).toString()
  await shard`
    select setval(c.oid, ${start}::bigint, false)
      from information_schema.columns col
      join pg_class c on c.oid = pg_get_serial_sequence(quote_ident(col.table_name), col.column_name)::regclass
      join pg_sequences s on s.schemaname = current_schema() and s.sequencename = c.relname
     where col.table_schema = current_schema() and col.is_identity = 'YES' and col.table_name <> 'rooms'
       and coalesce(s.last_value, 0) < ${start}::bigint`
}
