import { setTimeout as sleep } from 'node:timers/promises'
import type postgres from 'postgres'
import { LatencyHistogram } from '../lib/latency-histogram.js'
import type { WriteMix } from './options.js'

/** Inserts allowed in flight at once; past it the inserter falls behind its rate, and says so. */
const MAX_IN_FLIGHT = 512
const TICK_MS = 5

export interface InsertReport {
  /** The rate asked for, messages per second. */
  rate: number
  inserted: number
  failed: number
  /** Messages per second actually inserted over the run. */
  achievedRate: number
  /** From sending an insert to its commit being acknowledged: the database's share of the latency. */
  commitMs: { count: number; p50: number; p90: number; p99: number; max: number }
  firstError?: string
}

export type Inserter = ReturnType<typeof createInserter>

const ALL_MESSAGES: WriteMix = { messages: 100, reactions: 0, edits: 0 }

/**
 * Writes straight into the tables, as psql or any other producer would, each write in its
 * own transaction (so each one commits and notifies): new messages, and with a mix,
 * reactions to and edits of each room's newest message. Every write carries
 * performance.now() at the moment it is sent, at the start of the body or as a reaction's
 * `:t<ms>_<fraction>_<n>:` name: the subscribers, in this same process, subtract it from
 * their receipt time, so no clocks need to agree.
 */
export function createInserter(sql: postgres.Sql, bodyBytes: number, mix = ALL_MESSAGES) {
  const padding = 'x'.repeat(bodyBytes)
  const newestSeq = new Map<number, number>()
  const writesPerRoom = new Map<number, number>()
  let reactions = 0

  const stampedBody = () => {
    const stamp = performance.now().toFixed(3)
    return `${stamp} ${padding}`.slice(0, Math.max(bodyBytes, stamp.length))
  }

  async function insertMessage(roomId: number): Promise<void> {
    const [row] = await sql<{ seq: string }[]>`
      insert into messages (room_id, user_id, user_name, body)
      values (${roomId}, 'bench', 'Bench', ${stampedBody()}) returning seq`
    newestSeq.set(roomId, Math.max(newestSeq.get(roomId) ?? 0, Number(row?.seq)))
  }

  /** The room's next write, by the mix: spread evenly over each room's writes. */
  function insert(roomId: number): Promise<unknown> {
    const n = writesPerRoom.get(roomId) ?? 0
    writesPerRoom.set(roomId, n + 1)
    const seq = newestSeq.get(roomId)
    const slot = (n * 37) % 100
    if (seq === undefined || slot < mix.messages) return insertMessage(roomId)
    if (slot < mix.messages + mix.reactions) {
      const [whole, fraction] = performance.now().toFixed(3).split('.')
      const emoji = `:t${whole}_${fraction}_${reactions++ % 1000}:`
      return sql`insert into message_reactions (room_id, seq, user_id, emoji)
                 values (${roomId}, ${seq}, 'bench', ${emoji})`.execute()
    }
    return sql`update messages set body = ${stampedBody()} where room_id = ${roomId} and seq = ${seq}`.execute()
  }

  /**
   * Inserts `rate` messages per second for `seconds`, round-robin over `roomIds`, and calls
   * `onInserted` for each committed one. Resolves when every insert has settled.
   */
  async function run(options: {
    roomIds: number[]
    rate: number
    seconds: number
    onInserted: (roomId: number) => void
  }): Promise<InsertReport> {
    const { roomIds, rate, onInserted } = options
    const report: InsertReport = {
      rate,
      inserted: 0,
      failed: 0,
      achievedRate: 0,
      commitMs: { count: 0, p50: 0, p90: 0, p99: 0, max: 0 },
    }
    const commits = new LatencyHistogram()
    const pending = new Set<Promise<unknown>>()
    const started = performance.now()
    const durationMs = options.seconds * 1000
    let issued = 0
    for (let elapsed = 0; elapsed < durationMs; elapsed = performance.now() - started) {
      const due = Math.floor((rate * elapsed) / 1000) - issued
      for (let i = 0; i < due && pending.size < MAX_IN_FLIGHT; i++) {
        const roomId = roomIds[issued % roomIds.length]!
        issued++
        const sent = performance.now()
        const done: Promise<unknown> = insert(roomId).then(
          () => {
            commits.record(performance.now() - sent)
            report.inserted++
            onInserted(roomId)
          },
          (error: unknown) => {
            report.failed++
            report.firstError ??= error instanceof Error ? error.message : String(error)
          },
        )
        pending.add(done)
        void done.finally(() => pending.delete(done))
      }
      await sleep(TICK_MS)
    }
    await Promise.all(pending)
    // Until the last commit: a database that falls behind shows as a lower rate.
    report.achievedRate = report.inserted / ((performance.now() - started) / 1000)
    report.commitMs = commits.summary()
    return report
  }

  /** One message in each room, all at once; resolves with the rooms whose insert committed. */
  async function onePerRoom(roomIds: number[]): Promise<number[]> {
    const results = await Promise.allSettled(roomIds.map((roomId) => insert(roomId)))
    return roomIds.filter((_, i) => results[i]?.status === 'fulfilled')
  }

  return { run, onePerRoom }
}
