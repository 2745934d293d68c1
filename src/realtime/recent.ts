import type { MessageRow } from '../db/schema.js'

export interface RecentMessage {
  seq: number
  /** The message's JSON, as live delivery built it. */
  json: string
}

/**
 * The newest messages of one room, as delivered, up to `maxBytes` of JSON: a stream
 * resuming inside this window is served from memory, with no query, so a storm of
 * reconnects to a busy room costs its streams nothing in the database. It covers every
 * message after `from` (holes left by hand deletes included), and moves with the room's
 * cursor in the same tick as delivery, so what it holds is exactly what was delivered.
 */
export function createRecentMessages(maxBytes: number, from: number) {
  const entries: RecentMessage[] = []
  let bytes = 0
  let coveredFrom = from

  return {
    /** Whether every message after `seq` is here. */
    covers: (seq: number) => seq >= coveredFrom,
    /** The messages after `seq`, oldest first. */
    after(seq: number): RecentMessage[] {
      let start = entries.length
      while (start > 0 && entries[start - 1]!.seq > seq) start--
      return entries.slice(start)
    },
    append(rows: MessageRow[], jsons: string[]): void {
      for (let i = 0; i < rows.length; i++) {
        entries.push({ seq: rows[i]!.seq, json: jsons[i]! })
        bytes += jsons[i]!.length
      }
      while (bytes > maxBytes && entries.length > 0) {
        const oldest = entries.shift()!
        bytes -= oldest.json.length
        coveredFrom = oldest.seq
      }
    },
  }
}

export type RecentMessages = ReturnType<typeof createRecentMessages>
