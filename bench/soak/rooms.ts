import type postgres from 'postgres'
import { requestJson } from '../lib/http-json.js'
import type { ProducedMessage } from './producers.js'

/** Creates `count` rooms over the API and returns their ids. */
export async function createRooms(baseUrl: string, token: string, count: number): Promise<number[]> {
  const ids: number[] = []
  for (let i = 0; i < count; i++) {
    const url = new URL('/rooms', baseUrl)
    const response = await requestJson(url, { method: 'POST', token, body: { name: `soak-${i + 1}` } })
    const id = (response.body as { id?: unknown } | undefined)?.id
    if (response.status !== 201 || typeof id !== 'number') {
      throw new Error(`creating a room answered ${response.status}: ${JSON.stringify(response.body)}`)
    }
    ids.push(id)
  }
  return ids
}

/** Every room's last_seq, as committed now. */
export async function roomLastSeqs(sql: postgres.Sql): Promise<Map<number, number>> {
  const rows = await sql<{ id: string; last_seq: string }[]>`select id, last_seq from rooms`
  return new Map(rows.map((row) => [Number(row.id), Number(row.last_seq)]))
}

export interface StoredCheck {
  rows: number
  /** Every room holds exactly the seqs 1 … last_seq. */
  gapless: boolean
  /** No two acknowledged messages of a room were given the same seq. */
  acknowledgedSeqsDistinct: boolean
}

/** Checks the table itself: the seq trigger's promise, and the seqs producers were acknowledged. */
export async function checkStoredMessages(
  sql: postgres.Sql,
  produced: readonly ProducedMessage[],
): Promise<StoredCheck> {
  const rooms = await sql<
    { id: string; last_seq: string; rows: number; distinct_seqs: number; min_seq: string; max_seq: string }[]
  >`
    select r.id, r.last_seq, count(m.id)::int as rows, count(distinct m.seq)::int as distinct_seqs,
           coalesce(min(m.seq), 1) as min_seq, coalesce(max(m.seq), 0) as max_seq
    from rooms r left join messages m on m.room_id = r.id
    group by r.id`
  let rows = 0
  let gapless = true
  for (const room of rooms) {
    rows += room.rows
    const last = Number(room.last_seq)
    if (
      room.rows !== last ||
      room.distinct_seqs !== last ||
      Number(room.max_seq) !== last ||
      Number(room.min_seq) !== 1
    )
      gapless = false
  }
  const seen = new Set<string>()
  let acknowledgedSeqsDistinct = true
  for (const message of produced) {
    const key = `${message.roomId}:${message.seq}`
    if (seen.has(key)) acknowledgedSeqsDistinct = false
    seen.add(key)
  }
  return { rows, gapless, acknowledgedSeqsDistinct }
}
