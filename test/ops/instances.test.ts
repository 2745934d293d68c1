import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { request as httpRequest } from 'node:http'
import { fileURLToPath } from 'node:url'
import { EventSource } from 'eventsource'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { MessageView } from '../../src/chat/messages.js'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { type ParleyProcess, startParleyProcess } from '../support/process.js'
import { signTestToken } from '../support/server.js'
import { openStream, type StreamClient } from '../support/sse.js'
import { until } from '../support/wait.js'

// Real `node src/main.ts` processes, each on this file's database: what a deployment runs.

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const SHUTDOWN_TIMEOUT_MS = 3_000
const SSE_RETRY_MS = 2_000
const SHUTDOWN_FRAME = `retry: ${SSE_RETRY_MS}\nevent: shutdown\ndata: {"reason":"server_shutdown"}`

type Instance = ParleyProcess

let database: TestDatabase
const instances: Instance[] = []
const clients: { close(): void }[] = []

beforeAll(async () => {
  database = await createTestDatabase()
})

afterEach(async () => {
  for (const client of clients.splice(0)) client.close()
  await killAll()
  // The next test counts LISTEN connections: none may linger from this one.
  await until(async () => (await listenerCount()) === 0, 'the killed instances’ LISTEN connections to end')
})

afterAll(async () => {
  await killAll()
  await database?.drop()
})

/** Starts an instance on this file's database; afterEach kills whatever is left. */
async function startInstance(env: Record<string, string> = {}, onListening?: (instance: Instance) => void) {
  const instance = startParleyProcess(
    database.url,
    { SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS), ...env },
    (started) => {
      instances.push(started)
      onListening?.(started)
    },
  )
  return instance
}

async function killAll() {
  const running = instances.splice(0).filter((instance) => instance.exit === undefined)
  for (const instance of running) instance.child.kill('SIGKILL')
  await Promise.all(running.map((instance) => instance.exited))
}

async function listenerCount(): Promise<number> {
  const [row] = await database.sql<{ n: number }[]>`
    select count(*)::int as n from pg_stat_activity
    where application_name = 'parley-listener' and datname = current_database()`
  return row!.n
}

const tokens = new Map<string, Promise<string>>()
function tokenFor(sub: string): Promise<string> {
  let token = tokens.get(sub)
  if (!token) {
    token = signTestToken({ sub, name: sub.toUpperCase() })
    tokens.set(sub, token)
  }
  return token
}

