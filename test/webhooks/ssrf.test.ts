import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isRefusedAddress } from '../../src/webhooks/address.js'
import { useTestServer } from '../support/fixtures.js'
import { createRoom, errorCode, postMessage } from '../support/server.js'
import { until } from '../support/wait.js'
import { type Receiver, startReceiver } from '../support/webhook-receiver.js'

// Without WEBHOOK_ALLOW_PRIVATE, the product's default: no endpoint may lead inside the
// network, when it is registered or when a delivery is made.
const { server, database } = useTestServer({ env: { WEBHOOK_RETRY_BASE_MS: '50', WEBHOOK_POLL_MS: '200' } })
let receiver: Receiver

beforeAll(async () => {
  receiver = await startReceiver()
})
afterAll(() => receiver.close())

describe('addresses', () => {
  it('refuses loopback, private, link-local, unspecified and metadata addresses, however written', () => {
    for (const address of [
      '127.0.0.1',
      '127.8.9.10',
      '10.1.2.3',
      '172.16.0.1',
      '172.31.255.255',
      '192.168.1.1',
      '169.254.169.254',
      '100.100.100.200',
      '0.0.0.0',
      '::',
      '::1',
      'fc00::1',
      'fd00:ec2::254',
      'fe80::1%eth0',
      '::ffff:127.0.0.1',
      '::ffff:7f00:1',
      '::ffff:10.0.0.1',
      '64:ff9b::a9fe:a9fe',
      'ff02::1',
      '224.0.0.1',
    ]) {
      expect([address, isRefusedAddress(address)]).toEqual([address, true])
    }
  })

  it('lets public addresses through', () => {
    for (const address of [
      '93.184.216.34',
      '8.8.8.8',
      '172.32.0.1',
      '2606:4700:4700::1111',
      '::ffff:8.8.8.8',
    ]) {
      expect([address, isRefusedAddress(address)]).toEqual([address, false])
    }
  })
})

describe('endpoints leading inside the network', () => {
  for (const url of [
    'http://127.0.0.1:9/hook',
    'http://localhost/hook',
    'http://[::1]/hook',
    'http://10.0.0.1/hook',
    'http://169.254.169.254/latest/meta-data/',
    'http://[::ffff:127.0.0.1]/hook',
    'http://[fd00:ec2::254]/hook',
    'http://0x7f000001/hook',
  ]) {
    it(`are refused at registration: ${url}`, async () => {
      const room = await createRoom(server, `room for ${url}`)
      const response = await server.request('/webhooks', {
        method: 'POST',
        body: JSON.stringify({ url, rooms: [room], events: ['message.created'] }),
      })
      expect(response.status).toBe(422)
      expect(await errorCode(response)).toBe('url_not_allowed')
    })
  }

  it('are refused at delivery too, when the address changed after registration', async () => {
    const room = await createRoom(server, 'rebound')
    // As if the name had resolved to a public address at registration and to a private one now.
    const urls = [receiver.url, receiver.url.replace('127.0.0.1', 'localhost')]
    const ids: number[] = []
    for (const url of urls) {
      const [row] = await database.sql<{ id: string }[]>`
        insert into webhook_endpoints (owner_id, url, rooms, events, secret)
        values ('alice', ${url}, ${[room]}::bigint[], ${['message.created']}::text[], 'whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0') returning id`
      await database.sql`
        insert into webhook_lanes (endpoint_id, room_id, lane, cursor)
        values (${row!.id}, ${room}, 'changes', 0), (${row!.id}, ${room}, 'log', 0)`
      ids.push(Number(row!.id))
    }
    expect((await postMessage(server, room, 'for nobody inside')).status).toBe(201)
    const errors = async () =>
      database.sql<{ endpoint_id: string; status: number | null; error: string }[]>`
        select endpoint_id, status, error from webhook_deliveries where endpoint_id = any(${ids}) order by id`
    await until(
      async () => new Set((await errors()).map((row) => row.endpoint_id)).size === 2,
      'both refusals logged',
    )
    const [literal, named] = ids.map(async (id) =>
      (await errors()).find((row) => Number(row.endpoint_id) === id)!,
    )
    expect(await literal).toMatchObject({
      status: null,
      error: expect.stringMatching(/127\.0\.0\.1 is not an address webhooks may reach/),
    })
    expect(await named).toMatchObject({
      status: null,
      error: expect.stringMatching(/localhost resolves to (127\.0\.0\.1|::1)/),
    })
    expect(receiver.received).toHaveLength(0)
  })
})
