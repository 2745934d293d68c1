import { describe, expect, it } from 'vitest'
import { clusterTestsRun } from '../../harness/cluster.js'
import { moveRoom } from '../../src/shards/move.js'
import { TEST_BACKOFF, testClient } from '../support/client-stream.js'
import { bodiesIn, useShardedServer } from '../support/shards.js'
import { openMultiStream } from '../support/sse.js'
import { until } from '../support/wait.js'

// Two Parley processes over the same catalog and two shards behave as one service.

describe.skipIf(!clusterTestsRun())('two Parley processes over the same two shards', () => {
  const { catalog, server, startServer, placeRoom } = useShardedServer()

  it('serve as one: posts, presence, a moved room and mentions cross from either process to the other', async () => {
    const second = await startServer()
    const [onOne, onTwo] = [await placeRoom('one'), await placeRoom('two')]
    const rooms = [onOne.roomId, onTwo.roomId]
    const here = openMultiStream(server.url, rooms, { token: await server.token('pat') })
    const there = openMultiStream(second.url, rooms, { token: await second.token('quin') })
    const mentions: string[] = []
    const patsOwn = testClient(second, 'pat').me.stream(
      { mention: ({ message }) => mentions.push(message.body) },
      { backoff: TEST_BACKOFF },
    )
    try {
      await Promise.all([here.opened, there.opened, patsOwn.opened()])
      const post = async (via: typeof server, roomId: number, as: string, body: string) => {
        const posted = await via.request(`/rooms/${roomId}/messages`, {
          method: 'POST',
          body: JSON.stringify({ body }),
          as,
        })
        expect(posted.status).toBe(201)
      }
      // Pat speaking first makes a mention of pat count in each room.
      await post(server, onOne.roomId, 'pat', 'hi one')
      await post(server, onTwo.roomId, 'pat', 'hi two')
      await post(second, onOne.roomId, 'quin', '@pat over here')
      await post(second, onTwo.roomId, 'quin', '@pat and here')
      for (const opened of [here, there]) {
        await until(() => opened.messages.length === 4, 'every post on both processes')
        expect(bodiesIn(opened, onOne.roomId)).toEqual(['hi one', '@pat over here'])
        expect(bodiesIn(opened, onTwo.roomId)).toEqual(['hi two', '@pat and here'])
      }
      await until(() => mentions.length === 2, "both mentions on pat's stream on the other process")
      expect(mentions.sort()).toEqual(['@pat and here', '@pat over here'])

      for (const via of [server, second]) {
        await until(async () => {
          const response = await via.request(`/rooms/${onTwo.roomId}/presence`, { as: 'pat' })
          return ((await response.json()) as { count: number }).count === 2
        }, 'both people listed, whichever process is asked')
      }

      // Both processes follow the room to shard one, and its people with it.
      await moveRoom(catalog.sql, onTwo.roomId, 'one')
      await post(second, onTwo.roomId, 'quin', 'moved')
      await post(server, onTwo.roomId, 'pat', 'moved too')
      for (const opened of [here, there]) {
        await until(() => bodiesIn(opened, onTwo.roomId).length === 4, 'the posts after the move')
        expect(bodiesIn(opened, onTwo.roomId)).toEqual(['hi two', '@pat and here', 'moved', 'moved too'])
        expect(opened.events.map((event) => event.type)).not.toContain('reload')
      }
      await until(async () => {
        const response = await server.request(`/rooms/${onTwo.roomId}/presence`, { as: 'pat' })
        return ((await response.json()) as { count: number }).count === 2
      }, 'both people listed on the new shard')
    } finally {
      here.close()
      there.close()
      patsOwn.close()
      await second.close()
    }
  })
})
