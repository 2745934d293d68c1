import { describe, expect, it } from 'vitest'
import { testClient } from '../support/client-stream.js'
import { useTestServer } from '../support/fixtures.js'
import { startRelay } from '../support/relay.js'
import { until } from '../support/wait.js'

describe("the client library's user stream and its people calls", () => {
  const { server } = useTestServer()

  it('delivers direct messages and mentions, typed, and resumes after a drop with nothing twice', async () => {
    const relay = await startRelay(server.port)
    const alice = testClient(server, 'alice')
    const got: string[] = []
    const stream = testClient(server, 'bob', relay.url).me.stream(
      {
        dm: ({ room, message }, meta) =>
          got.push(`dm ${room.kind} ${message.body} ${meta.roomId === room.id}`),
        mention: ({ message }) => got.push(`mention ${message.body}`),
      },
      { backoff: { baseMs: 50, capMs: 500 } },
    )
    try {
      await until(() => stream.state === 'open', 'open')
      const dm = await alice.dms.open({ user_id: 'bob' })
      await alice.messages.post(dm.id, { body: 'psst' })
      const room = await alice.rooms.create({ name: 'user-stream' })
      await testClient(server, 'bob').rooms.join(room.id)
      await alice.messages.post(room.id, { body: 'hi @bob' })
      await until(() => got.length === 2, 'the dm and the mention')

      relay.hold()
      await alice.messages.post(room.id, { body: 'again @bob' })
      relay.release()
      await until(() => got.length === 3, 'the mention made while away')
      expect(got).toEqual(['dm dm psst true', 'mention hi @bob', 'mention again @bob'])

      const page = await testClient(server, 'bob').mentions.list({ limit: 1 })
      expect(page.mentions.map((mention) => mention.message.body)).toEqual(['again @bob'])
      expect(page.next_cursor).not.toBeNull()
      const next = await testClient(server, 'bob').mentions.list({ limit: 1, cursor: page.next_cursor })
      expect(next.mentions.map((mention) => mention.message.body)).toEqual(['hi @bob'])
    } finally {
      stream.close()
      await relay.close()
    }
  })
})
