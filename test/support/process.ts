import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { stripVTControlCharacters } from 'node:util'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { TEST_SECRET } from './server.js'
import { until } from './wait.js'

// Real `node src/main.ts` processes: what a deployment runs.

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
// By path, so that a process started in a directory without node_modules still finds it.
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href
// An empty working directory unless a test gives one: a developer's .env must not reach the tests.
let emptyDir: string | undefined
const emptyWorkingDirectory = () => (emptyDir ??= mkdtempSync(join(tmpdir(), 'parley-process-')))

export type LogLine = Record<string, unknown> & { msg?: string }

export interface ParleyProcess {
  child: ChildProcess
  url: string
  /** Everything the process wrote to stdout, pino lines and plain text alike. */
  stdout(): string
  logs(): LogLine[]
  stderr(): string
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined
  exited: Promise<void>
}

/**
 * Starts `node src/main.ts` in `cwd` and resolves once it logs `listening` (or fails with its
 * output). A variable given as undefined in `env` is left unset.
 */
export async function startParleyProcess(
  databaseUrl: string,
  env: Record<string, string | undefined> = {},
  onListening?: (instance: ParleyProcess) => void,
  cwd = emptyWorkingDirectory(),
): Promise<ParleyProcess> {
  // MIGRATE_ON_START keeps its default (true) unless a test sets it.
  const { MIGRATE_ON_START: _ignored, ...inherited } = process.env
  const child = spawn(process.execPath, ['--import', TSX, join(ROOT, 'src/main.ts')], {
    cwd,
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
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  const logs: LogLine[] = []
  let port: number | undefined
  const instance: ParleyProcess = {
    child,
    url: '',
    stdout: () => stdout,
    logs: () => logs,
    stderr: () => stderr,
    exit: undefined,
    exited: new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        instance.exit = { code, signal }
        resolve()
      }),
    ),
  }
  let partial = ''
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk
    const lines = (partial + chunk).split('\n')
    partial = lines.pop() ?? ''
    for (const line of lines) {
      const entry = parseLogLine(line)
      if (entry) logs.push(entry)
      const listeningOn = entry
        ? entry.msg === 'listening'
          ? entry.port
          : undefined
        : prettyListeningPort(line)
      if (typeof listeningOn === 'number' && port === undefined) {
        port = listeningOn
        instance.url = `http://127.0.0.1:${port}`
        onListening?.(instance)
      }
    }
  })
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  await until(() => port !== undefined || instance.exit !== undefined, 'the instance to listen', 30_000)
  if (port === undefined) {
    child.kill('SIGKILL')
    throw new Error(`instance exited ${JSON.stringify(instance.exit)} before listening:\n${stderr}${stdout}`)
  }
  return instance
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

/** The port of a pretty `listening` line (LOG_FORMAT=pretty): `[…] INFO: listening {"port":…}`. */
function prettyListeningPort(line: string): number | undefined {
  const port = /INFO: listening \{"port":([0-9]+)\}$/.exec(stripVTControlCharacters(line))?.[1]
  return port === undefined ? undefined : Number(port)
}
