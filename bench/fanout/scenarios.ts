import type { BenchOptions } from './options.js'
import { phasePassed, type PhaseResult, runPhase } from './phase.js'
import { type BenchContext, openSession, type Session, type SessionFacts, sessionSeconds } from './session.js'
import type { TargetName } from './targets.js'

export interface FanoutResult {
  session: SessionFacts
  /** Scenario 1 at the configured rate; absent when only the ceiling ran. */
  fanout?: PhaseResult
  /** Scenario 2. */
  ceiling?: Ceiling
}

export interface Ceiling {
  /** The delivery rate (M × S / R) of the fastest passing step, or 0 if none passed. */
  deliveriesPerSecond: number
  /** The message rate of that step, and of the step that failed after it (if one did). */
  passedRate?: number
  failedRate?: number
  /** Every step tried, in order; a step that failed narrowly appears twice. */
  steps: PhaseResult[]
}

export interface ScalingPoint {
  target: TargetName
  subscribers: number
  rooms: number
  session: SessionFacts
  result: PhaseResult
}

const drainSeconds = (seconds: number) => Math.min(10, Math.max(3, seconds / 2))

/**
 * Scenarios 1 and 2 on one server and one set of streams: the fan-out at the configured rate,
 * then the ceiling.
 */
export async function runFanoutAndCeiling(
  context: BenchContext,
  options: BenchOptions,
  name: TargetName,
  roomIds: number[],
): Promise<FanoutResult> {
  const session = await openSession(context, name, options.subscribers, roomIds)
  try {
    const result: FanoutResult = { session: session.facts }
    if (options.scenarios.includes('fanout')) {
      const { rate, seconds } = options
      result.fanout = await runPhase(session.phase, {
        roomIds,
        rate,
        seconds,
        drainSeconds: drainSeconds(seconds),
      })
      context.log(`  ${name}: fan-out ${describe(result.fanout)}`)
    }
    if (options.scenarios.includes('ceiling')) {
      result.ceiling = await runCeiling(context, options, session, roomIds)
    }
    if (session.server.exited()) context.log(`  ${name}: the server exited:\n${session.server.outputTail()}`)
    return result
  } finally {
    await session.close()
  }
}

/**
 * Raises the rate step by step on an open session until a step fails. A step that fails
 * narrowly (nothing missing, p99 under three times the mark) is run once more before it
 * counts: on a shared machine one scheduling stall can decide a p99. A server that fails
 * the first rate is tried at half the rate, and half again, while that still shortens its
 * p99, so that a slow server gets a ceiling to compare with rather than none. Last, steps
 * halfway between the rate that passed and the one that failed narrow the gap to 15%.
 */
async function runCeiling(
  context: BenchContext,
  options: BenchOptions,
  session: Session,
  roomIds: number[],
): Promise<Ceiling> {
  const name = session.facts.target
  const ceiling: Ceiling = { deliveriesPerSecond: 0, steps: [] }
  const seconds = options.stepSeconds + drainSeconds(options.stepSeconds)
  const deliveries = (rate: number) => (rate * session.phase.fleet.size()) / roomIds.length

  /** Whether `rate` passed; undefined when the run is out of time or the server is gone. */
  async function passes(rate: number): Promise<boolean | undefined> {
    for (let attempt = 1; attempt <= 2; attempt++) {
      if (session.server.exited() || !context.hasTime(seconds, `${name} ceiling from ${rate} msg/s`))
        return undefined
      const step = await runPhase(session.phase, {
        roomIds,
        rate,
        seconds: options.stepSeconds,
        drainSeconds: drainSeconds(options.stepSeconds),
      })
      ceiling.steps.push(step)
      const passed = phasePassed(step, options.maxP99Ms)
      context.log(`  ${name}: ceiling step ${rate} msg/s ${passed ? 'passed' : 'failed'}: ${describe(step)}`)
      const narrow = step.missing === 0 && step.latencyMs.p99 <= 3 * options.maxP99Ms
      if (passed || !narrow) return passed
    }
    return false
  }

  for (const rate of options.ceilingRates) {
    const passed = await passes(rate)
    if (passed === undefined) return ceiling
    if (!passed) {
      ceiling.failedRate = rate
      if (ceiling.passedRate === undefined) await searchBelow(rate)
      await splitGap()
      return ceiling
    }
    ceiling.passedRate = rate
    ceiling.deliveriesPerSecond = deliveries(rate)
  }
  return ceiling

  /** Bisects between the rate that passed and the one that failed until they are within 15%. */
  async function splitGap(): Promise<void> {
    for (;;) {
      const { passedRate, failedRate } = ceiling
      if (passedRate === undefined || failedRate === undefined || failedRate <= passedRate * 1.15) return
      const rate = Math.round((passedRate + failedRate) / 2)
      const passed = await passes(rate)
      if (passed === undefined) return
      if (!passed) {
        ceiling.failedRate = rate
        continue
      }
      ceiling.passedRate = rate
      ceiling.deliveriesPerSecond = deliveries(rate)
    }
  }

  async function searchBelow(failedRate: number): Promise<void> {
    let previousP99 = ceiling.steps.at(-1)?.latencyMs.p99 ?? 0
    for (let rate = failedRate / 2; rate >= failedRate / 16; rate /= 2) {
      const passed = await passes(rate)
      if (passed === undefined) return
      if (passed) {
        ceiling.passedRate = rate
        ceiling.deliveriesPerSecond = deliveries(rate)
        return
      }
      ceiling.failedRate = rate
      const p99 = ceiling.steps.at(-1)?.latencyMs.p99 ?? 0
      // Latency that does not fall with the load (polling's interval) will not meet the mark.
      if (p99 * 1.5 > previousP99) return
      previousP99 = p99
    }
  }
}

