import { describe, expect, it } from 'vitest'
import { createClient } from '../../client/index.js'
import { recordStream } from '../support/client-stream.js'
import { useTestServer } from '../support/fixtures.js'
import { until } from '../support/wait.js'

// A token that can never work ends the stream, as centrifuge-js does: once a renewed token
// is refused too, retrying could only repeat the refusal.

describe("the client library's stream and a refused token", () => {
  const { server } = useTestServer()

  it('closes as unauthorized when the renewed token is refused too, renewing once', async () => {
    const room = await createClient({
      baseUrl: server.url,
      getToken: () => server.token('alice'),
    }).rooms.create({
      name: 'auth-hopeless',
    })
    const asked: boolean[] = []
    const client = createClient({
      baseUrl: server.url,
      getToken: ({ renew }) => {
        asked.push(renew)
        return 'not-a-token'
      },
    })
    const watcher = recordStream(client, room.id)
    await until(() => watcher.stream.state === 'closed', 'the stream to give up', 5_000)
    expect(watcher.states).toEqual(['connecting', 'closed:unauthorized'])
    expect(watcher.changes.at(-1)?.error).toMatchObject({ status: 401, code: 'unauthorized' })
    expect(asked).toEqual([false, true])
  })

  it('closes as unauthorized when the token renewed after expired is refused', async () => {
    const room = await createClient({
      baseUrl: server.url,
      getToken: () => server.token('alice'),
    }).rooms.create({
      name: 'auth-expired',
    })
    const asked: boolean[] = []
    let held: Promise<string> = server.token('bob', 'Bob', '2s')
    const client = createClient({
      baseUrl: server.url,
      getToken: ({ renew }) => {
        asked.push(renew)
        if (renew) held = Promise.resolve('not-a-token')
        return held
      },
    })
    const watcher = recordStream(client, room.id)
    await until(() => watcher.stream.state === 'closed', 'the stream to give up', 10_000)
    expect(watcher.events).toEqual(['expired'])
    expect(watcher.states).toEqual(['connecting', 'open', 'reconnecting', 'closed:unauthorized'])
    expect(asked.filter((renew) => renew)).toEqual([true])
  })
})
