import { pipeline } from 'node:stream/promises'
import type { Sql, TransactionSql } from 'postgres'

/**
 * The tables that grow with a room's history, copied to the new shard before a move's pause
 * (src/shards/move.ts), and the key of each row. In the pause only what was written since is
 * copied again; every other table of the room is small and copied whole there.
 */
export const PRECOPIED: Readonly<Record<string, string>> = {
  room_log: 'room_id, cursor',
  messages: 'id',
  message_changes: 'room_id, cursor',
  message_reactions: 'room_id, seq, emoji, user_id',
  message_mentions: 'user_id, message_id',
  moderation_log: 'id',
}

/**
 * "This row's version was committed before the copy began", from its xmin: older than the
 * oldest transaction running when the copy took its snapshot (`xmin`, that snapshot's xmin).
 * Compared modulo 2^32 as PostgreSQL compares transaction ids; a row so old that its xmin
 * wrapped reads as written since, and is only copied again. A row written by a transaction
 * still running then, or by one of its subtransactions, reads as written since, which is
 * what makes the test safe: a subtransaction's id is in no snapshot's list.
 */
const unchangedSince = (xmin: bigint) =>
  `(xmin::text::bigint - ${xmin % 4294967296n} + 6442450944) % 4294967296 < 2147483648`

/** The room's column of a table. */
export const roomKey = (table: string) => (table === 'rooms' ? 'id' : 'room_id')

/**
 * Copies what `select` reads on the old shard into `into` (a table and its columns) on the new
 * one, every value as PostgreSQL writes it. `reader` is used for nothing after: postgres.js
 * can leave a connection's socket paused when a COPY's last rows filled the stream's buffer,
 * and then never reads the next answer on it.
 */
export async function copyOver(reader: Sql, select: string, fresh: TransactionSql, into: string) {
  const out = await reader.unsafe(`copy (${select}) to stdout`).readable()
  await pipeline(out, await fresh.unsafe(`copy ${into} from stdin`).writable())
}

/** How many rows of the room `table` holds, as `tx` sees them (and `where` narrows them). */
export async function countRows(tx: TransactionSql, table: string, roomId: number, where = 'true') {
  const [counted] = await tx.unsafe<{ n: number }[]>(
    `select count(*)::int as n from ${table} where ${roomKey(table)} = ${roomId} and ${where}`,
  )
  return counted!.n
}

/**
 * Copies `table`'s rows of the room as they stand, into the move's open transaction on the
 * new shard (where nobody sees them until it commits): no lock is taken, writes go on.
 * Returns the copy's snapshot xmin, for `copyWrittenSince`.
 */
export async function precopy(
  reader: Sql,
  fresh: TransactionSql,
  table: string,
  list: string,
  roomId: number,
): Promise<bigint> {
  // Taken before the COPY's own snapshot: what it had committed, the COPY has too.
  const [snapshot] = await reader<
    { xmin: string }[]
  >`select pg_snapshot_xmin(pg_current_snapshot())::text as xmin`
  await copyOver(
    reader,
    `select ${list} from ${table} where ${roomKey(table)} = ${roomId}`,
    fresh,
    `${table} (${list})`,
  )
  return BigInt(snapshot!.xmin)
}

/**
 * In the pause, with writes to the room held by the move's locks on the old shard (`old`):
 * brings `table`'s copy up to date. The rows written since the pre-copy (new, or new
 * versions of rows it copied) are read into a scratch table, their copied versions removed,
 * and the rest of the copy counted against the rows the old shard still holds unchanged:
 * more means some were deleted since, and then the copy keeps only the keys still there
 * (read by `keys`, opened only then). Returns the rows the new shard now has.
 */
export async function copyWrittenSince(
  old: TransactionSql,
  reader: Sql,
  keys: () => Sql,
  fresh: TransactionSql,
  move: { table: string; list: string; roomId: number; xmin: bigint },
): Promise<number> {
  const { table, list, roomId } = move
  const key = PRECOPIED[table]!
  const inRoom = `${roomKey(table)} = ${roomId}`
  const unchanged = unchangedSince(move.xmin)
  const scratch = `written_${table}`
  await fresh.unsafe(`create temp table ${scratch} (like ${table}) on commit drop`)
  const written = `select ${list} from ${table} where ${inRoom} and not (${unchanged})`
  await copyOver(reader, written, fresh, `${scratch} (${list})`)
  await fresh.unsafe(
    `delete from ${table} t using ${scratch} w where (${prefixed('t', key)}) = (${prefixed('w', key)})`,
  )
  const kept = await countRows(old, table, roomId, unchanged)
  if ((await countRows(fresh, table, roomId)) !== kept) await keepOnly(keys(), fresh, move)
  await fresh.unsafe(`insert into ${table} (${list}) select ${list} from ${scratch}`)
  return countRows(fresh, table, roomId)
}

/** Deletes from the copy the rows whose keys the old shard no longer has. */
async function keepOnly(
  reader: Sql,
  fresh: TransactionSql,
  { table, roomId }: { table: string; roomId: number },
) {
  const key = PRECOPIED[table]!
  const inRoom = `${roomKey(table)} = ${roomId}`
  const scratch = `kept_${table}`
  await fresh.unsafe(`create temp table ${scratch} on commit drop as select ${key} from ${table} limit 0`)
  await copyOver(reader, `select ${key} from ${table} where ${inRoom}`, fresh, scratch)
  await fresh.unsafe(
    `delete from ${table} t where t.${inRoom} and not exists (
       select 1 from ${scratch} k where (${prefixed('k', key)}) = (${prefixed('t', key)}))`,
  )
}

/** `a, b` as `t.a, t.b`. */
const prefixed = (alias: string, key: string) =>
  key
    .split(',')
    .map((column) => `${alias}.${column.trim()}`)
    .join(', ')