async function api(instance: Instance, path: string, as: string, body?: unknown) {
  const headers: Record<string, string> = { authorization: `Bearer ${await tokenFor(as)}` }
  if (body !== undefined) headers['content-type'] = 'application/json'
  return fetch(`${instance.url}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  })
}

async function createRoom(instance: Instance, name: string): Promise<number> {
  const response = await api(instance, '/rooms', 'owner', { name })
  expect(response.status).toBe(201)
  return ((await response.json()) as { id: number }).id
}

async function post(instance: Instance, roomId: number, body: string, as: string): Promise<MessageView> {
  const response = await api(instance, `/rooms/${roomId}/messages`, as, { body })
  expect(response.status).toBe(201)
  return (await response.json()) as MessageView
}

function insertSql(roomId: number, body: string) {
  return database.sql`
    insert into messages (room_id, user_id, user_name, body) values (${roomId}, 'ops', 'Ops', ${body})`
}

function subscribe(instance: Instance, roomId: number, token: string, lastEventId?: number): StreamClient {
  const stream = openStream(instance.url, roomId, { token, lastEventId })
  clients.push(stream)
  return stream
}

interface Sample {
  labels: Record<string, string>
  value: number
}

/** The samples of one metric in Prometheus text format. */
function samples(text: string, name: string): Sample[] {
  const found: Sample[] = []
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (!match || match[1] !== name) continue
    const labels: Record<string, string> = {}
    for (const [, key, value] of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g))
      labels[key!] = value!
    found.push({ labels, value: Number(match[3]) })
  }
  return found
}

/** The value of an unlabelled metric; fails unless it has exactly one sample. */
function single(text: string, name: string): number {
  const found = samples(text, name)
  expect(found, name).toHaveLength(1)
  return found[0]!.value
}

async function scrape(instance: Instance): Promise<string> {
  const response = await fetch(`${instance.url}/metrics`)
  expect(response.status).toBe(200)
  return response.text()
}

async function waitForOpenStreams(instance: Instance, count: number) {
  await until(
    async () => single(await scrape(instance), 'parley_open_streams') === count,
    `${count} open streams on ${instance.url}`,
  )
}

/** A real SSE client that records its errors and, unlike the harness's, stops at the first. */
function openStreamStoppingOnError(instance: Instance, roomId: number, token: string) {
  const source = new EventSource(`${instance.url}/rooms/${roomId}/stream`, {
    fetch: (input, init) => {
      const headers = new Headers(init?.headers)
      headers.set('authorization', `Bearer ${token}`)
      return fetch(input, { ...init, headers })
    },
  })
  const stream = {
    messages: [] as MessageView[],
    errors: 0,
    opened: new Promise<void>((resolve) => source.addEventListener('open', () => resolve(), { once: true })),
    seqs: () => stream.messages.map((message) => message.seq),
    isClosed: () => source.readyState === EventSource.CLOSED,
    close: () => source.close(),
  }
  source.addEventListener('message', (event) => stream.messages.push(JSON.parse(event.data) as MessageView))
  source.addEventListener('error', () => {
    stream.errors++
    source.close()
  })
  clients.push(stream)
  return stream
}

/** A stream read as raw text, to see every frame and how the body ends. */
async function openRawStream(url: string, token?: string) {
  const response = await fetch(url, token ? { headers: { authorization: `Bearer ${token}` } } : {})
  expect(response.status).toBe(200)
  const reader = response.body!.getReader()
  const decoder = new TextDecoder()
  const state = { text: '', bytes: 0, end: undefined as 'done' | 'error' | undefined }
  void (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read()
        if (done) break
        state.bytes += value.byteLength
        state.text += decoder.decode(value, { stream: true })
      }
      state.end = 'done'
    } catch {
      state.end = 'error'
    }
  })()
  clients.push({ close: () => void reader.cancel().catch(() => {}) })
  return { state, cancel: () => reader.cancel() }
}

/**
 * A POST whose headers and first half of the body are on the wire; `finish()` sends the
 * rest. Until then the server holds an in-flight request it must not cut off.
 */
async function startSlowPost(instance: Instance, roomId: number, body: string, as: string) {
  const payload = JSON.stringify({ body })
  const half = Math.floor(payload.length / 2)
  const request = httpRequest(`${instance.url}/rooms/${roomId}/messages`, {
    method: 'POST',
    agent: false,
    headers: {
      authorization: `Bearer ${await tokenFor(as)}`,
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(payload)),
    },
  })
  const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
    request.on('error', reject)
    request.on('response', (res) => {
      let text = ''
      res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }))
      res.on('error', reject)
    })
  })
  response.catch(() => {})
  await new Promise<void>((resolve, reject) =>
    request.write(payload.slice(0, half), (error) => (error ? reject(error) : resolve())),
  )
  return { response, finish: () => request.end(payload.slice(half)) }
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)
/** The frames of a raw stream, without their blank-line terminators. */
const framesOf = (text: string) => text.split('\n\n').filter((frame) => frame !== '')
/** Frames other than heartbeats and id-less room events (presence and the like): what a test is about. */
const essentialFrames = (text: string) =>
  framesOf(text).filter((frame) => frame !== ': ping' && !/^event: [a-z]+\ndata: /.test(frame))

describe('several instances on one database', () => {
  it('delivers POSTs to either instance and psql inserts to every subscriber of both, once each and in seq order', async () => {
    const [a, b] = await Promise.all([startInstance(), startInstance()])
    const roomId = await createRoom(a, 'one-service')
    const token = await tokenFor('watcher')
    const onA = range(1, 3).map(() => subscribe(a, roomId, token))
    const onB = range(1, 3).map(() => subscribe(b, roomId, token))
    await Promise.all([waitForOpenStreams(a, 3), waitForOpenStreams(b, 3)])

    const first = await post(a, roomId, 'posted to A', 'alice')
    const second = await post(b, roomId, 'posted to B', 'bob')
    await insertSql(roomId, 'inserted with SQL')
    for (const stream of [...onA, ...onB]) await stream.waitFor(3)
    // A last message closes the batch: a duplicate of the first three would arrive before it.
    await insertSql(roomId, 'end marker')
    for (const stream of [...onA, ...onB]) {
      await stream.waitFor(4)
      expect(stream.seqs()).toEqual([1, 2, 3, 4])
      expect(stream.messages[0]).toEqual(first)
      expect(stream.messages[1]).toEqual(second)
      expect(stream.messages.slice(2).map((message) => [message.user_id, message.body])).toEqual([
        ['ops', 'inserted with SQL'],
        ['ops', 'end marker'],
      ])
    }

    expect(await listenerCount()).toBe(2)
    expect(single(await scrape(a), 'parley_listener_up')).toBe(1)
    expect(single(await scrape(b), 'parley_listener_up')).toBe(1)
  })

  it('keeps serving from B when A is killed, and a client of A resumes on B with exactly what it missed', async () => {
    const [a, b] = await Promise.all([startInstance(), startInstance()])
    const roomId = await createRoom(b, 'survivor')
    const token = await tokenFor('watcher')
    const onA = range(1, 3).map(() => openStreamStoppingOnError(a, roomId, token))
    const onB = range(1, 3).map(() => subscribe(b, roomId, token))
    await Promise.all([waitForOpenStreams(a, 3), waitForOpenStreams(b, 3)])
    await post(a, roomId, 'before 1', 'carol')
    await post(b, roomId, 'before 2', 'dave')
    for (const stream of onB) await stream.waitFor(2)
    await until(() => onA.every((stream) => stream.messages.length === 2), 'A’s clients to get 2 messages')

    a.child.kill('SIGKILL')
    await a.exited
    expect(a.exit).toEqual({ code: null, signal: 'SIGKILL' })
    await until(() => onA.every((stream) => stream.errors === 1), 'every client of A to see its stream fail')
    for (const stream of onA) expect(stream.isClosed()).toBe(true)
    // The kernel closes a killed process's sockets, so PostgreSQL ends A's LISTEN session.
    await until(async () => (await listenerCount()) === 1, 'only B’s LISTEN connection to remain')

    await post(b, roomId, 'after 1', 'dave')
    await insertSql(roomId, 'after 2')
    for (const stream of onB) await stream.waitFor(4)
    for (const stream of onA) expect(stream.seqs()).toEqual([1, 2])

    const movedFromA = onA[0]!
    const resumed = subscribe(b, roomId, token, movedFromA.seqs().at(-1))
    await resumed.waitFor(2)
    await post(b, roomId, 'after 3', 'dave')
    await resumed.waitFor(3)
    expect(resumed.seqs()).toEqual([3, 4, 5])
    expect(resumed.messages.map((message) => message.body)).toEqual(['after 1', 'after 2', 'after 3'])
    for (const stream of onB) {
      await stream.waitFor(5)
      expect(stream.seqs()).toEqual([1, 2, 3, 4, 5])
    }
  })

  it('starts three instances at once on an empty database: migrations run once, under the lock, and all serve', async () => {
    const fresh = await createTestDatabase({ migrate: false })
    try {
      const started = await Promise.all(range(1, 3).map(() => startInstance({ DATABASE_URL: fresh.url })))
      for (const instance of started) {
        const response = await api(instance, '/rooms', 'alice')
        expect(response.status).toBe(200)
        expect(await response.json()).toEqual({ rooms: [] })
      }
      const journal = JSON.parse(readFileSync(`${ROOT}/drizzle/meta/_journal.json`, 'utf8')) as {
        entries: { tag: string }[]
      }
      const applied = await fresh.sql<
        { n: number }[]
      >`select count(*)::int as n from drizzle.__drizzle_migrations`
      expect(applied[0]!.n).toBe(journal.entries.length)
      // The triggers were installed: the seq comes from the database.
      const roomId = await createRoom(started[1]!, 'after-migrations')
      expect((await post(started[2]!, roomId, 'first', 'alice')).seq).toBe(1)
      for (const instance of started) expect(instance.stderr()).toBe('')
    } finally {
      await killAll()
      await fresh.drop()
    }
  })
})

describe('graceful shutdown', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)(
    'on %s tells streams to reconnect, finishes the in-flight POST, releases LISTEN and exits 0',
    async (signal) => {
      const instance = await startInstance()
      const roomId = await createRoom(instance, `shutdown-${signal}`)
      const token = await tokenFor('watcher')
      const slowPost = await startSlowPost(instance, roomId, `sent across ${signal}`, 'erin')
      const stream = await openRawStream(`${instance.url}/rooms/${roomId}/stream`, token)
      await waitForOpenStreams(instance, 1)
      expect(await listenerCount()).toBe(1)

      const signalled = Date.now()
      instance.child.kill(signal)
      await until(() => stream.state.end !== undefined, 'the stream to end', SHUTDOWN_TIMEOUT_MS)
      expect(stream.state.end).toBe('done')
      expect(essentialFrames(stream.state.text)).toEqual([`retry: ${SSE_RETRY_MS}`, SHUTDOWN_FRAME])
      expect(framesOf(stream.state.text).at(-1)).toBe(SHUTDOWN_FRAME)

      slowPost.finish()
      const answered = await slowPost.response
      expect(answered.status).toBe(201)
      expect(JSON.parse(answered.body)).toMatchObject({ seq: 1, body: `sent across ${signal}` })

      await until(() => instance.exit !== undefined, 'the process to exit', SHUTDOWN_TIMEOUT_MS + 2_000)
      expect(instance.exit).toEqual({ code: 0, signal: null })
      expect(Date.now() - signalled).toBeLessThan(SHUTDOWN_TIMEOUT_MS + 2_000)
      expect(instance.logs().map((line) => line.msg)).toEqual(
        expect.arrayContaining(['shutting down', 'stopped']),
      )
      expect(instance.logs().find((line) => line.msg === 'shutting down')).toMatchObject({ signal })
      await until(async () => (await listenerCount()) === 0, 'its LISTEN connection to end', 2_000)
    },
  )

  it('exits 0 on a SIGTERM that arrives the moment it logs listening', async () => {
    const instance = await startInstance({}, (started) => started.child.kill('SIGTERM'))
    await until(() => instance.exit !== undefined, 'the process to exit', SHUTDOWN_TIMEOUT_MS + 2_000)
    expect(instance.exit).toEqual({ code: 0, signal: null })
  })
})

describe('observability', () => {
  it('exposes open streams, deliveries, lag, listener reconnects and request durations on /metrics', async () => {
    const instance = await startInstance()
    const roomId = await createRoom(instance, 'metrics')
    const token = await tokenFor('watcher')
    const streams = [subscribe(instance, roomId, token), subscribe(instance, roomId, token)]
    await waitForOpenStreams(instance, 2)
    await post(instance, roomId, 'measured', 'frank')
    for (const stream of streams) await stream.waitFor(1)

    const response = await fetch(`${instance.url}/metrics`)
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/)
    const text = await response.text()
    expect(single(text, 'parley_open_streams')).toBe(2)
    expect(single(text, 'parley_messages_delivered_total')).toBe(2)
    expect(single(text, 'parley_listener_reconnects_total')).toBe(0)
    expect(single(text, 'parley_delivery_lag_seconds_count')).toBe(1)
    const lagBuckets = samples(text, 'parley_delivery_lag_seconds_bucket')
    expect(lagBuckets.find((sample) => sample.labels.le === '+Inf')?.value).toBe(1)
    const postDurations = samples(text, 'parley_http_request_duration_seconds_bucket').filter(
      (sample) => sample.labels.route === '/rooms/:id/messages',
    )
    expect(postDurations.length).toBeGreaterThan(0)
    expect(postDurations.find((sample) => sample.labels.le === '+Inf')).toEqual({
      labels: { le: '+Inf', method: 'POST', route: '/rooms/:id/messages', status: '201' },
      value: 1,
    })

    streams[0]!.close()
    await waitForOpenStreams(instance, 1)
    streams[1]!.close()
    await waitForOpenStreams(instance, 0)
  })

  it('logs stream open and close with ms and bytes and a requestId on every request, never a token or a body', async () => {
    const instance = await startInstance()
    const roomId = await createRoom(instance, 'logs')
    const token = await tokenFor('logged-user')
    const refused = await fetch(`${instance.url}/rooms/${roomId}/stream?access_token=not-a-token`)
    expect(refused.status).toBe(401)
    const stream = await openRawStream(`${instance.url}/rooms/${roomId}/stream?access_token=${token}`)
    await waitForOpenStreams(instance, 1)
    const body = `confidential ${randomUUID()}`
    const message = await post(instance, roomId, body, 'logged-user')
    await until(() => stream.state.text.includes('event: message'), 'the message frame')
    // The server ends the stream itself, so the client has every byte, and the log is complete.
    instance.child.kill('SIGTERM')
    await until(() => stream.state.end !== undefined, 'the stream to end', SHUTDOWN_TIMEOUT_MS)
    await until(() => instance.exit !== undefined, 'the process to exit', SHUTDOWN_TIMEOUT_MS + 2_000)
    expect(instance.exit).toEqual({ code: 0, signal: null })

    const frame = `id: 1\nevent: message\ndata: ${JSON.stringify(message)}`
    expect(essentialFrames(stream.state.text)).toEqual([`retry: ${SSE_RETRY_MS}`, frame, SHUTDOWN_FRAME])
    const opened = instance.logs().filter((line) => line.msg === 'stream opened')
    const closed = instance.logs().filter((line) => line.msg === 'stream closed')
    expect(opened).toHaveLength(1)
    expect(closed).toHaveLength(1)
    expect(opened[0]).toMatchObject({ requestId: expect.stringMatching(/\S/), userId: 'logged-user' })
    expect(closed[0]).toMatchObject({
      requestId: opened[0]!.requestId,
      userId: 'logged-user',
      ms: expect.any(Number),
      bytes: expect.any(Number),
    })
    // At least the message frame was counted, and nothing the client did not receive.
    expect(closed[0]!.bytes).toBeGreaterThanOrEqual(Buffer.byteLength(`${frame}\n\n`))
    expect(closed[0]!.bytes).toBeLessThanOrEqual(stream.state.bytes)

    const output = instance.stdout() + instance.stderr()
    expect(output).not.toContain(token)
    expect(output).not.toContain('not-a-token')
    expect(output).not.toContain(body)
    const requests = instance.logs().filter((line) => line.msg === 'request')
    for (const line of requests) expect(line.requestId).toEqual(expect.stringMatching(/\S/))
    expect(requests.map((line) => [line.method, line.path, line.status])).toEqual(
      expect.arrayContaining([
        ['POST', '/rooms', 201],
        ['GET', `/rooms/${roomId}/stream`, 401],
        ['POST', `/rooms/${roomId}/messages`, 201],
        ['GET', '/metrics', 200],
      ]),
    )
  })
})
