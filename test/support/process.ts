import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll } from 'vitest'
import { launchServer, type ServerProcess } from '../../harness/server-process.js'
import { TEST_SECRET } from './server.js'

// Real `node src/main.ts` processes with everything they write kept: what a deployment runs.

// An empty working directory unless a test gives one: a developer's .env must not reach the tests.
let emptyDir: string | undefined
const emptyWorkingDirectory = () => (emptyDir ??= mkdtempSync(join(tmpdir(), 'parley-process-')))
afterAll(() => {
  if (emptyDir) rmSync(emptyDir, { recursive: true, force: true })
  emptyDir = undefined
})

export type LogLine = Record<string, unknown> & { msg?: string }

export interface ParleyProcess extends ServerProcess {
  /** Everything the process wrote to stdout, pino lines and plain text alike. */
  stdout(): string
  logs(): LogLine[]
  stderr(): string
}

/**
 * Starts `node src/main.ts` in `cwd` on `databaseUrl` with the harness's secret, and
 * resolves once it listens (or fails with its output). A variable given as undefined in
 * `env` is left unset.
 */
export async function startParleyProcess(
  databaseUrl: string,
  env: Record<string, string | undefined> = {},
  onListening?: (instance: ParleyProcess) => void,
  cwd = emptyWorkingDirectory(),
): Promise<ParleyProcess> {
  let stdout = ''
  let stderr = ''
  const logs: LogLine[] = []
  const withOutput = (server: ServerProcess): ParleyProcess =>
    Object.assign(server, { stdout: () => stdout, logs: () => logs, stderr: () => stderr })
  // MIGRATE_ON_START keeps its default (true) unless a test sets it.
  const { MIGRATE_ON_START: _ignored, ...inherited } = process.env
  const server = await launchServer({
    env: {
      ...inherited,
      DATABASE_URL: databaseUrl,
      JWT_SECRET: TEST_SECRET,
      PORT: '0',
      HOST: '127.0.0.1',
      NODE_ENV: 'test',
      LOG_LEVEL: 'info',
      HEARTBEAT_MS: '1000',
      ...env,
    },
    cwd,
    startTimeoutMs: 30_000,
    onLine(line) {
      stdout += `${line}\n`
      const entry = parseLogLine(line)
      if (entry) logs.push(entry)
    },
    onStderr: (chunk) => (stderr += chunk),
    onListening: (started) => onListening?.(withOutput(started)),
  })
  return withOutput(server)
}

/** A pino JSON line, or undefined for the welcome text and pretty log lines. */
function parseLogLine(line: string): LogLine | undefined {
  try {
    const entry: unknown = JSON.parse(line)
    return typeof entry === 'object' && entry !== null ? (entry as LogLine) : undefined
  } catch {
    return undefined
  }
}
