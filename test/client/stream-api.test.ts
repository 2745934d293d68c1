import { describe, expect, it } from 'vitest'
import { StreamClosedError } from '../../client/index.js'
import { TEST_BACKOFF, testClient } from '../support/client-stream.js'
import { useTestServer } from '../support/fixtures.js'
import { until } from '../support/wait.js'

// What an application builds on: a promise for "open", callbacks added and removed later,
// and a position it can save and pass back as it was given.

describe("the client library's stream as an application uses it", () => {
  const { server } = useTestServer()

  /** What `promise` rejected with; fails if it resolved. */
  const rejection = (promise: Promise<unknown>) =>
    promise.then(
      () => {
        throw new Error('expected a rejection')
      },
      (error: unknown) => error,
    )

  it('resolves opened() once open, and rejects it when the stream closes for good first', async () => {
    const room = await testClient(server, 'alice').rooms.create({ name: 'api-opened' })
    const stream = testClient(server, 'bob').rooms.stream(room.id, {}, { backoff: TEST_BACKOFF })
    await stream.opened()
    expect(stream.state).toBe('open')
    await stream.opened()
    stream.close()
    expect(await rejection(stream.opened())).toMatchObject({ name: 'StreamClosedError', reason: 'closed' })

    const missing = testClient(server, 'bob').rooms.stream(999_999, {}, { backoff: TEST_BACKOFF })
    const error = await rejection(missing.opened())
    expect(error).toBeInstanceOf(StreamClosedError)
    expect(error).toMatchObject({ reason: 'not_found', cause: { status: 404, code: 'room_not_found' } })

    const closedAtOnce = testClient(server, 'bob').rooms.stream(room.id, {}, { backoff: TEST_BACKOFF })
    const opening = closedAtOnce.opened()
    closedAtOnce.close()
    expect(await rejection(opening)).toMatchObject({ reason: 'closed' })
  })

  it('adds callbacks with on() and removes them with off() or the function on() returned', async () => {
    const alice = testClient(server, 'alice')
    const room = await alice.rooms.create({ name: 'api-on-off' })
    const stream = testClient(server, 'bob').rooms.stream(room.id, {}, { backoff: TEST_BACKOFF })
    const got: string[] = []
    const states: string[] = []
    const first = (message: { seq: number }) => got.push(`first ${message.seq}`)
    stream.on('message', first)
    const unsubscribe = stream.on('message', (message) => got.push(`second ${message.seq}`))
    stream.on('state', (state) => states.push(state))
    try {
      await stream.opened()
      await alice.messages.post(room.id, { body: 'one' })
      await until(() => got.length === 2, 'message 1 twice')
      unsubscribe()
      await alice.messages.post(room.id, { body: 'two' })
      await until(() => got.length === 3, 'message 2 once')
      stream.off('message', first)
      stream.on('edit', (message) => got.push(`edit ${message.seq}`))
      await alice.messages.post(room.id, { body: 'three' })
      await alice.messages.edit(room.id, 3, { body: 'three!' })
      await until(() => got.length === 4, 'the edit')
      expect(got).toEqual(['first 1', 'second 1', 'first 2', 'edit 3'])
      expect(states).toEqual(['connecting', 'open'])
    } finally {
      stream.close()
    }
  })

  it('resumes from the position it exposed, given back as a map or as lastEventId', async () => {
    const alice = testClient(server, 'alice')
    const [a, b] = [
      await alice.rooms.create({ name: 'api-position-a' }),
      await alice.rooms.create({ name: 'api-position-b' }),
    ]
    const bob = testClient(server, 'bob')
    const seen: string[] = []
    const first = bob.stream(
      [a.id, b.id],
      { message: (m) => seen.push(`${m.room_id}/${m.seq}`) },
      {
        after: { [a.id]: 0, [b.id]: 0 },
        backoff: TEST_BACKOFF,
      },
    )
    await first.opened()
    await alice.messages.post(a.id, { body: 'a1' })
    await alice.messages.post(b.id, { body: 'b1' })
    await until(() => seen.length === 2, 'the first two')
    first.close()
    expect(first.position).toEqual({ [a.id]: 1, [b.id]: 1 })
    expect(first.lastEventId).toBe(`${a.id}:1,${b.id}:1`)
    const saved = JSON.parse(JSON.stringify(first.position)) as typeof first.position
    await alice.messages.post(a.id, { body: 'a2' })

    for (const after of [saved, first.lastEventId!]) {
      const resumed: string[] = []
      const stream = bob.stream(
        [a.id, b.id],
        { message: (m) => resumed.push(`${m.room_id}/${m.seq}`) },
        {
          after,
          backoff: TEST_BACKOFF,
        },
      )
      try {
        await until(() => resumed.length === 1, 'the message posted while away')
        expect(resumed).toEqual([`${a.id}/2`])
      } finally {
        stream.close()
      }
    }

    const single = bob.rooms.stream(a.id, {}, { after: '1', backoff: TEST_BACKOFF })
    await single.opened()
    expect(single.position).toEqual({ [a.id]: 1 })
    await until(() => single.lastEventId === '2', 'the replayed message')
    expect(single.position).toEqual({ [a.id]: 2 })
    single.close()
  })
})
