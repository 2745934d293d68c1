import { describe, expect, it } from 'vitest'
import { recordStream, testClient } from '../support/client-stream.js'
import { useTestServer } from '../support/fixtures.js'
import { range } from '../support/range.js'
import { startRelay } from '../support/relay.js'
import { until } from '../support/wait.js'

// A stream opened without `after` starts from a known point, so a connection dropped before
// its first event resumes from there instead of reconnecting live.

const { server } = useTestServer()

describe('a stream opened without a position', () => {
  it('misses nothing posted while its first connection was down, before any event reached it', async () => {
    const relay = await startRelay(server.port)
    try {
      const room = await testClient(server, 'alice').rooms.create({ name: 'start-known' })
      const watcher = recordStream(testClient(server, 'bob', relay.url), room.id)
      await watcher.waitOpen()
      relay.hold()
      await until(() => watcher.states.includes('reconnecting'), 'the drop')
      const poster = testClient(server, 'alice')
      for (const n of range(1, 3)) await poster.messages.post(room.id, { body: `while down ${n}` })
      relay.release()
      await watcher.waitForSeqs(3)
      await poster.messages.post(room.id, { body: 'after' })
      await watcher.waitForSeqs(4)
      expect(watcher.seqs).toEqual([1, 2, 3, 4])
      watcher.stream.close()
    } finally {
      await relay.close()
    }
  })

  it('gives the user stream a known start too (GET /me/cursor)', async () => {
    const relay = await startRelay(server.port)
    try {
      const dana = testClient(server, 'dana', relay.url)
      const mentions: number[] = []
      const stream = dana.me.stream({ mention: (data) => mentions.push(data.message.seq) })
      await until(() => stream.state === 'open', 'the user stream to open')
      relay.hold()
      await until(() => stream.state === 'reconnecting', 'the drop')
      const room = await testClient(server, 'erik').rooms.create({ name: 'start-known-user' })
      await testClient(server, 'dana').rooms.join(room.id)
      await testClient(server, 'erik').messages.post(room.id, { body: 'hello @dana' })
      relay.release()
      await until(() => mentions.length === 1, 'the mention made while the stream was down')
      expect(mentions).toEqual([1])
      stream.close()
    } finally {
      await relay.close()
    }
  })
})
