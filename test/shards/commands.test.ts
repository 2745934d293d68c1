import { execFile } from 'node:child_process'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../support/database.js'

// `npm run shards` and `npm run db:migrate` as an operator runs them: the scripts of
// package.json, in a directory without a .env, on databases of their own.

const run = promisify(execFile)
const root = resolve(import.meta.dirname, '../..')
const tsx = join(root, 'node_modules/.bin/tsx')

let catalog: TestDatabase
let shard: TestDatabase
let cwd: string

beforeAll(async () => {
  ;[catalog, shard] = await Promise.all([
    createTestDatabase({ migrate: false }),
    createTestDatabase({ migrate: false }),
  ])
  cwd = await mkdtemp(join(tmpdir(), 'parley-shards-'))
}, 60_000)

afterAll(async () => {
  await Promise.all([catalog, shard].map((database) => database?.drop()))
})

async function command(script: string, args: string[], env: Record<string, string> = {}) {
  const { DATABASE_URL: _unset, ...inherited } = process.env
  try {
    const { stdout } = await run(tsx, [join(root, script), ...args], {
      cwd,
      env: { ...inherited, CATALOG_DATABASE_URL: catalog.url, ...env },
    })
    return { ok: true, out: stdout }
  } catch (error) {
    return { ok: false, out: String((error as { stderr?: string }).stderr ?? error) }
  }
}
const shards = (...args: string[]) => command('src/cli/shards.ts', args)

describe('npm run shards', () => {
  it('adds a shard with its schema, lists it, closes it, and finds the shard of a room', async () => {
    expect(await shards('list')).toEqual({ ok: true, out: expect.stringMatching(/^no shards/) })
    expect(await shards('add', 'one', shard.url)).toEqual({
      ok: true,
      out: expect.stringMatching(/added shard one/),
    })
    const { count } = (await shard.sql<{ count: string }[]>`select count(*) from rooms`)[0]!
    expect(count).toBe('0')

    await catalog.sql`select parley_place_room()`
    expect((await shards('list')).out).toMatch(/^one\topen\t1 rooms\t/)
    expect(await shards('close', 'one')).toEqual({ ok: true, out: 'shard one is closed\n' })
    expect((await shards('list')).out).toMatch(/^one\tclosed\t1 rooms/)

    const { roomId } = (
      await catalog.sql<{ roomId: string }[]>`select room_id as "roomId" from room_shards`
    )[0]!
    expect(await shards('where', roomId)).toEqual({ ok: true, out: `one\t${shard.url}\n` })
  }, 60_000)

  it('says what is wrong with a command it cannot run', async () => {
    expect(await shards('where', '999999')).toEqual({
      ok: false,
      out: expect.stringMatching(/no shard holds room 999999/),
    })
    expect(await shards('close', 'nine')).toEqual({
      ok: false,
      out: expect.stringMatching(/no shard named nine/),
    })
    expect(await shards('where', 'x; drop table shards')).toEqual({
      ok: false,
      out: expect.stringMatching(/Usage/),
    })
    expect(await command('src/cli/shards.ts', ['list'], { CATALOG_DATABASE_URL: '' })).toEqual({
      ok: false,
      out: expect.stringMatching(/CATALOG_DATABASE_URL is not set/),
    })
  }, 60_000)
})

describe('npm run db:migrate', () => {
  it('migrates the catalog and every shard it names', async () => {
    const late = await createTestDatabase({ migrate: false })
    try {
      await catalog.sql`insert into shards (name, url) values ('late', ${late.url})`
      const migrated = await command('src/cli/migrate.ts', [])
      expect(migrated).toEqual({
        ok: true,
        out: expect.stringMatching(/the catalog and 2 shard\(s\): one, late/),
      })
      const { triggers } = (
        await late.sql<{ triggers: string }[]>`
        select count(*) as triggers from pg_trigger where tgname = 'messages_assign_seq'`
      )[0]!
      expect(triggers).toBe('1')
    } finally {
      await late.drop()
    }
  }, 60_000)
})
