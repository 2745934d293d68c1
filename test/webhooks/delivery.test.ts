import { afterAll, describe, expect, it } from 'vitest'
import { useTestServer } from '../support/fixtures.js'
import { createRoom, postMessage } from '../support/server.js'
import { until } from '../support/wait.js'
import { type Receiver, startReceiver } from '../support/webhook-receiver.js'
import { registerWebhook, WEBHOOK_TEST_ENV } from '../support/webhooks.js'

const { server, database } = useTestServer({ env: WEBHOOK_TEST_ENV })
const receivers: Receiver[] = []
afterAll(() => Promise.all(receivers.map((receiver) => receiver.close())))

/** A receiver of the test's own: each endpoint's deliveries are checked with its own secret. */
async function newReceiver(): Promise<Receiver> {
  const receiver = await startReceiver()
  receivers.push(receiver)
  return receiver
}

const insertWithSql = (roomId: number, body: string) =>
  database.sql`insert into messages (room_id, user_id, user_name, body) values (${roomId}, 'ops', 'Ops', ${body})`

/** The verified payloads of `type` for `roomId`. */
const payloadsOf = (receiver: Receiver, secret: string, roomId: number, type: string) =>
  receiver.verified(secret).filter((payload) => payload.room_id === roomId && payload.type === type)

