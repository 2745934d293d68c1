import pino from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPosting } from '../../src/chat/posting.js'
import { createDb, type Db } from '../../src/db/client.js'
import { createShardedPosting } from '../../src/shards/routing.js'
import { createTestDatabase, type TestDatabase } from '../support/database.js'

// Posting over shards, on two databases standing for two shards (the same PostgreSQL
// will do: nothing here depends on the shards being apart).

describe('posting over shards', () => {
  let databases: TestDatabase[] = []
  let pools: ReturnType<typeof createDb>[] = []
  const logger = pino({ level: 'silent' })
  const postingOn = (db: Db) =>
    createPosting({ db, logger, rateLimit: { count: 100, windowMs: 60_000 }, batchMax: 64, batchMs: 1 })

  beforeAll(async () => {
    databases = await Promise.all([createTestDatabase(), createTestDatabase()])
    pools = databases.map((database) => createDb(database.url, { max: 2 }))
  })

  afterAll(async () => {
    await Promise.all(pools.map((pool) => pool.sql.end({ timeout: 1 })))
    await Promise.all(databases.map((database) => database.drop()))
  })

  const post = (roomId: number, body: string) => ({
    roomId,
    userId: 'poster',
    userName: 'Poster',
    body,
    isAdmin: false,
  })

  it('sends a post again to where the room is now when a stale directory sent it to the old shard', async () => {
    const [old, now] = pools as [ReturnType<typeof createDb>, ReturnType<typeof createDb>]
    const roomId = 7_001
    await databases[1]!.sql`insert into rooms (id, name, created_by) values (${roomId}, 'moved', 'tester')`
    // The cache still names the old shard; only a fresh lookup knows the room moved.
    const asked: boolean[] = []
    const posting = createShardedPosting(async (_roomId, options) => {
      asked.push(options?.fresh ?? false)
      return options?.fresh ? now.db : old.db
    }, postingOn)

    const { message, created } = await posting.post(post(roomId, 'after the move'))
    expect(created).toBe(true)
    expect(message.seq).toBe(1)
    expect(asked).toEqual([false, true])
    const stored = await databases[1]!.sql<
      { body: string }[]
    >`select body from messages where room_id = ${roomId}`
    expect(stored.map((row) => row.body)).toEqual(['after the move'])
    expect(posting.stats().messages).toBe(2)
  })

  it('refuses a room that no shard holds, after asking the catalog once more', async () => {
    const [first] = pools as [ReturnType<typeof createDb>]
    const posting = createShardedPosting(async () => first.db, postingOn)
    await expect(posting.post(post(7_002, 'nowhere'))).rejects.toMatchObject({ code: 'room_not_found' })
    const none = createShardedPosting(async () => undefined, postingOn)
    await expect(none.post(post(7_003, 'nowhere'))).rejects.toMatchObject({ code: 'room_not_found' })
  })
})
