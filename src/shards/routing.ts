import { ChatError, roomNotFound } from '../chat/errors.js'
import type { Posting } from '../chat/posting.js'
import type { Db } from '../db/client.js'
import type { Presence } from '../realtime/presence.js'

/** Where a room's queries go: its shard's pool; `fresh` asks the catalog, not the cache. */
export type RoomDbOf = (roomId: number, options?: { fresh?: boolean }) => Promise<Db | undefined>

/** One `T` per database (a group commit, a presence roster, a retention sweep), made on first use. */
function perDatabase<T>(make: (db: Db) => T) {
  const made = new Map<Db, T>()
  return {
    of(db: Db): T {
      let one = made.get(db)
      if (!one) {
        one = make(db)
        made.set(db, one)
      }
      return one
    },
    all: () => [...made.values()],
  }
}

/**
 * Posting over shards: a group commit per shard, each batching the posts to its rooms.
 * A post that waited while its room moved fails on the old shard ("room 42 does not
 * exist"); it is sent once more to where the catalog says the room is now. Nothing was
 * stored on the way, so a `client_id` stays unused until then.
 */
export function createShardedPosting(roomDb: RoomDbOf, make: (db: Db) => Posting): Posting {
  const postings = perDatabase(make)
  return {
    async post(request) {
      const held = await roomDb(request.roomId)
      if (!held) throw roomNotFound(request.roomId)
      try {
        return await postings.of(held).post(request)
      } catch (error) {
        if (!(error instanceof ChatError) || error.code !== 'room_not_found') throw error
        const now = await roomDb(request.roomId, { fresh: true })
        if (!now || now === held) throw error
        return postings.of(now).post(request)
      }
    },
    stats() {
      const total = { batches: 0, messages: 0, batchesPostedOneByOne: 0 }
      for (const posting of postings.all()) {
        const { batches, messages, batchesPostedOneByOne } = posting.stats()
        total.batches += batches
        total.messages += messages
        total.batchesPostedOneByOne += batchesPostedOneByOne
      }
      return total
    },
  }
}

/**
 * Presence over shards: a roster per shard, written where the room is, so that the room's
 * presence frames ring on its shard and its rows go with it. Joins and leaves of one room
 * find its shard in the order they were made: lookups resolve in order.
 */
export function createShardedPresence(
  roomDb: RoomDbOf,
  home: Presence,
  make: (db: Db) => Presence,
  onError: (error: unknown) => void,
): Presence {
  const rosters = perDatabase((db) => {
    const roster = make(db)
    void roster.start()
    return roster
  })
  const rosterOf = async (roomId: number) => {
    const held = await roomDb(roomId)
    return held ? rosters.of(held) : home
  }
  return {
    instanceId: home.instanceId,
    start: () => home.start(),
    async stop() {
      await Promise.all([home, ...rosters.all()].map((roster) => roster.stop()))
    },
    enter(roomId, userId, userName) {
      rosterOf(roomId).then((roster) => roster.enter(roomId, userId, userName), onError)
    },
    leave(roomId, userId) {
      rosterOf(roomId).then((roster) => roster.leave(roomId, userId), onError)
    },
    list: async (roomId, page) => (await rosterOf(roomId)).list(roomId, page),
  }
}

/** What runs on its own on each shard, with a start and a stop (the retention sweep). */
interface Background {
  start(): void
  stop(): Promise<unknown>
}

/**
 * One `T` per shard, started as soon as the catalog has the shard, and each stopped with
 * `stop`: so every shard's tables have their retention sweep, shards added later included.
 */
export function onEveryShard<T extends Background>(options: {
  everyShard: () => Promise<{ db: Db }[]>
  watchShards: (watcher: () => void) => () => void
  make: (db: Db) => T
  onError: (error: unknown) => void
}) {
  const running = perDatabase((db) => {
    const one = options.make(db)
    one.start()
    return one
  })
  let stopped = false
  const sync = () => {
    options.everyShard().then((shards) => {
      if (!stopped) for (const { db } of shards) running.of(db)
    }, options.onError)
  }
  const unwatch = options.watchShards(sync)
  sync()
  return {
    async stop(): Promise<void> {
      stopped = true
      unwatch()
      await Promise.all(running.all().map((one) => one.stop()))
    },
  }
}
