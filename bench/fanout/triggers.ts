import postgres from 'postgres'
import { createBenchDatabase } from '../lib/bench-database.js'
import type { BenchOptions } from './options.js'
import type { BenchContext } from './session.js'

export interface TriggerRun {
  /** Single-row inserts: connections at once, seconds per measurement, measurements per variant. */
  clients: number
  seconds: number
  rounds: number
  /** Inserts per second (the median of its rounds) with every trigger, and with each one off in turn. */
  rates: TriggerRate[]
  /** One insert … select into one room, through every trigger, at each size. */
  bulk: { rows: number; seconds: number; perSecond: number }[]
}

export interface TriggerRate {
  /** What was off (or on) for this rate. */
  variant: string
  perSecond: number
  /**
   * Against every trigger on, in µs of the run per insert (1/rate): what the triggers turned
   * off cost each insert, or what naming a member adds to one.
   */
  costMicros?: number
}

const CLIENTS = 8
const SECONDS = 5
const ROUNDS = 2
const ROOMS = 100
const BULK_ROWS = [100_000, 1_000_000]

/**
 * The triggers a message insert runs (sql/messages.sql, mentions.sql, user-events.sql),
 * what each costs, and a bulk insert: on a database of its own, CLIENTS connections insert
 * single rows into ROOMS rooms for SECONDS with every trigger, then with each trigger off in
 * turn (ALTER TABLE … DISABLE TRIGGER), then with only the numbering left, and with every
 * message naming a member; each ROUNDS times, interleaved, so a busy spell of the machine
 * falls on every variant alike. Then one insert … select per BULK_ROWS size into one room.
 * messages_assign_seq numbers the rows and is never off; messages_notify writes the rooms'
 * counters of a statement of many rows, so it is off for single rows only.
 */
export async function runTriggers(context: BenchContext, options: BenchOptions): Promise<TriggerRun> {
  const database = await createBenchDatabase('parley_bench_triggers')
  const dispose = () => database.dispose()
  context.live.add(dispose)
  const sql = postgres(database.url, {
    max: CLIENTS,
    onnotice: () => {},
    connection: { synchronous_commit: options.durable ? 'on' : 'off' },
  })
  try {
    const rooms = await makeRooms(sql)
    const triggers = await insertTriggers(sql)
    const variants: Variant[] = [
      { name: 'every trigger', off: [] },
      ...triggers
        .filter((name) => name !== 'messages_assign_seq')
        .map((name) => ({ name: `without ${name}`, off: [name] })),
      { name: 'numbering only', off: triggers.filter((name) => name !== 'messages_assign_seq') },
      { name: 'every trigger, each message naming a member', off: [], naming: true },
    ]
    const samples = new Map<string, number[]>()
    for (let round = 1; round <= ROUNDS; round++) {
      for (const variant of variants) {
        const rate = await measure(sql, rooms, variant)
        samples.set(variant.name, [...(samples.get(variant.name) ?? []), rate])
        context.log(`  triggers: round ${round}, ${variant.name}: ${rate.toFixed(0)} inserts/s`)
      }
    }
    const rates = summarize(variants, samples)
    const bulk = []
    for (const rows of BULK_ROWS) bulk.push(await bulkInsert(sql, rows))
    logTable(context, rates, bulk)
    return { clients: CLIENTS, seconds: SECONDS, rounds: ROUNDS, rates, bulk }
  } finally {
    await sql.end({ timeout: 5 })
    context.live.delete(dispose)
    await dispose()
  }
}

interface Variant {
  name: string
  off: string[]
  /** Every body names a member of its room (@member), so the mention triggers have work. */
  naming?: boolean
}

async function makeRooms(sql: postgres.Sql): Promise<number[]> {
  const rows = await sql<{ id: string }[]>`
    insert into rooms (name, created_by)
    select 'triggers ' || i, 'bench' from generate_series(1, ${ROOMS}) as i returning id`
  const ids = rows.map((row) => Number(row.id))
  await sql`insert into room_members (room_id, user_id) select unnest(${sql.array(ids)}::bigint[]), 'member'`
  return ids
}

