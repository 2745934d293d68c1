import type { BenchResults, Ratio } from './report.js'

/** One of Parley's performance targets on this benchmark, and whether the run met it. */
export interface Goal {
  goal: string
  measured: string
  /** Undefined when the run did not measure it (a scenario or baseline left out). */
  met?: boolean
}

const KB = 1024

/** The targets Parley is held to, judged on `results` (fan-out at the defaults, ceiling, memory). */
export function checkGoals(results: Pick<BenchResults, 'fanout' | 'ratios'>): Goal[] {
  const parley = results.fanout.parley
  if (!parley) return []
  const fanout = parley.fanout
  const perSubscriber = parley.session.rssPerSubscriberBytes
  const ratio = (baseline: string) => results.ratios.find((r) => r.baseline === baseline)
  return [
    {
      goal: 'fan-out: every message delivered',
      measured: fanout ? `${fanout.delivered}/${fanout.expected}` : '–',
      met: fanout && fanout.expected > 0 && fanout.missing === 0 && fanout.duplicates === 0,
    },
    {
      goal: 'fan-out: p99 <= 50 ms',
      measured: fanout ? `${fanout.latencyMs.p99} ms` : '–',
      met: fanout && fanout.latencyMs.p99 <= 50,
    },
    {
      goal: 'fan-out: <= 16 KB RSS per subscriber',
      measured: perSubscriber === undefined ? '–' : `${(perSubscriber / KB).toFixed(1)} KB`,
      met: perSubscriber === undefined ? undefined : perSubscriber <= 16 * KB,
    },
    ratioGoal('ceiling >= 0.8x raw', ratio('raw')?.ceiling, (r) => r >= 0.8),
    ratioGoal('ceiling >= 3x naive', ratio('naive')?.ceiling, (r) => r >= 3),
    ratioGoal('RSS per subscriber <= 1.3x raw', ratio('raw')?.rssPerSubscriber, (r) => r <= 1.3),
  ]
}

function ratioGoal(
  goal: string,
  comparison: Ratio['ceiling'] | undefined,
  holds: (ratio: number) => boolean,
) {
  if (comparison?.ratio === undefined) {
    // A baseline that never passed a ceiling step has no rate to divide by.
    const unmatched = comparison?.baseline === 0 && (comparison.parley ?? 0) > 0
    return { goal, measured: unmatched ? 'baseline: none' : '–', met: unmatched ? true : undefined }
  }
  return { goal, measured: `${comparison.ratio.toFixed(2)}x`, met: holds(comparison.ratio) }
}
