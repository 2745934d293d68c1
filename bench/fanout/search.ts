import { Agent } from 'node:http'
import postgres from 'postgres'
import { signHs256Token } from '../../src/auth/sign.js'
import { createBenchDatabase } from '../lib/bench-database.js'
import { requestJson } from '../lib/http-json.js'
import { LatencyHistogram } from '../lib/latency-histogram.js'
import type { BenchOptions } from './options.js'
import { SEARCHES } from './search-corpus.js'
import { type SearchSeed, seedSearch } from './search-seed.js'
import type { BenchContext } from './session.js'
import { startTargetProcess } from './target-process.js'
import { targetLaunch } from './targets.js'

export interface SearchRun {
  seed: SearchSeed
  /** Rooms the reader belongs to; every room is private, so these are all it may search. */
  readerRooms: number
  /** Per query: p50/p99/max in ms over `samples` requests, and the results of the first page. */
  queries: Record<string, { q: string; sort: string; p50: number; p99: number; max: number; results: number }>
  samples: number
  /** How PostgreSQL ran the common word's search: whether it used the index, and JIT. */
  plan: { usesSearchIndex: boolean; jit: boolean; ms: number }
  /** Single-row SQL inserts per second by `clients` connections, with and without the search column and index. */
  posting: { clients: number; seconds: number; withSearch: number; withoutSearch: number; cost: number }
}

const READER_ROOMS = 50
const SAMPLES = 100
const POSTING_CLIENTS = 8
const POSTING_SECONDS = 10

/**
 * Search at scale, on a database of its own: `searchMessages` messages over `searchRooms`
 * private rooms, a reader who belongs to 50 of them, and the search latency for a common
 * word, a rare one, a phrase and a prefix; then posting throughput with the search column
 * and index, and after dropping them.
 */
export async function runSearch(context: BenchContext, options: BenchOptions): Promise<SearchRun> {
  const database = await createBenchDatabase('parley_bench_search')
  const dispose = () => database.dispose()
  context.live.add(dispose)
  const sql = postgres(database.url, { max: POSTING_CLIENTS, onnotice: () => {} })
  try {
    const seed = await seedSearch(sql, {
      rooms: options.searchRooms,
      messages: options.searchMessages,
      log: context.log,
    })
    context.log(
      `  search: seeded in ${seed.seconds.total.toFixed(0)} s (index ${seed.seconds.index.toFixed(0)} s)`,
    )
    const reader = 'search-reader'
    const step = Math.max(1, Math.floor(seed.rooms / READER_ROOMS))
    const readerRooms = Array.from(
      { length: Math.min(READER_ROOMS, seed.rooms) },
      (_, i) => seed.firstRoomId + i * step,
    )
    await sql`insert into room_members (room_id, user_id) select unnest(${sql.array(readerRooms)}::bigint[]), ${reader}`
    const queries = await timeSearches(context, database.url, reader)
    const plan = await explainCommon(sql, reader)
    const posting = await comparePosting(sql, seed, options.durable)
    context.log(
      `  search: posting ${posting.withSearch.toFixed(0)}/s with the search index, ${posting.withoutSearch.toFixed(0)}/s without`,
    )
    return { seed, readerRooms: readerRooms.length, queries, samples: SAMPLES, plan, posting }
  } finally {
    await sql.end({ timeout: 5 })
    context.live.delete(dispose)
    await dispose()
  }
}

