import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { appendFile, chown, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import postgres from 'postgres'
import { findFreePort } from '../src/db/embedded.js'
import { runMigrations } from '../src/db/migrate.js'

// A primary and a streaming standby of the machine's own PostgreSQL, in a temporary
// directory on spare ports: what failover is tested and measured against; and lone
// primaries, the independent instances sharding is measured against. Never the machine's
// server.

const run = promisify(execFile)
const BIN_DIRS = [process.env.PG_BIN, '/usr/lib/postgresql/15/bin'].filter(Boolean) as string[]

/** The directory holding initdb, pg_ctl, pg_basebackup and pg_rewind, if this machine has one. */
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
  /** The migrated database, on both servers: `postgres://…@first,second/parley`. */
  url: string
  /** The database on the server started as the primary, whatever its role now. */
  primaryUrl: string
  /** The database on the server started as the standby, whatever its role now. */
  standbyUrl: string
  /** Crashes the current primary, as a power cut would (pg_ctl stop -m immediate). */
  killPrimary(): Promise<void>
  /** Makes the standby the primary and resolves once it accepts writes. */
  promoteStandby(): Promise<void>
  /**
   * After killPrimary and promoteStandby: rewinds the old primary's data to the promoted
   * server's history (pg_rewind), starts it as that server's standby and resolves once it
   * streams, as a synchronous standby again if the cluster is synchronous.
   */
  rejoinOldPrimaryAsStandby(): Promise<void>
  /** A planned change of roles: the primary shuts down cleanly, the standby is promoted, the old primary follows it. */
  switchover(): Promise<void>
  stop(): Promise<void>
}

interface Server {
  name: string
  dir: string
  port: number
  running: boolean
}

const asRoot = process.getuid?.() === 0

/** Runs a PostgreSQL binary, as the postgres user when we are root (initdb refuses root). */
async function pg(binary: string, args: string[]): Promise<void> {
  const path = join(postgresBinaries ?? '', binary)
  await (asRoot ? run('runuser', ['-u', 'postgres', '--', path, ...args]) : run(path, args))
}

const serverUrl = (port: number, database: string) => `postgres://postgres@127.0.0.1:${port}/${database}`

/** Runs `use` with a one-connection client of `port`'s postgres database. */
async function onServer<T>(port: number, use: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const sql = postgres(serverUrl(port, 'postgres'), { max: 1, onnotice: () => {} })
  try {
    return await use(sql)
  } finally {
    await sql.end({ timeout: 1 })
  }
}

async function poll(condition: () => Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** Resolves once `primary` has a standby streaming to it, synchronously if `synchronous`. */
function standbyStreams(primary: Server, synchronous: boolean): Promise<void> {
  return onServer(primary.port, (sql) =>
    poll(
      async () => {
        const rows = await sql`select sync_state from pg_stat_replication where state = 'streaming'`
        return rows.some((row) => row.sync_state === (synchronous ? 'sync' : 'async'))
      },
      'the standby to stream',
      20_000,
    ),
  )
}

/** A temporary directory the servers' user may write to. */
async function makeClusterDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  if (asRoot) {
    const { stdout } = await run('id', ['-u', 'postgres'])
    const { stdout: group } = await run('id', ['-g', 'postgres'])
    await chown(dir, Number(stdout.trim()), Number(group.trim()))
  }
  return dir
}

const startServer = async (server: Server, dir: string) => {
  await pg('pg_ctl', ['-D', server.dir, '-l', join(dir, `${server.name}.log`), '-w', 'start'])
  server.running = true
}

const stopServer = async (server: Server, mode: 'immediate' | 'fast') => {
  await pg('pg_ctl', ['-D', server.dir, '-m', mode, '-w', 'stop'])
  server.running = false
}

/** initdb for a server that will run as a primary, with `extra` lines appended to its configuration. */
async function initPrimary(server: Server, dir: string, extra: string[]): Promise<void> {
  await pg('initdb', ['-D', server.dir, '-U', 'postgres', '--auth=trust', '--no-sync'])
  await appendFile(
    join(server.dir, 'postgresql.conf'),
    [
      `port = ${server.port}`,
      "listen_addresses = '127.0.0.1'",
      `unix_socket_directories = '${dir}'`,
      'max_connections = 200',
      'wal_level = replica',
      'max_wal_senders = 5',
      'hot_standby = on',
      // pg_rewind needs every hint-bit change in the WAL to bring an old primary back,
      // and the old primary's WAL back to the checkpoint before the two histories parted,
      // which the crash recovery it runs first would otherwise recycle.
      'wal_log_hints = on',
      "wal_keep_size = '256MB'",
      'fsync = off',
      "shared_buffers = '32MB'",
      ...extra,
      '',
    ].join('\n'),
  )
}

