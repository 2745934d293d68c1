import { connect as netConnect, type Socket } from 'node:net'
import postgres, { type Sql, type TransactionSql } from 'postgres'
import { directUrl, listShards, roomShard, type ShardRow } from './catalog.js'
import { copyOver, copyWrittenSince, countRows, PRECOPIED, precopy, roomKey } from './precopy.js'

/**
 * A room's rows, table by table, parents first: what a move copies, and deletes from the old
 * shard in the reverse order. Not moved: presence (each instance writes its own again),
 * user events (a user's feed is numbered per shard and stays readable where it was written)
 * and webhook lanes (see LEFT_BEHIND).
 */
export const ROOM_TABLES = [
  'rooms',
  'room_members',
  'room_bans',
  'room_mutes',
  'room_reads',
  'room_post_marks',
  'room_log_heads',
  'room_log',
  'messages',
  'message_changes',
  'message_reactions',
  'message_mentions',
  'room_reports',
  'moderation_log',
] as const

/**
 * Rows that refer to the room and are not moved: who is in it now, on each instance, and
 * webhook lanes. They are deleted from the old shard with the room, so that none refers to a
 * room that is gone there (the triggers, and so the foreign keys' cascades, are off).
 */
const LEFT_BEHIND = ['stream_presence', 'webhook_lanes']

/** The rows of these tables are locked for the move; the rest wait on the room's row (below). */
const LOCKED_ROWS = [
  'room_members',
  'room_bans',
  'room_mutes',
  'room_reads',
  'room_post_marks',
  'room_log_heads',
]

export interface MoveResult {
  roomId: number
  from: string
  to: string
  /** Rows copied, by table. */
  rows: Record<string, number>
  /** How long writes to the room waited: from taking its locks to releasing them. */
  pauseMs: number
}

export class MoveError extends Error {}

/**
 * A connection for the move, on a socket with Nagle's algorithm off. postgres.js leaves it on,
 * which no query notices (one write, then the answer), but a COPY FROM ends with a small
 * write after its data, held until the server acknowledges the data: 40 ms of delayed ACK
 * per table, which made the pause of moving a 1,000-message room 1.1 s instead of 70 ms.
 * postgres.js hands a custom socket the hosts of the URL, not the one it wants next, so the
 * hosts are taken in turn here, as it would (it moves on when a host is not the primary).
 */
function connect(shard: ShardRow): Sql {
  let attempt = 0
  const socket = ({ host, port, path }: { host: string[]; port: number[]; path?: string }) =>
    new Promise<Socket>((resolve, reject) => {
      const i = attempt++ % host.length
      const opened = path
        ? netConnect({ path })
        : netConnect({ host: host[i], port: port[i] ?? port[0] ?? 5432, noDelay: true })
      opened.once('connect', () => resolve(opened))
      opened.once('error', reject)
    })
  return postgres(directUrl(shard), {
    max: 1,
    onnotice: () => {},
    fetch_types: false,
    connection: { application_name: 'parley-move' },
    socket,
  } as postgres.Options<Record<string, postgres.PostgresType>>)
}

/**
 * Moves a room to another shard while both run. First, with no lock taken, the room's large
 * tables (PRECOPIED: its history) are copied into a transaction on the new shard that stays
 * open, so nobody there sees them yet. Then, on the old shard, one transaction locks the
 * room's row (every change to the room's history takes it, and every new row that refers to
 * the room waits on it) and the room's rows of the tables in LOCKED_ROWS (so a member removed,
 * a ban lifted or a read mark moved waits too): the pause. In it, what was written since the
 * first copy is copied again, the small tables whole (COPY, with the triggers off:
 * `session_replication_role = replica`, so the role running the move must be allowed to set
 * it, as pg_restore --disable-triggers needs); the new shard's transaction commits, the rows
 * are deleted from the old one, the catalog repointed, and only then is the old shard's
 * transaction committed. A write that waited meanwhile then finds no room there and fails.
 * If anything fails before the catalog changed, the copy is rolled back or deleted and the
 * old shard keeps the room as it was. `options.beforePause` runs between the two copies.
 *
 * Ids stay as they are: every shard allocates message, report and log ids in a range of its
 * own (claimIdRanges in catalog.ts), so they never collide on the shard a room moves to.
 */
