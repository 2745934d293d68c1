import { describe, expect, it } from 'vitest'
import { useTestServer } from '../support/fixtures.js'
import { createClient, ParleyError, type ParleyClient } from '../../client/index.js'
import { startRelay } from '../support/relay.js'

describe('the client library over REST', () => {
  const { server } = useTestServer()

  const clientFor = (user: string): ParleyClient =>
    createClient({ baseUrl: server.url, getToken: () => server.token(user) })

  /** The ParleyError a call rejects with, as `status code`. */
  async function refusal(call: Promise<unknown>): Promise<string> {
    const error = await call.then(
      () => undefined,
      (error: unknown) => error,
    )
    if (!(error instanceof ParleyError)) throw new Error(`expected a ParleyError, got ${String(error)}`)
    return `${error.status} ${error.code}`
  }

  it('creates, lists and reads rooms, posts, pages, edits, reacts, replies and deletes', async () => {
    const alice = clientFor('alice')
    const room = await alice.rooms.create({ name: 'rest-tour' })
    expect(room).toMatchObject({ name: 'rest-tour', visibility: 'public', created_by: 'alice', cursor: 0 })
    expect((await alice.rooms.list({ q: 'rest-tour' })).rooms.map((listed) => listed.id)).toEqual([room.id])
    expect(await alice.rooms.get(room.id)).toEqual(room)

    const first = await alice.messages.post(room.id, { body: 'hello', client_id: 'c-1' })
    expect(first).toMatchObject({ seq: 1, body: 'hello', user_id: 'alice', reply_to: null })
    expect(await alice.messages.post(room.id, { body: 'hello', client_id: 'c-1' })).toEqual(first)
    const reply = await alice.messages.post(room.id, { body: 'a reply', reply_to: 1 })
    expect((await alice.messages.replies(room.id, 1)).messages.map((m) => m.seq)).toEqual([reply.seq])

    expect((await alice.messages.edit(room.id, 1, { body: 'hello, world' })).edited_at).not.toBeNull()
    expect((await alice.reactions.add(room.id, 1, '👍')).reactions).toEqual({ '👍': 1 })
    expect((await alice.reactions.list(room.id, 1)).reactions.map((r) => [r.emoji, r.user_id])).toEqual([
      ['👍', 'alice'],
    ])
    expect((await alice.reactions.remove(room.id, 1, '👍')).reactions).toEqual({})
    expect(await alice.messages.delete(room.id, 1)).toBeUndefined()
    expect((await alice.messages.get(room.id, 1)).deleted_at).not.toBeNull()

    const page = await alice.messages.list(room.id, { limit: 1 })
    expect(page.messages.map((m) => m.seq)).toEqual([2])
    expect(page.has_more).toBe(true)
    expect(page.cursor).toBe((await alice.rooms.get(room.id)).cursor)
  })

  it('manages members, read marks, typing, presence and tickets', async () => {
    const olive = clientFor('olive')
    const room = await olive.rooms.create({ name: 'rest-members', visibility: 'private' })
    expect(await olive.members.add(room.id, { user_id: 'mia' })).toMatchObject({
      user_id: 'mia',
      role: 'member',
    })
    expect((await olive.members.list(room.id)).members.map((m) => m.user_id).sort()).toEqual(['mia', 'olive'])
    const mia = clientFor('mia')
    expect(await mia.rooms.join(room.id)).toMatchObject({ user_id: 'mia' })
    await olive.messages.post(room.id, { body: 'one' })
    expect(await mia.rooms.markRead(room.id, 1)).toEqual({ user_id: 'mia', seq: 1 })
    expect((await mia.rooms.reads(room.id)).reads.find((r) => r.user_id === 'mia')?.seq).toBe(1)
    expect(await mia.rooms.typing(room.id, 'on')).toBeUndefined()
    expect(await mia.rooms.presence(room.id)).toEqual({ users: [], count: 0, next_cursor: null })
    expect((await mia.streamTickets.create()).ticket).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(await mia.members.remove(room.id, 'mia')).toBeUndefined()
    expect(await refusal(mia.rooms.get(room.id))).toBe('404 room_not_found')
  })

  it('signs in on the development endpoint and reads health without a token', async () => {
    const anonymous = createClient({
      baseUrl: server.url,
      getToken: () => Promise.reject(new Error('no token here')),
    })
    expect(await anonymous.devToken({ name: 'Zoë Smith' })).toMatchObject({
      user_id: 'zoe-smith',
      user_name: 'Zoë Smith',
    })
    expect(await anonymous.health()).toEqual({ status: 'ok' })
    expect(await anonymous.ready()).toEqual({ status: 'ok', checks: { database: true, listener: true } })
  })

  it("rejects with one ParleyError carrying the API's code, status and message", async () => {
    const alice = clientFor('alice')
    const bob = clientFor('bob')
    const room = await alice.rooms.create({ name: 'rest-errors' })
    await alice.messages.post(room.id, { body: 'mine' })
    expect(await refusal(alice.rooms.get(999_999))).toBe('404 room_not_found')
    expect(await refusal(alice.messages.get(room.id, 99))).toBe('404 message_not_found')
    expect(await refusal(alice.messages.post(room.id, { body: '   ' }))).toBe('400 body_required')
    expect(await refusal(alice.messages.post(room.id, { body: 'x'.repeat(2001) }))).toBe('422 body_too_long')
    expect(await refusal(alice.rooms.create({ name: 'rest-errors' }))).toBe('409 name_taken')
    expect(await refusal(bob.messages.edit(room.id, 1, { body: 'not yours' }))).toBe('403 forbidden')
    expect(await refusal(alice.reactions.add(room.id, 1, 'nope'))).toBe('400 invalid_emoji')
    const error = await alice.rooms.get(999_999).catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(ParleyError)
    expect(error).toMatchObject({ name: 'ParleyError', message: 'Room 999999 does not exist' })
  })

  it('carries Retry-After as retryAfter on a 429', async () => {
    const carol = clientFor('carol')
    const room = await carol.rooms.create({ name: 'rest-rate' })
    let refused: unknown
    for (let i = 0; i < 25 && refused === undefined; i++) {
      refused = await carol.messages.post(room.id, { body: `m${i}` }).then(
        () => undefined,
        (error: unknown) => error,
      )
    }
    expect(refused).toBeInstanceOf(ParleyError)
    expect(refused).toMatchObject({ status: 429, code: 'rate_limited', retryAfter: expect.any(Number) })
    expect((refused as ParleyError).retryAfter).toBeGreaterThan(0)
  })

  it('renews the token through getToken after a 401 and repeats the call once', async () => {
    const renewals: boolean[] = []
    const client = createClient({
      baseUrl: server.url,
      getToken: ({ renew }) => {
        renewals.push(renew)
        return renew ? server.token('dave') : 'not-a-token'
      },
    })
    expect((await client.rooms.create({ name: 'rest-renewed' })).created_by).toBe('dave')
    expect(renewals).toEqual([false, true])

    const hopeless = createClient({ baseUrl: server.url, getToken: () => 'not-a-token' })
    expect(await refusal(hopeless.rooms.list())).toBe('401 unauthorized')
  })

  it('aborts any call by its signal, and rejects a call with no answer within its timeout', async () => {
    const alice = clientFor('alice')
    const room = await alice.rooms.create({ name: 'rest-abort' })
    const aborted = await alice.rooms
      .get(room.id, { signal: AbortSignal.abort() })
      .catch((error: unknown) => error)
    expect(aborted).toMatchObject({ name: 'AbortError' })

    const controller = new AbortController()
    const posting = alice.messages.post(room.id, { body: 'never sent' }, { signal: controller.signal })
    controller.abort()
    expect(await posting.catch((error: unknown) => error)).toMatchObject({ name: 'AbortError' })

    const relay = await startRelay(server.port)
    try {
      const slow = createClient({ baseUrl: relay.url, getToken: () => server.token('alice') })
      relay.hold()
      const started = Date.now()
      const late = await slow.messages.list(room.id, {}, { timeout: 300 }).catch((error: unknown) => error)
      expect(late).toMatchObject({ name: 'TimeoutError' })
      expect(Date.now() - started).toBeLessThan(5_000)
      relay.release()
      expect((await slow.rooms.get(room.id, { timeout: 5_000 })).id).toBe(room.id)
    } finally {
      await relay.close()
    }
  })
})
