import { Agent } from 'node:http'
import postgres from 'postgres'
import { signHs256Token } from '../../src/auth/sign.js'
import { addShard } from '../../src/shards/catalog.js'
import { setTimeout as sleep } from 'node:timers/promises'
import { requestJson } from '../lib/http-json.js'
import { LatencyHistogram } from '../lib/latency-histogram.js'
import { openSseStream } from '../lib/sse-client.js'
import type { BenchOptions } from './options.js'
import { closedLoop } from './posting.js'
import { createCatalog } from './shard-move.js'
import type { BenchContext } from './session.js'
import { startTargetProcess } from './target-process.js'
import { targetLaunch } from './targets.js'

export interface ServerPostingPoint {
  /** Shards the posts' rooms are on: the same server, the same load, rooms on one or on both. */
  shards: 1 | 2
  round: number
  clients: number
  requestsPerSecond: number
  p99Ms: number
  failed: number
  serverCpuPercent?: number
}

export interface ServerFanoutPoint {
  shards: 1 | 2
  round: number
  streams: number
  posts: number
  /** Messages received over every stream, per second of posting. */
  deliveredPerSecond: number
  /** Deliveries that had not arrived when the wait after posting ended. */
  missing: number
  /** From the message's created_at to its arrival on a stream. */
  latencyMs: { p50: number; p99: number; max: number }
}

const ROOMS = 100
/** Streams in the fan-out part, each on one of the rooms: 10 a room. */
const STREAMS = 1_000
/** Posts per second in the fan-out part, spread over the rooms. */
const FANOUT_POSTS_PER_SECOND = 100

/**
 * Posting over HTTP through one Parley process over two shards (CATALOG_DATABASE_URL, a
 * catalog on the first instance): `options.shardClients` clients, each its own user, post
 * one message after another for `options.shardSeconds`, to ROOMS rooms on the first shard,
 * then to ROOMS rooms spread over both, the two interleaved over `rounds`. The server and its
 * configuration are the same in both; only where the rooms are differs.
 */
export async function measureServerPosting(
  context: BenchContext,
  options: BenchOptions,
  urls: [string, string],
  rounds: number,
): Promise<{ posting: ServerPostingPoint[]; fanout: ServerFanoutPoint[] }> {
  const { url: catalogUrl, catalog } = await createCatalog(urls[0], 'parley_server_catalog')
  const pools = urls.map((url) => postgres(url, { max: 2, onnotice: () => {} }))
  try {
    const shardIds = [
      (await addShard(catalog, { name: 'one', url: urls[0] })).id,
      (await addShard(catalog, { name: 'two', url: urls[1] })).id,
    ]
    // Past the ids of the rooms the scenario's other parts made without this catalog.
    await catalog`select setval('room_ids', 2000000)`
    const roomsOn = await Promise.all(
      shardIds.map(async (shardId, index) => {
        const placed = await catalog<{ roomId: string }[]>`
          insert into room_shards (room_id, shard_id)
          select nextval('room_ids'), ${shardId} from generate_series(1, ${ROOMS}::int)
          returning room_id as "roomId"`
        const ids = placed.map((row) => Number(row.roomId))
        await pools[index]!`insert into rooms (id, name, created_by)
          select id, 'posting ' || id, 'bench' from unnest(${ids}::bigint[]) id`
        return ids
      }),
    )
    const spreads: Record<1 | 2, number[]> = {
      1: roomsOn[0]!,
      2: [...roomsOn[0]!.slice(0, ROOMS / 2), ...roomsOn[1]!.slice(0, ROOMS / 2)],
    }
    const launch = targetLaunch('parley', { ...context.launch, databaseUrl: urls[0] })
    const server = await startTargetProcess({
      ...launch,
      env: { ...launch.env, CATALOG_DATABASE_URL: catalogUrl },
    })
    const stop = () => server.stop()
    context.live.add(stop)
    const points: ServerPostingPoint[] = []
    const fanout: ServerFanoutPoint[] = []
    try {
      const clients = options.shardClients
      const agent = new Agent({ keepAlive: true, maxSockets: clients })
      const tokens = await Promise.all(
        Array.from({ length: clients }, (_, c) =>
          signHs256Token({ sub: `shard-poster-${c}` }, '2h', context.launch.jwtSecret),
        ),
      )
      const body = 'x'.repeat(options.bodyBytes)
      for (let round = 1; round <= rounds; round++) {
        for (const shards of round % 2 === 1 ? ([1, 2] as const) : ([2, 1] as const)) {
          const roomIds = spreads[shards]
          const run = await closedLoop(
            context,
            clients,
            options.shardSeconds,
            server.pid,
            async (i, client) => {
              const url = new URL(`/rooms/${roomIds[i % roomIds.length]}/messages`, server.url)
              const response = await requestJson(url, {
                method: 'POST',
                token: tokens[client]!,
                body: { body },
                agent,
              })
              if (response.status !== 201)
                throw new Error(`${response.status} ${JSON.stringify(response.body)}`)
            },
          )
          context.log(
            `  shards: round ${round}, HTTP posting to rooms on ${shards} shard(s): ` +
              `${run.requestsPerSecond.toFixed(0)}/s p99 ${run.latencyMs.p99} ms, server CPU ` +
              `${run.serverCpuPercent?.toFixed(0) ?? '?'}%${run.failed > 0 ? `, ${run.failed} failed: ${run.firstError}` : ''}`,
          )
          points.push({
            shards,
            round,
            clients,
            requestsPerSecond: run.requestsPerSecond,
            p99Ms: run.latencyMs.p99,
            failed: run.failed,
            serverCpuPercent: run.serverCpuPercent,
          })
        }
      }
      for (let round = 1; round <= rounds; round++) {
        for (const shards of round % 2 === 1 ? ([1, 2] as const) : ([2, 1] as const)) {
          const point = await measureFanout(options, server.url, agent, tokens, spreads[shards])
          context.log(
            `  shards: round ${round}, ${STREAMS} streams on rooms on ${shards} shard(s): ` +
              `${point.deliveredPerSecond.toFixed(0)} deliveries/s, p50 ${point.latencyMs.p50} ms, ` +
              `p99 ${point.latencyMs.p99} ms, ${point.missing} missing`,
          )
          fanout.push({ ...point, shards, round })
        }
      }
      agent.destroy()
    } finally {
      context.live.delete(stop)
      await server.stop()
    }
    return { posting: points, fanout }
  } finally {
    await Promise.all([catalog.end({ timeout: 1 }), ...pools.map((pool) => pool.end({ timeout: 1 }))])
  }
}

