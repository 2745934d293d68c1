import type { RateLimit } from './rate-limit.js'

export type SearchLimiter = ReturnType<typeof createSearchLimiter>

/**
 * Searches per user in a sliding window, counted in this process's memory: a search
 * leaves no row behind to count, as posts do, and a shared counter would cost every search
 * a write. With several instances a user may search up to that many times the limit.
 */
export function createSearchLimiter(limit: RateLimit, now: () => number = Date.now) {
  const recent = new Map<string, number[]>()
  let swept = now()

  /** Forgets users with nothing in the window, at most once a window: memory stays bounded by the active users. */
  function sweep(at: number) {
    if (at - swept < limit.windowMs) return
    swept = at
    for (const [userId, times] of recent) if (times.at(-1)! <= at - limit.windowMs) recent.delete(userId)
  }

  return {
    /** Counts a search by `userId` and returns 0, or the seconds to wait when over the limit (not counted). */
    take(userId: string): number {
      if (limit.count === 0) return 0
      const at = now()
      sweep(at)
      const times = (recent.get(userId) ?? []).filter((t) => t > at - limit.windowMs)
      if (times.length >= limit.count) {
        recent.set(userId, times)
        return Math.max(1, Math.ceil((times[0]! + limit.windowMs - at) / 1000))
      }
      times.push(at)
      recent.set(userId, times)
      return 0
    },
  }
}
