import { join } from 'node:path'
import type { BuildOutput } from './build.js'

export const TARGET_NAMES = ['parley', 'raw', 'naive', 'listen-per-subscriber', 'polling'] as const
export type TargetName = (typeof TARGET_NAMES)[number]

export const TARGET_DESCRIPTIONS: Record<TargetName, string> = {
  parley: 'Parley (dist/src/main.js), production mode, log level warn',
  raw: 'bare node:http, one LISTEN connection, one pre-built frame written to every response',
  naive: "Hono + @hono/node-server, one LISTEN connection, streamSSE's writeSSE per subscriber",
  'listen-per-subscriber': 'a PostgreSQL LISTEN connection per open stream',
  polling: 'every stream polls the database once a second',
}

export interface TargetLaunch {
  /** Arguments to `node`. */
  args: string[]
  env: Record<string, string>
}

export interface LaunchContext {
  build: BuildOutput
  databaseUrl: string
  jwtSecret: string
  /** The most streams the run will open against one server. */
  maxStreams: number
  /** Directory for V8 CPU profiles of the servers, when profiling. */
  profileDir?: string
}

/** How to start each server under test; all of them listen on HOST:PORT given here. */
export function targetLaunch(name: TargetName, context: LaunchContext): TargetLaunch {
  const env = { DATABASE_URL: context.databaseUrl, HOST: '127.0.0.1' }
  // Named for the server and the start time; written when the process exits.
  const profileName = `${name}-${new Date().toISOString().replace(/[:.]/g, '-')}.cpuprofile`
  const profile = context.profileDir
    ? ['--cpu-prof', '--cpu-prof-dir', context.profileDir, '--cpu-prof-name', profileName]
    : []
  if (name !== 'parley') {
    return { args: [...profile, join(context.build.baselinesDir, `${name}.js`)], env }
  }
  const limit = String(context.maxStreams + 1000)
  return {
    args: [...profile, context.build.parleyMain],
    env: {
      ...env,
      // Production: no welcome banner, and the configuration must be complete.
      NODE_ENV: 'production',
      JWT_SECRET: context.jwtSecret,
      // The harness picks the port and waits for /readyz, so nothing needs the 'listening' line.
      LOG_LEVEL: 'warn',
      LOG_FORMAT: 'json',
      MIGRATE_ON_START: 'false',
      MAX_STREAMS: limit,
      MAX_STREAMS_PER_USER: limit,
      RATE_LIMIT_MESSAGES: '0',
    },
  }
}
