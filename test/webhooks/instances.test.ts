import { afterAll, describe, expect, it } from 'vitest'
import { useTestServer } from '../support/fixtures.js'
import { createRoom, postMessage } from '../support/server.js'
import { until } from '../support/wait.js'
import { type Receiver, startReceiver, type WebhookPayload } from '../support/webhook-receiver.js'
import { registerWebhook, WEBHOOK_TEST_ENV } from '../support/webhooks.js'

// Deliveries whose state is the database's: several instances share the work without
// sending anything twice, and an instance restarted mid-stream loses nothing.
const { server, database, startServer, restart } = useTestServer({ env: WEBHOOK_TEST_ENV })
const receivers: Receiver[] = []
afterAll(() => Promise.all(receivers.map((receiver) => receiver.close())))

async function newReceiver(): Promise<Receiver> {
  const receiver = await startReceiver()
  receivers.push(receiver)
  return receiver
}

const insertWithSql = (roomId: number, body: string) =>
  database.sql`insert into messages (room_id, user_id, user_name, body) values (${roomId}, 'ops', 'Ops', ${body})`

/** Bodies by room, in the order received. */
function bodiesByRoom(payloads: WebhookPayload[]): Map<number, string[]> {
  const rooms = new Map<number, string[]>()
  for (const payload of payloads) {
    const list = rooms.get(payload.room_id) ?? []
    list.push((payload.data as { body: string }).body)
    rooms.set(payload.room_id, list)
  }
  return rooms
}

describe('webhooks across instances', () => {
  it('delivers each change once when two instances share the work', async () => {
    const second = await startServer()
    const receiver = await newReceiver()
    // A little slow, so that both instances are delivering at once.
    receiver.respond = () => new Promise((resolve) => setTimeout(() => resolve(200), 5))
    const rooms = [] as number[]
    for (let i = 0; i < 4; i++) rooms.push(await createRoom(server, `shared ${i}`))
    const hook = await registerWebhook(server, { url: receiver.url, rooms, events: ['message.created'] })
    const expected = new Map<number, string[]>(rooms.map((room) => [room, []]))
    const writes: Promise<unknown>[] = []
    for (let i = 0; i < 60; i++) {
      const room = rooms[i % rooms.length]!
      const body = `m${i}`
      expected.get(room)!.push(body)
      writes.push(
        i % 3 === 2
          ? insertWithSql(room, body)
          : postMessage(i % 3 === 0 ? server : second, room, body, `poster${i % 4}`),
      )
      if (i % rooms.length === rooms.length - 1) await Promise.all(writes.splice(0))
    }
    await until(() => receiver.received.length >= 60, 'sixty webhooks')
    const counts = new Map<string, number>()
    for (const entry of receiver.received) counts.set(entry.id, (counts.get(entry.id) ?? 0) + 1)
    expect(counts.size).toBe(60)
    expect([...counts.values()].every((n) => n === 1)).toBe(true)
    expect(bodiesByRoom(receiver.verified(hook.secret))).toEqual(expected)
    // Each attempt is logged once, by whichever instance made it, after the receiver answered.
    const logged = async () =>
      (
        await database.sql<{ n: number }[]>`
          select count(*)::int as n from webhook_deliveries where endpoint_id = ${hook.id}`
      )[0]!.n
    await until(async () => (await logged()) >= 60, 'sixty attempts logged')
    expect(await logged()).toBe(60)
    await second.close()
  })

  it('loses nothing when its instance restarts mid-stream, and repeats only what it had not recorded', async () => {
    const receiver = await newReceiver()
    receiver.respond = () => new Promise((resolve) => setTimeout(() => resolve(200), 10))
    const rooms = [await createRoom(server, 'restarted a'), await createRoom(server, 'restarted b')]
    const hook = await registerWebhook(server, { url: receiver.url, rooms, events: ['message.created'] })
    const expected = new Map<number, string[]>(rooms.map((room) => [room, []]))
    const write = async (body: string, i: number, over: 'http' | 'sql') => {
      const room = rooms[i % 2]!
      expected.get(room)!.push(body)
      if (over === 'sql') await insertWithSql(room, body)
      else expect((await postMessage(server, room, body, `writer${i % 3}`)).status).toBe(201)
    }
    for (let i = 0; i < 20; i++) await write(`before ${i}`, i, i % 2 === 0 ? 'http' : 'sql')
    await until(() => receiver.received.length >= 3, 'deliveries to be under way')
    await restart(async () => {
      for (let i = 0; i < 10; i++) await write(`while down ${i}`, i, 'sql')
    })
    for (let i = 0; i < 10; i++) await write(`after ${i}`, i, 'http')
    await until(
      () => receiver.deduplicated(hook.secret).length === 40,
      'every message, once deduplicated',
      20_000,
    )
    expect(bodiesByRoom(receiver.deduplicated(hook.secret))).toEqual(expected)
    // At least once: an event whose attempt was cut by the restart may come twice, never more.
    const counts = new Map<string, number>()
    for (const entry of receiver.received) counts.set(entry.id, (counts.get(entry.id) ?? 0) + 1)
    expect([...counts.values()].every((n) => n <= 2)).toBe(true)
    // Each room's deliveries stay in order even across the restart.
    for (const room of rooms) {
      const cursors = receiver
        .verified(hook.secret)
        .filter((payload) => payload.room_id === room)
        .map((payload) => payload.cursor)
      for (let i = 1; i < cursors.length; i++) expect(cursors[i]!).toBeGreaterThanOrEqual(cursors[i - 1]!)
    }
  })
})