/** The enabled triggers an INSERT into messages fires, by name. */
async function insertTriggers(sql: postgres.Sql): Promise<string[]> {
  const rows = await sql<{ tgname: string }[]>`
    select tgname from pg_trigger
     where tgrelid = 'messages'::regclass and not tgisinternal and tgenabled <> 'D'
       and tgtype & 4 <> 0
     order by tgname`
  return rows.map((row) => row.tgname)
}

/** Inserts per second by CLIENTS connections for SECONDS, with `variant.off` disabled meanwhile. */
async function measure(sql: postgres.Sql, rooms: number[], variant: Variant): Promise<number> {
  await sql`truncate messages cascade`
  await sql`vacuum analyze messages`
  for (const name of variant.off) await sql.unsafe(`alter table messages disable trigger ${name}`)
  try {
    const deadline = performance.now() + SECONDS * 1000
    let inserted = 0
    const client = async (c: number) => {
      const connection = await sql.reserve()
      try {
        for (let i = 0; performance.now() < deadline; i++) {
          const room = rooms[(c * 7919 + i * 104_729) % rooms.length]!
          const body = variant.naming
            ? `hello @member from poster ${c}, message number ${i}`
            : `hello from poster ${c}, message number ${i}`
          await connection`insert into messages (room_id, user_id, user_name, body)
                           values (${room}, ${`poster-${c}`}, 'Poster', ${body})`
          inserted++
        }
      } finally {
        connection.release()
      }
    }
    const started = performance.now()
    await Promise.all(Array.from({ length: CLIENTS }, (_, c) => client(c)))
    return inserted / ((performance.now() - started) / 1000)
  } finally {
    await sql`alter table messages enable trigger all`
  }
}

function summarize(variants: Variant[], samples: Map<string, number[]>): TriggerRate[] {
  const median = (values: number[]) => {
    const sorted = [...values].sort((a, b) => a - b)
    const mid = Math.floor(sorted.length / 2)
    return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
  }
  const all = median(samples.get('every trigger') ?? [])
  return variants.map((variant) => {
    const perSecond = median(samples.get(variant.name) ?? [])
    const costMicros =
      perSecond <= 0 || all <= 0 || variant.name === 'every trigger'
        ? undefined
        : (variant.naming ? 1 / perSecond - 1 / all : 1 / all - 1 / perSecond) * 1e6
    return { variant: variant.name, perSecond, costMicros }
  })
}

/** One insert … select of `rows` messages into a new room, through every trigger. */
async function bulkInsert(sql: postgres.Sql, rows: number) {
  await sql`truncate messages cascade`
  await sql`vacuum analyze messages`
  const [room] = await sql<{ id: string }[]>`
    insert into rooms (name, created_by) values (${`bulk ${rows}`}, 'bench') returning id`
  const started = performance.now()
  await sql`insert into messages (room_id, user_id, user_name, body)
            select ${Number(room!.id)}, 'bulk', 'Bulk', 'hello from the bulk load, message number ' || i
              from generate_series(1, ${rows}) as i`
  const seconds = (performance.now() - started) / 1000
  return { rows, seconds, perSecond: rows / seconds }
}

function logTable(context: BenchContext, rates: TriggerRate[], bulk: TriggerRun['bulk']) {
  context.log(`  triggers: ${CLIENTS} clients of single-row inserts, median of ${ROUNDS} × ${SECONDS} s`)
  for (const { variant, perSecond, costMicros } of rates) {
    const cost = costMicros === undefined ? '' : `  (${costMicros.toFixed(0)} µs per insert)`
    context.log(`    ${variant.padEnd(50)} ${perSecond.toFixed(0).padStart(6)}/s${cost}`)
  }
  for (const { rows, seconds, perSecond } of bulk) {
    context.log(
      `  triggers: insert … select of ${rows} rows into one room: ${seconds.toFixed(1)} s, ${perSecond.toFixed(0)} rows/s`,
    )
  }
}
