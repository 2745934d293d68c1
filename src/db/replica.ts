import type { Logger } from 'pino'
import { createDb } from './client.js'
import type { Pooler } from './pooler.js'
import { createSearchPool } from './search-pool.js'

/** The application_name of the read pools' connections on a standby, as pg_stat_activity shows it. */
export const READ_APPLICATION_NAME = 'parley-read'

/** A WAL position as a byte count, from PostgreSQL's text form `16/B374D848`. */
export function lsnBytes(text: string): bigint {
  const [high = '0', low = '0'] = text.split('/')
  return (BigInt(`0x${high}`) << 32n) + BigInt(`0x${low}`)
}

/** Where the primary's WAL had reached, read at `at` (ms) or just after. */
export interface PrimarySample {
  at: number
  lsn: bigint
}

export interface ReplicaOptions {
  url: string
  /** How metrics and logs name it: its place in READ_DATABASE_URL, from 1. */
  name: string
  poolMax: number
  search: { max: number; statementTimeoutMs: number }
  pooler: Pooler
  logger: Logger
}

export type Replica = ReturnType<typeof createReplica>

// Read on the standby itself. The seconds are the usual standby-side figure (what
// postgres_exporter reports): 0 while it has replayed all it received, else the age of the
// last transaction it replayed. pg_last_wal_replay_lsn() is null on a server not in recovery.
const PROBE = `
  select pg_last_wal_replay_lsn()::text as replayed,
    case when pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() then 0
      else greatest(0, extract(epoch from now() - pg_last_xact_replay_timestamp())) end::float8 as lag_seconds`

/**
 * One streaming standby of READ_DATABASE_URL: a query pool and a search pool of its own
 * (so both always reach this one server, whose replay only moves forward), and what its
 * last probe found.
 */
export function createReplica({ url, name, poolMax, search, pooler, logger }: ReplicaOptions) {
  const query = createDb(url, { max: poolMax, applicationName: READ_APPLICATION_NAME, pooler })
  const searchPool = createSearchPool(url, { ...search, pooler })
  const state = { up: false, caughtUpAt: Number.NEGATIVE_INFINITY, lagSeconds: 0, lagBytes: 0 }

  function setUp(up: boolean, why?: string) {
    if (up !== state.up) {
      if (up) logger.info({ replica: name }, 'read replica up')
      else logger.warn({ replica: name, err: why }, 'read replica down; its reads go to the primary')
    }
    state.up = up
  }

  return {
    name,
    db: query.db,
    searchDb: searchPool.db,
    isUp: () => state.up,
    /** Whether, at its last probe, it had replayed everything the primary had written `ms` ago. */
    freshWithin: (ms: number) => state.caughtUpAt >= Date.now() - ms,
    /** Until a probe reaches it again, reads skip it rather than wait on a dead server. */
    markDown: (error: unknown) => setUp(false, error instanceof Error ? error.message : String(error)),
    /**
     * Reads its replay position and records the newest of the primary's `samples` it has
     * passed: from then on it holds every transaction committed before that sample's time.
     */
    async probe(samples: PrimarySample[], timeoutMs: number): Promise<void> {
      let timer: NodeJS.Timeout | undefined
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs)
      })
      try {
        const rows = await Promise.race([query.sql.unsafe(PROBE), timeout])
        const row = rows[0] as unknown as { replayed: string | null; lag_seconds: number } | undefined
        if (!row?.replayed) {
          setUp(false, 'not a standby (not in recovery)')
          return
        }
        const replayed = lsnBytes(row.replayed)
        for (const sample of samples)
          if (sample.lsn <= replayed && sample.at > state.caughtUpAt) state.caughtUpAt = sample.at
        const newest = samples.at(-1)
        state.lagBytes = newest && newest.lsn > replayed ? Number(newest.lsn - replayed) : 0
        state.lagSeconds = Number(row.lag_seconds)
        setUp(true)
      } catch (error) {
        setUp(false, error instanceof Error ? error.message : String(error))
      } finally {
        clearTimeout(timer)
      }
    },
    stats: () => ({ name, up: state.up, lagSeconds: state.lagSeconds, lagBytes: state.lagBytes }),
    end: () => Promise.all([query.sql.end({ timeout: 5 }), searchPool.sql.end({ timeout: 5 })]),
  }
}
