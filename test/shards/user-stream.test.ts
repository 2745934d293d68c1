import { describe, expect, it } from 'vitest'
import { clusterTestsRun, startInstance } from '../../harness/cluster.js'
import { addShard } from '../../src/shards/catalog.js'
import { expectError } from '../support/api.js'
import { TEST_BACKOFF, testClient } from '../support/client-stream.js'
import { startRelay } from '../support/relay.js'
import { useShardedServer } from '../support/shards.js'
import { until } from '../support/wait.js'

// GET /me/stream over two shards (src/realtime/user-feed.ts): each shard numbers the events
// of its rooms, and one stream carries them all under a position of one cursor per shard.

describe.skipIf(!clusterTestsRun())("a user's own stream over two shards", () => {
  const { catalog, server, placeRoom, insert } = useShardedServer()

  /** Rooms on each shard that `user` has joined and posted in, so that a mention of them there counts. */
  async function roomsOnBothShards(user: string) {
    const rooms = [await placeRoom('one'), await placeRoom('two')]
    for (const { roomId } of rooms) {
      const joined = await server.request(`/rooms/${roomId}/join`, { method: 'POST', as: user })
      expect(joined.status).toBeLessThan(300)
      const posted = await server.request(`/rooms/${roomId}/messages`, {
        method: 'POST',
        body: JSON.stringify({ body: 'hi' }),
        as: user,
      })
      expect(posted.status).toBe(201)
    }
    return rooms
  }

  it('carries mentions and unread counts from rooms on both shards, and resumes each shard after its own cursor', async () => {
    const [one, two] = await roomsOnBothShards('fay')
    const relay = await startRelay(server.port)
    const got: string[] = []
    const unread = new Map<number, number>()
    const stream = testClient(server, 'fay', relay.url).me.stream(
      {
        mention: ({ message }) => got.push(message.body),
        unread: (counts) => unread.set(counts.room_id, counts.unread_count),
      },
      { backoff: TEST_BACKOFF },
    )
    try {
      await stream.opened()
      await insert('one', one!.roomId, '@fay one 1')
      await insert('two', two!.roomId, '@fay two 1')
      await until(() => got.length === 2, 'a mention from each shard')
      await until(() => unread.get(one!.roomId) === 1 && unread.get(two!.roomId) === 1, 'both rooms counted')
      // One cursor per place: DATABASE_URL (0), then each shard by its catalog id.
      expect(stream.lastEventId).toMatch(/^0:\d+,\d+:\d+,\d+:\d+$/)

      relay.hold()
      await insert('one', one!.roomId, '@fay one 2')
      await insert('two', two!.roomId, '@fay two 2')
      await insert('one', one!.roomId, '@fay one 3')
      relay.release()
      await until(() => got.length === 5, 'what was said while away')
      await new Promise((resolve) => setTimeout(resolve, 300))
      expect(got.filter((body) => body.includes('one'))).toEqual(['@fay one 1', '@fay one 2', '@fay one 3'])
      expect(got.filter((body) => body.includes('two'))).toEqual(['@fay two 1', '@fay two 2'])
    } finally {
      stream.close()
      await relay.close()
    }

    // GET /me/cursor's position, as Last-Event-ID, misses nothing after it and repeats nothing before.
    const { cursor } = (await (await server.request('/me/cursor', { as: 'fay' })).json()) as {
      cursor: string
    }
    expect(cursor).toBe(stream.lastEventId)
    await insert('two', two!.roomId, '@fay two 3')
    const later: string[] = []
    const resumed = testClient(server, 'fay').me.stream(
      { mention: ({ message }) => later.push(message.body) },
      { after: cursor, backoff: TEST_BACKOFF },
    )
    try {
      await until(() => later.length === 1, 'the mention made after the cursor')
      await new Promise((resolve) => setTimeout(resolve, 300))
      expect(later).toEqual(['@fay two 3'])
    } finally {
      resumed.close()
    }
  })

  it('tells a member added to a private room on either shard, and refuses a position it never sent', async () => {
    const stream = testClient(server, 'gus').me.stream({}, { backoff: TEST_BACKOFF })
    const added: string[] = []
    stream.on('added', ({ room }) => added.push(room.name))
    try {
      await stream.opened()
      for (const name of ['cellar', 'attic']) {
        const created = await server.request('/rooms', {
          method: 'POST',
          body: JSON.stringify({ name, visibility: 'private' }),
          as: 'hal',
        })
        const { id } = (await created.json()) as { id: number }
        const invited = await server.request(`/rooms/${id}/members`, {
          method: 'POST',
          body: JSON.stringify({ user_id: 'gus' }),
          as: 'hal',
        })
        expect(invited.status).toBeLessThan(300)
      }
      await until(() => added.length === 2, 'added to both rooms')
      expect(added.sort()).toEqual(['attic', 'cellar'])
    } finally {
      stream.close()
    }
    for (const position of ['0:1,x:2', '1:2,', 'two']) {
      const refused = await server.request(`/me/stream?last_event_id=${encodeURIComponent(position)}`, {
        as: 'gus',
      })
      await expectError(refused, 400, 'validation_failed')
    }
  })

  it('opens, and gives its position, once a shard it has read is removed from the catalog and stopped', async () => {
    const third = await startInstance()
    try {
      await addShard(catalog.sql, { name: 'three', url: third.url })
      const position = async () => {
        const response = await server.request('/me/cursor', { as: 'ida' })
        return response.status === 200
          ? ((await response.json()) as { cursor: string }).cursor
          : response.status
      }
      // DATABASE_URL and three shards.
      await until(async () => /^(\d+:\d+,){3}\d+:\d+$/.test(String(await position())), 'the third shard read')
      await catalog.sql`delete from shards where name = 'three'`
      await third.stop()
      await until(
        async () => /^(\d+:\d+,){2}\d+:\d+$/.test(String(await position())),
        'the third shard let go',
      )
      const stream = testClient(server, 'ida').me.stream({}, { backoff: TEST_BACKOFF })
      try {
        await stream.opened()
      } finally {
        stream.close()
      }
    } finally {
      await third.stop()
    }
  }, 60_000)
})
