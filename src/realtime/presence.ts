import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import type { Sql } from 'postgres'
import { isForeignKeyViolation } from '../db/errors.js'
import { channels } from '../db/notify.js'
import type { PresentUser } from '../wire.js'

export interface PresenceOptions {
  /** The pool. Each batch and each sweep is one statement on it, never a transaction held open. */
  sql: Sql
  logger: Logger
  /** A process that has not heartbeaten for this long is gone, with all its presence. */
  ttlMs: number
  /** Joins and leaves are gathered this long and announced together, one frame per room. */
  batchMs: number
  /** Above this many people in a room, its presence frames carry the count only. */
  listMax: number
}

/** One user connected to one room through this instance, with how many streams. */
export interface PresenceEntry {
  roomId: number
  userId: string
  userName: string
  connections: number
}

interface Change {
  entry: PresenceEntry
  present: boolean
}

/**
 * Who is connected to which room, across instances. Each instance counts its own streams
 * per (room, user) in memory and touches the database only when a user's first stream on
 * it opens or its last one closes, and then not at once: changes are gathered for
 * `batchMs` and written by one statement, which announces one frame per room listing who
 * came and who went, with the room's head count. A crowd of N opening a room therefore
 * costs each stream a frame per batch, not a frame per person: linear, not quadratic.
 *
 * The rows live under the instance's heartbeat, so an instance that dies leaves no ghosts
 * for longer than the TTL: any survivor sweeps them and announces the leaves. A batch
 * takes an advisory lock per (room, user), in one order on every instance, so two
 * instances never both announce the same user, and then one per room, so that two
 * instances' counts of one room never cross. Both live in PL/pgSQL functions
 * (sql/presence.sql) because each lock must precede reads that see what its previous holder
 * committed: in a client-side transaction that takes several statements on a reserved
 * connection, and postgres.js 3.4.9 crashes the process when a reserved connection's
 * backend dies mid-transaction: its ROLLBACK is written, from a timer, to a socket already
 * gone. A single statement on the pool just fails, and the batch is retried with the next.
 */
