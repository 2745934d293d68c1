import postgres from 'postgres'
import { afterAll, beforeAll, expect } from 'vitest'
import { type Instance, startInstance } from '../../harness/cluster.js'
import { runMigrations } from '../../src/db/migrate.js'
import { addShard } from '../../src/shards/catalog.js'
import { createTestDatabase, type TestDatabase } from './database.js'
import { startTestServer, type TestServer } from './server.js'
import { openMultiStream, type StreamClient } from './sse.js'

/**
 * A test file's Parley server over two shards: two PostgreSQL instances of its own (shards
 * `one` and `two`, in `instances` in that order), a catalog naming them, and the server's own
 * DATABASE_URL (`home`). As with useTestServer, the objects returned are filled in by
 * `beforeAll`, and everything is closed after the file's last test.
 */
export function useShardedServer() {
  const catalog = {} as TestDatabase
  const home = {} as TestDatabase
  const instances: Instance[] = []
  const shardSql = new Map<string, postgres.Sql>()
  const server = {} as TestServer
  const streams: StreamClient[] = []

  beforeAll(async () => {
    const [catalogDb, homeDb, ...started] = await Promise.all([
      createTestDatabase({ migrate: false }),
      createTestDatabase(),
      startInstance(),
      startInstance(),
    ] as const)
    Object.assign(catalog, catalogDb)
    Object.assign(home, homeDb)
    instances.push(...started)
    await runMigrations(catalog.url, 'catalog')
    for (const [index, name] of ['one', 'two'].entries()) {
      await addShard(catalog.sql, { name, url: instances[index]!.url })
      shardSql.set(name, postgres(instances[index]!.url, { max: 2, onnotice: () => {} }))
    }
    Object.assign(server, await startServer())
  }, 120_000)

  afterAll(async () => {
    for (const stream of streams) stream.close()
    await server.close?.()
    await Promise.all([...shardSql.values()].map((sql) => sql.end({ timeout: 1 })))
    await Promise.all([catalog.drop?.(), home.drop?.(), ...instances.map((instance) => instance.stop())])
  })

  /** Another server on the same shards, with `env` over the defaults; the caller closes it. */
  function startServer(env: Record<string, string> = {}) {
    return startTestServer(home, { CATALOG_DATABASE_URL: catalog.url, LISTENER_PROBE_MS: '200', ...env })
  }

  /**
   * A public room, created on its shard as psql would: where the catalog places it, or on
   * `shard` (recorded by hand, as an operator would).
   */
  async function placeRoom(shard?: string): Promise<{ roomId: number; shard: string }> {
    const [placed] =
      shard === undefined
        ? await catalog.sql<{ roomId: string; shard: string }[]>`
            select p.room_id as "roomId", s.name as shard
              from parley_place_room() p join shards s on s.id = p.shard_id`
        : await catalog.sql<{ roomId: string; shard: string }[]>`
            insert into room_shards (room_id, shard_id)
            select nextval('room_ids'), id from shards where name = ${shard}
            returning room_id as "roomId", ${shard}::text as shard`
    const roomId = Number(placed!.roomId)
    await shardSql.get(placed!.shard)!`
      insert into rooms (id, name, created_by) values (${roomId}, ${`room ${roomId}`}, 'tester')`
    return { roomId, shard: placed!.shard }
  }

  /** A message inserted by hand on `shard`, as psql would. */
  async function insert(shard: string, roomId: number, body: string): Promise<void> {
    await shardSql.get(shard)!`
      insert into messages (room_id, user_id, user_name, body) values (${roomId}, 'tester', 'Tester', ${body})`
  }

  /** An open multi-room stream as `as`, closed after the file's last test. */
  async function stream(roomIds: number[], as: string): Promise<StreamClient> {
    const opened = openMultiStream(server.url, roomIds, { token: await server.token(as) })
    streams.push(opened)
    await opened.opened
    return opened
  }

  /** Every item of a paged list, following `next_cursor` to its end. */
  async function pages<T>(path: string, field: string, as: string): Promise<T[]> {
    const items: T[] = []
    let cursor: string | null = null
    do {
      const response: Response = await server.request(
        cursor === null ? path : `${path}&cursor=${encodeURIComponent(cursor)}`,
        { as },
      )
      expect(response.status).toBe(200)
      const page = (await response.json()) as Record<string, unknown> & { next_cursor: string | null }
      items.push(...(page[field] as T[]))
      cursor = page.next_cursor
    } while (cursor !== null)
    return items
  }

  return { catalog, home, instances, shardSql, server, startServer, placeRoom, insert, stream, pages }
}

/** The bodies of the messages of `roomId` a stream received, in order. */
export const bodiesIn = (opened: StreamClient, roomId: number) =>
  opened.messages.filter((message) => message.room_id === roomId).map((message) => message.body)
