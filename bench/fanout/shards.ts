import postgres from 'postgres'
import { type Instance, postgresBinaries, startInstance } from '../../harness/cluster.js'
import { channels } from '../../src/db/notify.js'
import type { BenchOptions } from './options.js'
import { cpuPercent, postgresCpuMeter } from './proc-stats.js'
import type { BenchContext } from './session.js'
import { measureMoves, type MovePoint } from './shard-move.js'
import { measureServerPosting, type ServerFanoutPoint, type ServerPostingPoint } from './shard-server.js'
import {
  type DeliveryPoint,
  measureDelivery,
  type ShardDatabase,
  startListeningProcess,
} from './shard-delivery.js'

export interface ShardRun {
  /** Every measurement is repeated this often, the variants interleaved; figures are medians. */
  rounds: number
  ceiling?: {
    clients: number
    seconds: number
    rooms: number
    variants: CeilingVariant[]
    /** Two instances ÷ one, with notifications and without. */
    ratio: number
    ratioWithoutNotify?: number
    /** The share of one instance's ceiling that NOTIFY takes: 1 − with ÷ without. */
    notifyShare?: number
    /** One instance with options.shardListeners LISTEN connections ÷ with one. */
    listenersRatio?: number
  }
  delivery?: { seconds: number; points: DeliveryPoint[] }
  /** A room of each size moved from the first instance to the second while written to. */
  moves?: MovePoint[]
  /** HTTP posting and fan-out through a Parley process over both, to rooms on one shard and on two. */
  server?: {
    points: ServerPostingPoint[]
    /** Medians: rooms on two shards ÷ rooms on one. */
    ratio: number
    fanout: ServerFanoutPoint[]
  }
}

export interface CeilingVariant {
  instances: number
  notify: boolean
  /** LISTEN connections on each instance in use. */
  listeners: number
  /** Single-row inserts per second over every instance: the median, and each round's. */
  perSecond: number
  samples: number[]
  /** CPU in percent of one core: every instance's PostgreSQL together, and this process. */
  postgresCpuPercent?: number
  loadCpuPercent: number
  /** Notifications the attached listeners received per insert (1 with notify on, 0 off). */
  heardPerInsert: number
}

const INSTANCES = 2
const ROUNDS = 2
const ROOMS = 1_000

interface Shard extends ShardDatabase {
  instance: Instance
  listener: postgres.Sql
  heard: number
  postgresCpu: (() => number | undefined) | undefined
}

/**
 * What sharding rooms over independent PostgreSQL instances rests on, on INSTANCES lone
 * primaries of the machine's PostgreSQL started for the scenario (harness/cluster.ts), each
 * migrated like production and holding ROOMS rooms. The ceiling: single-row inserts through
 * the triggers by a fixed number of clients, on one instance, then split over two, with
 * messages_notify on and off, each instance with a LISTEN connection attached, and once more
 * on one instance with options.shardListeners LISTEN connections, as that many processes
 * would hold, every one reading every notification. The delivery
 * side: one listening process, its CPU per 1,000 notifications/s from one instance and from two.
 * The move: how long a room's writes wait while it moves to the other instance (shard-move.ts).
 */
