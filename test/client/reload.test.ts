import { describe, expect, it } from 'vitest'
import { testClient, TEST_BACKOFF } from '../support/client-stream.js'
import { useTestServer } from '../support/fixtures.js'
import { until } from '../support/wait.js'

// The client library tells the application through its `reload` handler when a stream
// resumed from before what the server keeps, and goes on from the present.

const DAY = 86_400_000
const { server, database } = useTestServer({ env: { RETENTION_SWEEP_MS: String(DAY) } })

describe("the client library's reload", () => {
  it('calls reload with the room, moves its cursor to the present and goes on live', async () => {
    const alice = testClient(server, 'alice')
    const room = await alice.rooms.create({ name: 'client-reload' })
    await alice.messages.post(room.id, { body: 'one' })
    await alice.messages.edit(room.id, 1, { body: 'one!' }) // 2
    await database.sql`update message_changes set created_at = now() - interval '31 days' where room_id = ${room.id}`
    await server.retention.sweep()

    const got: string[] = []
    let cursorAtReload: string | undefined
    const stream = testClient(server, 'reader').rooms.stream(
      room.id,
      {
        reload: (data, meta) => {
          got.push(`reload ${data.room_id} ${data.reason} ${data.cursor} ${meta.roomId}`)
          queueMicrotask(() => (cursorAtReload = stream.lastEventId))
        },
        message: (message, meta) => got.push(`message ${meta.id} ${message.body}`),
        edit: (message, meta) => got.push(`edit ${meta.id} ${message.body}`),
      },
      { after: { [room.id]: 0 }, backoff: TEST_BACKOFF },
    )
    try {
      await until(() => got.length === 1, 'the reload')
      expect(cursorAtReload).toBe('2')
      await alice.messages.post(room.id, { body: 'two' })
      await until(() => got.length === 2, 'the live message')
      expect(got).toEqual([`reload ${room.id} cursor_too_old 2 ${room.id}`, 'message 3 two'])
      expect(stream.lastEventId).toBe('3')
    } finally {
      stream.close()
    }
  })

  it("calls the user stream's reload and goes on from the user's present cursor", async () => {
    const alice = testClient(server, 'alice')
    const room = await alice.rooms.create({ name: 'client-reload-user' })
    await testClient(server, 'ursula').rooms.join(room.id) // ursula's 1
    await alice.messages.post(room.id, { body: 'hi @ursula' }) // 2
    await database.sql`update user_events set created_at = now() - interval '31 days' where user_id = 'ursula'`
    await server.retention.sweep()

    const got: string[] = []
    const stream = testClient(server, 'ursula').me.stream(
      {
        reload: (data) => got.push(`reload ${data.reason} ${data.cursor}`),
        mention: ({ message }, meta) => got.push(`mention ${meta.id} ${message.body}`),
      },
      { after: 0, backoff: TEST_BACKOFF },
    )
    try {
      await until(() => got.length === 1, 'the reload')
      expect(stream.lastEventId).toBe('2')
      await alice.messages.post(room.id, { body: 'again @ursula' })
      await until(() => got.length === 2, 'the live mention')
      expect(got).toEqual(['reload cursor_too_old 2', 'mention 3 again @ursula'])
    } finally {
      stream.close()
    }
  })
})
