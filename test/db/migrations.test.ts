import { execFile } from 'node:child_process'
import { cp, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'
import {
  definedFunctions,
  definitionStatements,
  PSQL_SCRIPTS,
  sqlFileStates,
  writeStaleSqlMigrations,
} from '../../scripts/sql-migrations.js'
import { runMigrations } from '../../src/db/migrate.js'
import { createTestDatabase, type TestDatabase } from '../support/database.js'

const projectRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const run = promisify(execFile)
const databases: TestDatabase[] = []
const copies: string[] = []

afterAll(async () => {
  await Promise.all(databases.map((database) => database.drop()))
  await Promise.all(copies.map((dir) => rm(dir, { recursive: true, force: true })))
})

/** What drizzle-kit reads, copied to a directory of its own: sql/, drizzle/, its config and the schema. */
async function projectCopy(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'parley-migrations-'))
  copies.push(dir)
  for (const path of ['sql', 'drizzle', 'drizzle.config.ts', 'package.json', 'src/db/schema.ts']) {
    await cp(join(projectRoot, path), join(dir, path), { recursive: true })
  }
  await symlink(join(projectRoot, 'node_modules'), join(dir, 'node_modules'))
  return dir
}

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
  'moderation_log',
  'parley_instances',
  'parley_settings',
  'rate_buckets',
  'room_bans',
  'room_log',
  'room_log_heads',
  'room_members',
  'room_mutes',
  'room_post_marks',
  'room_reads',
  'room_reports',
  'rooms',
  'stream_presence',
  'stream_tickets',
  'user_events',
  'user_feeds',
  'webhook_deliveries',
  'webhook_endpoints',
  'webhook_lanes',
]

const MESSAGE_TRIGGERS = [
  'messages_assign_seq',
  'messages_change',
  'messages_clear_deleted_reactions',
  'messages_count_deleted',
  'messages_delete_audited',
  'messages_edit_user_events',
  'messages_notify',
  'messages_record_mentions',
  'messages_set_mentions',
  'messages_set_mentions_on_edit',
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

  it('applies a migration that npm run db:sql copied from an edited sql/ file', async () => {
    const copy = await projectCopy()
    const file = join(copy, 'sql', 'members.sql')
    const source = await readFile(file, 'utf8')
    const edited = "OLD.room_id::text || ':' || OLD.user_id || ':edited'"
    await writeFile(file, source.replace("OLD.room_id::text || ':' || OLD.user_id", edited))
    const before = sqlFileStates({ sqlDir: join(copy, 'sql'), drizzleDir: join(copy, 'drizzle') })
    expect(before.find((state) => state.file === 'members.sql')?.current).toBe(false)

    const [written] = writeStaleSqlMigrations({ cwd: copy, only: ['members.sql'] })
    expect(written?.migration).toMatch(/^\d{4}_sql_members\.sql$/)
    const after = sqlFileStates({ sqlDir: join(copy, 'sql'), drizzleDir: join(copy, 'drizzle') })
    expect(after.find((state) => state.file === 'members.sql')).toMatchObject({
      migration: written?.migration,
      current: true,
    })

    const database = await emptyDatabase()
    await run('npx', ['drizzle-kit', 'migrate'], {
      cwd: copy,
      env: { ...process.env, DATABASE_URL: database.url },
      timeout: 60_000,
    })
    const [row] = await database.sql<{ definition: string }[]>`
      select pg_get_functiondef('parley_notify_member_removed'::regproc) as definition`
    expect(row?.definition).toContain(edited)
  })

  it('tells an edit of a function from one of the comments between statements', () => {
    const source = `-- one\nCREATE OR REPLACE FUNCTION f() RETURNS int\nLANGUAGE sql AS $$\n  -- kept\n  SELECT 1\n$$;\n`
    expect(definedFunctions(source)).toEqual(['f'])
    const statements = definitionStatements(source)
    expect(definitionStatements(source.replace('-- one', '-- two\n\n'))).toEqual(statements)
    expect(definitionStatements(source.replace('  SELECT 1', 'SELECT   1'))).toEqual(statements)
    expect(definitionStatements(source.replace('-- kept', '-- changed'))).not.toEqual(statements)
    expect(definitionStatements(source.replace('SELECT 1', 'SELECT 2'))).not.toEqual(statements)
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

describe('sql/', () => {
  const states = sqlFileStates()

  it('holds psql scripts, kept out of drizzle/, and definitions, each created by a migration', async () => {
    const files = (await readdir(join(projectRoot, 'sql'))).filter((file) => file.endsWith('.sql')).sort()
    const scripts = [...PSQL_SCRIPTS.keys()].sort()
    expect(scripts.every((file) => files.includes(file))).toBe(true)
    expect(states.map((state) => state.file)).toEqual(files.filter((file) => !PSQL_SCRIPTS.has(file)))
  })

  it.each(states.map((state) => [state.file, state] as const))(
    'sql/%s is what the newest migration creating its functions holds (npm run db:sql makes it so)',
    async (file, state) => {
      expect(state.migration, `no migration creates ${state.functions.join(', ')}`).toBeDefined()
      const [source, migration] = await Promise.all([
        readFile(join(projectRoot, 'sql', file), 'utf8'),
        readFile(join(projectRoot, 'drizzle', state.migration!), 'utf8'),
      ])
      expect(definitionStatements(migration), `drizzle/${state.migration} differs`).toEqual(
        definitionStatements(source),
      )
    },
  )
})
