import { createClient, type ParleyClient, type StreamOptions, type StreamState } from '../../client/index.js'
import type { StateChange } from '../../client/stream.js'
import type { TestServer } from './server.js'
import { until } from './wait.js'

/** Fast reconnects for tests: the policy's shape holds, at a tenth of the product's scale. */
export const TEST_BACKOFF = { baseMs: 50, capMs: 500 }

/** A client of `baseUrl` as `user`, with the harness's tokens. */
export function testClient(server: TestServer, user: string, baseUrl = server.url): ParleyClient {
  return createClient({ baseUrl, getToken: () => server.token(user) })
}

/**
 * A room's stream through the client library, recording the seqs of the messages it
 * delivers (in order, duplicates kept), every event by name, and every state change.
 */
export function recordStream(client: ParleyClient, roomId: number, options: StreamOptions = {}) {
  const seqs: number[] = []
  const events: string[] = []
  const states: (StreamState | `closed:${string}`)[] = []
  const changes: StateChange[] = []
  const stream = client.rooms.stream(
    roomId,
    {
      message: (message) => {
        seqs.push(message.seq)
        events.push('message')
      },
      edit: () => events.push('edit'),
      delete: () => events.push('delete'),
      reaction: () => events.push('reaction'),
      expired: () => events.push('expired'),
      removed: () => events.push('removed'),
      shutdown: () => events.push('shutdown'),
      state: (state, change) => {
        states.push(state === 'closed' ? `closed:${change.reason}` : state)
        changes.push(change)
      },
    },
    { backoff: TEST_BACKOFF, ...options },
  )
  return {
    stream,
    seqs,
    events,
    states,
    changes,
    waitOpen: () => until(() => stream.state === 'open', 'the stream to open'),
    waitForSeqs: (count: number, timeoutMs = 15_000) =>
      until(() => seqs.length >= count, `${count} messages (have ${seqs.length})`, timeoutMs),
  }
}
