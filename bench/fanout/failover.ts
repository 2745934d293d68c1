import { Agent } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import postgres from 'postgres'
import { type Cluster, postgresBinaries, startCluster } from '../../harness/cluster.js'
import { requestJson } from '../lib/http-json.js'
import { type FollowingStream, followRoom } from './following-stream.js'
import type { BenchOptions } from './options.js'
import type { BenchContext } from './session.js'
import { startTargetProcess, type TargetProcess } from './target-process.js'
import { targetLaunch } from './targets.js'

export interface FailoverRun {
  streams: number
  rooms: number
  instances: number
  /** From the primary's crash to the standby accepting writes: the failover manager's part. */
  promotionMs: number
  /** From the promotion to the last stream receiving a message written after it. */
  recoveredMs: number
  recoveredP50Ms: number
  /** Streams that delivered again within 30 s of the promotion. */
  recovered: number
  /** Times a server ended a stream and it came back with its Last-Event-ID, as EventSource does. */
  reconnects: number
  /** Writes answered during the run, over HTTP (both instances) and SQL; failed: HTTP errors. */
  writes: { http: number; sql: number; failed: number }
  /** Acknowledged writes the new primary does not have. */
  lostAcknowledged: number
  /** Committed messages of a stream's room that the stream never received, over all streams. */
  missing: number
  /** Messages a stream received more than once, over all streams. */
  duplicated: number
  /** `event: reload` frames: a stream told its history went back, which sync replication rules out. */
  reloads: number
  failedToOpen: number
  firstError?: string
}

const INSTANCES = 2
const HTTP_POSTERS = 4
const WRITE_PAUSE_MS = 25
/** What a failover manager takes to decide the primary is gone, roughly. */
const DECISION_MS = 1_000
const AFTER_PROMOTION_MS = 3_000
const DEADLINE_MS = 30_000

/**
 * Failover under load: a primary and a synchronous standby of the machine's PostgreSQL,
 * two Parley instances given both hosts, streams over rooms on both, and writers over
 * HTTP and SQL. The primary is killed, the standby promoted a second later; measures how
 * long until every stream delivers again, and whether any stream lost or repeated a message.
 */
export async function runFailover(context: BenchContext, options: BenchOptions): Promise<FailoverRun> {
  if (!postgresBinaries) throw new Error('no PostgreSQL with pg_basebackup and pg_rewind here: set PG_BIN')
  const cluster = await startCluster({ synchronous: true })
  const sql = postgres(cluster.url, { max: 4, target_session_attrs: 'primary', onnotice: () => {} })
  const servers: TargetProcess[] = []
  const streams: FollowingStream[] = []
  const stop = async () => {
    for (const stream of streams) stream.close()
    await Promise.all(servers.map((server) => server.stop()))
    await sql.end({ timeout: 1 })
    await cluster.stop()
  }
  context.live.add(stop)
  try {
    const launch = targetLaunch('parley', { ...context.launch, databaseUrl: cluster.url })
    for (let i = 0; i < INSTANCES; i++) servers.push(await startTargetProcess(launch))
    const roomIds = (
      await sql<{ id: string }[]>`
        insert into rooms (name, created_by)
        select 'failover-' || g, 'bench' from generate_series(1, ${options.failoverRooms}::int) g
        returning id`
    ).map((row) => Number(row.id))
    return await measure(context, options, { cluster, sql, servers, roomIds, streams })
  } finally {
    context.live.delete(stop)
    await stop()
  }
}

interface Rig {
  cluster: Cluster
  sql: postgres.Sql
  servers: TargetProcess[]
  roomIds: number[]
  /** Filled by measure(), closed by the caller. */
  streams: FollowingStream[]
}

