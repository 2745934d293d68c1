import type { Socket } from 'node:net'
import { openHttpStream } from '../lib/http-stream.js'
import { LatencyHistogram } from '../lib/latency-histogram.js'

/** What the subscribers received since a phase started. */
export interface PhaseCounters {
  /** performance.now() at the phase's start: messages stamped earlier are not counted. */
  start: number
  delivered: number
  /** Messages whose seq was not above the subscriber's last one: repeated or out of order. */
  duplicates: number
  /** Messages stamped before the phase, arriving late. */
  stale: number
  latency: LatencyHistogram
}

export interface OpenReport {
  opened: number
  /** Streams refused or failed; opening stops after the first batch that has any. */
  failed: number
  firstFailure?: string
}

/**
 * One SSE stream of the load generator, kept as cheap as possible: its chunks are scanned
 * for complete frames (a blank line), and of each frame only `id:` and the stamp the
 * inserter wrote are read (at the start of a body, or in a reaction's `:t<ms>_<fraction>_n:`
 * name); everything else is skipped unparsed.
 */
class Subscription {
  lastSeq = -1
  closing = false
  private rest = ''
  socket: Socket | undefined

  constructor(private readonly fleet: { phase: PhaseCounters }) {}

  receive(chunk: string): void {
    const now = performance.now()
    const text = this.rest === '' ? chunk : this.rest + chunk
    let start = 0
    for (let end = text.indexOf('\n\n'); end !== -1; end = text.indexOf('\n\n', start)) {
      this.frame(text, start, end, now)
      start = end + 2
    }
    this.rest = start === text.length ? '' : text.slice(start)
  }

  private frame(text: string, start: number, end: number, now: number): void {
    const id = text.indexOf('id: ', start)
    if (id === -1 || id > end) return
    const seq = Number.parseInt(text.slice(id + 4, id + 24), 10)
    const phase = this.fleet.phase
    if (seq <= this.lastSeq) {
      phase.duplicates++
      return
    }
    this.lastSeq = seq
    const stamp = stampOf(text, start, end)
    if (!(stamp >= phase.start)) {
      phase.stale++
      return
    }
    phase.delivered++
    phase.latency.record(now - stamp)
  }
}

/** The inserter's performance.now() in the frame between `start` and `end`, or NaN. */
function stampOf(text: string, start: number, end: number): number {
  const body = text.indexOf('"body":"', start)
  if (body !== -1 && body < end) return Number.parseFloat(text.slice(body + 8, body + 32))
  const emoji = text.indexOf('"emoji":":t', start)
  if (emoji === -1 || emoji > end) return Number.NaN
  return Number.parseFloat(text.slice(emoji + 11, emoji + 32).replace('_', '.'))
}

export type Fleet = ReturnType<typeof createFleet>

/** S subscribers of one server, with the counts the phases read. */
export function createFleet(baseUrl: string, token: string) {
  const url = new URL(baseUrl)
  const subscriptions: Subscription[] = []
  const perRoom = new Map<number, number>()
  const state = { phase: newPhase(), disconnects: 0 }

  function newPhase(): PhaseCounters {
    return {
      start: performance.now(),
      delivered: 0,
      duplicates: 0,
      stale: 0,
      latency: new LatencyHistogram(),
    }
  }

  /** Opens one stream; resolves with undefined once it answers 200, or with why not. */
  async function open(roomId: number, timeoutMs = 60_000): Promise<string | undefined> {
    const subscription = new Subscription(state)
    const opened = await openHttpStream({
      host: url.hostname,
      port: Number(url.port),
      path: `/rooms/${roomId}/stream`,
      headers: { Authorization: `Bearer ${token}`, Accept: 'text/event-stream' },
      timeoutMs,
      onBody: (text) => subscription.receive(text),
      onClose: () => {
        if (!subscription.closing) state.disconnects++
      },
    })
    if (opened.failure !== undefined) return opened.failure
    subscription.socket = opened.socket
    subscriptions.push(subscription)
    perRoom.set(roomId, (perRoom.get(roomId) ?? 0) + 1)
    return undefined
  }

  /** Opens one stream per entry of `roomIds`, `batch` at a time. */
  async function openAll(roomIds: number[], batch = 500): Promise<OpenReport> {
    const report: OpenReport = { opened: 0, failed: 0 }
    for (let first = 0; first < roomIds.length && report.failed === 0; first += batch) {
      const failures = await Promise.all(roomIds.slice(first, first + batch).map((roomId) => open(roomId)))
      for (const failure of failures) {
        if (failure === undefined) report.opened++
        else {
          report.failed++
          report.firstFailure ??= failure
        }
      }
    }
    return report
  }

  return {
    openAll,
    /** Starts counting afresh; messages stamped before now are counted as stale. */
    startPhase(): PhaseCounters {
      state.phase = newPhase()
      return state.phase
    },
    subscribersIn: (roomId: number) => perRoom.get(roomId) ?? 0,
    /** Streams that ended without the load generator closing them. */
    disconnects: () => state.disconnects,
    size: () => subscriptions.length,
    closeAll(): void {
      for (const subscription of subscriptions) {
        subscription.closing = true
        subscription.socket?.destroy()
      }
      subscriptions.length = 0
      perRoom.clear()
    },
  }
}
