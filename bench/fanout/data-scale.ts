import { Agent } from 'node:http'
import { signHs256Token } from '../../src/auth/sign.js'
import { requestJson } from '../lib/http-json.js'
import { LatencyHistogram } from '../lib/latency-histogram.js'
import type { BenchOptions } from './options.js'
import type { BenchContext } from './session.js'
import { startTargetProcess } from './target-process.js'
import { targetLaunch } from './targets.js'

export interface DataScalePoint {
  rooms: number
  /** Messages in the biggest room. */
  messages: number
  /** p50/p99 in ms of each endpoint at this size. */
  endpoints: Record<string, { p50: number; p99: number }>
}

export interface DataScaleRun {
  points: DataScalePoint[]
  /** Each endpoint's p99 at the largest size over its p99 at the smallest. */
  growth: Record<string, number>
}

const SAMPLES = 200
const MEMBER_ROOMS = 50

/**
 * Costs as data grows: one room takes 1k, 100k, 1M, 10M messages (bulk-loaded with the
 * triggers off, then its counters set as the triggers would have), among 100 rooms and
 * then 10,000, and at each size the lobby's first page (for a user of 50 rooms who has read
 * nothing), the room, its latest page, a page deep in its history and a post to it are
 * timed one request after another.
 */
export async function runDataScale(
  context: BenchContext,
  options: BenchOptions,
  roomIds: number[],
): Promise<DataScaleRun> {
  const { sql } = context
  const [big] = await sql<{ id: string }[]>`
    insert into rooms (name, created_by) values ('data-scale-big', 'bench') returning id`
  const bigId = Number(big!.id)
  const reader = 'data-scale-reader'
  const members = [bigId, ...roomIds.slice(0, MEMBER_ROOMS - 1)]
  await sql`insert into room_members (room_id, user_id)
    select unnest(${members}::bigint[]), ${reader} on conflict do nothing`
  const token = await signHs256Token({ sub: reader }, '2h', context.launch.jwtSecret)
  const server = await startTargetProcess(targetLaunch('parley', context.launch))
  const stop = () => server.stop()
  context.live.add(stop)
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  const points: DataScalePoint[] = []
  try {
    let loaded = 0
    const measure = async (rooms: number) => {
      const endpoints: DataScalePoint['endpoints'] = {}
      const deep = Math.max(2, Math.floor(loaded / 10))
      const paths: Record<string, () => { path: string; method?: string; body?: unknown }> = {
        'GET /rooms': () => ({ path: '/rooms' }),
        'GET /rooms/:id': () => ({ path: `/rooms/${bigId}` }),
        'GET /rooms/:id/messages': () => ({ path: `/rooms/${bigId}/messages` }),
        'GET /rooms/:id/messages?before=': () => ({ path: `/rooms/${bigId}/messages?before=${deep}` }),
        'POST /rooms/:id/messages': () => ({
          path: `/rooms/${bigId}/messages`,
          method: 'POST',
          body: { body: 'x'.repeat(options.bodyBytes) },
        }),
      }
      for (const [name, request] of Object.entries(paths)) {
        const latency = new LatencyHistogram()
        for (let i = 0; i < SAMPLES; i++) {
          const { path, method, body } = request()
          const started = performance.now()
          const response = await requestJson(new URL(path, server.url), { method, token, body, agent })
          if (response.status >= 300)
            throw new Error(`${name}: ${response.status} ${JSON.stringify(response.body)}`)
          latency.record(performance.now() - started)
        }
        const { p50, p99 } = latency.summary()
        endpoints[name] = { p50, p99 }
      }
      points.push({ rooms, messages: loaded, endpoints })
      context.log(
        `  data scale: ${rooms} rooms, ${loaded} messages: ` +
          Object.entries(endpoints)
            .map(([name, { p99 }]) => `${name} p99 ${p99}`)
            .join(', '),
      )
    }
    const roomCount = async () => Number((await sql<{ n: string }[]>`select count(*) as n from rooms`)[0]!.n)
    const lastSeq = async () =>
      Number((await sql<{ n: string }[]>`select last_seq as n from rooms where id = ${bigId}`)[0]!.n)
    for (const size of options.dataSizes) {
      // The posts measured at the previous size count toward this one.
      const current = await lastSeq()
      await bulkLoad(context, bigId, current, size - current, options.bodyBytes)
      loaded = Math.max(size, current)
      await measure(await roomCount())
    }
    const extra = options.dataRooms - (await roomCount())
    if (extra > 0) {
      await sql`insert into rooms (name, created_by) select 'data-scale-' || i, 'bench' from generate_series(1, ${extra}) i`
      await measure(await roomCount())
    }
  } finally {
    agent.destroy()
    context.live.delete(stop)
    await server.stop()
  }
  const first = points[0]
  const last = points.at(-1)
  const growth: Record<string, number> = {}
  if (first && last) {
    for (const name of Object.keys(first.endpoints)) {
      growth[name] = last.endpoints[name]!.p99 / Math.max(1, first.endpoints[name]!.p99)
    }
  }
  return { points, growth }
}

/** `count` more messages in the room, seq after `from`, with its counters set as the triggers keep them. */
async function bulkLoad(
  context: BenchContext,
  roomId: number,
  from: number,
  count: number,
  bodyBytes: number,
) {
  if (count <= 0) return
  const started = performance.now()
  await context.sql.begin(async (tx) => {
    await tx`set local synchronous_commit = off`
    await tx`alter table messages disable trigger user`
    await tx`insert into messages (room_id, seq, created_cursor, user_id, user_name, body, created_at)
      select ${roomId}, s, s, 'writer-' || (s % 100), 'Writer', repeat('x', ${bodyBytes}),
        now() - (${from + count} - s) * interval '1 millisecond'
      from generate_series(${from + 1}::bigint, ${from + count}::bigint) s`
    await tx`alter table messages enable trigger user`
    await tx`update rooms set last_seq = ${from + count}, last_cursor = ${from + count},
      message_count = ${from + count}, last_message_at = now() where id = ${roomId}`
  })
  await context.sql`analyze messages`
  context.log(
    `  data scale: loaded ${count} messages in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  )
}
