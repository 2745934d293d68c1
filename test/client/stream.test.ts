import { describe, expect, it } from 'vitest'
import { createClient } from '../../client/index.js'
import { recordStream, testClient } from '../support/client-stream.js'
import { useTestServer } from '../support/fixtures.js'
import { range } from '../support/range.js'
import { startRelay } from '../support/relay.js'
import { until } from '../support/wait.js'

describe('the client library streams', () => {
  const { server, database, restart } = useTestServer()

  it('delivers every kind of event typed, moves through its states, and closes on close()', async () => {
    const alice = testClient(server, 'alice')
    const bob = testClient(server, 'bob')
    const room = await alice.rooms.create({ name: 'stream-kinds' })
    const seen: string[] = []
    const states: string[] = []
    const stream = alice.rooms.stream(room.id, {
      message: (message, meta) => seen.push(`message ${message.seq} ${message.body} id=${meta.id}`),
      edit: (message) => seen.push(`edit ${message.seq} ${message.body}`),
      reaction: (change) => seen.push(`reaction ${change.seq} ${change.emoji} ${change.action}`),
      delete: (gone) => seen.push(`delete ${gone.seq}`),
      typing: (typing) => seen.push(`typing ${typing.user_id} ${typing.state}`),
      read: (read) => seen.push(`read ${read.user_id} ${read.seq}`),
      presence: (presence) => seen.push(`presence +${presence.joined.map((u) => u.user_id).join()}`),
      state: (state) => states.push(state),
    })
    await until(() => stream.state === 'open', 'open')
    await until(() => seen.includes('presence +alice'), 'alice’s own presence')
    // Each change is read from its row when delivered, and typing and reads travel apart
    // from history: one step at a time, so the order below is the only one possible.
    const steps: [() => Promise<unknown>, string][] = [
      [() => bob.messages.post(room.id, { body: 'hi' }), 'message 1 hi id=1'],
      [() => bob.messages.edit(room.id, 1, { body: 'hi!' }), 'edit 1 hi!'],
      [() => bob.reactions.add(room.id, 1, '🎉'), 'reaction 1 🎉 added'],
      [() => bob.rooms.typing(room.id, 'on'), 'typing bob on'],
      [() => testClient(server, 'carol').rooms.markRead(room.id, 1), 'read carol 1'],
      [() => bob.messages.delete(room.id, 1), 'delete 1'],
    ]
    for (const [act, expected] of steps) {
      await act()
      await until(() => seen.includes(expected), expected)
    }
    expect(seen.filter((line) => !line.startsWith('presence'))).toEqual(steps.map(([, expected]) => expected))
    expect(stream.lastEventId).toBe('4')
    stream.close()
    expect(stream.state).toBe('closed')
    expect(states).toEqual(['connecting', 'open', 'closed'])
  })

  it('resumes after a server restart with nothing missed and nothing repeated', async () => {
    const alice = testClient(server, 'alice')
    const room = await alice.rooms.create({ name: 'stream-restart' })
    const watcher = recordStream(testClient(server, 'bob'), room.id, { after: { [room.id]: 0 } })
    await watcher.waitOpen()
    for (let i = 1; i <= 5; i++) await alice.messages.post(room.id, { body: `before ${i}` })
    await watcher.waitForSeqs(5)

    await restart(
      () => database.sql`insert into messages (room_id, user_id, user_name, body)
                               select ${room.id}, 'ops', 'Ops', 'while down ' || n from generate_series(1, 5) n`,
    )
    for (let i = 1; i <= 5; i++) await alice.messages.post(room.id, { body: `after ${i}` })

    await watcher.waitForSeqs(15)
    expect(watcher.seqs).toEqual(range(1, 15))
    expect(watcher.events).toContain('shutdown')
    expect(watcher.states.slice(0, 3)).toEqual(['connecting', 'open', 'reconnecting'])
    expect(watcher.stream.state).toBe('open')
    watcher.stream.close()
  })

  it('renews an expired token through getToken mid-stream and misses nothing', async () => {
    const room = await testClient(server, 'alice').rooms.create({ name: 'stream-expiry' })
    const asked: boolean[] = []
    let issued = 0
    const client = createClient({
      baseUrl: server.url,
      getToken: ({ renew }) => {
        asked.push(renew)
        // Each renewal gets a token as short-lived as the first, so the stream expires again.
        if (renew || issued === 0) issued++
        return server.token('bob', 'Bob', `${2 * issued}s`)
      },
    })
    const watcher = recordStream(client, room.id, { after: { [room.id]: 0 } })
    await watcher.waitOpen()
    // Posts spread over many users, under the rate limit, until the stream has expired twice.
    let posted = 0
    const post = () =>
      testClient(server, `poster-${posted % 10}`).messages.post(room.id, { body: `m${++posted}` })
    const expiries = () => watcher.events.filter((event) => event === 'expired').length
    for (let expiry = 1; expiry <= 2; expiry++) {
      await post()
      await until(() => watcher.seqs.length === posted, `message ${posted}`)
      await until(() => expiries() === expiry, `expiry ${expiry}`, 15_000)
      // Posted while the stream comes back with a renewed token: the resume must bring it.
      await post()
    }
    await post()
    await watcher.waitForSeqs(posted)
    expect(watcher.seqs).toEqual(range(1, posted))
    expect(asked).toContain(true)
    // An expiry is no failure: each reconnect after one goes at once.
    expect(watcher.changes.flatMap((change) => change.delayMs ?? [])).toEqual([0, 0])
    expect(watcher.stream.state).toBe('open')
    watcher.stream.close()
  })

  it('stops for good when its user is removed from the room, and when the room is not there', async () => {
    const olive = testClient(server, 'olive')
    const room = await olive.rooms.create({ name: 'stream-removal', visibility: 'private' })
    await olive.members.add(room.id, { user_id: 'mia' })
    const watcher = recordStream(testClient(server, 'mia'), room.id)
    await watcher.waitOpen()
    await olive.members.remove(room.id, 'mia')
    await until(() => watcher.stream.state === 'closed', 'the stream to close')
    await olive.messages.post(room.id, { body: 'after the removal' })
    expect(watcher.events).toEqual(['removed'])
    expect(watcher.states).toEqual(['connecting', 'open', 'closed:removed'])

    const missing = recordStream(testClient(server, 'mia'), 999_999)
    await until(() => missing.stream.state === 'closed', 'the stream to give up')
    expect(missing.states).toEqual(['connecting', 'closed:not_found'])
    expect(missing.changes.at(-1)?.error).toMatchObject({ status: 404, code: 'room_not_found' })
  })

  it('waits a jittered, doubling backoff between attempts while the server is down', async () => {
    const room = await testClient(server, 'alice').rooms.create({ name: 'stream-backoff' })
    const watcher = recordStream(testClient(server, 'bob'), room.id, {
      random: () => 0.5,
      backoff: { baseMs: 400, capMs: 5_000 },
    })
    await watcher.waitOpen()
    await restart(() => until(() => watcher.changes.length >= 4, 'three reconnection attempts'))
    expect(watcher.changes.slice(2, 4).map((change) => change.delayMs)).toEqual([200, 400])
    await watcher.waitOpen()
    watcher.stream.close()
  })

  it('resumes every room of a multi-room stream by its own cursor, and goes on without a room it was removed from', async () => {
    const olive = testClient(server, 'olive')
    const open = await olive.rooms.create({ name: 'multi-open' })
    const closed = await olive.rooms.create({ name: 'multi-private', visibility: 'private' })
    await olive.members.add(closed.id, { user_id: 'mia' })
    await olive.messages.post(open.id, { body: 'old' })
    const relay = await startRelay(server.port)
    const got: string[] = []
    const stream = testClient(server, 'mia', relay.url).stream(
      [open.id, closed.id],
      {
        message: (message, meta) =>
          got.push(`${message.room_id}/${message.seq}${meta.roomId === message.room_id ? '' : '?'}`),
        removed: (removal) => got.push(`removed ${removal.room_id}`),
      },
      { backoff: { baseMs: 50, capMs: 500 } },
    )
    try {
      await until(() => stream.state === 'open', 'open')
      const postBoth = async (body: string) => {
        await olive.messages.post(open.id, { body })
        await olive.messages.post(closed.id, { body })
      }
      await postBoth('one')
      await until(() => got.length === 2, 'the first two')
      relay.hold()
      await postBoth('two')
      relay.release()
      await until(() => got.length === 4, 'the two sent while away')
      expect(stream.lastEventId).toBe(`${open.id}:3,${closed.id}:2`)
      await olive.members.remove(closed.id, 'mia')
      await until(() => got.includes(`removed ${closed.id}`), 'the removal')
      await until(() => stream.state === 'open', 'open again')
      await postBoth('three')
      await until(() => got.length === 6, 'the open room’s next message')
      // Order holds within a room; rooms may interleave.
      const ofRoom = (id: number) =>
        got.filter((line) => line.startsWith(`${id}/`) || line.endsWith(` ${id}`))
      expect(ofRoom(open.id)).toEqual([`${open.id}/2`, `${open.id}/3`, `${open.id}/4`])
      expect(ofRoom(closed.id)).toEqual([`${closed.id}/1`, `${closed.id}/2`, `removed ${closed.id}`])
    } finally {
      stream.close()
      await relay.close()
    }
  })
})
