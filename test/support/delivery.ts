import type { TestDatabase } from './database.js'
import type { TestServer } from './server.js'
import { openStream, type StreamClient } from './sse.js'
import { until } from './wait.js'

export interface DeliveryContext {
  /** The file's server and database, read at each call: they are set in `beforeAll`. */
  server(): TestServer
  database(): TestDatabase
}

/**
 * The live-delivery tests' subscribers and writers. Every subscriber is a user of its own,
 * so the per-user stream limit never decides how many a test may open.
 */
export function deliveryFixtures({ server, database }: DeliveryContext) {
  const streams: StreamClient[] = []
  let watchers = 0

  /** Opens one stream per entry of `roomIds` (a room may repeat), resolving once all are open. */
  async function subscribeMany(roomIds: number[], lastEventId?: number) {
    const target = server()
    const opened = await Promise.all(
      roomIds.map(async (roomId) => {
        const token = await target.token(`watcher-${++watchers}`)
        const stream = openStream(target.url, roomId, { token, lastEventId })
        streams.push(stream)
        return stream
      }),
    )
    await Promise.all(opened.map((stream) => stream.opened))
    return opened
  }

  async function waitForSubscribers(roomId: number, count: number) {
    await until(
      () => server().hub.subscriberCount(roomId) === count,
      `${count} subscribers in room ${roomId}`,
    )
  }

  /** One more subscriber of `roomId`, registered with the hub when this resolves. */
  async function subscribe(roomId: number): Promise<StreamClient> {
    const before = server().hub.subscriberCount(roomId)
    const [stream] = await subscribeMany([roomId])
    await waitForSubscribers(roomId, before + 1)
    return stream!
  }

  /** `count` rows inserted with SQL by `writer`, one statement (and notification) each. */
  function insertSql(roomId: number, count: number, writer: string) {
    return (async () => {
      for (let i = 0; i < count; i++) {
        await database()
          .sql`insert into messages (room_id, user_id, user_name, body) values (${roomId}, ${writer}, ${writer}, ${`${writer}-${i}`})`
      }
    })()
  }

  function closeStreams() {
    for (const stream of streams.splice(0)) stream.close()
  }

  return { subscribeMany, subscribe, waitForSubscribers, insertSql, closeStreams }
}
