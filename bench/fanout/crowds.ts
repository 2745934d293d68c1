import { setTimeout as sleep } from 'node:timers/promises'
import { signHs256Token } from '../../src/auth/sign.js'
import { requestJson } from '../lib/http-json.js'
import { openHttpStream } from '../lib/http-stream.js'
import type { BenchOptions } from './options.js'
import { cpuSeconds } from './proc-stats.js'
import type { BenchContext } from './session.js'
import { startTargetProcess, type TargetProcess } from './target-process.js'
import { targetLaunch } from './targets.js'

/**
 * How the storm's clients reconnect: `header`, as EventSource does (Authorization and
 * Last-Event-ID headers); `library`, as the client library does (the Authorization header,
 * the cursor in `?last_event_id=`); `tickets`, as an EventSource that cannot send headers
 * must (buy a ticket, then open with `?ticket=`); `cold`, as `header` but on a server that
 * has just started, with no room open and every recent window empty.
 */
export type StormWay = 'header' | 'library' | 'tickets' | 'cold'
export const STORM_WAYS: StormWay[] = ['header', 'library', 'tickets', 'cold']

export interface StormRun {
  way: StormWay
  streams: number
  rooms: number
  behind: number
  /** From the first connection attempt to the last stream holding every message it missed. */
  caughtUpMs: number
  /** Streams that had every missed message exactly once, in order, by the deadline. */
  caughtUp: number
  missing: number
  duplicated: number
  failedToOpen: number
  /** Database transactions committed or rolled back during the storm, per stream. */
  transactionsPerStream: number
  /**
   * Parley's CPU (user + system) from the first connection attempt until every stream had
   * caught up, per stream: opening it and replaying what it missed.
   */
  serverCpuMsPerStream?: number
  /** Streams caught up, sampled every `everyMs` from the first connection attempt. */
  timeline: StormTimeline
  firstError?: string
}

/** counts[i] streams had caught up `i * everyMs` after the storm began; the last counts them all. */
export interface StormTimeline {
  everyMs: number
  counts: number[]
}

export interface CrowdRun {
  people: number
  /** Presence frames and bytes each crowd member's stream received until everyone was in. */
  framesPerStream: number
  bytesPerStream: number
  /** The same for a stream that watched the crowd arrive and leave. */
  observerFrames: number
  observerBytes: number
  arrivedMs: number
  leftMs: number
  failedToOpen: number
  firstError?: string
}

const DEADLINE_MS = 60_000

/**
 * The caught-up count every 50 ms until the last stream caught up, from each stream's time of
 * catching up; the interval widens so that a slow storm still gives at most 400 samples.
 */
export function stormTimeline(caughtUpAtMs: number[], endMs: number): StormTimeline {
  const everyMs = 50 * Math.max(1, Math.ceil(endMs / 50 / 400))
  const samples = Math.ceil(endMs / everyMs)
  const counts = new Array<number>(samples + 1).fill(0)
  for (const ms of caughtUpAtMs) counts[Math.min(samples, Math.ceil(ms / everyMs))]!++
  for (let i = 1; i <= samples; i++) counts[i]! += counts[i - 1]!
  return { everyMs, counts }
}

/** Many users' tokens, signed once; HS256 signing is fast enough for thousands. */
async function tokensFor(context: BenchContext, prefix: string, count: number): Promise<string[]> {
  return Promise.all(
    Array.from({ length: count }, (_, i) =>
      signHs256Token({ sub: `${prefix}-${i}` }, '2h', context.launch.jwtSecret),
    ),
  )
}

async function withParley<T>(context: BenchContext, run: (server: TargetProcess) => Promise<T>): Promise<T> {
  const server = await startTargetProcess(targetLaunch('parley', context.launch))
  const stop = () => server.stop()
  context.live.add(stop)
  try {
    return await run(server)
  } finally {
    context.live.delete(stop)
    await server.stop()
  }
}

async function databaseTransactions(context: BenchContext): Promise<number> {
  const [row] = await context.sql<{ n: string }[]>`
    select xact_commit + xact_rollback as n from pg_stat_database where datname = current_database()`
  return Number(row?.n ?? 0)
}

/** The storm each way, one after the other, each on a server of its own. */
export async function runStorms(
  context: BenchContext,
  options: BenchOptions,
  roomIds: number[],
): Promise<StormRun[]> {
  const runs: StormRun[] = []
  for (const way of STORM_WAYS) runs.push(await runStorm(context, options, roomIds, way))
  return runs
}

/**
 * The reconnect storm: one stream per room keeps each room live, K messages per room are
 * delivered, then S streams of distinct users open at once, each resuming K messages
 * behind its room's last seq (as after a network blip or a proxy restart). Measures the
 * time until every stream holds exactly what it missed, and what that cost the database.
 * `cold` skips the keepers and starts the server after the messages are written.
 */
