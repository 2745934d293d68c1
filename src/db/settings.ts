import type { Sql } from 'postgres'
import type { Config } from '../config.js'

/** The configuration the triggers enforce, by its parley_settings name. */
const SETTINGS = {
  reactions_per_message: 'REACTIONS_PER_MESSAGE',
  reactions_per_user_per_message: 'REACTIONS_PER_USER_PER_MESSAGE',
} as const satisfies Record<string, keyof Config>

/**
 * Writes the limits the triggers enforce into parley_settings. They are enforced there,
 * under the message's row lock, because a check made by the server before its insert lets a
 * burst of parallel requests through, and psql inserts would skip it; a trigger cannot take
 * arguments, so it reads a table. The settings are the database's: every instance writes
 * its own at start, and the last one to start wins, so instances should share them.
 */
export async function writeSettings(
  sql: Sql,
  config: Pick<Config, (typeof SETTINGS)[keyof typeof SETTINGS]>,
) {
  // Before the migration that adds it (MIGRATE_ON_START=false), there is nowhere to write.
  const [table] = await sql`select to_regclass('parley_settings') is not null as present`
  if (!table?.present) return
  const rows = Object.entries(SETTINGS).map(([name, key]) => ({ name, value: config[key] }))
  await sql`
    insert into parley_settings ${sql(rows, 'name', 'value')}
    on conflict (name) do update set value = excluded.value`
}