async function timeSearches(context: BenchContext, databaseUrl: string, reader: string) {
  const launch = targetLaunch('parley', { ...context.launch, databaseUrl })
  const server = await startTargetProcess({ ...launch, env: { ...launch.env, RATE_LIMIT_SEARCHES: '0' } })
  const stop = () => server.stop()
  context.live.add(stop)
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  const token = await signHs256Token({ sub: reader }, '2h', context.launch.jwtSecret)
  const cases = [
    ...Object.entries(SEARCHES).map(([name, { q }]) => ({ name, q, sort: 'relevance' })),
    { name: 'common, recent', q: SEARCHES.common.q, sort: 'recent' },
  ]
  const queries: SearchRun['queries'] = {}
  try {
    for (const { name, q, sort } of cases) {
      const url = new URL(`/search?${new URLSearchParams({ q, sort })}`, server.url)
      const latency = new LatencyHistogram()
      let results = 0
      for (let i = 0; i < SAMPLES; i++) {
        const started = performance.now()
        const response = await requestJson(url, { token, agent, timeoutMs: 60_000 })
        if (response.status !== 200)
          throw new Error(`${name}: ${response.status} ${JSON.stringify(response.body)}`)
        latency.record(performance.now() - started)
        results = (response.body as { results: unknown[] }).results.length
      }
      const { p50, p99, max } = latency.summary()
      queries[name] = { q, sort, p50, p99, max, results }
      context.log(`  search: ${name} (${q}, ${sort}): p50 ${p50} ms, p99 ${p99} ms, ${results} results`)
    }
  } finally {
    agent.destroy()
    context.live.delete(stop)
    await server.stop()
  }
  return queries
}

/** The plan of the common word's per-room probe, as the API's statement runs it. */
async function explainCommon(sql: postgres.Sql, reader: string) {
  const [row] = await sql<{ 'QUERY PLAN': unknown }[]>`
    explain (analyze, format json)
    select m.id, ts_rank(m.search_vector, q) as rank
    from (select r.id from rooms r where r.visibility = 'public'
            or exists (select 1 from room_members rm where rm.room_id = r.id and rm.user_id = ${reader})) r,
      websearch_to_tsquery('simple', ${SEARCHES.common.q}) q,
      lateral (select m.id, m.search_vector from messages m
               where room_lexemes(m.room_id, m.search_vector) @@ room_query(r.id, q)
                 and m.deleted_at is null and m.search_vector @@ q
               order by ts_rank(m.search_vector, q) desc, m.id desc limit 21) m
    order by rank desc, m.id desc limit 21`
  const text = JSON.stringify(row!['QUERY PLAN'])
  const [plan] = row!['QUERY PLAN'] as { 'Execution Time': number; JIT?: unknown }[]
  return {
    usesSearchIndex: text.includes('messages_search_idx'),
    jit: plan?.JIT !== undefined,
    ms: plan?.['Execution Time'] ?? 0,
  }
}

async function comparePosting(
  sql: postgres.Sql,
  seed: SearchSeed,
  durable: boolean,
): Promise<SearchRun['posting']> {
  const withSearch = await insertRate(sql, seed, durable)
  await sql`alter table messages drop column search_vector`
  const withoutSearch = await insertRate(sql, seed, durable)
  return {
    clients: POSTING_CLIENTS,
    seconds: POSTING_SECONDS,
    withSearch,
    withoutSearch,
    cost: 1 - withSearch / withoutSearch,
  }
}

/** Single-row inserts per second, through the triggers, from POSTING_CLIENTS connections at once. */
async function insertRate(sql: postgres.Sql, seed: SearchSeed, durable: boolean): Promise<number> {
  const deadline = performance.now() + POSTING_SECONDS * 1000
  let inserted = 0
  const client = async (c: number) => {
    await sql.reserve().then(async (connection) => {
      try {
        if (!durable) await connection`set synchronous_commit = off`
        for (let i = 0; performance.now() < deadline; i++) {
          const room = seed.firstRoomId + ((c * 7919 + i * 104_729) % seed.rooms)
          await connection`insert into messages (room_id, user_id, user_name, body)
            values (${room}, ${`poster-${c}`}, 'Poster', ${`hello from poster ${c}, deployment number ${i}`})`
          inserted++
        }
      } finally {
        connection.release()
      }
    })
  }
  const started = performance.now()
  await Promise.all(Array.from({ length: POSTING_CLIENTS }, (_, c) => client(c)))
  return inserted / ((performance.now() - started) / 1000)
}
