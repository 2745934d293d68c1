import { describe, expect, it } from 'vitest'
import type { SearchPage } from '../../src/wire.js'
import { useTestServer } from '../support/fixtures.js'
import { createRoom } from '../support/server.js'

// What GET /search finds and how it pages (src/http/routes/search.ts, src/chat/search.ts).
// Rows are inserted with psql-like SQL: search must not depend on how a message arrived.

const { server, database } = useTestServer()

async function insert(roomId: number, body: string, user = 'writer', createdAt?: string): Promise<number> {
  const [row] = await database.sql<{ seq: string }[]>`
    insert into messages (room_id, user_id, user_name, body, created_at)
    values (${roomId}, ${user}, ${user}, ${body}, coalesce(${createdAt ?? null}::timestamptz, now()))
    returning seq`
  return Number(row!.seq)
}

async function search(query: Record<string, string | number>, as = 'searcher'): Promise<SearchPage> {
  const params = new URLSearchParams(Object.entries(query).map(([k, v]): [string, string] => [k, String(v)]))
  const response = await server.request(`/search?${params}`, { as })
  if (response.status !== 200)
    throw new Error(`search ${params}: ${response.status} ${await response.text()}`)
  return (await response.json()) as SearchPage
}

const bodies = (page: SearchPage) => page.results.map((r) => r.message.body).sort()

describe('what search finds', () => {
  it('finds rows inserted and edited with psql, and never a deleted message', async () => {
    const roomId = await createRoom(server, 'search-psql')
    await insert(roomId, 'the walrus arrives at dawn')
    const edited = await insert(roomId, 'nothing to see')
    const deleted = await insert(roomId, 'a walrus that will be deleted')
    await database.sql`update messages set body = 'the walrus was edited in', edited_at = now()
      where room_id = ${roomId} and seq = ${edited}`
    await database.sql`update messages set body = '', deleted_at = now() where room_id = ${roomId} and seq = ${deleted}`
    const page = await search({ q: 'walrus', room: roomId }, 'psql-reader')
    expect(bodies(page)).toEqual(['the walrus arrives at dawn', 'the walrus was edited in'])
    expect(page.next_cursor).toBeNull()
    expect(page.results[0]!.room).toEqual({ id: roomId, name: 'search-psql' })
    await database.sql`delete from messages where room_id = ${roomId} and body like 'the walrus arrives%'`
    expect(bodies(await search({ q: 'walrus', room: roomId }, 'psql-reader'))).toEqual([
      'the walrus was edited in',
    ])
  })

  it('answers each message with the same JSON as the rest of the API', async () => {
    const roomId = await createRoom(server, 'search-json')
    const seq = await insert(roomId, 'a narwhal in the json', 'jason')
    const [result] = (await search({ q: 'narwhal', room: roomId }, 'json-reader')).results
    const one = await server.request(`/rooms/${roomId}/messages/${seq}`, { as: 'json-reader' })
    expect(result!.message).toEqual(await one.json())
  })

  it('understands phrases, exclusions, or, and prefixes', async () => {
    const roomId = await createRoom(server, 'search-syntax')
    await insert(roomId, 'blue whale song')
    await insert(roomId, 'song of the blue whale')
    await insert(roomId, 'whale watching deployment')
    await insert(roomId, 'we deployed the krill')
    await insert(roomId, 'krill and plankton')
    const find = async (q: string) => bodies(await search({ q, room: roomId }, 'syntax-reader'))
    expect(await find('"blue whale"')).toEqual(['blue whale song', 'song of the blue whale'])
    expect(await find('"whale song"')).toEqual(['blue whale song'])
    expect(await find('whale -song')).toEqual(['whale watching deployment'])
    expect(await find('whale -"blue whale"')).toEqual(['whale watching deployment'])
    expect(await find('plankton or watching')).toEqual(['krill and plankton', 'whale watching deployment'])
    expect(await find('deplo*')).toEqual(['we deployed the krill', 'whale watching deployment'])
    expect(await find('DEPLO* krill')).toEqual(['we deployed the krill'])
    expect(await find('deplo')).toEqual([])
  })

  it('filters by author and by creation time', async () => {
    const roomId = await createRoom(server, 'search-filters')
    await insert(roomId, 'otter early', 'ann', '2026-01-01T10:00:00Z')
    await insert(roomId, 'otter middle', 'bob', '2026-01-02T10:00:00Z')
    await insert(roomId, 'otter late', 'ann', '2026-01-03T10:00:00Z')
    const find = async (query: Record<string, string>) =>
      bodies(await search({ q: 'otter', room: roomId, ...query }, 'filter-reader'))
    expect(await find({ from: 'ann' })).toEqual(['otter early', 'otter late'])
    expect(await find({ before: '2026-01-02T10:00:00Z' })).toEqual(['otter early'])
    expect(await find({ after: '2026-01-01T10:00:00Z', before: '2026-01-03T10:00:00+00:00' })).toEqual([
      'otter middle',
    ])
    expect(await find({ after: '2026-01-02T12:00:00+02:00', from: 'ann' })).toEqual(['otter late'])
  })

  it('searches every readable room at once, naming each result’s room', async () => {
    const first = await createRoom(server, 'search-multi-a')
    const second = await createRoom(server, 'search-multi-b')
    await insert(first, 'a capybara here')
    await insert(second, 'a capybara there')
    const page = await search({ q: 'capybara' }, 'multi-reader')
    expect(page.results.map((r) => r.room.name).sort()).toEqual(['search-multi-a', 'search-multi-b'])
  })
})

