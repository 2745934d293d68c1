import type postgres from 'postgres'
import { searchBodies } from './search-corpus.js'

export interface SearchSeed {
  firstRoomId: number
  rooms: number
  messages: number
  seconds: { messages: number; index: number; total: number }
  tableBytes: number
  indexBytes: number
}

const DISTINCT_BODIES = 100_000
const CHUNK = 1_000_000

/**
 * `messages` messages over `rooms` private rooms, round-robin, bulk-loaded with the
 * triggers off and the search index dropped, then made consistent as the triggers would
 * have left it (seq, cursors, the rooms' counters) and indexed once at the end: building
 * a GIN index in one pass is many times faster than growing it row by row.
 */
export async function seedSearch(
  sql: postgres.Sql,
  { rooms, messages, log }: { rooms: number; messages: number; log: (line: string) => void },
): Promise<SearchSeed> {
  const started = performance.now()
  const [first] = await sql<{ id: string }[]>`
    insert into rooms (name, created_by, visibility)
    select 'search-' || i, 'bench', 'private' from generate_series(1, ${rooms}) i
    returning id`
  const firstRoomId = Number(first!.id)
  const bodies = searchBodies(DISTINCT_BODIES)
  await sql`create unlogged table bench_bodies (b int primary key, body text not null)`
  await sql`insert into bench_bodies select * from unnest(${sql.array(bodies.map((_, i) => i))}::int[], ${sql.array(bodies)}::text[])`
  await sql`drop index messages_search_idx`
  await sql`alter table messages disable trigger user`
  // Message s goes to room s % rooms, as that room's (s / rooms + 1)th message, 10 ms after s - 1.
  for (let from = 0; from < messages; from += CHUNK) {
    const to = Math.min(messages, from + CHUNK) - 1
    await sql.begin(async (tx) => {
      await tx`set local synchronous_commit = off`
      await tx`insert into messages (room_id, seq, created_cursor, user_id, user_name, body, created_at)
        select ${firstRoomId} + s % ${rooms}, s / ${rooms} + 1, s / ${rooms} + 1, 'user-' || (s % 1000), 'User', b.body,
          now() - (${messages}::bigint - s) * interval '10 milliseconds'
        from generate_series(${from}::bigint, ${to}::bigint) s
        join bench_bodies b on b.b = (s * 7919) % ${DISTINCT_BODIES}`
    })
    log(`  search: loaded ${to + 1} of ${messages} messages`)
  }
  await sql`alter table messages enable trigger user`
  await sql`update rooms set
      message_count = (${messages}::bigint - 1 - (id - ${firstRoomId})) / ${rooms} + 1,
      last_seq = (${messages}::bigint - 1 - (id - ${firstRoomId})) / ${rooms} + 1,
      last_cursor = (${messages}::bigint - 1 - (id - ${firstRoomId})) / ${rooms} + 1,
      last_message_at = now()
    where id >= ${firstRoomId} and id - ${firstRoomId} < ${messages}`
  await sql`drop table bench_bodies`
  const loaded = performance.now()
  await sql.begin(async (tx) => {
    await tx`set local maintenance_work_mem = '1GB'`
    await tx`create index messages_search_idx on messages using gin (room_lexemes(room_id, search_vector)) with (fastupdate = off)`
  })
  await sql`vacuum analyze messages`
  const indexed = performance.now()
  const [sizes] = await sql<{ table_bytes: string; index_bytes: string }[]>`
    select pg_table_size('messages') as table_bytes, pg_relation_size('messages_search_idx') as index_bytes`
  return {
    firstRoomId,
    rooms,
    messages,
    seconds: {
      messages: (loaded - started) / 1000,
      index: (indexed - loaded) / 1000,
      total: (indexed - started) / 1000,
    },
    tableBytes: Number(sizes!.table_bytes),
    indexBytes: Number(sizes!.index_bytes),
  }
}
