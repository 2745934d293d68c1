import { beforeAll, describe, expect, it } from 'vitest'
import { encodeSearchCursor } from '../../src/chat/search.js'
import type { SearchPage } from '../../src/wire.js'
import { useTestServer } from '../support/fixtures.js'
import { ADMIN, MEMBER, OWNER, outcome, STRANGER, tokenFor } from '../support/room-access.js'
import { errorCode } from '../support/server.js'

// Who finds what through GET /search, and how it refuses: a private room stays invisible
// to a stranger by every parameter, another pair's direct messages stay out of an admin's
// results as they stay out of the lobby, bad input and queries too broad to bound are a
// 4xx JSON error, and searching too fast is 429 (src/http/routes/search.ts).

const { server, database } = useTestServer()
let hidden: number
let open: number

beforeAll(async () => {
  const [privateRoom] = await database.sql<{ id: string }[]>`
    insert into rooms (name, created_by, visibility) values ('vault', ${OWNER}, 'private') returning id`
  hidden = Number(privateRoom!.id)
  await database.sql`insert into room_members (room_id, user_id, role)
    values (${hidden}, ${OWNER}, 'owner'), (${hidden}, ${MEMBER}, 'member')`
  const [publicRoom] = await database.sql<{ id: string }[]>`
    insert into rooms (name, created_by) values ('plaza', ${OWNER}) returning id`
  open = Number(publicRoom!.id)
  await database.sql`insert into messages (room_id, user_id, user_name, body) values
    (${hidden}, ${OWNER}, 'Olive', 'the secret launch code is pelican'),
    (${hidden}, ${OWNER}, 'Olive', 'pelican pelican pelican, more secrets'),
    (${open}, 'town', 'Town', 'a public pelican')`
})

async function searchAs(user: string, query: string) {
  return fetch(`${server.url}/search?${query}`, {
    headers: { authorization: `Bearer ${await tokenFor(user)}` },
  })
}

async function bodiesFor(user: string, query: string): Promise<string[]> {
  const response = await searchAs(user, query)
  expect(response.status).toBe(200)
  return ((await response.json()) as SearchPage).results.map((r) => r.message.body).sort()
}

describe('a private room', () => {
  it('is searched for its members and admins', async () => {
    const all = [
      'a public pelican',
      'pelican pelican pelican, more secrets',
      'the secret launch code is pelican',
    ]
    expect(await bodiesFor(MEMBER, 'q=pelican')).toEqual(all)
    expect(await bodiesFor(ADMIN, 'q=pelican')).toEqual(all)
    expect(await bodiesFor(MEMBER, `q=secret&room=${hidden}`)).toEqual(['the secret launch code is pelican'])
  })

  it('is never found by a stranger, whatever the parameters', async () => {
    expect(await bodiesFor(STRANGER, 'q=pelican')).toEqual(['a public pelican'])
    expect(await bodiesFor(STRANGER, 'q=secret or launch or code')).toEqual([])
    expect(await bodiesFor(STRANGER, `q=pelican&from=${OWNER}`)).toEqual([])
    expect(await bodiesFor(STRANGER, 'q=pel*&sort=recent&limit=100')).toEqual(['a public pelican'])
    expect(await outcome(await searchAs(STRANGER, `q=pelican&room=${hidden}`))).toBe('404 room_not_found')
    expect(await outcome(await searchAs(STRANGER, `q=pelican&room=999999`))).toBe('404 room_not_found')
  })

  it('stays hidden from a stranger who forges a cursor', async () => {
    const forged = [
      encodeSearchCursor({ sort: 'relevance', rank: '1000', id: 1_000_000 }),
      encodeSearchCursor({ sort: 'recent', at: '2999-01-01T00:00:00.000000Z', id: 1_000_000 }),
    ]
    expect(await bodiesFor(STRANGER, `q=pelican&cursor=${forged[0]}`)).toEqual(['a public pelican'])
    expect(await bodiesFor(STRANGER, `q=pelican&sort=recent&cursor=${forged[1]}`)).toEqual([
      'a public pelican',
    ])
  })

  it('is not searched by a probe of a room whose id begins with its own', async () => {
    for (const id of [4_012, 40_123]) {
      await database.sql`insert into rooms (id, name, created_by, visibility)
        overriding system value values (${id}, ${`prefix-${id}`}, ${OWNER}, 'private')`
    }
    await database.sql`insert into room_members (room_id, user_id) values (4012, 'neighbour')`
    await database.sql`insert into messages (room_id, user_id, user_name, body) values
      (4012, ${OWNER}, 'Olive', 'a deplorable forecast'), (40123, ${OWNER}, 'Olive', 'deployment of the vault')`
    expect(await bodiesFor('neighbour', 'q=deplo*')).toEqual(['a deplorable forecast'])
    expect(await bodiesFor('neighbour', 'q=deployment or vault&sort=recent')).toEqual([])
  })

  it('stays hidden from a former member', async () => {
    await database.sql`insert into room_members (room_id, user_id) values (${hidden}, 'leaver')`
    expect(await bodiesFor('leaver', 'q=launch')).toEqual(['the secret launch code is pelican'])
    await database.sql`delete from room_members where room_id = ${hidden} and user_id = 'leaver'`
    expect(await bodiesFor('leaver', 'q=launch')).toEqual([])
  })
})

