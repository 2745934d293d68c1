import { type ChildProcess, fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import type postgres from 'postgres'
import { cpuSeconds } from './proc-stats.js'

export interface DeliveryPoint {
  /** Instances the one listening process holds a LISTEN connection to, the rate split evenly. */
  instances: number
  /** Notifications per second asked of the instances together, and received by the process. */
  rate: number
  received: number
  /** CPU of the listening process in percent of one core, and that per 1,000 notifications/s. */
  cpuPercent: number
  cpuPerThousand: number
}

export interface ShardDatabase {
  url: string
  sql: postgres.Sql
  roomIds: number[]
}

const LISTENER = fileURLToPath(new URL('./shard-listener.ts', import.meta.url))
/** Rooms a statement writes to: a multi-row insert notifies once per room, as a posting batch does. */
const ROOMS_PER_STATEMENT = 20
/** Writers per instance, so that one slow commit does not put the rate behind. */
const WRITERS = 4
const WARM_UP_MS = 2_000

/**
 * One listening process (bench/fanout/shard-listener.ts) with a LISTEN connection to each of
 * `shards`, while this process makes `rate` notifications per second over them together,
 * through the triggers: statements of a row in each of ROOMS_PER_STATEMENT rooms, paced
 * by the clock. After a warm-up, the process's CPU time and the notices it parsed over `seconds`.
 */
export async function measureDelivery(
  shards: ShardDatabase[],
  rate: number,
  seconds: number,
): Promise<DeliveryPoint> {
  const listening = await startListeningProcess(shards.map((shard) => shard.url))
  let writing = true
  try {
    const perWriter = rate / shards.length / WRITERS / ROOMS_PER_STATEMENT
    const writers = shards.flatMap((shard) =>
      Array.from({ length: WRITERS }, (_, w) => write(shard, w, perWriter, () => writing)),
    )
    await sleep(WARM_UP_MS)
    const cpuBefore = cpuSeconds(listening.pid) ?? 0
    const countBefore = await listening.notices()
    const started = performance.now()
    await sleep(seconds * 1000)
    const cpuAfter = cpuSeconds(listening.pid) ?? 0
    const countAfter = await listening.notices()
    const elapsed = (performance.now() - started) / 1000
    writing = false
    await Promise.all(writers)
    const received = (countAfter - countBefore) / elapsed
    const cpuPercent = ((cpuAfter - cpuBefore) / elapsed) * 100
    return {
      instances: shards.length,
      rate,
      received,
      cpuPercent,
      cpuPerThousand: received > 0 ? cpuPercent / (received / 1000) : Number.NaN,
    }
  } finally {
    writing = false
    await listening.stop()
  }
}

export interface ListeningProcess {
  pid: number
  /** Message notices its listeners have parsed so far, together. */
  notices(): Promise<number>
  stop(): Promise<void>
}

/** bench/fanout/shard-listener.ts with a LISTEN connection to each of `urls` (a URL may repeat); resolves once all hear. */
export async function startListeningProcess(urls: string[]): Promise<ListeningProcess> {
  const child = fork(LISTENER, urls, {
    execArgv: process.execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const killOnExit = () => child.kill('SIGKILL')
  process.on('exit', killOnExit)
  const stop = async () => {
    process.off('exit', killOnExit)
    const exited = new Promise((resolve) => child.once('exit', resolve))
    if (child.connected) child.disconnect()
    await Promise.race([exited, sleep(5_000).then(() => child.kill('SIGKILL'))])
  }
  try {
    await reply(child, (message) => message.ready === true)
  } catch (error) {
    await stop()
    throw error
  }
  return { pid: child.pid!, notices: () => count(child), stop }
}

/** Statements at `perSecond` on `shard`, each into the writer's next ROOMS_PER_STATEMENT rooms, while `going()`. */
async function write(
  shard: ShardDatabase,
  writer: number,
  perSecond: number,
  going: () => boolean,
): Promise<void> {
  const started = performance.now()
  let sent = 0
  while (going()) {
    const due = Math.floor(((performance.now() - started) / 1000) * perSecond)
    if (sent >= due) {
      await sleep(5)
      continue
    }
    const first = ((sent * WRITERS + writer) * ROOMS_PER_STATEMENT) % shard.roomIds.length
    const rooms = shard.roomIds.slice(first, first + ROOMS_PER_STATEMENT)
    await shard.sql`insert into messages (room_id, user_id, user_name, body)
                    select r, 'bench', 'Bench', 'shard delivery' from unnest(${rooms}::bigint[]) r`
    sent++
  }
}

async function count(child: ChildProcess): Promise<number> {
  const answer = reply(child, (message) => typeof message.notices === 'number')
  child.send('count')
  return Number((await answer).notices)
}

/** The child's next message that `matches`; rejects if it exits first or says nothing for 30 s. */
function reply(
  child: ChildProcess,
  matches: (message: Record<string, unknown>) => boolean,
): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error('the shard listener did not answer within 30 s')), 30_000)
    const onMessage = (message: unknown) => {
      if (typeof message === 'object' && message !== null && matches(message as Record<string, unknown>))
        done(undefined, message as Record<string, unknown>)
    }
    const onExit = (code: number | null) => done(new Error(`the shard listener exited (${code})`))
    function done(error?: Error, message?: Record<string, unknown>) {
      clearTimeout(timer)
      child.off('message', onMessage)
      child.off('exit', onExit)
      if (error) reject(error)
      else resolve(message!)
    }
    child.on('message', onMessage)
    child.on('exit', onExit)
  })
}
