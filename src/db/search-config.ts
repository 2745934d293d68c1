import type { Sql } from 'postgres'
import { ConfigError } from '../config.js'

const BUILT_WITH = /to_tsvector\('([^']+)'::regconfig/

/**
 * Refuses to start unless SEARCH_CONFIG names a text search configuration of the database
 * and messages.search_vector is built with it: queries parsed with one configuration find
 * nothing in words stemmed by another. Changing it is a one-off rewrite of every message
 * (sql/search-config.sql), too heavy to start silently with a process.
 */
export async function checkSearchConfig(sql: Sql, config: string): Promise<void> {
  const [known] = await sql`select 1 from pg_ts_config where cfgname = ${config}`
  if (!known) {
    throw new ConfigError(
      `Invalid configuration: SEARCH_CONFIG: '${config}' is not a text search configuration of this database (see select cfgname from pg_ts_config)`,
    )
  }
  const [column] = await sql<{ expression: string | null }[]>`
    select pg_get_expr(d.adbin, d.adrelid) as expression
    from pg_attribute a
    join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
    where a.attrelid = to_regclass('messages') and a.attname = 'search_vector'`
  // Before the migration that adds it (MIGRATE_ON_START=false), there is nothing to compare.
  const builtWith = column?.expression ? BUILT_WITH.exec(column.expression)?.[1] : undefined
  if (builtWith && builtWith !== config) {
    throw new ConfigError(
      `Refusing to start: SEARCH_CONFIG is '${config}' but messages.search_vector is built with '${builtWith}'. ` +
        `Rebuild it once with: psql "$DATABASE_URL" -v config=${config} -f sql/search-config.sql ` +
        `(it rewrites every message), or set SEARCH_CONFIG=${builtWith}`,
    )
  }
}
