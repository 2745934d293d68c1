import { ChatError } from './errors.js'

export type SearchAdmission = ReturnType<typeof createSearchAdmission>

export interface SearchAdmissionOptions {
  /** Searches running at once in this process: the search pool's connections. */
  running: number
  /** Searches waiting for one of them; past this a search is refused as busy. */
  queued: number
  /** Searches one user may have running or waiting at once. */
  perUser: number
  /** How long a search waits for a connection before it is refused as busy. */
  waitMs: number
}

/** One admitted search: wait for a connection with `start`, and always `release` it. */
export interface SearchSlot {
  start(signal?: AbortSignal): Promise<void>
  release(): void
}

interface Waiter {
  admit(): void
  refuse(error: ChatError): void
}

/**
 * How many searches run at once, per process and per user. A search costs its database
 * connection for as long as it runs, so the bound is on searches running, not started: a
 * user who sends a hundred at once has `perUser` of them run and the rest refused. The
 * count is taken synchronously when a request arrives, before anything is awaited, so no
 * burst of parallel requests can slip past it.
 */
export function createSearchAdmission(options: SearchAdmissionOptions) {
  const perUser = new Map<string, number>()
  const waiting: Waiter[] = []
  let running = 0
  // A search ends within SEARCH_TIMEOUT_MS, so a slot frees up within that.
  const retryAfter = Math.max(1, Math.ceil(options.waitMs / 1000))

  function leave(userId: string) {
    const left = (perUser.get(userId) ?? 1) - 1
    if (left > 0) perUser.set(userId, left)
    else perUser.delete(userId)
  }

  /** Hands a freed connection to the longest waiting search, or gives it back. */
  function free() {
    const next = waiting.shift()
    if (next) next.admit()
    else running--
  }

  function start(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(cancelled())
    if (running < options.running) {
      running++
      return Promise.resolve()
    }
    if (waiting.length >= options.queued) return Promise.reject(busy())
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => waiter.refuse(busy()), options.waitMs)
      const onAbort = () => waiter.refuse(cancelled())
      const settle = () => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
      }
      const waiter: Waiter = {
        admit: () => {
          settle()
          resolve()
        },
        refuse: (error) => {
          settle()
          waiting.splice(waiting.indexOf(waiter), 1)
          reject(error)
        },
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      waiting.push(waiter)
    })
  }

  const busy = () =>
    new ChatError('search_busy', 'Too many searches are running; try again shortly', retryAfter)

  return {
    /**
     * Counts a search for `userId`, or refuses it (429) when the user already has
     * `perUser` running or waiting. Synchronous on purpose: see above.
     */
    claim(userId: string): SearchSlot {
      const mine = perUser.get(userId) ?? 0
      if (mine >= options.perUser) {
        throw new ChatError(
          'rate_limited',
          `At most ${options.perUser} searches at once; wait for one to finish`,
          retryAfter,
        )
      }
      perUser.set(userId, mine + 1)
      let started = false
      let released = false
      return {
        async start(signal) {
          await start(signal)
          started = true
        },
        release() {
          if (released) return
          released = true
          leave(userId)
          if (started) free()
        },
      }
    },

    stats: () => ({ running, waiting: waiting.length, users: perUser.size }),
  }
}

/** The search's client went away before it ran. */
export const cancelled = () => new ChatError('search_cancelled', 'The client went away')