export async function runStorm(
  context: BenchContext,
  options: BenchOptions,
  roomIds: number[],
  way: StormWay = 'header',
): Promise<StormRun> {
  const rooms = roomIds.slice(0, options.stormRooms)
  const tokens = await tokensFor(context, `storm-${way}`, options.stormStreams)
  const keeperTokens = await tokensFor(context, `storm-keeper-${way}`, rooms.length)
  const writeBehind = async () => {
    await context.sql`insert into messages (room_id, user_id, user_name, body)
      select r, 'bench', 'Bench', repeat('x', ${options.bodyBytes}) from unnest(${rooms}::bigint[]) r,
        generate_series(1, ${options.stormBehind})`
    return new Map(
      (
        await context.sql<{ id: string; last_seq: string }[]>`
        select id, last_seq from rooms where id = any(${rooms}::bigint[])`
      ).map((row) => [Number(row.id), Number(row.last_seq)]),
    )
  }
  const coldLast = way === 'cold' ? await writeBehind() : undefined
  return withParley(context, async (server) => {
    const keepers =
      way === 'cold'
        ? []
        : await Promise.all(
            rooms.map((roomId, i) =>
              openHttpStream({
                host: '127.0.0.1',
                port: server.port,
                path: `/rooms/${roomId}/stream`,
                headers: { Authorization: `Bearer ${keeperTokens[i]}` },
                timeoutMs: 20_000,
                onBody: () => {},
                onClose: () => {},
              }),
            ),
          )
    let last = coldLast
    if (!last) {
      await sleep(1_000)
      last = await writeBehind()
    }
    await sleep(1_000)
    const before = await databaseTransactions(context)
    const cpuBefore = cpuSeconds(server.pid)
    const started = performance.now()
    let caughtUp = 0
    let doneAt = started
    const caughtUpAtMs: number[] = []
    let duplicated = 0
    let missing = 0
    let failedToOpen = 0
    let firstError: string | undefined
    const streams = await Promise.all(
      tokens.map(async (token, i) => {
        const roomId = rooms[i % rooms.length]!
        const lastSeq = last.get(roomId)!
        const from = lastSeq - options.stormBehind
        let expected = from + 1
        let tail = ''
        let done = false
        const request = await stormRequest(server, way, roomId, from, token)
        const opened =
          'failure' in request
            ? request
            : await openHttpStream({
                host: '127.0.0.1',
                port: server.port,
                path: request.path,
                headers: request.headers,
                timeoutMs: DEADLINE_MS,
                onBody: (text) => {
                  tail += text
                  const end = tail.lastIndexOf('\n\n')
                  if (end === -1) return
                  for (const match of tail.slice(0, end).matchAll(/^id: (\d+)$/gm)) {
                    const seq = Number(match[1])
                    if (seq === expected) expected++
                    else if (seq < expected) duplicated++
                    else missing += seq - expected
                    if (seq > expected - 1) expected = seq + 1
                  }
                  tail = tail.slice(end + 2)
                  if (!done && expected > lastSeq) {
                    done = true
                    caughtUp++
                    doneAt = performance.now()
                    caughtUpAtMs.push(doneAt - started)
                  }
                },
                onClose: () => {},
              })
        if (opened.failure !== undefined) {
          failedToOpen++
          firstError ??= opened.failure
        }
        return { opened, lastSeq, expected: () => expected }
      }),
    )
    const deadline = started + DEADLINE_MS
    while (caughtUp + failedToOpen < streams.length && performance.now() < deadline) await sleep(20)
    const cpuAfter = cpuSeconds(server.pid)
    for (const stream of streams) missing += Math.max(0, stream.lastSeq + 1 - stream.expected())
    // The statistics are flushed by each backend within about a second of its transactions.
    await sleep(1_500)
    const transactions = (await databaseTransactions(context)) - before
    for (const stream of [...streams.map((s) => s.opened), ...keepers]) {
      if (stream.failure === undefined) stream.socket.destroy()
    }
    const result: StormRun = {
      way,
      streams: streams.length,
      rooms: rooms.length,
      behind: options.stormBehind,
      caughtUpMs: Math.round(doneAt - started),
      caughtUp,
      missing,
      duplicated,
      failedToOpen,
      transactionsPerStream: transactions / streams.length,
      serverCpuMsPerStream:
        cpuBefore === undefined || cpuAfter === undefined
          ? undefined
          : ((cpuAfter - cpuBefore) * 1000) / streams.length,
      timeline: stormTimeline(caughtUpAtMs, doneAt - started),
      firstError,
    }
    context.log(
      `  storm (${way}): ${caughtUp}/${streams.length} streams caught up ${options.stormBehind} behind in ${result.caughtUpMs} ms,` +
        ` ${result.transactionsPerStream.toFixed(3)} db transactions and` +
        ` ${result.serverCpuMsPerStream?.toFixed(3) ?? '?'} ms of server CPU per stream, missing ${missing}, duplicated ${duplicated}`,
    )
    return result
  })
}

