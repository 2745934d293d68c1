import { sql } from 'drizzle-orm'
import type { Logger } from 'pino'
import type { Db } from './client.js'
import { databaseErrorCode, isDatabaseUnavailable } from './errors.js'
import type { Pooler } from './pooler.js'
import { createReplica, lsnBytes, type PrimarySample } from './replica.js'
import { hostUrls } from './url.js'

// Where each read that tolerates a little lag runs: on a streaming standby of
// READ_DATABASE_URL when it has what the client has seen, else on the primary. Nothing
// else comes here: writes, access checks, live delivery and stream catch-up always read
// the primary, since a standby may not yet have replayed the row a notification announced.
// The rules, and why, are in docs/topology.md#read-replicas.

/** Why a read a standby could have served went to the primary. */
export type FallbackReason = 'behind' | 'down' | 'conflict'

/** What a client has seen of a room: a seq it holds, and the room's change cursor when it says. */
export interface RoomPosition {
  roomId: number
  seq?: number
  cursor?: number
}

/** What a client has seen of its own events: its user-stream cursor, when it says. */
export interface UserPosition {
  userId: string
  cursor?: number
}

export interface ReadPoolOptions {
  primary: Db
  /**
   * With rooms spread over shards, the primary of a room's shard, which its pages are read
   * from (READ_DATABASE_URL's standbys replicate `primary` only).
   */
  roomPrimary?: (roomId: number) => Promise<Db | undefined>
  /** The primary's search pool (search-pool.ts): searches fall back to it, with its bounds. */
  primarySearch: Db
  /** READ_DATABASE_URL; without it every read runs on the primary and nothing else is opened. */
  replicaUrl?: string
  maxLagMs: number
  poolMax: number
  search: { max: number; statementTimeoutMs: number }
  pooler: Pooler
  logger: Logger
}

export type ReadPool = ReturnType<typeof createReadPool>

type Read<T> = (db: Db) => Promise<T>

/** What a standby must satisfy to serve one read. */
interface Rule {
  pool: 'query' | 'search'
  /** Only a standby that had, at its last probe, everything the primary wrote maxLagMs ago. */
  lagBound: boolean
  /** Asked on the standby before the read: has its copy reached the client's position? */
  reached?: (db: Db) => Promise<boolean>
}

const PROBE_TIMEOUT_MS = 2_000