export async function runShards(context: BenchContext, options: BenchOptions): Promise<ShardRun> {
  if (!postgresBinaries) throw new Error('no PostgreSQL binaries (initdb, pg_ctl) here: set PG_BIN')
  const shards: Shard[] = []
  const stop = async () => {
    for (const shard of shards) {
      await shard.listener.end({ timeout: 1 })
      await shard.sql.end({ timeout: 1 })
      await shard.instance.stop()
    }
  }
  context.live.add(stop)
  try {
    for (let i = 0; i < INSTANCES; i++) shards.push(await openShard(await startInstance(), options))
    const run: ShardRun = { rounds: ROUNDS }
    if (options.shardParts.includes('ceiling')) run.ceiling = await runCeiling(context, options, shards)
    if (options.shardParts.includes('delivery')) {
      const points: DeliveryPoint[] = []
      // Longer than a ceiling step: the process's CPU time is counted in ticks of 10 ms.
      const deliverySeconds = 2 * options.shardSeconds
      for (let round = 1; round <= ROUNDS; round++) {
        for (const count of round % 2 === 1 ? [1, INSTANCES] : [INSTANCES, 1]) {
          const point = await measureDelivery(shards.slice(0, count), options.shardRate, deliverySeconds)
          context.log(
            `  shards: round ${round}, one process listening on ${count}: ${point.received.toFixed(0)} notices/s,` +
              ` CPU ${point.cpuPercent.toFixed(1)}% (${point.cpuPerThousand.toFixed(2)}% per 1,000/s)`,
          )
          points.push(point)
        }
      }
      run.delivery = { seconds: deliverySeconds, points }
    }
    if (options.shardParts.includes('move')) {
      run.moves = await measureMoves([shards[0]!.url, shards[1]!.url], context.log)
    }
    if (options.shardParts.includes('server')) {
      const { posting, fanout } = await measureServerPosting(
        context,
        options,
        [shards[0]!.url, shards[1]!.url],
        ROUNDS,
      )
      const rate = (count: 1 | 2) =>
        median(posting.filter((point) => point.shards === count).map((point) => point.requestsPerSecond))
      run.server = { points: posting, ratio: rate(2) / rate(1), fanout }
    }
    return run
  } finally {
    context.live.delete(stop)
    await stop()
  }
}

async function openShard(instance: Instance, options: BenchOptions): Promise<Shard> {
  const sql = postgres(instance.url, {
    max: options.shardClients,
    onnotice: () => {},
    connection: { application_name: 'bench-shards', synchronous_commit: 'off' },
  })
  const listener = postgres(instance.url, { max: 1, onnotice: () => {} })
  const roomIds = (
    await sql<{ id: string }[]>`
      insert into rooms (name, created_by)
      select 'shard-' || g, 'bench' from generate_series(1, ${ROOMS}::int) g returning id`
  ).map((row) => Number(row.id))
  const shard: Shard = {
    instance,
    url: instance.url,
    sql,
    listener,
    roomIds,
    heard: 0,
    postgresCpu: await postgresCpuMeter(sql),
  }
  await listener.listen(channels.messages, () => shard.heard++)
  return shard
}

async function runCeiling(context: BenchContext, options: BenchOptions, shards: Shard[]) {
  const order: Variant[] = [
    { instances: 1, notify: true, listeners: 1 },
    { instances: INSTANCES, notify: true, listeners: 1 },
    { instances: 1, notify: false, listeners: 1 },
    { instances: INSTANCES, notify: false, listeners: 1 },
    { instances: 1, notify: true, listeners: options.shardListeners },
  ]
  const measured = new Map<string, Measurement[]>()
  const key = (v: Variant) => `${v.instances}/${v.notify}/${v.listeners}`
  for (let round = 1; round <= ROUNDS; round++) {
    // Reversed every other round, so that neither of a pair always runs first.
    for (const variant of round % 2 === 1 ? order : [...order].reverse()) {
      const result = await measureCeiling(shards.slice(0, variant.instances), variant, options)
      measured.set(key(variant), [...(measured.get(key(variant)) ?? []), result])
      context.log(
        `  shards: round ${round}, ${variant.instances} instance(s), notify ${variant.notify ? 'on' : 'off'},` +
          ` ${variant.listeners} LISTEN connection(s) each:` +
          ` ${result.perSecond.toFixed(0)} inserts/s, PostgreSQL CPU ${result.postgresCpuPercent?.toFixed(0) ?? '?'}%`,
      )
    }
  }
  const variants = order.map((variant): CeilingVariant => {
    const results = measured.get(key(variant)) ?? []
    return {
      ...variant,
      perSecond: median(results.map((r) => r.perSecond)),
      samples: results.map((r) => r.perSecond),
      postgresCpuPercent: results.every((r) => r.postgresCpuPercent !== undefined)
        ? median(results.map((r) => r.postgresCpuPercent!))
        : undefined,
      loadCpuPercent: median(results.map((r) => r.loadCpuPercent)),
      heardPerInsert: median(results.map((r) => r.heardPerInsert)),
    }
  })
  const rate = (instances: number, notify: boolean, listeners = 1) =>
    variants.find((v) => v.instances === instances && v.notify === notify && v.listeners === listeners)
      ?.perSecond ?? Number.NaN
  return {
    clients: options.shardClients,
    seconds: options.shardSeconds,
    rooms: ROOMS,
    variants,
    ratio: rate(INSTANCES, true) / rate(1, true),
    ratioWithoutNotify: rate(INSTANCES, false) / rate(1, false),
    notifyShare: 1 - rate(1, true) / rate(1, false),
    listenersRatio: rate(1, true, options.shardListeners) / rate(1, true),
  }
}

