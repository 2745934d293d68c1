import { type ChildProcess, spawn } from 'node:child_process'
import { setTimeout as sleep } from 'node:timers/promises'
import { findFreePort } from '../../src/db/embedded.js'
import { REPO_ROOT } from '../lib/server-process.js'
import type { TargetLaunch } from './targets.js'

export interface TargetProcess {
  pid: number
  port: number
  url: string
  exited(): boolean
  /** The last lines the process wrote, for error reports. */
  outputTail(): string
  /** SIGTERM, then SIGKILL if it has not exited after `timeoutMs`. */
  stop(timeoutMs?: number): Promise<void>
}

/**
 * Starts a server under test as its own `node` process on a free port and resolves once
 * `GET /readyz` answers 200. Its output is read (an unread pipe would stall it) and only
 * the tail is kept.
 */
export async function startTargetProcess(launch: TargetLaunch, timeoutMs = 60_000): Promise<TargetProcess> {
  const port = await findFreePort()
  const child = spawn(process.execPath, launch.args, {
    cwd: REPO_ROOT,
    env: { ...process.env, ...launch.env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const pid = child.pid
  if (pid === undefined) throw new Error(`could not start node ${launch.args.join(' ')}`)
  // If this process dies without stopping the server, do not leave it running.
  const killOnExit = () => child.kill('SIGKILL')
  process.on('exit', killOnExit)
  const tail: string[] = []
  const keep = (chunk: Buffer) => {
    tail.push(chunk.toString('utf8'))
    if (tail.length > 40) tail.shift()
  }
  child.stdout.on('data', keep)
  child.stderr.on('data', keep)
  const exit = new Promise<void>((resolve) => child.once('exit', () => resolve()))

  const target: TargetProcess = {
    pid,
    port,
    url: `http://127.0.0.1:${port}`,
    exited: () => hasExited(child),
    outputTail: () => tail.join('').split('\n').slice(-20).join('\n'),
    async stop(stopTimeoutMs = 15_000) {
      if (!hasExited(child)) {
        child.kill('SIGTERM')
        const timer = setTimeout(() => child.kill('SIGKILL'), stopTimeoutMs)
        await exit
        clearTimeout(timer)
      }
      process.removeListener('exit', killOnExit)
    },
  }
  const deadline = Date.now() + timeoutMs
  while (!(await isReady(target.url))) {
    if (target.exited()) throw new Error(`node ${launch.args.join(' ')} exited:\n${target.outputTail()}`)
    if (Date.now() > deadline) {
      await target.stop(5_000)
      throw new Error(`node ${launch.args.join(' ')} was not ready within ${timeoutMs} ms`)
    }
    await sleep(100)
  }
  return target
}

async function isReady(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2_000) })
    await response.arrayBuffer()
    return response.status === 200
  } catch {
    return false
  }
}

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null
}
