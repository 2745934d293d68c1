import { describe, expect, it } from 'vitest'
import { useServerPerTest } from '../support/fixtures.js'
import { createRoom, errorCode, postMessage } from '../support/server.js'
import { until } from '../support/wait.js'

// The message rate limit (src/chat/rate-limit.ts), counted from the user's own messages.

const { database, serverWith } = useServerPerTest()

describe('the message rate limit', () => {
  it('answers 429 rate_limited with Retry-After past the limit, per user, and admits again after it', async () => {
    const server = await serverWith({ RATE_LIMIT_MESSAGES: '5', RATE_LIMIT_WINDOW_MS: '3000' })
    const roomId = await createRoom(server, 'rate-limit')
    const statuses: number[] = []
    for (let i = 1; i <= 5; i++) statuses.push((await postMessage(server, roomId, `m${i}`, 'chatty')).status)
    expect(statuses).toEqual([201, 201, 201, 201, 201])

    const limited = await postMessage(server, roomId, 'one too many', 'chatty')
    const limitedAt = Date.now()
    expect(limited.status).toBe(429)
    expect(await errorCode(limited)).toBe('rate_limited')
    const retryAfter = limited.headers.get('retry-after') ?? ''
    expect(retryAfter).toMatch(/^[1-3]$/)

    expect((await postMessage(server, roomId, 'someone else', 'quiet')).status).toBe(201)

    // Waiting for the clock to pass the announced time is the behaviour under test.
    await until(() => Date.now() >= limitedAt + Number(retryAfter) * 1000, 'Retry-After to pass', 4_000)
    expect((await postMessage(server, roomId, 'patient', 'chatty')).status).toBe(201)
    const { messages } = (await (await server.request(`/rooms/${roomId}/messages`)).json()) as {
      messages: { seq: number; body: string }[]
    }
    expect(messages.map((m) => m.body)).toEqual(['m1', 'm2', 'm3', 'm4', 'm5', 'someone else', 'patient'])
  })

  it('never limits messages inserted with SQL', async () => {
    const server = await serverWith({ RATE_LIMIT_MESSAGES: '5', RATE_LIMIT_WINDOW_MS: '3000' })
    const roomId = await createRoom(server, 'rate-limit-sql')
    for (let i = 0; i < 20; i++) {
      await database.sql`insert into messages (room_id, user_id, user_name, body) values (${roomId}, 'ops', 'Ops', ${`bulk ${i}`})`
    }
    const [room] = await database.sql<
      { last_seq: number }[]
    >`select last_seq::int from rooms where id = ${roomId}`
    expect(room!.last_seq).toBe(20)
  })
})
