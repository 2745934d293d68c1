import pino from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConfigError, resolveConfig } from '../../src/config.js'
import { startServer } from '../../src/server.js'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { startTestServer } from '../support/server.js'

// SEARCH_CONFIG against the database's configurations and the search column
// (src/db/search-config.ts, sql/search-config.sql).

let database: TestDatabase

beforeAll(async () => {
  database = await createTestDatabase()
})

afterAll(async () => {
  await database?.drop()
})

async function startWith(searchConfig: string) {
  const config = resolveConfig({ PORT: '0', LOG_LEVEL: 'silent', SEARCH_CONFIG: searchConfig })
  return startServer({ config, databaseUrl: database.url, logger: pino({ level: 'silent' }) })
}

describe('SEARCH_CONFIG', () => {
  it('refuses to start with a configuration the database does not know', async () => {
    await expect(startWith('klingon')).rejects.toThrow(ConfigError)
    await expect(startWith('klingon')).rejects.toThrow(/'klingon' is not a text search configuration/)
  })

  it('refuses to start with another configuration than the column’s, naming the script that rebuilds it', async () => {
    await expect(startWith('english')).rejects.toThrow(
      /SEARCH_CONFIG is 'english' but messages.search_vector is built with 'simple'.*sql\/search-config.sql/,
    )
  })

  it('finds stemmed words once the column is rebuilt with the configuration', async () => {
    const script = await import('node:fs/promises').then((fs) => fs.readFile('sql/search-config.sql', 'utf8'))
    const statements = script
      .split('\n')
      .filter((line) => !/^(--|\\|begin;|commit;)/.test(line))
      .join('\n')
      .replaceAll(":'config'", "'english'")
    await database.sql.begin((tx) => tx.unsafe(statements))
    await database.sql`insert into rooms (name, created_by) values ('stems', 'ann')`
    await database.sql`insert into messages (room_id, user_id, user_name, body)
      select id, 'ann', 'Ann', 'we deployed the builds' from rooms where name = 'stems'`
    const server = await startTestServer(database, { SEARCH_CONFIG: 'english' })
    try {
      const response = await server.request('/search?q=deploying%20build')
      const page = (await response.json()) as { results: { message: { body: string } }[] }
      expect(page.results.map((r) => r.message.body)).toEqual(['we deployed the builds'])
    } finally {
      await server.close()
    }
  })
})
