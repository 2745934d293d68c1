import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { drizzle } from 'drizzle-orm/postgres-js'
import { migrate } from 'drizzle-orm/postgres-js/migrator'
import postgres from 'postgres'

/** The project's drizzle/ folder, found from src/ and from the compiled dist/src/ alike. */
export function resolveMigrationsFolder(): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  while (!existsSync(join(dir, 'drizzle', 'meta', '_journal.json'))) {
    const parent = dirname(dir)
    if (parent === dir) throw new Error('Cannot find the drizzle/ migrations folder')
    dir = parent
  }
  return join(dir, 'drizzle')
}

// Any constant works, as long as every Parley process uses the same one.
const MIGRATION_LOCK = 0x7061726c // 'parl'

/**
 * Applies pending migrations on a dedicated connection. Drizzle's migrator takes no lock,
 * so instances starting together on an empty database would race; the advisory lock
 * makes them take turns, and the later ones find nothing left to do.
 */
export async function runMigrations(url: string): Promise<void> {
  const sql = postgres(url, {
    max: 1,
    onnotice: () => {},
    connection: { application_name: 'parley-migrate' },
  })
  try {
    await sql`select pg_advisory_lock(${MIGRATION_LOCK})`
    await migrate(drizzle(sql), {
      migrationsFolder: resolveMigrationsFolder(),
      migrationsTable: '__drizzle_migrations',
      migrationsSchema: 'drizzle',
    })
    await sql`select pg_advisory_unlock(${MIGRATION_LOCK})`
  } finally {
    await sql.end({ timeout: 5 })
  }
}
