import type { Sql } from 'postgres'
import type { ListenerConsumer } from '../realtime/listener.js'
import { listShards } from './catalog.js'

/** The catalog's channel: 'room:<id>' when a room moves or goes, 'shard:<id>' when a shard changes. */
export const DIRECTORY_CHANNEL = 'parley_directory'

export type ShardState = 'open' | 'closed' | 'draining'

/** A shard as the catalog records it: an independent PostgreSQL primary (with its standbys). */
export interface Shard {
  id: number
  name: string
  url: string
  /** PostgreSQL itself for LISTEN, when `url` is a transaction-mode pooler's. */
  listenUrl: string | undefined
  state: ShardState
}

export interface DirectoryOptions {
  /** A pool on the catalog database. */
  catalog: Sql
  /** Rooms whose shard is kept in memory; the least recently placed or looked up go first. */
  maxRooms?: number
}

export type Directory = ReturnType<typeof createDirectory>

interface Waiter {
  resolve: (shardId: number | undefined) => void
  reject: (error: unknown) => void
}

/**
 * Which shard holds each room: the catalog's room_shards table, read on first use and kept.
 * The table is the truth and the catalog's notifications a hint, as everywhere in Parley: a
 * room that moves is forgotten when its 'room:<id>' arrives, and after the catalog's LISTEN
 * connection was lost (notifications may have been missed) everything is forgotten.
 *
 * Lookups of the same moment share one query, so a stream over 50 rooms asks the catalog
 * once. A lookup that finds no room caches nothing: the room may be placed a moment later.
 */
export function createDirectory({ catalog, maxRooms = 100_000 }: DirectoryOptions) {
  const roomShards = new Map<number, number>()
  const shards = new Map<number, Shard>()
  let shardsRead: Promise<void> | undefined
  // Raised by every invalidation: an answer read before it is returned but not kept, since it
  // may be what the invalidation replaced.
  let epoch = 0
  let batch: Map<number, Waiter[]> | undefined
  const shardWatchers = new Set<() => void>()

  function keepRoom(roomId: number, shardId: number): void {
    roomShards.delete(roomId)
    roomShards.set(roomId, shardId)
    if (roomShards.size > maxRooms) roomShards.delete(roomShards.keys().next().value!)
  }

  async function readBatch(waiting: Map<number, Waiter[]>): Promise<void> {
    const readAt = epoch
    let found: Map<number, number>
    try {
      const rows = await catalog<{ roomId: string; shardId: number }[]>`
        select room_id as "roomId", shard_id as "shardId" from room_shards
         where room_id = any(${[...waiting.keys()]}::bigint[])`
      found = new Map(rows.map((row) => [Number(row.roomId), row.shardId]))
    } catch (error) {
      for (const waiters of waiting.values()) for (const waiter of waiters) waiter.reject(error)
      return
    }
    for (const [roomId, waiters] of waiting) {
      const shardId = found.get(roomId)
      if (shardId !== undefined && readAt === epoch) keepRoom(roomId, shardId)
      for (const waiter of waiters) waiter.resolve(shardId)
    }
  }

  /** The id of the shard holding `roomId`, or undefined when the catalog has no such room. */
  function shardIdOf(roomId: number): Promise<number | undefined> {
    const known = roomShards.get(roomId)
    if (known !== undefined) return Promise.resolve(known)
    return new Promise((resolve, reject) => {
      if (!batch) {
        const waiting = new Map<number, Waiter[]>()
        batch = waiting
        queueMicrotask(() => {
          batch = undefined
          void readBatch(waiting)
        })
      }
      batch.set(roomId, [...(batch.get(roomId) ?? []), { resolve, reject }])
    })
  }

  async function readShards(): Promise<void> {
    const readAt = epoch
    const rows = await listShards(catalog)
    if (readAt !== epoch) return
    shards.clear()
    for (const { roomCount: _counted, ...shard } of rows) shards.set(shard.id, shard)
  }

  /** Every shard the catalog knows, read once and again after a shard changed. */
  async function allShards(): Promise<Shard[]> {
    shardsRead ??= readShards().catch((error: unknown) => {
      shardsRead = undefined
      throw error
    })
    await shardsRead
    return [...shards.values()]
  }

  async function shardById(shardId: number): Promise<Shard | undefined> {
    await allShards()
    if (!shards.has(shardId)) {
      // Added since the list was read.
      shardsRead = undefined
      await allShards()
    }
    return shards.get(shardId)
  }

  function forgetShards(): void {
    shards.clear()
    shardsRead = undefined
    for (const watcher of shardWatchers) watcher()
  }

  function forgetAll(): void {
    epoch++
    roomShards.clear()
    forgetShards()
  }

  const listens: ListenerConsumer = {
    channels: {
      [DIRECTORY_CHANNEL]: (payload) => {
        const [kind, id] = payload.split(':')
        epoch++
        if (kind === 'room') roomShards.delete(Number(id))
        else forgetShards()
      },
    },
    onListen: forgetAll,
  }

  return {
    /** The shard holding `roomId`, or undefined when no shard does. */
    async shardOf(roomId: number): Promise<Shard | undefined> {
      const shardId = await shardIdOf(roomId)
      return shardId === undefined ? undefined : shardById(shardId)
    },
    /** Forgets where `roomId` is, so the next lookup asks the catalog: a write found it gone. */
    forget(roomId: number): void {
      epoch++
      roomShards.delete(roomId)
    },
    shards: allShards,
    /** Calls `watcher` whenever the list of shards may have changed (then read it again). */
    watchShards(watcher: () => void): () => void {
      shardWatchers.add(watcher)
      return () => shardWatchers.delete(watcher)
    },
    /**
     * Places a new room (sql: parley_place_room): its id, unique across shards, and the shard
     * it is to be created on. Throws when no shard is open for new rooms.
     */
    async placeRoom(): Promise<{ roomId: number; shard: Shard }> {
      const [placed] = await catalog<{ roomId: string; shardId: number }[]>`
        select room_id as "roomId", shard_id as "shardId" from parley_place_room()`
      const roomId = Number(placed!.roomId)
      keepRoom(roomId, placed!.shardId)
      const shard = await shardById(placed!.shardId)
      if (!shard) throw new Error(`shard ${placed!.shardId} vanished from the catalog`)
      return { roomId, shard }
    },
    /** What LISTEN on the catalog feeds. */
    listens,
  }
}