async function measure(context: BenchContext, options: BenchOptions, rig: Rig): Promise<FailoverRun> {
  const { cluster, sql, servers, roomIds, streams } = rig
  let failedToOpen = 0
  let firstError: string | undefined
  for (let i = 0; i < options.failoverStreams; i++) {
    // Every room has streams on every instance.
    const index = Math.floor(i / roomIds.length) % servers.length
    const opened = await followRoom(
      { url: servers[index]!.url, index },
      roomIds[i % roomIds.length]!,
      context.token,
    )
    if (opened.failure === undefined) streams.push(opened.stream)
    else {
      failedToOpen++
      firstError ??= opened.failure
    }
  }
  const writers = startWriters(servers, sql, roomIds, context.token)
  if (!(await waitUntil(() => streams.every((stream) => stream.seqs.length >= 3))))
    throw new Error(`not every stream received its first messages within ${DEADLINE_MS} ms`)

  const killedAt = performance.now()
  await cluster.killPrimary()
  await sleep(DECISION_MS)
  await cluster.promoteStandby()
  const promotedAt = performance.now()
  // The first message of each room written after the promotion, on the new primary itself.
  const after = await markEveryRoom(cluster.standbyUrl, roomIds, 'after promotion')
  if (!(await waitUntil(() => streams.every((stream) => hasReached(stream, after))))) {
    for (const [i, server] of servers.entries()) context.log(`  instance ${i} said:\n${server.outputTail()}`)
  }
  const recovered = streams
    .filter((stream) => hasReached(stream, after))
    .map(
      (stream) => stream.at[stream.seqs.findIndex((seq) => seq >= after.get(stream.roomId)!)]! - promotedAt,
    )
    .sort((a, b) => a - b)
  await sleep(AFTER_PROMOTION_MS)
  await writers.stop()

  const end = await markEveryRoom(cluster.standbyUrl, roomIds, 'the end')
  // Whatever has not arrived by then counts as missing.
  await waitUntil(() => streams.every((stream) => hasReached(stream, end)))
  const committed = await committedSeqs(sql, roomIds)
  const result: FailoverRun = {
    streams: streams.length,
    rooms: roomIds.length,
    instances: servers.length,
    promotionMs: Math.round(promotedAt - killedAt),
    recoveredMs: Math.round(recovered.at(-1) ?? Number.NaN),
    recoveredP50Ms: Math.round(recovered[Math.floor(recovered.length / 2)] ?? Number.NaN),
    recovered: recovered.length,
    reconnects: streams.reduce((sum, stream) => sum + stream.reconnects, 0),
    writes: { http: writers.http.length, sql: writers.sql.length, failed: writers.failed() },
    lostAcknowledged: [...writers.http, ...writers.sql].filter(
      ([room, seq]) => !committed.get(room)?.has(seq),
    ).length,
    ...countDeliveries(streams, committed),
    failedToOpen,
    firstError: firstError ?? stalled(streams, after) ?? writers.firstError(),
  }
  context.log(
    `  failover: ${result.recovered}/${result.streams} streams delivering again ${result.recoveredMs} ms after the promotion` +
      ` (p50 ${result.recoveredP50Ms} ms; promotion ${result.promotionMs} ms after the crash; ${result.reconnects} reconnects);` +
      ` lost ${result.lostAcknowledged}, missing ${result.missing}, duplicated ${result.duplicated}, reloads ${result.reloads}`,
  )
  return result
}

/** Which rooms on which instances did not deliver again after the promotion, if any. */
function stalled(streams: FollowingStream[], after: Map<number, number>): string | undefined {
  const where = new Set(
    streams
      .filter((stream) => !hasReached(stream, after))
      .map((s) => `room ${s.roomId} on instance ${s.server}`),
  )
  return where.size === 0 ? undefined : `no delivery after the promotion: ${[...where].join(', ')}`
}

interface Writers {
  /** [room, seq] of every write acknowledged. */
  http: [number, number][]
  sql: [number, number][]
  failed(): number
  firstError(): string | undefined
  stop(): Promise<void>
}

