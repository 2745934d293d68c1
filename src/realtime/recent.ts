import type { HistoryFrame } from './sse.js'

/**
 * The newest changes of one room, as delivered, up to `maxBytes` of JSON: a stream
 * resuming inside this window is served from memory, with no query, so a storm of
 * reconnects to a busy room costs its streams nothing in the database. It covers every
 * change after cursor `from`, and moves with the room's cursor in the same tick as
 * delivery, so what it holds is exactly what was delivered.
 */
export function createRecentChanges(maxBytes: number, from: number) {
  const entries: HistoryFrame[] = []
  let bytes = 0
  let coveredFrom = from

  return {
    /** Whether every change after `cursor` is here. */
    covers: (cursor: number) => cursor >= coveredFrom,
    /** The cursor the window starts after: it holds every change after it. */
    from: () => coveredFrom,
    /** The changes after `cursor`, oldest first. */
    after(cursor: number): HistoryFrame[] {
      let start = entries.length
      while (start > 0 && entries[start - 1]!.cursor > cursor) start--
      return entries.slice(start)
    },
    /**
     * Changes read from the database after `from`, up to `through`, where the window starts:
     * they join its front, so resumes from `from` on are served from memory too. A room
     * opened just now, as after a restart, has an empty window, and every stream resuming in
     * it would read the database. Ignored unless they end exactly where the window starts.
     */
    prepend(frames: HistoryFrame[], from: number, through: number): void {
      if (through !== coveredFrom || from >= coveredFrom) return
      let added = 0
      for (const frame of frames) added += frame.json.length
      if (bytes + added > maxBytes) return
      entries.unshift(...frames)
      bytes += added
      coveredFrom = from
    },
    /** Changes just delivered, in cursor order. */
    append(frames: HistoryFrame[]): void {
      for (const frame of frames) {
        entries.push(frame)
        bytes += frame.json.length
      }
      while (bytes > maxBytes && entries.length > 0) {
        const oldest = entries.shift()!
        bytes -= oldest.json.length
        coveredFrom = oldest.cursor
      }
    },
  }
}

export type RecentChanges = ReturnType<typeof createRecentChanges>
