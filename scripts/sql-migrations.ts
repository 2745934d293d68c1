import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

// sql/ holds the trigger functions as a DBA reads and edits them; drizzle/ must still build
// the whole schema from an empty database on its own (drizzle-kit migrate, src/db/migrate.ts).
// So each definitions file is copied into a custom migration, and this script does the
// copying: `npm run db:sql` writes a new migration for every file whose definitions differ
// from the newest migration that defines its functions. Migrations already applied are
// never edited; the copy is always a new one, replacing the functions and triggers in place.

const root = join(dirname(fileURLToPath(import.meta.url)), '..')

/**
 * The files of sql/ that are psql scripts, not definitions: they take psql variables or run
 * once by hand, so no migration may hold them.
 */
export const PSQL_SCRIPTS: ReadonlyMap<string, string> = new Map([
  ['insert-message.sql', 'posts one message by hand with psql variables (:room, :user, …)'],
  ['recent-messages.sql', 'a query for psql, with psql variables (:room, :limit)'],
  ['room-shard.sql', 'a query for psql on the sharding catalog, with a psql variable (:room)'],
  ['rooms.sql', 'a query for psql, listing the rooms'],
  [
    'search-config.sql',
    'a one-off rebuild of the search column with another configuration (psql :config, \\set); ' +
      'the column itself is schema, made by drizzle/0012_message_search.sql',
  ],
])

const BREAKPOINT = '--> statement-breakpoint'

/** The functions a file creates, by name, in the order it creates them. */
export function definedFunctions(text: string): string[] {
  return [...text.matchAll(/CREATE\s+OR\s+REPLACE\s+FUNCTION\s+([\w.]+)\s*\(/gi)].map((match) =>
    match[1]!.toLowerCase(),
  )
}

/**
 * A file's statements as the database receives them: the comments between statements
 * left out and every run of whitespace made one space. A comment inside a function's
 * $$-quoted body is kept, since PostgreSQL stores it with the function.
 */
export function definitionStatements(text: string): string[] {
  return text
    .split(BREAKPOINT)
    .map((statement) => {
      const kept: string[] = []
      let inBody = false
      for (const line of statement.split('\n')) {
        if (!inBody && line.trimStart().startsWith('--')) continue
        kept.push(line)
        if ((line.match(/\$\$/g)?.length ?? 0) % 2 === 1) inBody = !inBody
      }
      return kept.join('\n').replace(/\s+/g, ' ').trim()
    })
    .filter((statement) => statement.length > 0)
}

export interface SqlFileState {
  /** The file's name in sql/. */
  file: string
  functions: string[]
  /** The newest migration (its file name in drizzle/) that creates any of the file's functions. */
  migration: string | undefined
  /** True when that migration's statements are the file's. */
  current: boolean
}

/** The migrations in the order drizzle applies them, as `<tag>.sql` file names. */
function journalFiles(drizzleDir: string): string[] {
  const journal = JSON.parse(readFileSync(join(drizzleDir, 'meta', '_journal.json'), 'utf8')) as {
    entries: { idx: number; tag: string }[]
  }
  return [...journal.entries].sort((a, b) => a.idx - b.idx).map((entry) => `${entry.tag}.sql`)
}

/** Every definitions file of `sqlDir`, in name order, and whether drizzle/ holds it as it is. */
export function sqlFileStates({ sqlDir = join(root, 'sql'), drizzleDir = join(root, 'drizzle') } = {}) {
  const migrations = journalFiles(drizzleDir)
    .reverse()
    .map((file) => ({ file, text: readFileSync(join(drizzleDir, file), 'utf8') }))
  const owners = new Map<string, string>()
  const states: SqlFileState[] = []
  for (const file of readdirSync(sqlDir).sort()) {
    if (!file.endsWith('.sql') || PSQL_SCRIPTS.has(file)) continue
    const text = readFileSync(join(sqlDir, file), 'utf8')
    const functions = definedFunctions(text)
    if (functions.length === 0) {
      throw new Error(`sql/${file} creates no function: list it in PSQL_SCRIPTS if it is a psql script`)
    }
    for (const name of functions) {
      const owner = owners.get(name)
      if (owner) throw new Error(`${name} is created by both sql/${owner} and sql/${file}`)
      owners.set(name, file)
    }
    const newest = migrations.find((migration) =>
      definedFunctions(migration.text).some((name) => functions.includes(name)),
    )
    const current =
      newest !== undefined &&
      JSON.stringify(definitionStatements(newest.text)) === JSON.stringify(definitionStatements(text))
    states.push({ file, functions, migration: newest?.file, current })
  }
  return states
}

/**
 * Writes a custom migration holding sql/`file`. drizzle-kit makes the file, its journal
 * entry and its snapshot, so the journal stays drizzle-kit's own; the file's text is the
 * source's, whose `--> statement-breakpoint` lines drizzle splits it on.
 */
export function writeSqlMigration(file: string, { cwd = root } = {}): string {
  const name = `sql_${basename(file, '.sql').replace(/[^a-z0-9]+/gi, '_')}`
  execFileSync('npx', ['drizzle-kit', 'generate', '--custom', '--name', name], { cwd, stdio: 'pipe' })
  const drizzleDir = join(cwd, 'drizzle')
  const made = journalFiles(drizzleDir).at(-1)
  if (!made?.endsWith(`_${name}.sql`)) throw new Error(`drizzle-kit did not make a migration named ${name}`)
  const source = readFileSync(join(cwd, 'sql', file), 'utf8')
  writeFileSync(
    join(drizzleDir, made),
    `-- Copied from sql/${file} by \`npm run db:sql\`; edit that file.\n${source}`,
  )
  return made
}

/**
 * A new migration for each definitions file that drizzle/ does not hold as it is now; with
 * `only`, for those of the named files only (a file still being written is left alone).
 */
export function writeStaleSqlMigrations({ cwd = root, only = [] as string[] } = {}) {
  const states = sqlFileStates({ sqlDir: join(cwd, 'sql'), drizzleDir: join(cwd, 'drizzle') })
  const unknown = only.filter((file) => !states.some((state) => state.file === file))
  if (unknown.length > 0) throw new Error(`not definitions files of sql/: ${unknown.join(', ')}`)
  const stale = states.filter((state) => !state.current && (only.length === 0 || only.includes(state.file)))
  return stale.map(({ file }) => ({ file, migration: writeSqlMigration(file, { cwd }) }))
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  // `npm run db:sql -- mentions.sql` copies that file only.
  const only = process.argv.slice(2).map((arg) => basename(arg))
  const written = writeStaleSqlMigrations({ only })
  for (const { file, migration } of written) console.log(`sql/${file} → drizzle/${migration}`)
  if (written.length === 0) console.log('drizzle/ holds every file of sql/ as it is')
}
