import { stripVTControlCharacters } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'
import { resolveLogFormat } from '../src/logger.js'
import { useTestDatabase } from './support/fixtures.js'
import { type ParleyProcess, startParleyProcess } from './support/process.js'

describe('resolveLogFormat', () => {
  it.each([
    ['auto', 'development', true, 'pretty'],
    ['auto', 'test', true, 'pretty'],
    ['auto', 'development', false, 'json'],
    ['auto', 'production', true, 'json'],
    ['pretty', 'production', false, 'pretty'],
    ['json', 'development', true, 'json'],
  ] as const)('gives %s in %s (stdout a terminal: %s) %s', (LOG_FORMAT, NODE_ENV, terminal, format) => {
    expect(resolveLogFormat({ LOG_FORMAT, NODE_ENV }, terminal)).toBe(format)
  })
})

describe('the log lines of a real process', () => {
  const database = useTestDatabase()
  const running: ParleyProcess[] = []

  afterAll(async () => {
    for (const instance of running) {
      if (instance.exit === undefined) instance.child.kill('SIGTERM')
      await instance.exited
    }
  })

  async function start(env: Record<string, string | undefined>) {
    const instance = await startParleyProcess(database.url, { MIGRATE_ON_START: 'false', ...env })
    running.push(instance)
    return instance
  }

  it('are pretty with LOG_FORMAT=pretty: a coloured line per request, the welcome text between', async () => {
    const instance = await start({
      LOG_FORMAT: 'pretty',
      NODE_ENV: 'development',
      FORCE_COLOR: '1',
      NO_COLOR: undefined,
    })
    expect((await fetch(`${instance.url}/healthz`)).status).toBe(200)
    expect((await fetch(`${instance.url}/no-such-path`)).status).toBe(404)
    await expect.poll(() => instance.stdout(), { timeout: 10_000 }).toContain('/no-such-path')

    const lines = instance.stdout().split('\n')
    const plain = lines.map(stripVTControlCharacters)
    expect(instance.logs()).toEqual([])
    expect(plain.filter((line) => line.includes('/healthz 200'))).toEqual([
      expect.stringMatching(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: GET \/healthz 200 \d+ ms$/),
    ])
    expect(plain).toContainEqual(expect.stringMatching(/ INFO: GET \/no-such-path 404 \d+ ms$/))
    // The status in green, a client error in yellow.
    expect(instance.stdout()).toContain('\u001b[32m200\u001b[')
    expect(instance.stdout()).toContain('\u001b[33m404\u001b[')
    // The welcome text keeps its own plain lines.
    expect(lines).toContain(`Parley is running at http://localhost:${new URL(instance.url).port}`)
  })

  it('are JSON with LOG_FORMAT=json, every line of them, the request line included', async () => {
    // Production prints no welcome text, so every line is a log line.
    const instance = await start({ LOG_FORMAT: 'json', NODE_ENV: 'production' })
    expect((await fetch(`${instance.url}/healthz`)).status).toBe(200)
    await expect
      .poll(() => instance.logs().some((entry) => entry.msg === 'request'), { timeout: 10_000 })
      .toBe(true)

    const lines = instance.stdout().split('\n').filter(Boolean)
    for (const line of lines) expect(() => JSON.parse(line) as unknown, line).not.toThrow()
    expect(instance.logs().find((entry) => entry.msg === 'request')).toMatchObject({
      level: 30,
      method: 'GET',
      path: '/healthz',
      status: 200,
      ms: expect.any(Number),
      requestId: expect.any(String),
    })
  })
})