describe('webhook delivery', () => {
  it('delivers messages posted over HTTP and inserted with psql, signed, in order per room', async () => {
    const receiver = await newReceiver()
    const [a, b] = [await createRoom(server, 'hooked a'), await createRoom(server, 'hooked b')]
    const hook = await registerWebhook(server, {
      url: receiver.url,
      rooms: [a, b],
      events: ['message.created'],
    })
    expect(hook.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/)
    const bodies = new Map<number, string[]>([
      [a, []],
      [b, []],
    ])
    for (let i = 0; i < 12; i++) {
      const room = i % 3 === 0 ? b : a
      const body = `${room === a ? 'a' : 'b'}${i}`
      bodies.get(room)!.push(body)
      if (i % 2 === 0) expect((await postMessage(server, room, body)).status).toBe(201)
      else await insertWithSql(room, body)
    }
    await until(() => receiver.received.length >= 12, 'twelve webhooks')
    for (const room of [a, b]) {
      const payloads = payloadsOf(receiver, hook.secret, room, 'message.created')
      expect(payloads.map((payload) => (payload.data as { body: string }).body)).toEqual(bodies.get(room))
      const cursors = payloads.map((payload) => payload.cursor)
      expect(cursors).toEqual(cursors.map((_, i) => i + 1))
    }
    const ids = receiver.received.map((entry) => entry.id)
    expect(ids.filter((id) => id.startsWith(`parley_${hook.id}_${a}_`))).toEqual(
      bodies.get(a)!.map((_, i) => `parley_${hook.id}_${a}_c${i + 1}`),
    )
    expect(receiver.received[0]!.headers['content-type']).toBe('application/json')
  })

  it('sends edits, deletes, reactions and members, each as its event type', async () => {
    const receiver = await newReceiver()
    const room = await createRoom(server, 'every event')
    const hook = await registerWebhook(server, { url: receiver.url, rooms: [room] })
    const posted = await postMessage(server, room, 'first')
    const { seq } = (await posted.json()) as { seq: number }
    const edited = await server.request(`/rooms/${room}/messages/${seq}`, {
      method: 'PATCH',
      body: JSON.stringify({ body: 'edited' }),
    })
    expect(edited.status).toBe(200)
    const reacted = await server.request(
      `/rooms/${room}/messages/${seq}/reactions/${encodeURIComponent('👍')}`,
      {
        method: 'PUT',
      },
    )
    expect(reacted.status).toBe(200)
    await database.sql`insert into room_members (room_id, user_id) values (${room}, 'bob')`
    await database.sql`delete from room_members where room_id = ${room} and user_id = 'bob'`
    expect((await server.request(`/rooms/${room}/messages/${seq}`, { method: 'DELETE' })).status).toBe(204)
    const mine = () => receiver.verified(hook.secret).filter((payload) => payload.room_id === room)
    await until(() => mine().length === 6, 'six events')
    const changes = mine().filter((payload) => payload.type.startsWith('message.'))
    expect(changes.map((payload) => [payload.type, payload.cursor])).toEqual([
      ['message.created', 1],
      ['message.edited', 2],
      ['message.reaction', 3],
      ['message.deleted', 4],
    ])
    expect(changes[2]!.data).toEqual({
      room_id: room,
      seq,
      emoji: '👍',
      user_id: 'alice',
      action: 'added',
      count: 1,
    })
    expect(changes[3]!.data).toEqual({ room_id: room, seq })
    const members = mine().filter((payload) => payload.type.startsWith('member.'))
    expect(members.map((payload) => [payload.type, payload.data])).toEqual([
      ['member.added', { room_id: room, user_id: 'bob', role: 'member' }],
      ['member.removed', { room_id: room, user_id: 'bob', role: 'member' }],
    ])
    expect(members[1]!.cursor).toBe(members[0]!.cursor + 1)
    for (const payload of mine()) expect(Date.parse(payload.timestamp)).toBeGreaterThan(Date.now() - 60_000)
  })

  it('passes over the events an endpoint did not ask for', async () => {
    const receiver = await newReceiver()
    const room = await createRoom(server, 'only new messages')
    const hook = await registerWebhook(server, {
      url: receiver.url,
      rooms: [room],
      events: ['message.created'],
    })
    const { seq } = (await (await postMessage(server, room, 'one')).json()) as { seq: number }
    await server.request(`/rooms/${room}/messages/${seq}/reactions/${encodeURIComponent('🎉')}`, {
      method: 'PUT',
    })
    await postMessage(server, room, 'two')
    await until(
      () => payloadsOf(receiver, hook.secret, room, 'message.created').length === 2,
      'both messages',
    )
    expect(receiver.verified(hook.secret).filter((payload) => payload.room_id === room)).toHaveLength(2)
  })

  it('retries a failing receiver with backoff until it answers, and logs every attempt', async () => {
    const room = await createRoom(server, 'flaky receiver')
    const flaky = await newReceiver()
    let failures = 0
    flaky.respond = () => (++failures <= 3 ? 500 : 200)
    try {
      const hook = await registerWebhook(server, { url: flaky.url, rooms: [room] })
      await postMessage(server, room, 'eventually')
      await postMessage(server, room, 'then at once')
      await until(() => flaky.deduplicated(hook.secret).length === 2, 'both messages after the failures')
      expect(flaky.received.map((entry) => entry.id)).toEqual([
        ...Array(4).fill(`parley_${hook.id}_${room}_c1`),
        `parley_${hook.id}_${room}_c2`,
      ])
      const log = await server.request(`/webhooks/${hook.id}/deliveries`)
      const { deliveries } = (await log.json()) as {
        deliveries: { attempt: number; status: number; next_attempt_at: string | null; latency_ms: number }[]
      }
      expect(deliveries.map((d) => [d.attempt, d.status, d.next_attempt_at === null])).toEqual([
        [1, 200, true],
        [4, 200, true],
        [3, 500, false],
        [2, 500, false],
        [1, 500, false],
      ])
      // Each wait at least doubles: 50, 100, 200 ms give or take their jitter.
      const times = flaky.received.slice(0, 4).map((entry) => entry.receivedAt)
      expect(times[2]! - times[1]!).toBeGreaterThanOrEqual(70)
      expect(times[3]! - times[2]!).toBeGreaterThanOrEqual(150)
    } finally {
      flaky.respond = () => 204
    }
  })

  it('signs with the old secret and the new one while a rotation lasts', async () => {
    const receiver = await newReceiver()
    const room = await createRoom(server, 'rotated')
    const hook = await registerWebhook(server, { url: receiver.url, rooms: [room] })
    const rotated = await server.request(`/webhooks/${hook.id}/rotate-secret`, { method: 'POST' })
    expect(rotated.status).toBe(200)
    const { secret, previous_secret_expires_at } = (await rotated.json()) as {
      secret: string
      previous_secret_expires_at: string
    }
    expect(secret).not.toBe(hook.secret)
    expect(Date.parse(previous_secret_expires_at)).toBeGreaterThan(Date.now())
    await postMessage(server, room, 'signed twice')
    const mine = () => receiver.received.filter((entry) => entry.id.startsWith(`parley_${hook.id}_`))
    await until(() => mine().length === 1, 'the message')
    expect(mine()[0]!.signature.split(' ')).toHaveLength(2)
    const byNew = receiver.verified(secret).filter((p) => p.room_id === room)
    expect(byNew).toHaveLength(1)
    expect(receiver.verified(hook.secret).filter((p) => p.room_id === room)).toEqual(byNew)
  })
})
