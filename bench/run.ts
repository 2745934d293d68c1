/**
 * The fan-out benchmark: Parley and four baseline servers, each its own process on the same
 * database and triggers, under the same load from this process (SSE subscribers and SQL
 * inserts). Prints a table and writes the figures to bench/results/latest.json, and charts of
 * them to latest.html beside it.
 * `npm run bench -- --help` lists the scenarios and options.
 */
import { resolve } from 'node:path'
import { type BenchOptions, parseBenchOptions } from './fanout/options.js'
import { runInOwnProcessGroup } from './fanout/own-process-group.js'
import { runPosting } from './fanout/posting.js'
import { checkGoals } from './fanout/goals.js'
import { type BenchResults, computeRatios, writeResults } from './fanout/report.js'
import { formatReport } from './fanout/report-tables.js'
import { writeHtmlReport } from './fanout/report-html.js'
import { runCrowd, runStorms } from './fanout/crowds.js'
import { runDataScale } from './fanout/data-scale.js'
import { runFailover } from './fanout/failover.js'
import { runSearch } from './fanout/search.js'
import { runShards } from './fanout/shards.js'
import { runFanoutAndCeiling, runScaling } from './fanout/scenarios.js'
import { sessionSeconds } from './fanout/session.js'
import { setUp } from './fanout/setup.js'
import { TARGET_DESCRIPTIONS } from './fanout/targets.js'
import { runTriggers } from './fanout/triggers.js'
import { runWebhooks } from './fanout/webhooks.js'
import { REPO_ROOT } from './lib/server-process.js'
import { createTeardown, type Teardown } from './lib/teardown.js'

const log = (line: string) => console.error(line)

/** Runs the chosen scenarios in order; returns the exit code. */
async function bench(options: BenchOptions, teardown: Teardown, stop: { requested: boolean }) {
  const started = performance.now()
  const startedAt = new Date().toISOString()
  const { context, roomIds, machine, skipped, errors } = await setUp(options, teardown, stop, log)
  const results: BenchResults = {
    startedAt,
    finishedAt: '',
    durationSeconds: 0,
    machine,
    options,
    targets: Object.fromEntries(options.targets.map((name) => [name, TARGET_DESCRIPTIONS[name]])),
    fanout: {},
    scaling: [],
    posting: [],
    ratios: [],
    goals: [],
    skipped,
    errors,
  }
  const attempt = async (scenario: string, target: string | undefined, step: () => Promise<void>) => {
    if (!stop.requested) await step().catch((error: unknown) => context.fail(scenario, target, error))
  }
  const has = (scenario: BenchOptions['scenarios'][number]) => options.scenarios.includes(scenario)

  if (has('fanout') || has('ceiling')) {
    for (const name of options.targets) {
      if (!context.hasTime(sessionSeconds(options.subscribers) + options.seconds + 10, `${name} fan-out`))
        continue
      log(`bench: fan-out and ceiling on ${name}`)
      await attempt('fanout', name, async () => {
        results.fanout[name] = await runFanoutAndCeiling(
          context,
          options,
          name,
          roomIds.slice(0, options.rooms),
        )
      })
    }
  }
  if (has('posting')) {
    log('bench: posting over HTTP and straight into SQL')
    await attempt('posting', 'parley', async () => {
      results.posting = await runPosting(context, options, roomIds.slice(0, options.rooms))
    })
  }
  if (has('storm')) {
    log(
      `bench: reconnect storm of ${options.stormStreams} streams over ${options.stormRooms} rooms on parley, four ways`,
    )
    await attempt('storm', 'parley', async () => {
      results.storms = await runStorms(context, options, roomIds)
    })
  }
  if (has('crowd')) {
    log(`bench: a crowd of ${options.crowd} in one room on parley`)
    await attempt('crowd', 'parley', async () => {
      results.crowd = await runCrowd(context, options, roomIds)
    })
  }
  if (has('scaling')) {
    log(`bench: scaling curve on ${options.scalingTargets.join(', ')}`)
    await attempt('scaling', undefined, async () => {
      results.scaling = await runScaling(context, options, roomIds)
    })
  }

  // Last: it grows the database by millions of rows.
  if (has('data')) {
    log(
      `bench: data scale, ${options.dataSizes.join(', ')} messages in one room, then ${options.dataRooms} rooms`,
    )
    await attempt('data', 'parley', async () => {
      results.dataScale = await runDataScale(context, options, roomIds)
    })
  }

  // On a database of its own, so it neither sees nor leaves the other scenarios' rows.
  if (has('search')) {
    log(`bench: search over ${options.searchMessages} messages in ${options.searchRooms} rooms`)
    await attempt('search', 'parley', async () => {
      results.search = await runSearch(context, options)
    })
  }

  // On a primary and a standby of its own, started and stopped by the scenario.
  if (has('failover') && context.hasTime(60, 'failover')) {
    log(
      `bench: failover with ${options.failoverStreams} streams over ${options.failoverRooms} rooms on two parley instances`,
    )
    await attempt('failover', 'parley', async () => {
      results.failover = await runFailover(context, options)
    })
  }

  // On a database and a Parley instance of its own.
  if (has('webhooks') && context.hasTime(60, 'webhooks')) {
    log('bench: webhook delivery latency and throughput on parley')
    await attempt('webhooks', 'parley', async () => {
      results.webhooks = await runWebhooks(context)
    })
  }

  // On a database of its own; last, since it ends with a million-row insert.
  if (has('triggers') && context.hasTime(120, 'triggers')) {
    log('bench: what each message trigger costs an insert, and a bulk insert')
    await attempt('triggers', 'parley', async () => {
      results.triggers = await runTriggers(context, options)
    })
  }

  // On lone PostgreSQL instances of its own, started and stopped by the scenario.
  if (has('shards') && context.hasTime(120, 'shards')) {
    log(`bench: shards, on two PostgreSQL instances: ${options.shardParts.join(' and ')}`)
    await attempt('shards', 'parley', async () => {
      results.shards = await runShards(context, options)
    })
  }

  results.ratios = computeRatios(results.fanout)
  results.goals = checkGoals(results)
  results.finishedAt = new Date().toISOString()
  results.durationSeconds = (performance.now() - started) / 1000
  process.stdout.write(`\n${formatReport(results)}`)
  const out = resolve(REPO_ROOT, options.out)
  await writeResults(out, results)
  log(`bench: results written to ${out}`)
  log(`bench: charts written to ${(await writeHtmlReport(out, results)).join(', ')}`)
  const parley = results.fanout.parley?.fanout
  if (parley && parley.missing > 0)
    log(`bench: Parley missed ${parley.missing} of ${parley.expected} deliveries`)
  return errors.length > 0 || (parley?.missing ?? 0) > 0 ? 1 : 0
}

async function main(): Promise<void> {
  const options = parseBenchOptions()
  const teardown = createTeardown()
  const stop = { requested: false }
  const onSignal = (signal: string) => {
    if (stop.requested) return
    stop.requested = true
    log(`\nbench: ${signal}, cleaning up`)
    void teardown.run().finally(() => process.exit(130))
  }
  if (!runInOwnProcessGroup(() => onSignal('parent process gone'))) return
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  let exitCode = 2
  try {
    exitCode = await bench(options, teardown, stop)
  } catch (error) {
    if (!stop.requested)
      log(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)
  } finally {
    await teardown.run()
  }
  process.exit(stop.requested ? 130 : exitCode)
}

await main()