export async function moveRoom(
  catalog: Sql,
  roomId: number,
  toName: string,
  options: { beforePause?: () => Promise<void> } = {},
): Promise<MoveResult> {
  if (!Number.isSafeInteger(roomId) || roomId < 1) throw new MoveError(`${roomId} is not a room id`)
  const from = await roomShard(catalog, roomId)
  const to = (await listShards(catalog)).find((shard) => shard.name === toName)
  if (!from) throw new MoveError(`no shard holds room ${roomId}`)
  if (!to) throw new MoveError(`no shard named ${toName}`)
  if (from.id === to.id) throw new MoveError(`room ${roomId} is on ${toName} already`)

  const source = connect(from)
  const target = connect(to)
  // Connections for reading, each used once: a table's first copy, and its copy in the pause
  // (opened before it starts); keys read in the pause, only when rows were deleted meanwhile.
  const early = new Map(Object.keys(PRECOPIED).map((table) => [table, connect(from)]))
  const readers = ROOM_TABLES.map(() => connect(from))
  const extra: Sql[] = []
  const keys = () => {
    const reader = connect(from)
    extra.push(reader)
    return reader
  }
  const rows: Record<string, number> = {}
  const locked = settleable<TransactionSql>()
  let pauseMs = 0
  let copying: Promise<unknown> | undefined
  try {
    const [present] = await target`select 1 from rooms where id = ${roomId}`
    if (present) throw new MoveError(`${toName} holds a room ${roomId} already`)
    const columns = await storedColumns(target)
    await Promise.all([...early.values(), ...readers].map((reader) => reader`select 1`))
    const precopied = settleable<void>()
    copying = target.begin(async (fresh) => {
      await fresh`set local session_replication_role = replica`
      const since = new Map<string, bigint>()
      for (const [table, reader] of early) {
        since.set(table, await precopy(reader, fresh, table, columns.get(table)!, roomId))
      }
      await options.beforePause?.()
      precopied.resolve()
      const old = await locked.promise
      for (const [i, table] of ROOM_TABLES.entries()) {
        const list = columns.get(table)!
        const xmin = since.get(table)
        rows[table] =
          xmin === undefined
            ? await copyRows(readers[i]!, fresh, table, list, roomId)
            : await copyWrittenSince(old, readers[i]!, keys, fresh, { table, list, roomId, xmin })
      }
    })
    // A copy that failed ends the wait for it.
    await Promise.race([precopied.promise, copying])
    await source.begin(async (old) => {
      const started = performance.now()
      const [room] = await old`select id from rooms where id = ${roomId} for update`
      if (!room) throw new MoveError(`${from.name} has no room ${roomId}`)
      for (const table of LOCKED_ROWS)
        await old.unsafe(`select 1 from ${table} where room_id = ${roomId} for update`)

      locked.resolve(old)
      let copied = false
      try {
        await copying
        copied = true
        await old`set local session_replication_role = replica`
        await deleteRoomRows(old, [...ROOM_TABLES, ...LEFT_BEHIND], roomId)
        await catalog`update room_shards set shard_id = ${to.id} where room_id = ${roomId}`
      } catch (error) {
        if (copied) await removeCopy(target, roomId)
        throw error
      }
      pauseMs = performance.now() - started
    })
  } finally {
    // The new shard's transaction, if it still waits for the pause, is rolled back.
    locked.reject(new MoveError('the move stopped before its pause'))
    await copying?.catch(() => {})
    await Promise.all(
      [source, target, ...early.values(), ...readers, ...extra].map((sql) => sql.end({ timeout: 1 })),
    )
  }
  return { roomId, from: from.name, to: to.name, rows, pauseMs }
}

/** A promise with its resolve and reject, settled once: later calls do nothing. */
function settleable<T>() {
  let resolve!: (value: T) => void
  let reject!: (error: unknown) => void
  const promise = new Promise<T>((yes, no) => {
    resolve = yes
    reject = no
  })
  // A rejection nobody waits for (the move ended without a pause) is not an error.
  promise.catch(() => {})
  return { promise, resolve, reject }
}

/** Each table's stored columns (not the generated ones), as COPY lists them. */
async function storedColumns(target: Sql): Promise<Map<string, string>> {
  const found = await target<{ table: string; list: string }[]>`
    select table_name as table, string_agg(quote_ident(column_name), ', ' order by ordinal_position) as list
      from information_schema.columns
     where table_schema = current_schema() and table_name in ${target(ROOM_TABLES)} and is_generated = 'NEVER'
     group by table_name`
  return new Map(found.map(({ table, list }) => [table, list]))
}

/**
 * Copies one table's rows of a room, every stored column; returns the count. Read on a
 * connection of its own, which sees what the move's locks froze.
 */
async function copyRows(
  reader: Sql,
  fresh: TransactionSql,
  table: string,
  list: string,
  roomId: number,
): Promise<number> {
  await copyOver(
    reader,
    `select ${list} from ${table} where ${roomKey(table)} = ${roomId}`,
    fresh,
    `${table} (${list})`,
  )
  return countRows(fresh, table, roomId)
}

/** Deletes what a move copied, when the move could not finish. */
async function removeCopy(target: Sql, roomId: number): Promise<void> {
  await target.begin(async (fresh) => {
    await fresh`set local session_replication_role = replica`
    await deleteRoomRows(fresh, ROOM_TABLES, roomId)
  })
}

/**
 * Deletes a room's rows from `tables`, listed parents first, children first; in a transaction
 * with the triggers off.
 */
async function deleteRoomRows(tx: TransactionSql, tables: readonly string[], roomId: number): Promise<void> {
  for (const table of [...tables].reverse()) {
    await tx.unsafe(`delete from ${table} where ${roomKey(table)} = ${roomId}`)
  }
}
