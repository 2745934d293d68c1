import { loadConfig } from '../config.js'
import { runMigrations } from '../db/migrate.js'
import { loadEnvFile } from '../env-file.js'
import { migrateCatalogAndShards } from '../shards/catalog.js'

// `npm run db:migrate`: Parley's database (LISTEN_DATABASE_URL, PostgreSQL itself, when
// DATABASE_URL is a pooler's), and with CATALOG_DATABASE_URL the catalog and every shard.

async function main(): Promise<void> {
  loadEnvFile()
  const config = loadConfig()
  const own = config.LISTEN_DATABASE_URL ?? config.DATABASE_URL
  if (!own && !config.CATALOG_DATABASE_URL) {
    throw new Error('Set DATABASE_URL (and CATALOG_DATABASE_URL when rooms are spread over shards)')
  }
  if (own) {
    await runMigrations(own)
    console.log('migrated DATABASE_URL')
  }
  if (config.CATALOG_DATABASE_URL) {
    const shards = await migrateCatalogAndShards(config.CATALOG_DATABASE_URL)
    console.log(
      `migrated the catalog and ${shards.length} shard(s)${shards.length ? `: ${shards.join(', ')}` : ''}`,
    )
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error)
  process.exit(1)
})
