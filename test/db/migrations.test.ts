import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'
import { runMigrations } from '../../src/db/migrate.js'
import { createTestDatabase, type TestDatabase } from '../support/database.js'

const projectRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const run = promisify(execFile)
const databases: TestDatabase[] = []

afterAll(async () => {
  await Promise.all(databases.map((database) => database.drop()))
})

async function emptyDatabase() {
  const database = await createTestDatabase({ migrate: false })
  databases.push(database)
  return database
}

async function journalTimestamps(): Promise<number[]> {
  const journal = JSON.parse(
    await readFile(join(projectRoot, 'drizzle', 'meta', '_journal.json'), 'utf8'),
  ) as {
    entries: { when: number }[]
  }
  return journal.entries.map((entry) => entry.when)
}

/** The migrations recorded as applied, by the journal timestamp drizzle stores as created_at. */
async function appliedMigrations(database: TestDatabase): Promise<number[]> {
  const rows = await database.sql<{ created_at: string }[]>`
    select created_at::text from drizzle.__drizzle_migrations order by id`
  return rows.map((row) => Number(row.created_at))
}

async function publicTables(database: TestDatabase): Promise<string[]> {
  const rows = await database.sql<{ tablename: string }[]>`
    select tablename from pg_tables where schemaname = 'public' order by tablename`
  return rows.map((row) => row.tablename)
}

async function messageTriggers(database: TestDatabase): Promise<string[]> {
  const rows = await database.sql<{ tgname: string }[]>`
    select tgname from pg_trigger where tgrelid = 'messages'::regclass and not tgisinternal order by tgname`
  return rows.map((row) => row.tgname)
}

const SCHEMA_TABLES = [
  'message_changes',
  'message_mentions',
  'message_reactions',
  'messages',
  'parley_instances',
  'room_members',
  'room_reads',
  'rooms',
  'stream_presence',
  'stream_tickets',
  'user_events',
  'user_feeds',
]

const MESSAGE_TRIGGERS = [
  'messages_assign_seq',
  'messages_change',
  'messages_clear_deleted_reactions',
  'messages_count_deleted',
  'messages_edit_user_events',
  'messages_notify',
  'messages_record_mentions',
  'messages_set_mentions',
  'messages_update_mentions',
  'messages_user_events',
]

describe('migrations', () => {
  it('builds the schema and triggers from an empty database with drizzle-kit migrate', async () => {
    const database = await emptyDatabase()
    await run('npx', ['drizzle-kit', 'migrate'], {
      cwd: projectRoot,
      env: { ...process.env, DATABASE_URL: database.url },
      timeout: 60_000,
    })
    expect(await publicTables(database)).toEqual(SCHEMA_TABLES)
    expect(await messageTriggers(database)).toEqual(MESSAGE_TRIGGERS)
    expect(await appliedMigrations(database)).toEqual(await journalTimestamps())

    // The server's migrator shares drizzle-kit's bookkeeping, so it finds nothing left to do.
    await runMigrations(database.url)
    expect(await appliedMigrations(database)).toEqual(await journalTimestamps())
  })

  it.each([
    ['0011_message_change_triggers.sql', 'messages.sql'],
    ['0004_member_triggers.sql', 'members.sql'],
    ['0014_mention_triggers.sql', 'mentions.sql'],
    ['0015_user_event_triggers.sql', 'user-events.sql'],
  ])('installs trigger SQL with drizzle/%s byte-identical to sql/%s', async (migrationFile, sqlFile) => {
    const [migration, source] = await Promise.all([
      readFile(join(projectRoot, 'drizzle', migrationFile)),
      readFile(join(projectRoot, 'sql', sqlFile)),
    ])
    expect(migration.toString('utf8')).toBe(source.toString('utf8'))
    expect(migration.equals(source)).toBe(true)
  })

  it('applies every migration exactly once when four instances migrate an empty database at once', async () => {
    const database = await emptyDatabase()
    const results = await Promise.allSettled(Array.from({ length: 4 }, () => runMigrations(database.url)))
    const outcomes = results.map((result) => (result.status === 'fulfilled' ? 'ok' : String(result.reason)))
    expect(outcomes).toEqual(['ok', 'ok', 'ok', 'ok'])
    expect(await appliedMigrations(database)).toEqual(await journalTimestamps())
    expect(await publicTables(database)).toEqual(SCHEMA_TABLES)
    expect(await messageTriggers(database)).toEqual(MESSAGE_TRIGGERS)
  })
})
