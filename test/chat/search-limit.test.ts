import { describe, expect, it } from 'vitest'
import { createSearchLimiter } from '../../src/chat/search-limit.js'

// The per-instance search limit (src/chat/search-limit.ts), on a clock the test moves.

describe('createSearchLimiter', () => {
  it('allows the limit in a sliding window, then says how many seconds to wait', () => {
    let now = 1_000_000
    const limiter = createSearchLimiter({ count: 3, windowMs: 10_000 }, () => now)
    expect([limiter.take('ann'), limiter.take('ann')]).toEqual([0, 0])
    now += 4_000
    expect(limiter.take('ann')).toBe(0)
    expect(limiter.take('ann')).toBe(6)
    expect(limiter.take('bob')).toBe(0)
    now += 6_000
    expect([limiter.take('ann'), limiter.take('ann'), limiter.take('ann')]).toEqual([0, 0, 4])
  })

  it('does not count refused searches', () => {
    let now = 0
    const limiter = createSearchLimiter({ count: 1, windowMs: 1_000 }, () => now)
    expect(limiter.take('ann')).toBe(0)
    for (let i = 0; i < 5; i++) expect(limiter.take('ann')).toBe(1)
    now = 1_000
    expect(limiter.take('ann')).toBe(0)
  })

  it('is off at 0', () => {
    const limiter = createSearchLimiter({ count: 0, windowMs: 1_000 })
    for (let i = 0; i < 100; i++) expect(limiter.take('ann')).toBe(0)
  })
})
