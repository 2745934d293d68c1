import type { Db } from '../db/client.js'
import { createListener, type Listener, type ListenerConsumer } from '../realtime/listener.js'
import { directUrl } from './catalog.js'
import type { Directory, Shard } from './directory.js'
import type { ShardPools } from './pools.js'

export interface ShardListenersOptions {
  directory: Directory
  pools: ShardPools
  /** What each shard's LISTEN connection feeds, given the shard's id and pool. */
  consumers: ShardConsumer[]
  probeMs: number
  onDown: (shard: Shard, error: Error) => void
  onError?: (error: unknown) => void
}

/** Makes what one shard's LISTEN connection feeds: the hub's rooms and the user feed's place there. */
export type ShardConsumer = (shard: { id: number; db: Db }) => ListenerConsumer

export type ShardListeners = ReturnType<typeof createShardListeners>

/**
 * One LISTEN connection per shard, each with the failover behaviour of the single database's
 * (src/realtime/listener.ts), all feeding the same consumers: a room's doorbell rings on its
 * shard, and the hub is keyed by room already. A shard that is down only stops its own
 * listener, which reconnects and catches up as today. Shards added to or removed from the
 * catalog are listened to, or no longer, as soon as the catalog says so.
 */
export function createShardListeners(options: ShardListenersOptions) {
  const { directory, pools } = options
  const listening = new Map<number, { shard: Shard; listener: Listener }>()
  let stopped = false
  let syncing: Promise<void> = Promise.resolve()

  async function listenOn(shard: Shard): Promise<void> {
    const pool = pools.forShard(shard)
    const listener = createListener({
      url: directUrl(shard),
      consumers: options.consumers.map((consumer) => consumer({ id: shard.id, db: pool.db })),
      probeMs: options.probeMs,
      pool: pool.sql,
      applicationName: `parley-listener-${shard.name}`,
      onDown: (error) => options.onDown(shard, error),
    })
    listening.set(shard.id, { shard, listener })
    await listener.start()
  }

  /** Starts a listener on each shard without one (or whose address changed); stops the rest. */
  async function sync(): Promise<void> {
    const shards = await directory.shards()
    if (stopped) return
    const starting: Promise<void>[] = []
    for (const shard of shards) {
      const held = listening.get(shard.id)
      const sameAddress = held && directUrl(held.shard) === directUrl(shard)
      if (held && sameAddress) {
        held.shard = shard
        continue
      }
      if (held) await held.listener.stop()
      starting.push(listenOn(shard))
    }
    for (const [id, held] of listening) {
      if (shards.some((shard) => shard.id === id)) continue
      listening.delete(id)
      await held.listener.stop()
    }
    await Promise.all(starting)
  }

  // One sync at a time, each after the last whatever became of it.
  const resync = () => {
    if (stopped) return
    syncing = syncing.then(sync).catch((error: unknown) => options.onError?.(error))
  }
  const unwatch = directory.watchShards(resync)

  return {
    /** Listens on every shard of the catalog; a shard that is down is retried in the background. */
    async start(): Promise<void> {
      stopped = false
      const first = syncing.then(sync)
      // A failed start is the caller's to handle; the syncs after it still run.
      syncing = first.catch(() => {})
      await first
    },
    async stop(): Promise<void> {
      stopped = true
      unwatch()
      await syncing.catch(() => {})
      await Promise.all([...listening.values()].map(({ listener }) => listener.stop()))
      listening.clear()
    },
    /** Each shard's name and whether its listener is ready (listening, on a primary, hearing itself). */
    readiness(): Record<string, boolean> {
      return Object.fromEntries(
        [...listening.values()].map(({ shard, listener }) => [shard.name, listener.isReady()]),
      )
    },
  }
}
