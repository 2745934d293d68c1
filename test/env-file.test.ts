import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { findMalformedLine } from '../src/env-file.js'
import { useTestDatabase } from './support/fixtures.js'
import { type ParleyProcess, startParleyProcess } from './support/process.js'

describe('findMalformedLine', () => {
  it('accepts assignments, export, comments, blank lines and quoted values over several lines', () => {
    const text = [
      '# a comment',
      '',
      'PORT=3000',
      'export HOST = 0.0.0.0',
      'JWT_SECRET="line one',
      'line two"',
      "LOG_LEVEL='debug' # trailing comment",
      'EMPTY=',
    ].join('\n')
    expect(findMalformedLine(text)).toBeUndefined()
  })

  it.each([
    ['PORT 3000', 'line 2 is not NAME=value'],
    ['PORT: 3000', 'line 2 is not NAME=value'],
    ['=3000', 'line 2 is not NAME=value'],
    ['JWT_SECRET="never closed', 'line 2 opens a "quoted value that is never closed'],
  ])('names the line of %j', (line, problem) => {
    expect(findMalformedLine(`HOST=127.0.0.1\n${line}\nLOG_LEVEL=info\n`)).toBe(problem)
  })
})

/** A port nothing listens on right now. */
async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  if (typeof address !== 'object' || address === null) throw new Error('no port')
  return address.port
}

describe('a .env file in the working directory', () => {
  const database = useTestDatabase()
  let dir: string
  const running: ParleyProcess[] = []

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'parley-env-'))
  })

  afterAll(async () => {
    for (const instance of running) {
      if (instance.exit === undefined) instance.child.kill('SIGTERM')
      await instance.exited
    }
    await rm(dir, { recursive: true, force: true })
  })

  /** Starts Parley in `dir` with `.env` holding `file`; the harness's PORT and NODE_ENV are unset. */
  async function startWith(file: string, env: Record<string, string> = {}) {
    await writeFile(join(dir, '.env'), file)
    const instance = await startParleyProcess(
      database.url,
      { PORT: undefined, NODE_ENV: undefined, MIGRATE_ON_START: 'false', ...env },
      undefined,
      dir,
    )
    running.push(instance)
    return instance
  }

  it('sets what the environment does not: the port, and development mode with its welcome text', async () => {
    const port = await freePort()
    const instance = await startWith(`# for this test\nNODE_ENV=development\nPORT=${port}\n`)
    expect(instance.url).toBe(`http://127.0.0.1:${port}`)
    await expect
      .poll(() => instance.stdout(), { timeout: 10_000 })
      .toContain(`Parley is running at http://localhost:${port}\n`)
  })

  it('loses to a variable set in the real environment', async () => {
    const [filePort, realPort] = [await freePort(), await freePort()]
    const instance = await startWith(`NODE_ENV=development\nPORT=${filePort}\n`, { PORT: String(realPort) })
    expect(instance.url).toBe(`http://127.0.0.1:${realPort}`)
    await expect
      .poll(() => instance.stdout(), { timeout: 10_000 })
      .toContain(`Parley is running at http://localhost:${realPort}\n`)
  })

  it('stops the start with the line at fault when it is malformed, without echoing the line', async () => {
    const start = startWith('NODE_ENV=development\nJWT_SECRET something-secret\nPORT=0\n')
    const failure = await start.then(
      () => undefined,
      (error: unknown) => error as Error,
    )
    expect(failure?.message).toContain('exited {"code":1,"signal":null} before listening')
    expect(failure?.message).toContain('Invalid .env: line 2 is not NAME=value')
    expect(failure?.message).not.toContain('something-secret')
  })
})
