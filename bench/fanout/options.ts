import { parseArgs } from 'node:util'
import { TARGET_NAMES, type TargetName } from './targets.js'

export const SCENARIOS = [
  'fanout',
  'ceiling',
  'scaling',
  'posting',
  'storm',
  'crowd',
  'data',
  'search',
  'failover',
  'webhooks',
  'triggers',
  'shards',
] as const
export type Scenario = (typeof SCENARIOS)[number]

export const SHARD_PARTS = ['ceiling', 'delivery', 'move', 'server'] as const
export type ShardPart = (typeof SHARD_PARTS)[number]

export interface BenchOptions {
  scenarios: Scenario[]
  targets: TargetName[]
  subscribers: number
  rooms: number
  /** Messages per second over all rooms. */
  rate: number
  seconds: number
  /** Length of each ceiling step and scaling point. */
  stepSeconds: number
  ceilingRates: number[]
  /** The ceiling's pass mark. */
  maxP99Ms: number
  scalingSubscribers: number[]
  scalingRooms: number[]
  /** Every combination instead of the cross through the fan-out's subscribers and rooms. */
  scalingGrid: boolean
  scalingTargets: TargetName[]
  /** Concurrent posting clients, one measurement each. */
  posters: number[]
  bodyBytes: number
  /**
   * What the fan-out's writes are, in percent: new messages, reactions added to recent
   * messages, and edits of recent messages. Only Parley streams reactions and edits, so with
   * any of them the fan-out runs on Parley alone.
   */
  mix: WriteMix
  /** The reconnect storm: streams of distinct users, over rooms, each this many messages behind. */
  stormStreams: number
  stormRooms: number
  stormBehind: number
  /** People opening one room's stream at once. */
  crowd: number
  /** Data scale: messages in the biggest room at each step, and the rooms of the last step. */
  dataSizes: number[]
  dataRooms: number
  /** Search: messages seeded over rooms in a database of the scenario's own. */
  searchMessages: number
  searchRooms: number
  /** Failover: streams over rooms, on a primary and standby of the scenario's own. */
  failoverStreams: number
  failoverRooms: number
  /** Shards: which parts run, single-row insert clients, seconds per measurement, notifications/s. */
  shardParts: ShardPart[]
  shardClients: number
  /** LISTEN connections on the instance in the ceiling's many-listeners variant. */
  shardListeners: number
  shardSeconds: number
  shardRate: number
  /** Inserts wait for the WAL flush (synchronous_commit on) instead of leaving disk latency out. */
  durable: boolean
  /** Steps and points that would end past this are skipped, so the run stays bounded. */
  budgetSeconds: number
  /** Run the servers with --cpu-prof (profiles under bench/results/profiles). */
  profile: boolean
  out: string
}

export interface WriteMix {
  messages: number
  reactions: number
  edits: number
}

const USAGE = `Usage: npm run bench -- [options]

  --scenario LIST           ${SCENARIOS.join(',')} (all)
  --targets LIST            ${TARGET_NAMES.join(',')} (all)
  --subscribers N           fan-out subscribers (10000; at most 15000)
  --rooms N                 rooms, subscribers spread evenly (100)
  --rate N                  messages per second over all rooms, inserted with SQL (200)
  --seconds N               fan-out duration (10)
  --step-seconds N          duration of each ceiling step and scaling point (5)
  --ceiling-rates LIST      message rates tried in turn until one fails (100,200,…,12800); a server
                            that fails the first is tried at half of it, a quarter…, down to 1/16;
                            then halfway between the last rate passed and the first failed, until
                            they are within 15%
  --max-p99-ms N            a ceiling step passes with p99 at most this and nothing missing (100)
  --scaling-subscribers L   (1000,5000,10000,15000)
  --scaling-rooms LIST      (10,100,1000); each room gets rate/rooms messages per second
  --scaling-grid            every subscribers × rooms pair, not only the cross through the defaults
  --scaling-targets LIST    servers the scaling curve runs on (parley,raw)
  --posters LIST            concurrent clients for the posting scenario, each its own user (1,8,32,128)
  --body-bytes N            message body length (100)
  --mix M,R,E               the fan-out's writes in percent: new messages, reactions, edits
                            (100,0,0); with reactions or edits only Parley runs the fan-out
  --storm-streams N         reconnect storm: streams of distinct users opened at once (10000)
  --storm-rooms N           rooms the storm's streams spread over (100)
  --storm-behind N          messages each storm stream resumes behind its room (100)
  --crowd N                 people opening one room's stream at once, then leaving (5000)
  --data-sizes LIST         data scale: messages in the biggest room, step by step
                            (1000,100000,1000000,10000000); run last, it grows the database
  --data-rooms N            rooms at the data scale's last step (10000)
  --search-messages N       search: messages seeded in a database of its own (10000000)
  --search-rooms N          search: private rooms they are spread over (10000)
  --failover-streams N      failover: streams over two Parley instances on a primary and a
                            synchronous standby of their own, while the primary dies (200)
  --failover-rooms N        failover: rooms the streams spread over (10)
  --shard-parts LIST        shards, on two lone PostgreSQL instances of their own: ceiling (single-row
                            inserts through the triggers on one instance, then over two, notify on
                            and off), delivery (one process listening on one, then two), move
                            (rooms of 1k, 10k, 100k and 1M messages moved between them while written
                            to: how long their writes wait) and server (HTTP posting and fan-out
                            through one Parley process over both, to rooms on one shard, then on
                            two) (all)
  --shard-clients N         shards: single-row insert clients in all, split over the instances (8)
  --shard-listeners N       shards: LISTEN connections on one instance in the ceiling's last variant,
                            as many Parley processes would hold (20)
  --shard-seconds N         shards: seconds per ceiling measurement, twice that per delivery one;
                            each made twice (5)
  --shard-rate N            shards: notifications per second the listening process receives (4000)
  --durable                 inserts wait for the disk (synchronous_commit on); by default they do not,
                            so the figures are about fan-out, not about this machine's fsync
  --budget-minutes N        skip steps and scenarios that would end later (60: a full run takes
                            about 35 minutes here, so none is skipped)
  --profile                 write V8 CPU profiles of the servers to bench/results/profiles/
  --quick                   a smoke run of everything in about two minutes
  --out PATH                JSON results (bench/results/latest.json)

DATABASE_URL set: a fresh database on that server, dropped at the end; unset: an embedded
PostgreSQL in a temporary directory. On a shared server, mind that listen-per-subscriber takes
every connection the server has left for as long as its scenarios run.`