describe('a direct message', () => {
  it('is searched by its two people, and not by an admin, as the lobby lists it', async () => {
    const opened = await fetch(`${server.url}/dms`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await tokenFor(OWNER)}`, 'content-type': 'application/json' },
      body: JSON.stringify({ user_id: MEMBER }),
    })
    expect(opened.status).toBe(201)
    const dm = ((await opened.json()) as { id: number }).id
    await database.sql`insert into messages (room_id, user_id, user_name, body)
      values (${dm}, ${OWNER}, 'Olive', 'just between us: the albatross')`
    expect(await bodiesFor(OWNER, 'q=albatross')).toEqual(['just between us: the albatross'])
    expect(await bodiesFor(MEMBER, 'q=albatross&sort=recent')).toEqual(['just between us: the albatross'])
    expect(await bodiesFor(ADMIN, 'q=albatross')).toEqual([])
    expect(await bodiesFor(ADMIN, 'q=albat*&sort=recent')).toEqual([])
    expect(await bodiesFor(ADMIN, `q=albatross&room=${dm}`)).toEqual([])
    const lobby = await fetch(`${server.url}/rooms`, {
      headers: { authorization: `Bearer ${await tokenFor(ADMIN)}` },
    })
    const listed = ((await lobby.json()) as { rooms: { id: number }[] }).rooms.map((room) => room.id)
    expect(listed).not.toContain(dm)
  })
})

describe('bad input', () => {
  const cases: [string, string, string][] = [
    ['no q', '', 'validation_failed'],
    ['an empty q', 'q=%20%20', 'validation_failed'],
    ['a q over 200 characters', `q=${'a'.repeat(201)}`, 'validation_failed'],
    ['a q of punctuation only', `q=${encodeURIComponent('!!! & | :*')}`, 'invalid_query'],
    ['a q of exclusions only', 'q=-pelican', 'invalid_query'],
    ['an unknown sort', 'q=pelican&sort=best', 'validation_failed'],
    ['a limit of 0', 'q=pelican&limit=0', 'validation_failed'],
    ['a limit of 101', 'q=pelican&limit=101', 'validation_failed'],
    ['a limit that is not a number', 'q=pelican&limit=ten', 'validation_failed'],
    ['a room that is not a number', 'q=pelican&room=abc', 'validation_failed'],
    ['a date that is not one', 'q=pelican&before=yesterday', 'validation_failed'],
    ['a date that does not exist', 'q=pelican&after=2026-02-30T00:00:00Z', 'validation_failed'],
    ['a cursor that is not base64url', 'q=pelican&cursor=%%%', 'validation_failed'],
    [
      'a cursor of garbage',
      `q=pelican&cursor=${Buffer.from('relevance|x|1').toString('base64url')}`,
      'validation_failed',
    ],
    [
      'a cursor with an impossible date',
      `q=pelican&sort=recent&cursor=${Buffer.from('recent|2026-02-31T00:00:00.000000Z|1').toString('base64url')}`,
      'validation_failed',
    ],
    [
      'a cursor of the other sort',
      `q=pelican&sort=recent&cursor=${encodeSearchCursor({ sort: 'relevance', rank: '0.1', id: 1 })}`,
      'invalid_query',
    ],
  ]
  const tooBroad: [string, string][] = [
    ['a one-letter prefix', 'a*'],
    ['a two-letter prefix', 'pe*'],
    ['a short prefix among other words', 'pelican -launch ab*'],
    ['a short prefix the parser splits off', 'x-yz*'],
    ['a short prefix excluded', 'pelican -ab*'],
    ['a prefix of each hex digit', [...'0123456789abcdef'].map((d) => `${d}*`).join(' or ')],
    ['nine prefixes', Array.from({ length: 9 }, (_, i) => `pel${i}*`).join(' ')],
    ['three prefixes the parser splits in three', 'abc-def* ghi-jkl* mno-pqr*'],
    ['nine alternatives', Array.from({ length: 9 }, (_, i) => `word${i}`).join(' or ')],
    ['seventeen terms', Array.from({ length: 17 }, (_, i) => `word${i}`).join(' ')],
  ]
  for (const [name, q] of tooBroad) cases.push([name, `q=${encodeURIComponent(q)}`, 'query_too_broad'])
  for (const [name, query, code] of cases) {
    it(`answers ${name} with 400 ${code}`, async () => {
      const response = await server.request(`/search?${query}`, { as: `bad-input-${name}` })
      expect([response.status, await errorCode(response)]).toEqual([400, code])
    })
  }

  it('takes the broadest queries it allows', async () => {
    const allowed = [
      'pel*',
      Array.from({ length: 8 }, (_, i) => `pel${i}*`).join(' or '),
      Array.from({ length: 16 }, (_, i) => `word${i}`).join(' '),
    ]
    for (const q of allowed) {
      const response = await server.request(`/search?q=${encodeURIComponent(q)}`, { as: 'broad-prober' })
      expect([q, response.status]).toEqual([q, 200])
    }
  })

  it('takes text that is tsquery syntax as words to find', async () => {
    for (const q of ["pelican' & !x", 'pelican:*', "pel'*", 'pel\\*', '(pelican', 'pelican <-> a']) {
      const response = await server.request(`/search?q=${encodeURIComponent(q)}`, { as: 'syntax-prober' })
      expect([q, response.status]).toEqual([q, 200])
    }
  })

  it('answers 401 without a token', async () => {
    const response = await server.request('/search?q=pelican', { as: null })
    expect([response.status, await errorCode(response)]).toEqual([401, 'unauthorized'])
  })
})

describe('the search rate limit', () => {
  it('answers 429 with Retry-After past RATE_LIMIT_SEARCHES in the window, per user', async () => {
    const statuses: number[] = []
    for (let i = 0; i < 31; i++)
      statuses.push((await server.request('/search?q=pelican', { as: 'eager' })).status)
    expect(statuses).toEqual([...Array<number>(30).fill(200), 429])
    const refused = await server.request('/search?q=pelican', { as: 'eager' })
    expect([refused.status, await errorCode(refused)]).toEqual([429, 'rate_limited'])
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    expect((await server.request('/search?q=pelican', { as: 'patient' })).status).toBe(200)
  })
})

describe('/openapi.json', () => {
  it('documents GET /search with its query and answer', async () => {
    const response = await server.request('/openapi.json', { as: null })
    const document = (await response.json()) as {
      paths: Record<string, { get?: { parameters: { name: string }[]; responses: Record<string, unknown> } }>
      components: { schemas: Record<string, unknown> }
    }
    const operation = document.paths['/search']?.get
    expect(operation?.parameters.map((p) => p.name).sort()).toEqual(
      ['after', 'before', 'cursor', 'from', 'limit', 'q', 'room', 'sort'].sort(),
    )
    expect(Object.keys(operation?.responses ?? {}).sort()).toEqual([
      '200',
      '400',
      '401',
      '404',
      '414',
      '429',
      '503',
      '504',
    ])
    expect(Object.keys(document.components.schemas)).toEqual(
      expect.arrayContaining(['SearchPage', 'SearchResult', 'Message']),
    )
  })
})
