import { mkdir, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { Revision } from '../lib/git-revision.js'
import type { Goal } from './goals.js'
import type { BenchOptions } from './options.js'
import type { PhaseResult } from './phase.js'
import type { CrowdRun, StormRun } from './crowds.js'
import type { DataScaleRun } from './data-scale.js'
import type { FailoverRun } from './failover.js'
import type { WebhookRun } from './webhooks.js'
import type { TriggerRun } from './triggers.js'
import type { ShardRun } from './shards.js'
import type { SearchRun } from './search.js'
import type { PostingRun } from './posting.js'
import type { FanoutResult, ScalingPoint } from './scenarios.js'
import type { TargetName } from './targets.js'

export interface Machine {
  cores: number
  cpuModel: string
  memoryBytes: number
  node: string
  postgres: string
  database: 'embedded' | 'DATABASE_URL'
  openFileLimit: number | undefined
  /** The commit measured; absent outside a git checkout. */
  revision?: Revision
  /** Installed versions of the libraries on the delivery path. */
  packages: Record<string, string>
}

export interface BenchResults {
  startedAt: string
  finishedAt: string
  durationSeconds: number
  machine: Machine
  options: BenchOptions
  targets: Partial<Record<TargetName, string>>
  fanout: Partial<Record<TargetName, FanoutResult>>
  scaling: ScalingPoint[]
  posting: PostingRun[]
  /** The reconnect storm, each way its clients may reconnect. */
  storms?: StormRun[]
  crowd?: CrowdRun
  dataScale?: DataScaleRun
  search?: SearchRun
  failover?: FailoverRun
  webhooks?: WebhookRun
  triggers?: TriggerRun
  shards?: ShardRun
  ratios: Ratio[]
  /** Parley's targets, each judged on this run. */
  goals: Goal[]
  /** Steps and points left out to stay within the time budget. */
  skipped: string[]
  errors: { scenario: string; target?: string; message: string }[]
}

export interface Ratio {
  baseline: TargetName
  /** Ceiling deliveries per second: above 1 is better for Parley. */
  ceiling: Comparison
  /** Fan-out p99 in ms: below 1 is better for Parley. */
  p99: Comparison
  /** Idle RSS per subscriber in bytes: below 1 is better for Parley. */
  rssPerSubscriber: Comparison
}

export interface Comparison {
  parley?: number
  baseline?: number
  /** parley / baseline, when both are positive. */
  ratio?: number
}

function compare(parley: number | undefined, baseline: number | undefined): Comparison {
  const ratio =
    parley === undefined || baseline === undefined || parley <= 0 || baseline <= 0
      ? undefined
      : parley / baseline
  return { parley, baseline, ratio }
}

// A p99 under 1 ms reads as 0 in 1 ms buckets; 1 keeps the ratio finite.
const p99 = (result: PhaseResult | undefined) => (result ? Math.max(1, result.latencyMs.p99) : undefined)

export function computeRatios(fanout: BenchResults['fanout']): Ratio[] {
  const parley = fanout.parley
  if (!parley) return []
  return (Object.keys(fanout) as TargetName[])
    .filter((name) => name !== 'parley')
    .map((baseline) => {
      const other = fanout[baseline]!
      return {
        baseline,
        ceiling: compare(parley.ceiling?.deliveriesPerSecond, other.ceiling?.deliveriesPerSecond),
        p99: compare(p99(parley.fanout), p99(other.fanout)),
        rssPerSubscriber: compare(parley.session.rssPerSubscriberBytes, other.session.rssPerSubscriberBytes),
      }
    })
}

export async function writeResults(path: string, results: BenchResults): Promise<void> {
  await mkdir(dirname(path), { recursive: true })
  await writeFile(path, `${JSON.stringify(results, null, 2)}\n`)
}