export function createReadPool(options: ReadPoolOptions) {
  const { primary, primarySearch, replicaUrl, maxLagMs, poolMax, search, pooler, logger } = options
  const replicas = (replicaUrl ? hostUrls(replicaUrl) : []).map((url, index) =>
    createReplica({ url, name: String(index + 1), poolMax, search, pooler, logger }),
  )
  const counts: Record<'served' | FallbackReason, number> = { served: 0, behind: 0, down: 0, conflict: 0 }
  // Kept for the whole bound, not just the newest: a busy standby is always a few
  // milliseconds behind the position the primary has just reported.
  let samples: PrimarySample[] = []
  const probeMs = Math.max(25, Math.min(1_000, Math.floor(maxLagMs / 4)))
  let timer: NodeJS.Timeout | undefined
  let probing: Promise<void> | undefined
  let stopped = false

  async function read<T>(rule: Rule, run: Read<T>): Promise<T> {
    const onPrimary = rule.pool === 'search' ? primarySearch : primary
    if (replicas.length === 0) return run(onPrimary)
    const outcome = await onReplica(rule, run)
    if ('value' in outcome) {
      counts.served++
      return outcome.value
    }
    counts[outcome.reason]++
    return run(onPrimary)
  }

  /** The read on the first standby that qualifies, or why none did; the primary is never tried here. */
  async function onReplica<T>(rule: Rule, run: Read<T>): Promise<{ value: T } | { reason: FallbackReason }> {
    const up = replicas.filter((replica) => replica.isUp())
    const replica = rule.lagBound ? up.find((candidate) => candidate.freshWithin(maxLagMs)) : up[0]
    if (!replica) return { reason: up.length > 0 ? 'behind' : 'down' }
    try {
      // The check and the read reach the same server, whose replay only moves forward: the
      // read sees at least what the check saw.
      if (rule.reached && !(await rule.reached(replica.db))) return { reason: 'behind' }
      return { value: await run(rule.pool === 'search' ? replica.searchDb : replica.db) }
    } catch (error) {
      if (isDatabaseUnavailable(error)) {
        replica.markDown(error)
        return { reason: 'down' }
      }
      // A standby cancels a read whose rows its replay must remove (a recovery conflict).
      if (databaseErrorCode(error) === '40001') return { reason: 'conflict' }
      throw error
    }
  }

  async function probe(): Promise<void> {
    const at = Date.now()
    try {
      const [row] = await primary.$client<{ lsn: string }[]>`select pg_current_wal_lsn()::text as lsn`
      if (row) samples.push({ at, lsn: lsnBytes(row.lsn) })
    } catch {
      // No sample while the primary is away: the standbys' freshness only ages meanwhile.
    }
    // An older sample could no longer make a standby fresh enough.
    samples = samples.filter((sample) => sample.at >= at - maxLagMs)
    await Promise.all(replicas.map((replica) => replica.probe(samples, PROBE_TIMEOUT_MS)))
  }

  return {
    /** Whether READ_DATABASE_URL names standbys. */
    replicated: replicas.length > 0,
    /**
     * A read of one room's pages. A standby serves it once its copy of the room has reached
     * the position; a position without the room's change cursor also needs the lag bound,
     * since the client may hold changes it did not name.
     */
    forRoom: async <T>(position: RoomPosition, run: Read<T>): Promise<T> => {
      if (options.roomPrimary) return run((await options.roomPrimary(position.roomId)) ?? primary)
      return read(
        { pool: 'query', lagBound: position.cursor === undefined, reached: roomReached(position) },
        run,
      )
    },
    /** A read of the user's own events (mentions): within the lag bound, and past their cursor when sent. */
    forUser: <T>(position: UserPosition, run: Read<T>) =>
      read({ pool: 'query', lagBound: true, reached: userReached(position) }, run),
    /** A read with no position (the lobby): within the lag bound. */
    fresh: <T>(run: Read<T>) => read({ pool: 'query', lagBound: true }, run),
    /** A search, on the search pool of whichever server serves it: within the lag bound. */
    search: <T>(run: Read<T>) => read({ pool: 'search', lagBound: true }, run),
    stats: () => ({
      served: counts.served,
      fallbacks: { behind: counts.behind, down: counts.down, conflict: counts.conflict },
      replicas: replicas.map((replica) => replica.stats()),
    }),
    /** Probes every standby now, then every quarter of the lag bound (at most every second). */
    start(): void {
      if (replicas.length === 0) return
      const tick = async () => {
        probing = probe()
        await probing
        if (!stopped) timer = setTimeout(tick, probeMs)
      }
      void tick()
    },
    async stop(): Promise<void> {
      stopped = true
      clearTimeout(timer)
      await probing
      await Promise.all(replicas.map((replica) => replica.end()))
    },
  }
}

function roomReached({ roomId, seq = 0, cursor = 0 }: RoomPosition) {
  if (seq === 0 && cursor === 0) return undefined
  return async (db: Db) => {
    const [row] = await db.execute<{ last_seq: string; last_cursor: string }>(
      sql`select last_seq, last_cursor from rooms where id = ${roomId}`,
    )
    return row !== undefined && Number(row.last_seq) >= seq && Number(row.last_cursor) >= cursor
  }
}

function userReached({ userId, cursor = 0 }: UserPosition) {
  if (cursor === 0) return undefined
  return async (db: Db) => {
    const [row] = await db.execute<{ last_cursor: string }>(
      sql`select last_cursor from user_feeds where user_id = ${userId}`,
    )
    return Number(row?.last_cursor ?? 0) >= cursor
  }
}