const DEFAULTS: Omit<BenchOptions, 'scenarios' | 'targets' | 'profile' | 'durable' | 'out' | 'shardParts'> = {
  subscribers: 10_000,
  rooms: 100,
  rate: 200,
  seconds: 10,
  stepSeconds: 5,
  ceilingRates: [100, 200, 400, 800, 1600, 3200, 6400, 12800],
  maxP99Ms: 100,
  scalingSubscribers: [1000, 5000, 10_000, 15_000],
  scalingRooms: [10, 100, 1000],
  scalingGrid: false,
  scalingTargets: ['parley', 'raw'],
  posters: [1, 8, 32, 128],
  bodyBytes: 100,
  mix: { messages: 100, reactions: 0, edits: 0 },
  stormStreams: 10_000,
  stormRooms: 100,
  stormBehind: 100,
  crowd: 5_000,
  dataSizes: [1000, 100_000, 1_000_000, 10_000_000],
  dataRooms: 10_000,
  searchMessages: 10_000_000,
  searchRooms: 10_000,
  failoverStreams: 200,
  failoverRooms: 10,
  shardClients: 8,
  shardListeners: 20,
  shardSeconds: 5,
  shardRate: 4000,
  budgetSeconds: 3_600,
}

const QUICK: Partial<BenchOptions> = {
  subscribers: 1000,
  rooms: 20,
  rate: 100,
  seconds: 3,
  stepSeconds: 2,
  ceilingRates: [100, 400, 1600],
  scalingSubscribers: [500],
  scalingRooms: [10],
  scalingTargets: ['parley'],
  posters: [1, 8],
  stormStreams: 1000,
  stormRooms: 20,
  crowd: 500,
  dataSizes: [1000, 100_000],
  dataRooms: 1000,
  searchMessages: 100_000,
  searchRooms: 1000,
  shardSeconds: 2,
  budgetSeconds: 240,
}

