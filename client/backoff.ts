/** How long to wait before the next attempt to reach a stream. */
export interface BackoffPolicy {
  /** The ceiling of the first wait, doubled after every failure in a row. */
  baseMs: number
  /** No wait is longer than this, whatever the number of failures. */
  capMs: number
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 500, capMs: 30_000 }

/**
 * "Full jitter": a uniformly random wait between 0 and min(cap, base · 2^failures). The
 * randomness spreads the reconnects of every client that one outage dropped at once, so
 * they do not come back as a storm at each doubling. `random` is Math.random's contract.
 */
export function backoffDelay(failures: number, policy: BackoffPolicy, random: () => number): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.max(0, failures - 1))
  return Math.floor(random() * ceiling)
}

/**
 * The wait after a refusal that named one (Retry-After): never shorter than the server
 * asked, plus a random share of as much again (within the cap), so the clients it turned
 * away together do not all return in the same second.
 */
export function retryAfterDelay(retryAfterS: number, policy: BackoffPolicy, random: () => number): number {
  const asked = retryAfterS * 1000
  return asked + Math.floor(random() * Math.min(asked, policy.capMs))
}