/** HTTP posters over both instances and one SQL writer, each over every room in turn, until stopped. */
function startWriters(
  servers: TargetProcess[],
  sql: postgres.Sql,
  roomIds: number[],
  token: string,
): Writers {
  const agent = new Agent({ keepAlive: true })
  const http: [number, number][] = []
  const inserted: [number, number][] = []
  let failed = 0
  let firstError: string | undefined
  let writing = true
  const poster = async (p: number) => {
    for (let n = p; writing; n += HTTP_POSTERS) {
      const roomId = roomIds[n % roomIds.length]!
      const url = new URL(`/rooms/${roomId}/messages`, servers[n % servers.length]!.url)
      const body = { body: `http ${n}` }
      const response = await requestJson(url, {
        method: 'POST',
        token,
        body,
        agent,
        timeoutMs: DEADLINE_MS,
      }).catch((error: unknown) => ({ status: 0, body: String(error) }))
      if (response.status === 201) http.push([roomId, (response.body as { seq: number }).seq])
      else {
        failed++
        firstError ??= `POST: ${response.status} ${JSON.stringify(response.body).slice(0, 200)}`
      }
      await sleep(WRITE_PAUSE_MS)
    }
  }
  const writer = async () => {
    for (let n = 0; writing; n++) {
      const roomId = roomIds[n % roomIds.length]!
      const rows = await sql<{ seq: string }[]>`
        insert into messages (room_id, user_id, user_name, body)
        values (${roomId}, 'psql', 'psql', ${`sql ${n}`}) returning seq`.catch(() => [])
      if (rows[0]) inserted.push([roomId, Number(rows[0].seq)])
      await sleep(WRITE_PAUSE_MS)
    }
  }
  const running = [...Array.from({ length: HTTP_POSTERS }, (_, p) => poster(p)), writer()]
  return {
    http,
    sql: inserted,
    failed: () => failed,
    firstError: () => firstError,
    async stop() {
      writing = false
      await Promise.all(running)
      agent.destroy()
    },
  }
}

/** Inserts one message in every room on the server at `url` alone; returns each room's seq. */
async function markEveryRoom(url: string, roomIds: number[], body: string): Promise<Map<number, number>> {
  const sql = postgres(url, { max: 1, onnotice: () => {} })
  try {
    const rows = await sql<{ room_id: string; seq: string }[]>`
      insert into messages (room_id, user_id, user_name, body)
      select r, 'bench', 'Bench', ${body} from unnest(${roomIds}::bigint[]) r
      returning room_id, seq`
    return new Map(rows.map((row) => [Number(row.room_id), Number(row.seq)]))
  } finally {
    await sql.end({ timeout: 1 })
  }
}

const hasReached = (stream: FollowingStream, marks: Map<number, number>) =>
  stream.seqs.some((seq) => seq >= marks.get(stream.roomId)!)

async function committedSeqs(sql: postgres.Sql, roomIds: number[]): Promise<Map<number, Set<number>>> {
  const rows = await sql<{ room_id: string; seq: string }[]>`
    select room_id, seq from messages where room_id = any(${roomIds}::bigint[])`
  const committed = new Map(roomIds.map((roomId) => [roomId, new Set<number>()]))
  for (const row of rows) committed.get(Number(row.room_id))!.add(Number(row.seq))
  return committed
}

/** Every stream opened before the first write, so it should hold exactly its room's committed seqs. */
function countDeliveries(streams: FollowingStream[], committed: Map<number, Set<number>>) {
  let missing = 0
  let duplicated = 0
  let reloads = 0
  for (const stream of streams) {
    const received = new Set(stream.seqs)
    duplicated += stream.seqs.length - received.size
    for (const seq of committed.get(stream.roomId)!) if (!received.has(seq)) missing++
    reloads += stream.reloads
  }
  return { missing, duplicated, reloads }
}

/** Whether `condition` came to hold within DEADLINE_MS. */
async function waitUntil(condition: () => boolean): Promise<boolean> {
  const deadline = performance.now() + DEADLINE_MS
  while (!condition()) {
    if (performance.now() > deadline) return false
    await sleep(20)
  }
  return true
}
