import { beforeAll, describe, expect, it } from 'vitest'
import { useTestServer } from '../support/fixtures.js'
import { errorCode } from '../support/server.js'
import { until } from '../support/wait.js'

// What one search may cost (src/chat/search-admission.ts, src/db/search-pool.ts): a user
// runs at most MAX_SEARCHES_PER_USER at once, the process at most SEARCH_POOL_MAX with
// SEARCH_QUEUE_MAX waiting, a statement stops at SEARCH_TIMEOUT_MS, and a search whose
// client went away stops in PostgreSQL too. Over 200,000 messages in public rooms, where
// the broadest query allowed takes about a second.

const ROOMS = 2_000
const PER_ROOM = 100
// Every message has a word starting with each of these, so each alternative matches all.
const BROADEST = 'wor* or lor* or ips* or dol* or sit* or ame* or con* or adi*'

const { server, database, startServer } = useTestServer()
let roomIds: number[] = []

beforeAll(async () => {
  // Seeded with the message triggers off, as pg_restore --disable-triggers loads a dump:
  // numbered one row at a time, 200,000 rows take minutes. The rooms' counters are set to
  // what the triggers would have made them.
  await database.sql.begin(async (tx) => {
    const rooms = await tx<{ id: string }[]>`
      insert into rooms (name, created_by, last_seq, last_cursor, message_count, last_message_at)
      select 'haystack-' || i, 'seeder', ${PER_ROOM}, ${PER_ROOM}, ${PER_ROOM}, now()
      from generate_series(1, ${ROOMS}) i
      returning id`
    roomIds = rooms.map((room) => Number(room.id))
    await tx`set local session_replication_role = replica`
    await tx`
      insert into messages (room_id, seq, created_cursor, user_id, user_name, body)
      select r.id, g, g, 'seeder', 'Seeder',
        'word' || (g % 1000) || ' lorem ipsum dolor sit amet consectetur adipiscing ' || (r.id % 97)
      from rooms r cross join generate_series(1, ${PER_ROOM}) g
      where r.name like 'haystack-%'`
  })
  await database.sql`analyze messages`
}, 120_000)

const searchUrl = (q: string) => `/search?${new URLSearchParams({ q })}`

/** How many searches PostgreSQL is running for the test's database right now. */
async function searchesRunning(): Promise<number> {
  const [row] = await database.sql<{ n: number }[]>`
    select count(*)::int as n from pg_stat_activity
     where datname = current_database() and state = 'active' and pid <> pg_backend_pid()
       and query like ${'%search' + '_vector @@%'}`
  return row!.n
}

describe('searches running at once', () => {
  it('are at most MAX_SEARCHES_PER_USER (2) per user under a burst of 100: the rest answer 429', async () => {
    // A timeout no search reaches: every search admitted answers 200.
    const patient = await startServer({ SEARCH_TIMEOUT_MS: '60000' })
    const responses = await Promise.all(
      Array.from({ length: 100 }, () => patient.request(searchUrl(BROADEST), { as: 'burster' })),
    )
    const outcomes = await Promise.all(
      responses.map(async (r) => (r.status === 200 ? '200' : `${r.status} ${await errorCode(r)}`)),
    )
    expect(outcomes.filter((o) => o === '200')).toHaveLength(2)
    expect(outcomes.filter((o) => o === '429 rate_limited')).toHaveLength(98)
    for (const r of responses.filter((r) => r.status === 429))
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    expect((await patient.request(searchUrl('word1'), { as: 'burster' })).status).toBe(200)
    await patient.close()
  })

  it('are at most SEARCH_POOL_MAX per process, past SEARCH_QUEUE_MAX answering 503 search_busy', async () => {
    const busy = await startServer({
      SEARCH_POOL_MAX: '1',
      SEARCH_QUEUE_MAX: '1',
      SEARCH_TIMEOUT_MS: '30000',
    })
    const responses = await Promise.all(
      Array.from({ length: 6 }, (_, i) => busy.request(searchUrl(BROADEST), { as: `crowd-${i}` })),
    )
    const outcomes = await Promise.all(
      responses.map(async (r) => (r.status === 200 ? '200' : `${r.status} ${await errorCode(r)}`)),
    )
    expect(outcomes.sort()).toEqual(['200', '200', ...Array<string>(4).fill('503 search_busy')])
    for (const r of responses.filter((r) => r.status === 503))
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    await busy.close()
  })
})

describe('a search whose client goes away', () => {
  it('stops running in PostgreSQL', async () => {
    const patient = await startServer({ SEARCH_TIMEOUT_MS: '60000' })
    const abort = new AbortController()
    const request = patient.request(searchUrl(BROADEST), { as: 'quitter', signal: abort.signal })
    await until(async () => (await searchesRunning()) === 1, 'the search to start', 5_000)
    abort.abort()
    await expect(request).rejects.toThrow()
    // The search alone takes about a second: gone within a fraction of that, it was cancelled.
    await until(async () => (await searchesRunning()) === 0, 'the search to stop', 300)
    await patient.close()
  })
})

describe('a search past SEARCH_TIMEOUT_MS', () => {
  it('answers 504 search_timeout, and the next search runs', async () => {
    const hasty = await startServer({ SEARCH_TIMEOUT_MS: '50' })
    const response = await hasty.request(searchUrl(BROADEST), { as: 'hasty' })
    expect([response.status, await errorCode(response)]).toEqual([504, 'search_timeout'])
    const small = await hasty.request(`/search?q=word1&room=${roomIds[0]}`, { as: 'hasty' })
    expect(small.status).toBe(200)
    await hasty.close()
  })
})

describe('a flood of the broadest searches', () => {
  /** The p99 in ms of `count` GET /rooms/:id, one after another, as `as`. */
  async function roomReadP99(roomId: number, count: number, as: string): Promise<number> {
    const times: number[] = []
    for (let i = 0; i < count; i++) {
      const started = performance.now()
      const response = await server.request(`/rooms/${roomId}`, { as })
      await response.arrayBuffer()
      times.push(performance.now() - started)
      expect(response.status).toBe(200)
    }
    times.sort((a, b) => a - b)
    return times[Math.ceil(count * 0.99) - 1]!
  }

  it("leaves another user's room reads within a small multiple of their idle time", async () => {
    const roomId = roomIds[0]!
    await roomReadP99(roomId, 20, 'reader')
    const idle = await roomReadP99(roomId, 200, 'reader')
    // One user keeps twelve of the broadest searches in flight, retrying a refusal after 100 ms.
    let flooding = true
    const flooder = async () => {
      while (flooding) {
        const response = await server.request(searchUrl(BROADEST), { as: 'flooder' })
        await response.arrayBuffer()
        if (response.status === 429) await new Promise((resolve) => setTimeout(resolve, 100))
      }
    }
    const flood = Array.from({ length: 12 }, flooder)
    try {
      await until(async () => (await searchesRunning()) >= 2, 'the flood to start')
      const flooded = await roomReadP99(roomId, 200, 'reader')
      console.log(
        `GET /rooms/:id p99: idle ${idle.toFixed(1)} ms, during the search flood ${flooded.toFixed(1)} ms ` +
          `(${(flooded / idle).toFixed(2)}x)`,
      )
      expect(flooded).toBeLessThan(500)
    } finally {
      flooding = false
      await Promise.all(flood)
    }
  }, 60_000)
})
