import type postgres from 'postgres'
import type { Fleet } from './clients.js'
import type { SoakOptions } from './options.js'

export interface Faults {
  /** LISTEN connections terminated so far. */
  listenerKills(): number
  stop(): Promise<void>
}

/**
 * Ends the server's one LISTEN connection the way a database failover or an idle-session
 * killer would. Returns how many backends were terminated (0 if it was reconnecting).
 */
export async function killListener(sql: postgres.Sql): Promise<number> {
  const rows = await sql<{ killed: boolean }[]>`
    select pg_terminate_backend(pid) as killed from pg_stat_activity
    where application_name = 'parley-listener' and datname = current_database()`
  return rows.filter((row) => row.killed).length
}

/**
 * Every second: stalls enough clients to keep about stallPercent of them not reading, and
 * churns `churn` clients. Every killEvery seconds: kills the server's LISTEN connection.
 */
export function startFaults(options: SoakOptions, fleet: Fleet, sql: postgres.Sql): Faults {
  const meanStallSeconds = options.stallMaxMs / 2 / 1000
  const stallsPerSecond = (options.clients * options.stallPercent) / 100 / Math.max(meanStallSeconds, 1)
  let kills = 0
  let killing: Promise<void> = Promise.resolve()

  const everySecond = setInterval(() => {
    fleet.churn(options.churn)
    fleet.stall(Math.floor(stallsPerSecond + Math.random()), options.stallMaxMs)
  }, 1_000)
  const killer =
    options.killEvery > 0
      ? setInterval(() => {
          killing = killListener(sql).then(
            (n) => void (kills += n),
            (error: unknown) => console.error(`killing the listener failed: ${String(error)}`),
          )
        }, options.killEvery * 1_000)
      : undefined

  return {
    listenerKills: () => kills,
    async stop() {
      clearInterval(everySecond)
      clearInterval(killer)
      await killing
    },
  }
}