/** Parses the command line; prints usage and exits on --help or a bad value. */
export function parseBenchOptions(argv = process.argv.slice(2)): BenchOptions {
  const text = { type: 'string' } as const
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      scenario: text,
      targets: text,
      subscribers: text,
      rooms: text,
      rate: text,
      seconds: text,
      'step-seconds': text,
      'ceiling-rates': text,
      'max-p99-ms': text,
      'scaling-subscribers': text,
      'scaling-rooms': text,
      'scaling-grid': { type: 'boolean' },
      'scaling-targets': text,
      posters: text,
      'body-bytes': text,
      mix: text,
      'storm-streams': text,
      'storm-rooms': text,
      'storm-behind': text,
      crowd: text,
      'data-sizes': text,
      'data-rooms': text,
      'search-messages': text,
      'search-rooms': text,
      'failover-streams': text,
      'failover-rooms': text,
      'shard-parts': text,
      'shard-clients': text,
      'shard-listeners': text,
      'shard-seconds': text,
      'shard-rate': text,
      durable: { type: 'boolean' },
      'budget-minutes': text,
      profile: { type: 'boolean' },
      quick: { type: 'boolean' },
      out: text,
      help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help) {
    console.log(USAGE)
    process.exit(0)
  }
  const base = { ...DEFAULTS, ...(values.quick ? QUICK : {}) }
  const fail = (message: string): never => {
    console.error(`${message}\n\n${USAGE}`)
    process.exit(2)
  }
  const number = (name: keyof typeof values, fallback: number, min: number, max: number): number => {
    const raw = values[name]
    if (raw === undefined) return fallback
    const value = Number(raw)
    if (typeof raw !== 'string' || raw.trim() === '' || !Number.isFinite(value) || value < min || value > max)
      fail(`--${name} must be a number from ${min} to ${max}`)
    return value
  }
  const numbers = (name: keyof typeof values, fallback: number[], min: number, max: number): number[] => {
    const raw = values[name]
    if (typeof raw !== 'string') return fallback
    const list = raw.split(',').map(Number)
    if (list.some((value) => !Number.isInteger(value) || value < min || value > max))
      fail(`--${name} must be a comma-separated list of integers from ${min} to ${max}`)
    return list
  }
  const names = <T extends string>(name: keyof typeof values, allowed: readonly T[], fallback: T[]): T[] => {
    const raw = values[name]
    if (typeof raw !== 'string') return fallback
    const list = raw.split(',').map((value) => value.trim())
    const unknown = list.filter((value) => !(allowed as readonly string[]).includes(value))
    if (unknown.length > 0)
      fail(`--${name}: unknown ${unknown.join(', ')}; choose from ${allowed.join(', ')}`)
    return list as T[]
  }
  const mix = (): WriteMix => {
    const parts = numbers('mix', [], 0, 100)
    if (parts.length === 0) return base.mix
    const [messages = 0, reactions = 0, edits = 0] = parts
    if (parts.length !== 3 || messages + reactions + edits !== 100 || messages === 0)
      fail('--mix must be three percentages adding up to 100, new messages first and not 0')
    return { messages, reactions, edits }
  }
  const maxSubscribers = 15_000
  const writes = mix()
  // The baselines stream new messages only: a mix with reactions or edits is Parley's alone.
  const onlyMessages = writes.messages === 100
  return {
    scenarios: names('scenario', SCENARIOS, [...SCENARIOS]),
    targets: onlyMessages ? names('targets', TARGET_NAMES, [...TARGET_NAMES]) : ['parley'],
    subscribers: Math.round(number('subscribers', base.subscribers, 1, maxSubscribers)),
    rooms: Math.round(number('rooms', base.rooms, 1, 10_000)),
    rate: number('rate', base.rate, 1, 100_000),
    seconds: number('seconds', base.seconds, 1, 600),
    stepSeconds: number('step-seconds', base.stepSeconds, 1, 600),
    ceilingRates: numbers('ceiling-rates', base.ceilingRates, 1, 1_000_000),
    maxP99Ms: number('max-p99-ms', base.maxP99Ms, 1, 60_000),
    scalingSubscribers: numbers('scaling-subscribers', base.scalingSubscribers, 1, maxSubscribers),
    scalingRooms: numbers('scaling-rooms', base.scalingRooms, 1, 10_000),
    scalingGrid: values['scaling-grid'] ?? false,
    scalingTargets: onlyMessages ? names('scaling-targets', TARGET_NAMES, base.scalingTargets) : ['parley'],
    posters: numbers('posters', base.posters, 1, 1000),
    bodyBytes: Math.round(number('body-bytes', base.bodyBytes, 24, 2000)),
    mix: writes,
    stormStreams: Math.round(number('storm-streams', base.stormStreams, 1, maxSubscribers)),
    stormRooms: Math.round(number('storm-rooms', base.stormRooms, 1, 10_000)),
    stormBehind: Math.round(number('storm-behind', base.stormBehind, 1, 10_000)),
    crowd: Math.round(number('crowd', base.crowd, 1, maxSubscribers)),
    dataSizes: numbers('data-sizes', base.dataSizes, 1, 100_000_000),
    dataRooms: Math.round(number('data-rooms', base.dataRooms, 1, 1_000_000)),
    searchMessages: Math.round(number('search-messages', base.searchMessages, 1, 100_000_000)),
    searchRooms: Math.round(number('search-rooms', base.searchRooms, 1, 1_000_000)),
    failoverStreams: Math.round(number('failover-streams', base.failoverStreams, 1, maxSubscribers)),
    failoverRooms: Math.round(number('failover-rooms', base.failoverRooms, 1, 10_000)),
    shardParts: names('shard-parts', SHARD_PARTS, [...SHARD_PARTS]),
    shardClients: Math.round(number('shard-clients', base.shardClients, 2, 64)),
    shardListeners: Math.round(number('shard-listeners', base.shardListeners, 2, 150)),
    shardSeconds: number('shard-seconds', base.shardSeconds, 1, 10),
    shardRate: Math.round(number('shard-rate', base.shardRate, 10, 100_000)),
    durable: values.durable ?? false,
    budgetSeconds: number('budget-minutes', base.budgetSeconds / 60, 1, 600) * 60,
    profile: values.profile ?? false,
    out: values.out ?? 'bench/results/latest.json',
  }
}
