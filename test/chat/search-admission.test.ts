import { describe, expect, it } from 'vitest'
import { ChatError } from '../../src/chat/errors.js'
import { createSearchAdmission } from '../../src/chat/search-admission.js'

// How many searches run at once (src/chat/search-admission.ts), without a database.

const options = { running: 2, queued: 1, perUser: 2, waitMs: 2_000 }

/** The code of the ChatError `attempt` throws or rejects with. */
async function refusal(attempt: () => unknown): Promise<string> {
  try {
    await attempt()
  } catch (error) {
    expect(error).toBeInstanceOf(ChatError)
    return (error as ChatError).code
  }
  throw new Error('not refused')
}

describe('createSearchAdmission', () => {
  it('refuses a user past perUser searches at once, and takes them again once one ends', async () => {
    const admission = createSearchAdmission(options)
    const first = admission.claim('ann')
    admission.claim('ann')
    expect(await refusal(() => admission.claim('ann'))).toBe('rate_limited')
    admission.claim('bob')
    first.release()
    first.release()
    admission.claim('ann')
    expect(await refusal(() => admission.claim('ann'))).toBe('rate_limited')
  })

  it('runs `running` searches, queues `queued`, refuses the rest as busy, and hands a freed slot on in order', async () => {
    const admission = createSearchAdmission(options)
    const slots = ['a', 'b', 'c', 'd'].map((user) => admission.claim(user))
    await slots[0]!.start()
    await slots[1]!.start()
    const queued = slots[2]!.start()
    expect(await refusal(() => slots[3]!.start())).toBe('search_busy')
    expect(admission.stats()).toEqual({ running: 2, waiting: 1, users: 4 })
    slots[0]!.release()
    await queued
    expect(admission.stats()).toEqual({ running: 2, waiting: 0, users: 3 })
    for (const slot of slots) slot.release()
    expect(admission.stats()).toEqual({ running: 0, waiting: 0, users: 0 })
  })

  it('gives up waiting when the client goes away, or after waitMs', async () => {
    const admission = createSearchAdmission({ ...options, running: 1, queued: 5, waitMs: 50 })
    const running = admission.claim('a')
    await running.start()
    const abort = new AbortController()
    const leaving = admission.claim('b')
    const left = refusal(() => leaving.start(abort.signal))
    abort.abort()
    expect(await left).toBe('search_cancelled')
    const waiting = admission.claim('c')
    expect(await refusal(() => waiting.start())).toBe('search_busy')
    leaving.release()
    waiting.release()
    expect(admission.stats()).toEqual({ running: 1, waiting: 0, users: 1 })
    running.release()
    expect(admission.stats()).toEqual({ running: 0, waiting: 0, users: 0 })
  })
})
