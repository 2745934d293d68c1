import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import type { Sql } from 'postgres'
import { channels, encodeRoomEvent, type RoomEvent } from '../db/notify.js'
import { inReservedTransaction } from '../db/transaction.js'
import type { PresentUser } from '../wire.js'

export interface PresenceOptions {
  /** The pool, without drizzle: a batch runs on a connection reserved from it. */
  sql: Sql
  logger: Logger
  /** A process that has not heartbeaten for this long is gone, with all its presence. */
  ttlMs: number
  /** Joins and leaves are gathered this long and announced together, one frame per room. */
  batchMs: number
  /** Above this many people in a room, its presence frames carry the count only. */
  listMax: number
}

interface Entry {
  roomId: number
  userId: string
  userName: string
  connections: number
}

/** Someone in a room, as a batch or a sweep announces them. */
type Person = Pick<Entry, 'roomId' | 'userId' | 'userName'>

const presentUser = (person: Person): PresentUser => ({ user_id: person.userId, user_name: person.userName })

interface Change {
  entry: Entry
  present: boolean
}

/** NOTIFY refuses payloads of 8000 bytes or more; a frame's lists are cut to stay below. */
const MAX_PAYLOAD_BYTES = 7_000
const FRAME_OVERHEAD_BYTES = 120

/**
 * Who is connected to which room, across instances. Each instance counts its own streams
 * per (room, user) in memory and touches the database only when a user's first stream on
 * it opens or its last one closes, and then not at once: changes are gathered for
 * `batchMs` and written in one transaction, which announces one frame per room listing who
 * came and who went, with the room's head count. A crowd of N opening a room therefore
 * costs each stream a frame per batch, not a frame per person: linear, not quadratic.
 *
 * The rows live under the instance's heartbeat, so an instance that dies leaves no ghosts
 * for longer than the TTL: any survivor sweeps them and announces the leaves. A batch
 * takes an advisory lock per (room, user), in one order on every instance, so two
 * instances never both announce the same user, and then one per room, so that two
 * instances' counts of one room never cross.
 */
