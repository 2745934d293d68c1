import { launchServer } from '../../harness/server-process.js'

export { REPO_ROOT } from '../../harness/server-process.js'

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
 * Starts the server under test as its own process and resolves once it listens. Its stdout
 * (one pino JSON line per request at info level) is read and discarded, except for the
 * warnings.
 */
export async function startServerProcess(options: ServerProcessOptions): Promise<ServerProcess> {
  const warnings = new Map<string, number>()
  const warningExamples = new Map<string, string>()
  const server = await launchServer({
    env: { ...process.env, ...options.env },
    startTimeoutMs: options.startTimeoutMs,
    onLine(line) {
      const level = /^\{"level":(\d+)/.exec(line)?.[1]
      if (level === undefined || Number(level) < WARN) return
      const msg = String(parseLine(line)?.msg ?? line)
      warnings.set(msg, (warnings.get(msg) ?? 0) + 1)
      if (!warningExamples.has(msg)) warningExamples.set(msg, line)
    },
  })
  return {
    pid: server.pid,
    port: server.port,
    url: server.url,
    warnings,
    warningExamples,
    stderrTail: server.stderrTail,
    exited: () => server.exit !== undefined,
    stop: server.stop,
  }
}

function parseLine(line: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(line) as Record<string, unknown>
  } catch {
    return undefined
  }
}