export function createPresence({ sql, logger, ttlMs, batchMs, listMax }: PresenceOptions) {
  const instanceId = randomUUID()
  const local = new Map<string, PresenceEntry>()
  /** Keys this instance has a stream_presence row for, as far as committed batches go. */
  const stored = new Set<string>()
  const changes = new Map<string, Change>()
  let flushing: Promise<void> = Promise.resolve()
  let batchTimer: NodeJS.Timeout | undefined
  let heartbeatTimer: NodeJS.Timeout | undefined
  const live = sql`i.heartbeat_at > now() - ${ttlMs}::int * interval '1 millisecond'`

  const keyOf = (roomId: number, userId: string) => `${roomId}:${userId}`

  function change(entry: PresenceEntry, present: boolean): void {
    changes.set(keyOf(entry.roomId, entry.userId), { entry, present })
  }

  /** Writes the changes gathered so far, after any batch still being written. */
  function flush(): Promise<void> {
    flushing = flushing.then(async () => {
      const batch = [...changes].filter(([key, { present }]) => present !== stored.has(key))
      changes.clear()
      if (batch.length === 0) return
      try {
        await writeBatch(batch.map(([, change]) => change))
        for (const [key, { present }] of batch) {
          if (present) stored.add(key)
          else stored.delete(key)
        }
      } catch (error) {
        logger.warn({ err: error }, 'presence update failed; retrying with the next batch')
        // A room deleted, or moved to another shard, since its streams entered it would fail
        // every batch after this one: its joins are dropped (its streams are closed or follow it).
        const gone = isForeignKeyViolation(error)
          ? await missingRooms(batch).catch(() => new Set<number>())
          : new Set<number>()
        // Newer changes of the same key win over the failed ones.
        for (const [key, failed] of batch) {
          if (!changes.has(key) && !gone.has(failed.entry.roomId)) changes.set(key, failed)
        }
      }
    })
    return flushing
  }

  async function missingRooms(batch: [string, Change][]): Promise<Set<number>> {
    const roomIds = [...new Set(batch.map(([, change]) => change.entry.roomId))]
    const found = await sql<{ id: string }[]>`select id from rooms where id = any(${roomIds}::bigint[])`
    const present = new Set(found.map((row) => Number(row.id)))
    return new Set(roomIds.filter((id) => !present.has(id)))
  }

  /** One statement, so no connection is reserved and no transaction outlives a dead backend. */
  async function writeBatch(batch: Change[]): Promise<void> {
    const entries = batch.map((change) => change.entry)
    await sql`select parley_presence_write(${channels.events}, ${instanceId}, ${ttlMs}, ${listMax},
      ${entries.map((e) => e.roomId)}::bigint[], ${entries.map((e) => e.userId)}::text[],
      ${entries.map((e) => e.userName)}::text[], ${sql.array(batch.map((change) => change.present))}::boolean[])`
  }

  /** Heartbeats; re-registers this instance's presence if a long outage got it swept. */
  async function heartbeat(): Promise<void> {
    const rows = await sql<{ created: boolean }[]>`
      insert into parley_instances (id) values (${instanceId})
      on conflict (id) do update set heartbeat_at = now()
      returning (xmax = 0) as created`
    if (rows[0]?.created && local.size > 0) {
      stored.clear()
      for (const entry of local.values())
        if (!changes.has(keyOf(entry.roomId, entry.userId))) change(entry, true)
    }
  }

  /** Removes instances that stopped heartbeating, and announces the users that left with them. */
  async function sweep(): Promise<void> {
    await sql`select parley_presence_sweep(${channels.events}, ${ttlMs}, ${listMax})`
  }

  async function tick(): Promise<void> {
    try {
      await heartbeat()
      await sweep()
    } catch (error) {
      logger.warn({ err: error }, 'presence heartbeat failed')
    }
  }

  return {
    instanceId,
    async start(): Promise<void> {
      await tick()
      heartbeatTimer = setInterval(() => void tick(), Math.max(250, Math.floor(ttlMs / 4)))
      heartbeatTimer.unref()
      batchTimer = setInterval(() => void flush(), batchMs)
      batchTimer.unref()
    },
    /** Announces every local user as gone (one frame per room), then removes this instance. */
    async stop(): Promise<void> {
      clearInterval(heartbeatTimer)
      clearInterval(batchTimer)
      for (const entry of local.values()) change(entry, false)
      local.clear()
      await flush()
      await sql`delete from parley_instances where id = ${instanceId}`.catch(() => {})
    },
    enter(roomId: number, userId: string, userName: string): void {
      const key = keyOf(roomId, userId)
      const entry = local.get(key)
      if (entry) {
        entry.connections++
        return
      }
      const fresh = { roomId, userId, userName, connections: 1 }
      local.set(key, fresh)
      change(fresh, true)
    },
    leave(roomId: number, userId: string): void {
      const key = keyOf(roomId, userId)
      const entry = local.get(key)
      if (!entry || --entry.connections > 0) return
      local.delete(key)
      change(entry, false)
    },
    /**
     * Hands over the room's users on this instance (the room moved to another shard, and its
     * rows here went with the move): forgotten here, with no leave announced and nothing left
     * to write.
     */
    takeOut(roomId: number): PresenceEntry[] {
      const out = [...local.values()].filter((entry) => entry.roomId === roomId)
      for (const entry of out) {
        const key = keyOf(entry.roomId, entry.userId)
        local.delete(key)
        stored.delete(key)
        changes.delete(key)
      }
      return out
    },
    /** Takes in users handed over by another shard's roster: each is announced here as a join. */
    takeIn(entries: PresenceEntry[]): void {
      for (const entry of entries) {
        const key = keyOf(entry.roomId, entry.userId)
        const held = local.get(key)
        if (held) held.connections += entry.connections
        else local.set(key, entry)
        change(local.get(key)!, true)
      }
    },
    /** A page of the users connected to the room on any live instance, each once, by user id; and their number. */
    async list(roomId: number, page: { limit: number; after?: string }) {
      const after = page.after === undefined ? sql`` : sql`and p.user_id > ${page.after}`
      const [users, [total]] = await Promise.all([
        sql<PresentUser[]>`
          select distinct on (p.user_id) p.user_id, p.user_name
          from stream_presence p join parley_instances i on i.id = p.instance_id
          where p.room_id = ${roomId} and ${live} ${after}
          order by p.user_id, p.since
          limit ${page.limit + 1}`,
        sql<{ count: number }[]>`
          select count(distinct p.user_id)::int as count
          from stream_presence p join parley_instances i on i.id = p.instance_id
          where p.room_id = ${roomId} and ${live}`,
      ])
      const shown = users
        .slice(0, page.limit)
        .map((row) => ({ user_id: row.user_id, user_name: row.user_name }))
      const more = users.length > page.limit ? shown.at(-1)?.user_id : undefined
      return { users: shown, count: total?.count ?? 0, nextAfter: more }
    },
  }
}

/** One database's roster of who is connected where. */
export type Roster = ReturnType<typeof createPresence>

/** What the rest of the server asks of presence, on one database or over shards. */
export type Presence = Omit<Roster, 'takeOut' | 'takeIn'>
