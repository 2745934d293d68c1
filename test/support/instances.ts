import type { Message } from '../../src/wire.js'
import { afterAll, afterEach, expect } from 'vitest'
import { useTestDatabase } from './fixtures.js'
import { type ParleyProcess, startParleyProcess } from './process.js'
import { signTestToken } from './server.js'
import { openStream, type StreamClient } from './sse.js'
import { until } from './wait.js'

// Real `node src/main.ts` processes on one test file's database, and the clients that talk
// to them: what a deployment runs.

export type Instance = ParleyProcess

export const SHUTDOWN_TIMEOUT_MS = 3_000
export const SSE_RETRY_MS = 2_000
export const SHUTDOWN_FRAME = `retry: ${SSE_RETRY_MS}\nevent: shutdown\ndata: {"reason":"server_shutdown"}`

/** The frames of a raw stream, without their blank-line terminators. */
export const framesOf = (text: string) => text.split('\n\n').filter((frame) => frame !== '')
/** Frames other than heartbeats and id-less room events (presence and the like): what a test is about. */
export const essentialFrames = (text: string) =>
  framesOf(text).filter((frame) => frame !== ': ping' && !/^event: [a-z]+\ndata: /.test(frame))

/**
 * The instances of one test file, on the file's own database. After each test every
 * instance is killed and every client the test left is closed.
 */
export function useInstanceFleet() {
  const database = useTestDatabase()
  const instances: Instance[] = []
  const clients: { close(): void }[] = []
  const tokens = new Map<string, Promise<string>>()

  afterEach(async () => {
    for (const client of clients.splice(0)) client.close()
    await killAll()
    // The next test counts LISTEN connections: none may linger from this one.
    await until(async () => (await listenerCount()) === 0, 'the killed instances’ LISTEN connections to end')
  })
  afterAll(killAll)

  /** Starts an instance on this file's database; `cleanUp` kills whatever is left. */
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

  async function post(instance: Instance, roomId: number, body: string, as: string): Promise<Message> {
    const response = await api(instance, `/rooms/${roomId}/messages`, as, { body })
    expect(response.status).toBe(201)
    return (await response.json()) as Message
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

  /** Closes `client` when the test ends. */
  function track<T extends { close(): void }>(client: T): T {
    clients.push(client)
    return client
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

  return {
    database,
    startInstance,
    killAll,
    listenerCount,
    tokenFor,
    api,
    createRoom,
    post,
    insertSql,
    subscribe,
    track,
    openRawStream,
  }
}
