import { describe, expect, it } from 'vitest'
import { useTestDatabase } from '../support/fixtures.js'

// The search index's keys (sql/search.sql): each word of a message keyed by its room, and a
// query keyed the same way, so a room's probe reads that room's postings only.

const database = useTestDatabase()

async function matches(room: number, body: string, probeRoom: number, query: string): Promise<boolean> {
  const [row] = await database.sql<{ hit: boolean }[]>`
    select room_lexemes(${room}, to_tsvector('simple', ${body})) @@ room_query(${probeRoom}, to_tsquery('simple', ${query})) as hit`
  return row!.hit
}

async function insertRoom(id: number): Promise<void> {
  await database.sql`insert into rooms (id, name, created_by, visibility)
    overriding system value values (${id}, ${`keys-${id}`}, 'keeper', 'private')`
}

describe('room_lexemes and room_query', () => {
  it('match a word and a prefix in the same room only', async () => {
    expect(await matches(12, 'deploying today', 12, 'deplo:*')).toBe(true)
    expect(await matches(123, 'deploying today', 12, 'deplo:*')).toBe(false)
    expect(await matches(12, 'deploying today', 123, 'deplo:*')).toBe(false)
    expect(await matches(1, '23.deploy', 12, '3.deploy')).toBe(false)
    expect(await matches(12, 'today', 123, 'today')).toBe(false)
  })

  it('keep positions, so a phrase holds in its order only', async () => {
    expect(await matches(7, 'release candidate two', 7, 'release <-> candidate')).toBe(true)
    expect(await matches(7, 'candidate release', 7, 'release <-> candidate')).toBe(false)
    expect(await matches(7, 'release the candidate', 7, 'release <2> candidate')).toBe(true)
  })

  it('key lexemes holding quotes and backslashes whole', async () => {
    const [row] = await database.sql<{ words: string; query: string }[]>`
      select room_lexemes(5, $$'it''s':1 'a\\\\b':2 'x''':3A$$::tsvector)::text as words,
             room_query(5, $$'it''s':* & !'a\\\\b' | 'x''':A$$::tsquery)::text as query`
    expect(row).toEqual({
      words: "'5.a\\\\b':2 '5.it''s':1 '5.x''':3A",
      query: "'5.it''s':* & !'5.a\\\\b' | '5.x''':A",
    })
  })

  it('index a room’s messages so that a probe of another room finds none of them', async () => {
    await insertRoom(9_012)
    await insertRoom(90_123)
    await database.sql`insert into messages (room_id, user_id, user_name, body) values
      (9012, 'keeper', 'Keeper', 'deplorable weather'),
      (90123, 'keeper', 'Keeper', 'deployment done')`
    const found = await database.sql<{ body: string }[]>`
      select m.body from messages m
      where room_lexemes(m.room_id, m.search_vector) @@ room_query(9012, to_tsquery('simple', 'deplo:*'))`
    expect(found.map((row) => row.body)).toEqual(['deplorable weather'])
  })

  it('are what the search index is built on, and a room’s probe is answered from it', async () => {
    const plan = await database.sql.begin(async (tx) => {
      await tx`set local enable_seqscan = off`
      return tx<{ 'QUERY PLAN': string }[]>`
        explain (costs off)
        select m.id from rooms r cross join lateral (
          select m.id from messages m
          where room_lexemes(m.room_id, m.search_vector) @@ room_query(r.id, to_tsquery('simple', 'deplo:*'))
            and m.search_vector @@ to_tsquery('simple', 'deplo:*')
          limit 21) m`
    })
    expect(plan.map((row) => row['QUERY PLAN']).join('\n')).toContain(
      'Bitmap Index Scan on messages_search_idx\n',
    )

    const [row] = await database.sql<{ definition: string }[]>`
      select pg_get_indexdef('messages_search_idx'::regclass) as definition`
    expect(row!.definition).toMatch(
      /USING gin \(room_lexemes\(room_id, search_vector\)\) WITH \(fastupdate='?(off|false)'?\)$/,
    )
  })
})
