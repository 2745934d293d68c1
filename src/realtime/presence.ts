import { randomUUID } from 'node:crypto'
import { sql } from 'drizzle-orm'
import type { Logger } from 'pino'
import type { Sql } from 'postgres'
import type { Db } from '../db/client.js'
import { channels, encodeRoomEvent, publishRoomEvent } from '../db/notify.js'
import { inReservedTransaction } from '../db/transaction.js'
import type { PresentUser } from '../wire.js'

export interface PresenceOptions {
  db: Db
  /** The same pool without drizzle, for the transactions on a reserved connection. */
  sql: Sql
  logger: Logger
  /** A process that has not heartbeaten for this long is gone, with all its presence. */
  ttlMs: number
}

interface Entry {
  roomId: number
  userId: string
  userName: string
  connections: number
}

/**
 * Who is connected to which room, across instances. Each instance counts its own streams
 * per (room, user) in memory and touches the database only when a user's first stream on
 * it opens or its last one closes. The rows live under the instance's heartbeat, so an
 * instance that dies leaves no ghosts for longer than the TTL: any survivor sweeps them and
 * announces the leaves. Join and leave are decided under an advisory lock per (room, user),
 * so two instances never both announce the same user.
 */
export function createPresence({ db, sql: pool, logger, ttlMs }: PresenceOptions) {
  const instanceId = randomUUID()
  const local = new Map<string, Entry>()
  const pending = new Map<string, Promise<void>>()
  const ttl = sql`${ttlMs} * interval '1 millisecond'`
  let timer: NodeJS.Timeout | undefined

  /** Runs `work` after earlier transitions of the same (room, user), so join and leave keep their order. */
  function enqueue(key: string, work: () => Promise<void>): void {
    const next = (pending.get(key) ?? Promise.resolve())
      .then(work)
      .catch((error: unknown) => logger.warn({ err: error }, 'presence update failed'))
      .finally(() => {
        if (pending.get(key) === next) pending.delete(key)
      })
    pending.set(key, next)
  }

  async function transition(entry: Entry, type: 'join' | 'leave'): Promise<void> {
    const { roomId, userId, userName } = entry
    await inReservedTransaction(pool, async (tx) => {
      // The lock is its own statement, so the reads after it see what its last holder committed.
      await tx`select pg_advisory_xact_lock(hashtextextended(${`${roomId}:${userId}`}, 0))`
      if (type === 'join') {
        await tx`insert into stream_presence (instance_id, room_id, user_id, user_name)
          values (${instanceId}, ${roomId}, ${userId}, ${userName}) on conflict do nothing`
      } else {
        await tx`delete from stream_presence
          where instance_id = ${instanceId} and room_id = ${roomId} and user_id = ${userId}`
      }
      const elsewhere = await tx`select 1 from stream_presence p
        join parley_instances i on i.id = p.instance_id
        where p.room_id = ${roomId} and p.user_id = ${userId} and p.instance_id <> ${instanceId}
          and i.heartbeat_at > now() - ${ttlMs}::int * interval '1 millisecond'
        limit 1`
      if (elsewhere.length > 0) return
      const event = encodeRoomEvent({
        roomId,
        event: 'presence',
        data: { type, user_id: userId, user_name: userName },
      })
      await tx`select pg_notify(${channels.events}, ${event})`
    })
  }

  /** Heartbeats; re-registers this instance's presence if a long outage got it swept. */
  async function heartbeat(): Promise<void> {
    const rows = await db.execute<{ created: boolean }>(sql`
      insert into parley_instances (id) values (${instanceId})
      on conflict (id) do update set heartbeat_at = now()
      returning (xmax = 0) as created`)
    if (rows[0]?.created && local.size > 0) {
      for (const [key, entry] of local) enqueue(key, () => transition(entry, 'join'))
    }
  }

  /** Removes instances that stopped heartbeating, and announces the users that left with them. */
  async function sweep(): Promise<void> {
    const gone = await db.execute<{ room_id: string; user_id: string; user_name: string }>(sql`
      with dead as (
        delete from parley_instances where heartbeat_at < now() - ${ttl} returning id
      ), vanished as (
        delete from stream_presence p using dead where p.instance_id = dead.id
        returning p.room_id, p.user_id, p.user_name
      )
      select distinct on (v.room_id, v.user_id) v.room_id, v.user_id, v.user_name from vanished v
      where not exists (
        select 1 from stream_presence q join parley_instances i on i.id = q.instance_id
        where q.room_id = v.room_id and q.user_id = v.user_id
          and i.heartbeat_at >= now() - ${ttl} and q.instance_id not in (select id from dead))`)
    for (const row of gone) {
      await publishRoomEvent(db, {
        roomId: Number(row.room_id),
        event: 'presence',
        data: { type: 'leave', user_id: row.user_id, user_name: row.user_name },
      })
    }
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
      timer = setInterval(() => void tick(), Math.max(250, Math.floor(ttlMs / 4)))
      timer.unref()
    },
    /** Announces every local user as gone, then removes this instance. */
    async stop(): Promise<void> {
      clearInterval(timer)
      for (const [key, entry] of local) enqueue(key, () => transition(entry, 'leave'))
      local.clear()
      await Promise.all(pending.values())
      await db.execute(sql`delete from parley_instances where id = ${instanceId}`).catch(() => {})
    },
    enter(roomId: number, userId: string, userName: string): void {
      const key = `${roomId}:${userId}`
      const entry = local.get(key)
      if (entry) {
        entry.connections++
        return
      }
      const fresh = { roomId, userId, userName, connections: 1 }
      local.set(key, fresh)
      enqueue(key, () => transition(fresh, 'join'))
    },
    leave(roomId: number, userId: string): void {
      const key = `${roomId}:${userId}`
      const entry = local.get(key)
      if (!entry || --entry.connections > 0) return
      local.delete(key)
      enqueue(key, () => transition(entry, 'leave'))
    },
    /** The users connected to the room on any live instance, each once. */
    async list(roomId: number): Promise<PresentUser[]> {
      const rows = await db.execute<PresentUser>(sql`
        select distinct on (p.user_id) p.user_id, p.user_name
        from stream_presence p join parley_instances i on i.id = p.instance_id
        where p.room_id = ${roomId} and i.heartbeat_at > now() - ${ttl}
        order by p.user_id, p.since`)
      return rows.map((row) => ({ user_id: row.user_id, user_name: row.user_name }))
    },
  }
}

export type Presence = ReturnType<typeof createPresence>