/** The stream request a client reconnecting `way` sends; for `tickets`, after buying its ticket. */
async function stormRequest(
  server: TargetProcess,
  way: StormWay,
  roomId: number,
  from: number,
  token: string,
): Promise<{ path: string; headers: Record<string, string> } | { failure: string }> {
  const path = `/rooms/${roomId}/stream`
  if (way === 'library') {
    return { path: `${path}?last_event_id=${from}`, headers: { Authorization: `Bearer ${token}` } }
  }
  if (way !== 'tickets') {
    return { path, headers: { Authorization: `Bearer ${token}`, 'Last-Event-ID': String(from) } }
  }
  const bought = await requestJson(new URL(`http://127.0.0.1:${server.port}/stream-tickets`), {
    method: 'POST',
    token,
    body: {},
    timeoutMs: DEADLINE_MS,
  }).catch((error: unknown) => ({ status: 0, body: String(error) }))
  const ticket = (bought.body as { ticket?: string } | undefined)?.ticket
  if (bought.status !== 201 || !ticket)
    return { failure: `ticket: ${bought.status} ${JSON.stringify(bought.body)}` }
  return { path: `${path}?ticket=${ticket}&last_event_id=${from}`, headers: {} }
}

/** Presence frames and their bytes in a stream's text so far. */
function presenceCounter() {
  let tail = ''
  const counts = { frames: 0, bytes: 0 }
  return {
    counts,
    onBody(text: string) {
      tail += text
      const end = tail.lastIndexOf('\n\n')
      if (end === -1) return
      for (const frame of tail.slice(0, end).split('\n\n')) {
        if (frame.includes('event: presence\n')) {
          counts.frames++
          counts.bytes += frame.length + 2
        }
      }
      tail = tail.slice(end + 2)
    },
  }
}

async function presentCount(server: TargetProcess, roomId: number, token: string): Promise<number> {
  const response = await fetch(`${server.url}/rooms/${roomId}/presence?limit=1`, {
    headers: { authorization: `Bearer ${token}` },
  })
  return ((await response.json()) as { count: number }).count
}

/**
 * The crowd: N people open one room's stream at once, then all leave. Measures the presence
 * frames and bytes each stream received, and how long the room took to settle each way.
 */
export async function runCrowd(
  context: BenchContext,
  options: BenchOptions,
  roomIds: number[],
): Promise<CrowdRun> {
  const roomId = roomIds[0]!
  const tokens = await tokensFor(context, 'crowd', options.crowd)
  const [observerToken] = await tokensFor(context, 'crowd-observer', 1)
  return withParley(context, async (server) => {
    const open = (token: string, counter: ReturnType<typeof presenceCounter>) =>
      openHttpStream({
        host: '127.0.0.1',
        port: server.port,
        path: `/rooms/${roomId}/stream`,
        headers: { Authorization: `Bearer ${token}` },
        timeoutMs: DEADLINE_MS,
        onBody: (text) => counter.onBody(text),
        onClose: () => {},
      })
    const observer = presenceCounter()
    const watching = await open(observerToken!, observer)
    const settle = async (count: number) => {
      const deadline = performance.now() + DEADLINE_MS
      while (performance.now() < deadline && (await presentCount(server, roomId, observerToken!)) !== count) {
        await sleep(50)
      }
    }
    await settle(1)
    const started = performance.now()
    const counters = tokens.map(() => presenceCounter())
    const members = await Promise.all(tokens.map((token, i) => open(token, counters[i]!)))
    const failedToOpen = members.filter((member) => member.failure !== undefined).length
    await settle(1 + members.length - failedToOpen)
    const arrivedMs = Math.round(performance.now() - started)
    // The last batch's frame is on its way to every stream.
    await sleep(1_000)
    const frames = counters.reduce((sum, counter) => sum + counter.counts.frames, 0)
    const bytes = counters.reduce((sum, counter) => sum + counter.counts.bytes, 0)
    const leaving = performance.now()
    for (const member of members) if (member.failure === undefined) member.socket.destroy()
    await settle(1)
    const leftMs = Math.round(performance.now() - leaving)
    await sleep(1_000)
    if (watching.failure === undefined) watching.socket.destroy()
    const present = members.length - failedToOpen
    const result: CrowdRun = {
      people: members.length,
      framesPerStream: frames / Math.max(1, present),
      bytesPerStream: bytes / Math.max(1, present),
      observerFrames: observer.counts.frames,
      observerBytes: observer.counts.bytes,
      arrivedMs,
      leftMs,
      failedToOpen,
      firstError: members.find((member) => member.failure !== undefined)?.failure,
    }
    context.log(
      `  crowd: ${present}/${members.length} in after ${arrivedMs} ms, out after ${leftMs} ms;` +
        ` ${result.framesPerStream.toFixed(1)} presence frames and ${(result.bytesPerStream / 1024).toFixed(1)} KB per stream,` +
        ` observer ${result.observerFrames} frames / ${(result.observerBytes / 1024).toFixed(1)} KB`,
    )
    return result
  })
}