/**
 * STREAMS streams over `roomIds` (10 a room), then FANOUT_POSTS_PER_SECOND posts a second
 * over HTTP for `options.shardSeconds`, spread over the rooms; each delivery's latency from
 * the message's created_at.
 */
async function measureFanout(
  options: BenchOptions,
  baseUrl: string,
  agent: Agent,
  tokens: string[],
  roomIds: number[],
): Promise<Omit<ServerFanoutPoint, 'shards' | 'round'>> {
  const latency = new LatencyHistogram()
  let delivered = 0
  let opened = 0
  const streamAgent = new Agent({ keepAlive: false, maxSockets: STREAMS })
  const streams = Array.from({ length: STREAMS }, (_, i) =>
    openSseStream({
      url: new URL(`/rooms/${roomIds[i % roomIds.length]}/stream`, baseUrl),
      headers: { authorization: `Bearer ${tokens[i % tokens.length]}` },
      agent: streamAgent,
      onOpen: () => opened++,
      onEvent: (event) => {
        if (event.event !== 'message') return
        delivered++
        latency.record(Date.now() - Date.parse((JSON.parse(event.data) as { created_at: string }).created_at))
      },
      onEnd: () => {},
    }),
  )
  try {
    const deadline = Date.now() + 30_000
    while (opened < STREAMS && Date.now() < deadline) await sleep(50)
    if (opened < STREAMS) throw new Error(`only ${opened} of ${STREAMS} streams opened`)
    const body = 'x'.repeat(options.bodyBytes)
    const posts = FANOUT_POSTS_PER_SECOND * options.shardSeconds
    const started = performance.now()
    const sent: Promise<unknown>[] = []
    for (let i = 0; i < posts; i++) {
      const due = started + (i * 1000) / FANOUT_POSTS_PER_SECOND
      const wait = due - performance.now()
      if (wait > 0) await sleep(wait)
      const url = new URL(`/rooms/${roomIds[i % roomIds.length]}/messages`, baseUrl)
      sent.push(
        requestJson(url, { method: 'POST', token: tokens[i % tokens.length]!, body: { body }, agent }),
      )
    }
    await Promise.all(sent)
    const seconds = (performance.now() - started) / 1000
    const expected = posts * (STREAMS / roomIds.length)
    const settle = Date.now() + 5_000
    while (delivered < expected && Date.now() < settle) await sleep(50)
    const { p50, p99, max } = latency.summary()
    return {
      streams: STREAMS,
      posts,
      deliveredPerSecond: delivered / seconds,
      missing: expected - delivered,
      latencyMs: { p50, p99, max },
    }
  } finally {
    for (const stream of streams) stream.close()
    streamAgent.destroy()
  }
}
