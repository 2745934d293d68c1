import { signHs256Token } from '../../src/auth/sign.js'
import { Agent } from 'node:http'
import postgres from 'postgres'
import { requestJson } from '../lib/http-json.js'
import { LatencyHistogram } from '../lib/latency-histogram.js'
import type { BenchOptions } from './options.js'
import { cpuPercent, cpuSeconds } from './proc-stats.js'
import type { BenchContext } from './session.js'
import { startTargetProcess } from './target-process.js'
import { targetLaunch } from './targets.js'

export interface PostingRun {
  via: 'http' | 'sql'
  clients: number
  requests: number
  failed: number
  requestsPerSecond: number
  latencyMs: { count: number; p50: number; p90: number; p99: number; max: number }
  /** Parley's CPU during the HTTP run, percent of one core. */
  serverCpuPercent?: number
  /**
   * Parley's CPU seconds (user + system, from /proc) per 10,000 requests answered: what a
   * request costs the server, which the machine's noise moves far less than throughput.
   */
  serverCpuSecondsPer10k?: number
  databaseCpuPercent?: number
  firstError?: string
}

/**
 * Scenario 4: k clients each posting one message after another for a while, over HTTP to
 * Parley (POST /rooms/:id/messages, rate limit off) and then straight into the table with k
 * connections, so the HTTP layer's cost shows beside the database's own.
 */
export async function runPosting(
  context: BenchContext,
  options: BenchOptions,
  roomIds: number[],
): Promise<PostingRun[]> {
  const server = await startTargetProcess(targetLaunch('parley', context.launch))
  const stop = () => server.stop()
  context.live.add(stop)
  const runs: PostingRun[] = []
  try {
    for (const clients of options.posters) {
      const agent = new Agent({ keepAlive: true, maxSockets: clients })
      // Each client posts as its own user, as people do.
      const tokens = await Promise.all(
        Array.from({ length: clients }, (_, c) =>
          signHs256Token({ sub: `poster-${c}` }, '2h', context.launch.jwtSecret),
        ),
      )
      const http = await closedLoop(context, clients, options.stepSeconds, server.pid, async (i, client) => {
        const roomId = roomIds[i % roomIds.length]!
        const url = new URL(`/rooms/${roomId}/messages`, server.url)
        const response = await requestJson(url, {
          method: 'POST',
          token: tokens[client]!,
          body: { body: 'x'.repeat(options.bodyBytes) },
          agent,
        })
        if (response.status !== 201) throw new Error(`${response.status} ${JSON.stringify(response.body)}`)
      })
      agent.destroy()
      runs.push({ via: 'http', clients, ...http })

      const sql = postgres(context.launch.databaseUrl, {
        max: clients,
        onnotice: () => {},
        connection: { application_name: 'bench-load-posting' },
      })
      const body = 'x'.repeat(options.bodyBytes)
      const direct = await closedLoop(context, clients, options.stepSeconds, undefined, async (i) => {
        const roomId = roomIds[i % roomIds.length]!
        await sql`insert into messages (room_id, user_id, user_name, body)
                  values (${roomId}, 'bench', 'Bench', ${body}) returning *`
      }).finally(() => sql.end({ timeout: 5 }))
      runs.push({ via: 'sql', clients, ...direct })
      context.log(
        `  posting with ${clients} clients: HTTP ${http.requestsPerSecond.toFixed(0)}/s p99 ${http.latencyMs.p99} ms` +
          ` (${http.serverCpuSecondsPer10k?.toFixed(2) ?? '?'} CPU s per 10k),` +
          ` SQL ${direct.requestsPerSecond.toFixed(0)}/s p99 ${direct.latencyMs.p99} ms`,
      )
    }
  } finally {
    context.live.delete(stop)
    await server.stop()
  }
  return runs
}

/** `clients` loops, each sending its next request when the last one answered, for `seconds`. */
export async function closedLoop(
  context: BenchContext,
  clients: number,
  seconds: number,
  serverPid: number | undefined,
  send: (i: number, client: number) => Promise<void>,
) {
  const latency = new LatencyHistogram()
  let requests = 0
  let failed = 0
  let firstError: string | undefined
  let counter = 0
  const serverCpu = () => (serverPid === undefined ? undefined : cpuSeconds(serverPid))
  const cpuBefore = { server: serverCpu(), database: context.databaseCpu?.() }
  const started = performance.now()
  const deadline = started + seconds * 1000
  await Promise.all(
    Array.from({ length: clients }, async (_, client) => {
      while (performance.now() < deadline) {
        const sent = performance.now()
        try {
          await send(counter++, client)
          requests++
          latency.record(performance.now() - sent)
        } catch (error) {
          failed++
          firstError ??= error instanceof Error ? error.message : String(error)
        }
      }
    }),
  )
  const elapsed = (performance.now() - started) / 1000
  const serverCpuAfter = serverCpu()
  const serverCpuSeconds =
    cpuBefore.server === undefined || serverCpuAfter === undefined
      ? undefined
      : serverCpuAfter - cpuBefore.server
  return {
    requests,
    failed,
    requestsPerSecond: requests / elapsed,
    latencyMs: latency.summary(),
    serverCpuPercent: cpuPercent(cpuBefore.server, serverCpuAfter, elapsed),
    serverCpuSecondsPer10k:
      serverCpuSeconds === undefined || requests === 0 ? undefined : (serverCpuSeconds / requests) * 10_000,
    databaseCpuPercent: cpuPercent(cpuBefore.database, context.databaseCpu?.(), elapsed),
    firstError,
  }
}
