import { ChatError, roomNotFound } from '../chat/errors.js'
import type { Posting } from '../chat/posting.js'
import type { Db } from '../db/client.js'
import type { Presence, Roster } from '../realtime/presence.js'
import type { RoomFollower } from './sharding.js'

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
  home: Roster,
  make: (db: Db) => Roster,
  onError: (error: unknown) => void,
): Presence & RoomFollower {
  const rosters = perDatabase((db) => {
    const roster = make(db)
    void roster.start()
    return roster
  })
  // The roster counting each room's streams on this instance, and how many it counts: the
  // shard that held the room when they came, until the room moves.
  const holding = new Map<number, { roster: Roster; streams: number }>()
  const rosterOf = async (roomId: number) => {
    const held = await roomDb(roomId)
    return held ? rosters.of(held) : home
  }

  function enter(roomId: number, userId: string, userName: string, roster: Roster): void {
    let held = holding.get(roomId)
    if (!held) holding.set(roomId, (held = { roster, streams: 0 }))
    held.streams++
    held.roster.enter(roomId, userId, userName)
  }

  function leave(roomId: number, userId: string): void {
    const held = holding.get(roomId)
    if (!held) return
    held.roster.leave(roomId, userId)
    if (--held.streams === 0) holding.delete(roomId)
  }

  /** A room moved: its users here are handed to the roster of its new shard, and listed there. */
  async function follow(roomId: number): Promise<void> {
    const held = holding.get(roomId)
    const found = held && (await roomDb(roomId))
    const now = holding.get(roomId)
    if (!found || !now) return
    const roster = rosters.of(found)
    if (roster === now.roster) return
    roster.takeIn(now.roster.takeOut(roomId))
    now.roster = roster
  }

  return {
    instanceId: home.instanceId,
    start: () => home.start(),
    async stop() {
      await Promise.all([home, ...rosters.all()].map((roster) => roster.stop()))
    },
    // A room already counted here is counted where it is held; lookups resolve in the order
    // they were made, so a leave never overtakes its enter.
    enter(roomId, userId, userName) {
      const held = holding.get(roomId)
      if (held) return enter(roomId, userId, userName, held.roster)
      rosterOf(roomId).then((roster) => enter(roomId, userId, userName, roster), onError)
    },
    leave(roomId, userId) {
      if (holding.has(roomId)) return leave(roomId, userId)
      rosterOf(roomId).then(() => leave(roomId, userId), onError)
    },
    list: async (roomId, page) => (await rosterOf(roomId)).list(roomId, page),
    relocate(roomId?: number) {
      const rooms = roomId === undefined ? [...holding.keys()] : [roomId]
      return Promise.all(rooms.map((id) => follow(id).catch(onError)))
    },
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
