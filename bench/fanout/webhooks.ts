import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import postgres from 'postgres'
import { signHs256Token } from '../../src/auth/sign.js'
import { createBenchDatabase } from '../lib/bench-database.js'
import { LatencyHistogram } from '../lib/latency-histogram.js'
import type { BenchContext } from './session.js'
import { startTargetProcess } from './target-process.js'
import { targetLaunch } from './targets.js'

export interface WebhookRun {
  rooms: number
  /** Deliveries made at once by the one Parley instance (WEBHOOK_CONCURRENCY). */
  concurrency: number
  /** From the message's commit (its created_at) to the receiver reading the request, at a steady rate. */
  latency: {
    rate: number
    seconds: number
    count: number
    p50: number
    p90: number
    p99: number
    max: number
  }
  /** A backlog inserted at once, delivered as fast as the instance goes. */
  throughput: { backlog: number; seconds: number; perSecond: number }
  /** Requests the receiver got beyond one per webhook-id (at least once allows some). */
  duplicates: number
}

const ROOMS = 20
const RATE = 100
const SECONDS = 10
const BACKLOG = 5_000
const CONCURRENCY = 16
const OWNER = 'bench-webhook-owner'

/**
 * Webhook delivery on one Parley instance and a database of its own: a receiver in this
 * process on 127.0.0.1, one endpoint following `ROOMS` rooms. First messages inserted with
 * SQL at `RATE` per second for `SECONDS`, each timed from its commit to its receipt; then a
 * backlog of `BACKLOG` inserted at once and timed until the last is received.
 */
export async function runWebhooks(context: BenchContext): Promise<WebhookRun> {
  const database = await createBenchDatabase('parley_bench_webhooks')
  const dispose = () => database.dispose()
  context.live.add(dispose)
  const sql = postgres(database.url, { max: 4, onnotice: () => {} })
  const receiver = await startReceiver()
  const launch = targetLaunch('parley', { ...context.launch, databaseUrl: database.url })
  const server = await startTargetProcess({
    ...launch,
    env: { ...launch.env, WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_CONCURRENCY: String(CONCURRENCY) },
  })
  const stop = () => server.stop()
  context.live.add(stop)
  try {
    const rooms = await makeRooms(sql)
    await register(
      server.url,
      receiver.url,
      rooms,
      await signHs256Token({ sub: OWNER }, '2h', context.launch.jwtSecret),
    )

    // Warm-up: a message per room, all received, before anything is timed (an instance
    // learns of a new endpoint at its next poll).
    for (const room of rooms) {
      await sql`insert into messages (room_id, user_id, user_name, body) values (${room}, 'bench', 'Bench', 'warm-up')`
    }
    await receiver.until(ROOMS, 30_000)

    const latency = new LatencyHistogram()
    receiver.onMessage = (createdAt, receivedAt) => latency.record(receivedAt - createdAt)
    const started = performance.now()
    for (let i = 0; i < RATE * SECONDS; i++) {
      const due = started + (i * 1000) / RATE
      const wait = due - performance.now()
      if (wait > 0) await sleep(wait)
      void sql`insert into messages (room_id, user_id, user_name, body)
               values (${rooms[i % ROOMS]!}, 'bench', 'Bench', ${`steady ${i}`})`.catch(() => {})
    }
    await receiver.until(ROOMS + RATE * SECONDS, 30_000)
    const steady = latency.summary()
    context.log(
      `  webhooks: ${steady.count} at ${RATE}/s over ${ROOMS} rooms: commit to receipt p50 ${steady.p50} ms, p99 ${steady.p99} ms, max ${steady.max} ms`,
    )

    receiver.onMessage = () => {}
    const before = receiver.unique()
    await sql`
      insert into messages (room_id, user_id, user_name, body)
      select (${sql.array(rooms)}::bigint[])[1 + (i % ${ROOMS})], 'bench', 'Bench', 'backlog ' || i
        from generate_series(0, ${BACKLOG - 1}) as i`
    const committed = performance.now()
    await receiver.until(before + BACKLOG, 120_000)
    const seconds = (performance.now() - committed) / 1000
    const perSecond = BACKLOG / seconds
    context.log(
      `  webhooks: a backlog of ${BACKLOG} delivered in ${seconds.toFixed(1)} s: ${perSecond.toFixed(0)} deliveries/s with ${CONCURRENCY} at once`,
    )
    return {
      rooms: ROOMS,
      concurrency: CONCURRENCY,
      latency: { rate: RATE, seconds: SECONDS, ...steady },
      throughput: { backlog: BACKLOG, seconds, perSecond },
      duplicates: receiver.requests() - receiver.unique(),
    }
  } finally {
    context.live.delete(stop)
    await server.stop()
    await receiver.close()
    await sql.end({ timeout: 5 })
    context.live.delete(dispose)
    await dispose()
  }
}

async function makeRooms(sql: postgres.Sql): Promise<number[]> {
  const rows = await sql<{ id: string }[]>`
    insert into rooms (name, created_by)
    select 'webhooks ' || i, ${OWNER} from generate_series(1, ${ROOMS}) as i returning id`
  const ids = rows.map((row) => Number(row.id))
  await sql`insert into room_members (room_id, user_id, role) select unnest(${sql.array(ids)}::bigint[]), ${OWNER}, 'owner'`
  return ids
}

async function register(baseUrl: string, url: string, rooms: number[], token: string): Promise<void> {
  const response = await fetch(`${baseUrl}/webhooks`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ url, rooms, events: ['message.created'] }),
  })
  if (response.status !== 201)
    throw new Error(`registering the endpoint: ${response.status} ${await response.text()}`)
}

/** A receiver that answers 204 at once and counts requests and distinct webhook-ids. */
async function startReceiver() {
  const seen = new Set<string>()
  let requests = 0
  const state = { onMessage: (_createdAt: number, _receivedAt: number) => {} }
  const server = createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      const receivedAt = Date.now()
      requests++
      const id = String(request.headers['webhook-id'])
      if (!seen.has(id)) {
        seen.add(id)
        const payload = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { data: { created_at: string } }
        state.onMessage(Date.parse(payload.data.created_at), receivedAt)
      }
      response.writeHead(204).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return Object.assign(state, {
    url: `http://127.0.0.1:${port}/hook`,
    unique: () => seen.size,
    requests: () => requests,
    async until(count: number, timeoutMs: number) {
      const deadline = Date.now() + timeoutMs
      while (seen.size < count) {
        if (Date.now() > deadline)
          throw new Error(`${seen.size} of ${count} webhooks received in ${timeoutMs} ms`)
        await sleep(20)
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  })
}
