import { type ChildProcess, spawn } from 'node:child_process'
import { dirname, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

/** The repository root, where `src/main.ts` and `node_modules/tsx` are. */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')

export interface ServerProcessOptions {
  /** Added to this process's environment. LOG_LEVEL must let `info` through: the port is read from the 'listening' line. */
  env: Record<string, string>
  startTimeoutMs?: number
}

export interface ServerProcess {
  pid: number
  port: number
  url: string
  /** Log lines at `warn` or above, counted by message. */
  warnings: Map<string, number>
  /** The first full log line of each warning message. */
  warningExamples: Map<string, string>
  /** The last lines of stderr, for error reports. */
  stderrTail(): string
  exited(): boolean
  /** SIGTERM, then SIGKILL if it has not exited after `timeoutMs`. */
  stop(timeoutMs?: number): Promise<void>
}

const WARN = 40

/**
 * Starts `node --import tsx src/main.ts` as a child process and resolves once it logs
 * 'listening'. Its stdout (one pino JSON line per request at info level) is read and
 * discarded, except for the port and the warnings; a pipe left unread would stall the server.
 */
export async function startServerProcess(options: ServerProcessOptions): Promise<ServerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const pid = child.pid
  if (pid === undefined) throw new Error('could not start the server process')
  // If this process dies without stopping the server, do not leave it running.
  const killOnExit = () => child.kill('SIGKILL')
  process.on('exit', killOnExit)

  const warnings = new Map<string, number>()
  const warningExamples = new Map<string, string>()
  const stderr: string[] = []
  child.stderr.setEncoding('utf8')
  child.stderr.on('data', (chunk: string) => {
    stderr.push(chunk)
    if (stderr.length > 50) stderr.shift()
  })
  const exit = new Promise<void>((resolveExit) => child.once('exit', () => resolveExit()))

  let onPort: (port: number) => void = () => {}
  const port = new Promise<number>((resolvePort) => (onPort = resolvePort))
  createInterface({ input: child.stdout }).on('line', (line) => {
    const level = /^\{"level":(\d+)/.exec(line)?.[1]
    if (level === undefined) return
    if (Number(level) >= WARN) {
      const msg = String(parseLine(line)?.msg ?? line)
      warnings.set(msg, (warnings.get(msg) ?? 0) + 1)
      if (!warningExamples.has(msg)) warningExamples.set(msg, line)
    } else if (line.includes('"msg":"listening"')) {
      const parsed = parseLine(line)
      if (typeof parsed?.port === 'number') onPort(parsed.port)
    }
  })

  const server: ServerProcess = {
    pid,
    port: 0,
    url: '',
    warnings,
    warningExamples,
    stderrTail: () => stderr.join('').split('\n').slice(-20).join('\n'),
    exited: () => hasExited(child),
    async stop(timeoutMs = 15_000) {
      if (!hasExited(child)) {
        child.kill('SIGTERM')
        const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
        await exit
        clearTimeout(timer)
      }
      process.removeListener('exit', killOnExit)
    },
  }

  const timeoutMs = options.startTimeoutMs ?? 60_000
  let timer: NodeJS.Timeout | undefined
  try {
    server.port = await Promise.race([
      port,
      exit.then(() => Promise.reject(new Error(`the server exited while starting:\n${server.stderrTail()}`))),
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
  server.url = `http://127.0.0.1:${server.port}`
  return server
}

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null
}

function parseLine(line: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(line) as Record<string, unknown>
  } catch {
    return undefined
  }
}
