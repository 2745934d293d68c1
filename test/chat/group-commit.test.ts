import pino from 'pino'
import { describe, expect, it } from 'vitest'
import { createGroupCommit } from '../../src/chat/group-commit.js'
import { isDatabaseUnavailable } from '../../src/db/errors.js'

describe('group commit', () => {
  it('answers a request its batch came back without as the database being unavailable', async () => {
    const groupCommit = createGroupCommit<number, number>({
      logger: pino({ level: 'silent' }),
      batchMax: 10,
      batchMs: 0,
      // Answers only the first request of each batch.
      together: async (requests) => requests.slice(0, 1).map((n) => ({ status: 'fulfilled', value: n * 2 })),
      alone: async (n) => n * 2,
      failsEveryRequest: () => false,
    })

    const results = await Promise.allSettled([1, 2, 3].map((n) => groupCommit.submit(n)))

    expect(results[0]).toEqual({ status: 'fulfilled', value: 2 })
    for (const result of results.slice(1)) {
      expect(result.status).toBe('rejected')
      expect(isDatabaseUnavailable((result as PromiseRejectedResult).reason)).toBe(true)
    }
  })
})
