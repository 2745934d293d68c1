import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import postgres from 'postgres'
import { findFreePort } from '../../src/db/embedded.js'
import { until } from './wait.js'

// A PgBouncer of the machine's own (Debian's package), started for one test file in front
// of its database, on a spare port, from a configuration in a temporary directory. Never
// a PgBouncer the machine runs.

const CANDIDATES = [process.env.PGBOUNCER, '/usr/sbin/pgbouncer', '/usr/bin/pgbouncer'].filter(
  Boolean,
) as string[]

/** The pgbouncer binary, if this machine has one. */
export const pgbouncerBinary = CANDIDATES.find((path) => existsSync(path))

/** Whether PgBouncer tests run: on CI a missing pgbouncer is a failure, never a skip. */
export function pgbouncerTestsRun(): boolean {
  if (pgbouncerBinary) return true
  if (process.env.CI === 'true') {
    throw new Error(`CI=true but no pgbouncer in ${CANDIDATES.join(', ')}: the pooler tests cannot run`)
  }
  return false
}

export interface PgBouncer {
  /** `databaseUrl`'s database, through the pooler. */
  url: string
  /** Everything PgBouncer logged. */
  log(): string
  stop(): Promise<void>
}

/**
 * PgBouncer in transaction mode in front of `databaseUrl`. Apart from pool_mode, every
 * setting is the package's: the shipped pgbouncer.ini sets only where it listens, how it
 * authenticates and where its log, pid file and socket go, and those are the ones changed
 * here (clients are trusted; PgBouncer logs in to PostgreSQL with the URL's user and
 * password). In particular ignore_startup_parameters is empty and max_prepared_statements
 * does not exist before 1.21. Refusing root, it runs as the postgres user when we are root.
 */
export async function startPgBouncer(databaseUrl: string): Promise<PgBouncer> {
  if (!pgbouncerBinary) throw new Error('no pgbouncer on this machine')
  const target = new URL(databaseUrl)
  const database = decodeURIComponent(target.pathname.slice(1))
  const user = decodeURIComponent(target.username)
  const password = decodeURIComponent(target.password)
  const port = await findFreePort()
  const dir = await mkdtemp(join(tmpdir(), 'parley-pgbouncer-'))
  await chmod(dir, 0o755)
  const login = `user=${user}${password ? ` password=${password}` : ''}`
  await writeFile(join(dir, 'userlist.txt'), `"${user}" ""\n`, { mode: 0o644 })
  await writeFile(
    join(dir, 'pgbouncer.ini'),
    [
      '[databases]',
      `${database} = host=${target.hostname} port=${target.port || 5432} dbname=${database} ${login}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = trust',
      `auth_file = ${join(dir, 'userlist.txt')}`,
      'logfile =',
      'pidfile =',
      'pool_mode = transaction',
      '',
    ].join('\n'),
    { mode: 0o644 },
  )
  const child: ChildProcess = spawn(pgbouncerBinary, [join(dir, 'pgbouncer.ini')], {
    stdio: ['ignore', 'pipe', 'pipe'],
    ...postgresUserWhenRoot(),
  })
  let log = ''
  child.stdout?.on('data', (chunk: Buffer) => (log += chunk.toString()))
  child.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString()))
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const killOnExit = () => child.kill('SIGKILL')
  process.on('exit', killOnExit)

  const pooled = new URL(databaseUrl)
  pooled.hostname = '127.0.0.1'
  pooled.port = String(port)
  const url = pooled.toString()
  async function stop() {
    process.removeListener('exit', killOnExit)
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGINT')
      await exited
    }
    await rm(dir, { recursive: true, force: true })
  }
  try {
    await until(() => answers(url, child), 'PgBouncer to answer', 10_000)
  } catch (error) {
    await stop()
    throw new Error(`PgBouncer did not start: ${String(error)}\n${log}`)
  }
  return { url, log: () => log, stop }
}

async function answers(url: string, child: ChildProcess): Promise<boolean> {
  if (child.exitCode !== null) throw new Error(`pgbouncer exited with ${child.exitCode}`)
  const sql = postgres(url, {
    max: 1,
    prepare: false,
    fetch_types: false,
    connect_timeout: 1,
    onnotice: () => {},
  })
  try {
    await sql`select 1`
    return true
  } catch {
    return false
  } finally {
    await sql.end({ timeout: 1 })
  }
}

function postgresUserWhenRoot(): { uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return {}
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim())
  return { uid: id('-u'), gid: id('-g') }
}