/** Creates the parley database on the server at `port` and migrates it; returns its URL. */
async function createParleyDatabase(port: number): Promise<string> {
  await onServer(port, (sql) => sql`create database parley`)
  const url = serverUrl(port, 'parley')
  await runMigrations(url)
  return url
}

export interface Instance {
  /** The migrated parley database on it. */
  url: string
  /** Crashes the server, as a power cut would; its files stay for resume(). */
  kill(): Promise<void>
  /** Starts the server again after kill(). */
  resume(): Promise<void>
  /** Stops the server and deletes its files. */
  stop(): Promise<void>
}

/**
 * A lone primary with Parley's migrated database, as one shard would be: no standby, and
 * commits that do not wait for the WAL flush, so that what it measures is the server's
 * work rather than this machine's disk.
 */
export async function startInstance(): Promise<Instance> {
  const dir = await makeClusterDir('parley-instance-')
  const server: Server = { name: 'lone', dir: join(dir, 'data'), port: await findFreePort(), running: false }
  const stop = async () => {
    if (server.running) await stopServer(server, 'fast').catch(() => {})
    await rm(dir, { recursive: true, force: true })
  }
  try {
    await initPrimary(server, dir, ['synchronous_commit = off'])
    await startServer(server, dir)
    return {
      url: await createParleyDatabase(server.port),
      kill: () => stopServer(server, 'immediate'),
      resume: () => startServer(server, dir),
      stop,
    }
  } catch (error) {
    await stop()
    throw error
  }
}

export async function startCluster({ synchronous }: ClusterOptions): Promise<Cluster> {
  const dir = await makeClusterDir('parley-cluster-')
  const first: Server = { name: 'first', dir: join(dir, 'first'), port: await findFreePort(), running: false }
  const second: Server = {
    name: 'second',
    dir: join(dir, 'second'),
    port: await findFreePort(),
    running: false,
  }
  let primary = first
  let standby = second

  const start = (server: Server) => startServer(server, dir)
  const stopAll = async () => {
    for (const server of [first, second]) {
      if (server.running) await stopServer(server, 'immediate').catch(() => {})
    }
    await rm(dir, { recursive: true, force: true })
  }

  async function promoteStandby() {
    await pg('pg_ctl', ['-D', standby.dir, '-w', 'promote'])
    // The standby copied synchronous_standby_names from the primary; with no standby of
    // its own left, every commit would wait forever. A failover manager clears it too.
    await onServer(standby.port, async (sql) => {
      await sql`alter system set synchronous_standby_names = ''`
      await sql`select pg_reload_conf()`
    })
    ;[primary, standby] = [standby, primary]
  }

  async function rejoinOldPrimaryAsStandby() {
    if (standby.running)
      throw new Error('the old primary is still running: kill it and promote the standby first')
    // pg_rewind reads the source's timeline from its control file, which the promotion
    // updates only at the next checkpoint.
    await onServer(primary.port, (sql) => sql`checkpoint`)
    // It also runs crash recovery on the target first, since the old primary was killed;
    // -R writes standby.signal and a primary_conninfo naming the source.
    await pg('pg_rewind', [
      '--target-pgdata',
      standby.dir,
      '--source-server',
      `host=127.0.0.1 port=${primary.port} user=postgres dbname=postgres`,
      '--write-recovery-conf',
      '--no-sync',
    ])
    // The configuration files came from the source too, its port with them.
    await appendFile(join(standby.dir, 'postgresql.conf'), `port = ${standby.port}\n`)
    await start(standby)
    await standbyStreams(primary, false)
    if (synchronous) {
      await onServer(primary.port, async (sql) => {
        await sql`alter system set synchronous_standby_names = '*'`
        await sql`select pg_reload_conf()`
      })
      await standbyStreams(primary, true)
    }
  }

  try {
    await initPrimary(first, dir, synchronous ? ["synchronous_standby_names = '*'"] : [])
    await start(first)
    await pg('pg_basebackup', [
      ...['-h', '127.0.0.1', '-p', `${first.port}`, '-U', 'postgres'],
      ...['-D', second.dir, '-R', '-X', 'stream'],
    ])
    await appendFile(join(second.dir, 'postgresql.conf'), `port = ${second.port}\n`)
    await start(second)
    await standbyStreams(first, synchronous)
    const primaryUrl = await createParleyDatabase(first.port)

    return {
      url: `postgres://postgres@127.0.0.1:${first.port},127.0.0.1:${second.port}/parley`,
      primaryUrl,
      standbyUrl: serverUrl(second.port, 'parley'),
      killPrimary: () => stopServer(primary, 'immediate'),
      promoteStandby,
      rejoinOldPrimaryAsStandby,
      async switchover() {
        // A clean shutdown sends the standby every record, the shutdown checkpoint included.
        await stopServer(primary, 'fast')
        await promoteStandby()
        await rejoinOldPrimaryAsStandby()
      },
      stop: stopAll,
    }
  } catch (error) {
    await stopAll()
    throw error
  }
}