export function createPresence({ sql, logger, ttlMs, batchMs, listMax }: PresenceOptions) {
  const instanceId = randomUUID()
  const local = new Map<string, Entry>()
  /** Keys this instance has a stream_presence row for, as far as committed batches go. */
  const stored = new Set<string>()
  const changes = new Map<string, Change>()
  let flushing: Promise<void> = Promise.resolve()
  let batchTimer: NodeJS.Timeout | undefined
  let heartbeatTimer: NodeJS.Timeout | undefined
  const live = sql`i.heartbeat_at > now() - ${ttlMs}::int * interval '1 millisecond'`

  const keyOf = (roomId: number, userId: string) => `${roomId}:${userId}`

  function change(entry: Entry, present: boolean): void {
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
        // Newer changes of the same key win over the failed ones.
        for (const [key, failed] of batch) if (!changes.has(key)) changes.set(key, failed)
      }
    })
    return flushing
  }

  async function writeBatch(batch: Change[]): Promise<void> {
    const joins = batch.filter((change) => change.present).map((change) => change.entry)
    const leaves = batch.filter((change) => !change.present).map((change) => change.entry)
    const keys = batch.map(({ entry }) => keyOf(entry.roomId, entry.userId)).sort()
    await inReservedTransaction(sql, async (tx) => {
      // Its own statement, so the reads below see what the locks' last holders committed.
      await tx`select pg_advisory_xact_lock(hashtextextended(k, 0)) from unnest(${keys}::text[]) k order by k`
      if (joins.length > 0) {
        await tx`insert into stream_presence (instance_id, room_id, user_id, user_name)
          select ${instanceId}, t.room_id, t.user_id, t.user_name
          from unnest(${joins.map((e) => e.roomId)}::bigint[], ${joins.map((e) => e.userId)}::text[],
                      ${joins.map((e) => e.userName)}::text[]) as t(room_id, user_id, user_name)
          on conflict do nothing`
      }
      if (leaves.length > 0) {
        await tx`delete from stream_presence p
          using unnest(${leaves.map((e) => e.roomId)}::bigint[], ${leaves.map((e) => e.userId)}::text[])
            as t(room_id, user_id)
          where p.instance_id = ${instanceId} and p.room_id = t.room_id and p.user_id = t.user_id`
      }
      const entries = [...joins, ...leaves]
      const elsewhere = await tx<{ key: string }[]>`
        select t.room_id || ':' || t.user_id as key
        from unnest(${entries.map((e) => e.roomId)}::bigint[], ${entries.map((e) => e.userId)}::text[])
          as t(room_id, user_id)
        where exists (select 1 from stream_presence p join parley_instances i on i.id = p.instance_id
          where p.room_id = t.room_id and p.user_id = t.user_id and p.instance_id <> ${instanceId} and ${live})`
      const seenElsewhere = new Set(elsewhere.map((row) => row.key))
      const announced = (entry: Entry) => !seenElsewhere.has(keyOf(entry.roomId, entry.userId))
      await announce(tx, joins.filter(announced), leaves.filter(announced))
    })
  }

  /** One frame per room (more only if its lists would not fit a notification), with its head count. */
  async function announce(tx: Sql, joined: Person[], left: Person[]): Promise<void> {
    const byRoom = new Map<number, { joined: PresentUser[]; left: PresentUser[] }>()
    const roomOf = (roomId: number) => {
      let room = byRoom.get(roomId)
      if (!room) byRoom.set(roomId, (room = { joined: [], left: [] }))
      return room
    }
    for (const person of joined) roomOf(person.roomId).joined.push(presentUser(person))
    for (const person of left) roomOf(person.roomId).left.push(presentUser(person))
    if (byRoom.size === 0) return
    // Counted under the room's lock, held until commit: batches of one room from any
    // instance count one after another, each seeing the ones before, and their frames are
    // announced in that order, so the last frame always carries the true count.
    const roomKeys = [...byRoom.keys()].sort((a, b) => a - b).map((roomId) => `presence:${roomId}`)
    await tx`select pg_advisory_xact_lock(hashtextextended(k, 0)) from unnest(${roomKeys}::text[]) with ordinality as t(k, n) order by n`
    const counts = await tx<{ room_id: string; count: number }[]>`
      select p.room_id, count(distinct p.user_id)::int as count
      from stream_presence p join parley_instances i on i.id = p.instance_id
      where p.room_id = any(${[...byRoom.keys()]}::bigint[]) and ${live}
      group by p.room_id`
    const countOf = new Map(counts.map((row) => [Number(row.room_id), row.count]))
    const payloads = [...byRoom].flatMap(([roomId, room]) =>
      presenceFrames(roomId, room, countOf.get(roomId) ?? 0).map(encodeRoomEvent),
    )
    await tx`select pg_notify(${channels.events}, payload) from unnest(${payloads}::text[]) payload`
  }

  /**
   * Above listMax people, or more than listMax arriving or leaving at once, only the count
   * (a crowd that leaves together would otherwise be named in full to those who stay);
   * otherwise the lists, cut into frames that fit a notification.
   */
  function presenceFrames(
    roomId: number,
    { joined, left }: { joined: PresentUser[]; left: PresentUser[] },
    count: number,
  ): RoomEvent[] {
    const frame = (lists: { joined: PresentUser[]; left: PresentUser[] }): RoomEvent => ({
      roomId,
      event: 'presence',
      data: { ...lists, count },
    })
    if (count > listMax || joined.length + left.length > listMax) return [frame({ joined: [], left: [] })]
    const frames: RoomEvent[] = []
    let current = { joined: [] as PresentUser[], left: [] as PresentUser[] }
    let bytes = FRAME_OVERHEAD_BYTES
    const add = (kind: 'joined' | 'left', user: PresentUser) => {
      const size = Buffer.byteLength(JSON.stringify(user)) + 1
      if (bytes + size > MAX_PAYLOAD_BYTES && current.joined.length + current.left.length > 0) {
        frames.push(frame(current))
        current = { joined: [], left: [] }
        bytes = FRAME_OVERHEAD_BYTES
      }
      current[kind].push(user)
      bytes += size
    }
    for (const user of joined) add('joined', user)
    for (const user of left) add('left', user)
    frames.push(frame(current))
    return frames
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
    await inReservedTransaction(sql, async (tx) => {
      const gone = await tx<{ room_id: string; user_id: string; user_name: string }[]>`
        with dead as (
          delete from parley_instances i where not (${live}) returning id
        ), vanished as (
          delete from stream_presence p using dead where p.instance_id = dead.id
          returning p.room_id, p.user_id, p.user_name
        )
        select distinct on (v.room_id, v.user_id) v.room_id, v.user_id, v.user_name from vanished v
        where not exists (
          select 1 from stream_presence q join parley_instances i on i.id = q.instance_id
          where q.room_id = v.room_id and q.user_id = v.user_id and ${live}
            and q.instance_id not in (select id from dead))`
      const left = gone.map((row) => ({
        roomId: Number(row.room_id),
        userId: row.user_id,
        userName: row.user_name,
      }))
      await announce(tx, [], left)
    })
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

export type Presence = ReturnType<typeof createPresence>
