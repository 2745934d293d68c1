import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { drizzle } from 'drizzle-orm/postgres-js'
import { migrate } from 'drizzle-orm/postgres-js/migrator'
import postgres from 'postgres'

/** Parley's own schema (drizzle/), or the sharding catalog's (drizzle-catalog/). */
export type Schema = 'parley' | 'catalog'

const FOLDERS: Record<Schema, string> = { parley: 'drizzle', catalog: 'drizzle-catalog' }

// Each schema records its migrations in a table of its own, so the catalog may live in one of
// the shards' databases.
const TABLES: Record<Schema, string> = {
  parley: '__drizzle_migrations',
  catalog: '__drizzle_catalog_migrations',
}

/** A migrations folder of the project, found from src/ and from the compiled dist/src/ alike. */
export function resolveMigrationsFolder(schema: Schema = 'parley'): string {
  const folder = FOLDERS[schema]
  let dir = dirname(fileURLToPath(import.meta.url))
  while (!existsSync(join(dir, folder, 'meta', '_journal.json'))) {
    const parent = dirname(dir)
    if (parent === dir) throw new Error(`Cannot find the ${folder}/ migrations folder`)
    dir = parent
  }
  return join(dir, folder)
}

// Any constant works, as long as every Parley process uses the same one.
const MIGRATION_LOCK = 0x7061726c // 'parl'

/**
 * Applies pending migrations on a dedicated connection. Drizzle's migrator takes no lock,
 * so instances starting together on an empty database would race; the advisory lock
 * makes them take turns, and the later ones find nothing left to do.
 */
export async function runMigrations(url: string, schema: Schema = 'parley'): Promise<void> {
  const sql = postgres(url, {
    max: 1,
    onnotice: () => {},
    connection: { application_name: 'parley-migrate' },
  })
  try {
    await sql`select pg_advisory_lock(${MIGRATION_LOCK})`
    await migrate(drizzle(sql), {
      migrationsFolder: resolveMigrationsFolder(schema),
      migrationsTable: TABLES[schema],
      migrationsSchema: 'drizzle',
    })
    await sql`select pg_advisory_unlock(${MIGRATION_LOCK})`
  } finally {
    await sql.end({ timeout: 5 })
  }
}
