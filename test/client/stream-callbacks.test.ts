import { afterEach, describe, expect, it, vi } from 'vitest'
import type { CallbackFailure, StreamState } from '../../client/index.js'
import { TEST_BACKOFF, testClient } from '../support/client-stream.js'
import { useTestServer } from '../support/fixtures.js'
import { until } from '../support/wait.js'

// An application's callback that throws is its own bug: the library reports it and goes on,
// with the connection untouched and nothing left to crash the process.

describe("the client library's stream callbacks", () => {
  const { server } = useTestServer()

  afterEach(() => {
    vi.restoreAllMocks()
  })

  it('keeps the connection when a state callback throws on open, and reports the error', async () => {
    const alice = testClient(server, 'alice')
    const room = await alice.rooms.create({ name: 'callbacks-state' })
    const states: StreamState[] = []
    const reported: string[] = []
    const seqs: number[] = []
    const stream = testClient(server, 'bob').rooms.stream(
      room.id,
      {
        state: (state) => {
          states.push(state)
          if (state === 'open') throw new Error('a rendering bug')
        },
        error: (error, failure) => reported.push(`${failure.callback}: ${(error as Error).message}`),
        message: (message) => seqs.push(message.seq),
      },
      { backoff: TEST_BACKOFF },
    )
    try {
      await until(() => stream.state === 'open', 'open')
      await alice.messages.post(room.id, { body: 'one' })
      await alice.messages.post(room.id, { body: 'two' })
      await until(() => seqs.length === 2, 'both messages')
      expect(seqs).toEqual([1, 2])
      expect(states).toEqual(['connecting', 'open'])
      expect(reported).toEqual(['state: a rendering bug'])
    } finally {
      stream.close()
    }
  })

  it('calls the first state callback once stream() has returned, so the callback can use the stream', async () => {
    const room = await testClient(server, 'alice').rooms.create({ name: 'callbacks-first-state' })
    const seen: string[] = []
    const stream = testClient(server, 'bob').rooms.stream(
      room.id,
      { state: (state) => seen.push(`${state} ${stream.state}`) },
      { backoff: TEST_BACKOFF },
    )
    expect(seen).toEqual([])
    try {
      await until(() => stream.state === 'open', 'open')
      expect(seen).toEqual(['connecting connecting', 'open open'])
    } finally {
      stream.close()
    }
  })

  it('reports an event callback that throws, or rejects, to error and delivers every next event once', async () => {
    const alice = testClient(server, 'alice')
    const room = await alice.rooms.create({ name: 'callbacks-events' })
    const reported: CallbackFailure[] = []
    const seqs: number[] = []
    const states: StreamState[] = []
    const stream = testClient(server, 'bob').rooms.stream(
      room.id,
      {
        message: (message) => {
          seqs.push(message.seq)
          if (message.seq === 1) throw new Error('first')
        },
        edit: async () => {
          await Promise.resolve()
          throw new Error('async')
        },
        error: (_error, failure) => reported.push(failure),
        state: (state) => states.push(state),
      },
      { backoff: TEST_BACKOFF },
    )
    try {
      await until(() => stream.state === 'open', 'open')
      await alice.messages.post(room.id, { body: 'one' })
      await alice.messages.edit(room.id, 1, { body: 'one!' })
      await alice.messages.post(room.id, { body: 'three' })
      await until(() => seqs.length === 2, 'the message after the one that threw')
      expect(seqs).toEqual([1, 2])
      expect(reported).toEqual([{ callback: 'message' }, { callback: 'edit' }])
      expect(states).toEqual(['connecting', 'open'])
    } finally {
      stream.close()
    }
  })

  it('reports to console.error when there is no error callback, and goes on', async () => {
    const logged = vi.spyOn(console, 'error').mockImplementation(() => {})
    const alice = testClient(server, 'alice')
    const room = await alice.rooms.create({ name: 'callbacks-console' })
    const seqs: number[] = []
    const stream = testClient(server, 'bob').rooms.stream(
      room.id,
      {
        message: (message) => {
          seqs.push(message.seq)
          throw new Error(`bad ${message.seq}`)
        },
      },
      { backoff: TEST_BACKOFF },
    )
    try {
      await until(() => stream.state === 'open', 'open')
      await alice.messages.post(room.id, { body: 'one' })
      await alice.messages.post(room.id, { body: 'two' })
      await until(() => seqs.length === 2, 'both messages')
      expect(seqs).toEqual([1, 2])
      expect(logged.mock.calls.map(([, error]) => (error as Error).message)).toEqual(['bad 1', 'bad 2'])
      expect(stream.state).toBe('open')
    } finally {
      stream.close()
    }
  })
})
