import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { useTestServer } from '../support/fixtures.js'
import {
  accessFixtures,
  ADMIN,
  FORBIDDEN,
  MEMBER,
  NOT_FOUND,
  outcome,
  OWNER,
  STRANGER,
} from '../support/room-access.js'
import { errorCode } from '../support/server.js'
import { type Receiver, startReceiver } from '../support/webhook-receiver.js'
import { ALL_EVENTS, WEBHOOK_TEST_ENV } from '../support/webhooks.js'

// Who may register, read and change which webhook endpoint, and what a registration must be.
const { server, database } = useTestServer({
  env: { ...WEBHOOK_TEST_ENV, WEBHOOKS_PER_USER: '5', WEBHOOKS_PER_HOUR: '20' },
})
const { api, makeRoom } = accessFixtures({ database: () => database, server: () => server })
let receiver: Receiver

beforeAll(async () => {
  receiver = await startReceiver()
})
afterAll(() => receiver.close())

const register = (user: string, rooms: number[] | 'all', extra: Record<string, unknown> = {}) =>
  api(user, 'POST', '/webhooks', {
    body: { url: receiver.url, rooms, events: ['message.created'], ...extra },
  })

type Role = 'owner' | 'member' | 'stranger' | 'admin'
const USER: Record<Role, string> = { owner: OWNER, member: MEMBER, stranger: STRANGER, admin: ADMIN }

describe('registering an endpoint for a room', () => {
  // [caller, answer for a public room, answer for a private room]
  const MATRIX: [Role, string, string][] = [
    ['owner', '201', '201'],
    ['member', FORBIDDEN, FORBIDDEN],
    ['stranger', FORBIDDEN, NOT_FOUND],
    ['admin', '201', '201'],
  ]
  for (const [role, publicAnswer, privateAnswer] of MATRIX) {
    it(`answers ${publicAnswer} in a public room and ${privateAnswer} in a private one to ${role === 'admin' ? 'an admin' : `a room's ${role}`}`, async () => {
      const [open, closed] = [await makeRoom('public'), await makeRoom('private')]
      expect(await outcome(await register(USER[role], [open.id]))).toBe(publicAnswer)
      expect(await outcome(await register(USER[role], [closed.id]))).toBe(privateAnswer)
    })
  }

  it('answers 404 for a room that does not exist, and 403 for a direct message, even to an admin', async () => {
    expect(await outcome(await register(OWNER, [987_654_321]))).toBe(NOT_FOUND)
    const dm = await api(OWNER, 'POST', '/dms', { body: { user_id: MEMBER } })
    const { id } = (await dm.json()) as { id: number }
    expect(await outcome(await register(OWNER, [id]))).toBe(FORBIDDEN)
    expect(await outcome(await register(ADMIN, [id]))).toBe(FORBIDDEN)
  })
})