type Variant = Pick<CeilingVariant, 'instances' | 'notify' | 'listeners'>
type Measurement = Omit<CeilingVariant, keyof Variant | 'perSecond' | 'samples'> & { perSecond: number }

/**
 * options.shardClients connections inserting single rows for options.shardSeconds, split
 * evenly over `shards`, each into its shard's rooms in a scattered order. The LISTEN
 * connections past each shard's own are held by a listening process of their own.
 */
async function measureCeiling(
  shards: Shard[],
  variant: Variant,
  options: BenchOptions,
): Promise<Measurement> {
  const { notify, listeners } = variant
  const extra =
    listeners > 1
      ? await startListeningProcess(shards.flatMap((shard) => Array<string>(listeners - 1).fill(shard.url)))
      : undefined
  for (const shard of shards) {
    await shard.sql`truncate messages cascade`
    await shard.sql`vacuum analyze messages`
    // Off for single rows only: for a statement of many rows it also writes the rooms' counters.
    if (!notify) await shard.sql`alter table messages disable trigger messages_notify`
  }
  try {
    const heardBefore = shards.reduce((sum, shard) => sum + shard.heard, 0)
    const cpuBefore = shards.map((shard) => shard.postgresCpu?.())
    const loadBefore = process.cpuUsage()
    const deadline = performance.now() + options.shardSeconds * 1000
    let inserted = 0
    const client = async (c: number) => {
      const shard = shards[c % shards.length]!
      const connection = await shard.sql.reserve()
      try {
        for (let i = 0; performance.now() < deadline; i++) {
          const room = shard.roomIds[(c * 7919 + i * 104_729) % shard.roomIds.length]!
          await connection`insert into messages (room_id, user_id, user_name, body)
                           values (${room}, ${`poster-${c}`}, 'Poster', ${`hello from poster ${c}, number ${i}`})`
          inserted++
        }
      } finally {
        connection.release()
      }
    }
    const started = performance.now()
    await Promise.all(Array.from({ length: options.shardClients }, (_, c) => client(c)))
    const seconds = (performance.now() - started) / 1000
    const load = process.cpuUsage(loadBefore)
    const cpus = shards.map((shard, i) => cpuPercent(cpuBefore[i], shard.postgresCpu?.(), seconds))
    // What was sent before the last commit arrives a moment later.
    await new Promise((resolve) => setTimeout(resolve, 200))
    const heard = shards.reduce((sum, shard) => sum + shard.heard, 0) - heardBefore
    return {
      perSecond: inserted / seconds,
      postgresCpuPercent: cpus.every((cpu) => cpu !== undefined)
        ? cpus.reduce((sum: number, cpu) => sum + cpu!, 0)
        : undefined,
      loadCpuPercent: ((load.user + load.system) / 1e6 / seconds) * 100,
      heardPerInsert: inserted > 0 ? heard / inserted : 0,
    }
  } finally {
    for (const shard of shards) await shard.sql`alter table messages enable trigger messages_notify`
    await extra?.stop()
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  if (sorted.length === 0) return Number.NaN
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}
