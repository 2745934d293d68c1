import { randomBytes } from 'node:crypto'
import postgres from 'postgres'
import { inject } from 'vitest'
import { databaseUrl } from '../../src/db/embedded.js'
import { runMigrations } from '../../src/db/migrate.js'

export interface TestDatabase {
  url: string
  /** A plain postgres.js client on the database, for direct SQL like a psql user's. */
  sql: postgres.Sql
  drop(): Promise<void>
}

/** A fresh database for one test file, migrated with the project's real migrations unless `migrate: false`. */
export async function createTestDatabase({ migrate = true } = {}): Promise<TestDatabase> {
  const adminUrl = inject('adminUrl')
  const name = `parley_test_${randomBytes(6).toString('hex')}`
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} })
  await admin.unsafe(`create database ${name}`)
  await admin.end()
  const url = databaseUrl(adminUrl, name)
  if (migrate) await runMigrations(url)
  const sql = postgres(url, { max: 5, onnotice: () => {} })
  return {
    url,
    sql,
    async drop() {
      await sql.end({ timeout: 1 })
      const admin = postgres(adminUrl, { max: 1, onnotice: () => {} })
      await admin.unsafe(`drop database if exists ${name} with (force)`)
      await admin.end()
    },
  }
}
