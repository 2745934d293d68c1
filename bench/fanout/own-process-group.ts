import { spawn } from 'node:child_process'
import { constants } from 'node:os'

const WORKER_ENV = 'PARLEY_BENCH_WORKER'

/**
 * Runs this script again as a child in its own process group and mirrors its exit code;
 * returns true in that child, which does the work.
 *
 * Why: `npm run bench` runs under tsx's CLI, which relays Ctrl-C to the script and SIGKILLs
 * it when the script does not acknowledge the signal within 30 ms, common on a loaded
 * machine. That cut the cleanup short and left the embedded PostgreSQL's data directory (or,
 * with DATABASE_URL, the bench database) behind. The terminal's Ctrl-C does not reach another
 * process group, so here it arrives only as forwarded by this process, and the worker also
 * cleans up if this process dies (its IPC channel closes).
 */
export function runInOwnProcessGroup(onOrphaned: () => void): boolean {
  if (process.env[WORKER_ENV] === '1') {
    process.on('disconnect', onOrphaned)
    process.channel?.unref()
    return true
  }
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
    detached: true,
    env: { ...process.env, [WORKER_ENV]: '1' },
  })
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal))
  child.on('exit', (code, signal) => process.exit(code ?? 128 + (signal ? constants.signals[signal] : 0)))
  return false
}