describe('snippets', () => {
  it('mark every match and escape everything else', async () => {
    const roomId = await createRoom(server, 'search-snippet')
    await insert(roomId, `<script>alert("x")</script> & the heron's <mark>fake</mark> heron`)
    const [result] = (await search({ q: 'heron', room: roomId }, 'snippet-reader')).results
    expect(result!.snippet).toBe(
      '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; the <mark>heron</mark>&#39;s &lt;mark&gt;fake&lt;/mark&gt; <mark>heron</mark>',
    )
  })

  it('cannot be given a mark by the body’s own characters', async () => {
    const roomId = await createRoom(server, 'search-snippet-forge')
    await insert(roomId, 'ibis \uE000forged\uE001 \uE002b\uE003')
    const [result] = (await search({ q: 'ibis', room: roomId }, 'snippet-reader')).results
    expect(result!.snippet).toBe('<mark>ibis</mark> forged b')
  })
})

describe('pages', () => {
  async function allPages(query: Record<string, string | number>, as: string) {
    const seen: SearchPage['results'] = []
    let cursor: string | null = null
    for (let pages = 0; pages < 20; pages++) {
      const page = await search(cursor ? { ...query, cursor } : query, as)
      seen.push(...page.results)
      cursor = page.next_cursor
      if (!cursor) return seen
    }
    throw new Error('more than 20 pages')
  }

  it('walk every match once by relevance, best first', async () => {
    const roomId = await createRoom(server, 'search-pages-rank')
    const seqs: number[] = []
    for (let i = 1; i <= 9; i++)
      seqs.push(await insert(roomId, `${'puffin '.repeat(1 + (i % 3))}number ${i}`))
    const seen = await allPages({ q: 'puffin', room: roomId, limit: 2 }, 'rank-reader')
    expect(seen.map((r) => r.message.seq).sort((a, b) => a - b)).toEqual(seqs)
    const counts = seen.map((r) => r.message.body.split('puffin').length)
    expect(counts).toEqual([...counts].sort((a, b) => b - a))
  })

  it('walk every match once by recency, newest first, across rooms', async () => {
    const first = await createRoom(server, 'search-pages-recent-a')
    const second = await createRoom(server, 'search-pages-recent-b')
    const at = '2026-03-01T00:00:00.000001Z'
    // Equal timestamps: the id breaks the tie, so no page repeats or skips one.
    for (let i = 1; i <= 7; i++) await insert(i % 2 ? first : second, `gannet ${i}`, 'writer', at)
    for (let i = 8; i <= 10; i++) await insert(first, `gannet ${i}`, 'writer', `2026-03-0${i - 6}T00:00:00Z`)
    const seen = await allPages({ q: 'gannet', sort: 'recent', limit: 3 }, 'recent-reader')
    expect(seen.map((r) => r.message.body)).toEqual([
      'gannet 10',
      'gannet 9',
      'gannet 8',
      ...[7, 6, 5, 4, 3, 2, 1].map((i) => `gannet ${i}`),
    ])
  })
})
