import { Agent } from 'node:http'
import type postgres from 'postgres'
import { requestJson } from '../lib/http-json.js'
import { LatencyHistogram } from '../lib/latency-histogram.js'

export type Via = 'http' | 'sql'

export interface ProducedMessage {
  roomId: number
  seq: number
  via: Via
}

export interface ProducerOptions {
  baseUrl: string
  token: string
  sql: postgres.Sql
  roomIds: number[]
  /** Messages per second over all rooms, half posted over HTTP and half inserted with SQL. */
  ratePerSecond: number
  /** Bodies are padded to this many characters. */
  bodyBytes: number
  /** Requests allowed in flight at once; past it the producer falls behind rather than pile up. */
  maxInFlight?: number
}

export interface ProducerStats {
  produced: Record<Via, number>
  failed: Record<Via, number>
  /** Sends skipped because maxInFlight requests were still outstanding. */
  behind: number
  errors: Map<string, number>
  /** From sending a message to its acknowledgement (the 201 or the INSERT's result), in ms. */
  ackLatency: Record<Via, LatencyHistogram>
}

/**
 * Paces messages at a fixed total rate, rooms in turn and each room alternating between
 * HTTP and SQL, and records the seq every acknowledged message was given.
 */
export function createProducers(options: ProducerOptions) {
  const { roomIds, sql } = options
  const maxInFlight = options.maxInFlight ?? 512
  const agent = new Agent({ keepAlive: true, maxSockets: 64 })
  const produced: ProducedMessage[] = []
  const stats: ProducerStats = {
    produced: { http: 0, sql: 0 },
    failed: { http: 0, sql: 0 },
    behind: 0,
    errors: new Map(),
    ackLatency: { http: new LatencyHistogram(), sql: new LatencyHistogram() },
  }
  const inFlight = new Set<Promise<void>>()
  let issued = 0
  let startedAt = 0
  let timer: NodeJS.Timeout | undefined

  async function send(n: number): Promise<void> {
    const roomId = roomIds[n % roomIds.length]!
    const via: Via = Math.floor(n / roomIds.length) % 2 === 0 ? 'http' : 'sql'
    const body = `soak message ${n} via ${via} `.padEnd(options.bodyBytes, '.')
    const sentAt = performance.now()
    try {
      const seq = via === 'http' ? await postOverHttp(roomId, body) : await insertWithSql(roomId, body)
      stats.ackLatency[via].record(performance.now() - sentAt)
      produced.push({ roomId, seq, via })
      stats.produced[via]++
    } catch (error) {
      stats.failed[via]++
      const key = `${via}: ${error instanceof Error ? error.message : String(error)}`
      stats.errors.set(key, (stats.errors.get(key) ?? 0) + 1)
    }
  }

  async function postOverHttp(roomId: number, body: string): Promise<number> {
    const url = new URL(`/rooms/${roomId}/messages`, options.baseUrl)
    const response = await requestJson(url, { method: 'POST', token: options.token, body: { body }, agent })
    const seq = (response.body as { seq?: unknown } | undefined)?.seq
    if (response.status !== 201 || typeof seq !== 'number')
      throw new Error(`POST answered ${response.status}`)
    return seq
  }

  async function insertWithSql(roomId: number, body: string): Promise<number> {
    const [row] = await sql<{ seq: string }[]>`
      insert into messages (room_id, user_id, user_name, body)
      values (${roomId}, 'soak-sql', 'Soak SQL', ${body}) returning seq`
    if (!row) throw new Error('insert returned no row')
    return Number(row.seq)
  }

  function tick(): void {
    const due = Math.floor(((performance.now() - startedAt) / 1000) * options.ratePerSecond)
    while (issued < due) {
      if (inFlight.size >= maxInFlight) {
        stats.behind += due - issued
        issued = due
        return
      }
      const sending = send(issued++).finally(() => inFlight.delete(sending))
      inFlight.add(sending)
    }
  }

  return {
    produced,
    stats,
    start(): void {
      startedAt = performance.now()
      timer = setInterval(tick, 5)
    },
    /**
     * Stops sending and waits for the messages in flight (each bounded by its request
     * timeout), or with `abandon` cuts the HTTP ones off and waits at most a second.
     */
    async stop({ abandon = false } = {}): Promise<void> {
      clearInterval(timer)
      if (abandon) agent.destroy()
      const settled = Promise.allSettled([...inFlight])
      await (abandon
        ? Promise.race([settled, new Promise((resolve) => setTimeout(resolve, 1_000))])
        : settled)
      agent.destroy()
    },
  }
}
