import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { type ParleyProcess, startParleyProcess } from '../support/process.js'
import { range } from '../support/range.js'
import { signTestToken } from '../support/server.js'

// Any of the process's backends may die at any moment, a new one while it is still being
// set up included (a failover, pg_terminate_backend): requests fail and are retried, the
// process lives. The server is a real `node src/main.ts`, so a crash is an exit.

let database: TestDatabase
let server: ParleyProcess | undefined

beforeAll(async () => {
  database = await createTestDatabase()
  server = await startParleyProcess(database.url, { MIGRATE_ON_START: 'false', DB_POOL_MAX: '4' })
})

afterAll(async () => {
  if (server && server.exit === undefined) {
    server.child.kill('SIGKILL')
    await server.exited
  }
  await database?.drop()
})

describe('backends killed under load, new ones included', () => {
  it('never take the process down', async () => {
    const target = server!
    const token = await signTestToken({ sub: 'reader', name: 'Reader' })
    const get = () =>
      fetch(`${target.url}/rooms`, { headers: { authorization: `Bearer ${token}` } })
        .then((response) => response.status)
        .catch(() => 0)
    // Every backend of this database but the test's own, as soon as it appears, for 5 s.
    const deadline = Date.now() + 5_000
    let kills = 0
    const killer = (async () => {
      while (Date.now() < deadline && target.exit === undefined) {
        const [row] = await database.sql<{ killed: number }[]>`
          select count(*)::int as killed from (
            select pg_terminate_backend(pid) from pg_stat_activity
             where datname = current_database() and pid <> pg_backend_pid()
               and application_name <> ${'postgres.js'}) k`
        kills += row!.killed
      }
    })()
    const statuses: number[] = []
    while (Date.now() < deadline && target.exit === undefined) {
      statuses.push(...(await Promise.all(range(1, 8).map(get))))
    }
    await killer
    expect({ exit: target.exit, stderr: target.exit ? target.stderr() : '' }).toEqual({
      exit: undefined,
      stderr: '',
    })
    expect(kills).toBeGreaterThan(20)
    // Once the killing stops, it answers again.
    let status = 0
    for (let i = 0; i < 50 && status !== 200; i++) status = await get()
    expect(status).toBe(200)
  })
})
