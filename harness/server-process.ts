import { type ChildProcess, spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { stripVTControlCharacters } from 'node:util'

// Parley as its own `node src/main.ts` process, as a deployment runs it: started, known to
// listen, stopped. The tests and the benchmark both start it this way.

/** The repository root, where `src/main.ts` is. */
export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url))
// By path, so that a process started in a directory without node_modules still finds it.
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href

export interface ServerLaunch {
  /** The process's whole environment; a variable given as undefined is left unset. */
  env: Record<string, string | undefined>
  /** The working directory, where main.ts looks for a .env file; the repository root by default. */
  cwd?: string
  /** Every line of stdout. The launcher itself reads them only until the `listening` line. */
  onLine?: (line: string) => void
  /** Every chunk of stderr. */
  onStderr?: (chunk: string) => void
  /** Called as soon as the process listens, before `launchServer` resolves. */
  onListening?: (server: ServerProcess) => void
  startTimeoutMs?: number
}

export interface ServerProcess {
  child: ChildProcess
  pid: number
  port: number
  url: string
  /** How the process ended, once it has. */
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined
  exited: Promise<void>
  /** The last lines of stderr, for error reports. */
  stderrTail(): string
  /** SIGTERM, then SIGKILL if it has not exited after `timeoutMs`. */
  stop(timeoutMs?: number): Promise<void>
}

/**
 * Starts `node --import tsx src/main.ts` and resolves once it logs `listening`, as a pino
 * JSON line or a pretty one (LOG_FORMAT=pretty), so LOG_LEVEL must let `info` through. If it
 * exits or does not listen within `startTimeoutMs`, it is stopped and the promise fails
 * with the end of its output. stdout is always read: a pipe left unread would stall it.
 */
export async function launchServer(launch: ServerLaunch): Promise<ServerProcess> {
  const env = Object.fromEntries(Object.entries(launch.env).filter(([, value]) => value !== undefined))
  const child = spawn(process.execPath, ['--import', TSX, join(REPO_ROOT, 'src/main.ts')], {
    cwd: launch.cwd ?? REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  if (child.pid === undefined) throw new Error('could not start the server process')
  // If this process dies without stopping the server, do not leave it running.
  const killOnExit = () => child.kill('SIGKILL')
  process.on('exit', killOnExit)

  const stderr: string[] = []
  const stdoutTail: string[] = []
  let listening: (port: number) => void = () => {}
  const port = new Promise<number>((resolve) => (listening = resolve))
  let found: number | undefined

  const server: ServerProcess = {
    child,
    pid: child.pid,
    port: 0,
    url: '',
    exit: undefined,
    exited: new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        server.exit = { code, signal }
        process.removeListener('exit', killOnExit)
        resolve()
      }),
    ),
    stderrTail: () => stderr.join('').split('\n').slice(-20).join('\n'),
    async stop(timeoutMs = 15_000) {
      if (server.exit === undefined) {
        child.kill('SIGTERM')
        const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
        await server.exited
        clearTimeout(timer)
      }
    },
  }

  let partial = ''
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n')
    partial = lines.pop() ?? ''
    for (const line of lines) {
      launch.onLine?.(line)
      if (found !== undefined) continue
      stdoutTail.push(line)
      if (stdoutTail.length > 20) stdoutTail.shift()
      found = listeningPort(line)
      if (found === undefined) continue
      server.port = found
      server.url = `http://127.0.0.1:${found}`
      launch.onListening?.(server)
      listening(found)
    }
  })
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr.push(chunk)
    if (stderr.length > 50) stderr.shift()
    launch.onStderr?.(chunk)
  })

  const timeoutMs = launch.startTimeoutMs ?? 60_000
  let timer: NodeJS.Timeout | undefined
  const died = server.exited.then(() => {
    const output = `${server.stderrTail()}\n${stdoutTail.join('\n')}`
    throw new Error(`the server exited ${JSON.stringify(server.exit)} before listening:\n${output}`)
  })
  died.catch(() => {}) // Once it listens, a later exit is no start-up failure.
  try {
    await Promise.race([
      port,
      died,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`the server did not listen within ${timeoutMs} ms`)),
          timeoutMs,
        )
      }),
    ])
  } catch (error) {
    await server.stop(5_000)
    throw error
  } finally {
    clearTimeout(timer)
  }
  return server
}

/** The port of a `listening` line, pino JSON or pretty (`[…] INFO: listening {"port":…}`). */
function listeningPort(line: string): number | undefined {
  if (line.startsWith('{')) {
    if (!line.includes('"msg":"listening"')) return undefined
    try {
      const entry = JSON.parse(line) as { msg?: unknown; port?: unknown }
      return entry.msg === 'listening' && typeof entry.port === 'number' ? entry.port : undefined
    } catch {
      return undefined
    }
  }
  const port = /INFO: listening \{"port":([0-9]+)\}$/.exec(stripVTControlCharacters(line))?.[1]
  return port === undefined ? undefined : Number(port)
}
