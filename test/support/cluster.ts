import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { appendFile, chown, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import postgres from 'postgres'
import { findFreePort } from '../../src/db/embedded.js'
import { runMigrations } from '../../src/db/migrate.js'
import { until } from './wait.js'

// A primary and a streaming standby of the machine's own PostgreSQL, in a temporary
// directory on spare ports: what failover is tested against. Never the machine's server.

const run = promisify(execFile)
const BIN_DIRS = [process.env.PG_BIN, '/usr/lib/postgresql/15/bin'].filter(Boolean) as string[]

/** The directory holding initdb, pg_ctl and pg_basebackup, if this machine has one. */
export const postgresBinaries = BIN_DIRS.find((dir) => existsSync(join(dir, 'pg_basebackup')))

/** Whether cluster tests run: on CI a missing PostgreSQL is a failure, never a skip. */
export function clusterTestsRun(): boolean {
  if (postgresBinaries) return true
  if (process.env.CI === 'true') {
    throw new Error(`CI=true but no PostgreSQL binaries in ${BIN_DIRS.join(', ')}: cluster tests cannot run`)
  }
  return false
}

export interface ClusterOptions {
  /** Commits wait for the standby to have the WAL (synchronous_standby_names = '*'). */
  synchronous: boolean
}

export interface Cluster {
  /** The migrated database, on both servers: `postgres://…@primary,standby/parley`. */
  url: string
  primaryUrl: string
  standbyUrl: string
  /** Crashes the primary, as a power cut would (pg_ctl stop -m immediate). */
  killPrimary(): Promise<void>
  /** Makes the standby the primary and resolves once it accepts writes. */
  promoteStandby(): Promise<void>
  stop(): Promise<void>
}

const asRoot = process.getuid?.() === 0

/** Runs a PostgreSQL binary, as the postgres user when we are root (initdb refuses root). */
async function pg(binary: string, args: string[]): Promise<void> {
  const path = join(postgresBinaries ?? '', binary)
  await (asRoot ? run('runuser', ['-u', 'postgres', '--', path, ...args]) : run(path, args))
}

export async function startCluster({ synchronous }: ClusterOptions): Promise<Cluster> {
  const dir = await mkdtemp(join(tmpdir(), 'parley-cluster-'))
  if (asRoot) {
    const { stdout } = await run('id', ['-u', 'postgres'])
    const { stdout: group } = await run('id', ['-g', 'postgres'])
    await chown(dir, Number(stdout.trim()), Number(group.trim()))
  }
  const primaryDir = join(dir, 'primary')
  const standbyDir = join(dir, 'standby')
  const [primaryPort, standbyPort] = [await findFreePort(), await findFreePort()]
  const started: string[] = []
  const stopAll = async () => {
    for (const data of started) await pg('pg_ctl', ['-D', data, '-m', 'immediate', 'stop']).catch(() => {})
    await rm(dir, { recursive: true, force: true })
  }
  try {
    await pg('initdb', ['-D', primaryDir, '-U', 'postgres', '--auth=trust', '--no-sync'])
    await appendFile(
      join(primaryDir, 'postgresql.conf'),
      [
        `port = ${primaryPort}`,
        "listen_addresses = '127.0.0.1'",
        `unix_socket_directories = '${dir}'`,
        'max_connections = 200',
        'wal_level = replica',
        'max_wal_senders = 5',
        'hot_standby = on',
        'fsync = off',
        "shared_buffers = '32MB'",
        synchronous ? "synchronous_standby_names = '*'" : '',
        '',
      ].join('\n'),
    )
    await pg('pg_ctl', ['-D', primaryDir, '-l', join(dir, 'primary.log'), '-w', 'start'])
    started.push(primaryDir)
    await pg(
      'pg_basebackup',
      ['-h', '127.0.0.1', '-p', `${primaryPort}`, '-U', 'postgres'].concat([
        '-D',
        standbyDir,
        '-R',
        '-X',
        'stream',
      ]),
    )
    await appendFile(join(standbyDir, 'postgresql.conf'), `port = ${standbyPort}\n`)
    await pg('pg_ctl', ['-D', standbyDir, '-l', join(dir, 'standby.log'), '-w', 'start'])
    started.push(standbyDir)

    const server = (port: number, database: string) => `postgres://postgres@127.0.0.1:${port}/${database}`
    const admin = postgres(server(primaryPort, 'postgres'), { max: 1, onnotice: () => {} })
    try {
      await until(
        async () => {
          const rows = await admin`select sync_state from pg_stat_replication where state = 'streaming'`
          return rows.some((row) => row.sync_state === (synchronous ? 'sync' : 'async'))
        },
        'the standby to stream',
        20_000,
      )
      await admin`create database parley`
    } finally {
      await admin.end({ timeout: 1 })
    }
    const primaryUrl = server(primaryPort, 'parley')
    await runMigrations(primaryUrl)

    return {
      url: `postgres://postgres@127.0.0.1:${primaryPort},127.0.0.1:${standbyPort}/parley`,
      primaryUrl,
      standbyUrl: server(standbyPort, 'parley'),
      async killPrimary() {
        await pg('pg_ctl', ['-D', primaryDir, '-m', 'immediate', 'stop'])
        started.splice(started.indexOf(primaryDir), 1)
      },
      async promoteStandby() {
        await pg('pg_ctl', ['-D', standbyDir, '-w', 'promote'])
        // The standby copied synchronous_standby_names from the primary; with no standby of
        // its own left, every commit would wait forever. A failover manager clears it too.
        const promoted = postgres(server(standbyPort, 'postgres'), { max: 1, onnotice: () => {} })
        try {
          await promoted`alter system set synchronous_standby_names = ''`
          await promoted`select pg_reload_conf()`
        } finally {
          await promoted.end({ timeout: 1 })
        }
      },
      stop: stopAll,
    }
  } catch (error) {
    await stopAll()
    throw error
  }
}
