import postgres, { type Sql } from 'postgres'
import { runMigrations } from '../db/migrate.js'
import type { Shard, ShardState } from './directory.js'

// The operator's side of the catalog: what `npm run shards` and `npm run db:migrate` do.

/** A client for one command on the catalog. */
export const connectCatalog = (url: string): Sql =>
  postgres(url, { max: 1, onnotice: () => {}, connection: { application_name: 'parley-shards' } })

export interface ShardRow extends Shard {
  roomCount: number
}

export async function listShards(catalog: Sql): Promise<ShardRow[]> {
  const rows = await catalog<
    (Omit<ShardRow, 'listenUrl' | 'roomCount'> & { listenUrl: string | null; roomCount: string })[]
  >`
    select id, name, url, listen_url as "listenUrl", state, room_count as "roomCount" from shards order by id`
  return rows.map((row) => ({
    ...row,
    listenUrl: row.listenUrl ?? undefined,
    roomCount: Number(row.roomCount),
  }))
}

/**
 * Adds a shard: migrates its database first (through `listenUrl`, PostgreSQL itself, when
 * `url` is a pooler's), so no room is ever placed on a shard without Parley's schema.
 */
export async function addShard(
  catalog: Sql,
  shard: { name: string; url: string; listenUrl?: string },
): Promise<ShardRow> {
  await runMigrations(shard.listenUrl ?? shard.url)
  await catalog`
    insert into shards (name, url, listen_url) values (${shard.name}, ${shard.url}, ${shard.listenUrl ?? null})`
  const added = (await listShards(catalog)).find((row) => row.name === shard.name)
  return added!
}

/** Opens a shard to new rooms, or closes it (it keeps its rooms). Returns false for an unknown name. */
export async function setShardState(catalog: Sql, name: string, state: ShardState): Promise<boolean> {
  const rows = await catalog`update shards set state = ${state} where name = ${name} returning id`
  return rows.length > 0
}

/** The shard holding a room, as `sql/room-shard.sql` finds it. */
export async function roomShard(catalog: Sql, roomId: number): Promise<ShardRow | undefined> {
  const [row] = await catalog<{ shardId: number }[]>`
    select shard_id as "shardId" from room_shards where room_id = ${roomId}`
  return row ? (await listShards(catalog)).find((shard) => shard.id === row.shardId) : undefined
}

/** Migrates the catalog, then every shard it names; returns the shards' names. */
export async function migrateCatalogAndShards(catalogUrl: string): Promise<string[]> {
  await runMigrations(catalogUrl, 'catalog')
  const catalog = connectCatalog(catalogUrl)
  try {
    const shards = await listShards(catalog)
    for (const shard of shards) await runMigrations(shard.listenUrl ?? shard.url)
    return shards.map((shard) => shard.name)
  } finally {
    await catalog.end({ timeout: 5 })
  }
}