describe('an endpoint, to others than its owner', () => {
  let hook: number
  beforeAll(async () => {
    const room = await makeRoom('private')
    const response = await register(OWNER, [room.id])
    expect(response.status).toBe(201)
    hook = ((await response.json()) as { id: number }).id
  })

  const OPERATIONS: [string, string, string, unknown?][] = [
    ['GET', '', '200'],
    ['PATCH', '', '200', { events: ['message.created', 'message.edited'] }],
    ['POST', '/rotate-secret', '200'],
    ['GET', '/deliveries', '200'],
  ]
  for (const [method, suffix, ownAnswer, body] of OPERATIONS) {
    it(`${method} /webhooks/:id${suffix}: ${ownAnswer} to its owner and an admin, 404 to a member and a stranger`, async () => {
      const call = (user: string) => api(user, method, `/webhooks/${hook}${suffix}`, { body })
      expect(await outcome(await call(OWNER))).toBe(ownAnswer)
      expect(await outcome(await call(ADMIN))).toBe(ownAnswer)
      expect(await outcome(await call(MEMBER))).toBe('404 webhook_not_found')
      expect(await outcome(await call(STRANGER))).toBe('404 webhook_not_found')
    })
  }

  it('lists an endpoint to its owner and admins only', async () => {
    const listed = async (user: string) =>
      ((await (await api(user, 'GET', '/webhooks')).json()) as { webhooks: { id: number }[] }).webhooks.map(
        (w) => w.id,
      )
    expect(await listed(OWNER)).toContain(hook)
    expect(await listed(ADMIN)).toContain(hook)
    expect(await listed(STRANGER)).not.toContain(hook)
  })

  it('keeps its secret out of every answer but the ones that make it', async () => {
    const got = (await (await api(OWNER, 'GET', `/webhooks/${hook}`)).json()) as Record<string, unknown>
    expect(got).not.toHaveProperty('secret')
    expect(got).toMatchObject({ id: hook, owner_id: OWNER, events: ['message.created', 'message.edited'] })
  })

  it('is deleted by its owner or an admin only', async () => {
    expect(await outcome(await api(STRANGER, 'DELETE', `/webhooks/${hook}`))).toBe('404 webhook_not_found')
    expect(await outcome(await api(ADMIN, 'DELETE', `/webhooks/${hook}`))).toBe('204')
    expect(await outcome(await api(OWNER, 'GET', `/webhooks/${hook}`))).toBe('404 webhook_not_found')
  })

  it('refuses a member who adds a room it does not manage, as registering would', async () => {
    const [mine, theirs] = [
      await makeRoom('public', { owner: MEMBER, members: [] }),
      await makeRoom('private'),
    ]
    const created = await register(MEMBER, [mine.id])
    const { id } = (await created.json()) as { id: number }
    const patch = (rooms: number[]) => api(MEMBER, 'PATCH', `/webhooks/${id}`, { body: { rooms } })
    expect(await outcome(await patch([mine.id, theirs.id]))).toBe(FORBIDDEN)
    const hidden = await makeRoom('private', { members: [] })
    expect(await outcome(await patch([hidden.id]))).toBe(NOT_FOUND)
  })
})

describe('what a registration must be', () => {
  const REFUSED: [string, unknown, string][] = [
    ['an ftp: URL', { url: 'ftp://example.com/hook' }, '400 invalid_url'],
    ['a relative URL', { url: '/hook' }, '400 invalid_url'],
    ['a URL of 2049 characters', { url: `https://example.com/${'a'.repeat(2029)}` }, '400 invalid_url'],
    ['a URL with a password', { url: 'https://user:secret@example.com/hook' }, '400 invalid_url'],
    ['an unknown event', { events: ['message.exploded'] }, '400 validation_failed'],
    ['no event', { events: [] }, '400 validation_failed'],
    ['no room', { rooms: [] }, '400 validation_failed'],
    ['a room id that is not one', { rooms: ['one'] }, '400 validation_failed'],
  ]
  for (const [what, change, answer] of REFUSED) {
    it(`refuses ${what}: ${answer}`, async () => {
      const body = { url: receiver.url, rooms: 'all', events: ALL_EVENTS, ...(change as object) }
      expect(await outcome(await api('validator', 'POST', '/webhooks', { body }))).toBe(answer)
    })
  }

  it('takes "all" from anyone: the rooms they manage, now and later', async () => {
    const response = await register('newcomer', 'all')
    expect(response.status).toBe(201)
    expect(await response.json()).toMatchObject({
      rooms: 'all',
      enabled: true,
      secret: expect.stringMatching(/^whsec_/),
    })
  })

  it('holds the per-user cap and the creation limit against 100 parallel creations', async () => {
    const answers = await Promise.all(Array.from({ length: 100 }, () => register('burst', 'all')))
    const codes = await Promise.all(answers.map((response) => outcome(response)))
    const tally = (answer: string) => codes.filter((code) => code === answer).length
    expect({
      created: tally('201'),
      capped: tally('409 too_many_webhooks'),
      limited: tally('429 rate_limited'),
    }).toEqual({
      created: 5,
      capped: 15,
      limited: 80,
    })
    const [owned] = await database.sql<{ n: number }[]>`
      select count(*)::int as n from webhook_endpoints where owner_id = 'burst'`
    expect(owned!.n).toBe(5)
    const limited = answers.find((response) => response.status === 429)!
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0)
  })

  it('answers 404 for a webhook id that is not a number or not there', async () => {
    expect(await errorCode(await api(OWNER, 'GET', '/webhooks/987654321'))).toBe('webhook_not_found')
    expect(await errorCode(await api(OWNER, 'GET', '/webhooks/abc'))).toBe('invalid_id')
  })
})