/**
 * Scenario 3: the fan-out at a fixed rate per room (the configured rate / rooms) over
 * several subscriber and room counts, each point on a fresh server.
 */
export async function runScaling(
  context: BenchContext,
  options: BenchOptions,
  allRoomIds: number[],
): Promise<ScalingPoint[]> {
  const perRoomRate = options.rate / options.rooms
  const points: ScalingPoint[] = []
  // Point by point, every target in turn: if the time budget runs out, all lose the same points.
  for (const [subscribers, rooms] of scalingGrid(options)) {
    for (const name of options.scalingTargets) {
      const seconds = sessionSeconds(subscribers) + options.stepSeconds + drainSeconds(options.stepSeconds)
      if (!context.hasTime(seconds, `${name} scaling S=${subscribers} R=${rooms}`)) continue
      const roomIds = allRoomIds.slice(0, rooms)
      try {
        const session = await openSession(context, name, subscribers, roomIds)
        try {
          const result = await runPhase(session.phase, {
            roomIds,
            rate: perRoomRate * rooms,
            seconds: options.stepSeconds,
            drainSeconds: drainSeconds(options.stepSeconds),
          })
          context.log(`  ${name}: S=${subscribers} R=${rooms}: ${describe(result)}`)
          points.push({ target: name, subscribers, rooms, session: session.facts, result })
        } finally {
          await session.close()
        }
      } catch (error) {
        context.fail(`scaling S=${subscribers} R=${rooms}`, name, error)
      }
    }
  }
  return points
}

/** The (subscribers, rooms) pairs: the full grid, or the cross through the fan-out's own pair. */
export function scalingGrid(options: BenchOptions): [number, number][] {
  const pairs: [number, number][] = options.scalingGrid
    ? options.scalingSubscribers.flatMap((s) => options.scalingRooms.map((r): [number, number] => [s, r]))
    : [
        ...options.scalingSubscribers.map((s): [number, number] => [s, options.rooms]),
        ...options.scalingRooms.map((r): [number, number] => [options.subscribers, r]),
      ]
  const seen = new Set<string>()
  return pairs
    .filter(([s, r]) => !seen.has(`${s}x${r}`) && seen.add(`${s}x${r}`))
    .sort((a, b) => a[1] - b[1] || a[0] - b[0])
}

export function describe(result: PhaseResult): string {
  const percent = result.expected === 0 ? 100 : (100 * result.delivered) / result.expected
  const cpu = result.serverCpuPercent === undefined ? '?' : result.serverCpuPercent.toFixed(0)
  return (
    `${result.delivered}/${result.expected} (${percent.toFixed(2)}%), ` +
    `inserted ${result.insert.achievedRate.toFixed(0)}/${result.rate} msg/s ` +
    `(commit p50 ${result.insert.commitMs.p50} p99 ${result.insert.commitMs.p99} ms), ` +
    `p50 ${result.latencyMs.p50} p99 ${result.latencyMs.p99} max ${result.latencyMs.max} ms, ` +
    `server CPU ${cpu}%, load CPU ${result.loadCpuPercent.toFixed(0)}%` +
    (result.disconnects ? `, ${result.disconnects} disconnects` : '') +
    (result.duplicates ? `, ${result.duplicates} duplicates` : '')
  )
}
