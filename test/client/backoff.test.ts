import { describe, expect, it } from 'vitest'
import { backoffDelay, retryAfterDelay } from '../../client/backoff.js'
import { parseRetryAfter } from '../../client/errors.js'

const policy = { baseMs: 500, capMs: 8_000 }
const always = (value: number) => () => value

describe('reconnection backoff', () => {
  it('doubles the ceiling with every failure in a row, up to the cap', () => {
    const ceilings = [1, 2, 3, 4, 5, 6, 7, 20].map((failures) =>
      backoffDelay(failures, policy, always(0.999999)),
    )
    expect(ceilings).toEqual([499, 999, 1999, 3999, 7999, 7999, 7999, 7999])
  })

  it('draws a uniformly random wait from zero to the ceiling (full jitter)', () => {
    expect(backoffDelay(3, policy, always(0))).toBe(0)
    expect(backoffDelay(3, policy, always(0.5))).toBe(1000)
    expect(backoffDelay(3, policy, always(0.25))).toBe(500)
  })

  it('never waits less than Retry-After, and spreads the clients it turned away over as long again', () => {
    expect(retryAfterDelay(5, policy, always(0))).toBe(5000)
    expect(retryAfterDelay(5, policy, always(0.5))).toBe(7500)
    expect(retryAfterDelay(30, policy, always(0.5))).toBe(34_000)
  })

  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = Date.parse('2026-01-01T00:00:00Z')
    expect(parseRetryAfter('5', now)).toBe(5)
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:10 GMT', now)).toBe(10)
    expect(parseRetryAfter(null, now)).toBeUndefined()
    expect(parseRetryAfter('soon', now)).toBeUndefined()
  })
})
